/**
 * Trail state behind one contract, so that a second database can stand behind it: trails, their
 * destinations, one cursor per destination (live delivery) and per destination and history job
 * (backfill), the off times a stop/start leaves, delivered files, digest chains, history jobs,
 * dead letters, and the delivery lease of each trail. The embedded implementation is
 * sqlite/repository.ts (the data directory), the shared one postgres/repository.ts (`store.url`:
 * every instance sees the same trails).
 *
 * A cursor is a durable position in the store's append order (`seq`): everything at or before
 * it has been delivered or deliberately skipped. A batch cut for a bucket or directory is
 * written down (the plan) before its first upload attempt, so a retry — even after a crash, even
 * on another instance — rebuilds the very same files.
 *
 * **Leases and fencing.** Each trail is delivered by exactly one holder at a time: the holder of
 * its lease (`acquireLease`). A lease lasts `ttlMs` from when it was taken or renewed (by the
 * database's clock where there is one) and is renewed by its holder well before; one that ran out
 * may be taken by anyone, and then its token grows. Every write that moves delivery state takes
 * the holder's `Fence` and commits only while the lease still carries that token (in the same
 * transaction, so a takeover waits for a fenced write in flight and the write after it fails):
 * otherwise it throws FT_ERR_TRAIL_LEASE_LOST and writes nothing. A holder that lost its lease
 * (paused, cut off) can therefore never move a position, a plan or a digest chain its successor
 * relies on. Status writes (`failed`, `digestFailed`) are not fenced.
 *
 * **Accounts.** A trail belongs to the account that created it (`accountId`; none stored: the
 * management account — trails made before accounts existed, and every trail the management
 * account makes, so that they stay its own whatever `accountId` is configured). Names are unique
 * across accounts. History jobs carry their trail's account; one runs at a time per account.
 * The repository stores owners; who may see which trail is the service's to decide.
 *
 * Destination URLs that carry credentials are stored sealed with the master key (src/secrets/);
 * URLs without credentials (or with `env:`/`file:` references) are stored as they are. Events a
 * destination can never take are kept as dead letters.
 */
import type { ActionTrailEvent } from '../event/types.js';
import type { Destination } from './destination.js';
import type { DeliveryFilter, JobStatus, TrailSpec, TrailStatus } from './model.js';

export interface StoredDestination extends Destination {
  id: number;
  minCutAt: number;
  lastDigestAt?: number;
  lastDigestError?: string;
}

export interface TrailRecord extends Omit<TrailSpec, 'destinations' | 'isOrganizationTrail'> {
  /** The owning account; absent: the management account. */
  accountId?: string;
  /** A multi-account trail (every account's events, each under its own path). */
  isOrganizationTrail: boolean;
  status: TrailStatus;
  homeRegion: string;
  createdAt: number;
  updatedAt: number;
  startLoggingAt?: number;
  stopLoggingAt?: number;
  firstStartAt?: number;
  firstStartSeq?: number;
  destinations: StoredDestination[];
}

export interface Plan {
  from: number;
  to: number;
  cutAt: number;
  /** The filter when the batch was cut: a retry selects exactly the same events. */
  filter: DeliveryFilter;
}

export interface Cursor {
  id: number;
  destId: number;
  jobId?: string;
  position: number;
  endSeq?: number;
  plan?: Plan;
  deliveredEvents: number;
  lastDeliveryAt?: number;
  lastError?: string;
  lastErrorAt?: number;
  done: boolean;
}

export interface DeliveredFile {
  key: string;
  /** The file's digest chain: its `<path>` (layout.ts) — the region, or `<rd_id>/<accountId>/<region>` for a multi-account trail. */
  region: string;
  cutAt: number;
  sha256: string;
  size: number;
  events: number;
  oldest: string;
  newest: string;
}

