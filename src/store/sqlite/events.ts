/**
 * The embedded EventStore on SQLite.
 *
 * Journaled writes are committed one by one with the configured fsync discipline: that commit is
 * the fail-closed gate in front of Flink. Everything else (finished reads, completions of
 * journaled writes) is queued and committed in one transaction per flush interval, which keeps
 * ingest fast while an event is queryable within `flushIntervalMs` plus commit time. A failed
 * flush keeps its events and retries; nothing is reported as stored before it is.
 */
import type { ActionTrailEvent } from '../../event/types.js';
import type { Cursor, EventFilter, EventStore, LookupPage, LookupRequest, Positioned } from '../types.js';
import { regionColumn } from '../types.js';
import { pageRange } from '../page-range.js';
import type Database from 'better-sqlite3';
import type { Db } from './database.js';
import { filterSql } from './filter.js';
import { BODY_COLUMNS, BodyCodec, type BodyRow } from './body-codec.js';
import type { Histogram, HistogramQuery } from '../../query/histogram.js';
import { eventHistogram } from './histogram.js';
import { eventIdOf, storedEventId, VALUE_KIND, valueIdSql, type ValueKind } from './values.js';

type Statement = Database.Statement<unknown[]>;

/** How many index entries the planner reads per filter to estimate how sparse its matches are. */
const PLAN_PROBE = 5000;
/** How many index entries one page of a lookup may walk (see `lookup`). */
const SCAN_BUDGET = 10_000;
/** Marks `event_resources` as the driver of a lookup. */
const RESOURCES = 'event_resources';
/** Marks `member_resources` (a member account's references to one resource, in time order) as the driver. */
const MEMBER_RESOURCES = 'member_resources';

/**
 * A lookup's driving index, as `rarestFilter` chose it. `rid`: the one resource of a
 * MEMBER_RESOURCES walk (in time order); without it, the walk collects the member's references to
 * every resource the filter names (a type) and sorts them — chosen only when they are few.
 */
interface Plan {
  index: string;
  density: number;
  rid?: number;
}
/**
 * Filters with an index in (column, event_time) order, which can drive a lookup in time order.
 * `only`: a partial index, for that one value (as the SQL literal its WHERE names).
 */
interface Driver {
  filter: keyof EventFilter;
  column: string;
  index: string;
  /** The column holds the id of the filter's value in event_values (values.ts). */
  kind?: ValueKind;
  only?: { value: unknown; sql: string };
  /** The index of (account_id, column, event_time) over member accounts' events (migration 14). */
  member?: string;
}
const DRIVERS: readonly Driver[] = [
  { filter: 'user', column: 'user_id', kind: VALUE_KIND.userName, index: 'events_user_time', member: 'events_acct_user_time' },
  { filter: 'eventName', column: 'name_id', kind: VALUE_KIND.eventName, index: 'events_name_time', member: 'events_acct_name_time' },
  { filter: 'accessKeyId', column: 'key_id', kind: VALUE_KIND.accessKeyId, index: 'events_ak_time', member: 'events_acct_ak_time' },
  { filter: 'sourceIpAddress', column: 'ip_id', kind: VALUE_KIND.sourceIp, index: 'events_ip_time', member: 'events_acct_ip_time' },
  { filter: 'errorCode', column: 'error_code', index: 'events_error_time', member: 'events_acct_error_time' },
  { filter: 'sensitive', column: 'sensitive', index: 'events_sensitive_time', only: { value: true, sql: '1' }, member: 'events_acct_sensitive_time' },
  { filter: 'cluster', column: 'cluster_id', kind: VALUE_KIND.cluster, index: 'events_cluster_time', member: 'events_acct_cluster_time' },
  { filter: 'serviceName', column: 'service_id', kind: VALUE_KIND.serviceName, index: 'events_service_time', member: 'events_acct_service_time' },
  // Reads are nearly every event: walking time order finds them as fast as an index would.
  { filter: 'eventRW', column: 'event_rw', index: 'events_write_time', only: { value: 'Write', sql: "'Write'" }, member: 'events_acct_write_time' },
  // A member account's events (the management account's have no account_id: see `row`).
  { filter: 'accountId', column: 'account_id', index: 'events_account_time' },
];

/**
 * The drivers of a lookup with filter `f`: for a member account's lookup ("filter AND its
 * account") each filter's member index, which holds only that account's matches and so covers
 * both conditions; otherwise the plain indexes.
 */
function driversFor(f: EventFilter): Driver[] {
  const member = typeof f.accountId === 'string';
  const present = DRIVERS.filter((d) => drives(d, f));
  if (!member) return present;
  const covered = present.filter((d) => d.member).map((d): Driver => ({ ...d, index: d.member as string }));
  return covered.length ? covered : present;
}

