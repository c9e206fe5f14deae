/**
 * The Kafka side of `journal.kafka` (@platformatic/kafka): a producer of journal records and a
 * store writer's consumer.
 *
 * Records: key = eventId (the default partitioner hashes it: every record of an event in one
 * partition, in the order produced), value = the event's JSON, header `kind` = journal | append |
 * complete. The producer is idempotent (acks=all, producer id + sequence numbers: a retried
 * request is not written twice); after a failed send it is replaced, as the trails Kafka sink does
 * (its sequence state is unknown), and a record sent again may then be in the topic twice —
 * harmless, the store writer is idempotent by eventId.
 *
 * The consumer is a member of `groupId`, reads from the committed offsets (a new group from the
 * earliest: nothing produced before the first writer started is skipped), takes what has arrived,
 * up to `batchSize` records, hands it to `StoreWriter` and commits the highest offset of each
 * partition only once the store committed the batch. A commit refused because the group
 * rebalanced meanwhile is logged: the partition's new owner writes those records again.
 */
import { once } from 'node:events';
import { Consumer, Producer, ProduceAcks, stringDeserializers, stringSerializers, type Message, type MessagesStream } from '@platformatic/kafka';
import type { ActionTrailEvent } from '../../event/types.js';
import type { Logger } from '../../telemetry/logger.js';
import { explainKafkaError, kafkaSecurity, type KafkaSecurityOptions } from '../../kafka/connection.js';
import { JOURNAL_KINDS, type JournalKind, type JournalProducer, type JournalRecord, type StoreWriter } from './index.js';

/**
 * Test hook: every batch waits this long between its store commit and its offset commit, so a
 * test that kills a store writer lands inside that window (records in the store, offsets not
 * committed in Kafka) on any machine, not only when the timing happens to fall there.
 */
const COMMIT_HOLD_MS = Number(process.env['FLINKTRAIL_TEST_JOURNAL_COMMIT_HOLD_MS'] ?? 0);

export interface KafkaJournalConnection extends KafkaSecurityOptions {
  topic: string;
  clientId: string;
}

type Strings = Producer<string, string, string, string>;
type StringMessage = Message<string, string, string, string>;

function closeProducer(p: Strings): Promise<void> {
  return new Promise((resolve) => p.close(true, () => resolve()));
}

export class KafkaJournalProducer implements JournalProducer {
  private producer: Strings | undefined;

  constructor(
    private readonly c: KafkaJournalConnection,
    private readonly timeoutMs: number,
  ) {}

  private get(): Strings {
    this.producer ??= new Producer({
      clientId: this.c.clientId,
      bootstrapBrokers: this.c.brokers,
      serializers: stringSerializers,
      idempotent: true,
      acks: ProduceAcks.ALL,
      timeout: this.timeoutMs,
      // Bounded: a journal entry waits `journalTimeoutMs` at most; the caller resends finished records.
      retries: 2,
      retryDelay: 200,
      autocreateTopics: true,
      ...kafkaSecurity(this.c),
    });
    return this.producer;
  }

  async send(records: readonly JournalRecord[]): Promise<void> {
    if (records.length === 0) return;
    const producer = this.get();
    try {
      await producer.send({
        messages: records.map((r) => ({ topic: this.c.topic, key: r.event.eventId, value: JSON.stringify(r.event), headers: new Map([['kind', r.kind]]) })),
      });
    } catch (err) {
      this.producer = undefined;
      await closeProducer(producer);
      throw explainKafkaError(err);
    }
  }

  async close(): Promise<void> {
    const p = this.producer;
    this.producer = undefined;
    if (p) await closeProducer(p);
  }
}

export interface KafkaStoreWriterOptions {
  groupId: string;
  batchSize: number;
  log: Logger;
  /** The group's lag on the topic, summed over partitions (a gauge), every 5 s. */
  onLag?(n: number): void;
}

/** A record as the store writer reads it; undefined (logged, skipped) when it is not one of ours. */
export function decodeRecord(m: Pick<StringMessage, 'key' | 'value' | 'headers'>): JournalRecord | undefined {
  const kind = m.headers.get('kind') as JournalKind | undefined;
  if (!kind || !JOURNAL_KINDS.includes(kind)) return undefined;
  try {
    const event = JSON.parse(m.value) as ActionTrailEvent;
    if (typeof event?.eventId !== 'string' || event.eventId !== m.key) return undefined;
    return { kind, event };
  } catch {
    return undefined;
  }
}

