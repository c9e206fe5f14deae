/**
 * Ingest: how many events per second FlinkTrail takes — over HTTP from other tools, and into its
 * stores — and how soon an event is queryable under load.
 *
 * 1. Store throughput. The same realistic events (bench/lib/generate.ts) written into fresh
 *    databases with the production schema and `synchronous: full`, in this process:
 *    - `SqliteEventStore.append`, one call per event as the recorder makes them, 1,000 per
 *      event-loop turn, committed by the store's own 20 ms flush timer — the gateway's path;
 *    - `SqliteEventStore.appendSerialized`, ingest's write call: the records prepared exactly as
 *      `POST /api/v1/events` prepares them (src/sources/ingest/prepare.ts, done before the clock
 *      starts), one JSON text per 1,000, 4 calls in flight — the ceiling of HTTP ingest;
 *    - baseline: raw better-sqlite3 inserts of the same rows (same statements, one transaction
 *      per 1,000 events), none of the store's queueing;
 *    - reference: the same raw inserts into a table without secondary indexes, to show what the
 *      indexes that make every filter fast cost at write time;
 *    - with `--postgres`: `PostgresEventStore.append` and `.appendSerialized`, the same calls the
 *      same way, into fresh databases on PostgreSQL (scripts/it/postgres.sh).
 *    Both stores are opened as the app opens them (`managementAccountId`: the generated events
 *    belong to the management account, which needs no member-account index rows).
 * 2. HTTP ingest. FlinkTrail as its own process; K clients (another process,
 *    bench/lib/ingest-client.ts) POST realistic generated records to `POST /api/v1/events` in
 *    NDJSON batches, each client sending its next batch when the last is answered, for a fixed
 *    time. The answer (200) is given once the accepted records are committed, so the rate of
 *    answered records is the rate of stored ones; "queryable" checks it: from the first batch
 *    sent to the first GetEventHistogram that counts every accepted record. Baseline: the store's
 *    own `appendSerialized` rate (1.) of the same store in the same run. With `--postgres` the
 *    same against a FlinkTrail whose `store.url` is a fresh database on PostgreSQL.
 * 3. Event-to-queryable latency. FlinkTrail in front of a real Flink; a probe sends a read naming
 *    a fresh job id through the gateway every 100 ms, and from the moment its answer has arrived
 *    polls LookupEvents (resourceName = that id) until the event is there. Idle (baseline), under
 *    wrk load through the gateway, and while the HTTP ingest clients of 2. run (the same phase:
 *    the probes run beside the clients). With `--postgres` the same with the events in PostgreSQL.
 *
 * Options: `--events N` (store throughput; default 100k, `--quick` 50k), `--rounds N` (2; `--quick`
 * 1), `--clients 2,4` (HTTP ingest client counts), `--seconds S` (each HTTP ingest and probe phase;
 * default 15, `--quick` 8), `--batch N` (records per POST, 1,000), `--postgres`, `--cpu-prof`
 * (an extra HTTP ingest phase into SQLite under `node --cpu-prof`: where each thread's CPU goes),
 * `--cpu-prof-dir D` (the same, profiles kept in D).
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { deflateRawSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { buildConfig } from '../src/config/index.js';
import type { ActionTrailEvent } from '../src/event/types.js';
import { compileAuditPolicy } from '../src/pipeline/audit-policy/index.js';
import { compileRedactor } from '../src/pipeline/redact.js';
import { prepareBatch } from '../src/sources/ingest/prepare.js';
import { openDatabase } from '../src/store/sqlite/database.js';
import { SqliteEventStore } from '../src/store/sqlite/events.js';
import { seedDictionary } from '../src/store/sqlite/body-codec.js';
import { PostgresEventStore } from '../src/store/postgres/events.js';
import type { EventStore } from '../src/store/types.js';
import { Generator, makeWorld, MANAGEMENT_ACCOUNT, SPAN_MS } from './lib/generate.js';
import { prepareIngestLoad, type IngestLoadResult } from './lib/ingest-load.js';
import { benchPostgres, freshDatabase } from './lib/postgres.js';
import { sleep } from './lib/procs.js';
import { framesTable, processProfiles, topFrames } from './lib/profile.js';
import type { Section } from './lib/report.js';
import { benchDir, benchFlink, startFlinkTrail, type BenchFlink, type FlinkTrailChild } from './lib/servers.js';
import { int, ms, ratio, seconds as secs, summarize, table, type Summary } from './lib/stats.js';
import { wrk, type WrkResult } from './lib/wrk.js';
import { count, type Bench, type BenchOptions } from './types.js';

const BATCH = 1000;

/** The store's dictionary (the bytes it compresses against; the encoding below is written out by hand). */
const DICTIONARY = seedDictionary();

