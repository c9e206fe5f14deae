/**
 * Ingest: how many events per second the embedded store takes, and how soon an event is
 * queryable under load.
 *
 * 1. Store throughput. The same realistic events (bench/lib/generate.ts) written three ways into
 *    fresh databases with the production schema and `synchronous: full`:
 *    - `SqliteEventStore.append`, one call per event as the recorder makes them, 1,000 per
 *      event-loop turn, committed by the store's own 20 ms flush timer — the real path;
 *    - baseline: raw better-sqlite3 inserts of the same rows (same statements, one transaction
 *      per 1,000 events), none of the store's queueing;
 *    - reference: the same raw inserts into a table without secondary indexes, to show what the
 *      indexes that make every filter fast cost at write time;
 *    - with `--postgres`: `PostgresEventStore.append`, the same calls the same way, into a fresh
 *      database on PostgreSQL (scripts/it/postgres.sh), as a ratio to the SQLite store's row.
 * 2. Event-to-queryable latency. FlinkTrail (own process) in front of a real Flink, loaded by
 *    wrk through the gateway; a probe sends a read naming a fresh job id every 100 ms, and from
 *    the moment its answer has arrived polls LookupEvents (resourceName = that id) until the
 *    event is there. Baseline: the same probes with no other load. With `--postgres` the same
 *    probes against a FlinkTrail whose events are in PostgreSQL (`store.url`).
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import Database from 'better-sqlite3';
import type { ActionTrailEvent } from '../src/event/types.js';
import { openDatabase } from '../src/store/sqlite/database.js';
import { SqliteEventStore } from '../src/store/sqlite/events.js';
import { seedDictionary } from '../src/store/sqlite/body-codec.js';
import { PostgresEventStore } from '../src/store/postgres/events.js';
import type { EventStore } from '../src/store/types.js';
import { Generator, makeWorld, SPAN_MS } from './lib/generate.js';
import { benchPostgres, freshDatabase } from './lib/postgres.js';
import { sleep } from './lib/procs.js';
import type { Section } from './lib/report.js';
import { benchDir, benchFlink, startFlinkTrail, type FlinkTrailChild } from './lib/servers.js';
import { int, ms, ratio, seconds as secs, summarize, table, type Summary } from './lib/stats.js';
import { wrk, type WrkResult } from './lib/wrk.js';
import type { Bench, BenchOptions } from './types.js';

const BATCH = 1000;

/** The store's dictionary (the bytes it compresses against; the encoding below is written out by hand). */
const DICTIONARY = seedDictionary();

/** A body as the store writes it: format 1, dictionary 1, nothing left out, deflated with the dictionary. */
function body(e: ActionTrailEvent): Buffer {
  return Buffer.concat([Buffer.from([1, 0, 1, 0]), deflateRawSync(JSON.stringify(e), { level: 6, dictionary: DICTIONARY })]);
}

/** The store's row mapping (kept in step with store/sqlite/events.ts by hand: a baseline must not share the code it measures). */
function row(e: ActionTrailEvent) {
  return {
    event_id: e.eventId,
    event_time: Date.parse(e.eventTime),
    region: e.acsRegion,
    event_rw: e.eventRW,
    event_name: e.eventName,
    event_type: e.eventType,
    service_name: e.serviceName,
    user_name: e.userIdentity.userName || null,
    access_key_id: e.userIdentity.accessKeyId ?? null,
    sensitive: e.additionalEventData.sensitive ? 1 : 0,
    outcome: e.additionalEventData.outcome,
    error_code: e.errorCode ?? null,
    source_ip: e.sourceIpAddress || null,
    cluster: typeof e.additionalEventData['cluster'] === 'string' ? e.additionalEventData['cluster'] : null,
    body: body(e),
  };
}

