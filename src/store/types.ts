/**
 * The EventStore contract: what every store (embedded SQLite, PostgreSQL) must do.
 *
 * Ownership: a caller does not change an event it has handed to the store until the call
 * resolves (the embedded store batches the objects it is given and copies them when it sends
 * or commits the batch; the PostgreSQL store copies at once). Afterwards it may reuse them.
 * Blocking: `journal` returns only once the event is durable (it is the fail-closed gate for
 * writes); `append` and `complete` may batch and return once the batch is committed.
 * `close()` flushes every accepted event before it resolves.
 */
import type { ActionTrailEvent, EventRW, EventType } from '../event/types.js';
import type { Histogram, HistogramQuery } from '../query/histogram.js';

export type Direction = 'FORWARD' | 'BACKWARD';

/**
 * What a store keeps in its filterable region column for a global event (`isGlobal`), instead
 * of its `acsRegion` (which the record keeps): no region name can be it (NAME_RULES.region), and
 * a region filter matches it too (`region IN (<r>, '*')`), so a global event is stored once and
 * seen from every region. Rows stored before regions existed keep their own region.
 */
export const GLOBAL_REGION_COLUMN = '*';

/** The region column of `e` (the same in every store). */
export function regionColumn(e: { acsRegion: string; isGlobal: boolean }): string {
  return e.isGlobal ? GLOBAL_REGION_COLUMN : e.acsRegion;
}

/** Filters of LookupEvents; every one given must match (AND). */
export interface EventFilter {
  startTime: number; // epoch ms, inclusive
  endTime: number; // epoch ms, inclusive
  eventRW?: EventRW;
  user?: string;
  serviceName?: string;
  eventName?: string;
  eventType?: EventType;
  resourceType?: string;
  resourceName?: string;
  accessKeyId?: string;
  sensitive?: boolean;
  eventId?: string;
  /**
   * Events of this region (`acsRegion`) and every global event (`isGlobal`: stored once, seen
   * from every region). Absent: every region.
   */
  region?: string;
  errorCode?: string;
  sourceIpAddress?: string;
  cluster?: string;
  /**
   * Events of this account only (`recipientAccountId`; events without one belong to the
   * management account). Set by the query layer from the caller: a member account's principal
   * never sees another account's events.
   */
  accountId?: string | null;
}

/** Where a page ended: the sort key of its last event. */
export interface Cursor {
  time: number;
  seq: number;
}

export interface LookupRequest {
  filter: EventFilter;
  direction: Direction;
  limit: number;
  after?: Cursor;
}

export interface LookupPage {
  events: ActionTrailEvent[];
  /** Set when more events may follow. */
  next?: Cursor;
}

/** An event with its position in the store's append order (for trails and other readers). */
export interface Positioned {
  seq: number;
  event: ActionTrailEvent;
}

export interface EventStore {
  /** Durably records a write before it is forwarded. Throws if it cannot. */
  journal(event: ActionTrailEvent): Promise<void>;
  /** Replaces a journaled event with its final form (same eventId). */
  complete(event: ActionTrailEvent): Promise<void>;
  /** Records finished events; may batch. Resolves when committed. */
  append(event: ActionTrailEvent): Promise<void>;
  /**
   * Records finished events given as the JSON text of an array (a batch prepared off the request
   * thread, which passes the text through unparsed), each only if its eventId is not stored yet.
   * Resolves once committed, with the positions in the array of the events that were already
   * stored — before, or earlier in the same array. A large batch may commit in several
   * transactions (other writes are not held up behind it); on failure, what committed stays.
   */
  appendSerialized(eventsJson: string): Promise<number[]>;
  lookup(req: LookupRequest): Promise<LookupPage>;
  /** Event counts over time for the same filters as `lookup` (the console's chart). */
  histogram(q: HistogramQuery): Promise<Histogram>;
  get(eventId: string): Promise<ActionTrailEvent | undefined>;
  /** Which of these eventIds are stored (one round trip for a batch: ingest's duplicate check). */
  existing(eventIds: readonly string[]): Promise<Set<string>>;
  /**
   * Events in append order after position `afterSeq`, oldest first, at most `limit`. Events
   * still `pending` (a write in flight) stop the scan: readers never see a write before its
   * outcome, and never skip it either.
   */
  scan(afterSeq: number, limit: number): Promise<Positioned[]>;
  /** The position of the newest committed event (0 when empty). */
  lastSeq(): Promise<number>;
  /**
   * Marks events still `pending` as `unknown` (after a crash); returns how many. With `before`
   * (epoch ms) only those that happened before it: on a store several instances share, a younger
   * pending event may be another instance's write still in flight.
   */
  resolvePending(message: string, before?: number): Promise<number>;
  /** Deletes events older than `before` (epoch ms); returns how many. */
  purge(before: number): Promise<number>;
  close(): Promise<void>;
}
