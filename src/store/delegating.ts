/**
 * An event store that hands every call to another one: the base of the decorators that change
 * how writes reach the store (store/spool/, store/kafka-journal/) and leave queries, scans,
 * retention and recovery to it. A subclass overrides what it changes.
 */
import type { ActionTrailEvent } from '../event/types.js';
import type { Histogram, HistogramQuery } from '../query/histogram.js';
import type { EventStore, LookupPage, LookupRequest, Positioned } from './types.js';

export abstract class DelegatingEventStore implements EventStore {
  constructor(readonly inner: EventStore) {}

  journal(event: ActionTrailEvent): Promise<void> {
    return this.inner.journal(event);
  }
  complete(event: ActionTrailEvent): Promise<void> {
    return this.inner.complete(event);
  }
  append(event: ActionTrailEvent): Promise<void> {
    return this.inner.append(event);
  }
  appendSerialized(eventsJson: string): Promise<number[]> {
    return this.inner.appendSerialized(eventsJson);
  }
  lookup(req: LookupRequest): Promise<LookupPage> {
    return this.inner.lookup(req);
  }
  histogram(q: HistogramQuery): Promise<Histogram> {
    return this.inner.histogram(q);
  }
  get(eventId: string): Promise<ActionTrailEvent | undefined> {
    return this.inner.get(eventId);
  }
  existing(eventIds: readonly string[]): Promise<Set<string>> {
    return this.inner.existing(eventIds);
  }
  scan(afterSeq: number, limit: number): Promise<Positioned[]> {
    return this.inner.scan(afterSeq, limit);
  }
  lastSeq(): Promise<number> {
    return this.inner.lastSeq();
  }
  resolvePending(message: string, before?: number): Promise<number> {
    return this.inner.resolvePending(message, before);
  }
  purge(before: number): Promise<number> {
    return this.inner.purge(before);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
