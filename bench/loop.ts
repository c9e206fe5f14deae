/**
 * The request thread under query and ingest load: does an auditor's query, or a bulk ingest,
 * stall the Flink operations that go through the gateway?
 *
 * FlinkTrail (own process) in front of a real Flink, on a store of realistic events
 * (bench/lib/generate.ts, 200k by default). A separate process (the fixed-rate client) sends
 * `GET /overview` through the gateway at 50 requests/s and times each answer. Two phases:
 *
 * - idle: nothing else runs (the baseline, same run, same store);
 * - loaded: at the same time, three clients run a three-filter LookupEvents (a common user, a
 *   common event name, a hot job) back to back, and one ingests 5,000-record batches through
 *   `POST /api/v1/events` back to back.
 *
 * Besides the gateway latency, the event-loop delay of FlinkTrail's main thread over each phase
 * is read from its own `/metrics` (prom-client's `monitorEventLoopDelay`, reset at every scrape,
 * so a scrape at the start and one at the end of a phase bracket it). The histogram samples
 * every `RESOLUTION_MS` and records the whole interval between samples, so the delay is the
 * recorded value minus the resolution.
 */
import { cpSync } from 'node:fs';
import { cachedStore, Generator, makeWorld, type Facts } from './lib/generate.js';
import { rate, type RateResult } from './lib/rate.js';
import type { Section } from './lib/report.js';
import { benchDir, benchFlink, startFlinkTrail, type FlinkTrailChild } from './lib/servers.js';
import { benchPostgres, copyToPostgres } from './lib/postgres.js';
import { int, ms, ratio, table } from './lib/stats.js';
import { STORE_ROOT } from './query.js';
import { count, countLabel, type Bench, type BenchOptions } from './types.js';

/** prom-client's default `eventLoopMonitoringPrecision` (src/telemetry/metrics.ts does not change it). */
const RESOLUTION_MS = 10;

interface LoopDelay {
  p50: number;
  p99: number;
  max: number;
}

