import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { newEvents } from '../../test/helpers/events.js';
import { buildConfig } from '../config/index.js';
import { openDatabase } from '../store/sqlite/database.js';
import { SqliteEventStore } from '../store/sqlite/events.js';
import { createLogger } from '../telemetry/logger.js';
import { DigestKeys } from './digest/keys.js';
import { DeliveryEngine } from './engine.js';
import { decodeFile } from './layout.js';
import { createTrailMetrics } from './metrics.js';
import { validateCreate } from './model.js';
import { TrailRepository } from './repository.js';
import { FileObjectStore, type ObjectStore } from './sinks/index.js';

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

describe('delivery engine', () => {
  it('retries a batch whose answer was lost with the same key and the same bytes', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ft-engine-'));
    const out = mkdtempSync(join(tmpdir(), 'ft-engine-out-'));
    const db = openDatabase(dataDir, { synchronous: 'normal' });
    const store = new SqliteEventStore(db, { flushIntervalMs: 5 });
    const config = buildConfig({ dataDir, trails: { windowSeconds: 1, pollIntervalMs: 10, retry: { initialBackoffMs: 10, maxBackoffMs: 100 }, minDigestIntervalSeconds: 1 } });
    const repo = new TrailRepository(db, join(dataDir, 'trails'));
    const flaky = new AnswerLost(new FileObjectStore(out), 3);
    const engine = new DeliveryEngine({
      repo,
      store,
      keys: new DigestKeys(db, dataDir),
      config: config.trails,
      accountId: '1',
      log: createLogger('silent'),
      metrics: createTrailMetrics(new Registry()),
      openObjectStore: () => flaky,
      openRecordSink: () => {
        throw new Error('no record sinks here');
      },
    });
    const spec = validateCreate({ Name: 'engine-trail', EventRW: 'All', Destinations: [`file://${out}`], DigestInterval: 1 }, {
      knownRegions: new Set(['local']),
      defaultDigestInterval: 1,
      minDigestInterval: 1,
      localDir: out,
    });
    repo.create(spec, 'local', Date.now(), await store.lastSeq());
    repo.start('engine-trail', Date.now() - 1, await store.lastSeq());
    engine.start();
    const events = newEvents(50, { start: Date.now(), stepMs: 1 });
    await Promise.all(events.map((e) => store.append(e)));
    const deadline = Date.now() + 15_000;
    let cursor = repo.allCursors()[0]!;
    while ((cursor.position < (await store.lastSeq()) || cursor.plan) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      cursor = repo.allCursors()[0]!;
    }
    await engine.stop();
    const logPuts = flaky.puts.filter((p) => p.key.includes('/Actiontrail/'));
    const byKey = new Map<string, Buffer[]>();
    for (const p of logPuts) byKey.set(p.key, [...(byKey.get(p.key) ?? []), p.body]);
    assert.ok([...byKey.values()].some((bodies) => bodies.length > 1), 'some file was sent again');
    for (const bodies of byKey.values()) assert.ok(bodies.every((b) => b.equals(bodies[0]!)), 'a retried file is byte-identical');
    const stored = await new FileObjectStore(out).list('AliyunLogs/Actiontrail/');
    assert.deepEqual(stored, [...byKey.keys()].sort(), 'one object per key: no duplicates');
    const delivered = (await Promise.all(stored.map(async (k) => decodeFile((await new FileObjectStore(out).get(k))!)))).flat();
    assert.deepEqual(delivered.map((e) => e.eventId).sort(), events.map((e) => e.eventId).sort());
    await store.close();
    db.close();
  });
});
