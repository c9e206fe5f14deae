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
import { Producer, stringSerializers, type ConnectionOptions } from '@platformatic/kafka';
import type { ActionTrailEvent } from '../../../event/types.js';
import type { KafkaOptions } from '../../destination.js';
import { resolveSecret } from '../../../secrets/index.js';
import { trustOptions } from '../tls.js';
import type { RecordSink } from '../types.js';

export interface KafkaSinkOptions {
  /** Per-request timeout. */
  timeoutMs?: number;
}

/**
 * The client nests the cause of a failure (a refused SASL login, an unverified certificate) a few
 * levels down; the trail status shows one line, so the chain along the first error is spelled out.
 */
export function explainKafkaError(err: unknown): Error {
  const seen: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e instanceof Error && depth < 8; depth++) {
    const m = e.message.replace(/\.$/, '');
    if (m && !seen.includes(m) && !/^(Cannot connect to any broker|Received response with error while executing API .*)$/.test(m)) seen.push(m);
    const next: unknown = (e as { errors?: unknown[] }).errors?.[0] ?? e.cause;
    e = next;
  }
  return new Error(seen.length ? `${seen.join(': ')}.` : String(err), { cause: err });
}

/**
 * TLS and SASL options for kafka+ssl / kafka+sasl_ssl (nothing for kafka://). Shared with the
 * Kafka journal (store/kafka-journal/), which connects to brokers the same way.
 */
export function kafkaSecurity(o: Pick<KafkaOptions, 'brokers' | 'tls' | 'sasl'>): Pick<ConnectionOptions, 'tls' | 'tlsServerName' | 'sasl'> {
  const { tls, sasl } = o;
  if (!tls) return {};
  const host = o.brokers[0]?.replace(/:\d+$/, '').replace(/^\[|\]$/g, '') ?? '';
  const { servername, ...trust } = trustOptions(host, tls.ca);
  return {
    tls: trust,
    // Each broker is verified under its own host name (SNI only for names, not addresses).
    tlsServerName: servername !== '',
    ...(sasl ? { sasl: { mechanism: sasl.mechanism, username: sasl.username, password: () => resolveSecret(sasl.password) } } : {}),
  };
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
