/**
 * LookupEvents: from untrusted query parameters to a store lookup, and pages back.
 *
 * Every filter of the seed (and a few more) can be combined — ActionTrail and CloudTrail allow
 * one at a time. Input is validated at the edge: unknown parameters, bad times, end before
 * start, out-of-range page sizes and altered tokens are 400s with a coded error, never 500s.
 * Tokens are HMAC-signed cursors bound to the query's filters, so pagination is stable while
 * new events arrive (the cursor is the sort key of the last event, not an offset).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { FlinkTrailError } from '../errors/index.js';
import { EVENT_RW, EVENT_TYPES, type ActionTrailEvent, type EventRW, type EventType } from '../event/types.js';
import type { Cursor, EventFilter, EventStore, LookupRequest } from '../store/types.js';
import { isValidName, NAME_RULES } from '../event/names.js';
import { queryRegion } from '../regions/index.js';
import { callerAccount } from '../event/account.js';

/** Query parameter → what it filters. Documented in docs/reference/api.md. */
export const LOOKUP_PARAMETERS = [
  'eventRW',
  'user',
  'serviceName',
  'eventName',
  'eventType',
  'resourceType',
  'resourceName',
  'accessKeyId',
  'sensitive',
  'eventId',
  'region',
  'errorCode',
  'sourceIpAddress',
  'cluster',
  'accountId',
  'startTime',
  'endTime',
  'maxResults',
  'nextToken',
  'direction',
] as const;

/** `region` is not among them: it defaults to the home region and takes `*` (regions/). */
const STRING_FILTERS = [
  'user',
  'serviceName',
  'eventName',
  'resourceType',
  'resourceName',
  'accessKeyId',
  'eventId',
  'errorCode',
  'sourceIpAddress',
  'cluster',
  'accountId',
] as const;

/** What a query is scoped to besides its parameters. */
export interface QueryScope {
  /**
   * The instance's home region (`config.region`): the region of a query without `region`. None
   * (unit tests): a query without `region` asks every region.
   */
  homeRegion?: string;
  /**
   * The caller's account and the management account: the management account may query any
   * account's events (all by default, one with `accountId`); a member account only its own —
   * naming another is refused (FT_ERR_ACCOUNT_DENIED), naming none means its own. None (unit
   * tests, the CLI on a data directory): every account.
   */
  account?: { caller: string; management: string };
}

/** The scope of a query by `principal` on an instance configured with `config` (its home region, its account rule). */
export function queryScope(principal: { accountId?: string } | undefined, config: { region: string; accountId: string }): QueryScope {
  return { homeRegion: config.region, account: { caller: callerAccount(principal, config.accountId), management: config.accountId } };
}

export const DEFAULT_MAX_RESULTS = 50;
export const MAX_MAX_RESULTS = 200;
const DEFAULT_WINDOW_MS = 7 * 24 * 3600 * 1000;

export interface LookupQuery extends LookupRequest {
  /** What the filters hash to, for binding tokens to a query. */
  fingerprint: string;
}

function bad(name: string, why: string): FlinkTrailError {
  return new FlinkTrailError('FT_ERR_QUERY_INVALID_PARAMETER', name, why);
}

/** Strict ISO 8601 with a zone (Z or ±hh:mm); date-only is midnight UTC. */
export function parseTime(name: string, value: string): number {
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2}))?$/.test(value)) {
    throw new FlinkTrailError('FT_ERR_QUERY_TIME_RANGE', `${name} '${value.slice(0, 64)}' is not ISO 8601 with a time zone, e.g. 2026-01-31T12:00:00Z`);
  }
  const ms = Date.parse(value.length === 10 ? `${value}T00:00:00Z` : value);
  if (Number.isNaN(ms)) throw new FlinkTrailError('FT_ERR_QUERY_TIME_RANGE', `${name} '${value.slice(0, 64)}' is not a real instant`);
  return ms;
}

