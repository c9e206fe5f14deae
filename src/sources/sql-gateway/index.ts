/**
 * What a SQL Gateway call means beyond its endpoint: the statement's kind and intent.
 *
 * The gateway calls these for clusters of kind `sql-gateway`. `requestDetails` sees the
 * classified call and its (not yet redacted) request parameters and may refine the event:
 * a different event name, the sensitive flag, statement text with secrets redacted, its kind.
 * `responseDetails` sees Flink's parsed JSON answer (e.g. the job id an INSERT started).
 */
import type { Classification } from '../../catalog/types.js';

export interface SqlDetails {
  eventName?: string;
  sensitive?: boolean;
  /** Replaces keys of requestParameters (e.g. the statement with secrets redacted). */
  requestParameters?: Record<string, unknown>;
  additionalEventData?: Record<string, unknown>;
  /** Extra resources: full type (`ACS::RealtimeCompute::Job`) → ids. */
  resources?: Record<string, string[]>;
}

export function requestDetails(_cls: Classification, _params: Record<string, unknown>): SqlDetails {
  return {};
}

export function responseDetails(_cls: Classification, _body: unknown): SqlDetails {
  return {};
}
