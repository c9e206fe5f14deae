/**
 * An open-loop, fixed-rate HTTP load generator, run as its own process by bench/lib/rate.ts.
 *
 * wrk (closed loop) measures the most a path can carry; "added latency at 500 requests/s" needs
 * requests sent on a schedule whether or not earlier ones have been answered, with sub-
 * millisecond resolution. autocannon's fixed-rate mode records latency in whole milliseconds,
 * too coarse for a 2 ms goal, so this client times each request with hrtime from the moment it
 * is handed to the socket to the last byte of the answer, per request kind (read / write).
 *
 *   node --import tsx bench/lib/rate-client.ts '<json RateSpec>'   → one JSON line on stdout
 */
import { Pool } from 'undici';
import { summarize, type Summary } from './stats.js';

export interface RateRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  body?: string;
  kind: string;
}

export interface RateSpec {
  origin: string;
  requests: RateRequest[];
  headers?: Record<string, string>;
  /** Requests per second, spread evenly. */
  rate: number;
  seconds: number;
  connections?: number;
}

export interface RateResult {
  sent: number;
  completed: number;
  achievedRate: number;
  /** How late requests left compared with their schedule (ms): the client's own jitter. */
  sendLag: Summary;
  byKind: Record<string, Summary>;
  statuses: Record<string, number>;
  errors: number;
  firstError?: string;
}

export async function runRate(spec: RateSpec): Promise<RateResult> {
  const pool = new Pool(spec.origin, { connections: spec.connections ?? 64, pipelining: 1, keepAliveTimeout: 30_000 });
  const lat: Record<string, number[]> = {};
  const statuses: Record<string, number> = {};
  const lags: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let completed = 0;
  const inflight = new Set<Promise<void>>();
  const fire = (r: RateRequest) => {
    const t = process.hrtime.bigint();
    const p = (async () => {
      try {
        const res = await pool.request({
          method: r.method,
          path: r.path,
          headers: { ...spec.headers, ...(r.body !== undefined ? { 'content-type': 'application/json' } : {}) },
          ...(r.body !== undefined ? { body: r.body } : {}),
          headersTimeout: 30_000,
          bodyTimeout: 30_000,
        });
        await res.body.dump();
        const ms = Number(process.hrtime.bigint() - t) / 1e6;
        (lat[r.kind] ??= []).push(ms);
        statuses[String(res.statusCode)] = (statuses[String(res.statusCode)] ?? 0) + 1;
        completed++;
      } catch (err) {
        errors++;
        firstError ??= (err as Error).message;
      }
    })();
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  };

  const interval = 1000 / spec.rate;
  const total = Math.round(spec.rate * spec.seconds);
  const t0 = performance.now();
  let i = 0;
  while (i < total) {
    const now = performance.now();
    while (i < total && t0 + i * interval <= now) {
      lags.push(now - (t0 + i * interval));
      fire(spec.requests[i % spec.requests.length] as RateRequest);
      i++;
    }
    const next = t0 + i * interval - performance.now();
    await new Promise((r) => setTimeout(r, Math.max(0, Math.min(next, 5))));
  }
  const elapsed = (performance.now() - t0) / 1000;
  const drain = Date.now() + 30_000;
  while (inflight.size && Date.now() < drain) await Promise.race([...inflight, new Promise((r) => setTimeout(r, 100))]);
  await pool.close();
  const byKind: Record<string, Summary> = {};
  for (const [k, v] of Object.entries(lat)) byKind[k] = summarize(v);
  return { sent: i, completed, achievedRate: i / elapsed, sendLag: summarize(lags), byKind, statuses, errors, ...(firstError ? { firstError } : {}) };
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  const spec = JSON.parse(process.argv[2] ?? '{}') as RateSpec;
  runRate(spec).then(
    (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
    (err: unknown) => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