/**
 * `f` as the rows store it: the management account's events have no `account_id`, so a filter
 * for that account becomes `accountId: null` (`account_id IS NULL` in filter.ts).
 */
function storedAccount<F extends EventFilter>(f: F, management: string | undefined): F {
  return f.accountId !== undefined && f.accountId === management ? { ...f, accountId: null } : f;
}

/** Whether `d` can drive a lookup with filter `f`. */
function drives(d: Driver, f: EventFilter): boolean {
  return d.only ? f[d.filter] === d.only.value : f[d.filter] !== undefined && f[d.filter] !== null;
}

/** `d`'s condition on an unaliased `events`, and its arguments (the account's too, for a member index). */
function driverCondition(d: Driver, f: EventFilter): { cond: string; args: unknown[] } {
  const own = d.only
    ? { cond: `${d.column} = ${d.only.sql}`, args: [] as unknown[] }
    : { cond: `${d.column} = ${d.kind === undefined ? '?' : valueIdSql(d.kind, '?')}`, args: [f[d.filter]] };
  if (!isMemberIndex(d)) return own;
  return { cond: `account_id = ? AND ${own.cond}`, args: [f.accountId, ...own.args] };
}

function isMemberIndex(d: Driver): boolean {
  return d.member !== undefined && d.index === d.member;
}

/** Ids of resource names, types and event values cached by the writer (`cachedId`); cleared when it grows past this. */
const RESOURCE_IDS_CACHED = 100_000;

interface Pending {
  kind: 'insert' | 'complete';
  event: ActionTrailEvent;
  resolve: () => void;
  reject: (err: Error) => void;
}

export interface SqliteEventStoreOptions {
  flushIntervalMs: number;
  /** Most queued events before new ones are refused (the store is failing). */
  maxQueue?: number;
  onFlushError?: (err: Error, queued: number) => void;
  /** Index entries read per filter to choose a lookup's driving index (default 5000; tests lower it). */
  planProbe?: number;
  /** Most index entries one page of a lookup walks before it returns short (default 10,000). */
  scanBudget?: number;
  /**
   * The management account (`Config.accountId`): its events are stored with no `account_id`
   * (as are events from before accounts), so an installation with one account pays for no
   * account index entry. Without it, every event's account is stored as it is.
   */
  managementAccountId?: string;
}

/** The account `e` is stored with: its member account, or null for the management account's (see `row`). */
function memberAccountOf(e: ActionTrailEvent, management: string | undefined): string | null {
  return e.recipientAccountId === undefined || e.recipientAccountId === management ? null : e.recipientAccountId;
}

/** The id of a value in event_values (added on first use), as the writer caches it. */
type ValueId = (kind: ValueKind, value: string) => number;

function row(e: ActionTrailEvent, codec: BodyCodec, management: string | undefined, id: ValueId) {
  const optional = (kind: ValueKind, v: string | null | undefined) => (v ? id(kind, v) : null);
  return {
    account_id: memberAccountOf(e, management),
    event_id: storedEventId(e.eventId),
    event_time: Date.parse(e.eventTime),
    region_id: id(VALUE_KIND.region, regionColumn(e)),
    event_rw: e.eventRW,
    name_id: id(VALUE_KIND.eventName, e.eventName),
    type_id: id(VALUE_KIND.eventType, e.eventType),
    service_id: id(VALUE_KIND.serviceName, e.serviceName),
    user_id: optional(VALUE_KIND.userName, e.userIdentity.userName),
    // An empty AccessKey ID is a value (`?? null` before ids: kept so that it reads back).
    key_id: e.userIdentity.accessKeyId === undefined || e.userIdentity.accessKeyId === null ? null : id(VALUE_KIND.accessKeyId, e.userIdentity.accessKeyId),
    sensitive: e.additionalEventData.sensitive ? 1 : 0,
    outcome: e.additionalEventData.outcome,
    error_code: e.errorCode ?? null,
    ip_id: optional(VALUE_KIND.sourceIp, e.sourceIpAddress),
    cluster_id: optional(VALUE_KIND.cluster, typeof e.additionalEventData.cluster === 'string' ? e.additionalEventData.cluster : null),
    body: codec.encode(e),
  };
}

/** Events per transaction of `appendSerialized`. */
const SERIALIZED_CHUNK = 500;

/** eventIds per `existing` statement (shapes prepared: one per distinct chunk size, cached). */
const EXISTING_CHUNK = 500;

