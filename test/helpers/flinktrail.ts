/**
 * Starting FlinkTrail for tests: in-process (buildApp on port 0) or as a real child process
 * (for crash and memory tests), with a fresh data directory, an admin user and an AccessKey.
 *
 * With FLINKTRAIL_TEST_STORE=postgres, `makeKey` and `startInProcess` put a data directory's
 * events, identities, Kubernetes state and trails in a PostgreSQL database of its own
 * (`testStoreFor`), dropped when the test file ends; `storedContents` reads back whatever either
 * store holds, for the tests that look for what must never be stored.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildApp, type App, type ListenInfo } from '../../src/app.js';
import { buildConfig } from '../../src/config/index.js';
import type { Role } from '../../src/identity/directory.js';
import { sqliteDirectory } from '../../src/identity/sqlite/directory.js';
import { PostgresEventStore } from '../../src/store/postgres/events.js';
import { claimEventStore, directoryOf, openFeatureStores } from '../../src/stores.js';
import { hashPasswordScrypt } from '../../src/identity/secrets.js';
import { openSecrets, type Sealer } from '../../src/secrets/index.js';
import { openDatabase } from '../../src/store/sqlite/database.js';
import { createLogger } from '../../src/telemetry/logger.js';
import type { ActionTrailEvent } from '../../src/event/types.js';
import { register, starting } from './lifecycle.js';
import { ownDatabase, type OwnDatabase } from './postgres.js';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));

export interface Credentials {
  accessKeyId: string;
  accessKeySecret: string;
}

export function basic(c: Credentials | { user: string; password: string }): string {
  const pair = 'accessKeyId' in c ? `${c.accessKeyId}:${c.accessKeySecret}` : `${c.user}:${c.password}`;
  return `Basic ${Buffer.from(pair).toString('base64')}`;
}

export function tempDir(prefix = 'ft-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * Where apps under test keep what `store.url` would move: FLINKTRAIL_TEST_STORE, `sqlite` (the
 * default: the data directory's embedded database) or `postgres` (a database of each data
 * directory's own on the test PostgreSQL). FLINKTRAIL_TEST_TRAILS_STORE, its older name from when
 * only the trails suites honoured it, is still read when the new one is unset.
 */
export const TEST_STORE: 'sqlite' | 'postgres' = (() => {
  const name = process.env['FLINKTRAIL_TEST_STORE'] !== undefined ? 'FLINKTRAIL_TEST_STORE' : 'FLINKTRAIL_TEST_TRAILS_STORE';
  const v = process.env[name] || 'sqlite';
  if (v !== 'sqlite' && v !== 'postgres') throw new Error(`${name} must be sqlite or postgres, not ${v}`);
  return v;
})();

const testStores = new Map<string, Promise<OwnDatabase>>();
/** Apps started on each data directory's test store: closed before it is dropped. */
const storeUsers = new Map<string, (() => Promise<void>)[]>();

/**
 * The PostgreSQL database `dataDir`'s apps and keys use under FLINKTRAIL_TEST_STORE=postgres;
 * undefined on SQLite. Made on first use (by `makeKey` or `startInProcess`, whichever comes
 * first), the same for every later app on that directory (a restart sees its events and keys),
 * and dropped when the test file ends, after those apps have closed.
 */
export async function testStoreFor(dataDir: string): Promise<OwnDatabase | undefined> {
  if (TEST_STORE !== 'postgres') return undefined;
  let db = testStores.get(dataDir);
  if (!db) {
    db = starting(ownDatabase('ft_test'));
    testStores.set(dataDir, db);
    db.then(
      (d) =>
        register({
          name: `PostgreSQL database of ${dataDir}`,
          stop: async () => {
            await Promise.allSettled((storeUsers.get(dataDir) ?? []).map((close) => close()));
            await d.drop();
          },
        }),
      () => testStores.delete(dataDir),
    );
  }
  return db;
}

/** One place a test looked for what must not be stored, and what it found there. */
export interface Stored {
  /** A file of the data directory, or `postgres:<table>`. */
  where: string;
  /** Its bytes; a table's rows as PostgreSQL's text form, one per line. */
  bytes: Buffer;
}

/**
 * Everything `dataDir` keeps: its files (the embedded database and its WAL, keys, a spool), and
 * on the test PostgreSQL every row of every table of its database as text. For tests that assert
 * a secret was never stored: on PostgreSQL a needle in a bytea column shows as hex, so such a
 * test looks for `hexOf(needle)` in `postgres:` entries as well.
 */
