/**
 * Shared pieces of the trails suites: an in-process FlinkTrail with an admin key, API calls,
 * reading delivered files, and the trail tables read the same way on either store.
 *
 * With FLINKTRAIL_TEST_STORE=postgres every app keeps its events, identities and trails in
 * a database of its own on the PostgreSQL at FLINKTRAIL_TEST_POSTGRES_URL (or a throwaway cluster
 * started for it), dropped on close; otherwise in its data directory's SQLite database.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { buildApp, type App, type ListenInfo } from '../../../src/app.js';
import { buildConfig } from '../../../src/config/index.js';
import type { ActionTrailEvent } from '../../../src/event/types.js';
import { createLogger } from '../../../src/telemetry/logger.js';
import { decodeFile } from '../../../src/trails/layout.js';
import { basic, makeKey, tempDir, TEST_STORE, type Credentials } from '../../helpers/flinktrail.js';
import { ownDatabase, type OwnDatabase } from '../../helpers/postgres.js';

export interface TrailApp {
  app: App;
  info: ListenInfo;
  dataDir: string;
  cred: Credentials;
  /** Where this app keeps its trails. */
  store: 'sqlite' | 'postgres';
  call<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  /**
   * Rows of a query on the app's trail tables (`trail_files`, `trail_digest_chains`, …), for what
   * no API shows (cut times, chain ends, a job's end seq, a URL as stored). The SQL must read the
   * same on SQLite and PostgreSQL; `?` placeholders, lower-case column aliases. Integers come back
   * as numbers on both (PostgreSQL's bigint, COUNT and MAX included; not numeric: no SUM).
   */
  trailRows<R extends Record<string, unknown>>(sql: string, ...params: unknown[]): Promise<R[]>;
  close(): Promise<void>;
}

/** `existing`: a key the data directory's store has already (a restart on it); default: a new admin key made where the app reads keys. */
export async function startTrailApp(extra: Record<string, unknown> = {}, dataDir = tempDir('ft-trails-'), existing?: Credentials): Promise<TrailApp> {
  const pgDb = TEST_STORE === 'postgres' ? await ownDatabase('ft_trails') : undefined;
  let app: App | undefined;
  try {
    const cred = existing ?? (await makeKey(dataDir, 'alice', 'admin', undefined, undefined, pgDb ? { storeUrl: pgDb.url } : {}));
    const { trails, ...rest } = extra as { trails?: Record<string, unknown> };
    const config = buildConfig({
      dataDir,
      api: { port: 0 },
      log: { level: 'warn' },
      trails: { windowSeconds: 1, pollIntervalMs: 50, minDigestIntervalSeconds: 1, stopTimeoutMs: 2000, retry: { initialBackoffMs: 100, maxBackoffMs: 1000 }, ...trails },
      ...(pgDb ? { store: { url: pgDb.url } } : {}),
      ...rest,
    });
    app = await buildApp(config, { log: createLogger('warn') });
    const info = await app.listen();
    return trailApp(app, info, dataDir, cred, pgDb);
  } catch (err) {
    await app?.close().catch(() => undefined);
    await pgDb?.drop();
    throw err;
  }
}

function trailApp(app: App, info: ListenInfo, dataDir: string, cred: Credentials, pgDb: OwnDatabase | undefined): TrailApp {
  let closed: Promise<void> | undefined;
  return {
    app,
    info,
    dataDir,
    cred,
    store: pgDb ? 'postgres' : 'sqlite',
    async call<T>(method: string, path: string, body?: unknown) {
      const res = await fetch(`${info.apiUrl}${path}`, {
        method,
        headers: { authorization: basic(cred), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      return { status: res.status, body: (await res.json()) as T };
    },
    async trailRows<R extends Record<string, unknown>>(sql: string, ...params: unknown[]) {
      if (!pgDb) return app.db.prepare(sql).all(...params) as R[];
      let n = 0;
      return (await pgDb.pool.query(sql.replace(/\?/g, () => `$${++n}`), params)).rows as R[];
    },
    close: () =>
      (closed ??= (async () => {
        try {
          await app.close();
        } finally {
          await pgDb?.drop();
        }
      })()),
  };
}

/** Every log file under a directory destination: key (relative) → events. */
export function readLogFiles(root: string): Map<string, ActionTrailEvent[]> {
  const out = new Map<string, ActionTrailEvent[]>();
  const walk = (dir: string) => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(dir, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (/^Actiontrail_.*\.gz$/.test(n)) out.set(p.slice(root.length + 1), decodeFile(readFileSync(p)));
    }
  };
  walk(join(root, 'AliyunLogs'));
  return out;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` until it returns a value (not undefined) or the time is up. */
export async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Counts of each eventId; asserts helpers use it to find duplicates. */
export function countIds(events: Iterable<ActionTrailEvent>): Map<string, number> {
  const m = new Map<string, number>();
  for (const e of events) m.set(e.eventId, (m.get(e.eventId) ?? 0) + 1);
  return m;
}

/** Newest modification time of the TypeScript sources (to tell whether dist/ is current). */
function newestSource(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

let useDist: boolean | undefined;

/**
 * Runs the flinktrail CLI: the built one (bin/flinktrail.mjs, as users run it) when dist/ is
 * newer than the sources (npm test builds first), else from the sources through tsx.
 */
export async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const { spawn } = await import('node:child_process');
  const { existsSync } = await import('node:fs');
  const { fileURLToPath } = await import('node:url');
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  const built = join(root, 'dist', 'cli', 'index.js');
  useDist ??= existsSync(built) && statSync(built).mtimeMs > newestSource(join(root, 'src'));
  const entry = useDist ? built : join(root, 'src', 'cli', 'index.ts');
  const code = `const m = await import(${JSON.stringify(entry)}); await m.run(['node', 'flinktrail', ...JSON.parse(process.env.FT_CLI_ARGS)]);`;
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [...(useDist ? [] : ['--import', 'tsx']), '--input-type=module', '-e', code], {
      env: { ...process.env, ...env, FT_CLI_ARGS: JSON.stringify(args), NODE_NO_WARNINGS: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 120_000);
    p.once('error', reject);
    p.once('exit', (c) => {
      clearTimeout(timer);
      resolve({ code: c ?? -1, stdout, stderr });
    });
  });
}
