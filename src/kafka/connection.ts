/**
 * How FlinkTrail connects to Kafka brokers (@platformatic/kafka), for both of its Kafka clients:
 * the trails' Kafka destination (trails/sinks/kafka/) and the store's Kafka journal
 * (store/kafka-journal/). Neither imports the other: what they share lives here.
 */
import type { ConnectionOptions } from '@platformatic/kafka';
import { trustOptions } from '../net/trust.js';
import { resolveSecret } from '../secrets/index.js';

export const KAFKA_SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;
export type KafkaSaslMechanism = (typeof KAFKA_SASL_MECHANISMS)[number];

/** Where the brokers are and how to reach them securely. */
export interface KafkaSecurityOptions {
  brokers: string[];
  /** TLS to the brokers (kafka+ssl, kafka+sasl_ssl); `ca` is trusted besides the default store. */
  tls?: { ca?: string };
  /** SASL over TLS. `password` may be a reference (`env:NAME`, `file:/path`), resolved on every (re)connection. */
  sasl?: { mechanism: KafkaSaslMechanism; username: string; password: string };
}

/**
 * The client nests the cause of a failure (a refused SASL login, an unverified certificate) a few
 * levels down; a status shows one line, so the chain along the first error is spelled out.
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

/** TLS and SASL options for kafka+ssl / kafka+sasl_ssl (nothing for kafka://). */
export function kafkaSecurity(o: KafkaSecurityOptions): Pick<ConnectionOptions, 'tls' | 'tlsServerName' | 'sasl'> {
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
