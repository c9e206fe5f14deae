/**
 * A slow query never stalls the gateway, a write's journal or an ingest: the store answers
 * queries on reader threads, commits on a writer thread, and the thread that proxies Flink only
 * proxies.
 *
 * FlinkTrail runs as a real child process in front of real Flink with two store readers, and a
 * test hook (FLINKTRAIL_TEST_STORE_READ_HOLD_MS) that makes every lookup hold its reader thread
 * for 30 s — an auditor's query at its worst. With both readers held by two LookupEvents, a
 * Flink read and a Flink write go through the gateway and 10,000 records are ingested; all of
 * them must be answered while both lookups are still running. Ordering, not timing: the test
 * asserts what finished before what, whatever the speed of the machine.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { newEvents } from '../../helpers/events.js';
import { startFlink, type FlinkCluster } from '../../helpers/flink.js';
import { basic, makeKey, startChild, tempDir, type ChildServer, type Credentials } from '../../helpers/flinktrail.js';

const HOLD_MS = 30_000;

describe('a slow query occupies a store reader, never the request thread', { timeout: 240_000 }, () => {
  let flink: FlinkCluster | undefined;
  let ft: ChildServer | undefined;
  let cred: Credentials;

  before(async () => {
    flink = await startFlink();
    const dataDir = tempDir('ft-slowq-');
    cred = await makeKey(dataDir, 'auditor', 'admin');
    process.env['FLINKTRAIL_TEST_STORE_READ_HOLD_MS'] = String(HOLD_MS);
    try {
      ft = await startChild(flink.restUrl, dataDir, ['--set', 'store.readers=2']);
    } finally {
      delete process.env['FLINKTRAIL_TEST_STORE_READ_HOLD_MS'];
    }
  });
  after(async () => {
    await ft?.stop();
    await flink?.stop();
  });

  it('answers Flink reads and writes and a 10,000-record ingest while two lookups hold both readers', async () => {
    const api = ft!.apiUrl;
    const authorization = basic(cred);
    const settled: string[] = [];
    const lookups = [1, 2].map((i) =>
      fetch(`${api}/api/v1/events?user=auditor&maxResults=5`, { headers: { authorization } }).then(async (r) => {
        settled.push(`lookup ${i}`);
        return { status: r.status, body: await r.text() };
      }),
    );
    // Let both lookups reach their readers (if they have not, the test only gets weaker: the
    // lookups then hold the readers later, and still must not be waited for).
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(settled.length, 0, `the lookups are held by the hook, yet settled: ${settled.join(', ')}`);

    const records = newEvents(10_000, { start: Date.now() - 600_000, stepMs: 1 }).map((e) => ({ ...e, eventSource: 'ci-pipeline' }));
    const ingest = fetch(`${api}/api/v1/events`, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/x-ndjson' },
      body: records.map((e) => JSON.stringify(e)).join('\n'),
    }).then(async (r) => {
      settled.push('ingest');
      return { status: r.status, body: (await r.json()) as Record<string, unknown> };
    });
    const read = fetch(`${ft!.gatewayUrl}overview`, { headers: { authorization } }).then(async (r) => {
      settled.push('gateway read');
      return { status: r.status, body: (await r.json()) as Record<string, unknown> };
    });
    // A write: journaled (committed by the writer thread) before it is forwarded; Flink answers
    // 404 for a job it does not know, and the write is recorded with that outcome.
    const write = fetch(`${ft!.gatewayUrl}jobs/00000000000000000000000000000bad?mode=cancel`, { method: 'PATCH', headers: { authorization } }).then((r) => {
      settled.push('gateway write');
      return r.status;
    });

    const [i, rd, w] = await Promise.all([ingest, read, write]);
    assert.deepEqual(settled.filter((s) => s.startsWith('lookup')), [], `finished before the lookups: ${settled.join(', ')}`);
    assert.equal(rd.status, 200);
    assert.equal(typeof rd.body['flink-version'], 'string');
    assert.equal(w, 404);
    assert.equal(i.status, 200, JSON.stringify(i.body).slice(0, 500));
    assert.deepEqual(i.body, { accepted: 10_000, duplicates: 0, rejected: [] });

    const answers = await Promise.all(lookups);
    for (const a of answers) assert.equal(a.status, 200, a.body.slice(0, 300));
    assert.deepEqual(settled.slice(-2).sort(), ['lookup 1', 'lookup 2']);
  });
});
