/**
 * Lifecycle of the servers a test file starts (Flink, Kafka, S3, rsyslog, OpenID providers,
 * FlinkTrail itself). Every start helper registers what it started, so a suite whose `before`
 * fails half-way — or whose `Promise.all` of starts rejects while other starts still run —
 * leaves nothing behind:
 *
 * - under the test runner a root `after` waits for every start still under way, then stops
 *   every server not stopped yet (suites' own `after` hooks stop theirs first; stops are
 *   idempotent);
 * - on exit, process groups still registered get SIGKILL (nothing async runs then), and when the
 *   file failed, the tail of each server's logs is printed: a failing suite shows what its
 *   servers said.
 *
 * scripts/test-all.sh sweeps whatever still runs under the run's .it dir as a last resort.
 */
import { existsSync, readFileSync } from 'node:fs';
import { after } from 'node:test';

export interface Registration {
  name: string;
  stop(): Promise<void>;
  /** Leaders of process groups started with setsid (killed as groups on exit). */
  groups?: number[];
  /** Plain child processes (killed on exit). */
  pids?: number[];
  logs?: string[];
}

interface Entry extends Registration {
  readonly stopOnce: () => Promise<void>;
}

const pending = new Set<Promise<unknown>>();
const running = new Set<Entry>();
const everStarted: Entry[] = [];
const TAIL_LINES = 40;

/** Tracks a start under way: the root `after` waits for it before stopping what it started. */
export function starting<T>(start: Promise<T>): Promise<T> {
  pending.add(start);
  const forget = () => pending.delete(start);
  start.then(forget, forget);
  return start;
}

/** Registers a started server; returns its stop, idempotent, to use instead of `r.stop`. */
export function register(r: Registration): () => Promise<void> {
  let stopped: Promise<void> | undefined;
  const entry: Entry = {
    ...r,
    stopOnce: () =>
      (stopped ??= r.stop().finally(() => {
        running.delete(entry);
      })),
  };
  running.add(entry);
  everStarted.push(entry);
  return entry.stopOnce;
}

async function stopAll(): Promise<void> {
  while (pending.size > 0) await Promise.allSettled([...pending]);
  const results = await Promise.allSettled([...running].map((e) => e.stopOnce()));
  for (const r of results) if (r.status === 'rejected') process.stderr.write(`# stopping a server failed: ${String(r.reason)}\n`);
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-TAIL_LINES - 1).join('\n');
  } catch (err) {
    return `(unreadable: ${(err as Error).message})`;
  }
}

function onExit(code: number): void {
  for (const e of running) {
    for (const g of e.groups ?? []) killQuietly(-g);
    for (const p of e.pids ?? []) killQuietly(p);
  }
  if (code === 0) return;
  for (const e of everStarted) {
    for (const f of e.logs ?? []) {
      if (!existsSync(f)) continue;
      process.stderr.write(`\n# ---- ${e.name}: last ${TAIL_LINES} lines of ${f}\n${tail(f)}\n`);
    }
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

// Only inside the test runner (benchmarks import the same start helpers and stop their servers themselves).
if (process.env['NODE_TEST_CONTEXT'] !== undefined) {
  after(stopAll);
  process.on('exit', onExit);
}
