/**
 * PostgreSQL outage (issue 15 item 3, both fail modes): FlinkTrail (a real child process,
 * `serve --store postgres://…`) in front of a real Flink, with writes and reads flowing, while its
 * PostgreSQL (a cluster of this test's own, scripts/it/postgres.sh pause/resume) is stopped for
 * FLINKTRAIL_TEST_PG_OUTAGE_SECONDS (default 10; the acceptance run uses 60) and started again.
 * FlinkTrail must
 * - refuse writes it cannot journal: 503 FT_ERR_JOURNAL_UNAVAILABLE before Flink sees them (fail
 *   closed), so every write that reached Flink has exactly one record and none is lost;
 * - keep serving reads, holding their events in memory and retrying;
 * - once PostgreSQL is back, store every event it held — each answered read and each write Flink
 *   answered has exactly one event (by X-Request-Id), none duplicated — and take writes again.
 * With `store.spool` (the second mode) writes are not refused: they are journaled to the local
 * spool, reach Flink, and drain into PostgreSQL after it returns — also across a SIGKILL of
 * FlinkTrail during the outage (the restarted instance drains what the killed one spooled).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startFlink, type FlinkCluster } from '../../helpers/flink.js';
import { basic, makeKey, tempDir, type Credentials } from '../../helpers/flinktrail.js';
import { startOwnPostgres, type OwnPostgresServer } from '../../helpers/postgres.js';
import { Client, allAnsweredStored, allPostgresEvents as allEvents, groupBy, metric, serve, sleep, traffic, type Call, type Phase } from './lib.js';

const OUTAGE_MS = Number(process.env['FLINKTRAIL_TEST_PG_OUTAGE_SECONDS'] ?? 10) * 1000;

describe('PostgreSQL outage under traffic: writes fail closed, reads flow, nothing lost or doubled', { timeout: 150_000 + OUTAGE_MS * 2 }, () => {
  let flink: FlinkCluster | undefined;
  let postgres: OwnPostgresServer | undefined;
  before(async () => {
    [flink, postgres] = await Promise.all([startFlink(), startOwnPostgres()]);
  });
  after(async () => {
    await postgres?.stop();
    await flink?.stop();
  });

  it(`refuses writes while PostgreSQL is gone for ${OUTAGE_MS / 1000} s, answers reads, and stores every answered call once after`, async () => {
    const url = postgres?.url ?? '';
    const dataDir = tempDir('ft-pg-outage-');
    const cred = await makeKey(dataDir, 'alice', 'admin', undefined, undefined, { storeUrl: url });
    const auth = basic(cred);
    const server = await serve(flink?.restUrl ?? '', dataDir, ['--store', url]);
    const client = new Client(server.origin, auth);
    const load = traffic(client, server.prefix, { readMs: 10, writeMs: 25 });
    const calls = load.calls;
    let drainedMs = NaN;
    try {
      await sleep(2000);
      await postgres?.pause();
      load.phase = 'outage';
      await sleep(OUTAGE_MS);
      const flushErrors = await metric(server.apiUrl, auth, 'flinktrail_store_flush_errors_total');
      await postgres?.resume();
      load.phase = 'after';
      await sleep(3000);
      await load.stop();
      assert.ok(flushErrors > 0, 'the store really failed to write during the outage');

      drainedMs = await allAnsweredStored(calls, async () => (await allEvents(url)).map((e) => e.requestId), 30_000, 'PostgreSQL came back');
      assert.equal(await metric(server.apiUrl, auth, 'flinktrail_events_dropped_total'), 0, 'no event was given up');
      assert.equal(server.proc.exitCode, null, 'FlinkTrail kept running');
    } finally {
      await load.stop();
      await client.close();
      await server.stop();
    }

    const of = (kind: Call['kind'], p: Phase) => calls.filter((c) => c.kind === kind && c.phase === p);
    const count = (kind: Call['kind'], p: Phase, status: number) => of(kind, p).filter((c) => c.seen.status === status).length;
    process.stdout.write(
      `# outage ${OUTAGE_MS / 1000} s: ${of('read', 'outage').length} reads (${count('read', 'outage', 200)} answered 200), ${of('write', 'outage').length} writes (${count('write', 'outage', 503)} refused 503, ${count('write', 'outage', 404)} reached Flink); events stored ${drainedMs} ms after the last call\n`,
    );
    assert.ok(of('read', 'outage').length > 20 && of('read', 'outage').every((c) => c.seen.status === 200), 'every read during the outage was answered by Flink');
    const refused = of('write', 'outage').filter((c) => c.seen.status === 503);
    assert.ok(refused.length > 10, `writes were refused during the outage (${refused.length} of ${of('write', 'outage').length})`);
    // Each write of the outage is either refused (no event) or was journaled before the server
    // went (it reached Flink, one event): never anything else.
    assert.deepEqual(
      of('write', 'outage').filter((c) => c.seen.status !== 503 && c.seen.status !== 404).map((c) => c.seen.status),
      [],
      'every write of the outage was refused or answered by Flink',
    );
    for (const c of refused) {
      const body = JSON.parse(c.seen.body) as { Code: string; Message: string; RequestId: string };
      assert.equal(body.Code, 'FT_ERR_JOURNAL_UNAVAILABLE');
      assert.equal(body.RequestId, c.seen.requestId);
      assert.doesNotMatch(body.Message, /host=|postgres:\/\//, 'the store URL is not in the answer');
    }
    assert.ok(count('write', 'after', 404) > 10, 'writes go through again once PostgreSQL is back');

    const byRequest = groupBy(await allEvents(url), (e) => e.requestId);
    for (const c of calls) {
      const n = byRequest.get(c.seen.requestId ?? '')?.length ?? 0;
      if (c.seen.status === 503) assert.equal(n, 0, 'a refused write never reached Flink and is not recorded as if it had');
      else assert.equal(n, 1, `one event for ${c.kind} ${c.seen.requestId} (${c.seen.status}, ${c.phase})`);
    }
  });

  it(`with store.spool: writes reach Flink while PostgreSQL is gone, and every answered call is stored once after — across a SIGKILL too`, async () => {
    const url = postgres?.url ?? '';
    const dataDir = tempDir('ft-pg-spool-');
    const spoolDir = tempDir('ft-pg-spool-dir-');
    const configFile = join(tempDir('ft-pg-spool-cfg-'), 'flinktrail.yaml');
    writeFileSync(configFile, `store:\n  spool:\n    dir: ${spoolDir}\n    journalTimeoutMs: 1000\n`);
    const cred: Credentials = await makeKey(dataDir, 'spool-admin', 'admin', undefined, undefined, { storeUrl: url });
    const auth = basic(cred);
    const args = ['--store', url, '--config', configFile];
    const calls: Call[] = [];
    const run = async (phases: (load: ReturnType<typeof traffic>, server: Awaited<ReturnType<typeof serve>>) => Promise<void>, end: 'stop' | 'kill') => {
      const server = await serve(flink?.restUrl ?? '', dataDir, args);
      const client = new Client(server.origin, auth);
      const load = traffic(client, server.prefix, { readMs: 10, writeMs: 25 });
      try {
        await phases(load, server);
      } finally {
        await load.stop();
        calls.push(...load.calls);
        await client.close();
        await server.stop(end === 'kill' ? 'SIGKILL' : 'SIGTERM');
      }
      return server;
    };

    // 1. An outage under traffic: nothing refused; drained once PostgreSQL is back.
    let spooled = 0;
    await run(async (load, server) => {
      await sleep(2000);
      await postgres?.pause();
      load.phase = 'outage';
      await sleep(OUTAGE_MS);
      spooled = await metric(server.apiUrl, auth, 'flinktrail_spool_events');
      await postgres?.resume();
      load.phase = 'after';
      await sleep(3000);
      await load.stop();
      await allAnsweredStored(calls.concat(load.calls), async () => (await allEvents(url)).map((e) => e.requestId), 30_000, 'PostgreSQL came back');
      const drained = await metric(server.apiUrl, auth, 'flinktrail_spool_drained_total');
      process.stdout.write(`# spool: ${spooled} events spooled during a ${OUTAGE_MS / 1000} s outage, ${drained} drained after\n`);
      assert.ok(spooled > 0, 'the outage was spooled');
      assert.equal(await metric(server.apiUrl, auth, 'flinktrail_spool_events'), 0, 'the spool is empty again');
    }, 'stop');
    const first = calls.length;
    assert.deepEqual(
      calls.filter((c) => c.kind === 'write' && c.phase === 'outage' && c.seen.status !== 404).map((c) => c.seen.status),
      [],
      'every write of the outage reached Flink (journaled in the spool), none was refused',
    );
    assert.ok(calls.filter((c) => c.kind === 'write' && c.phase === 'outage').length > 10, 'writes were made during the outage');

    // 2. FlinkTrail killed while it spools; PostgreSQL back; the next start drains what it kept.
    await run(async (load) => {
      await sleep(1000);
      await postgres?.pause();
      load.phase = 'outage';
      await sleep(Math.min(OUTAGE_MS, 5000));
    }, 'kill');
    const killed = new Set(calls.slice(first));
    const killedRun = calls.slice(first).filter((c) => c.phase === 'outage' && c.kind === 'write' && c.seen.status === 404);
    assert.ok(killedRun.length > 5, `writes answered while spooling before the kill (${killedRun.length})`);
    await postgres?.resume();
    // A read's event is recorded after its answer (reads are never journaled first), so the reads
    // answered in the last moments before a SIGKILL may have none; every write has its record.
    const promised = calls.filter((c) => c.kind === 'write' || !killed.has(c));
    await run(async () => {
      await allAnsweredStored(promised, async () => (await allEvents(url)).map((e) => e.requestId), 30_000, 'the restart after the kill');
    }, 'stop');

    // Every answered write and every read answered outside the killed run has exactly one event;
    // anything else has one at most (never two).
    const byRequest = groupBy(await allEvents(url), (e) => e.requestId);
    const mustHave = new Set(promised);
    let readsLost = 0;
    for (const c of calls) {
      const n = byRequest.get(c.seen.requestId ?? '')?.length ?? 0;
      if ((c.seen.status === 200 || c.seen.status === 404) && mustHave.has(c)) assert.equal(n, 1, `one event for ${c.kind} ${c.seen.requestId} (${c.seen.status}, ${c.phase})`);
      else assert.ok(n <= 1, `at most one event for ${c.kind} ${c.seen.requestId} (${c.seen.status})`);
      if (c.kind === 'read' && c.seen.status === 200 && n === 0) readsLost++;
    }
    const unknown = killedRun.filter((c) => byRequest.get(c.seen.requestId!)![0]!.additionalEventData.outcome === 'unknown').length;
    process.stdout.write(`# SIGKILL while spooling: ${killedRun.length} answered writes all stored (${unknown} with outcome unknown: killed before their outcome was kept); ${readsLost} reads answered just before the kill without an event\n`);
    // Queries give spooled events in eventTime order like every other.
    const outageWrites = killedRun.map((c) => byRequest.get(c.seen.requestId!)![0]!);
    const times = outageWrites.map((e) => Date.parse(e.eventTime));
    assert.deepEqual(times, [...times].sort((x, y) => x - y), 'the writes of the outage, in the order they were made');
  });
});
