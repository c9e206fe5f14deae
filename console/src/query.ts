/**
 * The Event Query's state lives in the URL, so that a query is a link an analyst can share,
 * bookmark or reload: `/events?eventName=CancelJob&user=alice&range=24h`. Filter parameters have
 * the API's names (GET /api/v1/events), so the URL reads like the API call it makes.
 */

export type FilterKey =
  | 'eventRW'
  | 'user'
  | 'serviceName'
  | 'eventName'
  | 'eventType'
  | 'resourceType'
  | 'resourceName'
  | 'accessKeyId'
  | 'sensitive'
  | 'eventId'
  | 'errorCode'
  | 'cluster'
  | 'sourceIpAddress';

/** Where a condition's suggestions come from. */
export type SuggestSource = 'EventNames' | 'ResourceTypes' | 'ServiceNames' | 'clusters';

export interface FilterDef {
  key: FilterKey;
  label: string;
  /** `select`: one of `options`; `text`: free text, with suggestions when `source` is set. */
  kind: 'select' | 'text';
  options?: readonly string[];
  source?: SuggestSource;
  placeholder?: string;
}

/** Every condition of GET /api/v1/events except region and time (they have their own controls). */
export const FILTERS: readonly FilterDef[] = [
  { key: 'eventName', label: 'Event name', kind: 'text', source: 'EventNames', placeholder: 'e.g. CancelJob' },
  { key: 'user', label: 'User', kind: 'text', placeholder: 'user name' },
  { key: 'eventRW', label: 'Read/Write', kind: 'select', options: ['Read', 'Write'] },
  { key: 'resourceName', label: 'Resource name', kind: 'text', placeholder: 'job id or name, jar id, cluster' },
  { key: 'resourceType', label: 'Resource type', kind: 'text', source: 'ResourceTypes', placeholder: 'ACS::RealtimeCompute::Job' },
  { key: 'serviceName', label: 'Service name', kind: 'text', source: 'ServiceNames', placeholder: 'RealtimeCompute' },
  { key: 'cluster', label: 'Cluster', kind: 'text', source: 'clusters', placeholder: 'cluster name' },
  { key: 'sourceIpAddress', label: 'Source IP', kind: 'text', placeholder: '10.0.0.7' },
  { key: 'accessKeyId', label: 'AccessKey ID', kind: 'text', placeholder: 'LTAI…' },
  { key: 'sensitive', label: 'Sensitive operation', kind: 'select', options: ['true', 'false'] },
  { key: 'errorCode', label: 'Error code', kind: 'text', placeholder: 'e.g. NoPermission, Flink.NotFound' },
  { key: 'eventType', label: 'Event type', kind: 'select', options: ['ApiCall', 'ConsoleOperation', 'ConsoleSignin', 'ConsoleSignout', 'AliyunServiceEvent'] },
  { key: 'eventId', label: 'Event ID', kind: 'text', placeholder: 'event id' },
];

export const FILTER_KEYS: readonly FilterKey[] = FILTERS.map((f) => f.key);

export function filterDef(key: FilterKey): FilterDef {
  return FILTERS.find((f) => f.key === key) as FilterDef;
}

export interface RangePreset {
  id: string;
  label: string;
  ms: number;
}

export const RANGE_PRESETS: readonly RangePreset[] = [
  { id: '15m', label: 'Last 15 minutes', ms: 15 * 60_000 },
  { id: '1h', label: 'Last hour', ms: 3600_000 },
  { id: '6h', label: 'Last 6 hours', ms: 6 * 3600_000 },
  { id: '24h', label: 'Last 24 hours', ms: 24 * 3600_000 },
  { id: '7d', label: 'Last 7 days', ms: 7 * 24 * 3600_000 },
  { id: '30d', label: 'Last 30 days', ms: 30 * 24 * 3600_000 },
  { id: '90d', label: 'Last 90 days', ms: 90 * 24 * 3600_000 },
];

export const DEFAULT_RANGE = '24h';

export interface Condition {
  key: FilterKey;
  value: string;
}

