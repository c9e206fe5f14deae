/**
 * Sizing: bytes per event on PostgreSQL, where they go (table, TOAST, each index, eventId
 * table), and the same events' bytes in the embedded SQLite store as the baseline of the same
 * run. Two sizes, so that the per-event (marginal) cost is told apart from the fixed cost of
 * ~91 day partitions and their empty indexes: marginal = (bytes(large) − bytes(small)) /
 * (large − small). docs/reference/postgres.md turns the result into a sizing rule.
 *
 * Each size is a generated store (bench/lib/generate.ts, 90 days, cached under .it/bench/stores)
 * copied into a fresh database through `PostgresEventStore.importPositioned` (indexes kept and
 * maintained row by row, as the store does), then VACUUM ANALYZE.
 */
import pg from 'pg';
import { cachedStore } from './lib/generate.js';
import { benchPostgres, copyToPostgres } from './lib/postgres.js';
import type { Section } from './lib/report.js';
import { bytes, int, ratio, seconds as secs, table } from './lib/stats.js';
import { STORE_ROOT } from './query.js';
import { count, countLabel, type Bench, type BenchOptions } from './types.js';

/** Bytes of one database by part: the events partitions' heap and TOAST, each partitioned index, the other tables. */
interface Breakdown {
  total: number;
  parts: Map<string, number>;
  partitions: number;
}

async function breakdown(url: string): Promise<Breakdown> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const parts = new Map<string, number>();
    const q = async (sql: string) => (await client.query(sql)).rows as { part: string; b: string; n?: string }[];
    const heap = await q(`SELECT 'events (heap)' AS part, sum(pg_relation_size(c.oid)) AS b, count(*) AS n
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass`);
    const toast = await q(`SELECT 'events (TOAST)' AS part, coalesce(sum(pg_total_relation_size(c.reltoastrelid)), 0) AS b
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass AND c.reltoastrelid <> 0`);
    // Each partition's index is attached to its partitioned parent index: group by the parent's name.
    const indexes = await q(`SELECT 'index ' || p.relname AS part, sum(pg_relation_size(i.inhrelid)) AS b
      FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent WHERE p.relkind = 'I' GROUP BY p.relname`);
    const others = await q(`SELECT c.relname AS part, pg_total_relation_size(c.oid) AS b FROM pg_class c
      JOIN pg_namespace s ON s.oid = c.relnamespace
      WHERE c.relkind = 'r' AND s.nspname = current_schema() AND NOT c.relispartition`);
    for (const r of [...heap, ...toast, ...indexes, ...others]) parts.set(r.part, Number(r.b ?? 0));
    const [db] = await q(`SELECT 'db' AS part, pg_database_size(current_database()) AS b`);
    return { total: Number(db?.b ?? 0), parts, partitions: Number(heap[0]?.n ?? 0) };
  } finally {
    await client.end();
  }
}

interface SizeRow {
  n: number;
  sqliteBytes: number;
  copySeconds: number;
  pg: Breakdown;
}

async function sizingBench(o: BenchOptions): Promise<Section> {
  const startedAt = new Date();
  const t0 = Date.now();
  const sizes = (o.opts.get('sizes') ?? (o.quick ? '20k,80k' : '100k,400k')).split(',').map(count).sort((a, b) => a - b);
  if (sizes.length !== 2) throw new Error('--sizes takes two sizes, e.g. 100k,400k');
  const server = await benchPostgres();
  const rows: SizeRow[] = [];
  for (const n of sizes) {
    process.stderr.write(`sizing: ${countLabel(n)} events…\n`);
    const { dir, meta } = await cachedStore(STORE_ROOT, n);
    const copy = await copyToPostgres(server, dir, `bench_sizing_${n}`, { indexesAfter: false });
    rows.push({ n, sqliteBytes: meta.bytes, copySeconds: copy.seconds, pg: await breakdown(copy.url) });
  }
  const [small, large] = rows as [SizeRow, SizeRow];
  const span = large.n - small.n;
  const marginal = (a: number, b: number) => (b - a) / span;
  const pgPerEvent = marginal(small.pg.total, large.pg.total);
  const sqlitePerEvent = marginal(small.sqliteBytes, large.sqliteBytes);
  const names = [...new Set([...small.pg.parts.keys(), ...large.pg.parts.keys()])]
    .map((p) => ({ p, per: marginal(small.pg.parts.get(p) ?? 0, large.pg.parts.get(p) ?? 0), at: large.pg.parts.get(p) ?? 0 }))
    .filter((r) => r.at > 0)
    .sort((a, b) => b.per - a.per);
  const totals = table(
    ['events', 'PostgreSQL database', 'bytes/event (whole)', 'SQLite data directory', 'bytes/event (whole)', 'copy into PostgreSQL', 'events/s'],
    rows.map((r) => [countLabel(r.n), bytes(r.pg.total), int(r.pg.total / r.n), bytes(r.sqliteBytes), int(r.sqliteBytes / r.n), secs(r.copySeconds), int(r.n / r.copySeconds)]),
  );
  const parts = table(
    ['part', `at ${countLabel(large.n)}`, 'bytes/event (marginal)', 'share'],
    names.map((r) => [r.p, bytes(r.at), int(r.per), `${((100 * r.per) / pgPerEvent).toFixed(0)} %`]),
  );
  const body = `
${totals}

Marginal bytes per event (the growth from ${countLabel(small.n)} to ${countLabel(large.n)} events, which leaves out the fixed cost of
${large.pg.partitions} day partitions and their indexes): **PostgreSQL ${int(pgPerEvent)} B, SQLite ${int(sqlitePerEvent)} B
(the baseline), ${ratio(pgPerEvent / sqlitePerEvent)}**.

Where PostgreSQL's bytes go, by part (every day partition's part summed; \`index events_…\` is one
partitioned index over all partitions):

${parts}

Notes:
- Events are ${countLabel(large.n)} generated records over 90 days (bench/lib/generate.ts), copied through
  \`PostgresEventStore.importPositioned\` in batches of 20,000 with every index in place (the store's bulk path;
  indexes grow row by row as on a live store), then \`VACUUM ANALYZE\`; sizes are
  \`pg_relation_size\` per part and \`pg_database_size\` for the whole (the catalog included).
- Both stores keep each record deflated with the same dictionary codec (src/store/body-codec.ts):
  SQLite in \`events.body\`, PostgreSQL in \`events.body_z bytea\` (~170 B, far below TOAST's
  threshold); what PostgreSQL adds is its row overhead, wider indexes and the \`event_ids\` table.
- The sizing rule built on these numbers: [postgres.md](reference/postgres.md).
`;
  return {
    name: 'sizing',
    title: '9. PostgreSQL sizing',
    command: `npm run bench -- sizing --sizes ${sizes.map(countLabel).join(',')}`,
    startedAt,
    seconds: (Date.now() - t0) / 1000,
    body,
    goals: [{ area: 'PostgreSQL', goal: 'bytes per event, vs the SQLite store', measured: `${int(pgPerEvent)} B vs ${int(sqlitePerEvent)} B (${ratio(pgPerEvent / sqlitePerEvent)})`, met: 'info' }],
  };
}

export const sizing: Bench = {
  name: 'sizing',
  title: '9. PostgreSQL sizing',
  summary: 'bytes per event on PostgreSQL by part (table, TOAST, each index) vs the SQLite store (--sizes 100k,400k)',
  run: sizingBench,
};
