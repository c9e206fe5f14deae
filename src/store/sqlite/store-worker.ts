/**
 * One thread of the worker-backed store (see `worker-store.ts`): its own SQLite connection and
 * an `SqliteEventStore` on it, answering the calls the main thread posts.
 *
 * The writer thread commits (journal, batched appends and completions, purge, recovery) and so
 * also runs SQLite's WAL checkpoints; reader threads open the database read-only and answer
 * lookups, scans, gets and histograms. Nothing here touches the thread that proxies Flink.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { eventHistogram, type HistogramQuery } from '../../query/histogram.js';
import type { ActionTrailEvent } from '../../event/types.js';
import { openDatabase } from './database.js';
import { SqliteEventStore } from './events.js';
import type { StoreWorkerData, StoreCall, StoreReply, WorkerNotice } from './worker-protocol.js';

const data = workerData as StoreWorkerData;
const port = parentPort;
if (!port) throw new Error('store-worker.ts runs only as a worker thread.');

const db = openDatabase(data.dataDir, data.role === 'reader' ? { readonly: true } : { synchronous: data.synchronous });
const store = new SqliteEventStore(db, {
  flushIntervalMs: data.flushIntervalMs,
  maxQueue: data.maxQueue,
  ...(data.planProbe !== undefined ? { planProbe: data.planProbe } : {}),
  ...(data.scanBudget !== undefined ? { scanBudget: data.scanBudget } : {}),
  onFlushError: (err, queued) => port.postMessage({ notice: 'flushError', message: err.message, queued } satisfies WorkerNotice),
});

/** Test hook: every read also holds this thread for the given time, as a slow query would. */
const holdMs = Number(process.env['FLINKTRAIL_TEST_STORE_READ_HOLD_MS'] ?? 0);
function hold(): void {
  if (holdMs > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, holdMs);
}

async function answer(call: StoreCall): Promise<unknown> {
  switch (call.op) {
    case 'journal':
      return store.journal(call.event);
    case 'enqueue':
      // One message carries every append and completion the main thread made in one turn; each
      // settles on its own (they may fall into different commits).
      return Promise.all(
        call.items.map((i: { kind: 'insert' | 'complete'; event: ActionTrailEvent }) =>
          (i.kind === 'insert' ? store.append(i.event) : store.complete(i.event)).then(
            () => null,
            (err: Error) => err.message,
          ),
        ),
      );
    case 'lookup':
      hold();
      return store.lookup(call.request);
    case 'get':
      hold();
      return store.get(call.eventId);
    case 'existing':
      return store.existing(call.eventIds);
    case 'scan':
      return store.scan(call.afterSeq, call.limit);
    case 'lastSeq':
      return store.lastSeq();
    case 'histogram':
      hold();
      return eventHistogram(db, call.query as HistogramQuery);
    case 'resolvePending':
      return store.resolvePending(call.message);
    case 'purge':
      return store.purge(call.before);
    case 'close':
      await store.close();
      // Every other call's answer is posted before this one: the main thread ends the thread
      // on this answer, and an append committed by the close must not be reported as refused.
      await Promise.allSettled([...replying]);
      db.close();
      return null;
  }
}

/** Answers still being made (awaited by `close`, apart from its own). */
const replying = new Set<Promise<void>>();

port.on('message', (msg: { id: number; call: StoreCall }) => {
  const reply = answer(msg.call).then(
    (value) => port.postMessage({ id: msg.id, ok: true, value } satisfies StoreReply),
    (err: unknown) => {
      const e = err instanceof Error ? err : new Error(String(err));
      port.postMessage({ id: msg.id, ok: false, message: e.message, ...((e as { code?: unknown }).code !== undefined ? { code: String((e as { code?: unknown }).code) } : {}) } satisfies StoreReply);
    },
  );
  if (msg.call.op === 'close') return;
  replying.add(reply);
  void reply.finally(() => replying.delete(reply));
});
port.postMessage({ notice: 'ready' } satisfies WorkerNotice);
