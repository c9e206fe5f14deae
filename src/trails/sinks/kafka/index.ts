/**
 * The Kafka destination: one JSON event per record, key = eventId, value = the event record,
 * header `eventName`. An idempotent producer (acks=all, producer id + sequence numbers) keeps
 * the broker from writing a record twice when the client retries a request; after a failed
 * batch the producer is replaced and the engine resends the batch, so consumers that must be
 * exact deduplicate by key (the event id), as with any at-least-once source.
 *
 * kafka+ssl and kafka+sasl_ssl connect over TLS, verifying the brokers against the default trust
 * store plus the destination's `ca`; kafka+sasl_ssl then authenticates with SASL PLAIN or SCRAM.
 * A password given as `env:NAME` or `file:/path` is resolved on every (re)connection.
 *
 * Uses @platformatic/kafka (pure JavaScript, Kafka 3.5–4.x; works on Node 20.19+).
 */
import { Producer, stringSerializers } from '@platformatic/kafka';
import type { ActionTrailEvent } from '../../../event/types.js';
import type { KafkaOptions } from '../../destination.js';
import { explainKafkaError, kafkaSecurity } from '../../../kafka/connection.js';
import type { RecordSink } from '../types.js';

export interface KafkaSinkOptions {
  /** Per-request timeout. */
  timeoutMs?: number;
}

function closeQuietly(p: Producer<string, string, string, string>): Promise<void> {
  return new Promise((resolve) => p.close(true, () => resolve()));
}

export class KafkaSink implements RecordSink {
  readonly kind = 'kafka' as const;
  private producer: Producer<string, string, string, string> | undefined;

  constructor(
    private readonly o: KafkaOptions,
    private readonly opts: KafkaSinkOptions = {},
  ) {}

  private get(): Producer<string, string, string, string> {
    this.producer ??= new Producer({
      clientId: this.o.clientId,
      bootstrapBrokers: this.o.brokers,
      serializers: stringSerializers,
      idempotent: true,
      timeout: this.opts.timeoutMs ?? 10_000,
      retries: 2,
      retryDelay: 200,
      autocreateTopics: true,
      ...kafkaSecurity(this.o),
    });
    return this.producer;
  }

  async send(events: readonly ActionTrailEvent[]): Promise<void> {
    if (events.length === 0) return;
    const producer = this.get();
    try {
      await producer.send({
        messages: events.map((e) => ({
          topic: this.o.topic,
          key: e.eventId,
          value: JSON.stringify(e),
          headers: new Map([['eventName', e.eventName]]),
        })),
      });
    } catch (err) {
      // A fresh producer (new id) for the resend: the old one's sequence state is unknown.
      this.producer = undefined;
      await closeQuietly(producer);
      throw explainKafkaError(err);
    }
  }

  async close(): Promise<void> {
    const p = this.producer;
    this.producer = undefined;
    if (p) await closeQuietly(p);
  }
}
