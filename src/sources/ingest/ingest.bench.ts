/**
 * Benchmark: the ingest API against the store it writes to.
 *
 *   node --import tsx src/sources/ingest/ingest.bench.ts [batches=3] [size=10000]
 *
 * Each round writes `size` fresh records three ways, each into its own new data directory with
 * the production settings (SQLite `synchronous: full`, 20 ms flush):
 *  - baseline "store": `SqliteEventStore.append` of the already-built events, all at once — the
 *    most the store can take, with nothing in front of it;
 *  - "ingester": `Ingester.ingest` (the body to a preparation thread: parse, schema checks,
 *    redaction; then the store's insert-unless-stored) on the JSON body, no HTTP;
 *  - "HTTP": `POST /api/v1/events` with the batch as one JSON array, over loopback to a real
 *    FlinkTrail in this process (authentication, body read and parse, the `IngestEvents` record).
 * Prints events/s per path and the ratio to the baseline measured in the same round, and how
 * long the main thread (the one that proxies Flink; here it also runs the client) was busy
 * during the POST, per record: the cost a bulk ingest puts on Flink operations.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../../app.js';
import { buildConfig } from '../../config/index.js';
import { finishEvent, newEvent } from '../../event/build.js';
import type { ActionTrailEvent } from '../../event/types.js';
import { sqliteDirectory } from '../../identity/sqlite/directory.js';
import { compileRedactor } from '../../pipeline/redact.js';
import { openSecrets } from '../../secrets/index.js';
import { createRecorder } from '../../pipeline/recorder.js';
import { openDatabase } from '../../store/sqlite/database.js';
import { SqliteEventStore } from '../../store/sqlite/events.js';
import { createLogger } from '../../telemetry/logger.js';
import { createMetrics } from '../../telemetry/metrics.js';
import { Ingester } from './ingest.js';
import { PreparePool } from './pool.js';

const rounds = Number(process.argv[2] ?? 3);
const size = Number(process.argv[3] ?? 10_000);
const log = createLogger('error');

/** `n` realistic records of a CI pipeline (deploys, cancels, savepoints of a few jobs). */
function fresh(n: number): ActionTrailEvent[] {
  const names = ['DeployJob', 'CancelJob', 'TriggerSavepoint', 'GetJobDetails'] as const;
  const start = Date.now() - 3_600_000;
  return Array.from({ length: n }, (_, i) => {
    const name = names[i % names.length] as (typeof names)[number];
    const user = ['alice', 'bob', 'carol'][i % 3] as string;
    const e = newEvent({
      eventName: name,
      eventRW: name === 'GetJobDetails' ? 'Read' : 'Write',
      eventType: 'ApiCall',
      eventSource: 'ci-pipeline',
      serviceName: 'RealtimeCompute',
      acsRegion: 'local',
      sourceIpAddress: `10.0.0.${i % 200}`,
      userAgent: 'gitlab-runner/17.0',
      userIdentity: { type: 'ram-user', principalId: `p-${user}`, accountId: '1', userName: user, accessKeyId: `FTAK${user.toUpperCase()}` },
      requestId: `pipeline-${i}`,
      time: new Date(start + i),
      requestParameters: { pipeline: `orders-${i % 50}`, commit: (i * 2654435761).toString(16) },
      referencedResources: { 'ACS::RealtimeCompute::Job': [(i % 97).toString(16).padStart(32, '0'), `job-${i % 97}`] },
      additionalEventData: { sensitive: name !== 'GetJobDetails', cluster: 'default' },
    });
    return finishEvent(e, { outcome: 'success', httpStatus: 200 });
  });
}

function dir(): string {
  return mkdtempSync(join(tmpdir(), 'ft-ingest-bench-'));
}

