/** Builds the sink for a destination: the only place that names concrete sinks. */
import type { Destination } from '../destination.js';
import { FileObjectStore } from './file/index.js';
import { KafkaSink } from './kafka/index.js';
import { RelpSink } from './relp/index.js';
import { S3ObjectStore } from './s3/index.js';
import { SyslogSink } from './syslog/index.js';
import type { ObjectStore, RecordSink } from './types.js';

export type { ObjectStore, RecordSink } from './types.js';
export { FileObjectStore } from './file/index.js';
export { S3ObjectStore } from './s3/index.js';

export interface SinkOptions {
  multipartThresholdBytes: number;
}

export function openObjectStore(d: Destination, o: SinkOptions): ObjectStore {
  if (d.s3) return new S3ObjectStore(d.s3, { multipartThresholdBytes: o.multipartThresholdBytes });
  if (d.file) return new FileObjectStore(d.file.dir);
  throw new Error(`${d.display} is not a bucket or directory destination.`);
}

export function openRecordSink(d: Destination): RecordSink {
  if (d.kafka) return new KafkaSink(d.kafka);
  if (d.syslog) return new SyslogSink(d.syslog);
  if (d.relp) return new RelpSink(d.relp);
  throw new Error(`${d.display} is not a Kafka, syslog or RELP destination.`);
}

/** The part of a destination that prefixes every key (the bucket prefix; "" for directories). */
export function keyPrefix(d: Destination): string {
  return d.s3?.prefix ?? '';
}
