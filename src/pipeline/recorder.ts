/**
 * The recorder: the one way events reach the store.
 *
 * Every source hands its events here. The audit policy (pipeline/audit-policy/) decides first
 * how much of the event is kept — `None` drops a successful read, lower levels empty
 * `requestParameters`/`responseElements` and say so in `additionalEventData.auditLevel`, and
 * writes, refusals and failures are never below `Metadata` — then redaction runs on every field
 * that holds text a caller or Flink supplied, so nothing secret is stored. A global event
 * (`isGlobal`) is recorded in the global events storage region (`acsRegion`, src/regions/). With coalescing on,
 * `record` hands successful reads to the coalescer, which keeps repeats in memory and records one
 * event for them when their window ends or at `close()`. An event left out by policy or folded
 * into a coalesced one is counted (`flinktrail_events_omitted_total`), never silently gone.
 * `journal` is the fail-closed gate for writes: it resolves only when the event is durable and
 * throws FT_ERR_JOURNAL_UNAVAILABLE otherwise. `record` and `complete` are batched by the store;
 * a failure there is retried by the store, and an event that is finally lost is logged and
 * counted — never silently dropped.
 */
import type { ActionTrailEvent, AuditLevel } from '../event/types.js';
import { FlinkTrailError } from '../errors/index.js';
import { applyLevel, Coalescer, sourceOf, type AuditPolicy } from './audit-policy/index.js';
import type { EventStore } from '../store/types.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { redactEvent, type Redactor } from './redact.js';

export interface Recorder {
  journal(event: ActionTrailEvent): Promise<void>;
  complete(event: ActionTrailEvent): Promise<void>;
  record(event: ActionTrailEvent): Promise<void>;
  /**
   * Like `record`, but rejects (FT_ERR_JOURNAL_UNAVAILABLE) when the event could not be stored,
   * for sources whose sender retries: the Kubernetes API server, ingest clients.
   */
  recordOrThrow(event: ActionTrailEvent): Promise<void>;
  /**
   * Records a batch prepared off the request thread (ingest: already levelled by the audit
   * policy and redacted, serialized as one JSON array), each event only if its eventId is not
   * stored yet. Resolves with the positions of those that were (duplicates); rejects with
   * FT_ERR_JOURNAL_UNAVAILABLE when the batch could not be stored, as `recordOrThrow` does.
   */
  recordPrepared(batch: PreparedEvents): Promise<number[]>;
  /** Records what coalescing still holds (one event per open window) and stops its timer; call before the store closes. */
  close(): Promise<void>;
}

export interface PreparedEvents {
  /** The events, a JSON array. */
  json: string;
  /** Each event's eventSource, in order. */
  sources: readonly string[];
  /** Events the audit policy left out (level None) while preparing, counted here. */
  omitted: number;
}

export interface RecorderOptions {
  /**
   * The global events storage region (regions/): a global event (`isGlobal`) is recorded with it
   * as `acsRegion`, wherever it happened. None: events keep their region. Not applied to
   * `recordPrepared` (ingested records keep the region their sender gave).
   */
  globalRegion?: () => string;
  /** The compiled audit policy; none: every event whole. */
  policy?: AuditPolicy;
  /** Coalescing of repeated identical reads; none: off. */
  coalesce?: { windowMs: number; maxKeys: number; now?: () => number };
}

