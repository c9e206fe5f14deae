/**
 * The shared EventStore contract (test/contract/event-store.ts) against the embedded store as
 * `serve` runs it: WorkerEventStore (the SQLite store on its writer and reader threads).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventStoreContract, MANAGEMENT } from '../../../test/contract/event-store.js';
import { openDatabase } from './database.js';
import { WorkerEventStore } from './worker-store.js';

eventStoreContract('SQLite', {
  space() {
    const dir = mkdtempSync(join(tmpdir(), 'ft-contract-'));
    // The app opens (and so creates and migrates) the database before the store's threads do.
    openDatabase(dir).close();
    return Promise.resolve({
      open: (opts = {}) =>
        WorkerEventStore.open({
          dataDir: dir,
          synchronous: 'normal',
          flushIntervalMs: opts.flushIntervalMs ?? 2,
          readers: 1,
          managementAccountId: MANAGEMENT,
          ...(opts.scanBudget ? { scanBudget: opts.scanBudget, planProbe: opts.scanBudget } : {}),
        }),
      dispose() {
        rmSync(dir, { recursive: true, force: true });
        return Promise.resolve();
      },
    });
  },
});