export interface Chain {
  destId: number;
  /** The `<path>` the chain covers (as `DeliveredFile.region`). */
  region: string;
  nextStart: number;
  lastKey?: string;
  lastSha256?: string;
  lastSignature?: string;
  lastEnd?: number;
}

export interface HistoryJob {
  id: string;
  trail: string;
  /** The account of its trail; absent: the management account. */
  accountId?: string;
  status: JobStatus;
  homeRegion: string;
  endSeq: number;
  /** Events that happened at or after this are not part of the job (the trail's first start). */
  before?: number;
  startTime?: number;
  endTime?: number;
  createdAt: number;
  updatedAt: number;
  error?: string;
}

/** An event to set aside, at its position, with the code and reason of the refusal. */
export interface NewDeadLetter {
  seq: number;
  event: ActionTrailEvent;
  code: string;
  reason: string;
}

/** An event set aside because a destination can never take it. */
export interface DeadLetter {
  id: number;
  destId: number;
  trail: string;
  jobId?: string;
  seq: number;
  eventId: string;
  /** An error code (FT_ERR_TRAIL_UNDELIVERABLE) or the destination's own. */
  code: string;
  reason: string;
  at: number;
  event: ActionTrailEvent;
}


/** The right to deliver one trail, until `expiresAt` (ms, the lease store's clock). */
export interface Lease {
  trail: string;
  holder: string;
  /** Grows each time the lease changes holder: the fencing token. */
  token: number;
  expiresAt: number;
}

/** What a fenced write checks: the lease of `trail` still carries `token`. */
export type Fence = Pick<Lease, 'trail' | 'token'>;

/** Where trail state is kept. Every method may reject (a database server behind it). */
export interface TrailRepository {
  /** Seals destination URLs an older version stored with credentials in clear (once, at start); returns how many. */
  sealStoredCredentials(): Promise<number>;

  get(name: string): Promise<TrailRecord | undefined>;
  /** FT_ERR_TRAIL_NOT_FOUND when absent. */
  mustGet(name: string): Promise<TrailRecord>;
  /** Every trail (or those named), by name. */
  list(names?: readonly string[]): Promise<TrailRecord[]>;
  /**
   * A Fresh trail of `accountId` (absent: the management account); each destination's live
   * cursor at `lastSeq`. FT_ERR_TRAIL_ALREADY_EXISTS when the name is taken, in any account.
   */
  create(spec: TrailSpec, homeRegion: string, now: number, lastSeq: number, accountId?: string): Promise<TrailRecord>;
  /** Applies an UpdateTrail (owner and multi-account never change). Destinations with an unchanged URL keep their positions and chains. */
  update(spec: TrailSpec, now: number, lastSeq: number): Promise<TrailRecord>;
  /** Deletes the trail (its destinations, cursors, files, chains, lease); its running history jobs fail. */
  delete(name: string, now: number): Promise<void>;
  /**
   * StartLogging. From Fresh: every live cursor starts at `lastSeq` (everything committed so far
   * happened before now) and events that happened from now on are delivered. From Disable: the
   * time between StopLogging and now becomes an off range that is never delivered.
   */
  start(name: string, now: number, lastSeq: number): Promise<TrailRecord>;
  /** StopLogging: events that happened from now on are not delivered (earlier ones still are). */
  stop(name: string, now: number): Promise<TrailRecord>;
  /** The [from, to) event-time ranges logging was off, oldest first. */
  offTimes(trail: string): Promise<[number, number][]>;

