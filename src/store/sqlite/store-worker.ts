/**
 * One thread of the worker-backed store (see `worker-store.ts`): its own SQLite connection and
 * an `SqliteEventStore` on it, answering the calls the main thread posts.
 *
 * The writer thread commits (journal, batched appends and completions, purge, recovery) and so
 * also runs SQLite's WAL checkpoints; reader threads open the database read-only and answer
 * lookups, scans, gets and histograms. Nothing here touches the thread that proxies Flink.
 */
import { parentPort } from 'node:worker_threads';
import type { HistogramQuery } from '../../query/histogram.js';
import type { ActionTrailEvent } from '../../event/types.js';
import { openDatabase } from './database.js';
import { SqliteEventStore } from './events.js';
import { serveCalls, threadData } from '../../threads/worker-thread.js';
import type { StoreCall, StoreWorkerData, WorkerNotice } from './worker-protocol.js';

const data = threadData<StoreWorkerData>();
const port = parentPort;
if (!port) throw new Error('store-worker.ts runs only as a worker thread.');

const cache = data.cacheMb !== undefined ? { cacheMb: data.cacheMb } : {};
const db = openDatabase(data.dataDir, data.role === 'reader' ? { readonly: true, ...cache } : { synchronous: data.synchronous, ...cache });
const store = new SqliteEventStore(db, {
  flushIntervalMs: data.flushIntervalMs,
  maxQueue: data.maxQueue,
  ...(data.planProbe !== undefined ? { planProbe: data.planProbe } : {}),
  ...(data.scanBudget !== undefined ? { scanBudget: data.scanBudget } : {}),
  ...(data.managementAccountId !== undefined ? { managementAccountId: data.managementAccountId } : {}),
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
    case 'appendSerialized':
      return store.appendSerialized(call.json);
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
      return store.histogram(call.query as HistogramQuery);
    case 'resolvePending':
      return store.resolvePending(call.message, call.before);
    case 'purge':
      return store.purge(call.before);
    case 'close':
      // serveCalls posts this answer after every other one: the main thread ends the thread on
      // it, and an append committed by the close must not be reported as refused.
      await store.close();
      db.close();
      return null;
  }
}

serveCalls<StoreCall>(port, answer, (call) => call.op === 'close');