/** The baseline: the store's own INSERTs, straight through better-sqlite3. */
function rawInsert(db: Database.Database, events: ActionTrailEvent[], batch = BATCH): number {
  const ins = db.prepare(`INSERT INTO events (event_id, event_time, region, event_rw, event_name, event_type, service_name, user_name,
    access_key_id, sensitive, outcome, error_code, source_ip, cluster, body) VALUES (@event_id, @event_time, @region, @event_rw, @event_name,
    @event_type, @service_name, @user_name, @access_key_id, @sensitive, @outcome, @error_code, @source_ip, @cluster, @body)`);
  const res = db.prepare('INSERT OR IGNORE INTO event_resources (rid, seq) VALUES (?, ?)');
  const addName = db.prepare('INSERT INTO resource_names (type, name) VALUES (?, ?)');
  // A fresh database: every name is added here, so this map knows them all.
  const ids = new Map<string, number>();
  const idOf = (type: string, name: string) => {
    const key = `${type}\0${name}`;
    let id = ids.get(key);
    if (id === undefined) ids.set(key, (id = Number(addName.run(type, name).lastInsertRowid)));
    return id;
  };
  const t0 = performance.now();
  for (let i = 0; i < events.length; i += batch) {
    db.transaction(() => {
      for (const e of events.slice(i, i + batch)) {
        const seq = Number(ins.run(row(e)).lastInsertRowid);
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

async function viaStore(dir: string, events: ActionTrailEvent[]): Promise<number> {
  const db = openDatabase(dir);
  try {
    return await timedAppends(new SqliteEventStore(db, { flushIntervalMs: 20, maxQueue: events.length + 1 }), events);
  } finally {
    db.close();
  }
}

/** `viaStore` on PostgreSQL: the same calls into a fresh database. */
async function viaPostgres(url: string, events: ActionTrailEvent[]): Promise<number> {
  return timedAppends(await PostgresEventStore.open({ url, flushIntervalMs: 20, maxQueue: events.length + 1 }), events);
}

function plainTable(dir: string, events: ActionTrailEvent[]): number {
  const db = new Database(join(dir, 'plain.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(`CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, event_time INTEGER NOT NULL, region TEXT NOT NULL,
    event_rw TEXT NOT NULL, event_name TEXT NOT NULL, event_type TEXT NOT NULL, service_name TEXT NOT NULL, user_name TEXT, access_key_id TEXT,
    sensitive INTEGER NOT NULL, outcome TEXT NOT NULL, error_code TEXT, source_ip TEXT, cluster TEXT, body TEXT NOT NULL);
    CREATE TABLE resource_names (id INTEGER PRIMARY KEY, type TEXT NOT NULL, name TEXT NOT NULL);
    CREATE TABLE event_resources (rid INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (rid, seq)) WITHOUT ROWID;`);
  const s = rawInsert(db, events);
  db.close();
  return s;
}

interface Probes {
  latencies: Summary;
  missing: number;
}

/** Reads that name a fresh job id, then polls LookupEvents until each one's event is visible. */
async function probe(ft: FlinkTrailChild, seconds: number): Promise<Probes> {
  const lat: number[] = [];
  let missing = 0;
  const start = new Date(Date.now() - 60_000).toISOString();
  const one = async () => {
    const job = randomBytes(16).toString('hex');
    const res = await fetch(`${ft.gatewayUrl}jobs/${job}`, { headers: { authorization: ft.authorization } });
    await res.arrayBuffer();
    const acked = performance.now();
    const q = new URLSearchParams({ resourceName: job, startTime: start }).toString();
    for (;;) {
      const r = await fetch(`${ft.apiUrl}/api/v1/events?${q}`, { headers: { authorization: ft.authorization } });
      const body = (await r.json()) as { Events?: unknown[] };
      if (body.Events?.length) {
        lat.push(performance.now() - acked);
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
    running.push(one());
    await sleep(100);
  }
  await Promise.all(running);
  return { latencies: summarize(lat), missing };
}

async function ingestBench(o: BenchOptions): Promise<Section> {
  const startedAt = new Date();
  const t0 = Date.now();
  const n = o.quick ? 50_000 : 200_000;
  const gen = new Generator(makeWorld(7), 7);
  const end = Date.now();
  const events = Array.from({ length: n }, (_, i) => gen.event(end - SPAN_MS + i * (SPAN_MS / n), i));

  // Each way into a fresh directory; order rotated over rounds so that none always goes first.
  const rounds = o.quick ? 1 : 3;
  type Way = 'store' | 'raw' | 'raw20k' | 'plain' | 'pg';
  const times: Record<Way, number[]> = { store: [], raw: [], raw20k: [], plain: [], pg: [] };
  const pgServer = o.opts.has('postgres') ? await benchPostgres() : undefined;
  const all: Way[] = pgServer ? ['raw', 'store', 'raw20k', 'plain', 'pg'] : ['raw', 'store', 'raw20k', 'plain'];
  for (let r = 0; r < rounds; r++) {
    const ways = all.map((_, i, a) => a[(i + r) % a.length] as Way);
    for (const way of ways) {
      process.stderr.write(`ingest: round ${r + 1}/${rounds}, ${way}…\n`);
      const dir = benchDir(`ingest-${way}`);
      if (way === 'store') times.store.push(await viaStore(dir, events));
      else if (way === 'pg') times.pg.push(await viaPostgres(await freshDatabase(pgServer as string, `bench_ingest_${r}`), events));
      else if (way === 'raw' || way === 'raw20k') {
        const db = openDatabase(dir);
        times[way].push(rawInsert(db, events, way === 'raw' ? BATCH : 20_000));
        db.close();
      } else times.plain.push(plainTable(dir, events));
    }
  }
  const best = (xs: number[]) => Math.min(...xs);
  const eps = (way: keyof typeof times) => n / best(times[way]);

  // Event-to-queryable latency, idle and under load.
  const probeSeconds = o.quick ? 8 : 20;
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

  const storeEps = eps('store');
  const p99 = loaded.latencies.p99;
  const body = `
### Store throughput (${int(n)} realistic events, ${rounds} round${rounds > 1 ? 's' : ''}, best of each; \`synchronous: full\`, WAL)

${table(
  ['path', 'events/s', 'seconds', '× baseline'],
  [
    ['`SqliteEventStore.append` (the recorder\'s path; 20 ms flush timer)', int(storeEps), secs(best(times.store)), ratio(storeEps / eps('raw'))],
    ['baseline: raw better-sqlite3 INSERTs, same schema, 1,000 per transaction', int(eps('raw')), secs(best(times.raw)), ratio(1)],
    ['raw INSERTs, same schema, 20,000 per transaction', int(eps('raw20k')), secs(best(times.raw20k)), ratio(eps('raw20k') / eps('raw'))],
    ['reference: raw INSERTs, no secondary indexes', int(eps('plain')), secs(best(times.plain)), ratio(eps('plain') / eps('raw'))],
    ...(pgServer
      ? [['`PostgresEventStore.append` (the same calls; PostgreSQL 15, see below)', int(eps('pg')), secs(best(times.pg)), `${ratio(eps('pg') / eps('raw'))} (${ratio(eps('pg') / storeEps)} SQLite store)`]]
      : []),
  ],
)}

All rounds (seconds): store ${times.store.map((s) => s.toFixed(2)).join(' / ')};${pgServer ? ` PostgreSQL store ${times.pg.map((s) => s.toFixed(2)).join(' / ')};` : ''} raw ${times.raw.map((s) => s.toFixed(2)).join(' / ')}; raw, 20,000 per transaction ${times.raw20k.map((s) => s.toFixed(2)).join(' / ')}; no indexes ${times.plain.map((s) => s.toFixed(2)).join(' / ')}.
The store beats the 1,000-row baseline because its 20 ms flush commits whatever has queued —
larger transactions, fewer fsyncs; the gap to the no-index reference is what the
indexes behind fast LookupEvents cost at write time.${
    pgServer
      ? `
The PostgreSQL row writes to a local throwaway cluster with fsync and synchronous_commit off
(scripts/it/postgres.sh), the SQLite rows with \`synchronous: full\`: not the same durability. It
shows what the store itself costs (row mapping, compression, one multi-row INSERT per flush,
14 indexes per day partition), not what a durable PostgreSQL server would take.`
      : ''
  }

### Event-to-queryable latency (a probe every 100 ms for ${probeSeconds} s; from the answer to the first LookupEvents that returns it)

${table(
  ['condition', 'probes', 'p50', 'p99', 'max', 'never visible (10 s)', 'p99 × idle'],
  [
    ['idle (baseline)', int(idle.latencies.n), ms(idle.latencies.p50), ms(idle.latencies.p99), ms(idle.latencies.max), int(idle.missing), ratio(1)],
    [
      `under load (wrk, 16 connections through the gateway: ${int(load.rps)} requests/s)`,
      int(loaded.latencies.n),
      ms(loaded.latencies.p50),
      ms(p99),
      ms(loaded.latencies.max),
      int(loaded.missing),
      ratio(p99 / idle.latencies.p99),
    ],
  ],
)}

${pgProbes ? postgresProbeTable(pgProbes, idle, loaded) : ''}
Notes:
- A read's event is committed by the store's flush timer (\`store.flushIntervalMs\`, 20 ms), so
  the floor is that interval plus one commit; polling every 5 ms adds up to 5 ms.
- Under load the probes queue behind the wrk traffic in FlinkTrail's single event loop, and
  the gateway answers before its event is recorded; what is measured is the whole path.
`;
  return {
    name: 'ingest',
    title: '3. Ingest',
    command: 'npm run bench -- ingest',
    startedAt,
    seconds: (Date.now() - t0) / 1000,
    body,
    goals: [
      { area: 'Ingest', goal: '≥ 50,000 events/s embedded', measured: `${int(storeEps)} events/s through the store (raw SQLite baseline ${int(eps('raw'))})`, met: storeEps >= 50_000 },
      { area: 'Ingest', goal: 'event-to-queryable p99 ≤ 1 s', measured: `${ms(p99)} under load (${ms(idle.latencies.p99)} idle)${loaded.missing ? `, ${loaded.missing} never visible` : ''}`, met: p99 <= 1000 && loaded.missing === 0 },
      ...(pgProbes
        ? [
            {
              area: 'Ingest (PostgreSQL store)',
              goal: 'event-to-queryable p99 ≤ 1 s',
              measured: `${ms(pgProbes.loaded.latencies.p99)} under load (SQLite ${ms(p99)}); ${int(eps('pg'))} events/s through the store (SQLite ${int(storeEps)})`,
              met: pgProbes.loaded.latencies.p99 <= 1000 && pgProbes.loaded.missing === 0,
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

function postgresProbeTable(pg: PostgresProbes, idle: Probes, loaded: Probes): string {
  const row = (label: string, p: Probes, sqlite: Probes) => [
    label,
    int(p.latencies.n),
    ms(p.latencies.p50),
    ms(p.latencies.p99),
    ms(p.latencies.max),
    int(p.missing),
    ms(sqlite.latencies.p99),
    ratio(p.latencies.p99 / sqlite.latencies.p99),
  ];
  return `
#### The same probes with the events in PostgreSQL (\`store.url\`; PostgreSQL 15, scripts/it/postgres.sh: a local throwaway cluster on a unix socket, fsync off)

${table(
  ['condition', 'probes', 'p50', 'p99', 'max', 'never visible (10 s)', 'SQLite p99 (above)', 'p99 × SQLite'],
  [row('idle', pg.idle, idle), row(`under load (wrk, 16 connections through the gateway: ${int(pg.load.rps)} requests/s)`, pg.loaded, loaded)],
)}
`;
}

export const ingest: Bench = {
  name: 'ingest',
  title: '3. Ingest',
  summary: 'events/s into the store vs raw SQLite inserts; event-to-queryable p99 under gateway load (--postgres: also the PostgreSQL store)',
  run: ingestBench,
};