export async function storedContents(dataDir: string): Promise<Stored[]> {
  const out: Stored[] = [];
  const walk = (dir: string) => {
    for (const n of readdirSync(dir)) {
      const p = join(dir, n);
      if (statSync(p).isDirectory()) walk(p);
      else out.push({ where: p.slice(dataDir.length + 1), bytes: readFileSync(p) });
    }
  };
  walk(dataDir);
  const db = TEST_STORE === 'postgres' ? await testStores.get(dataDir) : undefined;
  if (db) {
    const tables = await db.pool.query<{ s: string; t: string }>(
      `SELECT table_schema AS s, table_name AS t FROM information_schema.tables
        WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')`,
    );
    for (const { s, t } of tables.rows) {
      const rows = await db.pool.query<{ r: string }>(`SELECT x::text AS r FROM "${s}"."${t}" x`);
      out.push({ where: `postgres:${s}.${t}`, bytes: Buffer.from(rows.rows.map((r) => r.r).join('\n')) });
    }
  }
  return out;
}

/** Where in `stored` any of `needles` is (its text, or on PostgreSQL its bytea hex form): `needle in where` lines. */
export function foundIn(stored: Stored[], needles: string[]): string[] {
  const found: string[] = [];
  for (const { where, bytes } of stored) {
    for (const needle of needles) {
      const hex = Buffer.from(needle).toString('hex');
      if (bytes.includes(needle) || (where.startsWith('postgres:') && bytes.includes(hex))) found.push(`${needle} in ${where}`);
    }
  }
  return found;
}

/**
 * Creates a user with a key in `dataDir` (as `flinktrail keys create` does). Its signing secret is
 * sealed with `secrets`: by default the key ring of a default configuration (the per-user key),
 * which is what a server started without `secrets.masterKey` opens it with. With `storeUrl` the
 * user and key are made in that PostgreSQL store, as `keys create` does with `store.url` (the
 * directory is then claimed for it); under FLINKTRAIL_TEST_STORE=postgres that is the directory's
 * test store unless `storeUrl` names another.
 */
export async function makeKey(
  dataDir: string,
  user = 'alice',
  role: Role = 'admin',
  password?: string,
  secrets: Sealer = openSecrets(buildConfig({ dataDir })),
  opts: { storeUrl?: string } = {},
): Promise<Credentials & { principalId: string }> {
  const storeUrl = opts.storeUrl ?? (await testStoreFor(dataDir))?.url;
  const db = openDatabase(dataDir);
  const events = storeUrl ? await PostgresEventStore.open({ url: storeUrl, poolMax: 2 }) : undefined;
  try {
    let dir = sqliteDirectory(db, secrets);
    if (events) {
      claimEventStore(db, dataDir, events.id);
      dir = directoryOf(await openFeatureStores(db, events, secrets), secrets);
    }
    const u = await dir.createUser(user, role, password ? hashPasswordScrypt(password) : undefined, true);
    const k = await dir.createAccessKey(user);
    return { accessKeyId: k.accessKeyId, accessKeySecret: k.accessKeySecret, principalId: u.id };
  } finally {
    await events?.close();
    db.close();
  }
}

export interface InProcess {
  app: App;
  info: ListenInfo;
  dataDir: string;
  close(): Promise<void>;
}

/**
 * FlinkTrail built and listening in this process. Under FLINKTRAIL_TEST_STORE=postgres its store is
 * `dataDir`'s test store (`testStoreFor`) unless `extra` has a `store` of its own.
 */
export function startInProcess(flinkUrl: string, extra: Record<string, unknown> = {}, dataDir = tempDir()): Promise<InProcess> {
  return starting(inProcess(flinkUrl, extra, dataDir));
}

async function inProcess(flinkUrl: string, extra: Record<string, unknown>, dataDir: string): Promise<InProcess> {
  const testStore = 'store' in extra ? undefined : await testStoreFor(dataDir);
  const config = buildConfig({
    dataDir,
    api: { port: 0 },
    clusters: [{ name: 'default', url: flinkUrl, listen: { port: 0 } }],
    log: { level: 'warn' },
    ...(testStore ? { store: { url: testStore.url } } : {}),
    ...extra,
  });
  const app = await buildApp(config, { log: createLogger('warn') });
  const info = await app.listen();
  const close = register({ name: 'FlinkTrail (in process)', stop: () => app.close() });
  if (testStore) storeUsers.set(dataDir, [...(storeUsers.get(dataDir) ?? []), close]);
  return { app, info, dataDir, close };
}