/** Parses and validates LookupEvents parameters (one value each). */
export function parseLookup(params: Record<string, unknown>, now = Date.now(), scope: QueryScope = {}): LookupQuery & { token?: string } {
  for (const key of Object.keys(params)) {
    if (!(LOOKUP_PARAMETERS as readonly string[]).includes(key)) {
      throw new FlinkTrailError('FT_ERR_QUERY_UNKNOWN_PARAMETER', key.slice(0, 64), LOOKUP_PARAMETERS.join(', '));
    }
  }
  const one = (key: string): string | undefined => {
    const v = params[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw bad(key, 'give it once, as a string');
    if (v.length > 1024) throw bad(key, 'longer than 1024 characters');
    return v;
  };
  const endTime = one('endTime') !== undefined ? parseTime('endTime', one('endTime') as string) : now;
  const startTime = one('startTime') !== undefined ? parseTime('startTime', one('startTime') as string) : endTime - DEFAULT_WINDOW_MS;
  if (endTime < startTime) throw new FlinkTrailError('FT_ERR_QUERY_TIME_RANGE', 'endTime is before startTime');

  const filter: EventFilter = { startTime, endTime };
  for (const key of STRING_FILTERS) {
    const v = one(key);
    if (v !== undefined) {
      if (v === '') throw bad(key, 'must not be empty');
      if (key === 'accountId' && !isValidName('accountId', v)) throw bad(key, NAME_RULES.accountId.what);
      filter[key] = v;
    }
  }
  // A member account's query never reaches another account's events, whatever it asks for.
  if (scope.account && scope.account.caller !== scope.account.management) {
    const { caller } = scope.account;
    if (filter.accountId !== undefined && filter.accountId !== caller) {
      throw new FlinkTrailError('FT_ERR_ACCOUNT_DENIED', `account ${caller} may query its own events only, not account ${String(filter.accountId)}'s`);
    }
    filter.accountId = caller;
  }
  // One region (default: the home region) and the global events, or `*`: every region.
  const region = queryRegion(one('region'), scope.homeRegion);
  if (region !== undefined) filter.region = region;
  const rw = one('eventRW');
  if (rw !== undefined) {
    if (!(EVENT_RW as readonly string[]).includes(rw)) throw bad('eventRW', `must be one of ${EVENT_RW.join(', ')}`);
    filter.eventRW = rw as EventRW;
  }
  const type = one('eventType');
  if (type !== undefined) {
    if (!(EVENT_TYPES as readonly string[]).includes(type)) throw bad('eventType', `must be one of ${EVENT_TYPES.join(', ')}`);
    filter.eventType = type as EventType;
  }
  const sensitive = one('sensitive');
  if (sensitive !== undefined) {
    if (sensitive !== 'true' && sensitive !== 'false') throw bad('sensitive', 'must be true or false');
    filter.sensitive = sensitive === 'true';
  }
  const dir = one('direction') ?? 'BACKWARD';
  if (dir !== 'FORWARD' && dir !== 'BACKWARD') throw bad('direction', 'must be FORWARD or BACKWARD');
  const max = one('maxResults');
  let limit = DEFAULT_MAX_RESULTS;
  if (max !== undefined) {
    if (!/^\d{1,4}$/.test(max) || Number(max) < 1 || Number(max) > MAX_MAX_RESULTS) {
      throw bad('maxResults', `must be an integer from 1 to ${MAX_MAX_RESULTS}`);
    }
    limit = Number(max);
  }
  // The fingerprint leaves out endTime/startTime defaults' drift: a token binds the filters as given.
  const given: Record<string, unknown> = {};
  for (const k of Object.keys(params).sort()) if (k !== 'nextToken' && k !== 'maxResults') given[k] = params[k];
  // A token binds the region queried, defaulted or not (instances may differ in home region).
  given['region'] = region ?? '*';
  const fingerprint = JSON.stringify(given);
  const token = one('nextToken');
  return { filter, direction: dir, limit, fingerprint, ...(token !== undefined ? { token } : {}) };
}

export class TokenCodec {
  constructor(private readonly key: string) {}

  private mac(payload: string): string {
    return createHmac('sha256', this.key).update(payload).digest('base64url').slice(0, 22);
  }

  encode(cursor: Cursor, fingerprint: string, query: { startTime: number; endTime: number }): string {
    const payload = Buffer.from(JSON.stringify({ t: cursor.time, s: cursor.seq, a: query.startTime, b: query.endTime })).toString('base64url');
    return `${payload}.${this.mac(`${payload}|${fingerprint}`)}`;
  }

  /** The cursor and the time range of the first page (so "now" does not drift between pages). */
  decode(token: string, fingerprint: string): { cursor: Cursor; startTime: number; endTime: number } {
    const invalid = () => new FlinkTrailError('FT_ERR_QUERY_BAD_TOKEN');
    const parts = token.split('.');
    const [payload, mac] = parts;
    if (parts.length !== 2 || !payload || !mac || token.length > 512) throw invalid();
    const expected = Buffer.from(this.mac(`${payload}|${fingerprint}`));
    const actual = Buffer.from(mac);
    if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) throw invalid();
    try {
      const v = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
      const { t, s, a, b } = v;
      if (![t, s, a, b].every((n) => typeof n === 'number' && Number.isSafeInteger(n))) throw invalid();
      return { cursor: { time: t as number, seq: s as number }, startTime: a as number, endTime: b as number };
    } catch {
      throw invalid();
    }
  }
}

export interface LookupResult {
  events: ActionTrailEvent[];
  nextToken?: string;
  startTime: string;
  endTime: string;
}

export async function lookupEvents(store: EventStore, tokens: TokenCodec, params: Record<string, unknown>, scope: QueryScope = {}): Promise<LookupResult> {
  const q = parseLookup(params, Date.now(), scope);
  if (q.token !== undefined) {
    const d = tokens.decode(q.token, q.fingerprint);
    q.after = d.cursor;
    // Defaulted times are pinned to the first page's, so later pages do not shift.
    if (params['endTime'] === undefined) q.filter.endTime = d.endTime;
    if (params['startTime'] === undefined) q.filter.startTime = d.startTime;
  }
  const page = await store.lookup(q);
  const result: LookupResult = {
    events: page.events,
    startTime: new Date(q.filter.startTime).toISOString(),
    endTime: new Date(q.filter.endTime).toISOString(),
  };
  if (page.next) result.nextToken = tokens.encode(page.next, q.fingerprint, q.filter);
  return result;
}
