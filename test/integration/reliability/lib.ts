/**
 * Shared by the reliability tests: FlinkTrail as a child process on a given data directory
 * (restartable after kill -9), what /proc says about it, the events in its store, and a small
 * keep-alive HTTP client that records what the caller actually saw (status, X-Request-Id).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Pool } from 'undici';
import type { ActionTrailEvent } from '../../../src/event/types.js';
import { BODY_COLUMNS, BodyCodec, type BodyRow } from '../../../src/store/sqlite/body-codec.js';
import { PostgresEventStore } from '../../../src/store/postgres/events.js';
import { startChild, type ChildServer } from '../../helpers/flinktrail.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1]) / 1024;
}

export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** A fresh 32-hex job id, as Flink uses; Flink answers 404 for it. */
export function fakeJobId(): string {
  return randomBytes(16).toString('hex');
}

export interface Seen {
  status: number;
  requestId?: string;
  body: string;
}

/**
 * One keep-alive pool per server URL. `send` never throws: a connection that dies before the
 * answer is `status: 0` (the client never saw an acknowledgement).
 */
export class Client {
  private pool: Pool;
  constructor(
    origin: string,
    private readonly authorization: string,
    connections = 8,
  ) {
    this.pool = new Pool(origin, { connections, pipelining: 1, keepAliveTimeout: 10_000 });
  }

  async send(method: 'GET' | 'POST' | 'PATCH', path: string, body?: string, headers: Record<string, string> = {}): Promise<Seen> {
    try {
      const res = await this.pool.request({
        method,
        path,
        // A User-Agent, as scripts and SDKs send: FlinkTrail's own errors then come in
        // ActionTrail's shape ({RequestId, Code, Message}), not the one for Flink's Java client.
        headers: { authorization: this.authorization, 'user-agent': 'flinktrail-reliability-test', ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
        ...(body !== undefined ? { body } : {}),
        headersTimeout: 30_000,
        bodyTimeout: 30_000,
      });
      const text = await res.body.text();
      const rid = res.headers['x-request-id'];
      return { status: res.statusCode, ...(typeof rid === 'string' ? { requestId: rid } : {}), body: text };
    } catch (err) {
      return { status: 0, body: (err as Error).message };
    }
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}

/** Every event in the store of `dataDir`, read directly (read-only; the server may be running). */
export function storedEvents(dataDir: string): ActionTrailEvent[] {
  const db = new Database(join(dataDir, 'flinktrail.db'), { readonly: true });
  try {
    db.pragma('busy_timeout = 5000');
    const codec = new BodyCodec(db);
    return (db.prepare(`SELECT ${BODY_COLUMNS} FROM events e ORDER BY e.seq`).all() as BodyRow[]).map((r) => codec.decode(r));
  } finally {
    db.close();
  }
}

export function groupBy<T>(items: T[], key: (t: T) => string | undefined): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const it of items) {
    const k = key(it);
    if (k === undefined) continue;
    m.set(k, [...(m.get(k) ?? []), it]);
  }
  return m;
}

/** Starts FlinkTrail on `dataDir` with its gateway origin and prefix. */
export async function serve(flinkUrl: string, dataDir: string, args: string[] = []): Promise<ChildServer & { origin: string; prefix: string }> {
  const child = await startChild(flinkUrl, dataDir, args);
  const u = new URL(child.gatewayUrl);
  return Object.assign(child, { origin: u.origin, prefix: u.pathname.replace(/\/$/, '') });
}

/** A metric's value from /metrics (sum over its label sets), 0 when absent. */
export async function metric(apiUrl: string, authorization: string, name: string): Promise<number> {
  const text = await (await fetch(`${apiUrl}/metrics`, { headers: { authorization } })).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

export type Phase = 'before' | 'outage' | 'after';

export interface Call {
  kind: 'read' | 'write';
  phase: Phase;
  seen: Seen;
}

/**
 * Outage tests' traffic through the gateway at `prefix`: two readers (overview, jobs, config)
 * and one writer (cancelling a job that does not exist: Flink answers 404 once it is let
 * through), every call kept with the phase it was sent in.
 */
export function traffic(client: Client, prefix: string, pauses = { readMs: 5, writeMs: 20 }): { calls: Call[]; phase: Phase; stop(): Promise<void> } {
  const state = { calls: [] as Call[], phase: 'before' as Phase, stopped: false };
  const reader = async () => {
    const paths = ['/overview', '/jobs/overview', '/config'];
    for (let i = 0; !state.stopped; i++) {
      const p = state.phase;
      state.calls.push({ kind: 'read', phase: p, seen: await client.send('GET', `${prefix}${paths[i % paths.length]}`) });
      await sleep(pauses.readMs);
    }
  };
  const writer = async () => {
    while (!state.stopped) {
      const p = state.phase;
      state.calls.push({ kind: 'write', phase: p, seen: await client.send('PATCH', `${prefix}/jobs/${fakeJobId()}?mode=cancel`) });
      await sleep(pauses.writeMs);
    }
  };
  const loops = [reader(), reader(), writer()];
  return Object.assign(state, {
    async stop() {
      state.stopped = true;
      await Promise.all(loops);
    },
  });
}

/**
 * Waits until every call Flink answered (200 reads, 404 writes: let through) has its event among
 * the request ids `stored()` returns; how many ms that took. Fails after `timeoutMs`, saying how many
 * are missing and `since` what.
 */
export async function allAnsweredStored(calls: readonly Call[], stored: () => Promise<Iterable<string | undefined>> | Iterable<string | undefined>, timeoutMs: number, since: string): Promise<number> {
  const wanted = calls.filter((c) => c.seen.status === 200 || c.seen.status === 404).map((c) => c.seen.requestId as string);
  const t = Date.now();
  for (;;) {
    const have = new Set(await stored());
    if (wanted.every((rid) => have.has(rid))) return Date.now() - t;
    if (Date.now() - t > timeoutMs) assert.fail(`${wanted.filter((rid) => !have.has(rid)).length} of ${wanted.length} answered calls still have no event ${timeoutMs / 1000} s after ${since}`);
    await sleep(Math.min(500, timeoutMs / 50));
  }
}

/** Every event of a PostgreSQL store, in position order, read through the store contract (bodies decoded however they are kept). */
export async function allPostgresEvents(url: string): Promise<ActionTrailEvent[]> {
  const store = await PostgresEventStore.open({ url, poolMax: 2 });
  try {
    const out: ActionTrailEvent[] = [];
    for (let after = 0; ; ) {
      const page = await store.scan(after, 1000);
      if (page.length === 0) return out;
      for (const p of page) out.push(p.event);
      after = page[page.length - 1]?.seq ?? after;
    }
  } finally {
    await store.close();
  }
}