/** A body as the store writes it: format 1, dictionary 1, nothing left out, deflated with the dictionary. */
function body(e: ActionTrailEvent): Buffer {
  return Buffer.concat([Buffer.from([1, 0, 1, 0]), deflateRawSync(JSON.stringify(e), { level: 6, dictionary: DICTIONARY })]);
}

/** An id of `event_values` (values.ts); `ids` knows every value of a fresh database once added. */
type ValueIds = (kind: number, value: string) => number;

/**
 * The store's row mapping (kept in step with store/sqlite/events.ts and values.ts by hand: a
 * baseline must not share the code it measures): short values as ids, a UUID eventId as 16 bytes.
 */
function row(e: ActionTrailEvent, id: ValueIds) {
  const maybe = (kind: number, v: string | undefined) => (v ? id(kind, v) : null);
  const ak = e.userIdentity.accessKeyId;
  return {
    event_id: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(e.eventId) ? Buffer.from(e.eventId.replaceAll('-', ''), 'hex') : e.eventId,
    event_time: Date.parse(e.eventTime),
    region_id: id(1, e.acsRegion),
    event_rw: e.eventRW,
    name_id: id(2, e.eventName),
    type_id: id(3, e.eventType),
    service_id: id(4, e.serviceName),
    user_id: maybe(5, e.userIdentity.userName),
    key_id: ak === undefined ? null : id(6, ak),
    sensitive: e.additionalEventData.sensitive ? 1 : 0,
    outcome: e.additionalEventData.outcome,
    error_code: e.errorCode ?? null,
    ip_id: maybe(7, e.sourceIpAddress),
    cluster_id: maybe(8, typeof e.additionalEventData['cluster'] === 'string' ? e.additionalEventData['cluster'] : undefined),
    body: body(e),
  };
}

/** The baseline: the store's own INSERTs, straight through better-sqlite3. */
function rawInsert(db: Database.Database, events: ActionTrailEvent[], batch = BATCH): number {
  const ins = db.prepare(`INSERT INTO events (event_id, event_time, region_id, event_rw, name_id, type_id, service_id, user_id,
    key_id, sensitive, outcome, error_code, ip_id, cluster_id, body) VALUES (@event_id, @event_time, @region_id, @event_rw, @name_id,
    @type_id, @service_id, @user_id, @key_id, @sensitive, @outcome, @error_code, @ip_id, @cluster_id, @body)`);
  const res = db.prepare('INSERT OR IGNORE INTO event_resources (rid, seq) VALUES (?, ?)');
  const addName = db.prepare('INSERT INTO resource_names (type, name) VALUES (?, ?)');
  const addValue = db.prepare('INSERT INTO event_values (kind, value) VALUES (?, ?)');
  // A fresh database: every name and value is added here, so these maps know them all.
  const ids = new Map<string, number>();
  const cached = (key: string, add: () => number | bigint) => {
    let id = ids.get(key);
    if (id === undefined) ids.set(key, (id = Number(add())));
    return id;
  };
  const idOf = (type: string, name: string) => cached(`r${type}\0${name}`, () => addName.run(type, name).lastInsertRowid);
  const valueId: ValueIds = (kind, value) => cached(`v${kind}\0${value}`, () => addValue.run(kind, value).lastInsertRowid);
  const t0 = performance.now();
  for (let i = 0; i < events.length; i += batch) {
    db.transaction(() => {
      for (const e of events.slice(i, i + batch)) {
        const seq = Number(ins.run(row(e, valueId)).lastInsertRowid);
        for (const [type, names] of Object.entries(e.referencedResources)) for (const name of new Set(names)) res.run(idOf(type, name), seq);
      }
    }).immediate();
  }
  return (performance.now() - t0) / 1000;
}

/** Seconds to append `events` through `store` as a server does (batches, yielding between them), then close it. */
async function timedAppends(store: EventStore, events: ActionTrailEvent[]): Promise<number> {
  const t0 = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < events.length; i += BATCH) {
    for (const e of events.slice(i, i + BATCH)) pending.push(store.append(e));
    // Yield as a server does between requests, so the flush timer runs on its own schedule.
    await new Promise((r) => setImmediate(r));
  }
  await Promise.all(pending);
  const s = (performance.now() - t0) / 1000;
  await store.close();
  return s;
}

/** Calls of `appendSerialized` in flight at once, as from concurrent ingest requests. */
const SERIAL_IN_FLIGHT = 4;

/** Seconds to write the prepared chunks through ingest's write call (`SERIAL_IN_FLIGHT` at a time), then close the store. */
async function timedSerialized(store: EventStore, chunks: readonly string[]): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: SERIAL_IN_FLIGHT }, async () => {
      for (let i = next++; i < chunks.length; i = next++) {
        const duplicates = await store.appendSerialized(chunks[i] as string);
        if (duplicates.length) throw new Error(`appendSerialized found ${duplicates.length} duplicates in fresh records`);
      }
    }),
  );
  const s = (performance.now() - t0) / 1000;
  await store.close();
  return s;
}

