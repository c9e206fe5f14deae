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
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
