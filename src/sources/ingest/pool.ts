/**
 * The preparation threads of ingest: `prepare` hands a raw body to the thread with the fewest
 * batches in flight and resolves with the prepared batch (prepare.ts). The body is copied to the
 * thread (a memcpy) and the prepared records come back as one string, so the main thread's cost
 * per batch is proportional to its bytes, not to parsing, checking or redacting its records.
 */
import type { AuditPolicyConfig } from '../../config/index.js';
import { WorkerThread, workerFile } from '../../threads/worker-thread.js';
import type { Prepared, PreparedChunk, PrepareRequest } from './prepare.js';

export interface PrepareWorkerData {
  auditPolicy: AuditPolicyConfig;
}

const FILE = workerFile(import.meta.url, 'prepare-worker');

export class PreparePool {
  private readonly threads: WorkerThread<PrepareRequest>[];

  /** `nice`: how many Linux nice steps below the request thread the threads run (see WorkerThreadSpec), default 0. */
  constructor(opts: { threads: number; auditPolicy: AuditPolicyConfig; nice?: number }) {
    const data: PrepareWorkerData = { auditPolicy: opts.auditPolicy };
    this.threads = Array.from(
      { length: Math.max(1, opts.threads) },
      (_, i) => new WorkerThread<PrepareRequest>({ file: FILE, name: `flinktrail-ingest-${i + 1}`, data, nice: opts.nice ?? 0, closedMessage: 'The ingest API is closed.' }),
    );
  }

  /** Starts the threads now (otherwise the first batch does). */
  async start(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.start()));
  }

  /** Prepares a batch; `onChunk` receives prepared chunks before the answer (which holds the rest). */
  prepare(req: PrepareRequest, onChunk?: (chunk: PreparedChunk) => void): Promise<Prepared> {
    let best = this.threads[0] as WorkerThread<PrepareRequest>;
    for (const t of this.threads) if (t.inFlight < best.inFlight) best = t;
    return best.call<Prepared>(req, onChunk ? { onProgress: (v) => onChunk(v as PreparedChunk) } : {});
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.threads.map((t) => t.stop()));
  }
}
