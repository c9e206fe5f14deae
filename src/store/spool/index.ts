/**
 * `store.spool`: when PostgreSQL cannot take a write's journal entry, the gateway journals it to a
 * durable local spool instead of refusing it, forwards it, and the spool drains into PostgreSQL
 * when it is back. The default without a spool is to fail closed (503): nothing reaches Flink
 * without a record. With one, nothing reaches Flink without a record either — the record is on
 * this machine's disk until PostgreSQL has it.
 *
 * `SpoolingEventStore` wraps the PostgreSQL event store:
 * - `journal` asks PostgreSQL, for at most `journalTimeoutMs`; when that fails (refused, timed
 *   out, any error) the instance **spools**: this write and every write, completion and read
 *   event after it are kept in the spool (fsynced) until it has drained, so none waits on a
 *   database that is not there. An outcome or read event PostgreSQL does not commit within
 *   `journalTimeoutMs` is kept in the spool as well (and the instance spools from then on): the
 *   store's own retry holds it only in memory, which a crash would lose.
 * - A drain runs every `drainIntervalMs`: finished events, oldest first, are handed to the
 *   store's `complete` — an update of the row journaled in PostgreSQL, or an insert when there is
 *   none, keyed by eventId — and removed from the spool once committed. A crash at any point
 *   drains them again after the restart: idempotent on eventId, never duplicated. Writes still
 *   in flight (journaled, not answered yet) wait in the spool for their outcome.
 * - Once the spool is empty and PostgreSQL answers, the instance stops spooling.
 * - A write journaled in the spool by a process that died before its outcome is recorded with
 *   outcome `unknown` at the next start, as `resolvePending` does in the store.
 * - A full spool (`maxEvents`) refuses new journal entries (503, fail closed) rather than lose
 *   one; the outcomes and read events of calls already made are always kept.
 *
 * Queries are not answered from the spool: during the outage LookupEvents fails (the database is
 * gone); afterwards every spooled event is found, in eventTime order like every other.
 */
import type { ActionTrailEvent } from '../../event/types.js';
import type { Logger } from '../../telemetry/logger.js';
import { DelegatingEventStore } from '../delegating.js';
import type { EventStore } from '../types.js';

/** One kept event: a journaled write (`final` false) or a finished event. */
export interface SpoolRow {
  id: number;
  eventId: string;
  final: boolean;
  event: ActionTrailEvent;
}

/** Where spooled events are kept, durably, in the order they came. */
export interface Spool {
  /** Keeps an event (durable when it returns); a finished event replaces its journaled form. */
  put(event: ActionTrailEvent, final: boolean): void;
  has(eventId: string): boolean;
  /** Finished events, oldest first. */
  finals(limit: number): SpoolRow[];
  /** Journaled writes without an outcome yet. */
  journaled(): SpoolRow[];
  /** Forgets finished events once the store has them. */
  remove(ids: readonly number[]): void;
  count(): number;
  close(): void;
}

export interface SpoolOptions {
  /** How long a journal entry may take in the store before it is spooled instead. */
  journalTimeoutMs: number;
  /** Most events kept; beyond, journal entries are refused (fail closed). */
  maxEvents: number;
  drainIntervalMs?: number;
  log: Logger;
  /** The number of events in the spool, after each change (a gauge). */
  onCount?(n: number): void;
  /** Events drained into the store (a counter). */
  onDrained?(n: number): void;
}