/** The consumer loop of a store writer; `start` joins the group, `close` leaves it. */
export class KafkaStoreWriter {
  private consumer: Consumer<string, string, string, string> | undefined;
  private stream: MessagesStream<string, string, string, string> | undefined;
  private loop: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly c: KafkaJournalConnection,
    private readonly writer: StoreWriter,
    private readonly o: KafkaStoreWriterOptions,
  ) {}

  /** Joins the group in the background (retrying while Kafka cannot be reached) and writes what it reads. */
  start(): void {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    for (let failures = 0; !this.closed; ) {
      try {
        const consumer = new Consumer({
          clientId: this.c.clientId,
          groupId: this.o.groupId,
          bootstrapBrokers: this.c.brokers,
          deserializers: stringDeserializers,
          // A writer that died is out of the group within 10 s, so its partitions move on.
          sessionTimeout: 10_000,
          rebalanceTimeout: 30_000,
          heartbeatInterval: 1_000,
          autocreateTopics: true,
          ...kafkaSecurity(this.c),
        });
        this.consumer = consumer;
        if (this.o.onLag) {
          consumer.on('consumer:lag', (lag) => {
            let sum = 0n;
            for (const offsets of lag.values()) for (const n of offsets) if (n > 0n) sum += n;
            this.o.onLag?.(Number(sum));
          });
          consumer.startLagMonitoring({ topics: [this.c.topic] }, 5000);
        }
        const stream = await consumer.consume({ topics: [this.c.topic], mode: 'committed', fallbackMode: 'earliest', autocommit: false, maxWaitTime: 200 });
        this.stream = stream;
        this.o.log.info({ topic: this.c.topic, groupId: this.o.groupId }, 'This instance writes the Kafka journal into the event store (a member of the store writers\' group).');
        failures = 0;
        await this.consume(stream);
      } catch (err) {
        if (this.closed) return;
        failures++;
        this.o.log.warn({ err: explainKafkaError(err).message, failures }, 'The store writer lost the Kafka journal; it joins again.');
      }
      await this.stopClient();
      if (!this.closed) await new Promise((r) => setTimeout(r, Math.min(10_000, 500 * 2 ** Math.min(failures, 5))).unref());
    }
  }

  /** Reads, writes and commits batches until the stream ends or the writer closes. */
  private async consume(stream: MessagesStream<string, string, string, string>): Promise<void> {
    let error: Error | undefined;
    stream.on('error', (err: Error) => (error = err));
    // Pull mode for good: the stream fetches only while `readableFlowing` is not null, and Node
    // sets it back to null whenever the last 'readable' listener goes (the waits below add and
    // remove theirs) — the fetch loop then stops for ever.
    stream.on('readable', () => undefined);
    while (!this.closed) {
      if (error) throw error;
      const batch: StringMessage[] = [];
      for (let m: StringMessage | null; batch.length < this.o.batchSize && (m = stream.read() as StringMessage | null) !== null; ) batch.push(m);
      if (batch.length === 0) {
        if (stream.destroyed || stream.readableEnded) throw error ?? new Error('The journal stream ended.');
        const ac = new AbortController();
        const t = setTimeout(() => ac.abort(), 1000);
        await Promise.race([once(stream, 'readable', { signal: ac.signal }), once(stream, 'close', { signal: ac.signal })]).catch(() => undefined);
        clearTimeout(t);
        ac.abort();
        continue;
      }
      const records: JournalRecord[] = [];
      for (const m of batch) {
        const r = decodeRecord(m);
        if (r) records.push(r);
        else this.o.log.error({ topic: m.topic, partition: m.partition, offset: String(m.offset) }, 'A record of the journal topic is not a FlinkTrail journal record; it is skipped.');
      }
      if (!(await this.writer.write(records))) return; // closed before the store committed: not committed here either
      if (COMMIT_HOLD_MS > 0) await new Promise((r) => setTimeout(r, COMMIT_HOLD_MS));
      await this.commit(batch);
    }
  }

  /** Commits, per partition, the offset after the batch's last record. */
  private async commit(batch: readonly StringMessage[]): Promise<void> {
    const last = new Map<string, StringMessage>();
    for (const m of batch) {
      const k = `${m.topic}:${m.partition}`;
      const prev = last.get(k);
      if (!prev || prev.offset < m.offset) last.set(k, m);
    }
    for (const m of last.values()) {
      try {
        await new Promise<void>((resolve, reject) => void m.commit((err) => (err ? reject(err) : resolve())));
      } catch (err) {
        this.o.log.warn({ partition: m.partition, offset: String(m.offset), err: explainKafkaError(err).message }, 'A journal offset could not be committed (the group rebalanced?); those records are written again, harmlessly.');
      }
    }
  }

  private async stopClient(): Promise<void> {
    const stream = this.stream;
    const consumer = this.consumer;
    this.stream = undefined;
    this.consumer = undefined;
    consumer?.stopLagMonitoring();
    await stream?.close().catch(() => undefined);
    if (consumer) await new Promise<void>((resolve) => consumer.close(true, () => resolve()));
  }

  /** Stops reading; a batch the store has not committed yet stays uncommitted in Kafka (written again by the next writer). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.writer.close();
    await this.stopClient();
    // The loop notices at its next step; it is not waited for beyond a few seconds (a write may be
    // waiting on a store that does not answer).
    await Promise.race([this.loop, new Promise((r) => setTimeout(r, 5000).unref())]);
  }
}
