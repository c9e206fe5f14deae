/**
 * The SQL of an EventFilter over `events e` on PostgreSQL, with positional parameters: one place
 * that maps every LookupEvents filter to its column, shared by the store's lookup and its
 * histogram (the same mapping as the SQLite store's filter.ts, so both stores mean the same
 * thing by the same filter).
 */
import { GLOBAL_REGION_COLUMN, type EventFilter } from '../types.js';

/**
 * PostgreSQL text cannot hold U+0000, which an event's strings may (a request parameter): the
 * columns (and the filter values compared with them) get U+FFFD instead. The body keeps it: the
 * compressed record holds such a value itself rather than taking it back from its column
 * (body-codec.ts); an older `body` text row has it as the six characters \u0000.
 */
export function pgText<T extends string | null | undefined>(v: T): T {
  return (typeof v === 'string' && v.includes('\u0000') ? v.split('\u0000').join('\uFFFD') : v) as T;
}

/** Positional parameters: `add(v)` returns `$n` for v. */
export class Params {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/**
 * Columns of the exact-match filters (sensitive and resources are handled on their own; region
 * also matches the global events' GLOBAL_REGION_COLUMN).
 */
export const FILTER_COLUMNS: readonly { filter: keyof EventFilter; column: string }[] = [
  { filter: 'eventRW', column: 'event_rw' },
  { filter: 'user', column: 'user_name' },
  { filter: 'serviceName', column: 'service_name' },
  { filter: 'eventName', column: 'event_name' },
  { filter: 'eventType', column: 'event_type' },
  { filter: 'accessKeyId', column: 'access_key_id' },
  { filter: 'region', column: 'region' },
  { filter: 'errorCode', column: 'error_code' },
  { filter: 'sourceIpAddress', column: 'source_ip' },
  { filter: 'cluster', column: 'cluster' },
  // null: the management account, whose events are stored without one (events.ts `record`).
  { filter: 'accountId', column: 'account_id' },
];

/**
 * A member account's condition in the form its own index holds (events migration 5:
 * `(account_id || '')`, the same truth as `account_id`), over `events e`.
 */
export const ACCOUNT_INDEXED = "(e.account_id || '')";

/** The resource keys an event is filed under (see events-schema.ts). */
export function resourceKeys(resources: Record<string, readonly string[]>): string[] {
  const keys = new Set<string>();
  for (const [type, names] of Object.entries(resources)) {
    const add = (name: string) => {
      keys.add(`t:${type}`);
      keys.add(`n:${name}`);
      keys.add(`b:${type}\u001f${name}`);
    };
    for (const name of new Set(names)) if (name) add(name);
    if (names.length === 0) add('');
  }
  return [...keys];
}

/** The key a resource filter looks for, or undefined without one. */
export function resourceFilterKey(f: EventFilter): string | undefined {
  if (f.resourceType !== undefined && f.resourceName !== undefined) return `b:${f.resourceType}\u001f${f.resourceName}`;
  if (f.resourceType !== undefined) return `t:${f.resourceType}`;
  if (f.resourceName !== undefined) return `n:${f.resourceName}`;
  return undefined;
}

/**
 * Conditions on `events e` for every filter but eventId (the store resolves that through
 * `event_ids`), ANDed; `lo`..`hi` (epoch ms, inclusive) is the time range.
 */
export function filterConditions(f: EventFilter, p: Params, lo = f.startTime, hi = f.endTime): string[] {
  const where = [`e.event_time >= ${p.add(lo)}`, `e.event_time <= ${p.add(hi)}`];
  for (const { filter, column } of FILTER_COLUMNS) {
    const v = f[filter];
    if (v === null) {
      where.push(`e.${column} IS NULL`);
      continue;
    }
    if (v === undefined) continue;
    const value = p.add(typeof v === 'string' ? pgText(v) : v);
    // A region's events and the global ones (stored once, seen from every region). A member
    // account in the form of its own index (events migration 5).
    where.push(filter === 'region' ? `e.region IN (${value}, '${GLOBAL_REGION_COLUMN}')` : filter === 'accountId' ? `${ACCOUNT_INDEXED} = ${value}` : `e.${column} = ${value}`);
  }
  // A literal, so that the partial index events_sensitive_time (WHERE sensitive) applies.
  if (f.sensitive !== undefined) where.push(f.sensitive ? 'e.sensitive' : 'NOT e.sensitive');
  const key = resourceFilterKey(f);
  if (key !== undefined) where.push(`e.resources @> ARRAY[${p.add(pgText(key))}]::text[]`);
  return where;
}
