import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { newEvents } from '../../test/helpers/events.js';
import { testSecrets } from '../../test/helpers/secrets.js';
import { buildConfig } from '../config/index.js';
import type { ActionTrailEvent } from '../event/types.js';
import { openDatabase } from '../store/sqlite/database.js';
import { SqliteEventStore } from '../store/sqlite/events.js';
import { createLogger } from '../telemetry/logger.js';
import { DigestKeys } from './digest/keys.js';
import { SqliteDigestKeyStore } from './sqlite/digest-keys.js';
import { DEAD_LETTER_EVENT, DeliveryEngine, type EngineDeps } from './engine.js';
import { decodeFile } from './layout.js';
import { createTrailMetrics } from './metrics.js';
import { validateCreate } from './model.js';
import { SqliteTrailRepository } from './sqlite/repository.js';
import { FileObjectStore, type ObjectStore, type RecordSink } from './sinks/index.js';

/** Stores the object, then (for the first `lose` log files) throws as if the answer was lost. */
class AnswerLost implements ObjectStore {
  readonly kind = 'file' as const;
  readonly puts: { key: string; body: Buffer }[] = [];
  constructor(
    private readonly inner: FileObjectStore,
    private lose: number,
  ) {}
  async put(key: string, body: Buffer) {
    this.puts.push({ key, body });
    await this.inner.put(key, body);
    if (key.includes('/Actiontrail/') && this.lose-- > 0) throw new Error('connection reset before the answer');
  }
  get = (k: string) => this.inner.get(k);
  list = (p: string) => this.inner.list(p);
  listDirs = (p: string) => this.inner.listDirs(p);
  close = () => Promise.resolve();
}

/** A record sink that refuses, for good, any batch holding a marked event (as a broker refuses a record too large). */
class RefusesMarked implements RecordSink {
  readonly kind = 'kafka' as const;
  readonly sent: ActionTrailEvent[] = [];
  attempts = 0;
  send(events: readonly ActionTrailEvent[]): Promise<void> {
    this.attempts++;
    if (events.some((e) => e.eventName === 'Poison')) {
      return Promise.reject(Object.assign(new Error('Record is too large'), { apiId: 'MESSAGE_TOO_LARGE' }));
    }
    this.sent.push(...events);
    return Promise.resolve();
  }
  close = () => Promise.resolve();
}

/** A store, a trail repository and what an engine needs beside them, in a new data directory. */
function parts(trails: Record<string, unknown>) {
  const dataDir = mkdtempSync(join(tmpdir(), 'ft-engine-'));
  const db = openDatabase(dataDir, { synchronous: 'normal' });
  const store = new SqliteEventStore(db, { flushIntervalMs: 5 });
  const config = buildConfig({ dataDir, trails: { windowSeconds: 1, pollIntervalMs: 10, retry: { initialBackoffMs: 10, maxBackoffMs: 100 }, minDigestIntervalSeconds: 1, ...trails } });
  const secrets = testSecrets();
  const repo = new SqliteTrailRepository(db, join(dataDir, 'trails'), secrets);
  const deps = (holder: string, sinks: Pick<EngineDeps, 'openObjectStore' | 'openRecordSink'>): EngineDeps => ({
    repo,
    store,
    keys: new DigestKeys(new SqliteDigestKeyStore(db), dataDir, secrets),
    config: config.trails,
    accountId: config.accountId,
    log: createLogger('silent'),
    metrics: createTrailMetrics(new Registry()),
    region: 'local',
    holder,
    ...sinks,
  });
  /** A started trail `engine-trail` delivering everything to `dest`. */
  const startTrail = async (dest: string) => {
    const spec = validateCreate({ Name: 'engine-trail', EventRW: 'All', Destinations: [dest], DigestInterval: 1 }, {
      knownRegions: new Set(['local']),
      defaultDigestInterval: 1,
      minDigestInterval: 1,
      localDir: dataDir,
    });
    await repo.create(spec, 'local', Date.now(), await store.lastSeq());
    await repo.start('engine-trail', Date.now() - 1, await store.lastSeq());
  };
  /** Waits until the live cursor has handled everything stored. */
  const drained = async () => {
    const deadline = Date.now() + 15_000;
    let cursor = (await repo.allCursors())[0]!;
    while ((cursor.position < (await store.lastSeq()) || cursor.plan) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      cursor = (await repo.allCursors())[0]!;
    }
    return cursor;
  };
  const close = async () => {
    await store.close();
    db.close();
  };
  return { dataDir, db, store, repo, deps, startTrail, drained, close };
}

