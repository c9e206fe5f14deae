/**
 * Trail telemetry, registered in the app's registry. Labels are the trail name and the
 * destination kind (s3, file, kafka, syslog): both bounded by configuration.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export function createTrailMetrics(registry: Registry) {
  const labelNames = ['trail', 'destination'] as const;
  return {
    events: new Counter({ name: 'flinktrail_trail_events_delivered_total', help: 'Events delivered by trails.', labelNames, registers: [registry] }),
    files: new Counter({ name: 'flinktrail_trail_files_delivered_total', help: 'Log files stored in buckets and directories.', labelNames, registers: [registry] }),
    bytes: new Counter({ name: 'flinktrail_trail_bytes_delivered_total', help: 'Bytes (gzip) of log files stored.', labelNames, registers: [registry] }),
    digests: new Counter({ name: 'flinktrail_trail_digests_delivered_total', help: 'Signed digest files stored.', labelNames, registers: [registry] }),
    failures: new Counter({
      name: 'flinktrail_trail_delivery_failures_total',
      help: 'Failed delivery attempts (each is retried; nothing is skipped).',
      labelNames,
      registers: [registry],
    }),
    deadLetters: new Counter({
      name: 'flinktrail_trail_dead_letters_total',
      help: 'Events set aside as dead letters: a destination can never take them (GetTrailStatus DeadLetters).',
      labelNames,
      registers: [registry],
    }),
    lag: new Gauge({
      name: 'flinktrail_trail_lag_events',
      help: 'Store positions not yet handled by a destination (events appended after its position).',
      labelNames,
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'flinktrail_trail_delivery_latency_seconds',
      help: 'Time from an event to its delivery, by destination kind.',
      labelNames: ['destination'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900],
      registers: [registry],
    }),
  };
}

export type TrailMetrics = ReturnType<typeof createTrailMetrics>;