export interface ChildServer {
  proc: ChildProcess;
  apiUrl: string;
  gatewayUrl: string;
  /** Cluster name → URLs, as the child logged them once listening (ports bound as 0 are real here). */
  clusters: ListenInfo['clusters'];
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** The last error-level log lines (pino level ≥ 50) the child wrote after it started: for failure messages. */
  errorLines(): string[];
}

/** Runs the built CLI (`bin/flinktrail.mjs serve`) and waits for its "listening" log line. */
/** `flinkUrl` null: the clusters come from a `--config` file in `args`. */
/** How much of a child's stderr (and of an unfinished stdout line) is kept for messages. */
const OUTPUT_TAIL = 64 * 1024;

export function startChild(flinkUrl: string | null, dataDir: string, args: string[] = []): Promise<ChildServer> {
  return starting(child(flinkUrl, dataDir, args));
}

async function child(flinkUrl: string | null, dataDir: string, args: string[]): Promise<ChildServer> {
  const flinkArgs = flinkUrl === null ? [] : ['--flink', flinkUrl];
  const proc = spawn(process.execPath, [join(REPO, 'bin/flinktrail.mjs'), 'serve', ...flinkArgs, '--data-dir', dataDir, '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Its output is read for as long as it runs (a full pipe would block the child's logging, and
  // with it the child), but only a tail is kept: a suite that makes it log for minutes must not
  // grow a buffer in the test process.
  let stderr = '';
  const errors: string[] = [];
  proc.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-OUTPUT_TAIL)));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const running = () => proc.exitCode === null && proc.signalCode === null;
  // Registered before it is known to have started: a child that missed the start timeout must
  // not outlive the test (its pipes would keep the test file's process alive).
  register({
    name: 'FlinkTrail (child process)',
    stop: async () => {
      if (running()) proc.kill('SIGTERM');
      await exited;
    },
    ...(proc.pid ? { pids: [proc.pid] } : {}),
  });
  let info: { apiUrl: string; clusters: ListenInfo['clusters'] };
  try {
    info = await new Promise<{ apiUrl: string; clusters: ListenInfo['clusters'] }>((resolve, reject) => {
      let partial = ''; // the unfinished last line
      let ready = false;
      // Only a guard against a hang: on a busy 2-core machine a cold start has taken over 20 s.
      const timer = setTimeout(() => reject(new Error(`FlinkTrail did not start in 120 s:\n${stderr}`)), 120_000);
      proc.stdout?.on('data', (d: Buffer) => {
        if (ready) {
          // Drained; only error lines are kept, a few, for a failing test to show.
          for (const l of d.toString().split('\n')) if (/"level":(5|6)0,/.test(l)) errors.push(l.slice(0, 2000));
          errors.splice(0, Math.max(0, errors.length - 20));
          return;
        }
        const lines = (partial + d.toString()).split('\n');
        partial = lines.pop()!.slice(-OUTPUT_TAIL);
        const line = lines.find((l) => l.includes('FlinkTrail is listening'));
        if (!line) return;
        ready = true;
        partial = '';
        clearTimeout(timer);
        resolve(JSON.parse(line) as { apiUrl: string; clusters: ListenInfo['clusters'] });
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`FlinkTrail exited with ${String(code)}:\n${stderr}`));
      });
    });
  } catch (err) {
    if (running()) proc.kill('SIGKILL');
    throw err;
  }
  return {
    proc,
    apiUrl: info.apiUrl,
    gatewayUrl: `${info.apiUrl}/flink/default/`,
    clusters: info.clusters,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
    errorLines: () => [...errors],
  };
}

export interface LookupAnswer {
  Events: ActionTrailEvent[];
  NextToken?: string;
  RequestId: string;
}

export async function lookup(apiUrl: string, cred: Credentials, query: Record<string, string>): Promise<LookupAnswer> {
  const res = await fetch(`${apiUrl}/api/v1/events?${new URLSearchParams(query).toString()}`, { headers: { authorization: basic(cred) } });
  const body = (await res.json()) as LookupAnswer;
  if (!res.ok) throw new Error(`lookup failed: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

/** Polls until `pred` holds for the events matching `query` (events are batched for ≤ flush interval). */
export async function waitForEvents(
  apiUrl: string,
  cred: Credentials,
  query: Record<string, string>,
  pred: (events: ActionTrailEvent[]) => boolean,
  timeoutMs = 5000,
): Promise<ActionTrailEvent[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { Events } = await lookup(apiUrl, cred, { maxResults: '200', ...query });
    if (pred(Events)) return Events;
    if (Date.now() > deadline) throw new Error(`events for ${JSON.stringify(query)} never matched; last: ${JSON.stringify(Events.map((e) => [e.eventName, e.requestId, e.additionalEventData.outcome]))}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