  cursor(id: number): Promise<Cursor | undefined>;
  /** Every cursor of every trail, with its trail name, by id. */
  allCursors(): Promise<(Cursor & { trail: string })[]>;
  cursorsOf(destId: number): Promise<Cursor[]>;
  /** Moves a cursor forward (never back) over events that need no delivery; not while it has a plan. */
  advance(id: number, position: number, fence?: Fence): Promise<void>;
  setPlan(id: number, plan: Plan, fence?: Fence): Promise<void>;
  /** Records a delivered batch: files (by key, replacing), new position, plan cleared, count — one transaction. */
  delivered(id: number, destId: number, position: number, events: number, files: readonly DeliveredFile[], now: number, fence?: Fence): Promise<void>;
  failed(id: number, message: string, now: number): Promise<void>;
  /**
   * Sets events aside as dead letters — an event is either still to deliver or recorded, never
   * neither. Returns the letters newly recorded (a retried batch does not record one twice:
   * unique on destination and seq, whichever cursor — live or a history job's — sets it aside).
   */
  deadLetter(
    c: Pick<Cursor, 'id' | 'destId' | 'jobId'>,
    trail: string,
    letters: readonly NewDeadLetter[],
    now: number,
    fence?: Fence,
  ): Promise<number>;
  /** Dead letters of a trail, newest first, with id below `beforeId`. */
  deadLetters(trail: string, limit: number, beforeId?: number): Promise<DeadLetter[]>;
  /** How many dead letters a destination has, and when the last was set aside. */
  deadLetterSummary(destId: number): Promise<{ count: number; lastAt?: number }>;
  finish(id: number, fence?: Fence): Promise<void>;

  /** Files of a destination and region cut in [from, to), by cut time and key. */
  filesBetween(destId: number, region: string, from: number, to: number): Promise<DeliveredFile[]>;
  /** Regions that have delivered files but no digest chain yet, with their first cut. */
  regionsWithoutChain(destId: number): Promise<{ region: string; firstCut: number }[]>;
  chains(destId: number): Promise<Chain[]>;
  /** Starts a chain at `start` unless the region has one. */
  startChain(destId: number, region: string, start: number, fence?: Fence): Promise<void>;
  /** Moves a chain's next interval start without writing a digest (logging was off). */
  skipChain(destId: number, region: string, nextStart: number, fence?: Fence): Promise<void>;
  /** A digest was stored: the chain moves to `end` and links to it; the destination's files are cut at `end` or later from now on. */
  digestWritten(c: Chain, end: number, key: string, sha256: string, signature: string, now: number, fence?: Fence): Promise<void>;
  digestFailed(destId: number, message: string): Promise<void>;
  /** The earliest cut time a new file of this destination may have (after its last digest). */
  minCutAt(destId: number): Promise<number>;

  /** A history job of the trail's account, with one cursor per destination. FT_ERR_TRAIL_HISTORY_JOB_RUNNING while another job of that account runs. */
  createJob(trail: TrailRecord, endSeq: number, before: number | undefined, startTime: number, endTime: number, now: number): Promise<HistoryJob>;
  job(id: string): Promise<HistoryJob | undefined>;
  /**
   * A page of one trail's jobs, or of every job (`trail` undefined: ListDeliveryHistoryJobs is
   * account-wide), newest first; with `accountId` (a member account), only that account's jobs.
   */
  jobs(trail: string | undefined, page: number, size: number, accountId?: string): Promise<{ total: number; jobs: HistoryJob[] }>;
  /** Job progress: events handled / to handle, over its cursors. */
  jobProgress(id: string): Promise<{ cursors: number; done: number; position: number; end: number }>;
  /** Changes the status of a job that is still initializing or delivering. */
  setJobStatus(id: string, status: JobStatus, now: number, error?: string): Promise<void>;

  /**
   * Takes the lease of `trail` for `holder` if it is free, ran out, or is `holder`'s already
   * (then renews it, same token), for `ttlMs`. Undefined while another holder's lease runs.
   */
  acquireLease(trail: string, holder: string, ttlMs: number): Promise<Lease | undefined>;
  /** Ends a lease early (a clean stop), so another holder may take it at once; only if it still carries the token. */
  releaseLease(lease: Fence & { holder: string }): Promise<void>;
  /** Every trail's lease, by trail. */
  leases(): Promise<Lease[]>;
}