export function createRecorder(store: EventStore, redactor: Redactor, log: Logger, metrics: Metrics, opts: RecorderOptions = {}): Recorder {
  const { globalRegion } = opts;
  const placed = (e: ActionTrailEvent): ActionTrailEvent => (e.isGlobal && globalRegion ? { ...e, acsRegion: globalRegion() } : e);
  const clean = (e: ActionTrailEvent): ActionTrailEvent => redactEvent(redactor, placed(e));
  const lost = (e: ActionTrailEvent, err: unknown) => {
    metrics.eventsDropped.inc({ source: e.eventSource });
    log.error(
      { eventId: e.eventId, eventName: e.eventName, requestId: e.requestId, err: (err as Error).message },
      'An event could not be stored and is lost.',
    );
  };
  const levelOf = (e: ActionTrailEvent): AuditLevel => opts.policy?.levelOf(e) ?? 'RequestResponse';
  const omitted = (e: ActionTrailEvent) => metrics.eventsOmitted.inc({ source: sourceOf(e), reason: 'policy' });
  const append = async (e: ActionTrailEvent) => {
    try {
      await store.append(e);
      metrics.eventsRecorded.inc({ source: e.eventSource });
    } catch (err) {
      lost(e, err);
    }
  };
  // Events the coalescer gives back when a window ends, awaited by close().
  const emitting = new Set<Promise<void>>();
  const coalescer = opts.coalesce
    ? new Coalescer({
        ...opts.coalesce,
        emit: (e) => {
          // Counted when the window ends: a coalesced event of count n stands for itself and n-1 folded into it.
          const folded = ((e.additionalEventData['coalesced'] as { count: number } | undefined)?.count ?? 1) - 1;
          if (folded > 0) metrics.eventsOmitted.inc({ source: sourceOf(e), reason: 'coalesced' }, folded);
          const p = append(e).finally(() => emitting.delete(p));
          emitting.add(p);
        },
      })
    : undefined;
  coalescer?.start();
  return {
    async journal(e) {
      try {
        // A write: the policy can lower it to Metadata, never to None.
        await store.journal(clean(applyLevel(e, levelOf(e))));
      } catch (err) {
        throw new FlinkTrailError('FT_ERR_JOURNAL_UNAVAILABLE', (err as Error).message);
      }
    },
    async complete(e) {
      try {
        await store.complete(clean(applyLevel(e, levelOf(e))));
        metrics.eventsRecorded.inc({ source: e.eventSource });
      } catch (err) {
        lost(e, err);
      }
    },
    async record(e) {
      const level = levelOf(e);
      if (level === 'None') return omitted(e);
      const kept = clean(applyLevel(e, level));
      // Only successful reads: writes and failures are always recorded one by one.
      if (coalescer && kept.eventRW === 'Read' && kept.additionalEventData.outcome === 'success' && coalescer.absorb(kept)) return;
      await append(kept);
    },
    // Not coalesced: its sender (the Kubernetes API server, an ingest client) is told the event
    // is stored, and may resend it; a count held in memory would break that promise.
    async recordOrThrow(e) {
      const level = levelOf(e);
      if (level === 'None') return omitted(e);
      try {
        await store.append(clean(applyLevel(e, level)));
        metrics.eventsRecorded.inc({ source: e.eventSource });
      } catch (err) {
        metrics.eventsDropped.inc({ source: e.eventSource });
        log.error({ eventId: e.eventId, err: (err as Error).message }, 'An event could not be stored; the sender is told to retry.');
        throw new FlinkTrailError('FT_ERR_JOURNAL_UNAVAILABLE', (err as Error).message);
      }
    },
    async recordPrepared(batch) {
      if (batch.omitted > 0) metrics.eventsOmitted.inc({ source: 'ingest', reason: 'policy' }, batch.omitted);
      if (batch.sources.length === 0) return [];
      let duplicates: number[];
      try {
        duplicates = await store.appendSerialized(batch.json);
      } catch (err) {
        for (const source of batch.sources) metrics.eventsDropped.inc({ source });
        log.error({ events: batch.sources.length, err: (err as Error).message }, 'A batch of events could not be stored; the sender is told to retry.');
        throw new FlinkTrailError('FT_ERR_JOURNAL_UNAVAILABLE', (err as Error).message);
      }
      const skip = new Set(duplicates);
      batch.sources.forEach((source, i) => {
        if (!skip.has(i)) metrics.eventsRecorded.inc({ source });
      });
      return duplicates;
    },
    async close() {
      coalescer?.stop();
      coalescer?.flush();
      await Promise.all([...emitting]);
    },
  };
}