async function setup(dest: string, sinks: { objects?: ObjectStore; records?: RecordSink }) {
  const p = parts({ streamBatchSize: 20 });
  const recorded: ActionTrailEvent[] = [];
  const engine = new DeliveryEngine({
    ...p.deps('engine-test', {
      openObjectStore: () => sinks.objects ?? assert.fail('no object store here'),
      openRecordSink: () => sinks.records ?? assert.fail('no record sink here'),
    }),
    recordEvent: (e) => {
      recorded.push(e);
      return Promise.resolve();
    },
  });
  await p.startTrail(dest);
  engine.start();
  return { store: p.store, repo: p.repo, recorded, drained: p.drained, stop: () => engine.stop(), close: p.close };
}

describe('delivery engine', () => {
  it('retries a batch whose answer was lost with the same key and the same bytes', async () => {
    const out = mkdtempSync(join(tmpdir(), 'ft-engine-out-'));
    const flaky = new AnswerLost(new FileObjectStore(out), 3);
    const t = await setup(`file://${out}`, { objects: flaky });
    const events = newEvents(50, { start: Date.now(), stepMs: 1 });
    await Promise.all(events.map((e) => t.store.append(e)));
    await t.drained();
    await t.stop();
    await t.close();
    const logPuts = flaky.puts.filter((p) => p.key.includes('/Actiontrail/'));
    const byKey = new Map<string, Buffer[]>();
    for (const p of logPuts) byKey.set(p.key, [...(byKey.get(p.key) ?? []), p.body]);
    assert.ok([...byKey.values()].some((bodies) => bodies.length > 1), 'some file was sent again');
    for (const bodies of byKey.values()) assert.ok(bodies.every((b) => b.equals(bodies[0]!)), 'a retried file is byte-identical');
    const stored = await new FileObjectStore(out).list('AliyunLogs/Actiontrail/');
    assert.deepEqual(stored, [...byKey.keys()].sort(), 'one object per key: no duplicates');
    const delivered = (await Promise.all(stored.map(async (k) => decodeFile((await new FileObjectStore(out).get(k))!)))).flat();
    assert.deepEqual(delivered.map((e) => e.eventId).sort(), events.map((e) => e.eventId).sort());
  });

  it('sets aside events whose region cannot be part of a key, and delivers everything behind them', async () => {
    const out = mkdtempSync(join(tmpdir(), 'ft-engine-out-'));
    const t = await setup(`file://${out}`, { objects: new FileObjectStore(out) });
    // Stored as an older version would have accepted them at ingest.
    const events = newEvents(30, { start: Date.now(), stepMs: 1 });
    const bad = new Map([
      [3, '..'],
      [10, 'CN-Hangzhou'],
      [17, 'a/b'],
    ]);
    for (const [i, region] of bad) (events[i] as { acsRegion: string }).acsRegion = region;
    for (const e of events) await t.store.append(e);
    const cursor = await t.drained();
    await t.stop();
    assert.equal(cursor.lastError, undefined, 'the trail is not stuck retrying');
    const files = await new FileObjectStore(out).list('AliyunLogs/Actiontrail/');
    const delivered = (await Promise.all(files.map(async (k) => decodeFile((await new FileObjectStore(out).get(k))!)))).flat();
    const badIds = [...bad.keys()].map((i) => events[i]!.eventId);
    assert.deepEqual(delivered.map((e) => e.eventId).sort(), events.map((e) => e.eventId).filter((id) => !badIds.includes(id)).sort());
    const letters = await t.repo.deadLetters('engine-trail', 10);
    assert.deepEqual(letters.map((l) => l.eventId).sort(), [...badIds].sort());
    assert.ok(letters.every((l) => l.code === 'FT_ERR_TRAIL_UNDELIVERABLE' && /acsRegion .* is not a valid region/.test(l.reason)));
    assert.equal(letters.find((l) => l.eventId === events[3]!.eventId)?.event.acsRegion, '..', 'the dead letter keeps a copy of the event');
    const said = t.recorded.filter((e) => e.eventName === DEAD_LETTER_EVENT);
    assert.ok(said.length >= 1, 'an event says so');
    assert.deepEqual(said.flatMap((e) => (e.responseElements as { eventIds: string[] }).eventIds).sort(), [...badIds].sort());
    await t.close();
  });

  it('finds the one record a destination refuses for good, sets it aside and sends the rest', async () => {
    const sink = new RefusesMarked();
    const t = await setup('kafka://127.0.0.1:9/topic', { records: sink });
    const events = newEvents(40, { start: Date.now(), stepMs: 1 });
    (events[7] as { eventName: string }).eventName = 'Poison';
    for (const e of events) await t.store.append(e);
    const cursor = await t.drained();
    await t.stop();
    assert.equal(cursor.lastError, undefined);
    assert.deepEqual(
      sink.sent.map((e) => e.eventId),
      events.filter((_, i) => i !== 7).map((e) => e.eventId),
      'every other event, in order, once',
    );
    const letters = await t.repo.deadLetters('engine-trail', 10);
    assert.deepEqual(letters.map((l) => [l.eventId, l.code]), [[events[7]!.eventId, 'MESSAGE_TOO_LARGE']]);
    await t.close();
  });

  it('two engines on one store: exactly one delivers a trail (its lease holder); when it stops the other takes over, nothing delivered twice', async () => {
    const p = parts({ leaseSeconds: 3 });
    const { repo, store } = p;
    const out = mkdtempSync(join(tmpdir(), 'ft-engine-lease-out-'));
    const puts: string[] = [];
    const engine = (holder: string) =>
      new DeliveryEngine(
        p.deps(holder, {
          openObjectStore: () => {
            const files = new FileObjectStore(out);
            return Object.assign(Object.create(files) as FileObjectStore, {
              put: async (key: string, body: Buffer) => {
                if (key.includes('/Actiontrail/')) puts.push(`${holder} ${key}`);
                await files.put(key, body);
              },
            });
          },
          openRecordSink: () => assert.fail('no record sink here'),
        }),
      );
    await p.startTrail(`file://${out}`);
    const a = engine('a');
    const b = engine('b');
    const drained = async () => {
      const c = await p.drained();
      assert.ok(c.position >= (await store.lastSeq()) && !c.plan, 'delivered in 15 s');
    };
    let first: ActionTrailEvent[] = [];
    let second: ActionTrailEvent[] = [];
    try {
      a.start();
      await a.sync(); // a asks first: a holds the lease
      b.start();
      first = newEvents(40, { start: Date.now(), stepMs: 1 });
      for (const e of first) await store.append(e);
      await drained();
      assert.deepEqual(a.heldTrails(), ['engine-trail']);
      assert.deepEqual(b.heldTrails(), [], 'the other engine does not deliver it');
      assert.ok(puts.length > 0 && puts.every((p) => p.startsWith('a ')), 'only the holder put files');
      const token = (await repo.leases())[0]!.token;

      await a.stop(); // a clean stop releases the lease: b takes it at its next renewal
      await b.sync();
      assert.deepEqual(b.heldTrails(), ['engine-trail']);
      assert.equal((await repo.leases())[0]!.token, token + 1, 'a new holder, a new token');
      // a's fence is stale now: a write with it changes nothing.
      const cursor = (await repo.allCursors())[0]!;
      await assert.rejects(repo.advance(cursor.id, cursor.position + 1000, { trail: 'engine-trail', token }), /FT_ERR_TRAIL_LEASE_LOST|no longer holds/);
      assert.equal((await repo.cursor(cursor.id))?.position, cursor.position);

      second = newEvents(40, { start: Date.now(), stepMs: 1 });
      for (const e of second) await store.append(e);
      await drained();
      assert.ok(puts.some((p) => p.startsWith('b ')), 'the new holder delivers');
    } finally {
      await a.stop();
      await b.stop();
    }
    const files = await new FileObjectStore(out).list('AliyunLogs/Actiontrail/');
    const delivered = (await Promise.all(files.map(async (k) => decodeFile((await new FileObjectStore(out).get(k))!)))).flat();
    assert.deepEqual(delivered.map((e) => e.eventId).sort(), [...first, ...second].map((e) => e.eventId).sort(), 'every event once');
    await p.close();
  });
});