/**
 * The records as `POST /api/v1/events` hands them to the store: each batch of BATCH prepared by
 * ingest's own preparation (parse, checks, ingestedBy, audit policy, redaction), one JSON text.
 */
function preparedChunks(events: readonly ActionTrailEvent[]): string[] {
  const config = buildConfig({ clusters: [] });
  const policy = compileAuditPolicy(config.auditPolicy, { roleOf: () => undefined });
  const redactor = compileRedactor();
  const ingestedBy = { principalId: 'bench', userName: 'bench', accountId: MANAGEMENT_ACCOUNT, requestId: 'bench' };
  const chunks: string[] = [];
  for (let i = 0; i < events.length; i += BATCH) {
    const body = Buffer.from(events.slice(i, i + BATCH).map((e) => JSON.stringify(e)).join('\n'));
    const p = prepareBatch({ body, format: 'jsonl', ingestedBy, account: { accountId: MANAGEMENT_ACCOUNT, anyAccount: true }, maxEvents: config.ingest.maxEvents }, policy, redactor);
    if (!p.ok || p.rejected.length || p.omitted) throw new Error(`ingest's preparation did not take the generated records whole: ${JSON.stringify(p).slice(0, 300)}`);
    chunks.push(p.json);
  }
  return chunks;
}

/** The store as the app opens it: events of the management account carry no account (and no member index rows). */
const AS_APP = { flushIntervalMs: 20, managementAccountId: MANAGEMENT_ACCOUNT };

async function viaStore(dir: string, events: ActionTrailEvent[]): Promise<number> {
  const db = openDatabase(dir);
  try {
    return await timedAppends(new SqliteEventStore(db, { ...AS_APP, maxQueue: events.length + 1 }), events);
  } finally {
    db.close();
  }
}

async function viaSerialized(dir: string, chunks: readonly string[]): Promise<number> {
  const db = openDatabase(dir);
  try {
    return await timedSerialized(new SqliteEventStore(db, AS_APP), chunks);
  } finally {
    db.close();
  }
}

/** `viaStore` on PostgreSQL: the same calls into a fresh database. */
async function viaPostgres(url: string, events: ActionTrailEvent[]): Promise<number> {
  return timedAppends(await PostgresEventStore.open({ url, ...AS_APP, maxQueue: events.length + 1 }), events);
}

async function viaPostgresSerialized(url: string, chunks: readonly string[]): Promise<number> {
  return timedSerialized(await PostgresEventStore.open({ url, ...AS_APP }), chunks);
}

