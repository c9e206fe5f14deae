/**
 * The Kafka journal (`journal.kafka`, issue 15 item 4) against a real Kafka broker
 * (scripts/it/kafka.sh), a real PostgreSQL of this test's own (paused and resumed) and a real
 * Flink, FlinkTrail as child processes (`serve --store postgres://… --config` with journal.kafka):
 * - PostgreSQL stopped for FLINKTRAIL_TEST_PG_OUTAGE_SECONDS (default 10) under write and read
 *   traffic: no write is refused (the journal is Kafka), and once PostgreSQL is back every answered
 *   call has exactly one event, writes with their outcome;
 * - a store writer (`consume: true`) killed with SIGKILL while traffic flows through a gateway-only
 *   instance (`consume: false`), then restarted: every answered call is stored exactly once. The
 *   writer runs with `store.flushIntervalMs: 1000`, so it spends most of its time between writing
 *   a batch into PostgreSQL and committing its offsets — the kill lands mid-batch, and the restarted
 *   writer reads those records again.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Consumer } from '@platformatic/kafka';
import pg from 'pg';
import type { ActionTrailEvent } from '../../../src/event/types.js';
import { startFlink, type FlinkCluster } from '../../helpers/flink.js';
import { basic, makeKey, tempDir } from '../../helpers/flinktrail.js';
import { startKafka, type KafkaServer } from '../../helpers/kafka.js';
import { startOwnPostgres, type OwnPostgresServer } from '../../helpers/postgres.js';
import { Client, allAnsweredStored, allPostgresEvents as allEvents, groupBy, metric, serve, sleep, traffic, type Call, type Phase } from './lib.js';

const OUTAGE_MS = Number(process.env['FLINKTRAIL_TEST_PG_OUTAGE_SECONDS'] ?? 10) * 1000;

/** The offset the store writers' group committed on partition 0 of `topic` (-1: none). */
async function committedOffset(bootstrap: string, topic: string): Promise<number> {
  const consumer = new Consumer({ clientId: 'ft-test-offsets', groupId: `${topic}-writers`, bootstrapBrokers: [bootstrap] });
  try {
    const offsets = await consumer.listCommittedOffsets({ topics: [{ topic, partitions: [0] }] });
    return Number(offsets.get(topic)?.[0] ?? -1n);
  } finally {
    await new Promise<void>((resolve) => consumer.close(true, () => resolve()));
  }
}

/** The eventIds PostgreSQL holds (pending ones too), read directly. */
async function storedIds(url: string): Promise<Set<string>> {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    return new Set((await pool.query<{ event_id: string }>('SELECT event_id FROM event_ids')).rows.map((r) => r.event_id));
  } finally {
    await pool.end();
  }
}

/** A config file with journal.kafka (and whatever else `extra` adds, YAML lines). */
function journalConfig(bootstrap: string, topic: string, consume: boolean, extra = ''): string {
  const file = join(tempDir('ft-kj-cfg-'), 'flinktrail.yaml');
  writeFileSync(file, `journal:\n  kafka:\n    brokers: ['${bootstrap}']\n    topic: ${topic}\n    groupId: ${topic}-writers\n    consume: ${consume}\n${extra}`);
  return file;
}

/** Each answered call (200 read, 404 write) has exactly one event; writes carry Flink's answer as outcome. */
function assertOncePerCall(calls: readonly Call[], events: ActionTrailEvent[]): void {
  const byRequest = groupBy(events, (e) => e.requestId);
  for (const c of calls) {
    const found = byRequest.get(c.seen.requestId ?? '') ?? [];
    if (c.seen.status === 200 || c.seen.status === 404) {
      assert.equal(found.length, 1, `one event for ${c.kind} ${c.seen.requestId} (${c.seen.status}, ${c.phase})`);
      if (c.kind === 'write') assert.equal(found[0]?.additionalEventData.outcome, 'failure', `the write ${c.seen.requestId} has Flink's 404 as its outcome, not pending/unknown`);
    } else assert.ok(found.length <= 1, `at most one event for a call not answered (${c.seen.requestId}, ${c.seen.status})`);
  }
}