/** The outcome given to a write the spool journaled but a process that died never completed. */
const UNKNOWN = 'FlinkTrail stopped before the answer to this operation was recorded; the operation may or may not have taken effect.';
const DRAIN_BATCH = 500;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export class SpoolingEventStore extends DelegatingEventStore {
  private spooling = false;
  private spooledSince = 0;
  private draining: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(
    inner: EventStore,
    private readonly spool: Spool,
    private readonly o: SpoolOptions,
  ) {
    super(inner);
    const left = spool.journaled();
    for (const r of left) {
      r.event.additionalEventData = { ...r.event.additionalEventData, outcome: 'unknown' };
      r.event.errorCode = 'OutcomeUnknown';
      r.event.errorMessage = UNKNOWN;
      spool.put(r.event, true);
    }
    if (left.length) o.log.warn({ events: left.length }, 'Writes journaled in the spool without a recorded outcome were marked unknown.');
    const n = spool.count();
    if (n > 0) {
      this.enter(`${n} events are in the spool from before this start`);
    }
    o.onCount?.(n);
    this.timer = setInterval(() => void this.drain(), o.drainIntervalMs ?? 500);
    this.timer.unref();
  }

  /** True while writes go to the spool. */
  get isSpooling(): boolean {
    return this.spooling;
  }

  private enter(why: string): void {
    if (this.spooling) return;
    this.spooling = true;
    this.spooledSince = Date.now();
    this.o.log.warn({ reason: why }, 'The event store cannot take writes; they are journaled to the local spool and drained when it can.');
  }

  private keep(event: ActionTrailEvent, final: boolean): void {
    // Only new writes are refused when full: an outcome or a read event of a call already made is kept.
    if (!final) {
      const n = this.spool.count();
      if (n >= this.o.maxEvents) throw new Error(`The event store is unavailable and the spool is full (${n} events, store.spool.maxEvents).`);
    }
    this.spool.put(event, final);
    this.o.onCount?.(this.spool.count());
  }

  override async journal(event: ActionTrailEvent): Promise<void> {
    if (this.closed) throw new Error('The event store is closed.');
    if (!this.spooling) {
      try {
        await withTimeout(this.inner.journal(event), this.o.journalTimeoutMs, 'Journaling in the event store');
        return;
      } catch (err) {
        this.enter((err as Error).message);
      }
    }
    this.keep(event, false);
  }

  override async complete(event: ActionTrailEvent): Promise<void> {
    if (this.spooling || this.spool.has(event.eventId)) return this.keep(event, true);
    return this.committedOrKept(this.inner.complete(event), event);
  }

  override async append(event: ActionTrailEvent): Promise<void> {
    if (this.spooling) return this.keep(event, true);
    return this.committedOrKept(this.inner.append(event), event);
  }

  /**
   * Waits for the store to commit a finished event, for at most `journalTimeoutMs`; then keeps it
   * in the spool too (and spools from now on). The store holds what it could not commit in
   * memory and retries, but a process killed meanwhile loses that copy: an outcome lost so would
   * leave its write `pending` in the store, holding every trail behind it. Both copies are the
   * same event, written by eventId: whichever lands second changes nothing.
   */
  private async committedOrKept(commit: Promise<void>, event: ActionTrailEvent): Promise<void> {
    try {
      await withTimeout(commit, this.o.journalTimeoutMs, 'Writing to the event store');
    } catch (err) {
      this.enter((err as Error).message);
      this.keep(event, true);
    }
  }

  /** Moves finished events into the store; stops spooling once it is empty and the store answers. One at a time. */
  drain(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.draining) return this.draining;
    const run = this.drainOnce();
    this.draining = run;
    // Cleared after the assignment: a drain with nothing to do settles at once, and a `finally`
    // inside it would run before `draining` is set, leaving a settled drain there for good.
    void run.finally(() => {
      if (this.draining === run) this.draining = undefined;
    });
    return run;
  }

  private async drainOnce(): Promise<void> {
    try {
      let drained = 0;
      for (;;) {
        const rows = this.spool.finals(DRAIN_BATCH);
        if (rows.length === 0) break;
        // `complete`: the row journaled in the store is replaced, or inserted when there is none.
        await Promise.all(rows.map((r) => this.inner.complete(r.event)));
        this.spool.remove(rows.map((r) => r.id));
        drained += rows.length;
        this.o.onDrained?.(rows.length);
        this.o.onCount?.(this.spool.count());
        if (this.closed) return;
      }
      if (!this.spooling || this.spool.count() > 0) return;
      await withTimeout(this.inner.lastSeq(), this.o.journalTimeoutMs, 'The event store');
      if (this.spool.count() > 0) return; // a write came in meanwhile: the next drain
      this.spooling = false;
      this.o.log.info({ drained, spooledMs: Date.now() - this.spooledSince }, 'The event store takes writes again; the spool is drained.');
    } catch (err) {
      this.o.log.debug({ err: (err as Error).message }, 'The spool could not drain yet; retrying.');
    }
  }


  /** One last drain if the store answers quickly; what is left stays in the spool for the next start. */
  override async close(): Promise<void> {
    if (this.closed) return;
    clearInterval(this.timer);
    const t = this.o.journalTimeoutMs;
    await withTimeout(this.draining ?? Promise.resolve(), t, 'A drain').catch(() => undefined);
    await withTimeout(this.drain(), t, 'The last drain').catch(() => undefined);
    // A drain still waiting on the store stops at its next step; its rows stay in the spool.
    this.closed = true;
    await this.inner.close();
    this.spool.close();
  }
}