function plainTable(dir: string, events: ActionTrailEvent[]): number {
  const db = new Database(join(dir, 'plain.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(`CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id NOT NULL, event_time INTEGER NOT NULL, region_id INTEGER NOT NULL,
    event_rw TEXT NOT NULL, name_id INTEGER NOT NULL, type_id INTEGER NOT NULL, service_id INTEGER NOT NULL, user_id INTEGER, key_id INTEGER,
    sensitive INTEGER NOT NULL, outcome TEXT NOT NULL, error_code TEXT, ip_id INTEGER, cluster_id INTEGER, account_id TEXT, body BLOB NOT NULL);
    CREATE TABLE event_values (id INTEGER PRIMARY KEY AUTOINCREMENT, kind INTEGER NOT NULL, value TEXT NOT NULL);
    CREATE TABLE resource_names (id INTEGER PRIMARY KEY, type TEXT NOT NULL, name TEXT NOT NULL);
    CREATE TABLE event_resources (rid INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (rid, seq)) WITHOUT ROWID;`);
  const s = rawInsert(db, events);
  db.close();
  return s;
}

interface Probes {
  latencies: Summary;
  missing: number;
  /** How long the gateway read took, and the LookupEvents that found its event: where the time goes. */
  gateway: Summary;
  lastLookup: Summary;
}

/** Reads that name a fresh job id, then polls LookupEvents until each one's event is visible. */
async function probe(ft: FlinkTrailChild, seconds: number): Promise<Probes> {
  const lat: number[] = [];
  const gateway: number[] = [];
  const lastLookup: number[] = [];
  let missing = 0;
  const start = new Date(Date.now() - 60_000).toISOString();
  const one = async () => {
    const job = randomBytes(16).toString('hex');
    const sent = performance.now();
    const res = await fetch(`${ft.gatewayUrl}jobs/${job}`, { headers: { authorization: ft.authorization } });
    await res.arrayBuffer();
    const acked = performance.now();
    gateway.push(acked - sent);
    const q = new URLSearchParams({ resourceName: job, startTime: start }).toString();
    for (;;) {
      const asked = performance.now();
      const r = await fetch(`${ft.apiUrl}/api/v1/events?${q}`, { headers: { authorization: ft.authorization } });
      const body = (await r.json()) as { Events?: unknown[] };
      if (body.Events?.length) {
        lat.push(performance.now() - acked);
        lastLookup.push(performance.now() - asked);
        return;
      }
      if (performance.now() - acked > 10_000) {
        missing++;
        return;
      }
      await sleep(5);
    }
  };
  const running: Promise<void>[] = [];
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    // A probe whose request fails (FlinkTrail gone) counts as never visible, and never goes unhandled.
    running.push(one().catch(() => void missing++));
    await sleep(100);
  }
  await Promise.all(running);
  return { latencies: summarize(lat), missing, gateway: summarize(gateway), lastLookup: summarize(lastLookup) };
}

type StoreKind = 'sqlite' | 'pg';

/** Distinct records each ingest client process serializes up front (reused with fresh eventIds). */
const CLIENT_POOL = 20_000;

interface HttpRun {
  store: StoreKind;
  clients: number;
  load: IngestLoadResult;
  /** Records accepted in all (warm-up included), and what the last count saw. */
  expected: number;
  counted: number;
  /** Seconds from the first timed batch sent to the answer of the first count that saw every accepted record (NaN: not within 60 s). */
  queryableSeconds: number;
  /** The event-to-queryable probes that ran beside the clients. */
  probes: Probes;
  /** Accepted records per second, from the first batch sent to the last answered, and to the count. */
  answeredEps: number;
  queryableEps: number;
}

interface HttpContext {
  flink: BenchFlink;
  pgServer: string | undefined;
  seconds: number;
  batch: number;
  profileDir?: string;
}

/**
 * One HTTP ingest run into a fresh FlinkTrail: `clients` clients for `seconds`, the probes beside
 * them, then GetEventHistogram over the ingested records' time range until it counts them all.
 */
async function httpIngest(store: StoreKind, clients: number, c: HttpContext): Promise<HttpRun> {
  const tag = `${store}-${clients}${c.profileDir ? '-profiled' : ''}`;
  const storeUrl = store === 'pg' ? await freshDatabase(c.pgServer as string, `bench_ingest_http_${tag.replace(/-/g, '_')}`) : undefined;
  const ft = await startFlinkTrail({
    dataDir: benchDir(`ingest-http-${tag}`),
    flinkUrl: c.flink.restUrl,
    ...(storeUrl ? { storeUrl } : {}),
    ...(c.profileDir ? { nodeArgs: ['--cpu-prof', '--cpu-prof-dir', c.profileDir] } : {}),
  });
  try {
    // The records are an hour or two old (as a pipeline's backlog is): no other event falls in their range.
    const now = Date.now();
    const timeFrom = now - 2 * 3_600_000;
    const timeTo = now - 3_600_000;
    const clientsReady = await prepareIngestLoad({
      origin: new URL(ft.apiUrl).origin,
      authorization: ft.authorization,
      clients,
      seconds: c.seconds,
      batch: c.batch,
      pool: CLIENT_POOL,
      timeFrom,
      timeTo,
      seed: 11,
      warmup: 2,
    });
    process.stderr.write(`ingest: HTTP ingest into ${store === 'pg' ? 'PostgreSQL' : 'SQLite'}, ${clients} clients for ${c.seconds} s, probes beside them…\n`);
    const [load, probes] = await Promise.all([
      clientsReady.start(),
      (async () => {
        await sleep(1000);
        return probe(ft, Math.max(1, c.seconds - 2));
      })(),
    ]);
    const expected = load.accepted + load.warmupAccepted;
    const q = new URLSearchParams({ startTime: new Date(timeFrom - 1000).toISOString(), endTime: new Date(timeTo + 1000).toISOString(), region: '*', buckets: '1' });
    let counted = -1;
    let queryableAt = NaN;
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; await sleep(10)) {
      const r = await fetch(`${ft.apiUrl}/api/v1/events/histogram?${q.toString()}`, { headers: { authorization: ft.authorization } });
      const h = (await r.json()) as { total?: number };
      counted = h.total ?? -1;
      if (counted >= expected) {
        queryableAt = Date.now();
        break;
      }
    }
    const queryableSeconds = (queryableAt - load.startedAt) / 1000;
    return {
      store,
      clients,
      load,
      expected,
      counted,
      queryableSeconds,
      probes,
      answeredEps: load.accepted / ((load.lastAckAt - load.startedAt) / 1000),
      queryableEps: load.accepted / queryableSeconds,
    };
  } finally {
    await ft.stop();
  }
}

/** A thread's profile, named by what its busiest frames run. */
function threadLabel(frames: { name: string; where: string }[]): string {
  const has = (re: RegExp) => frames.some((f) => re.test(`${f.name} ${f.where}`));
  if (has(/sources\/ingest|ajv|redact/)) return 'ingest preparation thread';
  if (has(/insertOne|appendSerialized|sqliteTransaction/)) return 'store writer thread';
  if (has(/lookup|histogram/i)) return 'store reader thread';
  return 'worker thread';
}

function profileSection(dir: string, run: HttpRun): string {
  const { main, workers } = processProfiles(dir);
  if (!main) return '';
  const parts = [{ label: 'request thread (main)', ...topFrames(main, 10) }, ...workers.map((f) => ({ ...topFrames(f, 10) })).map((t) => ({ label: threadLabel(t.frames), ...t }))];
  const busiest = parts.reduce((a, b) => (b.busyMs > a.busyMs ? b : a));
  return `
### Where FlinkTrail's CPU goes during HTTP ingest (\`--cpu-prof\`: one more SQLite run, ${run.clients} clients for ${Math.round((run.load.lastAckAt - run.load.startedAt) / 1000)} s under the profiler: ${int(run.answeredEps)} records/s answered)

Self time of the busiest functions per thread over the whole life of the process (start, warm-up, run, shutdown); threads that were idle are left out.
The busiest thread is the ${busiest.label}: ${ms(busiest.busyMs)} busy of its ${ms(busiest.wallMs)} (${((100 * busiest.busyMs) / busiest.wallMs).toFixed(0)} %).
On a loaded machine a thread that waits for a core is sampled in whatever frame it was in, so shares are rough.

${parts
  .filter((p) => p.busyMs > 200)
  .map((p) => `#### ${p.label}: ${ms(p.busyMs)} busy\n\n${framesTable(p.frames)}`)
  .join('\n\n')}
`;
}

async function ingestBench(o: BenchOptions): Promise<Section> {
  const startedAt = new Date();
  const t0 = Date.now();
  const othersLoad = loadavg()[0] as number;
  const n = count(o.opts.get('events') || (o.quick ? '50k' : '100k'));
  const rounds = Number(o.opts.get('rounds') || (o.quick ? 1 : 2));
  const clientCounts = (o.opts.get('clients') || '2,4').split(',').map(Number);
  const httpSeconds = Number(o.opts.get('seconds') || (o.quick ? 8 : 15));
  const batch = count(o.opts.get('batch') || '1000');
  const keptProfiles = o.opts.get('cpu-prof-dir');
  const profileDir = keptProfiles || (o.opts.has('cpu-prof') ? benchDir('ingest-profile') : undefined);
  const gen = new Generator(makeWorld(7), 7);
  const end = Date.now();
  const events = Array.from({ length: n }, (_, i) => gen.event(end - SPAN_MS + i * (SPAN_MS / n), i));
  const chunks = preparedChunks(events);

  // Each way into a fresh directory; order rotated over rounds so that none always goes first.
  type Way = 'store' | 'serial' | 'raw' | 'raw20k' | 'plain' | 'pg' | 'pgserial';
  const times: Record<Way, number[]> = { store: [], serial: [], raw: [], raw20k: [], plain: [], pg: [], pgserial: [] };
  const pgServer = o.opts.has('postgres') ? await benchPostgres() : undefined;
  const all: Way[] = ['raw', 'store', 'serial', 'raw20k', 'plain', ...(pgServer ? (['pg', 'pgserial'] as const) : [])];
  for (let r = 0; r < rounds; r++) {
    const ways = all.map((_, i, a) => a[(i + r) % a.length] as Way);
    for (const way of ways) {
      process.stderr.write(`ingest: round ${r + 1}/${rounds}, ${way}…\n`);
      const dir = benchDir(`ingest-${way}`);
      if (way === 'store') times.store.push(await viaStore(dir, events));
      else if (way === 'serial') times.serial.push(await viaSerialized(dir, chunks));
      else if (way === 'pg') times.pg.push(await viaPostgres(await freshDatabase(pgServer as string, `bench_ingest_${r}`), events));
      else if (way === 'pgserial') times.pgserial.push(await viaPostgresSerialized(await freshDatabase(pgServer as string, `bench_ingest_serial_${r}`), chunks));
      else if (way === 'raw' || way === 'raw20k') {
        const db = openDatabase(dir);
        times[way].push(rawInsert(db, events, way === 'raw' ? BATCH : 20_000));
        db.close();
      } else times.plain.push(plainTable(dir, events));
    }
  }
  const best = (xs: number[]) => Math.min(...xs);
  const eps = (way: keyof typeof times) => n / best(times[way]);

  // Event-to-queryable latency, idle and under gateway load.
  const probeSeconds = httpSeconds;
  const flink = await benchFlink();
  const ft = await startFlinkTrail({ dataDir: benchDir('ingest-e2e'), flinkUrl: flink.restUrl });
  process.stderr.write('ingest: event-to-queryable probes, idle…\n');
  const idle = await probe(ft, probeSeconds);
  process.stderr.write('ingest: event-to-queryable probes under wrk load…\n');
  const origin = new URL(ft.apiUrl).origin;
  const reads = ['/overview', '/jobs/overview', `/jobs/${flink.jobId}`].map((p) => ({ method: 'GET' as const, path: `/flink/default${p}` }));
  const [loaded, load] = await Promise.all<[Promise<Probes>, Promise<WrkResult>]>([
    probe(ft, probeSeconds),
    wrk({ origin, requests: reads, headers: { authorization: ft.authorization }, connections: 16, seconds: probeSeconds + 2 }),
  ]);
  await ft.stop();
  const pgProbes = pgServer ? await postgresProbes(pgServer, flink, probeSeconds, reads) : undefined;

  // HTTP ingest, with the probes beside it.
  const http: HttpRun[] = [];
  const ctx: HttpContext = { flink, pgServer, seconds: httpSeconds, batch };
  for (const store of pgServer ? (['sqlite', 'pg'] as const) : (['sqlite'] as const)) {
    for (const k of clientCounts) http.push(await httpIngest(store, k, ctx));
  }
  const maxK = Math.max(...clientCounts);
  const profiled = profileDir ? await httpIngest('sqlite', maxK, { ...ctx, seconds: Math.min(httpSeconds, 10), profileDir }) : undefined;

  const storeEps = eps('store');
  const serialEps = eps('serial');
  const p99 = loaded.latencies.p99;
  const httpOf = (store: StoreKind) => http.filter((h) => h.store === store);
  const bestOf = (store: StoreKind) => httpOf(store).reduce((a, b) => (b.answeredEps > a.answeredEps ? b : a));
  const atMax = (store: StoreKind) => httpOf(store).find((h) => h.clients === maxK) as HttpRun;
  const sqliteBest = bestOf('sqlite');
  const sqliteMax = atMax('sqlite');
  const complete = (h: HttpRun) => h.counted >= h.expected && h.load.errors === 0 && h.load.rejected === 0 && h.load.duplicates === 0;
  const loadNote = othersLoad >= 1 ? `; loaded: 1-min load average ${othersLoad.toFixed(2)} on 2 cores before the run started` : '';
  const serialOf = (store: StoreKind) => (store === 'pg' ? eps('pgserial') : serialEps);
  const httpRow = (h: HttpRun) => {
    const sqlite = h.store === 'pg' ? http.find((x) => x.store === 'sqlite' && x.clients === h.clients) : undefined;
    return [
      h.store === 'pg' ? 'PostgreSQL' : 'SQLite',
      int(h.clients),
      int(h.answeredEps),
      Number.isFinite(h.queryableEps) ? int(h.queryableEps) : `never (counted ${int(h.counted)} of ${int(h.expected)})`,
      ms(h.load.latency.p50),
      ms(h.load.latency.p99),
      int(h.load.accepted),
      `${ratio(h.answeredEps / serialOf(h.store))}`,
      sqlite ? ratio(h.answeredEps / sqlite.answeredEps) : '',
    ];
  };
  const probeRow = (store: string, label: string, p: Probes, base: Probes) => [
    store,
    label,
    int(p.latencies.n),
    ms(p.latencies.p50),
    ms(p.latencies.p99),
    ms(p.latencies.max),
    int(p.missing),
    ratio(p.latencies.p99 / base.latencies.p99),
    `${ms(p.gateway.p50)} / ${ms(p.gateway.p99)}`,
    `${ms(p.lastLookup.p50)} / ${ms(p.lastLookup.p99)}`,
  ];
  const ingestProbeRows = (store: StoreKind, base: Probes) =>
    httpOf(store).map((h) => probeRow(h.store === 'pg' ? 'PostgreSQL' : 'SQLite', `under HTTP ingest (${h.clients} clients: ${int(h.answeredEps)} records/s)`, h.probes, base));
  const problems = http.filter((h) => !complete(h)).map((h) => `${h.store} ${h.clients} clients: ${h.load.errors} failed requests (${Object.entries(h.load.statuses).map(([k, v]) => `${k}: ${v}`).join(', ')}), ${h.load.rejected} rejected, ${h.load.duplicates} duplicates, counted ${h.counted} of ${h.expected}${h.load.firstError ? ` — first: ${h.load.firstError}` : ''}`);
  const body = `
${othersLoad >= 1 ? `**Loaded run:** the 1-min load average was ${othersLoad.toFixed(2)} on 2 cores before it started (other work on the machine); read absolute rates as lower bounds, ratios within the run as meaningful.\n` : ''}
### HTTP ingest: \`POST /api/v1/events\` (NDJSON, ${int(batch)} realistic records per request, ${httpSeconds} s per run, each client sending its next batch when the last is answered)

${table(
  ['store', 'clients', 'records/s answered', 'records/s queryable', 'request p50', 'request p99', 'records', '× store alone (appendSerialized, below)', '× SQLite, same clients'],
  http.map(httpRow),
)}

The answer (200) is sent once the batch's records are committed, so an answered record is a
stored one: "queryable" is the same records counted by GetEventHistogram, from the first batch
sent to the first count that saw them all (polled every 10 ms after the last answer). A request's
latency is therefore also the event-to-queryable time of its records. FlinkTrail runs with its
defaults (\`ingest.threads\` 1, \`store.flushIntervalMs\` 20); the clients run in one other
process on the same 2 cores, with the bodies built before the clock starts (${int(Math.round(sqliteBest.load.batchBytes / 1024))} KiB each);
the probes below ran beside them.${problems.length ? `\n\n**Not every record went in:** ${problems.join('; ')}.` : ''}

### Event-to-queryable latency (a probe every 100 ms for ${probeSeconds} s; from the gateway's answer to the first LookupEvents that returns its event)

${table(
  ['store', 'condition', 'probes', 'p50', 'p99', 'max', 'never visible (10 s)', 'p99 × idle', 'gateway read p50 / p99', 'last LookupEvents p50 / p99'],
  [
    probeRow('SQLite', 'idle (baseline)', idle, idle),
    probeRow('SQLite', `under gateway load (wrk, 16 connections: ${int(load.rps)} requests/s)`, loaded, idle),
    ...ingestProbeRows('sqlite', idle),
    ...(pgProbes
      ? [
          probeRow('PostgreSQL', 'idle (baseline)', pgProbes.idle, pgProbes.idle),
          probeRow('PostgreSQL', `under gateway load (wrk, 16 connections: ${int(pgProbes.load.rps)} requests/s)`, pgProbes.loaded, pgProbes.idle),
          ...ingestProbeRows('pg', pgProbes.idle),
        ]
      : []),
  ],
)}

- A gateway read's event is committed by the store's flush timer (\`store.flushIntervalMs\`,
  20 ms), so the floor is that interval plus one commit; polling every 5 ms adds up to 5 ms.
- The last two columns say where the time goes: the gateway read itself (before the clock
  starts), and the LookupEvents that found the event (inside the measured time: a slow query
  adds to it even when the event was committed long before).
- Under load the probes queue behind the other traffic in FlinkTrail's event loop and, during
  ingest, behind the store's ingest transactions; the gateway answers before its event is
  recorded: what is measured is the whole path.

### Store throughput (${int(n)} realistic events, ${rounds} round${rounds > 1 ? 's' : ''}, best of each; \`synchronous: full\`, WAL; in this process, no HTTP)

${table(
  ['path', 'events/s', 'seconds', '× baseline'],
  [
    ['`SqliteEventStore.append` (the recorder\'s path; 20 ms flush timer)', int(storeEps), secs(best(times.store)), ratio(storeEps / eps('raw'))],
    [`\`SqliteEventStore.appendSerialized\` (ingest's write call: records prepared as POST prepares them, ${int(BATCH)} per call, ${SERIAL_IN_FLIGHT} in flight)`, int(serialEps), secs(best(times.serial)), ratio(serialEps / eps('raw'))],
    ['baseline: raw better-sqlite3 INSERTs, same schema, 1,000 per transaction', int(eps('raw')), secs(best(times.raw)), ratio(1)],
    ['raw INSERTs, same schema, 20,000 per transaction', int(eps('raw20k')), secs(best(times.raw20k)), ratio(eps('raw20k') / eps('raw'))],
    ['reference: raw INSERTs, no secondary indexes', int(eps('plain')), secs(best(times.plain)), ratio(eps('plain') / eps('raw'))],
    ...(pgServer
      ? [
          ['`PostgresEventStore.append` (the same calls; PostgreSQL 15, see below)', int(eps('pg')), secs(best(times.pg)), `${ratio(eps('pg') / eps('raw'))} (${ratio(eps('pg') / storeEps)} SQLite store)`],
          ['`PostgresEventStore.appendSerialized` (the same calls)', int(eps('pgserial')), secs(best(times.pgserial)), `${ratio(eps('pgserial') / eps('raw'))} (${ratio(eps('pgserial') / serialEps)} SQLite store)`],
        ]
      : []),
  ],
)}

