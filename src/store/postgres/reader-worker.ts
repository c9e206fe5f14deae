/**
 * A reader thread of the PostgreSQL event store (`readers` in events.ts): a read-only store with
 * a pool of its own answers lookups, histograms, gets and trail scans, and prepares ingest batches
 * (parse, compress, serialize the rows), so that reading rows, decoding records (inflate and JSON)
 * and encoding them happen here and not on the thread that proxies Flink. It connects on its
 * first call: a thread started again while PostgreSQL is away fails that call, not its start.
 */
import { parentPort } from 'node:worker_threads';
import type { HistogramQuery } from '../../query/histogram.js';
import type { LookupRequest } from '../types.js';
import { serveCalls, threadData } from '../../threads/worker-thread.js';
import { PostgresEventStore } from './events.js';

/** What a reader is started with: the options of a read-only `PostgresEventStore`. */
export interface ReaderData {
  url: string;
  poolMax: number;
  schema?: string;
  scanBudget?: number;
  managementAccountId?: string;
}

export type ReaderCall =
  | { op: 'lookup'; request: LookupRequest }
  | { op: 'histogram'; query: HistogramQuery }
  | { op: 'get'; eventId: string }
  | { op: 'scan'; afterSeq: number; limit: number }
  | { op: 'prepareSerialized'; json: string }
  | { op: 'close' };

const port = parentPort;
if (!port) throw new Error('reader-worker.ts runs only as a worker thread.');
{
  const data = threadData<ReaderData>();
  let opening: Promise<PostgresEventStore> | undefined;
  const store = (): Promise<PostgresEventStore> => {
    // A failed idle connection is the instance's to log (its message already redacted).
    const onPoolError = (err: Error) => port.postMessage({ notice: 'poolError', message: err.message });
    opening ??= PostgresEventStore.openReader({ ...data, onPoolError }).catch((err: unknown) => {
      opening = undefined;
      throw err;
    });
    return opening;
  };
  serveCalls<ReaderCall>(
    port,
    async (call) => {
      switch (call.op) {
        case 'lookup':
          return (await store()).lookupHere(call.request);
        case 'histogram':
          return (await store()).histogramHere(call.query);
        case 'get':
          return (await store()).getHere(call.eventId);
        case 'scan':
          return (await store()).scanHere(call.afterSeq, call.limit);
        case 'prepareSerialized':
          return (await store()).prepareSerialized(call.json);
        case 'close': {
          const s = await opening?.catch(() => undefined);
          await s?.close();
          return null;
        }
      }
    },
    (call) => call.op === 'close',
  );
}
