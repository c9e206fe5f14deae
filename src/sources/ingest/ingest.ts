/**
 * Ingest of ActionTrail records from other tools (CI/CD, platforms, other audit pipelines).
 *
 * The request thread only moves bytes: the body goes to a preparation thread (pool.ts, which
 * parses, checks, stamps, levels and redacts it — prepare.ts), and the prepared records, one
 * JSON text, go through the recorder to the store, which inserts them. Records are idempotent on
 * `eventId`: one already stored, or repeated in the batch, counts as a duplicate and is not
 * stored again — the store decides, at insert time, so concurrent batches carrying the same
 * record store it once. Valid records are recorded as given — their own eventSource, identity
 * and times — plus `additionalEventData.ingestedBy`: who delivered them, which no record can
 * forge. Each goes to the account it names (`recipientAccountId`), or the caller's: a member
 * account's key may name only its own, the management account's any. The answer is given once the accepted records are committed.
 */
import { Counter } from 'prom-client';
import { FlinkTrailError } from '../../errors/index.js';
import type { UserIdentity } from '../../event/types.js';
import type { Recorder } from '../../pipeline/recorder.js';
import type { Metrics } from '../../telemetry/metrics.js';
import type { BodyFormat, Rejected } from '../../http/body.js';
import type { PreparePool } from './pool.js';
import type { IngestAccount, PreparedChunk } from './prepare.js';

export interface IngestResult {
  accepted: number;
  duplicates: number;
  rejected: Rejected[];
}

export interface IngestCaller {
  identity: UserIdentity;
  /** The accounts the caller may ingest into (see prepare.ts). */
  account: IngestAccount;
  requestId: string;
}

export class Ingester {
  private readonly counter: Counter<'result'>;

  constructor(
    private readonly pool: PreparePool,
    private readonly recorder: Recorder,
    metrics: Metrics,
    private readonly maxEvents: number,
  ) {
    this.counter = new Counter({
      name: 'flinktrail_ingest_events_total',
      help: 'Records received by the ingest API, by result (accepted, duplicate, rejected).',
      labelNames: ['result'] as const,
      registers: [metrics.registry],
    });
  }

  /** Ingests one body; resolves with the counts (and `records`, how many the body held) once committed. */
  async ingest(body: Uint8Array, format: BodyFormat, caller: IngestCaller): Promise<IngestResult & { records: number }> {
    const ingestedBy = {
      principalId: caller.identity.principalId,
      userName: caller.identity.userName,
      accountId: caller.account.accountId,
      ...(caller.identity.accessKeyId ? { keyId: caller.identity.accessKeyId } : {}),
      requestId: caller.requestId,
    };
    // Each chunk goes to the store as soon as it is prepared: inserting one overlaps preparing the next.
    const writes: Promise<number[]>[] = [];
    let kept = 0;
    const write = (chunk: PreparedChunk, omitted = 0) => {
      kept += chunk.sources.length;
      writes.push(this.recorder.recordPrepared({ json: chunk.json, sources: chunk.sources, omitted }));
    };
    const prepared = await this.pool.prepare({ body, format, ingestedBy, account: caller.account, maxEvents: this.maxEvents }, write);
    if (!prepared.ok) throw new FlinkTrailError(prepared.code, ...prepared.args);
    write(prepared, prepared.omitted);
    const duplicates = (await Promise.all(writes)).reduce((n, d) => n + d.length, 0);
    const result = { accepted: kept - duplicates + prepared.omitted, duplicates, rejected: prepared.rejected };
    this.counter.inc({ result: 'accepted' }, result.accepted);
    this.counter.inc({ result: 'duplicate' }, result.duplicates);
    this.counter.inc({ result: 'rejected' }, result.rejected.length);
    return { ...result, records: prepared.records };
  }
}
