/**
 * Sink contracts. A sink only encodes and sends; batching, positions, retries with backoff and
 * telemetry are the delivery engine's (trails/engine.ts), the same for every sink.
 *
 * - `ObjectStore` (s3, file): whole files under keys. `put` resolves only when the object is
 *   durably stored (S3 answered 200; the file is written, fsynced and renamed into place) and
 *   overwrites an object with the same key — the engine relies on that for at-least-once
 *   delivery with deterministic names. `get`/`list` serve digests and validate-logs.
 * - `RecordSink` (kafka, syslog, relp): ordered records. `send` resolves when every event of the
 *   batch was acknowledged (Kafka: acks=all by the idempotent producer; RELP: `rsp 200` for each
 *   message) or written to the connection (syslog over TCP/TLS has no acknowledgement); it
 *   throws if any was not, and the engine sends the whole batch again.
 *
 * Neither owns the events it is given. `close()` releases connections; it does not flush —
 * nothing is buffered inside a sink.
 */
import type { ActionTrailEvent } from '../../event/types.js';

export interface ObjectStore {
  readonly kind: 's3' | 'file';
  put(key: string, body: Buffer): Promise<void>;
  /** The object's bytes, or undefined when there is no such object. */
  get(key: string): Promise<Buffer | undefined>;
  /** Every key under `prefix` (recursive), sorted. */
  list(prefix: string): Promise<string[]>;
  /** The "directories" right under `prefix` (ending in `/`). */
  listDirs(prefix: string): Promise<string[]>;
  close(): Promise<void>;
}

export interface RecordSink {
  readonly kind: 'kafka' | 'syslog' | 'relp';
  send(events: readonly ActionTrailEvent[]): Promise<void>;
  close(): Promise<void>;
}
