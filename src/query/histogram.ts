/**
 * GetEventHistogram: how many events match a query, per time bucket, split by Read/Write (and,
 * on request, by event name) — the volume chart of the console's Event Query.
 *
 * It takes exactly LookupEvents' filters (parsed by `parseLookup`, so a filter means the same
 * thing in the table, the chart and the export) plus `buckets` and `groupBy`, and answers with
 * one aggregate SQL query over the embedded store's `events` table. It reads the database
 * directly rather than through the `EventStore` contract because the contract has no
 * aggregation and paging every event through `lookup` to count it would be O(events) in
 * JavaScript. The PostgreSQL store counts with its own SQL and shares the rest
 * (`histogramBucketMs`, `assembleHistogram`), so both answer with the same shape.
 */
import { FlinkTrailError } from '../errors/index.js';
import type { Db } from '../store/sqlite/database.js';
import { filterSql } from '../store/sqlite/filter.js';
import type { EventFilter } from '../store/types.js';
import { parseLookup } from './lookup.js';

/** Parameters the histogram takes besides LookupEvents' filters. */
export const HISTOGRAM_PARAMETERS = ['buckets', 'groupBy'] as const;

/** LookupEvents parameters that mean nothing for an aggregate; refused so a caller never thinks they applied. */
const PAGING_PARAMETERS = ['maxResults', 'nextToken', 'direction'] as const;

export const DEFAULT_BUCKETS = 60;
export const MAX_BUCKETS = 500;
/** Event names shown separately when grouping by name; the rest are summed as `Other`. */
export const TOP_NAMES = 8;

/**
 * How the chart's stacks are split.
 * - `eventRW`: Read and Write.
 * - `eventName`: the `TOP_NAMES` most frequent event names of the range, plus `Other`.
 */
export const HISTOGRAM_GROUPS = ['eventRW', 'eventName'] as const;
export type HistogramGroup = (typeof HISTOGRAM_GROUPS)[number];

export interface HistogramBucket {
  /** Inclusive start, UTC ISO 8601. */
  start: string;
  /** Exclusive end, UTC ISO 8601 (the last bucket ends just after endTime). */
  end: string;
  Read: number;
  Write: number;
  total: number;
  /** With `groupBy=eventName`: count per name in `series`; names outside the top are `Other`. */
  names?: Record<string, number>;
}

export interface Histogram {
  startTime: string;
  endTime: string;
  bucketMs: number;
  groupBy: HistogramGroup;
  /** With `groupBy=eventName`: the names stacked, most frequent first (`Other` last when present). */
  series?: string[];
  total: number;
  buckets: HistogramBucket[];
}

export interface HistogramQuery {
  filter: EventFilter;
  buckets: number;
  groupBy: HistogramGroup;
}

/** Validates histogram parameters (LookupEvents' filters + `buckets`, `groupBy`). */
export function parseHistogram(params: Record<string, unknown>, now = Date.now()): HistogramQuery {
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(params)) {
    if ((HISTOGRAM_PARAMETERS as readonly string[]).includes(k)) continue;
    if ((PAGING_PARAMETERS as readonly string[]).includes(k)) {
      throw new FlinkTrailError('FT_ERR_QUERY_INVALID_PARAMETER', k, 'a histogram counts every matching event; it has no pages or order');
    }
    rest[k] = v;
  }
  const { filter } = parseLookup(rest, now);
  let buckets = DEFAULT_BUCKETS;
  const b = params['buckets'];
  if (b !== undefined) {
    if (typeof b !== 'string' || !/^\d{1,4}$/.test(b) || Number(b) < 1 || Number(b) > MAX_BUCKETS) {
      throw new FlinkTrailError('FT_ERR_QUERY_INVALID_PARAMETER', 'buckets', `must be an integer from 1 to ${MAX_BUCKETS}`);
    }
    buckets = Number(b);
  }
  const g = params['groupBy'] ?? 'eventRW';
  if (typeof g !== 'string' || !(HISTOGRAM_GROUPS as readonly string[]).includes(g)) {
    throw new FlinkTrailError('FT_ERR_QUERY_INVALID_PARAMETER', 'groupBy', `must be one of ${HISTOGRAM_GROUPS.join(', ')}`);
  }
  return { filter, buckets, groupBy: g as HistogramGroup };
}

