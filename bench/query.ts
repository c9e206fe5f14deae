/**
 * Query: LookupEvents over HTTP against a large realistic store (bench/lib/generate.ts), as the
 * console and `flinktrail lookup-events` call it — FlinkTrail as its own process, every query
 * authenticated and itself recorded (the auditor is audited).
 *
 * Cases: single filters and 2–3 combined, with common values (a filter that matches much of the
 * store) and rare ones (a long-tail user, job, IP), first pages and deep pages (nextToken), and
 * adversarial combinations whose filters are each common, together common or never together. Each case is
 * one connection back to back for a few seconds (wrk), rotating over several values of the same
 * kind; latency is per query. Throughput: all cases mixed over 8 connections.
 * Baseline (same run, same HTTP path): a lookup by eventId (the unique index).
 */
import { join } from 'node:path';
import type { Section } from './lib/report.js';
import { REPO } from './lib/report.js';
import { cachedStore, type Facts, type StoreMeta } from './lib/generate.js';
import { benchDir, startFlinkTrail } from './lib/servers.js';
import { benchPostgres, copyToPostgres } from './lib/postgres.js';
import { bytes, int, ms, ratio, seconds as secs, table } from './lib/stats.js';
import { wrk, type HttpRequestSpec, type WrkResult } from './lib/wrk.js';
import { count, countLabel, type Bench, type BenchOptions } from './types.js';

/** Generated stores are cached here (git-ignored with the rest of .it/); FLINKTRAIL_BENCH_STORES overrides. */
export const STORE_ROOT = process.env['FLINKTRAIL_BENCH_STORES'] ?? join(REPO, '.it', 'bench', 'stores');