All rounds (seconds): store ${times.store.map((s) => s.toFixed(2)).join(' / ')}; appendSerialized ${times.serial.map((s) => s.toFixed(2)).join(' / ')};${pgServer ? ` PostgreSQL store ${times.pg.map((s) => s.toFixed(2)).join(' / ')}; PostgreSQL appendSerialized ${times.pgserial.map((s) => s.toFixed(2)).join(' / ')};` : ''} raw ${times.raw.map((s) => s.toFixed(2)).join(' / ')}; raw, 20,000 per transaction ${times.raw20k.map((s) => s.toFixed(2)).join(' / ')}; no indexes ${times.plain.map((s) => s.toFixed(2)).join(' / ')}.
The store beats the 1,000-row baseline because its 20 ms flush commits whatever has queued —
larger transactions, fewer fsyncs; \`appendSerialized\` commits every 500 records and parses
the prepared JSON text first. The gap to the no-index reference is what the indexes behind fast
LookupEvents cost at write time.${
    pgServer
      ? `
The PostgreSQL rows (here and above) write to a local throwaway cluster with fsync and
synchronous_commit off (scripts/it/postgres.sh, a unix socket), the SQLite rows with
\`synchronous: full\`: not the same durability. They show what the store itself costs (row
mapping, compression, multi-row INSERTs, 14 indexes per day partition), not what a durable
PostgreSQL server would take; the PostgreSQL store's row mapping and compression run on
its reader threads (\`store.readers\`) and its transactions on the request thread, SQLite's on
the store's writer thread.`
      : ''
  }
