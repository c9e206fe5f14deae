/**
 * The PostgreSQL connection URL (`store.url`): redaction and pool settings.
 *
 * A URL may carry a password (`postgres://user:secret@host/db`); it must never reach a log line,
 * an event or an error message, so everything that shows a URL shows `redactUrl(url)`.
 * `pg` itself never puts the password in its errors; `redactSecrets` also scrubs any text that
 * could quote the URL (a connection error echoing it, a message built by someone else).
 */
import pg, { type PoolConfig } from 'pg';

/** postgres:// or postgresql:// (the forms libpq and `pg` accept). */
export const POSTGRES_URL = /^postgres(ql)?:\/\//;

/** The URL with its password (and a `password` query parameter) replaced by `***`. */
export function redactUrl(url: string): string {
  return url
    .replace(/^(postgres(?:ql)?:\/\/[^:@/?#]*):[^@/?#]*@/, '$1:***@')
    .replace(/([?&]password=)[^&#]*/gi, '$1***');
}

/** `text` with every occurrence of `url` and of its password replaced (for error messages). */
export function redactSecrets(text: string, url: string): string {
  let out = text.split(url).join(redactUrl(url));
  const password = passwordOf(url);
  if (password && password.length >= 3) out = out.split(password).join('***');
  return out;
}

function passwordOf(url: string): string | undefined {
  const m = /^postgres(?:ql)?:\/\/[^:@/?#]*:([^@/?#]*)@/.exec(url) ?? /[?&]password=([^&#]*)/i.exec(url);
  if (!m?.[1]) return undefined;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return m[1];
  }
}

/** BIGINT (OID 20) as a JS number: epoch milliseconds and positions stay far below 2^53. */
const INT8 = 20;
const parseInt8 = (v: string) => Number(v);
function typeParser(oid: number, format?: string): unknown {
  return oid === INT8 ? parseInt8 : pg.types.getTypeParser(oid, (format ?? 'text') as 'text');
}

/**
 * A pool for `url` that survives its server going away. A connection the server ends (a restart,
 * an outage, `pg_terminate_backend`) emits 'error' on its client; pg's pool listens only while the
 * client is idle, and an 'error' with no listener ends the process. So every client gets a
 * listener for its whole life — the statement it was running rejects anyway, the pool drops it —
 * and the pool's own 'error' (an idle client lost) goes to `onError` (redact before logging).
 */
export function openPool(url: string, opts: Parameters<typeof poolConfig>[1] = {}, onError: (err: Error) => void = () => undefined): pg.Pool {
  const pool = new pg.Pool(poolConfig(url, opts));
  pool.on('error', onError);
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

/**
 * Pool settings for `url`. `schema` (tests) sets the search_path of every connection, so one
 * database can hold many independent stores. Custom plans always: lookups bind values whose
 * selectivity differs by orders of magnitude (a long-tail user vs the busiest one), and a
 * generic plan would walk the same index for both.
 */
export function poolConfig(url: string, opts: { max?: number; schema?: string; applicationName?: string } = {}): PoolConfig {
  const settings = ['-c plan_cache_mode=force_custom_plan'];
  if (opts.schema) settings.push(`-c search_path=${opts.schema}`);
  return {
    connectionString: url,
    max: opts.max ?? 10,
    application_name: opts.applicationName ?? 'flinktrail',
    options: settings.join(' '),
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 10_000,
    types: { getTypeParser: typeParser as never },
  };
}
