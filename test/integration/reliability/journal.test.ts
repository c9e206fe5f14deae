/**
 * No write without a record.
 * - kill -9 between journaling and completing a write: after restart the event is there with
 *   outcome unknown.
 * - journal unwritable (the data directory's file system is full): the write is refused with 503
 *   and Flink never sees it; once space is back, writes go through again.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { startFlink, waitForJobState, type FlinkCluster } from '../../helpers/flink.js';
import { basic, makeKey, startChild, startInProcess, tempDir, waitForEvents, type Credentials } from '../../helpers/flinktrail.js';
import { eventIdOf, VALUE_KIND, valueIdSql } from '../../../src/store/sqlite/values.js';

async function uploadJar(base: string, cred: Credentials, jar: string): Promise<string> {
  const form = new FormData();
  form.append('jarfile', new Blob([readFileSync(jar)]), basename(jar));
  const res = await fetch(`${base}jars/upload`, { method: 'POST', body: form, headers: { authorization: basic(cred) } });
  assert.equal(res.status, 200);
  return basename(String(((await res.json()) as { filename: string }).filename));
}

async function cancelAll(restUrl: string): Promise<void> {
  const { jobs } = (await (await fetch(`${restUrl}/jobs/overview`)).json()) as { jobs: { jid: string; state: string }[] };
  await Promise.all(jobs.filter((j) => j.state === 'RUNNING' || j.state === 'CREATED').map((j) => fetch(`${restUrl}/jobs/${j.jid}?mode=cancel`, { method: 'PATCH' })));
}

describe('journal before forwarding', { timeout: 240_000 }, () => {
  let flink: FlinkCluster;
  before(async () => {
    flink = await startFlink();
  });
  after(async () => {
    if (flink) await cancelAll(flink.restUrl);
    await flink?.stop();
  });

  it('keeps a journaled write whose outcome was never recorded (kill -9)', async () => {
    const dataDir = tempDir();
    const cred = await makeKey(dataDir);
    let child = await startChild(flink.restUrl, dataDir);
    const jarId = await uploadJar(child.gatewayUrl, cred, flink.jobJar);
    const reader = new Database(join(dataDir, 'flinktrail.db'), { readonly: true });
    const pending = reader.prepare(`SELECT event_id FROM events WHERE name_id = ${valueIdSql(VALUE_KIND.eventName, "'RunJar'")} AND outcome = 'pending'`);
    const run = fetch(`${child.gatewayUrl}jars/${jarId}/run`, {
      method: 'POST',
      headers: { authorization: basic(cred), 'content-type': 'application/json' },
      body: JSON.stringify({ parallelism: 1 }),
    }).catch((err: unknown) => err as Error);
    let eventId: string | undefined;
    const deadline = Date.now() + 10_000;
    while (!eventId && Date.now() < deadline) {
      const row = pending.get() as { event_id: string | Buffer } | undefined;
      eventId = row && eventIdOf(row.event_id);
      if (!eventId) await new Promise((r) => setImmediate(r));
    }
    assert.ok(eventId, 'the write was journaled before it was forwarded');
    child.proc.kill('SIGKILL');
    await child.stop();
    assert.ok((await run) instanceof Error, 'the client saw the connection die');
    reader.close();

    child = await startChild(flink.restUrl, dataDir);
    try {
      const events = await waitForEvents(child.apiUrl, cred, { eventId }, (es) => es.length === 1);
      const e = events[0]!;
      assert.equal(e.eventName, 'RunJar');
      assert.equal(e.additionalEventData.outcome, 'unknown');
      assert.equal(e.errorCode, 'OutcomeUnknown');
      assert.equal(e.userIdentity.userName, 'alice');
      const again = await waitForEvents(child.apiUrl, cred, { eventName: 'RunJar' }, () => true);
      assert.equal(again.filter((x) => x.eventId === eventId).length, 1, 'recovered once, not duplicated');
    } finally {
      await child.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses a write it cannot journal (disk full), and Flink never sees it', async (t) => {
    const mnt = tempDir('ft-full-');
    mkdirSync(mnt, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=6m', 'tmpfs', mnt]);
    t.after(() => {
      try {
        execFileSync('umount', ['-l', mnt]);
      } catch {
        /* already gone */
      }
    });
    const dataDir = join(mnt, 'data');
    const cred = await makeKey(dataDir);
    const ft = await startInProcess(flink.restUrl, {}, dataDir);
    try {
      const gw = ft.info.clusters['default']!.gatewayUrl;
      const jarId = await uploadJar(gw, cred, flink.jobJar);
      const run = await fetch(`${gw}jars/${jarId}/run`, { method: 'POST', headers: { authorization: basic(cred), 'content-type': 'application/json' }, body: '{"parallelism":1}' });
      const jobId = ((await run.json()) as { jobid: string }).jobid;
      await waitForJobState(flink.restUrl, jobId, 'RUNNING', 60_000);

      const filler = join(mnt, 'filler');
      try {
        execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=64k'], { stdio: 'ignore' });
      } catch {
        /* dd ends with ENOSPC: the file system is full */
      }
      const refused = await fetch(`${gw}jobs/${jobId}?mode=cancel`, { method: 'PATCH', headers: { authorization: basic(cred) } });
      assert.equal(refused.status, 503);
      assert.equal(((await refused.json()) as { Code: string }).Code, 'FT_ERR_JOURNAL_UNAVAILABLE');
      await new Promise((r) => setTimeout(r, 1500));
      const state = ((await (await fetch(`${flink.restUrl}/jobs/${jobId}`)).json()) as { state: string }).state;
      assert.equal(state, 'RUNNING', 'Flink never received the refused cancel');
      const metrics = await (await fetch(`${ft.info.apiUrl}/metrics`, { headers: { authorization: basic(cred) } })).text();
      assert.match(metrics, /flinktrail_journal_failures_total\{cluster="default"\} 1/);

      rmSync(filler);
      writeFileSync(join(mnt, 'probe'), 'space is back');
      const accepted = await fetch(`${gw}jobs/${jobId}?mode=cancel`, { method: 'PATCH', headers: { authorization: basic(cred) } });
      assert.equal(accepted.status, 202);
      await waitForJobState(flink.restUrl, jobId, 'CANCELED', 60_000);
      const events = await waitForEvents(ft.info.apiUrl, cred, { eventName: 'CancelJob', resourceName: jobId }, (es) => es.some((e) => e.additionalEventData.outcome === 'success'));
      assert.equal(events.length, 1, 'only the accepted cancel is recorded: the refused one never reached Flink');
    } finally {
      await ft.close();
    }
  });
});
