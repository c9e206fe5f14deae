/**
 * GetEventHistogram: how many events match a query, per time bucket, split by Read/Write (and,
 * on request, by event name) — the volume chart of the console's Event Query.
 *
 * It takes exactly LookupEvents' filters (parsed by `parseLookup`, so a filter means the same
 * thing in the table, the chart and the export) plus `buckets` and `groupBy`, and answers with
 * one aggregate SQL query per count in the store (`EventStore.histogram`: the embedded store's
 * in store/sqlite/histogram.ts, PostgreSQL's in its events store) rather than paging every
 * event through `lookup` to count it, which would be O(events) in JavaScript. This module is
 * what both share: the parameters, the bucket width (`histogramBucketMs`) and the answer's shape
 * (`assembleHistogram`).
 */
import { FlinkTrailError } from '../errors/index.js';
import type { EventFilter } from '../store/types.js';
import { parseLookup, type QueryScope } from './lookup.js';

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
export function parseHistogram(params: Record<string, unknown>, now = Date.now(), scope: QueryScope = {}): HistogramQuery {
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(params)) {
    if ((HISTOGRAM_PARAMETERS as readonly string[]).includes(k)) continue;
    if ((PAGING_PARAMETERS as readonly string[]).includes(k)) {
      throw new FlinkTrailError('FT_ERR_QUERY_INVALID_PARAMETER', k, 'a histogram counts every matching event; it has no pages or order');
    }
    rest[k] = v;
  }
  const { filter } = parseLookup(rest, now, scope);
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
