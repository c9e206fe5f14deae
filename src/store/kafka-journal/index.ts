/**
 * `journal.kafka`: a Kafka topic as the journal in front of the PostgreSQL event store, for
 * platforms large enough to run Kafka and that want a PostgreSQL outage never to block a Flink
 * operation. Gateways produce; store writers consume and write into PostgreSQL.
 *
 * `KafkaJournalEventStore` wraps the PostgreSQL event store (the same shape as the spool's
 * decorator, store/spool/):
 * - `journal` produces the write's pending record and resolves once Kafka acknowledged it
 *   (idempotent producer, acks=all): the fail-closed gate is Kafka's durability, not PostgreSQL's.
 *   No acknowledgement within `journalTimeoutMs` rejects (the gateway answers 503).
 * - `complete` produces the final form under the same key (the eventId), so it lands in the same
 *   partition after its pending record: per event, order holds.
 * - `append` (read events, refusals, UpdateAuditPolicy, …) goes through Kafka too: during an
 *   outage they are then durable in Kafka rather than held in this process's memory, and one
 *   path orders every record of an event. A failed produce of a finished record is retried (kept
 *   in memory, bounded by `maxPending`), never dropped silently; the promise resolves once Kafka
 *   has it.
 * - `appendSerialized` (ingest) goes straight to the store: its answer (which records were
 *   duplicates) needs the store, and its sender retries when it fails.
 * - Queries are the store's; an event is found once a store writer has written it.
 *
 * `StoreWriter` is the consuming half: for each batch read from the topic it keeps the last
 * record of each eventId (a final replaces its pending), inserts journal and append records only
 * if their eventId is not stored (`appendSerialized`: a pending redelivered after its final never
 * overwrites it) and writes finals with `complete` (replaces the journaled row, or inserts it),
 * retrying until the store committed. Only then does the consumer commit the batch's offsets, so
 * a writer killed mid-batch leaves it to be written again — idempotent by eventId: nothing lost,
 * nothing doubled.
 *
 * The transport is behind two small interfaces (`JournalProducer`, and the batches a consumer
 * hands to `StoreWriter.write`); kafka.ts implements them with @platformatic/kafka.
 */
import type { ActionTrailEvent } from '../../event/types.js';
import type { Logger } from '../../telemetry/logger.js';
import { DelegatingEventStore } from '../delegating.js';
import type { EventStore } from '../types.js';

/** What a journal record asks of the store writer. */
export type JournalKind =
  /** A write's pending record, before it is forwarded: inserted unless its eventId is stored. */
  | 'journal'
  /** A finished event never journaled (a read, a refusal): inserted unless its eventId is stored. */
  | 'append'
  /** A journaled write's final form: replaces the stored row, or is inserted when there is none. */
  | 'complete';

export const JOURNAL_KINDS: readonly JournalKind[] = ['journal', 'append', 'complete'];

export interface JournalRecord {
  kind: JournalKind;
  event: ActionTrailEvent;
}

/** Where journal records go. `send` resolves once every record is durable there, in order. */
export interface JournalProducer {
  send(records: readonly JournalRecord[]): Promise<void>;
  close(): Promise<void>;
}

export interface KafkaJournalOptions {
  /** How long `journal` waits for the acknowledgement before it rejects (the write is refused). */
  journalTimeoutMs: number;
  /** Finished records kept for a retry while the producer fails; beyond, `complete`/`append` reject. */
  maxPending?: number;
  /** Most records per send. */
  maxBatch?: number;
  log: Logger;
  /** Records acknowledged by the journal, by kind (a counter). */
  onProduced?(kind: JournalKind, n: number): void;
  /** A send that failed (a counter). */
  onProduceError?(err: Error): void;
}

/** Stops the consumer and the producer on close; set by the app when this instance is a store writer. */
export interface Closable {
  close(): Promise<void>;
}