async function storeOnly(events: ActionTrailEvent[]): Promise<number> {
  const d = dir();
  const db = openDatabase(d);
  const store = new SqliteEventStore(db, { flushIntervalMs: 20 });
  const t = performance.now();
  await Promise.all(events.map((e) => store.append(e)));
  const ms = performance.now() - t;
  await store.close();
  db.close();
  rmSync(d, { recursive: true, force: true });
  return ms;
}

async function ingesterOnly(events: ActionTrailEvent[]): Promise<number> {
  const d = dir();
  const db = openDatabase(d);
  const store = new SqliteEventStore(db, { flushIntervalMs: 20 });
  const metrics = createMetrics();
  const pool = new PreparePool({ threads: 1, auditPolicy: buildConfig({ clusters: [] }).auditPolicy });
  await pool.start();
  const ingester = new Ingester(pool, createRecorder(store, compileRedactor(), log, metrics), metrics, 100_000);
  const body = Buffer.from(JSON.stringify(events));
  const t = performance.now();
  const r = await ingester.ingest(body, 'json', { identity: { type: 'ram-user', principalId: 'p', accountId: '1', userName: 'bench' }, account: { accountId: '1', anyAccount: true }, requestId: 'bench' });
  const ms = performance.now() - t;
  if (r.accepted !== events.length) throw new Error(`ingester accepted ${r.accepted}`);
  await pool.close();
  await store.close();
  db.close();
  rmSync(d, { recursive: true, force: true });
  return ms;
}

/** Time and main-thread busy time (ms) of one POST: how much of the batch the request thread did itself. */
async function overHttp(events: ActionTrailEvent[]): Promise<{ ms: number; mainMs: number }> {
  const d = dir();
  const db = openDatabase(d);
  const config = buildConfig({ dataDir: d, api: { port: 0 }, clusters: [], log: { level: 'error' } });
  const secrets = openSecrets(config);
  const directory = sqliteDirectory(db, secrets);
  await directory.createUser('bench', 'admin', undefined, true);
  const key = await directory.createAccessKey('bench');
  db.close();
  const app = await buildApp(config, { log, secrets });
  const { apiUrl } = await app.listen();
  const body = JSON.stringify(events);
  const auth = `Basic ${Buffer.from(`${key.accessKeyId}:${key.accessKeySecret}`).toString('base64')}`;
  const t = performance.now();
  const elu = performance.eventLoopUtilization();
  const res = await fetch(`${apiUrl}/api/v1/events`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body });
  const answer = (await res.json()) as { accepted?: number };
  const ms = performance.now() - t;
  const mainMs = performance.eventLoopUtilization(elu).active;
  if (answer.accepted !== events.length) throw new Error(`HTTP answered ${res.status} ${JSON.stringify(answer).slice(0, 300)}`);
  await app.close();
  rmSync(d, { recursive: true, force: true });
  return { ms, mainMs };
}

const rate = (ms: number) => Math.round(size / (ms / 1000));
const rows: string[] = [];
// A warm-up round (JIT, schema compilation paths), not reported.
await ingesterOnly(fresh(1000));
for (let i = 0; i < rounds; i++) {
  const s = await storeOnly(fresh(size));
  const g = await ingesterOnly(fresh(size));
  const { ms: h, mainMs } = await overHttp(fresh(size));
  rows.push(
    `| ${i + 1} | ${rate(s).toLocaleString('en')} | ${rate(g).toLocaleString('en')} (${(rate(g) / rate(s)).toFixed(2)}x) | ${rate(h).toLocaleString('en')} (${(rate(h) / rate(s)).toFixed(2)}x) | ${Math.round((mainMs * 1000) / size)} µs (${((100 * mainMs) / h).toFixed(0)}%) |`,
  );
}
console.log(`Ingest of ${size.toLocaleString('en')}-record batches, events/s (ratio to the store baseline of the same round)\n`);
console.log('| round | store.append (baseline) | Ingester.ingest | POST /api/v1/events | request thread busy per record (share of the POST) |');
console.log('| --- | --- | --- | --- | --- |');
for (const r of rows) console.log(r);