/** Reads the main thread's event-loop delay since the previous scrape (ms, resolution taken off). */
async function scrapeLoop(ft: FlinkTrailChild): Promise<LoopDelay> {
  const res = await fetch(`${ft.apiUrl}/metrics`, { headers: { authorization: ft.authorization } });
  if (!res.ok) throw new Error(`/metrics answered ${res.status}`);
  const text = await res.text();
  const read = (name: string) => {
    const m = new RegExp(`^flinktrail_process_nodejs_eventloop_lag_${name}_seconds(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
    if (!m) throw new Error(`no eventloop_lag_${name} in /metrics`);
    return Math.max(0, Number(m[1]) * 1000 - RESOLUTION_MS);
  };
  return { p50: read('p50'), p99: read('p99'), max: read('max') };
}

interface Load {
  queries: number;
  queryMs: number[];
  ingested: number;
  batches: number;
  errors: number;
  firstError?: string;
}

/** Runs the query and ingest clients until `stop` resolves. */
async function heavyLoad(ft: FlinkTrailChild, f: Facts, stop: Promise<void>, batch: number, kinds: ReadonlySet<string>): Promise<Load> {
  let done = false;
  void stop.then(() => (done = true));
  const load: Load = { queries: 0, queryMs: [], ingested: 0, batches: 0, errors: 0 };
  const fail = (what: string) => {
    load.errors++;
    load.firstError ??= what;
  };
  const q = new URLSearchParams({
    startTime: new Date(f.startTime).toISOString(),
    endTime: new Date(f.endTime + 3600_000).toISOString(),
    user: f.commonUser,
    eventName: f.commonEventName,
    resourceName: f.commonJob,
    maxResults: '50',
    // Every region: the generated events are in four, none of them the home region.
    region: '*',
  }).toString();
  const querier = async () => {
    while (!done) {
      const t = performance.now();
      const res = await fetch(`${ft.apiUrl}/api/v1/events?${q}`, { headers: { authorization: ft.authorization } }).catch((e: Error) => e);
      if (res instanceof Error) fail(res.message);
      else {
        await res.arrayBuffer();
        if (res.ok) {
          load.queries++;
          load.queryMs.push(performance.now() - t);
        } else fail(`LookupEvents ${res.status}`);
      }
    }
  };
  const gen = new Generator(makeWorld(7), 4242);
  const ingester = async () => {
    let i = 0;
    while (!done) {
      const now = Date.now();
      const lines: string[] = [];
      for (let k = 0; k < batch; k++, i++) lines.push(JSON.stringify(gen.event(now - 60_000 + (k % 60_000), i)));
      const res = await fetch(`${ft.apiUrl}/api/v1/events`, {
        method: 'POST',
        headers: { authorization: ft.authorization, 'content-type': 'application/x-ndjson' },
        body: lines.join('\n'),
      }).catch((e: Error) => e);
      if (res instanceof Error) fail(res.message);
      else {
        const text = await res.text();
        if (res.ok) {
          load.ingested += batch;
          load.batches++;
        } else fail(`ingest ${res.status}: ${text.slice(0, 200)}`);
      }
    }
  };
  await Promise.all([...(kinds.has('queries') ? [querier(), querier(), querier()] : []), ...(kinds.has('ingest') ? [ingester()] : [])]);
  return load;
}

async function loopBench(o: BenchOptions): Promise<Section> {
  const startedAt = new Date();
  const t0 = Date.now();
  const n = count(o.opts.get('events') ?? '200k');
  const seconds = o.quick ? 10 : 30;
  const batch = Number(o.opts.get('batch') ?? 5000);
  const readers = o.opts.get('readers');
  // --load queries|ingest|queries,ingest (default both): to see which load costs the main thread what.
  const kinds = new Set((o.opts.get('load') ?? 'queries,ingest').split(','));

  const { dir: cached, meta } = await cachedStore(STORE_ROOT, n);
  const flink = await benchFlink();
  const profileArgs = o.opts.get('cpu-prof-dir') ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${o.opts.get('cpu-prof-dir')}`] } : {};
  // The loaded phases ingest into the store: each FlinkTrail works on a copy so the cached one
  // stays as generated. The second, for comparison in the same run, runs its query and ingest
  // threads at the request thread's priority (nice 0) instead of the default nice 10.
  const start = async (name: string, set: string[], profile: boolean) => {
    const dataDir = benchDir(name);
    cpSync(cached, dataDir, { recursive: true });
    return startFlinkTrail({
      dataDir,
      flinkUrl: flink.restUrl,
      set: ['store.retentionDays=36500', ...(readers ? [`store.readers=${readers}`] : []), ...set],
      user: 'bench-auditor',
      ...(profile ? profileArgs : {}),
    });
  };
  // --postgres: the loaded phase again on the PostgreSQL store (its own copy of the same events
  // for each FlinkTrail, since the phase ingests), lookups on reader threads (the default) and on
  // the request thread (store.readers=0).
  const startPostgres = async (name: string, set: string[]) => {
    const copy = await copyToPostgres(await benchPostgres(), cached, `bench_loop_${name.replaceAll('-', '_')}`, { events: meta.events });
    return startFlinkTrail({ dataDir: benchDir(name), flinkUrl: flink.restUrl, storeUrl: copy.url, set: ['store.retentionDays=36500', ...set], user: 'bench-auditor' });
  };
  const ft = await start('loop', [], true);
  let flat: FlinkTrailChild | undefined;
  const pg: FlinkTrailChild[] = [];
  try {
    flat = await start('loop-flat', ['store.readerNice=0', 'ingest.threadNice=0'], false);
    const probe = (target: FlinkTrailChild, s: number) =>
      rate({ origin: new URL(target.apiUrl).origin, headers: { authorization: target.authorization }, rate: 50, seconds: s, requests: [{ method: 'GET', path: '/flink/default/overview', kind: 'overview' }], connections: 4 });
    process.stderr.write('loop: warm-up…\n');
    await probe(ft, 3);
    await probe(flat, 3);

    process.stderr.write(`loop: idle, ${seconds} s…\n`);
    await scrapeLoop(ft);
    const idle = await probe(ft, seconds);
    const idleLoop = await scrapeLoop(ft);

    const loadedPhase = async (target: FlinkTrailChild): Promise<Phase> => {
      process.stderr.write(`loop: loaded (3 LookupEvents clients + ${batch}-record ingest), ${seconds} s…\n`);
      await scrapeLoop(target);
      let release!: () => void;
      const stop = new Promise<void>((r) => (release = r));
      const heavy = heavyLoad(target, meta.facts, stop, batch, kinds);
      const r = await probe(target, seconds);
      const l = await scrapeLoop(target);
      release();
      return { probe: r, loop: l, load: await heavy };
    };
    const { probe: loaded, loop: loadedLoop, load } = await loadedPhase(ft);
    const flatRun = await loadedPhase(flat);
    let pgRuns: { threads: Phase; here: Phase } | undefined;
    if (o.opts.has('postgres')) {
      process.stderr.write(`loop: copying ${countLabel(meta.events)} events into PostgreSQL twice…\n`);
      const threads = await startPostgres('loop-pg-threads', []);
      pg.push(threads);
      const here = await startPostgres('loop-pg-here', ['store.readers=0']);
      pg.push(here);
      await probe(threads, 3);
      await probe(here, 3);
      pgRuns = { threads: await loadedPhase(threads), here: await loadedPhase(here) };
    }

    const row = (name: string, r: RateResult, l: LoopDelay) => [
      name,
      int(r.completed),
      ms(r.byKind['overview']?.p50 ?? NaN),
      ms(r.byKind['overview']?.p99 ?? NaN),
      ms(r.byKind['overview']?.max ?? NaN),
      ms(l.p50),
      ms(l.p99),
      ms(l.max),
    ];
    const p99 = (r: RateResult) => r.byKind['overview']?.p99 ?? NaN;
    const quantile = (l: Load) => {
      const sorted = [...l.queryMs].sort((a, b) => a - b);
      return (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
    };
    const qp = quantile(load);
    const fq = quantile(flatRun.load);
    const body = `
Store: ${countLabel(meta.events)} generated events (seed ${meta.seed}). FlinkTrail runs as its own
process (\`flinktrail serve\`, defaults${readers ? `, store.readers=${readers}` : ''}); the overview
probe is a separate process at 50 requests/s (open loop); each phase ${seconds} s.

${table(
  ['phase', 'overviews', 'overview p50', 'overview p99', 'overview max', 'loop delay p50', 'loop delay p99', 'loop delay max'],
  [
    row('idle', idle, idleLoop),
    row('loaded', loaded, loadedLoop),
    row('loaded, query and ingest threads at nice 0', flatRun.probe, flatRun.loop),
    ...(pgRuns
      ? [
          row('loaded, PostgreSQL store, lookups on reader threads', pgRuns.threads.probe, pgRuns.threads.loop),
          row('loaded, PostgreSQL store, lookups on the request thread (store.readers=0)', pgRuns.here.probe, pgRuns.here.loop),
        ]
      : []),
  ],
)}

Load during the loaded phase: ${int(load.queries)} LookupEvents (user + eventName + resourceName,
p50 ${ms(qp(0.5))}, p99 ${ms(qp(0.99))}, ${int(load.queries / seconds)}/s over three clients) and
${int(load.ingested)} events ingested in ${int(load.batches)} batches of ${int(batch)}
(${int(load.ingested / seconds)} events/s)${load.errors ? `; ${int(load.errors)} errors, first: ${load.firstError}` : ''}.

Loaded ÷ idle, overview p99: ${ratio(p99(loaded) / p99(idle))}.

The last row is the same load on a second FlinkTrail (same store, same settings) whose reader
and ingest threads run at the request thread's priority (\`store.readerNice=0\`,
\`ingest.threadNice=0\`; the defaults are 10): ${int(flatRun.load.queries)} LookupEvents (p50
${ms(fq(0.5))}, p99 ${ms(fq(0.99))}) and ${int(flatRun.load.ingested)} events ingested${flatRun.load.errors ? `; ${int(flatRun.load.errors)} errors, first: ${flatRun.load.firstError}` : ''}.
Overview p99 at nice 0 ÷ default: ${ratio(p99(flatRun.probe) / p99(loaded))}; loop delay p99 ${ratio(flatRun.loop.p99 / loadedLoop.p99)}.
${pgRuns ? postgresParagraph(pgRuns, seconds, p99) : ''}
Notes:
- Loop delay: the main thread's \`monitorEventLoopDelay\` from FlinkTrail's own /metrics
  (sampled every ${RESOLUTION_MS} ms; the resolution is taken off the recorded intervals).
- One 2-core machine runs Flink, FlinkTrail (its main thread and its store threads), the probe
  and the load clients: the query and ingest work competes with the gateway for CPU, which is
  what the loaded overview latency shows beyond the event-loop delay.
`;
    const okLoop = loadedLoop.p99 <= 2 && loadedLoop.max <= 20;
    return {
      name: 'loop',
      title: '8. The request thread under query and ingest load',
      command: 'npm run bench -- loop',
      startedAt,
      seconds: (Date.now() - t0) / 1000,
      body,
      goals: [
        {
          area: 'Gateway',
          goal: 'main-thread event-loop delay under query + ingest load: p99 ≤ 2 ms, max ≤ 20 ms',
          measured: `p99 ${ms(loadedLoop.p99)}, max ${ms(loadedLoop.max)} (idle: p99 ${ms(idleLoop.p99)}, max ${ms(idleLoop.max)})`,
          met: okLoop,
        },
      ],
    };
  } finally {
    await Promise.all([ft.stop(), flat?.stop(), ...pg.map((p) => p.stop())]);
  }
}

interface Phase {
  probe: RateResult;
  loop: LoopDelay;
  load: Load;
}

/** What the two PostgreSQL rows say: the same load, lookups on reader threads and on the request thread. */
function postgresParagraph(r: { threads: Phase; here: Phase }, seconds: number, p99: (r: RateResult) => number): string {
  const loadLine = (l: Load) =>
    `${int(l.queries)} LookupEvents (${int(l.queries / seconds)}/s) and ${int(l.ingested)} events ingested${l.errors ? `; ${int(l.errors)} errors, first: ${l.firstError}` : ''}`;
  return `
The PostgreSQL rows (\`--postgres\`): the same loaded phase on two more FlinkTrails with
\`store.url\`, each on its own copy of the same events in PostgreSQL 15 (scripts/it/postgres.sh),
one answering lookups on its \`store.readers\` threads (the default, 2) and one on the request
thread (\`store.readers=0\`, as every PostgreSQL lookup ran before the reader threads): threads
${loadLine(r.threads.load)}; request thread ${loadLine(r.here.load)}. Request thread ÷ threads:
overview p99 ${ratio(p99(r.here.probe) / p99(r.threads.probe))}, loop delay p99 ${ratio(r.here.loop.p99 / r.threads.loop.p99)}, max ${ratio(r.here.loop.max / r.threads.loop.max)}.
`;
}

export const loop: Bench = {
  name: 'loop',
  title: '8. The request thread under query and ingest load',
  summary: 'gateway /overview latency and main-thread event-loop delay while LookupEvents and bulk ingest run (--postgres: also on the PostgreSQL store, lookups on reader threads and on the request thread)',
  run: loopBench,
};
