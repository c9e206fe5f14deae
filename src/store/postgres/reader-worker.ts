/**
 * A reader thread of the PostgreSQL event store (`readers` in events.ts): a read-only store with
 * a pool of its own answers lookups, so that reading a page's rows and decoding its records
 * (inflate and JSON) happen here and not on the thread that proxies Flink. It connects on its
 * first call: a thread started again while PostgreSQL is away fails that call, not its start.
 */
import { parentPort } from 'node:worker_threads';
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

export type ReaderCall = { op: 'lookup'; request: LookupRequest } | { op: 'close' };

const port = parentPort;
if (!port) throw new Error('reader-worker.ts runs only as a worker thread.');
{
  const data = threadData<ReaderData>();
  let opening: Promise<PostgresEventStore> | undefined;
  const store = (): Promise<PostgresEventStore> => {
    opening ??= PostgresEventStore.openReader(data).catch((err: unknown) => {
      opening = undefined;
      throw err;
    });
    return opening;
  };
  serveCalls<ReaderCall>(
    port,
    async (call) => {
      if (call.op === 'lookup') return (await store()).lookupHere(call.request);
      const s = await opening?.catch(() => undefined);
      await s?.close();
      return null;
    },
    (call) => call.op === 'close',
  );
}
