/**
 * GetEventHistogram on the embedded store: aggregate SQL over `events` (query/histogram.ts has
 * the parameters, bucket width and answer shape that every store shares).
 */
import { assembleHistogram, histogramBucketMs, TOP_NAMES, type Histogram, type HistogramQuery } from '../../query/histogram.js';
import type { EventFilter } from '../types.js';
import type { Db } from './database.js';
import { filterSql } from './filter.js';
import { valueTextSql } from './values.js';

/** The WHERE clause of a filter over `events e`: the store's own filter SQL, resources as EXISTS. */
export function filterWhere(f: EventFilter): { where: string; params: Record<string, unknown> } {
  const { where, params, resourcesOfEvent } = filterSql(f);
  if (resourcesOfEvent.length) where.push(`EXISTS (SELECT 1 FROM event_resources r INDEXED BY event_resources_seq WHERE r.seq = e.seq AND ${resourcesOfEvent.join(' AND ')})`);
  return { where: where.join(' AND '), params };
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
    .prepare(`SELECT ${valueTextSql('e.name_id')} AS name, COUNT(*) AS n FROM events e WHERE ${where} GROUP BY e.name_id ORDER BY n DESC, name LIMIT ${TOP_NAMES + 1}`)
    .all(params) as { name: string; n: number }[];
  const byName = db
    .prepare(`SELECT ${bucketExpr} AS b, ${valueTextSql('e.name_id')} AS name, COUNT(*) AS n FROM events e WHERE ${where} GROUP BY b, e.name_id`)
    .all(sqlParams) as { b: number; name: string; n: number }[];
  return assembleHistogram(q, bucketMs, { rw, top, byName });
}
