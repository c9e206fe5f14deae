/**
 * ExportEvents: every event matching a LookupEvents query, as CSV or JSON, streamed.
 *
 * There is no row cap (ActionTrail's console exports at most 10,000 rows): the export walks the
 * store page by page through the `EventStore` contract with a cursor, so memory stays flat
 * however many events match, and the HTTP response applies backpressure — a slow client slows
 * the walk, it does not make the server buffer. The time range is fixed when the export starts
 * (a defaulted `endTime` is "now" once), so events arriving meanwhile do not join half-way.
 *
 * CSV cells that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, carriage return
 * first) are prefixed with `'`: user names and error messages come from the caller, and an audit
 * export must not become an attack on the analyst who opens it (OWASP "CSV injection").
 */
import { FlinkTrailError } from '../errors/index.js';
import type { ActionTrailEvent } from '../event/types.js';
import type { Cursor, EventStore } from '../store/types.js';
import { parseLookup, type LookupQuery, type QueryScope } from './lookup.js';

/** The export formats. `csv`: one row per event, `CSV_COLUMNS`; `json`: a JSON array of full records. */
export const EXPORT_FORMATS = ['csv', 'json'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** CSV columns, in order (documented in docs/reference/console.md). */
export const CSV_COLUMNS = [
  'eventTime',
  'eventId',
  'eventName',
  'eventRW',
  'eventType',
  'userName',
  'accessKeyId',
  'sourceIpAddress',
  'resources',
  'outcome',
  'errorCode',
  'region',
  'cluster',
] as const;

/** Events read from the store per page while exporting. */
export const EXPORT_PAGE_SIZE = 500;

export interface ExportQuery {
  query: LookupQuery;
  format: ExportFormat;
}

/** Validates an export request: LookupEvents' filters (and `direction`) plus `format`. */
export function parseExport(params: Record<string, unknown>, now = Date.now(), scope: QueryScope = {}): ExportQuery {
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(params)) {
    if (k === 'format') continue;
    if (k === 'maxResults' || k === 'nextToken') {
      throw new FlinkTrailError('FT_ERR_QUERY_INVALID_PARAMETER', k, 'an export returns every matching event; it has no pages');
    }
    rest[k] = v;
  }
  const f = params['format'] ?? 'csv';
  if (typeof f !== 'string' || !(EXPORT_FORMATS as readonly string[]).includes(f)) {
    throw new FlinkTrailError('FT_ERR_QUERY_INVALID_PARAMETER', 'format', `must be one of ${EXPORT_FORMATS.join(', ')}`);
  }
  const query = parseLookup(rest, now, scope);
  return { query, format: f as ExportFormat };
}

/** `ACS::RealtimeCompute::Job=8c4e…; ACS::RealtimeCompute::Cluster=default` — type=name pairs. */
export function resourcesCell(e: ActionTrailEvent): string {
  const out: string[] = [];
  for (const [type, names] of Object.entries(e.referencedResources ?? {})) {
    if (names.length === 0) out.push(`${type}=`);
    for (const n of names) out.push(`${type}=${n}`);
  }
  return out.join('; ');
}

/** The CSV values of one event, in `CSV_COLUMNS` order, before quoting. */
export function csvValues(e: ActionTrailEvent): string[] {
  const cluster = e.additionalEventData.cluster;
  return [
    e.eventTime,
    e.eventId,
    e.eventName,
    e.eventRW,
    e.eventType,
    e.userIdentity.userName ?? '',
    e.userIdentity.accessKeyId ?? '',
    e.sourceIpAddress ?? '',
    resourcesCell(e),
    e.additionalEventData.outcome,
    e.errorCode ?? '',
    e.acsRegion,
    typeof cluster === 'string' ? cluster : '',
  ];
}

/** One CSV cell: formula-looking text neutralised with `'`, then RFC 4180 quoting when needed. */
export function csvCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function csvLine(values: readonly string[]): string {
  return `${values.map(csvCell).join(',')}\r\n`;
}

/** All events of the query, page by page (the walk LookupEvents' nextToken does, server-side). */
export async function* matchingEvents(store: EventStore, q: LookupQuery, pageSize = EXPORT_PAGE_SIZE): AsyncGenerator<ActionTrailEvent> {
  let after: Cursor | undefined;
  for (;;) {
    const page = await store.lookup({ filter: q.filter, direction: q.direction, limit: pageSize, ...(after ? { after } : {}) });
    for (const e of page.events) yield e;
    if (!page.next) return;
    after = page.next;
  }
}

/**
 * The export body in chunks (one page of events per chunk). `onRow` is called per event, for
 * counting what was sent.
 */
export async function* exportChunks(store: EventStore, x: ExportQuery, onRow: () => void = () => {}): AsyncGenerator<string> {
  const header = x.format === 'csv' ? csvLine(CSV_COLUMNS) : '[';
  let chunk = header;
  let first = true;
  let inChunk = 0;
  for await (const e of matchingEvents(store, x.query)) {
    onRow();
    if (x.format === 'csv') chunk += csvLine(csvValues(e));
    else {
      chunk += `${first ? '\n' : ',\n'}${JSON.stringify(e)}`;
      first = false;
    }
    if (++inChunk >= EXPORT_PAGE_SIZE) {
      yield chunk;
      chunk = '';
      inChunk = 0;
    }
  }
  if (x.format === 'json') chunk += first ? ']\n' : '\n]\n';
  if (chunk) yield chunk;
}