export class SqliteEventStore implements EventStore {
  private readonly db: Db;
  private readonly opts: Required<Omit<SqliteEventStoreOptions, 'onFlushError' | 'planProbe' | 'scanBudget' | 'managementAccountId'>> & { planProbe: number; scanBudget: number } & SqliteEventStoreOptions;
  private queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private failures = 0;

  private readonly insertStmt;
  private readonly updateStmt;
  private readonly deleteResources;
  private readonly insertResource;
  private readonly deleteMemberResources;
  private readonly insertMemberResource;
  private readonly seqOf;
  private readonly getStmt;
  private readonly scanStmt;
  private readonly statements = new Map<string, Statement>();
  private readonly codec: BodyCodec;
  private readonly resourceIds = new Map<string, number>();
  private readonly resourceId;
  private readonly insertResourceName;
  private readonly typeId;
  private readonly insertType;
  private readonly valueIdStmt;
  private readonly insertValue;
  private readonly valueId: ValueId = (kind, value) =>
    this.cachedId(`v${kind}\0${value}`, () => this.valueIdStmt.get(kind, value) as number | undefined, () => this.insertValue.run(kind, value).lastInsertRowid);

  constructor(db: Db, opts: SqliteEventStoreOptions) {
    this.db = db;
    this.opts = { maxQueue: 100_000, planProbe: PLAN_PROBE, scanBudget: SCAN_BUDGET, ...opts };
    this.insertStmt = db.prepare(`INSERT INTO events
      (event_id, event_time, region_id, event_rw, name_id, type_id, service_id, user_id,
       key_id, sensitive, outcome, error_code, ip_id, cluster_id, account_id, body)
      VALUES (@event_id, @event_time, @region_id, @event_rw, @name_id, @type_id, @service_id,
       @user_id, @key_id, @sensitive, @outcome, @error_code, @ip_id, @cluster_id, @account_id, @body)
      ON CONFLICT (event_id) DO NOTHING`);
    this.updateStmt = db.prepare(`UPDATE events SET event_rw=@event_rw, name_id=@name_id,
      type_id=@type_id, service_id=@service_id, user_id=@user_id,
      key_id=@key_id, sensitive=@sensitive, outcome=@outcome, error_code=@error_code,
      ip_id=@ip_id, cluster_id=@cluster_id, account_id=@account_id, body=@body WHERE event_id=@event_id`);
    this.deleteResources = db.prepare('DELETE FROM event_resources WHERE seq = ?');
    this.insertResource = db.prepare('INSERT OR IGNORE INTO event_resources (rid, seq) VALUES (?, ?)');
    this.deleteMemberResources = db.prepare('DELETE FROM member_resources WHERE seq = ?');
    this.insertMemberResource = db.prepare('INSERT OR IGNORE INTO member_resources (account_id, rid, event_time, seq) VALUES (?, ?, ?, ?)');
    this.resourceId = db.prepare('SELECT id FROM resource_names WHERE name = ? AND type = ?').pluck();
    this.insertResourceName = db.prepare('INSERT INTO resource_names (type, name) VALUES (?, ?)');
    this.typeId = db.prepare('SELECT id FROM resource_types WHERE type = ?').pluck();
    this.insertType = db.prepare('INSERT INTO resource_types (type) VALUES (?)');
    this.valueIdStmt = db.prepare('SELECT id FROM event_values WHERE kind = ? AND value = ?').pluck();
    this.insertValue = db.prepare('INSERT INTO event_values (kind, value) VALUES (?, ?)');
    this.seqOf = db.prepare('SELECT seq FROM events WHERE event_id = ?');
    this.getStmt = db.prepare(`SELECT ${BODY_COLUMNS} FROM events e WHERE e.event_id = ?`);
    this.scanStmt = db.prepare(`SELECT e.seq, e.outcome, ${BODY_COLUMNS} FROM events e WHERE e.seq > ? ORDER BY e.seq LIMIT ?`);
    this.codec = new BodyCodec(db);
  }

  /** `e`'s references in event_resources and, for a member account's event, member_resources. */
  private writeResources(seq: number, e: ActionTrailEvent, rewrite: boolean): void {
    if (rewrite) {
      this.deleteResources.run(seq);
      this.deleteMemberResources.run(seq);
    }
    const account = memberAccountOf(e, this.opts.managementAccountId);
    const time = Date.parse(e.eventTime);
    const add = (rid: number) => {
      this.insertResource.run(rid, seq);
      if (account !== null) this.insertMemberResource.run(account, rid, time, seq);
    };
    for (const [type, names] of Object.entries(e.referencedResources)) {
      for (const name of new Set(names)) {
        if (name) add(this.resourceIdOf(type, name));
      }
      if (names.length === 0) add(this.resourceIdOf(type, ''));
      // The type itself, for a member's lookup by resource type (see `onlyResourceId`).
      if (account !== null) this.insertMemberResource.run(account, -this.typeIdOf(type), time, seq);
    }
  }

