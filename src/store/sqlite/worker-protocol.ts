/** The messages between the main thread and the store's worker threads (`worker-store.ts`). */
import type { ActionTrailEvent } from '../../event/types.js';
import type { LookupRequest } from '../types.js';

export interface StoreWorkerData {
  role: 'writer' | 'reader';
  dataDir: string;
  synchronous: 'full' | 'normal';
  cacheMb?: number;
  flushIntervalMs: number;
  maxQueue: number;
  planProbe?: number;
  scanBudget?: number;
  managementAccountId?: string;
}

export type StoreCall =
  | { op: 'journal'; event: ActionTrailEvent }
  | { op: 'enqueue'; items: { kind: 'insert' | 'complete'; event: ActionTrailEvent }[] }
  | { op: 'appendSerialized'; json: string }
  | { op: 'lookup'; request: LookupRequest }
  | { op: 'get'; eventId: string }
  | { op: 'existing'; eventIds: readonly string[] }
  | { op: 'scan'; afterSeq: number; limit: number }
  | { op: 'lastSeq' }
  | { op: 'histogram'; query: unknown }
  | { op: 'resolvePending'; message: string; before?: number }
  | { op: 'purge'; before: number }
  | { op: 'close' };

/** What the writer reports besides answers (see threads/worker-thread.ts for `ready` and answers). */
export type WorkerNotice = { notice: 'flushError'; message: string; queued: number };
