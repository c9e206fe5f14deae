import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { newEvents } from '../../../test/helpers/events.js';
import { finishEvent } from '../../event/build.js';
import type { EventFilter } from '../types.js';
import { openDatabase, type Db } from './database.js';
import { SqliteEventStore } from './events.js';
import { WorkerEventStore } from './worker-store.js';

const all: EventFilter = { startTime: 0, endTime: Date.parse('2027-01-01T00:00:00Z') };

describe('WorkerEventStore', () => {
  let dir: string;
  let db: Db;
  let store: WorkerEventStore;
  const events = newEvents(300, { start: Date.parse('2026-01-01T00:00:00Z') });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ft-wstore-'));
    db = openDatabase(dir);
    store = await WorkerEventStore.open({ dataDir: dir, synchronous: 'full', flushIntervalMs: 5, readers: 2 });
    await Promise.all(events.map((e) => store.append(e)));
  });
  after(async () => {
    await store?.close();
    db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers like the store on the main thread (same database, same results)', async () => {
    const local = new SqliteEventStore(db, { flushIntervalMs: 5 });
    for (const filter of [all, { ...all, eventName: 'CancelJob' }, { ...all, user: 'carol', resourceName: 'job-2' }]) {
      const [a, b] = await Promise.all([store.lookup({ filter, direction: 'BACKWARD', limit: 50 }), local.lookup({ filter, direction: 'BACKWARD', limit: 50 })]);
      assert.deepEqual(a, b);
    }
    assert.deepEqual(await store.histogram({ filter: all, buckets: 10, groupBy: 'eventName' }), await local.histogram({ filter: all, buckets: 10, groupBy: 'eventName' }));
    assert.equal(await store.lastSeq(), await local.lastSeq());
    assert.deepEqual(await store.scan(0, 1000), await local.scan(0, 1000));
    assert.equal((await store.scan(0, 1000)).length, events.length);
  });

  it('says which of a batch of eventIds are stored, across its statement chunks', async () => {
    const unknown = Array.from({ length: 900 }, (_, i) => `unknown-${i}`);
    const asked = [...unknown.slice(0, 450), ...events.map((e) => e.eventId), ...unknown.slice(450)];
    const found = await store.existing(asked);
    assert.deepEqual([...found].sort(), events.map((e) => e.eventId).sort());
    assert.equal((await store.existing([])).size, 0);
  });

  it('shows an appended event to the next read on any reader', async () => {
    const [e] = newEvents(1, { start: Date.parse('2026-06-01T00:00:00Z') });
    await store.append(e!);
    const seen = await Promise.all([store.get(e!.eventId), store.get(e!.eventId), store.get(e!.eventId)]);
    for (const s of seen) assert.equal(s?.eventId, e!.eventId);
  });

  it('journals a write as pending, stops scans there, and completes it', async () => {
    const [w] = newEvents(1, { start: Date.parse('2026-07-01T00:00:00Z') });
    const pending = { ...w!, additionalEventData: { ...w!.additionalEventData, outcome: 'pending' as const } };
    const before = await store.lastSeq();
    await store.journal(pending);
    assert.equal((await store.get(w!.eventId))?.additionalEventData.outcome, 'pending');
    assert.deepEqual(await store.scan(before, 10), [], 'a scan stops at a write still in flight');
    await store.complete(finishEvent(pending, { outcome: 'success', httpStatus: 202, latencyMs: 3 }));
    assert.equal((await store.get(w!.eventId))?.additionalEventData.outcome, 'success');
    assert.equal((await store.scan(before, 10)).length, 1);
  });

  it('refuses a journal it cannot commit (the caller fails closed)', async () => {
    const [w] = newEvents(1);
    await assert.rejects(store.journal({ ...w!, eventTime: 'not a time' }));
  });

  it('commits what was accepted before close, and refuses after', async () => {
    const d = mkdtempSync(join(tmpdir(), 'ft-wstore-close-'));
    const own = openDatabase(d);
    try {
      const s = await WorkerEventStore.open({ dataDir: d, synchronous: 'normal', flushIntervalMs: 1000, readers: 1 });
      const batch = newEvents(500);
      const accepted = batch.map((e) => s.append(e));
      await s.close();
      await Promise.all(accepted);
      assert.equal((own.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n, 500);
      await assert.rejects(s.append(batch[0]!), /closed/);
    } finally {
      own.close();
      rmSync(d, { recursive: true, force: true });
    }
  });
});

describe('WorkerEventStore under a slow query', () => {
  it('keeps the main thread, the writer and the other reader free while one reader is held', async () => {
    const d = mkdtempSync(join(tmpdir(), 'ft-wstore-slow-'));
    const own = openDatabase(d);
    // Reader threads read the hook at start: each lookup, get and histogram holds its thread 3 s.
    process.env['FLINKTRAIL_TEST_STORE_READ_HOLD_MS'] = '3000';
    let s: WorkerEventStore | undefined;
    try {
      s = await WorkerEventStore.open({ dataDir: d, synchronous: 'normal', flushIntervalMs: 5, readers: 2 });
      delete process.env['FLINKTRAIL_TEST_STORE_READ_HOLD_MS'];
      const order: string[] = [];
      const slow = s.lookup({ filter: all, direction: 'BACKWARD', limit: 10 }).then(() => order.push('slow lookup'));
      // The main loop runs timers, the writer commits, the other reader scans — all before the held lookup answers.
      await new Promise((r) => setTimeout(r, 20)).then(() => order.push('main-thread timer'));
      await Promise.all(newEvents(50).map((e) => s!.append(e))).then(() => order.push('50 appends committed'));
      await s.scan(0, 100).then((rows) => order.push(`scan of ${rows.length}`));
      await slow;
      assert.deepEqual(order, ['main-thread timer', '50 appends committed', 'scan of 50', 'slow lookup']);
    } finally {
      delete process.env['FLINKTRAIL_TEST_STORE_READ_HOLD_MS'];
      await s?.close();
      own.close();
      rmSync(d, { recursive: true, force: true });
    }
  });
});