export interface QueryCase {
  name: string;
  group: 'baseline' | 'single' | 'combined' | 'pages';
  /** One query string per value rotated over. */
  queries: Record<string, string>[];
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The cases, built from what the generator says is common and rare in this store. */
export function queryCases(f: Facts): QueryCase[] {
  // Every region (`region=*`): the generated events are in four regions, none of them the
  // instance's home region, which a query without `region` asks. The region cases say their own.
  const all = { startTime: iso(f.startTime), endTime: iso(f.endTime), region: '*' };
  const week = { startTime: iso(f.endTime - 7 * 24 * 3600_000), endTime: iso(f.endTime), region: '*' };
  const each = <T>(values: readonly T[], q: (v: T) => Record<string, string>) => values.map((v) => ({ ...all, ...q(v) }));
  const one = (q: Record<string, string>) => [{ ...all, ...q }];
  return [
    { name: 'eventId (unique index) — baseline', group: 'baseline', queries: f.eventIds.slice(0, 50).map((eventId) => ({ ...all, eventId })) },
    { name: 'no filter, last 7 days', group: 'single', queries: [week] },
    { name: 'no filter, 90 days', group: 'single', queries: [all] },
    { name: 'user, common', group: 'single', queries: one({ user: f.commonUser }) },
    { name: 'user, rare', group: 'single', queries: each(f.rareUsers, (user) => ({ user })) },
    { name: 'eventName, common', group: 'single', queries: one({ eventName: f.commonEventName }) },
    { name: 'eventName, rare', group: 'single', queries: each(f.rareEventNames, (eventName) => ({ eventName })) },
    { name: 'eventRW=Write', group: 'single', queries: one({ eventRW: 'Write' }) },
    { name: 'resourceName, rare job', group: 'single', queries: each(f.rareJobs, (resourceName) => ({ resourceName })) },
    { name: 'resourceName, common job', group: 'single', queries: one({ resourceName: f.commonJob }) },
    { name: 'resourceName, common cluster', group: 'single', queries: one({ resourceName: f.commonCluster }) },
    { name: 'resourceType=Jar', group: 'single', queries: one({ resourceType: 'ACS::RealtimeCompute::Jar' }) },
    { name: 'accessKeyId, rare', group: 'single', queries: each(f.rareAccessKeys, (accessKeyId) => ({ accessKeyId })) },
    { name: 'sourceIpAddress, rare', group: 'single', queries: each(f.rareIps, (sourceIpAddress) => ({ sourceIpAddress })) },
    { name: 'sensitive=true', group: 'single', queries: one({ sensitive: 'true' }) },
    { name: 'errorCode', group: 'single', queries: one({ errorCode: 'Flink.InternalServerError' }) },
    { name: 'region', group: 'single', queries: one({ region: 'us-west-1' }) },
    { name: 'cluster', group: 'single', queries: one({ cluster: f.commonCluster }) },
    { name: 'serviceName=Actiontrail', group: 'single', queries: one({ serviceName: 'Actiontrail' }) },
    { name: 'eventType=ConsoleOperation', group: 'single', queries: one({ eventType: 'ConsoleOperation' }) },
    { name: 'user common + eventName rare', group: 'combined', queries: each(f.rareEventNames, (eventName) => ({ user: f.commonUser, eventName })) },
    { name: 'user rare + eventRW=Write', group: 'combined', queries: each(f.rareUsers, (user) => ({ user, eventRW: 'Write' })) },
    { name: 'eventName common + resourceName rare job', group: 'combined', queries: each(f.rareJobs, (resourceName) => ({ eventName: f.commonEventName, resourceName })) },
    { name: 'cluster + eventRW=Write + user common', group: 'combined', queries: one({ cluster: f.commonCluster, eventRW: 'Write', user: f.commonUser }) },
    { name: 'user common + sourceIpAddress rare (no match)', group: 'combined', queries: each(f.rareIps, (sourceIpAddress) => ({ user: f.commonUser, sourceIpAddress })) },
    { name: 'region + errorCode', group: 'combined', queries: one({ region: 'us-west-1', errorCode: 'Flink.NotFound' }) },
    { name: 'eventRW=Write + sensitive + accessKeyId rare', group: 'combined', queries: each(f.rareAccessKeys, (accessKeyId) => ({ eventRW: 'Write', sensitive: 'true', accessKeyId })) },
    { name: 'eventName common + user common + region', group: 'combined', queries: one({ eventName: f.commonEventName, user: f.commonUser, region: 'cn-hangzhou' }) },
    {
      name: 'adversarial: 3 common filters, never together',
      group: 'combined',
      queries: one({ user: f.commonUser, eventName: f.commonWriteName, serviceName: 'Actiontrail' }),
    },
    // Issue 14 item 3: filters that are each common, with a common and with an empty intersection.
    { name: 'adversarial: user + eventName, each common, common together', group: 'combined', queries: one({ user: f.commonUser, eventName: f.commonEventName }) },
    {
      name: 'adversarial: user + eventName + hot job, each common, common together',
      group: 'combined',
      queries: one({ user: f.commonUser, eventName: f.commonEventName, resourceName: f.commonJob }),
    },
    {
      name: 'adversarial: user + eventName + hot job, each common, never together',
      group: 'combined',
      // GetClusterOverview (a popular read) names no job.
      queries: one({ user: f.commonUser, eventName: 'GetClusterOverview', resourceName: f.commonJob }),
    },
    { name: 'adversarial: eventName common + serviceName=Actiontrail, never together', group: 'combined', queries: one({ eventName: f.commonEventName, serviceName: 'Actiontrail' }) },
    { name: 'no filter, 200 per page', group: 'pages', queries: [{ ...all, maxResults: '200' }] },
  ];
}

async function get(apiUrl: string, auth: string, q: Record<string, string>): Promise<{ Events: unknown[]; NextToken?: string }> {
  const res = await fetch(`${apiUrl}/api/v1/events?${new URLSearchParams(q).toString()}`, { headers: { authorization: auth } });
  const body = (await res.json()) as { Events: unknown[]; NextToken?: string; Code?: string };
  if (!res.ok) throw new Error(`lookup ${JSON.stringify(q)} answered ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
  return body;
}

/** Who asks: the server's API and one principal's authorization header. */
export interface Asker {
  apiUrl: string;
  authorization: string;
}

/** Query strings for page `n` (1-based) of `q`, found by walking the pages as `ft`. */
async function deepPage(ft: Asker, q: Record<string, string>, n: number): Promise<Record<string, string>> {
  let token: string | undefined;
  for (let i = 1; i < n; i++) {
    const page = await get(ft.apiUrl, ft.authorization, token ? { ...q, nextToken: token } : q);
    if (!page.NextToken) throw new Error(`only ${i} pages for ${JSON.stringify(q)}`);
    token = page.NextToken;
  }
  return token ? { ...q, nextToken: token } : q;
}

export interface CaseResult {
  c: QueryCase;
  w: WrkResult;
  rows: number;
}

const path = (q: Record<string, string>): HttpRequestSpec => ({ method: 'GET', path: `/api/v1/events?${new URLSearchParams(q).toString()}` });

/** The cases and the deep pages, which are walked as `ft` (a nextToken is its asker's). */
export async function casesFor(ft: Asker, meta: StoreMeta, filter?: (c: QueryCase) => boolean): Promise<QueryCase[]> {
  const cases = queryCases(meta.facts).filter(filter ?? (() => true));
  const all = { startTime: iso(meta.facts.startTime), endTime: iso(meta.facts.endTime), region: '*' };
  for (const [label, n, q] of [
    ['page 20, no filter', 20, all],
    ['page 100, no filter', 100, all],
    ['page 20, user common', 20, { ...all, user: meta.facts.commonUser }],
  ] as const) {
    const c: QueryCase = { name: `${label} (nextToken)`, group: 'pages', queries: [await deepPage(ft, q, n)] };
    if (!filter || filter(c)) cases.push(c);
  }
  return cases;
}

const wrkTarget = (ft: Asker) => ({ origin: new URL(ft.apiUrl).origin, headers: { authorization: ft.authorization } });

/** Warm-up: the page cache and FlinkTrail's JIT, as a running server has them. */
export async function warmUp(ft: Asker, cases: QueryCase[], seconds = 5): Promise<void> {
  await wrk({ ...wrkTarget(ft), requests: cases.flatMap((c) => c.queries.map(path)), connections: 2, seconds });
}

/** One case: one connection back to back for `seconds`, rotating over its queries. */
export async function measureCase(ft: Asker, c: QueryCase, seconds: number): Promise<CaseResult> {
  let rows = 0;
  for (const q of c.queries) rows += (await get(ft.apiUrl, ft.authorization, q)).Events.length;
  const w = await wrk({ ...wrkTarget(ft), requests: c.queries.map(path), connections: 1, seconds });
  if (w.non2xx || w.socketErrors) throw new Error(`${c.name}: ${w.non2xx} non-2xx answers, ${w.socketErrors} socket errors`);
  return { c, w, rows: rows / c.queries.length };
}

/** Every case mixed over 8 connections. */
export function measureMix(ft: Asker, cases: QueryCase[], seconds: number): Promise<WrkResult> {
  return wrk({ ...wrkTarget(ft), requests: cases.flatMap((c) => c.queries.map(path)), connections: 8, seconds });
}

/** Runs the cases against a FlinkTrail serving `store`; returns per-case results and the mixed throughput. */
export async function measureQueries(
  dir: string,
  meta: StoreMeta,
  o: { caseSeconds: number; mixSeconds: number; filter?: (c: QueryCase) => boolean; storeUrl?: string },
): Promise<{ results: CaseResult[]; mix: WrkResult }> {
  // With a store URL the events are in PostgreSQL; the server gets a data directory of its own
  // (the generated one holds SQLite events and would refuse another event store).
  const ft = o.storeUrl
    ? await startFlinkTrail({ dataDir: benchDir('pg-query'), set: ['store.retentionDays=36500'], storeUrl: o.storeUrl, user: 'bench-auditor' })
    : await startFlinkTrail({ dataDir: dir, set: ['store.retentionDays=36500'], user: 'bench-auditor' });
  try {
    const cases = await casesFor(ft, meta, o.filter);
    await warmUp(ft, cases);
    const results: CaseResult[] = [];
    for (const c of cases) {
      process.stderr.write(`query: ${c.name}…\n`);
      results.push(await measureCase(ft, c, o.caseSeconds));
    }
    process.stderr.write('query: all cases mixed, 8 connections…\n');
    const mix = await measureMix(ft, cases, o.mixSeconds);
    return { results, mix };
  } finally {
    await ft.stop();
  }
}

export function caseTable(results: CaseResult[]): string {
  const base = results.find((r) => r.c.group === 'baseline');
  return table(
    ['case', 'rows', 'p50', 'p99', 'max', 'queries/s (1 conn)', 'p99 × baseline', '≤ 50 ms'],
    results.map((r) => [
      r.c.name,
      r.rows.toFixed(0),
      ms(r.w.p50),
      ms(r.w.p99),
      ms(r.w.max),
      int(r.w.rps),
      base ? ratio(r.w.p99 / base.w.p99) : '–',
      r.w.p99 <= 50 ? 'yes' : '**no**',
    ]),
  );
}

async function queryBench(o: BenchOptions): Promise<Section> {
  const startedAt = new Date();
  const t0 = Date.now();
  const n = count(o.opts.get('events') ?? '10M');
  const { dir, meta, cached } = await cachedStore(STORE_ROOT, n, o.opts.get('fresh') === 'true');
  const { results, mix } = await measureQueries(dir, meta, { caseSeconds: o.quick ? 1 : 3, mixSeconds: o.quick ? 4 : 10 });
  const slow = results.filter((r) => r.w.p99 > 50);
  const worst = results.reduce((a, b) => (b.w.p99 > a.w.p99 ? b : a));
  const pgSection = o.opts.has('postgres') ? await postgresRows(dir, meta, n, results, mix, o) : '';
  const body = `
Store: ${int(n)} generated events over 90 days (${bytes(meta.bytes)} on disk, ${(meta.bytes / n).toFixed(0)} bytes/event),
generated through \`SqliteEventStore.append\` in ${secs(meta.seconds)} (${int(n / meta.seconds)} events/s)${cached ? ` on ${meta.generatedAt.slice(0, 10)} (cached in .it/bench/stores; \`--fresh true\` regenerates)` : ' in this run'}.
Time range: all 90 days unless the case says otherwise; 50 events per page unless it says otherwise.
"Rare" cases rotate over several long-tail values; "rows" is the average page size returned.

${caseTable(results)}

**Throughput**, all ${results.length} cases mixed over 8 connections for ${o.quick ? 4 : 10} s: **${int(mix.rps)} queries/s**,
p50 ${ms(mix.p50)}, p99 ${ms(mix.p99)}${mix.non2xx ? `, ${mix.non2xx} non-2xx answers` : ''}.

Notes:
- Latency is measured by wrk at the client: HTTP, authentication, the query, JSON encoding of
  the page, and recording the LookupEvents call itself as an event.
- wrk, FlinkTrail and SQLite share the 2 cores; the mixed-throughput run is CPU-bound on them.
- The p50s show what a query costs. The p99s are mostly FlinkTrail's single event loop being
  held by other work between queries: committing the events it records (every LookupEvents
  call is one), which better-sqlite3 does synchronously — on a large store each batch's index
  updates and WAL checkpoints take milliseconds, now and then far longer. Committing off the
  event loop would lower them; the queries themselves would not change.
${slow.length ? `- Over the 50 ms goal: ${slow.map((r) => `${r.c.name} (p99 ${ms(r.w.p99)})`).join('; ')}.` : '- Every case is within the 50 ms goal.'}
${pgSection}`;
  return {
    name: 'query',
    title: '2. Query',
    command: `npm run bench -- query --events ${countLabel(n)}`,
    startedAt,
    seconds: (Date.now() - t0) / 1000,
    body,
    goals: [
      {
        area: `Query (${countLabel(n)} events)`,
        goal: 'p99 ≤ 50 ms, any combination',
        measured: slow.length ? `${slow.length} of ${results.length} cases over; worst ${worst.c.name}: ${ms(worst.w.p99)}` : `all ${results.length} cases; worst ${ms(worst.w.p99)}`,
        met: slow.length === 0,
      },
      { area: `Query (${countLabel(n)} events)`, goal: '≥ 500 queries/s', measured: `${int(mix.rps)} queries/s (mixed cases, 8 connections)`, met: mix.rps >= 500 },
      ...(n < 10_000_000
        ? [{ area: 'Query (10M events)', goal: 'goals at 10M events', measured: `run at ${countLabel(n)} only; see Scaling for larger stores`, met: undefined }]
        : []),
    ],
  };
}

/**
 * `--postgres`: the same cases against the PostgreSQL event store (`store.url`) holding a copy
 * of the same events, each as a ratio to the SQLite row of this run.
 */
async function postgresRows(dir: string, meta: StoreMeta, n: number, sqlite: CaseResult[], sqliteMix: WrkResult, o: BenchOptions): Promise<string> {
  const server = await benchPostgres();
  process.stderr.write(`query: copying ${int(n)} events into PostgreSQL…\n`);
  const copy = await copyToPostgres(server, dir, `bench_query_${n}`, { events: n });
  const { results, mix } = await measureQueries(dir, meta, { caseSeconds: o.quick ? 1 : 3, mixSeconds: o.quick ? 4 : 10, storeUrl: copy.url });
  const bySqlite = new Map(sqlite.map((r) => [r.c.name, r]));
  const rows = table(
    ['case', 'rows', 'p50', 'p99', 'SQLite p99', 'p99 × SQLite', '≤ 50 ms'],
    results.map((r) => {
      const s = bySqlite.get(r.c.name);
      return [r.c.name, r.rows.toFixed(0), ms(r.w.p50), ms(r.w.p99), s ? ms(s.w.p99) : '–', s ? ratio(r.w.p99 / s.w.p99) : '–', r.w.p99 <= 50 ? 'yes' : '**no**'];
    }),
  );
  const slow = results.filter((r) => r.w.p99 > 50);
  return `
### PostgreSQL event store (\`--store\`), same events, same run

PostgreSQL 15 (scripts/it/postgres.sh: a local throwaway cluster on a unix socket, fsync off, 128 MB
shared_buffers) holding a copy of the same ${int(n)} events (${bytes(copy.bytes)} database). ${
    Number.isNaN(copy.seconds)
      ? 'The copy was one kept from an earlier run (FLINKTRAIL_BENCH_KEEP_PG).'
      : `The copy (bench/lib/postgres.ts: \`PostgresEventStore.importPositioned\` in batches of 20,000 with the secondary
indexes dropped, then built again, then VACUUM ANALYZE) took ${secs(copy.seconds)} (${int(n / copy.seconds)} events/s, of which
${secs(copy.indexSeconds)} building indexes): it prepares data and is not an ingest rate — that is section 3.`
  }
FlinkTrail with \`store.url\`, the same cases, the same HTTP path. "p99 × SQLite" compares with the table above.

${rows}

Mixed, 8 connections: **${int(mix.rps)} queries/s** against SQLite's ${int(sqliteMix.rps)} above (${ratio(mix.rps / sqliteMix.rps)}), p50 ${ms(mix.p50)}, p99 ${ms(mix.p99)}.
${slow.length ? `Over the 50 ms goal on PostgreSQL: ${slow.map((r) => `${r.c.name} (p99 ${ms(r.w.p99)})`).join('; ')}.` : 'Every case is within the 50 ms goal on PostgreSQL too.'}
`;
}

export const query: Bench = {
  name: 'query',
  title: '2. Query',
  summary: 'LookupEvents p50/p99 and queries/s over HTTP on a generated store (--events 1M|3M|10M; --postgres: also on the PostgreSQL store)',
  run: queryBench,
};
