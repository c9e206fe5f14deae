/**
 * Scaling: how store size, generation (bulk ingest) speed and query latency change from 1M to
 * 3M to 10M events. Each size is a generated store (bench/lib/generate.ts, cached under
 * .it/bench/stores), queried over HTTP with a representative subset of the query benchmark's
 * cases. Baseline per size: the eventId lookup in the same run; across sizes, the smallest.
 */
import type { Section } from './lib/report.js';
import { cachedStore } from './lib/generate.js';
import { bytes, int, ms, ratio, seconds as secs, table } from './lib/stats.js';
import { measureQueries, STORE_ROOT, type CaseResult, type QueryCase } from './query.js';
import { count, countLabel, type Bench, type BenchOptions } from './types.js';

const CASES = [
  'eventId (unique index) — baseline',
  'no filter, 90 days',
  'user, rare',
  'resourceName, rare job',
  'sourceIpAddress, rare',
  'user common + eventName rare',
  'eventName common + resourceName rare job',
  'cluster + eventRW=Write + user common',
  'adversarial: 3 common filters, never together',
  'adversarial: user + eventName + hot job, each common, common together',
  'adversarial: user + eventName + hot job, each common, never together',
  'page 100, no filter (nextToken)',
];

interface SizeResult {
  n: number;
  genSeconds: number;
  bytes: number;
  cached: boolean;
  results: CaseResult[];
  mixRps: number;
}

async function scalingBench(o: BenchOptions): Promise<Section> {
  const startedAt = new Date();
  const t0 = Date.now();
  const sizes = (o.opts.get('sizes') ?? '1M,3M,10M').split(',').map(count);
  const fresh = o.opts.get('fresh') === 'true';
  const out: SizeResult[] = [];
  for (const n of sizes) {
    process.stderr.write(`scaling: ${countLabel(n)} events…\n`);
    const { dir, meta, cached } = await cachedStore(STORE_ROOT, n, fresh);
    const { results, mix } = await measureQueries(dir, meta, {
      caseSeconds: o.quick ? 1 : 3,
      mixSeconds: o.quick ? 4 : 10,
      filter: (c: QueryCase) => CASES.includes(c.name),
    });
    out.push({ n, genSeconds: meta.seconds, bytes: meta.bytes, cached, results, mixRps: mix.rps });
  }
  const first = out[0] as SizeResult;
  const p99 = (s: SizeResult, name: string) => s.results.find((r) => r.c.name === name)?.w.p99 ?? NaN;
  const sizeTable = table(
    ['events', 'on disk', 'bytes/event', 'generation', 'events/s (bulk, via store)', 'mixed queries/s', 'queries/s × smallest'],
    out.map((s) => [
      countLabel(s.n),
      bytes(s.bytes),
      int(s.bytes / s.n),
      secs(s.genSeconds),
      int(s.n / s.genSeconds),
      int(s.mixRps),
      ratio(s.mixRps / first.mixRps),
    ]),
  );
  const caseTable = table(
    ['case (p99)', ...out.map((s) => countLabel(s.n)), `× at ${countLabel((out[out.length - 1] as SizeResult).n)} vs ${countLabel(first.n)}`],
    CASES.map((name) => [name, ...out.map((s) => ms(p99(s, name))), ratio(p99(out[out.length - 1] as SizeResult, name) / p99(first, name))]),
  );
  const largest = out[out.length - 1] as SizeResult;
  const over = largest.results.filter((r) => r.w.p99 > 50);
  const body = `
${sizeTable}

Query p99 over HTTP (one connection, ${o.quick ? 1 : 3} s per case; the full case list is in Query):

${caseTable}

Notes:
- Generation is the bulk path (\`SqliteEventStore.append\`, 20,000 events per commit,
  \`synchronous: normal\`), on stores that ${out.some((s) => s.cached) ? 'were partly generated in an earlier run and cached (times are from that run)' : 'were generated in this run'}.
- Bytes per event are the whole data directory's (\`flinktrail.db\` after a checkpoint) over its
  events: the record (deflated with the store's dictionary, ~170 B), the filtered columns (short
  repeated values as ids into \`event_values\`, a UUID eventId as 16 bytes: migration 16), the
  indexes over them, and the resource references (each name stored once).
${over.length ? `- Over 50 ms at ${countLabel(largest.n)}: ${over.map((r) => `${r.c.name} (${ms(r.w.p99)})`).join('; ')}.` : `- Every case is within 50 ms at ${countLabel(largest.n)}.`}
`;
  return {
    name: 'scaling',
    title: '5. Scaling',
    command: `npm run bench -- scaling --sizes ${sizes.map(countLabel).join(',')}`,
    startedAt,
    seconds: (Date.now() - t0) / 1000,
    body,
    goals: [
      {
        area: 'Scaling',
        goal: 'curves at 1M / 3M / 10M',
        measured: `measured at ${out.map((s) => countLabel(s.n)).join(' / ')}`,
        met: [1e6, 3e6, 1e7].every((n) => out.some((s) => s.n === n)) ? true : undefined,
      },
      {
        area: 'Scaling',
        goal: '≤ 600 stored bytes per event at 10M events',
        measured: `${int(largest.bytes / largest.n)} B/event at ${countLabel(largest.n)} (${bytes(largest.bytes)})`,
        met: largest.n >= 1e7 ? largest.bytes / largest.n <= 600 : undefined,
      },
    ],
  };
}

export const scaling: Bench = {
  name: 'scaling',
  title: '5. Scaling',
  summary: 'store size, bulk ingest and query p99 at 1M / 3M / 10M events (--sizes 1M,3M,10M)',
  run: scalingBench,
};