export interface QueryState {
  conditions: Condition[];
  /** '' = the home region (the API's default), '*' = every region, else one region. */
  region: string;
  /** '' = every account the caller sees (the API's default), else one account's id (`accountId`). */
  accountId: string;
  /** A preset id, or 'custom' with startTime/endTime. */
  range: string;
  startTime?: string;
  endTime?: string;
  direction: 'BACKWARD' | 'FORWARD';
  groupBy: 'eventRW' | 'eventName';
  /** The event whose details are open. */
  event?: string;
  live: boolean;
}

export function parseQuery(search: URLSearchParams): QueryState {
  const conditions: Condition[] = [];
  for (const key of FILTER_KEYS) {
    const v = search.get(key);
    if (v !== null && v !== '') conditions.push({ key, value: v });
  }
  const startTime = search.get('startTime') ?? undefined;
  const endTime = search.get('endTime') ?? undefined;
  const rangeParam = search.get('range') ?? '';
  const range = startTime || endTime ? 'custom' : RANGE_PRESETS.some((p) => p.id === rangeParam) ? rangeParam : DEFAULT_RANGE;
  const event = search.get('event') ?? undefined;
  return {
    conditions,
    region: search.get('region') ?? '',
    accountId: search.get('accountId') ?? '',
    range,
    ...(range === 'custom' && startTime ? { startTime } : {}),
    ...(range === 'custom' && endTime ? { endTime } : {}),
    direction: search.get('direction') === 'FORWARD' ? 'FORWARD' : 'BACKWARD',
    groupBy: search.get('groupBy') === 'eventName' ? 'eventName' : 'eventRW',
    ...(event ? { event } : {}),
    live: search.get('live') === '1',
  };
}

/** The console URL of a query (stable parameter order). */
export function queryUrl(q: QueryState): string {
  const u = new URLSearchParams();
  for (const c of q.conditions) if (c.value !== '') u.set(c.key, c.value);
  if (q.region) u.set('region', q.region);
  if (q.accountId) u.set('accountId', q.accountId);
  if (q.range === 'custom') {
    if (q.startTime) u.set('startTime', q.startTime);
    if (q.endTime) u.set('endTime', q.endTime);
  } else if (q.range !== DEFAULT_RANGE) u.set('range', q.range);
  if (q.direction !== 'BACKWARD') u.set('direction', q.direction);
  if (q.groupBy !== 'eventRW') u.set('groupBy', q.groupBy);
  if (q.live) u.set('live', '1');
  if (q.event) u.set('event', q.event);
  const s = u.toString();
  return `/events${s ? `?${s}` : ''}`;
}

/** The absolute time range a query means now (presets are relative to `now`). */
export function resolveRange(q: QueryState, now = Date.now()): { startTime: string; endTime: string } {
  if (q.range === 'custom') {
    const end = q.endTime ?? new Date(now).toISOString();
    const start = q.startTime ?? new Date(Date.parse(end) - 24 * 3600_000).toISOString();
    return { startTime: start, endTime: end };
  }
  const preset = RANGE_PRESETS.find((p) => p.id === q.range);
  const ms = preset ? preset.ms : 24 * 3600_000;
  return { startTime: new Date(now - ms).toISOString(), endTime: new Date(now).toISOString() };
}

/** The API parameters of a query (filters + region + account + resolved time), without paging. */
export function apiFilters(q: QueryState, range: { startTime: string; endTime: string }): Record<string, string> {
  const p: Record<string, string> = { startTime: range.startTime, endTime: range.endTime };
  for (const c of q.conditions) if (c.value !== '') p[c.key] = c.value;
  if (q.region) p['region'] = q.region;
  if (q.accountId) p['accountId'] = q.accountId;
  return p;
}

/** `2026-11-25T11:09:10.123Z` → the value of an `<input type="datetime-local">` in local time. */
export function toLocalInput(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A datetime-local value (local time) → UTC ISO 8601, or undefined when incomplete. */
export function fromLocalInput(v: string): string | undefined {
  if (!v) return undefined;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** Local `YYYY-MM-DD HH:mm:ss` for tables. */
export function formatTime(iso: string, withMs = false): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const base = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return withMs ? `${base}.${pad(d.getMilliseconds(), 3)}` : base;
}

/** The browser's UTC offset, e.g. `UTC+08:00`, to label local times honestly. */
export function zoneLabel(): string {
  const off = -new Date().getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const a = Math.abs(off);
  return `UTC${sign}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}
