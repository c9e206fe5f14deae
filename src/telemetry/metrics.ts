/**
 * Prometheus metrics. Every component reports received / recorded / dropped / errors with
 * low-cardinality labels (cluster names are configuration, so bounded).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'flinktrail_process_' });
  return {
    registry,
    gatewayRequests: new Counter({
      name: 'flinktrail_gateway_requests_total',
      help: 'Requests handled by the gateway, by cluster and HTTP status class.',
      labelNames: ['cluster', 'status'] as const,
      registers: [registry],
    }),
    gatewayDuration: new Histogram({
      name: 'flinktrail_gateway_request_duration_seconds',
      help: 'Time from request arrival to the last byte of the response, through the gateway.',
      labelNames: ['cluster'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [registry],
    }),
    eventsRecorded: new Counter({
      name: 'flinktrail_events_recorded_total',
      help: 'Events committed to the store, by source.',
      labelNames: ['source'] as const,
      registers: [registry],
    }),
    eventsDropped: new Counter({
      name: 'flinktrail_events_dropped_total',
      help: 'Events that could not be stored (never silent: each is also logged).',
      labelNames: ['source'] as const,
      registers: [registry],
    }),
    eventsOmitted: new Counter({
      name: 'flinktrail_events_omitted_total',
      help: 'Events the audit policy left out (reason "policy": level None) or folded into a coalesced event (reason "coalesced", counted when its window ends), by audit source.',
      labelNames: ['source', 'reason'] as const,
      registers: [registry],
    }),
    journalFailures: new Counter({
      name: 'flinktrail_journal_failures_total',
      help: 'Write operations that could not be journaled before forwarding (refused when fail-closed).',
      labelNames: ['cluster'] as const,
      registers: [registry],
    }),
    storeFlushErrors: new Counter({
      name: 'flinktrail_store_flush_errors_total',
      help: 'Failed batch commits of the event store (retried).',
      registers: [registry],
    }),
    spoolEvents: new Gauge({
      name: 'flinktrail_spool_events',
      help: 'Events in the local spool (store.spool) waiting for PostgreSQL.',
      registers: [registry],
    }),
    spoolDrained: new Counter({
      name: 'flinktrail_spool_drained_total',
      help: 'Events moved from the local spool into PostgreSQL.',
      registers: [registry],
    }),
    journalProduced: new Counter({
      name: 'flinktrail_journal_kafka_produced_total',
      help: 'Records the Kafka journal (journal.kafka) acknowledged, by kind (journal, append, complete).',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    journalProduceErrors: new Counter({
      name: 'flinktrail_journal_kafka_produce_errors_total',
      help: 'Sends to the Kafka journal that failed (journal entries then refused, finished records sent again).',
      registers: [registry],
    }),
    journalWritten: new Counter({
      name: 'flinktrail_journal_kafka_written_total',
      help: 'Events this store writer wrote from the Kafka journal into PostgreSQL (after deduplication within a batch).',
      registers: [registry],
    }),
    journalWriteErrors: new Counter({
      name: 'flinktrail_journal_kafka_write_errors_total',
      help: 'Batches of the Kafka journal PostgreSQL did not take (retried; offsets committed only after).',
      registers: [registry],
    }),
    journalLag: new Gauge({
      name: 'flinktrail_journal_kafka_lag',
      help: 'Records of the Kafka journal not yet written by the store writers\' group, over the partitions this instance reads (every 5 s).',
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