/** The WHERE clause of a filter over `events e`: the store's own filter SQL, resources as EXISTS. */
export function filterWhere(f: EventFilter): { where: string; params: Record<string, unknown> } {
  const { where, params, resources } = filterSql(f);
  if (resources.length) where.push(`EXISTS (SELECT 1 FROM event_resources r INDEXED BY event_resources_seq WHERE r.seq = e.seq AND ${resources.join(' AND ')})`);
  return { where: where.join(' AND '), params };
}

/** Bucket width for a filter's range: whole milliseconds covering [startTime, endTime] (inclusive). */
export function histogramBucketMs(filter: EventFilter, buckets: number): number {
  const span = filter.endTime - filter.startTime + 1;
  return Math.max(1, Math.ceil(span / buckets));
}

/** What a store counted for a histogram: per bucket and Read/Write; with `groupBy=eventName` also the top names and per bucket and name. */
export interface HistogramCounts {
  rw: { b: number; rw: string; n: number }[];
  top?: { name: string; n: number }[];
  byName?: { b: number; name: string; n: number }[];
}

/** The histogram of a store's counts; every bucket of the range is present, empty ones as zeros. */
export function assembleHistogram(q: HistogramQuery, bucketMs: number, counts: HistogramCounts): Histogram {
  const { filter } = q;
  const span = filter.endTime - filter.startTime + 1;
  const count = Math.ceil(span / bucketMs);
  const buckets: HistogramBucket[] = [];
  for (let i = 0; i < count; i++) {
    const start = filter.startTime + i * bucketMs;
    buckets.push({ start: new Date(start).toISOString(), end: new Date(start + bucketMs).toISOString(), Read: 0, Write: 0, total: 0 });
  }
  let total = 0;
  for (const r of counts.rw) {
    const bucket = buckets[r.b];
    if (!bucket) continue;
    if (r.rw === 'Read' || r.rw === 'Write') bucket[r.rw] += r.n;
    bucket.total += r.n;
    total += r.n;
  }
  const result: Histogram = {
    startTime: new Date(filter.startTime).toISOString(),
    endTime: new Date(filter.endTime).toISOString(),
    bucketMs,
    groupBy: q.groupBy,
    total,
    buckets,
  };
  if (q.groupBy === 'eventName') {
    const top = counts.top ?? [];
    // With more than TOP_NAMES names, the last slot becomes "Other" (it and everything below).
    const shown = top.length > TOP_NAMES ? top.slice(0, TOP_NAMES).map((t) => t.name) : top.map((t) => t.name);
    const hasOther = top.length > TOP_NAMES;
    for (const bucket of buckets) bucket.names = {};
    for (const r of counts.byName ?? []) {
      const names = buckets[r.b]?.names;
      if (!names) continue;
      const key = shown.includes(r.name) ? r.name : 'Other';
      names[key] = (names[key] ?? 0) + r.n;
    }
    result.series = hasOther ? [...shown, 'Other'] : shown;
  }
  return result;
}

/** Counts matching events per bucket in the embedded store (SQLite); see assembleHistogram. */
export function eventHistogram(db: Db, q: HistogramQuery): Histogram {
  const { filter } = q;
  const bucketMs = histogramBucketMs(filter, q.buckets);
  const { where, params } = filterWhere(filter);
  // better-sqlite3 binds JS numbers as REAL: CAST keeps the division integral.
  const bucketExpr = 'CAST((e.event_time - @startTime) / @bucketMs AS INTEGER)';
  const sqlParams = { ...params, bucketMs };
  const rw = db
    .prepare(`SELECT ${bucketExpr} AS b, e.event_rw AS rw, COUNT(*) AS n FROM events e WHERE ${where} GROUP BY b, rw`)
    .all(sqlParams) as { b: number; rw: string; n: number }[];
  if (q.groupBy !== 'eventName') return assembleHistogram(q, bucketMs, { rw });
  const top = db
    .prepare(`SELECT e.event_name AS name, COUNT(*) AS n FROM events e WHERE ${where} GROUP BY name ORDER BY n DESC, name LIMIT ${TOP_NAMES + 1}`)
    .all(params) as { name: string; n: number }[];
  const byName = db
    .prepare(`SELECT ${bucketExpr} AS b, e.event_name AS name, COUNT(*) AS n FROM events e WHERE ${where} GROUP BY b, name`)
    .all(sqlParams) as { b: number; name: string; n: number }[];
  return assembleHistogram(q, bucketMs, { rw, top, byName });
}