describe('Kafka journal: PostgreSQL outages never block Flink operations; store writers lose and double nothing', { timeout: 300_000 + OUTAGE_MS * 2 }, () => {
  let flink: FlinkCluster | undefined;
  let postgres: OwnPostgresServer | undefined;
  let kafka: KafkaServer | undefined;
  before(async () => {
    [flink, postgres, kafka] = await Promise.all([startFlink(), startOwnPostgres(), startKafka()]);
  });
  after(async () => {
    await kafka?.stop();
    await postgres?.stop();
    await flink?.stop();
  });

  it(`takes every write while PostgreSQL is gone for ${OUTAGE_MS / 1000} s and stores every answered call once after`, async () => {
    const url = postgres?.url ?? '';
    const topic = 'ft-journal-outage';
    await kafka?.createTopics([topic]);
    const dataDir = tempDir('ft-kj-outage-');
    const auth = basic(await makeKey(dataDir, 'alice', 'admin', undefined, undefined, { storeUrl: url }));
    const server = await serve(flink?.restUrl ?? '', dataDir, ['--store', url, '--config', journalConfig(kafka?.bootstrap ?? '', topic, true)]);
    const client = new Client(server.origin, auth);
    const load = traffic(client, server.prefix, { readMs: 10, writeMs: 25 });
    const calls = load.calls;
    let storedMs = NaN;
    let writeErrors = 0;
    try {
      await sleep(2000);
      await postgres?.pause();
      load.phase = 'outage';
      await sleep(OUTAGE_MS);
      // A batch's inserts fail and are retried by the writer; its completions wait in the store's own
      // flush, which retries (flush errors): either way nothing is committed in Kafka meanwhile.
      writeErrors = (await metric(server.apiUrl, auth, 'flinktrail_journal_kafka_write_errors_total')) + (await metric(server.apiUrl, auth, 'flinktrail_store_flush_errors_total'));
      await postgres?.resume();
      load.phase = 'after';
      await sleep(3000);
      await load.stop();
      storedMs = await allAnsweredStored(calls, async () => (await allEvents(url)).map((e) => e.requestId), 60_000, 'PostgreSQL came back');
      assert.equal(server.proc.exitCode, null, 'FlinkTrail kept running');
    } finally {
      await load.stop();
      await client.close();
      await server.stop();
    }
    const of = (kind: Call['kind'], p: Phase) => calls.filter((c) => c.kind === kind && c.phase === p);
    process.stdout.write(
      `# Kafka journal, PostgreSQL gone ${OUTAGE_MS / 1000} s: ${of('write', 'outage').length} writes, ${of('read', 'outage').length} reads during it; ${writeErrors} failed store writes; all stored ${storedMs} ms after the last call\n`,
    );
    assert.ok(writeErrors > 0, 'the store writer really failed to write during the outage');
    assert.ok(of('write', 'outage').length > 10, 'writes were made during the outage');
    assert.deepEqual(
      calls.filter((c) => c.kind === 'write' && c.seen.status !== 404).map((c) => `${c.phase} ${c.seen.status} ${c.seen.body.slice(0, 200)}`),
      [],
      'no write was refused: every one reached Flink (answered 404 for the fake job)',
    );
    assertOncePerCall(calls, await allEvents(url));
  });

  it('a store writer killed with SIGKILL mid-batch and restarted: every answered call stored exactly once', async () => {
    const url = postgres?.url ?? '';
    const topic = 'ft-journal-kill';
    await kafka?.createTopics([topic]);
    const writerDir = tempDir('ft-kj-writer-');
    const gatewayDir = tempDir('ft-kj-gateway-');
    const auth = basic(await makeKey(writerDir, 'bob', 'admin', undefined, undefined, { storeUrl: url }));
    const writerArgs = ['--store', url, '--config', journalConfig(kafka?.bootstrap ?? '', topic, true, 'store:\n  flushIntervalMs: 1000\n')];
    const gateway = await serve(flink?.restUrl ?? '', gatewayDir, ['--store', url, '--config', journalConfig(kafka?.bootstrap ?? '', topic, false)]);
    // The writer holds each batch 2 s between its store commit and its offset commit (a test
    // hook), and the kill comes just after a batch is written, so that it lands in that window
    // whatever the machine's speed: on a busy one the rest of a batch's cycle (reading, preparing
    // on a low-priority thread) can take longer than the window, and a kill between windows
    // proves nothing.
    const serveWriter = async () => {
      process.env['FLINKTRAIL_TEST_JOURNAL_COMMIT_HOLD_MS'] = '2000';
      try {
        return await serve(flink?.restUrl ?? '', writerDir, writerArgs);
      } finally {
        delete process.env['FLINKTRAIL_TEST_JOURNAL_COMMIT_HOLD_MS'];
      }
    };
    let writer = await serveWriter();
    const client = new Client(gateway.origin, auth);
    const load = traffic(client, gateway.prefix, { readMs: 10, writeMs: 20 });
    const calls = load.calls;
    let beforeKill = 0;
    let afterRestart = 0;
    let uncommitted = 0;
    try {
      await sleep(2000);
      // Killed just after a batch is in the store (the written count moved): its offsets then
      // wait out the hold.
      const written = () => metric(writer.apiUrl, auth, 'flinktrail_journal_kafka_written_total');
      const seen = await written();
      for (const until = Date.now() + 60_000; (beforeKill = await written()) === seen && Date.now() < until; ) await sleep(50);
      await writer.stop('SIGKILL');
      load.phase = 'outage';
      // Mid-batch: records past the group's committed offset whose events PostgreSQL already has
      // (written, not yet committed in Kafka) — the restarted writer reads them again.
      const [committed, ids] = await Promise.all([committedOffset(kafka?.bootstrap ?? '', topic), storedIds(url)]);
      const log = await kafka!.consume(topic);
      await sleep(1500);
      await log.close();
      // Only an event's first record counts (a journal entry, a read): its eventId can be stored only by
      // a batch that holds it. One partition, so a record's offset is its index.
      const first = (v: string) => {
        const e = JSON.parse(v) as ActionTrailEvent;
        return e.eventRW === 'Read' || e.additionalEventData.outcome === 'pending';
      };
      uncommitted = log.records.slice(Math.max(0, committed)).filter((r) => first(r.value) && ids.has(r.key)).length;
      await sleep(3000);
      writer = await serveWriter();
      load.phase = 'after';
      await sleep(3000);
      await load.stop();
      await allAnsweredStored(calls, async () => (await allEvents(url)).map((e) => e.requestId), 90_000, 'the writer restarted');
      afterRestart = await metric(writer.apiUrl, auth, 'flinktrail_journal_kafka_written_total');
    } finally {
      await load.stop();
      await client.close();
      await gateway.stop();
      await writer.stop();
    }
    const events = await allEvents(url);
    const mine = new Set(calls.map((c) => c.seen.requestId));
    process.stdout.write(
      `# Kafka journal, writer killed: ${calls.length} calls through the gateway, ${events.filter((e) => mine.has(e.requestId)).length} of their events stored; the writer wrote ${beforeKill} records before the kill and ${afterRestart} after its restart; at the kill ${uncommitted} records were in PostgreSQL but not committed in Kafka\n`,
    );
    assert.ok(beforeKill > 0, 'the writer was writing when it was killed');
    assert.ok(uncommitted > 0, 'the kill landed mid-batch: records written into PostgreSQL, their offsets not committed');
    assert.ok(calls.filter((c) => c.kind === 'write' && c.seen.status === 404).length > 20, 'writes went through the gateway');
    assert.deepEqual(
      calls.filter((c) => c.kind === 'write' && c.seen.status !== 404).map((c) => c.seen.status),
      [],
      'no write was refused while no store writer ran',
    );
    assertOncePerCall(calls, events);
  });
});
