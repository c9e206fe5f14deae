/**
 * The embedded store, off the request thread.
 *
 * better-sqlite3 is synchronous: on the thread that proxies Flink, every commit, checkpoint and
 * query would stall every request through the gateway for as long as it runs (an auditor's
 * histogram over a month stalled Flink operations for a second). So the store runs in worker
 * threads, each with its own connection to the same WAL database:
 *
 * - one **writer** commits journaled writes (one by one: the fail-closed gate), batched appends
 *   and completions, purges and recovery — and, since it commits, SQLite's WAL checkpoints;
 * - `readers` read-only threads answer lookups, gets, scans and histograms, each call going to
 *   the reader with the fewest calls in flight, so one slow query leaves the others free.
 *
 * WAL gives each read a consistent snapshot of committed data: an event whose append has
 * resolved is visible to the next read on any thread. Appends and completions made in one turn
 * of the main loop travel in one message. A thread that dies fails its calls in flight
 * (journal callers fail closed) and is started again for the next call.
 */
import type { ActionTrailEvent } from '../../event/types.js';
import type { Histogram, HistogramQuery } from '../../query/histogram.js';
import type { EventStore, LookupPage, LookupRequest, Positioned } from '../types.js';
import { ThreadError as StoreError, WorkerThread, workerFile } from '../../threads/worker-thread.js';
import type { StoreCall, StoreWorkerData, WorkerNotice } from './worker-protocol.js';

export interface WorkerEventStoreOptions {
  dataDir: string;
  synchronous: 'full' | 'normal';
  flushIntervalMs: number;
  /** Page cache of each thread's connection, MiB (default: `DEFAULT_CACHE_MB`). */
  cacheMb?: number;
  /** Reader threads (at least 1). */
  readers: number;
  /** How many Linux nice steps below the request thread the readers run (0–19), so queries yield to Flink's requests. Default 0. */
  readerNice?: number;
  maxQueue?: number;
  planProbe?: number;
  scanBudget?: number;
  /** The management account (see SqliteEventStoreOptions). */
  managementAccountId?: string;
  onFlushError?: (err: Error, queued: number) => void;
}

const WORKER_FILE = workerFile(import.meta.url, 'store-worker');
const CLOSED = 'The event store is closed.';

type Thread = WorkerThread<StoreCall>;

function thread(data: StoreWorkerData, nice: number, onFlushError?: (err: Error, queued: number) => void): Thread {
  return new WorkerThread<StoreCall>({
    file: WORKER_FILE,
    name: `flinktrail-store-${data.role}`,
    data,
    nice,
    closeCall: { op: 'close' },
    closedMessage: CLOSED,
    onNotice: (n) => {
      const notice = n as WorkerNotice;
      if (notice.notice === 'flushError') onFlushError?.(new Error(notice.message), notice.queued);
    },
  });
}

export class WorkerEventStore implements EventStore {
  private readonly writer: Thread;
  private readonly readers: Thread[];
  /** Appends and completions of the current turn, sent together. */
  private batch: { kind: 'insert' | 'complete'; event: ActionTrailEvent; resolve: () => void; reject: (e: Error) => void }[] = [];
  private closed = false;

  private constructor(opts: WorkerEventStoreOptions) {
    const base = {
      dataDir: opts.dataDir,
      synchronous: opts.synchronous,
      flushIntervalMs: opts.flushIntervalMs,
      ...(opts.cacheMb !== undefined ? { cacheMb: opts.cacheMb } : {}),
      maxQueue: opts.maxQueue ?? 100_000,
      ...(opts.planProbe !== undefined ? { planProbe: opts.planProbe } : {}),
      ...(opts.scanBudget !== undefined ? { scanBudget: opts.scanBudget } : {}),
      ...(opts.managementAccountId !== undefined ? { managementAccountId: opts.managementAccountId } : {}),
    };
    this.writer = thread({ ...base, role: 'writer' }, 0, opts.onFlushError);
    this.readers = Array.from({ length: Math.max(1, opts.readers) }, () => thread({ ...base, role: 'reader' }, opts.readerNice ?? 0));
  }

  /** Starts the threads; the database must exist and be migrated (`openDatabase` on the main thread). */
  static async open(opts: WorkerEventStoreOptions): Promise<WorkerEventStore> {
    const store = new WorkerEventStore(opts);
    try {
      await Promise.all([store.writer.start(), ...store.readers.map((r) => r.start())]);
    } catch (err) {
      await store.close().catch(() => undefined);
      throw err;
    }
    return store;
  }

  private reader(): Thread {
    let best = this.readers[0] as Thread;
    for (const r of this.readers) if (r.inFlight < best.inFlight) best = r;
    return best;
  }

  journal(event: ActionTrailEvent): Promise<void> {
    if (this.closed) return Promise.reject(new StoreError(CLOSED));
    return this.writer.call({ op: 'journal', event });
  }

  complete(event: ActionTrailEvent): Promise<void> {
    return this.enqueue('complete', event);
  }

  append(event: ActionTrailEvent): Promise<void> {
    return this.enqueue('insert', event);
  }

  appendSerialized(eventsJson: string): Promise<number[]> {
    if (this.closed) return Promise.reject(new StoreError(CLOSED));
    return this.writer.call({ op: 'appendSerialized', json: eventsJson });
  }

  private enqueue(kind: 'insert' | 'complete', event: ActionTrailEvent): Promise<void> {
    if (this.closed) return Promise.reject(new StoreError(CLOSED));
    return new Promise((resolve, reject) => {
      if (this.batch.length === 0) setImmediate(() => this.send());
      this.batch.push({ kind, event, resolve, reject });
    });
  }

  private send(): void {
    const batch = this.batch;
    this.batch = [];
    if (batch.length === 0) return;
    this.writer.call<(string | null)[]>({ op: 'enqueue', items: batch.map(({ kind, event }) => ({ kind, event })) }).then(
      (results) =>
        batch.forEach((p, i) => {
          const err = results[i];
          if (err) p.reject(new StoreError(err));
          else p.resolve();
        }),
      (err: Error) => {
        for (const p of batch) p.reject(err);
      },
    );
  }

  lookup(req: LookupRequest): Promise<LookupPage> {
    return this.reader().call({ op: 'lookup', request: req });
  }

  get(eventId: string): Promise<ActionTrailEvent | undefined> {
    return this.reader().call({ op: 'get', eventId });
  }

  existing(eventIds: readonly string[]): Promise<Set<string>> {
    // On the writer: index probes of microseconds, and never queued behind a slow query that
    // occupies the readers (an ingest must not wait for an auditor's lookup).
    return this.writer.call({ op: 'existing', eventIds });
  }

  scan(afterSeq: number, limit: number): Promise<Positioned[]> {
    return this.reader().call({ op: 'scan', afterSeq, limit });
  }

  lastSeq(): Promise<number> {
    return this.reader().call({ op: 'lastSeq' });
  }

  histogram(q: HistogramQuery): Promise<Histogram> {
    return this.reader().call({ op: 'histogram', query: q });
  }

  resolvePending(message: string, before?: number): Promise<number> {
    return this.writer.call({ op: 'resolvePending', message, ...(before !== undefined ? { before } : {}) });
  }

  purge(before: number): Promise<number> {
    return this.writer.call({ op: 'purge', before });
  }

  /** Sends what is queued, lets the writer commit it, and stops every thread. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.send();
    this.closed = true;
    await Promise.allSettled([this.writer.stop(), ...this.readers.map((r) => r.stop())]);
  }
}
