/**
 * The console's only way to the server: FlinkTrail's documented HTTP API, same origin, with the
 * session cookie. State-changing calls carry the session's CSRF token (X-CSRF-Token), which the
 * server hands out at sign-in and on GET /api/v1/auth/session. Errors arrive in ActionTrail's
 * shape `{RequestId, Code, Message}` and become `ApiError`s the pages explain to the user.
 */

export interface ApiErrorBody {
  RequestId?: string;
  Code?: string;
  Message?: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

let csrfToken: string | undefined;
let onUnauthorized: (() => void) | undefined;

export function setCsrfToken(token: string | undefined): void {
  csrfToken = token;
}

/** Called when any call answers 401: the session ended; the app goes back to the sign-in page. */
export function setUnauthorizedHandler(fn: () => void): void {
  onUnauthorized = fn;
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  body?: unknown;
  signal?: AbortSignal;
  /** Do not treat 401 as "session ended" (the sign-in call itself). */
  quiet401?: boolean;
}

export async function api<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const method = opts.method ?? 'GET';
  const headers: Record<string, string> = { accept: 'application/json' };
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(0, 'NetworkError', 'FlinkTrail did not answer. Check that the server is running and reachable, then retry.');
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!res.ok) {
    const b = (parsed ?? {}) as ApiErrorBody;
    const err = new ApiError(res.status, b.Code ?? `Http${res.status}`, b.Message ?? `The server answered ${res.status}.`, b.RequestId);
    if (res.status === 401 && !opts.quiet401) onUnauthorized?.();
    throw err;
  }
  return parsed as T;
}

/** Query string of the non-empty entries, in a stable order (so equal queries give equal URLs). */
export function qs(params: Record<string, string | undefined>): string {
  const u = new URLSearchParams();
  for (const k of Object.keys(params).sort()) {
    const v = params[k];
    if (v !== undefined && v !== '') u.set(k, v);
  }
  const s = u.toString();
  return s ? `?${s}` : '';
}

// --- API shapes the console reads (docs/reference/api.md)

export interface Session {
  userName: string;
  role: string;
  method: string;
  /** The caller's account (16 digits for a member account) and whether it is the management account. */
  accountId?: string;
  managementAccount?: boolean;
  csrfToken?: string;
  expiresAt?: string;
}

/** GET /api/v1/accounts: what the caller may see (the management account lists itself first). */
export interface Account {
  accountId: string;
  name: string;
  management: boolean;
  createdAt?: string;
}

export interface ConsoleSettings {
  region: string;
  sso: { enabled: boolean; loginUrl: string; providers?: { name: string; displayName: string; loginUrl: string }[] };
}

export interface ConsoleCatalog {
  EventNames: string[];
  ResourceTypes: string[];
  ServiceNames: string[];
  EventTypes: string[];
}

export interface Cluster {
  name: string;
  kind: string;
  region: string;
  path: string;
}

export interface ClusterList {
  Clusters: Cluster[];
  Regions: string[];
  DefaultRegion: string;
}

export interface TrailEvent {
  eventId: string;
  eventName: string;
  eventRW: 'Read' | 'Write';
  eventType: string;
  eventSource: string;
  serviceName: string;
  eventTime: string;
  acsRegion: string;
  isGlobal: boolean;
  /** The account the event belongs to; absent on events recorded before accounts (the management account's). */
  recipientAccountId?: string;
  sourceIpAddress: string;
  userAgent: string;
  userIdentity: { type: string; principalId: string; accountId: string; userName: string; accessKeyId?: string };
  requestId: string;
  requestParameters: Record<string, unknown>;
  responseElements: Record<string, unknown>;
  referencedResources: Record<string, string[]>;
  additionalEventData: { outcome: string; cluster?: string; httpStatus?: number; latencyMs?: number; sensitive: boolean; [k: string]: unknown };
  errorCode?: string;
  errorMessage?: string;
}

/**
 * An event's resources as lists of names. Records stored before FlinkTrail kept every list hold
 * a single string where redaction replaced a list (`"ACS::Actiontrail::AccessKey": "******"`);
 * the console shows them rather than failing on them.
 */
export function resourcesOf(e: TrailEvent): [string, string[]][] {
  return Object.entries(e.referencedResources as Record<string, unknown>).map(([type, v]) => [
    type,
    Array.isArray(v) ? v.filter((n): n is string => typeof n === 'string') : typeof v === 'string' ? [v] : [],
  ]);
}

export interface LookupAnswer {
  RequestId: string;
  StartTime: string;
  EndTime: string;
  Events: TrailEvent[];
  NextToken?: string;
}

export interface HistogramBucket {
  start: string;
  end: string;
  Read: number;
  Write: number;
  total: number;
  names?: Record<string, number>;
}

export interface HistogramAnswer {
  startTime: string;
  endTime: string;
  bucketMs: number;
  groupBy: 'eventRW' | 'eventName';
  series?: string[];
  total: number;
  buckets: HistogramBucket[];
}
