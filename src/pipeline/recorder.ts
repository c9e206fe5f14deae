/**
 * The recorder: the one way events reach the store.
 *
 * Every source hands its events here. Redaction runs first, on every field that holds text a
 * caller or Flink supplied, so nothing secret is stored.
 * `journal` is the fail-closed gate for writes: it resolves only when the event is durable and
 * throws FT_ERR_JOURNAL_UNAVAILABLE otherwise. `record` and `complete` are batched by the store;
 * a failure there is retried by the store, and an event that is finally lost is logged and
 * counted — never silently dropped.
 */
import type { ActionTrailEvent } from '../event/types.js';
import { FlinkTrailError } from '../errors/index.js';
import type { EventStore } from '../store/types.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { Redactor } from './redact.js';

export interface Recorder {
  journal(event: ActionTrailEvent): Promise<void>;
  complete(event: ActionTrailEvent): Promise<void>;
  record(event: ActionTrailEvent): Promise<void>;
  /**
   * Like `record`, but rejects (FT_ERR_JOURNAL_UNAVAILABLE) when the event could not be stored,
   * for sources whose sender retries: the Kubernetes API server, ingest clients.
   */
  recordOrThrow(event: ActionTrailEvent): Promise<void>;
}

export function createRecorder(store: EventStore, redactor: Redactor, log: Logger, metrics: Metrics): Recorder {
  // Every field a caller or Flink can put text into: a User-Agent can carry `token=…`, and an
  // error message can echo the request that failed.
  const clean = (e: ActionTrailEvent): ActionTrailEvent => ({
    ...e,
    userAgent: redactor.redactText(e.userAgent),
    ...(e.userIdentity.sessionContext ? { userIdentity: { ...e.userIdentity, sessionContext: redactor.redact(e.userIdentity.sessionContext) } } : {}),
    requestParameters: redactor.redact(e.requestParameters),
    responseElements: redactor.redact(e.responseElements),
    referencedResources: redactor.redact(e.referencedResources),
    additionalEventData: redactor.redact(e.additionalEventData),
    ...(e.errorMessage !== undefined ? { errorMessage: redactor.redactText(e.errorMessage) } : {}),
  });
  const lost = (e: ActionTrailEvent, err: unknown) => {
    metrics.eventsDropped.inc({ source: e.eventSource });
    log.error(
      { eventId: e.eventId, eventName: e.eventName, requestId: e.requestId, err: (err as Error).message },
      'An event could not be stored and is lost.',
    );
  };
  return {
    async journal(e) {
      try {
        await store.journal(clean(e));
      } catch (err) {
        throw new FlinkTrailError('FT_ERR_JOURNAL_UNAVAILABLE', (err as Error).message);
      }
    },
    async complete(e) {
      try {
        await store.complete(clean(e));
        metrics.eventsRecorded.inc({ source: e.eventSource });
      } catch (err) {
        lost(e, err);
      }
    },
    async record(e) {
      try {
        await store.append(clean(e));
        metrics.eventsRecorded.inc({ source: e.eventSource });
      } catch (err) {
        lost(e, err);
      }
    },
    async recordOrThrow(e) {
      try {
        await store.append(clean(e));
        metrics.eventsRecorded.inc({ source: e.eventSource });
      } catch (err) {
        metrics.eventsDropped.inc({ source: e.eventSource });
        log.error({ eventId: e.eventId, err: (err as Error).message }, 'An event could not be stored; the sender is told to retry.');
        throw new FlinkTrailError('FT_ERR_JOURNAL_UNAVAILABLE', (err as Error).message);
      }
    },
  };
}
