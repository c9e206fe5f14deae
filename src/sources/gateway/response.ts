/**
 * What of Flink's answer goes into the record: the ids an operation produced (a job id from a
 * run, a trigger id from a savepoint, the stored jar), the savepoint location, and Flink's own
 * error text. Whole listings are not copied: the record says what happened, not what was read.
 */

const STATUS_CODES: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  413: 'PayloadTooLarge',
  429: 'TooManyRequests',
  500: 'InternalServerError',
  501: 'NotImplemented',
  502: 'BadGateway',
  503: 'ServiceUnavailable',
  504: 'GatewayTimeout',
};

/** `Flink.NotFound` for a Flink answer with status 404, and so on. */
export function flinkErrorCode(status: number): string {
  return `Flink.${STATUS_CODES[status] ?? `Http${status}`}`;
}

const MAX_MESSAGE = 2048;

function cut(s: string, max = MAX_MESSAGE): string {
  return s.length > max ? `${s.slice(0, max)}…[truncated]` : s;
}

/** Flink answers errors as `{"errors": ["...", "..."]}`. */
export function flinkErrorMessage(body: unknown, fallback: string): string {
  if (body && typeof body === 'object' && Array.isArray((body as { errors?: unknown }).errors)) {
    const errors = (body as { errors: unknown[] }).errors.map(String);
    // The first entry is the message; later ones are often a Java stack trace.
    return cut(errors.map((e) => e.split('\n')[0] ?? '').filter(Boolean).join(' | ') || fallback);
  }
  return fallback;
}

function get(obj: unknown, path: readonly string[]): unknown {
  let cur = obj;
  for (const k of path) {
    if (!cur || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

/** The response fields worth keeping, by their Flink names. */
export function responseElements(body: unknown, eventRW: 'Read' | 'Write'): Record<string, unknown> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return {};
  const out: Record<string, unknown> = {};
  const keep = (name: string, path: readonly string[]) => {
    const v = get(body, path);
    if (v !== undefined && v !== null && (typeof v !== 'object' || Array.isArray(v))) {
      out[name] = typeof v === 'string' ? cut(v) : v;
    }
  };
  keep('jobid', ['jobid']);
  keep('jobUrl', ['jobUrl']);
  keep('request-id', ['request-id']);
  keep('filename', ['filename']);
  keep('status', ['status', 'id']);
  if (typeof (body as Record<string, unknown>)['status'] === 'string') keep('status', ['status']);
  keep('location', ['operation', 'location']);
  keep('failure-cause', ['operation', 'failure-cause', 'stack-trace']);
  if (typeof out['failure-cause'] === 'string') out['failure-cause'] = cut((out['failure-cause']).split('\n')[0] ?? '');
  keep('checkpointId', ['operation', 'checkpointId']);
  keep('operationHandle', ['operationHandle']);
  keep('sessionHandle', ['sessionHandle']);
  if (eventRW === 'Write' && Object.keys(out).length === 0) {
    const text = JSON.stringify(body);
    if (text.length <= 2048) return body as Record<string, unknown>;
  }
  return out;
}

/** Job names seen in Flink's answers: `/jobs/overview`, `/jobs/:id`. */
export function jobNamesIn(body: unknown): [string, string][] {
  const found: [string, string][] = [];
  const add = (o: unknown) => {
    const id = get(o, ['jid']);
    const name = get(o, ['name']);
    if (typeof id === 'string' && typeof name === 'string') found.push([id, name]);
  };
  add(body);
  const jobs = get(body, ['jobs']);
  if (Array.isArray(jobs)) jobs.forEach(add);
  return found;
}