${profiled && profileDir ? profileSection(profileDir, profiled) : ''}`;
  const pgBest = pgServer ? bestOf('pg') : undefined;
  const pgMax = pgServer ? atMax('pg') : undefined;
  return {
    name: 'ingest',
    title: '3. Ingest',
    command: 'npm run bench -- ingest',
    startedAt,
    seconds: (Date.now() - t0) / 1000,
    body,
    goals: [
      {
        area: 'Ingest',
        goal: '≥ 50,000 events/s over HTTP (`POST /api/v1/events`)',
        measured: `${int(sqliteBest.answeredEps)} events/s answered (committed) with ${sqliteBest.clients} clients; the store alone ${int(serialEps)} (appendSerialized)${loadNote}`,
        met: sqliteBest.answeredEps >= 50_000 && complete(sqliteBest),
      },
      {
        area: 'Ingest',
        goal: 'event-to-queryable p99 ≤ 1 s under that load',
        measured: `${ms(sqliteMax.probes.latencies.p99)} beside ${maxK} ingest clients (idle ${ms(idle.latencies.p99)}, gateway load ${ms(p99)}); ingested records queryable on answer, request p99 ${ms(sqliteMax.load.latency.p99)}${sqliteMax.probes.missing ? `; ${sqliteMax.probes.missing} never visible` : ''}`,
        met: sqliteMax.probes.latencies.p99 <= 1000 && sqliteMax.probes.missing === 0 && loaded.latencies.p99 <= 1000 && loaded.missing === 0,
      },
      ...(pgServer && pgBest && pgMax && pgProbes
        ? [
            {
              area: 'Ingest (PostgreSQL store)',
              goal: '≥ 50,000 events/s over HTTP',
              measured: `${int(pgBest.answeredEps)} events/s answered with ${pgBest.clients} clients (SQLite ${int(sqliteBest.answeredEps)} in the same run); the store alone ${int(eps('pgserial'))}`,
              met: pgBest.answeredEps >= 50_000 && complete(pgBest),
            },
            {
              area: 'Ingest (PostgreSQL store)',
              goal: 'event-to-queryable p99 ≤ 1 s under that load',
              measured: `${ms(pgMax.probes.latencies.p99)} beside ${maxK} ingest clients (SQLite ${ms(sqliteMax.probes.latencies.p99)}); idle ${ms(pgProbes.idle.latencies.p99)}, gateway load ${ms(pgProbes.loaded.latencies.p99)}`,
              met: pgMax.probes.latencies.p99 <= 1000 && pgMax.probes.missing === 0 && pgProbes.loaded.latencies.p99 <= 1000 && pgProbes.loaded.missing === 0,
            },
          ]
        : []),
    ],
  };
}

interface PostgresProbes {
  idle: Probes;
  loaded: Probes;
  load: WrkResult;
}

/** The event-to-queryable probes again, idle and under the same load, with the events in PostgreSQL. */
async function postgresProbes(server: string, flink: { restUrl: string }, seconds: number, reads: { method: 'GET'; path: string }[]): Promise<PostgresProbes> {
  const url = await freshDatabase(server, 'bench_ingest_e2e');
  const ft = await startFlinkTrail({ dataDir: benchDir('ingest-e2e-pg'), flinkUrl: flink.restUrl, storeUrl: url });
  try {
    process.stderr.write('ingest: event-to-queryable probes on PostgreSQL, idle…\n');
    const idle = await probe(ft, seconds);
    process.stderr.write('ingest: event-to-queryable probes on PostgreSQL under wrk load…\n');
    const [loaded, load] = await Promise.all<[Promise<Probes>, Promise<WrkResult>]>([
      probe(ft, seconds),
      wrk({ origin: new URL(ft.apiUrl).origin, requests: reads, headers: { authorization: ft.authorization }, connections: 16, seconds: seconds + 2 }),
    ]);
    return { idle, loaded, load };
  } finally {
    await ft.stop();
  }
}

export const ingest: Bench = {
  name: 'ingest',
  title: '3. Ingest',
  summary: 'events/s over HTTP (POST /api/v1/events) and into the store vs raw SQLite inserts; event-to-queryable p99 under gateway and ingest load (--postgres: also the PostgreSQL store)',
  run: ingestBench,
};