interface Queued {
  record: JournalRecord;
  resolve: () => void;
  reject: (err: Error) => void;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class KafkaJournalEventStore extends DelegatingEventStore {
  private queue: Queued[] = [];
  private pumping: Promise<void> | undefined;
  private failures = 0;
  private closed = false;
  private readonly maxPending: number;
  private readonly maxBatch: number;
  /** The store writer of this instance (`journal.kafka.consume`), stopped before the store closes. */
  writer: Closable | undefined;

  constructor(
    inner: EventStore,
    private readonly producer: JournalProducer,
    private readonly o: KafkaJournalOptions,
  ) {
    super(inner);
    this.maxPending = o.maxPending ?? 100_000;
    this.maxBatch = o.maxBatch ?? 500;
  }

  /**
   * Queues a record and sends what is queued: while one send is in flight the next calls gather,
   * and go in the next send together (the idempotent producer has one request in flight anyway).
   */
  private produce(kind: JournalKind, event: ActionTrailEvent): Promise<void> {
    if (this.closed) return Promise.reject(new Error('The event store is closed.'));
    if (kind !== 'journal' && this.queue.length >= this.maxPending) {
      return Promise.reject(new Error(`The Kafka journal is failing and its queue is full (${this.queue.length} records).`));
    }
    return new Promise<void>((resolve, reject) => {
      // A copy: the caller may reuse the object once the call returns (EventStore ownership).
      this.queue.push({ record: { kind, event: structuredClone(event) }, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = (async () => {
      try {
        while (this.queue.length > 0) {
          const batch = this.queue.splice(0, this.maxBatch);
          try {
            await this.producer.send(batch.map((q) => q.record));
            this.failures = 0;
            for (const q of batch) q.resolve();
            const counts = new Map<JournalKind, number>();
            for (const q of batch) counts.set(q.record.kind, (counts.get(q.record.kind) ?? 0) + 1);
            for (const [kind, n] of counts) this.o.onProduced?.(kind, n);
          } catch (err) {
            this.failures++;
            this.o.onProduceError?.(err as Error);
            // A journal entry is refused (the write is not forwarded); a finished record is kept
            // and sent again — it describes a call already made.
            const kept: Queued[] = [];
            for (const q of batch) {
              if (q.record.kind === 'journal' || this.closed) q.reject(err as Error);
              else kept.push(q);
            }
            this.queue = [...kept, ...this.queue];
            if (kept.length) {
              this.o.log.warn({ records: kept.length, err: (err as Error).message }, 'The Kafka journal did not take a batch of finished events; it is sent again.');
              await sleep(Math.min(5000, 100 * 2 ** this.failures));
            }
          }
        }
      } finally {
        this.pumping = undefined;
      }
    })();
  }

  override async journal(event: ActionTrailEvent): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const sent = this.produce('journal', event);
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`The Kafka journal did not acknowledge the record within ${this.o.journalTimeoutMs} ms.`)), this.o.journalTimeoutMs);
    });
    sent.catch(() => undefined); // settled after a timeout: nobody waits for it any more
    try {
      await Promise.race([sent, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  override complete(event: ActionTrailEvent): Promise<void> {
    return this.produce('complete', event);
  }

  override append(event: ActionTrailEvent): Promise<void> {
    return this.produce('append', event);
  }


  /**
   * Sends what is queued (for at most `journalTimeoutMs` while the producer fails: what is left
   * is logged with its count), stops the store writer, then closes the store.
   */
  override async close(): Promise<void> {
    if (this.closed) return;
    const deadline = Date.now() + this.o.journalTimeoutMs;
    while ((this.pumping || this.queue.length) && Date.now() < deadline) await (this.pumping ?? sleep(10));
    this.closed = true;
    if (this.queue.length) {
      this.o.log.error({ records: this.queue.length }, 'The Kafka journal did not take these finished events before shutdown; they are lost.');
      for (const q of this.queue.splice(0)) q.reject(new Error('The event store is closed.'));
    }
    await this.writer?.close();
    await this.producer.close();
    await this.inner.close();
  }
}

export interface StoreWriterOptions {
  log: Logger;
  /** Events written into the store (a counter). */
  onWritten?(n: number): void;
  /** A batch the store did not take; retried (a counter). */
  onWriteError?(err: Error): void;
  /** Backoff after the n-th failure in a row (ms). */
  backoffMs?(failures: number): number;
}

/**
 * The consuming half: writes each batch of journal records into the store, retrying until the
 * store committed it (or the writer is closed). The caller commits the batch's offsets only after
 * `write` resolved true.
 */
export class StoreWriter {
  private closed = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly store: EventStore,
    private readonly o: StoreWriterOptions,
  ) {}

  /** True once the batch is committed in the store; false when the writer closed first (not written, or not known to be). */
  async write(records: readonly JournalRecord[]): Promise<boolean> {
    if (records.length === 0) return true;
    // The last record of each eventId wins: a final after its pending in the same batch.
    const last = new Map<string, JournalRecord>();
    for (const r of records) {
      last.delete(r.event.eventId); // keep the order of the last occurrence
      last.set(r.event.eventId, r);
    }
    const inserts = [...last.values()].filter((r) => r.kind !== 'complete').map((r) => r.event);
    const finals = [...last.values()].filter((r) => r.kind === 'complete').map((r) => r.event);
    let insertsDone = inserts.length === 0;
    let finalsDone = finals.length === 0;
    for (let failures = 0; ; ) {
      if (this.closed) return false;
      try {
        // Insert-if-absent: what a journal entry does, batched; a pending that arrives after its
        // final (a redelivery) finds the eventId stored and changes nothing.
        if (!insertsDone) {
          await this.store.appendSerialized(JSON.stringify(inserts));
          insertsDone = true;
        }
        if (!finalsDone) {
          await Promise.all(finals.map((e) => this.store.complete(e)));
          finalsDone = true;
        }
        this.o.onWritten?.(last.size);
        return true;
      } catch (err) {
        failures++;
        this.o.onWriteError?.(err as Error);
        this.o.log.warn({ records: records.length, failures, err: (err as Error).message }, 'The event store did not take a batch of the Kafka journal; its offsets stay uncommitted and it is written again.');
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, this.o.backoffMs?.(failures) ?? Math.min(5000, 100 * 2 ** failures));
          this.wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        this.wake = undefined;
      }
    }
  }

  /** Stops retrying; a `write` in progress returns false at its next step. */
  close(): void {
    this.closed = true;
    this.wake?.();
  }
}
