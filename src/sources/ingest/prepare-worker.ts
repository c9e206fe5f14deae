/**
 * A preparation thread of ingest (see prepare.ts and pool.ts): parses, checks, levels and
 * redacts batches so that the thread proxying Flink never does. It compiles its own audit policy
 * and redactor from the same configuration as the main thread's. Rules with `roles` match no
 * ingested record: the records carry other tools' identities, not FlinkTrail's users.
 */
import { parentPort } from 'node:worker_threads';
import { compileAuditPolicy } from '../../pipeline/audit-policy/index.js';
import { compileRedactor } from '../../pipeline/redact.js';
import { serveCalls, threadData } from '../../threads/worker-thread.js';
import type { PrepareWorkerData } from './pool.js';
import { prepareBatch, type PrepareRequest } from './prepare.js';

const port = parentPort;
if (!port) throw new Error('prepare-worker.ts runs only as a worker thread.');
const data = threadData<PrepareWorkerData>();
const policy = compileAuditPolicy(data.auditPolicy, { roleOf: () => undefined });
const redactor = compileRedactor();

// Chunks are reported as they are ready, so the store inserts one while the next is prepared.
serveCalls<PrepareRequest>(port, (req, progress) => Promise.resolve(prepareBatch(req, policy, redactor, progress)));