  /**
   * The id under `key` (a resource name `r…`, a resource type `t…`, an event value `v…`): from the cache, else
   * `find`, else `add` (first use). Cached because most events name a few hot values; the cache
   * is cleared whenever a transaction that may have added ids rolls back (or purge drops some).
   */
  private cachedId(key: string, find: () => number | undefined, add: () => number | bigint): number {
    let id = this.resourceIds.get(key);
    if (id === undefined) {
      id = find() ?? Number(add());
      if (this.resourceIds.size >= RESOURCE_IDS_CACHED) this.resourceIds.clear();
      this.resourceIds.set(key, id);
    }
    return id;
  }

  /** Forgets every cached id: a transaction that may have added some rolled back (or purge dropped some). */
  private forgetIds(): void {
    this.resourceIds.clear();
    this.codec.forgetValues();
  }

  /** The id of a resource type. */
  private typeIdOf(type: string): number {
    return this.cachedId(`t${type}`, () => this.typeId.get(type) as number | undefined, () => this.insertType.run(type).lastInsertRowid);
  }

  /** The id of a resource name. */
  private resourceIdOf(type: string, name: string): number {
    return this.cachedId(`r${type}\0${name}`, () => this.resourceId.get(name, type) as number | undefined, () => this.insertResourceName.run(type, name).lastInsertRowid);
  }

  /** Inserts the event unless its eventId is stored; returns whether it was inserted. */
  private insertOne(e: ActionTrailEvent): boolean {
    const info = this.insertStmt.run(row(e, this.codec, this.opts.managementAccountId, this.valueId));
    if (info.changes !== 1) return false;
    this.writeResources(Number(info.lastInsertRowid), e, false);
    return true;
  }

  private completeOne(e: ActionTrailEvent): void {
    const info = this.updateStmt.run(row(e, this.codec, this.opts.managementAccountId, this.valueId));
    if (info.changes === 0) {
      // The journal entry is gone (purged, or journaling was off): keep the event anyway.
      this.insertOne(e);
      return;
    }
    const found = this.seqOf.get(storedEventId(e.eventId)) as { seq: number } | undefined;
    if (found) this.writeResources(found.seq, e, true);
  }

