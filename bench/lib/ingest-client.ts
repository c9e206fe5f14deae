/**
 * HTTP ingest clients for the ingest benchmark, run as their own process (ingest-load.ts) so that
 * preparing and sending bodies competes with FlinkTrail only as another process would.
 *
 * `clients` loops each POST the next NDJSON batch to `POST /api/v1/events` as soon as their last
 * one is answered (closed loop), for `seconds`. The batches are realistic generated events
 * (generate.ts), serialized once before the clock starts; so that a record is never sent twice,
 * every pass over them writes its pass number over the first 8 hex digits of each eventId (still
 * a UUID), in a copy of the body — a memcpy per batch, not a serialization.
 *
 *   node --import tsx bench/lib/ingest-client.ts '<json IngestLoadSpec>'
 *   → `ready` on stdout once the bodies are built; reads one line on stdin to start; then one JSON line.
 */
import { createInterface } from 'node:readline';
import { Pool } from 'undici';
import { Generator, makeWorld } from './generate.js';
import { summarize, type Summary } from './stats.js';

export interface IngestLoadSpec {
  /** FlinkTrail's API origin, e.g. http://127.0.0.1:8470 */
  origin: string;
  authorization: string;
  /** Concurrent clients (one connection each). */
  clients: number;
  seconds: number;
  /** Records per request. */
  batch: number;
  /** Distinct records serialized up front (reused with fresh eventIds on every pass). */
  pool: number;
  /** Event times are spread over [timeFrom, timeTo] (epoch ms). */
  timeFrom: number;
  timeTo: number;
  seed: number;
  /** Batches sent (and answered) before the clock starts: threads started, code compiled. */
  warmup: number;
}

export interface IngestLoadResult {
  /** Epoch ms when the first timed batch was sent, and when the last one was answered. */
  startedAt: number;
  lastAckAt: number;
  batches: number;
  /** Records the answers counted `accepted` (timed batches), and those of the warm-up. */
  accepted: number;
  warmupAccepted: number;
  duplicates: number;
  rejected: number;
  /** Requests that failed or were answered other than 200. */
  errors: number;
  firstError?: string;
  statuses: Record<string, number>;
  /** Request latency (ms), from sending a batch to its whole answer: its records are committed then. */
  latency: Summary;
  /** Body bytes of one batch (mean). */
  batchBytes: number;
}

const ID_AT = '{"eventId":"';

interface Body {
  bytes: Buffer;
  /** Offsets of each record's eventId. */
  ids: number[];
}

function buildBodies(spec: IngestLoadSpec): Body[] {
  const gen = new Generator(makeWorld(spec.seed), spec.seed);
  const step = (spec.timeTo - spec.timeFrom) / spec.pool;
  const bodies: Body[] = [];
  for (let from = 0; from < spec.pool; from += spec.batch) {
    const lines: string[] = [];
    const ids: number[] = [];
    let offset = 0;
    for (let i = from; i < Math.min(spec.pool, from + spec.batch); i++) {
      const line = JSON.stringify(gen.event(Math.floor(spec.timeFrom + i * step), i));
      if (!line.startsWith(ID_AT)) throw new Error('a generated record does not start with its eventId');
      ids.push(offset + ID_AT.length);
      offset += Buffer.byteLength(line) + 1;
      lines.push(line);
    }
    const bytes = Buffer.from(`${lines.join('\n')}\n`);
    bodies.push({ bytes, ids });
  }
  return bodies;
}

/** Batch `n` of the endless sequence: body n mod size, its eventIds marked with pass n / size. */
function nth(bodies: Body[], n: number): Buffer {
  const b = bodies[n % bodies.length] as Body;
  const copy = Buffer.from(b.bytes);
  const pass = Math.floor(n / bodies.length).toString(16).padStart(8, '0');
  for (const at of b.ids) copy.write(pass, at, 'latin1');
  return copy;
}

export async function runIngestLoad(spec: IngestLoadSpec, go: Promise<void>, ready: () => void): Promise<IngestLoadResult> {
  const bodies = buildBodies(spec);
  const pool = new Pool(spec.origin, { connections: spec.clients, pipelining: 1, keepAliveTimeout: 60_000 });
  const headers = { authorization: spec.authorization, 'content-type': 'application/x-ndjson' };
  let next = 0;
  const statuses: Record<string, number> = {};
  const r = { accepted: 0, duplicates: 0, rejected: 0, errors: 0, batches: 0, firstError: undefined as string | undefined };
  const post = async (n: number): Promise<{ accepted: number; ms: number } | undefined> => {
    const body = nth(bodies, n);
    const t = performance.now();
    try {
      const res = await pool.request({ method: 'POST', path: '/api/v1/events', headers, body, headersTimeout: 120_000, bodyTimeout: 120_000 });
      const text = await res.body.text();
      statuses[String(res.statusCode)] = (statuses[String(res.statusCode)] ?? 0) + 1;
      if (res.statusCode !== 200) {
        r.errors++;
        r.firstError ??= `${res.statusCode} ${text.slice(0, 300)}`;
        return undefined;
      }
      const answer = JSON.parse(text) as { accepted: number; duplicates: number; rejected: unknown[] };
      r.duplicates += answer.duplicates;
      r.rejected += answer.rejected.length;
      if (answer.rejected.length) r.firstError ??= JSON.stringify(answer.rejected[0]).slice(0, 300);
      return { accepted: answer.accepted, ms: performance.now() - t };
    } catch (err) {
      r.errors++;
      r.firstError ??= (err as Error).message;
      return undefined;
    }
  };
  let warmupAccepted = 0;
  for (let i = 0; i < spec.warmup; i++) warmupAccepted += (await post(next++))?.accepted ?? 0;
  ready();
  await go;
  const lat: number[] = [];
  const startedAt = Date.now();
  const end = performance.now() + spec.seconds * 1000;
  let lastAckAt = startedAt;
  await Promise.all(
    Array.from({ length: spec.clients }, async () => {
      while (performance.now() < end) {
        const done = await post(next++);
        if (!done) continue;
        r.batches++;
        r.accepted += done.accepted;
        lat.push(done.ms);
        lastAckAt = Date.now();
      }
    }),
  );
  await pool.close();
  const { firstError, ...counts } = r;
  return {
    startedAt,
    lastAckAt,
    ...counts,
    warmupAccepted,
    ...(firstError ? { firstError } : {}),
    statuses,
    latency: summarize(lat),
    batchBytes: bodies.reduce((s, b) => s + b.bytes.length, 0) / bodies.length,
  };
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  const spec = JSON.parse(process.argv[2] ?? '{}') as IngestLoadSpec;
  const lines = createInterface({ input: process.stdin });
  const go = new Promise<void>((resolve) => lines.once('line', () => resolve()));
  runIngestLoad(spec, go, () => process.stdout.write('ready\n')).then(
    (result) => {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      lines.close();
    },
    (err: unknown) => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
