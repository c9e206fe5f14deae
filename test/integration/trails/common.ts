/** Shared pieces of the trails suites: an in-process FlinkTrail with an admin key, API calls, reading delivered files. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { buildApp, type App, type ListenInfo } from '../../../src/app.js';
import { buildConfig } from '../../../src/config/index.js';
import type { ActionTrailEvent } from '../../../src/event/types.js';
import { createLogger } from '../../../src/telemetry/logger.js';
import { decodeFile } from '../../../src/trails/layout.js';
import { basic, makeKey, tempDir, type Credentials } from '../../helpers/flinktrail.js';

export interface TrailApp {
  app: App;
  info: ListenInfo;
  dataDir: string;
  cred: Credentials;
  call<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  close(): Promise<void>;
}

/** `cred`: a key the data directory's store has already (a restart on it); default: a new admin key made in the directory. */
export async function startTrailApp(extra: Record<string, unknown> = {}, dataDir = tempDir('ft-trails-'), existing?: Credentials): Promise<TrailApp> {
  const cred = existing ?? (await makeKey(dataDir, 'alice', 'admin'));
  const { trails, ...rest } = extra as { trails?: Record<string, unknown> };
  const config = buildConfig({
    dataDir,
    api: { port: 0 },
    log: { level: 'warn' },
    trails: { windowSeconds: 1, pollIntervalMs: 50, minDigestIntervalSeconds: 1, stopTimeoutMs: 2000, retry: { initialBackoffMs: 100, maxBackoffMs: 1000 }, ...trails },
    ...rest,
  });
  const app = await buildApp(config, { log: createLogger('warn') });
  const info = await app.listen();
  return {
    app,
    info,
    dataDir,
    cred,
    async call<T>(method: string, path: string, body?: unknown) {
      const res = await fetch(`${info.apiUrl}${path}`, {
        method,
        headers: { authorization: basic(cred), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      return { status: res.status, body: (await res.json()) as T };
    },
    close: () => app.close(),
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