  journal(event: ActionTrailEvent): Promise<void> {
    if (this.closed) return Promise.reject(new Error('The event store is closed.'));
    try {
      this.db.transaction(() => this.insertOne(event)).immediate();
      return Promise.resolve();
    } catch (err) {
      this.forgetIds();
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  complete(event: ActionTrailEvent): Promise<void> {
    return this.enqueue('complete', event);
  }

  append(event: ActionTrailEvent): Promise<void> {
    return this.enqueue('insert', event);
  }

  async appendSerialized(eventsJson: string): Promise<number[]> {
    if (this.closed) throw new Error('The event store is closed.');
    const events = JSON.parse(eventsJson) as ActionTrailEvent[];
    const duplicates: number[] = [];
    for (let from = 0; from < events.length; from += SERIALIZED_CHUNK) {
      // Before each chunk, the thread answers other calls: a journaled write (the gateway waiting
      // to forward to Flink) is not held up behind a 10,000-record ingest. And the appends queued
      // meanwhile (the gateway's events) are committed first: left to the flush timer, they would
      // wait for every chunk of every ingest in flight (timers run after them in the loop).
      await new Promise<void>((r) => setImmediate(r));
      if (this.queue.length > 0 && this.failures === 0) this.flush();
      try {
        this.db
          .transaction(() => {
            for (let i = from; i < Math.min(events.length, from + SERIALIZED_CHUNK); i++) {
              if (!this.insertOne(events[i] as ActionTrailEvent)) duplicates.push(i);
            }
          })
          .immediate();
      } catch (err) {
        // Resource ids cached inside the rolled-back transaction may not exist.
        this.forgetIds();
        throw err;
      }
    }
    return duplicates;
  }

  private enqueue(kind: Pending['kind'], event: ActionTrailEvent): Promise<void> {
    if (this.closed) return Promise.reject(new Error('The event store is closed.'));
    if (this.queue.length >= this.opts.maxQueue) {
      return Promise.reject(new Error(`The event store is failing and its queue is full (${this.queue.length} events).`));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ kind, event, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.timer) return;
    const delay = this.failures === 0 ? this.opts.flushIntervalMs : Math.min(5000, 100 * 2 ** this.failures);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, delay);
  }

  /** Commits everything queued in one transaction; on failure keeps it and retries. */
  flush(): void {
    if (this.queue.length === 0) return;
    const batch = this.queue;
    try {
      this.db
        .transaction(() => {
          for (const p of batch) {
            if (p.kind === 'insert') this.insertOne(p.event);
            else this.completeOne(p.event);
          }
        })
        .immediate();
    } catch (err) {
      // Resource names added in the rolled-back transaction are gone: so must their cached ids be.
      this.forgetIds();
      this.failures++;
      this.opts.onFlushError?.(err as Error, batch.length);
      if (!this.closed) this.schedule();
      return;
    }
    this.failures = 0;
    this.queue = [];
    for (const p of batch) p.resolve();
  }

  /**
   * One query with every filter ANDed, in (event_time, seq) order, at most `limit` (+1 to know
   * whether more follow).
   *
   * Which index drives the query decides whether it takes a millisecond or a second on a large
   * store, and the right one depends on the values, not the filters: `user=<a long-tail user>`
   * should walk that user's index entries, `user=<the busiest user>` plus a rare event name
   * should walk the event name's. SQLite's planner cannot see value skew behind bound
   * parameters, so the store looks first (`rarestFilter`: a bounded, index-only probe per
   * filter) and drives the query from the filter whose matches are sparsest (`INDEXED BY`),
   * walking its index in time order and stopping after one page. A rare resource name drives
   * through `event_resources` instead. With no indexed filter, or the unique eventId, SQLite's
   * own choice stands. Results are the same whichever index drives; only the cost differs.
   */
  lookup(req: LookupRequest): Promise<LookupPage> {
    const f = storedAccount(req.filter, this.opts.managementAccountId);
    const { lo, hi, desc } = pageRange(req);
    const { where, params, resources: sub, resourcesOfEvent } = filterSql(f, lo, hi);
    params['limit'] = req.limit + 1;
    if (req.after) {
      where.push(desc ? '(e.event_time < @afterTime OR e.seq < @afterSeq)' : '(e.event_time > @afterTime OR e.seq > @afterSeq)');
      params['afterTime'] = req.after.time;
      params['afterSeq'] = req.after.seq;
    }

    const driver = f.eventId === undefined ? this.rarestFilter(f, lo, hi, desc) : undefined;
    const viaMember = driver?.index === MEMBER_RESOURCES;
    // A bounded walk. Filters that are each common but rarely true together would walk the
    // driving index to its end (seconds on a large store, with the event loop blocked); so the
    // walk reads at most `scanBudget` index entries per page and, if the page is not full by
    // then, returns it short — even empty — with a cursor where it stopped, as CloudTrail's
    // LookupEvents does. Following the cursor still yields every event, in order.
    const conditions = where.length - 2 + (sub.length ? 1 : 0);
    // A member index covers its filter and the account; member_resources the resource and the account.
    const covered = !driver || driver.index === RESOURCES ? 0 : viaMember || DRIVERS.some((d) => d.member === driver.index) ? 2 : 1;
    const residual = conditions - covered > 0;
    const stop = f.eventId === undefined && driver?.index !== RESOURCES && residual ? this.walkEnd(f, driver, lo, hi, desc, req.after) : undefined;
    if (stop) {
      // The page covers the walk up to and including `stop`; the time bound keeps it sargable.
      if (desc) params['startTime'] = Math.max(lo, stop.time);
      else params['endTime'] = Math.min(hi, stop.time);
      where.push(desc ? '(e.event_time > @stopTime OR e.seq >= @stopSeq)' : '(e.event_time < @stopTime OR e.seq <= @stopSeq)');
      params['stopTime'] = stop.time;
      params['stopSeq'] = stop.seq;
    }
    let from = 'events e';
    let key = 'e';
    if (viaMember) {
      // The walk is over member_resources r in (account, resource, time) order; events are read by seq.
      from = 'member_resources r CROSS JOIN events e';
      key = 'r';
      where.push('e.seq = r.seq', 'r.account_id = @accountId', 'r.event_time >= @startTime', 'r.event_time <= @endTime');
      if (driver.rid === undefined) where.push(...sub);
      else {
        params['rid'] = driver.rid;
        where.push('r.rid = @rid');
      }
      if (req.after) where.push(desc ? '(r.event_time < @afterTime OR r.seq < @afterSeq)' : '(r.event_time > @afterTime OR r.seq > @afterSeq)');
      if (stop) where.push(desc ? '(r.event_time > @stopTime OR r.seq >= @stopSeq)' : '(r.event_time < @stopTime OR r.seq <= @stopSeq)');
    } else if (sub.length) {
      where.push(
        driver?.index === RESOURCES
          ? `e.seq IN (SELECT r.seq FROM event_resources r WHERE ${sub.join(' AND ')})`
          : `EXISTS (SELECT 1 FROM event_resources r INDEXED BY event_resources_seq WHERE r.seq = e.seq AND ${resourcesOfEvent.join(' AND ')})`,
      );
    }
    // NOT INDEXED leaves SQLite only rowid lookups for the collected resource matches.
    if (driver && !viaMember) from = driver.index === RESOURCES ? 'events e NOT INDEXED' : `events e INDEXED BY ${driver.index}`;
    const order = desc ? 'DESC' : 'ASC';
    const sql = `SELECT e.seq, ${BODY_COLUMNS} FROM ${from} WHERE ${where.join(' AND ')}
      ORDER BY ${key}.event_time ${order}, ${key}.seq ${order} LIMIT @limit`;
    const rows = this.statement(sql).all(params) as (BodyRow & { seq: number })[];
    const more = rows.length > req.limit;
    const page = more ? rows.slice(0, req.limit) : rows;
    const last = page[page.length - 1];
    const result: LookupPage = { events: page.map((r) => this.codec.decode(r)) };
    if (more && last) result.next = { time: last.event_time, seq: last.seq };
    else if (stop) result.next = stop;
    return Promise.resolve(result);
  }

  /**
   * Where a walk of `index` (the time index when there is no driver) in [lo, hi], after the
   * cursor, reaches its budget: the sort key of its entry number `scanBudget` + 1, or undefined
   * when the walk ends before that. Index-only, about a millisecond for 10,000 entries.
   */
  private walkEnd(f: EventFilter, plan: Plan | undefined, lo: number, hi: number, desc: boolean, after?: Cursor): Cursor | undefined {
    const index = plan?.index;
    const d = index === undefined ? undefined : (DRIVERS.find((x) => x.index === index) ?? DRIVERS.filter((x) => x.member === index).map((x): Driver => ({ ...x, index }))[0]);
    const cond: string[] = ['event_time >= ?', 'event_time <= ?'];
    const args: unknown[] = [lo, hi];
    let from = `events INDEXED BY ${index ?? 'events_time'}`;
    if (index === MEMBER_RESOURCES) {
      from = MEMBER_RESOURCES;
      const rids = this.memberRids(f, plan?.rid);
      cond.push('account_id = ?', rids.cond);
      args.push(f.accountId, ...rids.args);
    } else if (d) {
      const c = driverCondition(d, f);
      cond.push(c.cond);
      args.push(...c.args);
    }
    if (after) {
      cond.push(desc ? '(event_time < ? OR seq < ?)' : '(event_time > ? OR seq > ?)');
      args.push(after.time, after.seq);
    }
    const order = desc ? 'DESC' : 'ASC';
    const sql = `SELECT event_time AS time, seq FROM ${from} WHERE ${cond.join(' AND ')}
      ORDER BY event_time ${order}, seq ${order} LIMIT 1 OFFSET ${this.opts.scanBudget}`;
    return this.statement(sql).get(...args) as Cursor | undefined;
  }

  /**
   * The indexed filter whose matches are sparsest where the walk starts, or undefined when no
   * filter has an index. Rows a walk visits to fill a page are proportional to its driver's
   * density, so that is what is estimated, index-only and bounded: the newest (oldest, going
   * FORWARD) PLAN_PROBE entries of each filter in [lo, hi] and the time span they cover — about
   * 0.2 ms per filter. A lone indexed filter needs no estimate: walking its index never visits
   * more rows than walking time. A resource filter drives only when it has fewer than
   * PLAN_PROBE matches in all, because those are collected and sorted (an events index is
   * already in time order).
   */
  private rarestFilter(f: EventFilter, lo: number, hi: number, desc: boolean): Plan | undefined {
    let present = driversFor(f);
    const resource = f.resourceName !== undefined || f.resourceType !== undefined;
    if (present.length === 0 && !resource) return undefined;
    if (present.length === 1 && !resource) return { index: (present[0] as Driver).index, density: NaN };
    const span = Math.max(1, hi - lo);
    const probe = this.opts.planProbe;
    const order = desc ? 'DESC' : 'ASC';
    /** Entries in the first `probe` of a walk in [lo, hi] and the time span they cover, as a density. */
    const density = (from: string, cond: string, args: unknown[]): { n: number; density: number } => {
      const sql = `SELECT COUNT(*) AS n, ${desc ? 'MIN' : 'MAX'}(t) AS edge FROM (SELECT event_time AS t FROM ${from}
        WHERE ${cond} AND event_time >= ? AND event_time <= ? ORDER BY event_time ${order} LIMIT ${probe})`;
      const { n, edge } = this.statement(sql).get(...args, lo, hi) as { n: number; edge: number | null };
      const covered = n < probe || edge === null ? span : Math.max(1, desc ? hi - edge : edge - lo);
      return { n, density: n / covered };
    };
    let best: Plan | undefined;
    const member = typeof f.accountId === 'string';
    if (member && resource) {
      // A member account's references (member_resources) hold exactly "resource AND account":
      // they replace event_resources (every account's) as the resource driver.
      const rid = this.onlyResourceId(f);
      // No such resource: nothing matches, and collecting its references finds that at once.
      if (rid === null) return { index: RESOURCES, density: 0 };
      if (rid !== undefined) {
        // One resource: walked in time order, never denser than the account's own events, so
        // the account's index need not be probed.
        present = present.filter((d) => d.filter !== 'accountId');
        if (present.length === 0) return { index: MEMBER_RESOURCES, density: NaN, rid };
        const p = density(MEMBER_RESOURCES, 'account_id = ? AND rid = ?', [f.accountId, rid]);
        best = { index: MEMBER_RESOURCES, density: p.density, rid };
        if (p.n === 0) return best;
      } else {
        // Several (a type): collected and sorted, so only when there are fewer than `probe`.
        const { cond, args } = this.memberRids(f, undefined);
        const sql = `SELECT COUNT(*) AS n FROM (SELECT 1 FROM member_resources WHERE account_id = ? AND ${cond} AND event_time >= ? AND event_time <= ? LIMIT ${probe})`;
        const n = (this.statement(sql).get(f.accountId, ...args, lo, hi) as { n: number }).n;
        if (n < probe) {
          // Few: collecting them beats walking the account's events (a superset), unprobed.
          best = { index: MEMBER_RESOURCES, density: n / span };
          present = present.filter((d) => d.filter !== 'accountId');
          if (n === 0 || present.length === 0) return best;
        } else if (present.length === 1) {
          // Too many to collect, and one index to walk (the account's, or a filter's member
          // index): it drives, with no need to probe it.
          return { index: (present[0] as Driver).index, density: NaN };
        }
      }
    }
    for (const d of present) {
      const { cond, args } = driverCondition(d, f);
      const p = density(`events INDEXED BY ${d.index}`, cond, args);
      if (!best || p.density < best.density) best = { index: d.index, density: p.density };
      if (p.n === 0) return best;
    }
    if (resource && !member) {
      const n = this.resourceMatches(f);
      if (n < probe && (!best || n / span < best.density)) best = { index: RESOURCES, density: n / span };
    }
    return best;
  }

  /** The SQL condition on `resource_names n` of `f`'s resource filters, and its arguments. */
  private static resourceNames(f: EventFilter): { cond: string; args: unknown[] } {
    const cond = [f.resourceName !== undefined ? 'n.name = ?' : '', f.resourceType !== undefined ? 'n.type = ?' : ''].filter(Boolean).join(' AND ');
    return { cond, args: [f.resourceName, f.resourceType].filter((v) => v !== undefined) };
  }

  /** References (of every account) to the resources `f` names, counted up to the plan probe. */
  private resourceMatches(f: EventFilter): number {
    const { cond, args } = SqliteEventStore.resourceNames(f);
    const sql = `SELECT COUNT(*) AS n FROM (SELECT 1 FROM event_resources r WHERE r.rid IN (SELECT n.id FROM resource_names n WHERE ${cond}) LIMIT ${this.opts.planProbe})`;
    return (this.statement(sql).get(...args) as { n: number }).n;
  }

  /** The condition on an unaliased member_resources for `f`'s resources: the one `rid`, or every id of its names. */
  private memberRids(f: EventFilter, rid: number | undefined): { cond: string; args: unknown[] } {
    if (rid !== undefined) return { cond: 'rid = ?', args: [rid] };
    const names = SqliteEventStore.resourceNames(f);
    return { cond: `rid IN (SELECT n.id FROM resource_names n WHERE ${names.cond})`, args: names.args };
  }

  /**
   * The member_resources key of the one resource `f` names — a name's id, or for a type alone
   * its negated resource_types id; null when nothing has that name (and type) or type; undefined
   * when several resources do (a name under several types).
   */
  private onlyResourceId(f: EventFilter): number | null | undefined {
    if (f.resourceName === undefined) {
      const t = this.statement('SELECT id FROM resource_types WHERE type = ?').get(f.resourceType) as { id: number } | undefined;
      return t ? -t.id : null;
    }
    const { cond, args } = SqliteEventStore.resourceNames(f);
    const ids = this.statement(`SELECT n.id FROM resource_names n WHERE ${cond} LIMIT 2`).all(...args) as { id: number }[];
    return ids.length === 0 ? null : ids.length === 1 ? (ids[0] as { id: number }).id : undefined;
  }

  /** Prepared statements by SQL text: lookups repeat a few shapes (filter combinations). */
  private statement(sql: string): Statement {
    let s = this.statements.get(sql);
    if (!s) {
      if (this.statements.size >= 512) this.statements.clear();
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  histogram(q: HistogramQuery): Promise<Histogram> {
    return Promise.resolve(eventHistogram(this.db, { ...q, filter: storedAccount(q.filter, this.opts.managementAccountId) }));
  }

  get(eventId: string): Promise<ActionTrailEvent | undefined> {
    const found = this.getStmt.get(storedEventId(eventId)) as BodyRow | undefined;
    return Promise.resolve(found ? this.codec.decode(found) : undefined);
  }

  existing(eventIds: readonly string[]): Promise<Set<string>> {
    const found = new Set<string>();
    // Chunks well under SQLite's bound on host parameters (32,766), one prepared shape per size.
    for (let i = 0; i < eventIds.length; i += EXISTING_CHUNK) {
      const chunk = eventIds.slice(i, i + EXISTING_CHUNK);
      const sql = `SELECT event_id AS id FROM events WHERE event_id IN (${chunk.map(() => '?').join(',')})`;
      for (const r of this.statement(sql).all(...chunk.map(storedEventId)) as { id: string | Buffer }[]) found.add(eventIdOf(r.id));
    }
    return Promise.resolve(found);
  }

  scan(afterSeq: number, limit: number): Promise<Positioned[]> {
    const rows = this.scanStmt.all(afterSeq, limit) as (BodyRow & { seq: number; outcome: string })[];
    const out: Positioned[] = [];
    for (const r of rows) {
      if (r.outcome === 'pending') break;
      out.push({ seq: r.seq, event: this.codec.decode(r) });
    }
    return Promise.resolve(out);
  }

  /**
   * Every event after `afterSeq` in seq order, pending ones included: a copy of the store
   * (`flinktrail migrate`), not a delivery (`scan` stops at the first pending event).
   */
  copyRange(afterSeq: number, limit: number): Positioned[] {
    const rows = this.scanStmt.all(afterSeq, limit) as (BodyRow & { seq: number })[];
    return rows.map((r) => ({ seq: r.seq, event: this.codec.decode(r) }));
  }

  lastSeq(): Promise<number> {
    const r = this.db.prepare('SELECT COALESCE(MAX(seq), 0) AS seq FROM events').get() as { seq: number };
    return Promise.resolve(r.seq);
  }

  resolvePending(message: string, before = Number.MAX_SAFE_INTEGER): Promise<number> {
    const rows = this.db.prepare(`SELECT ${BODY_COLUMNS} FROM events e WHERE e.outcome = 'pending' AND e.event_time < ?`).all(before) as BodyRow[];
    try {
      this.db
        .transaction(() => {
          for (const r of rows) {
            const e = this.codec.decode(r);
            e.additionalEventData = { ...e.additionalEventData, outcome: 'unknown' };
            e.errorCode = 'OutcomeUnknown';
            e.errorMessage = message;
            this.completeOne(e);
          }
        })
        .immediate();
    } catch (err) {
      this.forgetIds();
      throw err;
    }
    return Promise.resolve(rows.length);
  }

  purge(before: number): Promise<number> {
    const info = this.db.prepare('DELETE FROM events WHERE event_time < ?').run(before);
    if (info.changes > 0) {
      // Names and values no event references any more (the cache may hold their ids: forget them
      // too). Each value column with an index is checked through it; regions and event types are
      // a handful of values, never worth a scan of every event.
      this.db.prepare('DELETE FROM resource_names WHERE NOT EXISTS (SELECT 1 FROM event_resources r WHERE r.rid = resource_names.id)').run();
      for (const d of DRIVERS) {
        if (d.kind !== undefined) this.db.prepare(`DELETE FROM event_values WHERE kind = ${d.kind} AND NOT EXISTS (SELECT 1 FROM events INDEXED BY ${d.index} WHERE ${d.column} = event_values.id)`).run();
      }
      this.forgetIds();
    }
    return Promise.resolve(info.changes);
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.flush();
    this.closed = true;
    const left = this.queue;
    this.queue = [];
    for (const p of left) p.reject(new Error('The event store closed before this event could be written.'));
    await Promise.resolve();
  }
}
