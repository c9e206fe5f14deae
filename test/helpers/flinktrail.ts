/**
 * Starting FlinkTrail for tests: in-process (buildApp on port 0) or as a real child process
 * (for crash and memory tests), with a fresh data directory, an admin user and an AccessKey.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
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
 * Creates a user with a key in `dataDir` (as `flinktrail keys create` does). Its signing secret is
 * sealed with `secrets`: by default the key ring of a default configuration (the per-user key),
 * which is what a server started without `secrets.masterKey` opens it with. With `storeUrl` the
 * user and key are made in that PostgreSQL store, as `keys create` does with `store.url` (the
 * directory is then claimed for it).
 */
export async function makeKey(
  dataDir: string,
  user = 'alice',
  role: Role = 'admin',
  password?: string,
  secrets: Sealer = openSecrets(buildConfig({ dataDir })),
  opts: { storeUrl?: string } = {},
): Promise<Credentials & { principalId: string }> {
  const db = openDatabase(dataDir);
  const events = opts.storeUrl ? await PostgresEventStore.open({ url: opts.storeUrl, poolMax: 2 }) : undefined;
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

export function startInProcess(flinkUrl: string, extra: Record<string, unknown> = {}, dataDir = tempDir()): Promise<InProcess> {
  return starting(inProcess(flinkUrl, extra, dataDir));
}

async function inProcess(flinkUrl: string, extra: Record<string, unknown>, dataDir: string): Promise<InProcess> {
  const config = buildConfig({
    dataDir,
    api: { port: 0 },
    clusters: [{ name: 'default', url: flinkUrl, listen: { port: 0 } }],
    log: { level: 'warn' },
    ...extra,
  });
  const app = await buildApp(config, { log: createLogger('warn') });
  const info = await app.listen();
  return { app, info, dataDir, close: register({ name: 'FlinkTrail (in process)', stop: () => app.close() }) };
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
