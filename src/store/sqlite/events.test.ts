import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { newEvents } from '../../../test/helpers/events.js';
import { finishEvent } from '../../event/build.js';
import type { Cursor, EventFilter } from '../types.js';
import { openDatabase, type Db } from './database.js';
import { SqliteEventStore } from './events.js';
import { storedEventId } from './values.js';

describe('SqliteEventStore', () => {
  let dir: string;
  let db: Db;
  let store: SqliteEventStore;
  const events = newEvents(300, { start: Date.parse('2026-01-01T00:00:00Z') });
  const all: EventFilter = { startTime: 0, endTime: Date.parse('2027-01-01T00:00:00Z') };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ft-store-'));
    db = openDatabase(dir);
    store = new SqliteEventStore(db, { flushIntervalMs: 5 });
    await Promise.all(events.map((e) => store.append(e)));
  });
  after(async () => {
    await store.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('combines any filters with AND', async () => {
    const page = await store.lookup({
      filter: { ...all, eventName: 'CancelJob', user: 'carol', resourceName: 'job-2' },
      direction: 'FORWARD',
      limit: 200,
    });
    const expected = events.filter(
      (e) => e.eventName === 'CancelJob' && e.userIdentity.userName === 'carol' && e.referencedResources['ACS::RealtimeCompute::Job']?.includes('job-2'),
    );
    assert.ok(expected.length > 0);
    assert.deepEqual(page.events.map((e) => e.eventId), expected.map((e) => e.eventId));
  });

  it('bounds the walk of a lookup with no indexed filter: a match beyond the budget comes on a later page', async () => {
    // One ConsoleOperation, the oldest event; eventType has no index, so the lookup walks time
    // order and must stop after its budget (a short page with a cursor), not scan everything.
    const d = mkdtempSync(join(tmpdir(), 'ft-store-walk-'));
    const walkDb = openDatabase(d);
    const small = new SqliteEventStore(walkDb, { flushIntervalMs: 5, scanBudget: 25, planProbe: 25, managementAccountId: '1000000000000001' });
    try {
      const some = newEvents(120, { start: Date.parse('2026-02-01T00:00:00Z') }).map((e, i) => ({ ...e, eventType: i === 0 ? ('ConsoleOperation' as const) : ('ApiCall' as const) }));
      await Promise.all(some.map((e) => small.append(e)));
      const first = await small.lookup({ filter: { ...all, eventType: 'ConsoleOperation' }, direction: 'BACKWARD', limit: 10 });
      assert.deepEqual(first.events, [], 'the budget ends the first page before the match');
      assert.ok(first.next, 'with a cursor to go on from');
      let after: Cursor | undefined = first.next;
      const found: string[] = [];
      for (let pages = 0; after && pages < 20; pages++) {
        const p = await small.lookup({ filter: { ...all, eventType: 'ConsoleOperation' }, direction: 'BACKWARD', limit: 10, after });
        found.push(...p.events.map((e) => e.eventId));
        after = p.next;
      }
      assert.deepEqual(found, [(some[0] as { eventId: string }).eventId], 'and a later page finds it');
    } finally {
      await small.close();
      walkDb.close();
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('pages stably backwards while new events arrive', async () => {
    const seen: string[] = [];
    let after;
    let extra = 0;
    for (;;) {
      const page = await store.lookup({ filter: { ...all, eventRW: 'Write' }, direction: 'BACKWARD', limit: 17, ...(after ? { after } : {}) });
      seen.push(...page.events.map((e) => e.eventId));
      // A newer event arriving between pages must neither shift nor repeat what follows.
      const [fresh] = newEvents(1, { start: Date.parse('2026-06-01T00:00:00Z') + extra++ });
      await store.append(fresh!);
      if (!page.next) break;
      after = page.next;
    }
    const expected = events.filter((e) => e.eventRW === 'Write').map((e) => e.eventId).reverse();
    assert.deepEqual(seen, expected);
  });

  it('journals durably, completes in place, and resolves pending events as unknown', async () => {
    const [e] = newEvents(1, { start: Date.parse('2026-02-01T00:00:00Z') });
    const pending = { ...e!, additionalEventData: { ...e!.additionalEventData, outcome: 'pending' as const } };
    await store.journal(pending);
    const reader = openDatabase(dir, { readonly: true });
    const row = reader.prepare('SELECT outcome FROM events WHERE event_id = ?').get(storedEventId(e!.eventId)) as { outcome: string };
    reader.close();
    assert.equal(row.outcome, 'pending');
    assert.equal(await store.resolvePending('crashed'), 1);
    const got = await store.get(e!.eventId);
    assert.equal(got?.additionalEventData.outcome, 'unknown');
    assert.equal(got?.errorCode, 'OutcomeUnknown');
    await store.complete(finishEvent(pending, { outcome: 'failure', errorCode: 'Flink.NotFound', errorMessage: 'x' }));
    assert.equal((await store.get(e!.eventId))?.errorCode, 'Flink.NotFound');
    const byErr = await store.lookup({ filter: { ...all, errorCode: 'Flink.NotFound' }, direction: 'BACKWARD', limit: 5 });
    assert.deepEqual(byErr.events.map((x) => x.eventId), [e!.eventId]);
  });

  it('is idempotent on eventId', async () => {
    await store.append(events[0]!);
    const page = await store.lookup({ filter: { ...all, eventId: events[0]!.eventId }, direction: 'BACKWARD', limit: 5 });
    assert.equal(page.events.length, 1);
  });

  it('purges events older than the retention', async () => {
    const before = Date.parse('2026-01-01T00:01:00Z');
    const n = await store.purge(before);
    assert.equal(n, events.filter((e) => Date.parse(e.eventTime) < before).length);
    const rest = await store.lookup({ filter: { ...all, endTime: before - 1 }, direction: 'BACKWARD', limit: 5 });
    assert.equal(rest.events.length, 0);
    const orphans = db.prepare('SELECT COUNT(*) AS n FROM event_resources WHERE seq NOT IN (SELECT seq FROM events)').get() as { n: number };
    assert.equal(orphans.n, 0);
  });
});

describe('SqliteEventStore.scan', () => {
  it('returns events in append order and stops at a write still in flight', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ft-scan-'));
    const db = openDatabase(dir);
    const store = new SqliteEventStore(db, { flushIntervalMs: 1 });
    try {
      const [a, b, c] = newEvents(3);
      await store.append(a!);
      await store.journal({ ...b!, additionalEventData: { ...b!.additionalEventData, outcome: 'pending' } });
      await store.append(c!);
      const first = await store.scan(0, 10);
      assert.deepEqual(first.map((p) => p.event.eventId), [a!.eventId]);
      await store.complete(b!);
      const all = await store.scan(0, 10);
      assert.deepEqual(all.map((p) => p.event.eventId), [a!.eventId, b!.eventId, c!.eventId]);
      assert.deepEqual((await store.scan(all[0]!.seq, 1)).map((p) => p.event.eventId), [b!.eventId]);
      assert.equal(await store.lastSeq(), all[2]!.seq);
    } finally {
      await store.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('SqliteEventStore.appendSerialized', () => {
  it('inserts unless stored, reports the duplicates by position (also within the batch), across chunks', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ft-store-ser-'));
    const db = openDatabase(dir);
    const store = new SqliteEventStore(db, { flushIntervalMs: 5 });
    try {
      const events = newEvents(1200, { start: Date.parse('2026-02-01T00:00:00Z') });
      await store.append(events[7]!);
      // 1,200 events (three transactions of at most 500), one stored before, one repeated at the end.
      const batch = [...events, events[3]!];
      const duplicates = await store.appendSerialized(JSON.stringify(batch));
      assert.deepEqual(duplicates, [7, 1200]);
      const all = { startTime: 0, endTime: Date.parse('2027-01-01T00:00:00Z') };
      const page = await store.lookup({ filter: all, direction: 'FORWARD', limit: 2000 });
      assert.equal(page.events.length, 1200);
      assert.deepEqual(await store.get(events[1100]!.eventId), events[1100]);
      // Resources are filterable as for appended events.
      const byJob = await store.lookup({ filter: { ...all, resourceName: events[1100]!.referencedResources['ACS::RealtimeCompute::Job']![0]! }, direction: 'FORWARD', limit: 2000 });
      assert.ok(byJob.events.some((e) => e.eventId === events[1100]!.eventId));
      assert.deepEqual(await store.appendSerialized(JSON.stringify(events.slice(0, 3))), [0, 1, 2]);
    } finally {
      await store.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("commits appends queued during an ingest before the ingest's next chunk, not at the flush timer", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ft-store-ser-'));
    const db = openDatabase(dir);
    // A flush timer far longer than the test: only the ingest's chunks can commit the append.
    const store = new SqliteEventStore(db, { flushIntervalMs: 60_000 });
    try {
      const [gatewayEvent, ...ingested] = newEvents(1501, { start: Date.parse('2026-02-01T00:00:00Z') });
      const order: string[] = [];
      const ingest = store.appendSerialized(JSON.stringify(ingested)).then(() => order.push('ingest'));
      const append = store.append(gatewayEvent!).then(() => order.push('append'));
      await Promise.all([ingest, append]);
      assert.deepEqual(order, ['append', 'ingest']);
      assert.deepEqual(await store.get(gatewayEvent!.eventId), gatewayEvent);
    } finally {
      await store.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("SqliteEventStore: a member account's resource references", () => {
  const MGMT = '1000000000000001';
  const MEMBER = '2000000000000002';
  const JOB = 'ACS::RealtimeCompute::Job';
  const all: EventFilter = { startTime: 0, endTime: Date.parse('2027-01-01T00:00:00Z') };

  it('follow the event through completion, are found only in its account, and go with it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ft-member-res-'));
    const db = openDatabase(dir);
    const store = new SqliteEventStore(db, { flushIntervalMs: 1, managementAccountId: MGMT });
    try {
      const [a, b, c] = newEvents(3, { start: Date.parse('2026-03-01T00:00:00Z') });
      const withJob = (e: typeof a, job: string, account: string) => ({ ...e!, recipientAccountId: account, referencedResources: { [JOB]: [job] } });
      // A member's write journaled naming job-a, completed naming job-b (a rewrite of its references).
      const pending = withJob(a, 'job-a', MEMBER);
      await store.journal({ ...pending, additionalEventData: { ...pending.additionalEventData, outcome: 'pending' } });
      await store.complete({ ...withJob(a, 'job-b', MEMBER), additionalEventData: { ...pending.additionalEventData, outcome: 'success' } });
      await store.append(withJob(b, 'job-b', MGMT));
      await store.append(withJob(c, 'job-b', MEMBER));
      await store.close();

      const ids = async (f: Partial<EventFilter>) => (await store.lookup({ filter: { ...all, ...f }, direction: 'BACKWARD', limit: 10 })).events.map((e) => e.eventId).sort();
      assert.deepEqual(await ids({ accountId: MEMBER, resourceName: 'job-b' }), [a!.eventId, c!.eventId].sort());
      assert.deepEqual(await ids({ accountId: MEMBER, resourceName: 'job-b', resourceType: JOB }), [a!.eventId, c!.eventId].sort());
      assert.deepEqual(await ids({ accountId: MEMBER, resourceName: 'job-a' }), []);
      assert.deepEqual(await ids({ accountId: MGMT, resourceName: 'job-b' }), [b!.eventId]);
      assert.deepEqual(await ids({ accountId: MEMBER, resourceName: 'job-b', user: c!.userIdentity.userName }), [c!.eventId]);
      assert.deepEqual(await ids({ accountId: MEMBER, resourceType: JOB }), [a!.eventId, c!.eventId].sort());
      assert.deepEqual(await ids({ accountId: MEMBER, resourceType: 'ACS::RealtimeCompute::Jar' }), []);
      // Only member accounts' events are kept there, once per reference and once per type.
      const rows = db.prepare('SELECT account_id AS account, rid FROM member_resources').all() as { account: string; rid: number }[];
      assert.deepEqual(rows.map((r) => r.account), [MEMBER, MEMBER, MEMBER, MEMBER]);
      assert.equal(rows.filter((r) => r.rid < 0).length, 2);
      await new SqliteEventStore(db, { flushIntervalMs: 1, managementAccountId: MGMT }).purge(Date.parse('2027-01-01T00:00:00Z'));
      assert.equal(db.prepare('SELECT COUNT(*) FROM member_resources').pluck().get(), 0);
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
