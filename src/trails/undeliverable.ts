/**
 * Permanent or transient: whether a failed delivery can ever succeed by retrying.
 *
 * Most failures are the destination's (unreachable, denied, bucket missing, disk full): retried
 * with backoff forever, nothing skipped, because the operator can fix them. A few are about the
 * events themselves and no retry or fix on the destination's side helps — an object key the
 * store refuses, a record the broker refuses as such. Retrying those forever would block every
 * event behind them, so the engine sets such events aside as dead letters instead.
 *
 * Contract for sinks: throw an error with `permanent: true` (or a FlinkTrailError
 * FT_ERR_TRAIL_UNDELIVERABLE) when the events given, not the destination, are the problem.
 * Errors of the S3 and Kafka protocols that mean the same are recognised by name.
 */
import { isFlinkTrailError } from '../errors/index.js';

/** Error names/codes of destination protocols that are about the data sent, never the destination's state. */
const PERMANENT_NAMES = new Set([
  // S3
  'KeyTooLongError',
  'InvalidObjectName',
  // Kafka (protocol error names)
  'MESSAGE_TOO_LARGE',
  'INVALID_RECORD',
  'CORRUPT_MESSAGE',
  'RECORD_LIST_TOO_LARGE',
]);

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  apiId?: unknown;
  type?: unknown;
  permanent?: unknown;
  errors?: unknown;
  cause?: unknown;
}

/**
 * The code to record if `err` is permanent for the events sent (undefined: transient, retry).
 * Looks through aggregated errors (`errors`) and causes.
 */
export function permanentCode(err: unknown, depth = 0): string | undefined {
  if (typeof err !== 'object' || err === null || depth > 4) return undefined;
  if (isFlinkTrailError(err)) return err.code === 'FT_ERR_TRAIL_UNDELIVERABLE' ? err.code : undefined;
  const e = err as ErrorLike;
  if (e.permanent === true) return typeof e.code === 'string' && e.code !== '' ? e.code : 'FT_ERR_TRAIL_UNDELIVERABLE';
  for (const v of [e.name, e.code, e.apiId, e.type]) if (typeof v === 'string' && PERMANENT_NAMES.has(v)) return v;
  const nested = [...(Array.isArray(e.errors) ? (e.errors as unknown[]) : []), e.cause];
  for (const n of nested) {
    const c = permanentCode(n, depth + 1);
    if (c) return c;
  }
  return undefined;
}
