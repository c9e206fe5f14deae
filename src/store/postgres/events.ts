/**
 * The EventStore on PostgreSQL (`store.url`), for platforms that run FlinkTrail on a database
 * they already operate. Same contract and semantics as the embedded SQLite store; schema in
 * events-schema.ts, day partitions in partitions.ts.
 *
 * Bodies are compressed in Node (body-codec.ts, the SQLite store's codec) on the way in and
 * decoded on the way out, rows written before that (`body` text) read as they are; nothing in
 * SQL reads a body, so a completion replaces a record whole rather than editing it in place.
 *
 * Writes:
 * - `journal` commits one event in its own transaction before it resolves: the fail-closed gate
 *   in front of Flink (with the server's own durability: synchronous_commit).
 * - `append` and `complete` are queued and written every `flushIntervalMs` in one transaction:
 *   one multi-row INSERT for the appends, one multi-row UPDATE for the completions (plus an
 *   INSERT of completions whose journal entry is gone). A failed flush keeps its events and
 *   retries with backoff; nothing is reported stored before it is.
 * - Every inserting transaction first takes one advisory lock (SEQ_LOCK) and only then draws
 *   sequence values, and holds the lock until it commits. Sequence values are otherwise not
 *   commit-ordered (a transaction that drew 10 may commit after one that drew 11, and a reader
 *   that saw 11 would move past 10 for ever); under the lock they are, so `scan` after seq N
 *   can never later meet a committed event below N. The price: inserting transactions of all
 *   instances commit one at a time (a batch per flush, one per journaled write).
 *
 * A lookup is one walk over its whole time range, in one or two prepared statements with generic
 * plans (withGenericPlans): a custom plan of a query over 92 day partitions took 12–15 ms to
 * plan, ~1 ms to run; a generic plan is made once per connection and prunes the partitions
 * outside the range when it starts. What a generic plan cannot know — which condition is rare —
 * is found out first: with more than one condition, one statement probes each candidate index
 * (index-only, at most `scanBudget` + 1 entries each; the GIN index of resources counted up to
 * RESOURCE_BUDGET) and the page's statement names the index that drives it, every other
 * condition written so that no index serves it. The walk is bounded as the SQLite store's is:
 * the sparsest candidate with fewer entries than the budget drives the page over the whole range; when
 * every one has more, the farthest of their entries number `scanBudget` + 1 ends the page
 * there. With one ordered candidate (the time index, or a member's account index) there is
 * nothing to choose: the page's statement bounds its own walk (`boundedRows`). A page may so
 * come back short — even empty — with a cursor, and following cursors still yields every event
 * once, in order.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { ActionTrailEvent } from '../../event/types.js';
import { assembleHistogram, histogramBucketMs, TOP_NAMES, type Histogram, type HistogramQuery } from '../../query/histogram.js';
import type { Cursor, EventFilter, EventStore, LookupPage, LookupRequest, Positioned } from '../types.js';
import { GLOBAL_REGION_COLUMN, regionColumn } from '../types.js';
import { pageRange } from '../page-range.js';
import { FlinkTrailError } from '../../errors/index.js';
import { BODY_COLUMNS, PostgresBodyCodec, type BodyRow } from './body-codec.js';
import { FILTER_COLUMNS, filterConditions, Params, pgText, resourceFilterKey, resourceKeys } from './filter.js';
import { EVENTS_COMPONENT, EVENTS_MIGRATIONS } from './events-schema.js';
import { inTransaction, migrate } from './migrations.js';
import { DAY_MS, partitionName, Partitions } from './partitions.js';
import { openPool, redactSecrets, redactUrl } from './url.js';
import { WorkerThread, workerFile } from '../../threads/worker-thread.js';
import type { ReaderCall, ReaderData } from './reader-worker.js';

/** How many index entries one page of a lookup may walk (see `lookup`). */
const SCAN_BUDGET = 10_000;
/**
 * Most matches of a resource filter that let the GIN index drive a page: counting them reads
 * their heap rows (GIN has no index-only scans), ~4 µs each; past it the ordered indexes drive.
 */
const RESOURCE_BUDGET = 1000;
/**
 * A lookup's session settings (withGenericPlans): generic plans; no sort where an index gives
 * the order (a generic plan guesses a time range at 0.5 % of a partition and would rather sort
 * a few rows than walk an index in order); no JIT and no parallel workers, which the cost of a
 * disabled sort would otherwise call for (compiling took ~1 s, starting workers ~80 ms).
 */
const SET_LOOKUP = 'SET plan_cache_mode = force_generic_plan; SET enable_sort = off; SET jit = off; SET max_parallel_workers_per_gather = 0';
const RESET_LOOKUP = 'RESET plan_cache_mode; RESET enable_sort; RESET jit; RESET max_parallel_workers_per_gather';
/** BODY_COLUMNS for a bounded walk's probe row (`boundedRows`): its position, no body. */
const PROBE_COLUMNS = BODY_COLUMNS.split(', ')
  .map((c) => (c === 'e.event_time' || c === 'e.event_id' ? c : 'NULL'))
  .join(', ');
/** Events per transaction of `appendSerialized`. */
const SERIALIZED_CHUNK = 2000;
/** The advisory lock every inserting transaction holds until it commits (seq order = commit order). */
const SEQ_LOCK = 'flinktrail:event-seq';
/** Filters with a (column, event_time, seq) index, which can drive a lookup in time order. */
const INDEXED: ReadonlySet<keyof EventFilter> = new Set(['user', 'eventName', 'accessKeyId', 'sourceIpAddress', 'errorCode', 'cluster', 'serviceName', 'eventRW', 'accountId']);
const DRIVERS = FILTER_COLUMNS.filter((c) => INDEXED.has(c.filter));
/** Every condition of a filter but the resource and eventId. */
const CONDITIONS = ['eventRW', 'user', 'serviceName', 'eventName', 'eventType', 'accessKeyId', 'region', 'errorCode', 'sourceIpAddress', 'cluster', 'accountId', 'sensitive'] as const;

/**
 * Filters with a member index (events migration 4): (account_id, column, event_time, seq) over
 * member accounts' events, which holds only the matches of a member's "filter AND its account".
 * A value: the index is partial for that value alone (written as a literal, see `conditions`).
 */
const MEMBER_INDEXED: ReadonlyMap<keyof EventFilter, string | boolean | undefined> = new Map<keyof EventFilter, string | boolean | undefined>([
  ['user', undefined],
  ['eventName', undefined],
  ['accessKeyId', undefined],
  ['sourceIpAddress', undefined],
  ['errorCode', undefined],
  ['cluster', undefined],
  ['serviceName', undefined],
  // Reads are nearly every event: the account's own index finds them as fast.
  ['eventRW', 'Write'],
  ['sensitive', true],
]);

/**
 * The index a page walks: a filter's, the partial sensitive one, a member index (`member:<filter>`,
 * the filter and the account both open), the time index, the GIN one, or the planner's choice (`any`).
 */
type MemberDriver = `member:${keyof EventFilter}`;
type Driver = keyof EventFilter | 'time' | 'resource' | 'any' | MemberDriver;

/** The filter of a member driver, or undefined for any other. */
function memberOf(d: Driver): keyof EventFilter | undefined {
  return d.startsWith('member:') ? (d.slice('member:'.length) as keyof EventFilter) : undefined;
}

/**
 * The ordered drivers of a lookup with filter `f` (stored form, see storedAccount): each indexed
 * filter's index (and the partial sensitive one). For a member account's lookup ("filter AND its
 * account") each filter's member index instead, which covers both conditions; the account's own
 * index, first, only when no filter has one. The management account (`accountId: null`) and a lookup
 * over every account keep the plain indexes.
 */
function driversFor(f: EventFilter): Driver[] {
  const present: Driver[] = DRIVERS.filter((d) => f[d.filter] !== undefined && f[d.filter] !== null).map((d) => d.filter);
  if (f.sensitive === true) present.push('sensitive');
  if (typeof f.accountId !== 'string') return present;
  const covered = present.filter((d) => {
    const k = d as keyof EventFilter;
    const only = MEMBER_INDEXED.get(k);
    return MEMBER_INDEXED.has(k) && (only === undefined || f[k] === only);
  });
  if (covered.length) return covered.map((d): Driver => `member:${d as keyof EventFilter}`);
  // Only eventRW=Read is left uncovered, nearly every event: the account's index first (the first
  // candidate under the budget drives, see walkEnd).
  return [...present.filter((d) => d === 'accountId'), ...present.filter((d) => d !== 'accountId')];
}

/** Of `f`, only the condition(s) that driver `d`'s index serves (a probe's, a bounded walk's), the others left out. */
function driverFilter(f: EventFilter, d: Driver): EventFilter {
  const g: EventFilter = { startTime: f.startTime, endTime: f.endTime };
  const member = memberOf(d);
  if (member !== undefined) {
    g.accountId = f.accountId;
    (g as unknown as Record<string, unknown>)[member] = (f as unknown as Record<string, unknown>)[member];
  } else if (d === 'sensitive') g.sensitive = true;
  else if (d === 'resource') {
    if (f.resourceType !== undefined) g.resourceType = f.resourceType;
    if (f.resourceName !== undefined) g.resourceName = f.resourceName;
  } else if (d !== 'time') (g as unknown as Record<string, unknown>)[d] = (f as unknown as Record<string, unknown>)[d];
  return g;
}

/** The part of the timeline one page walks (pageRange), and the cursor it starts after. */
interface Range {
  lo: number;
  hi: number;
  desc: boolean;
  after?: Cursor;
}

export interface PostgresEventStoreOptions {
  /** postgres://… (a password in it is never logged: see url.ts). */
  url: string;
  flushIntervalMs?: number;
  /** Most connections (default 10). */
  poolMax?: number;
  /** Most queued events before new ones are refused (the store is failing). */
  maxQueue?: number;
  /** The schema of every table (tests: one store per schema); default: the database's search_path. */
  schema?: string;
  /** Most index entries one page of a lookup walks before it returns short (default 10,000). */
  scanBudget?: number;
  /**
   * The management account (`Config.accountId`): its events are stored with no `account_id`, so
   * an installation with one account pays for no account index entry. Without it, every
   * event's account is stored as it is.
   */
  managementAccountId?: string;
  /**
   * Threads that answer lookups, histograms, gets and scans (default 0: the calling thread does).
   * Each has a pool of its own (at most `ceil(poolMax / readers)` connections), reads the rows and
   * decodes their records there (inflate and JSON, the CPU a page costs) and posts them back: the
   * thread that proxies Flink only receives the records, as with the embedded store's readers. A
   * call goes to the thread with the fewest in flight; a thread that dies fails its calls and is
   * started again.
   */
  readers?: number;
  /** How many Linux nice steps below the calling thread the readers run (0–19; default 0). */
  readerNice?: number;
  onFlushError?: (err: Error, queued: number) => void;
  /** An idle connection failed (the pool replaces it); the message is already redacted. */
  onPoolError?: (err: Error) => void;
}

const READER_FILE = workerFile(import.meta.url, 'reader-worker');
/** The `application_name` of the reader threads' connections. */
export const READER_APPLICATION = 'flinktrail-reader';
const CLOSED = 'The event store is closed.';

/** An ingest batch prepared for its transactions (`prepareSerialized`). */
export interface PreparedBatch {
  parts: { json: string; days: number[] }[];
  ids: string[];
}

/** A row to write: the store's own copy of an event (taken when the call is made). */
type Row = ReturnType<typeof record>;

/** A row of a lookup page. */
interface PageRow extends BodyRow {
  seq: number;
  /** A bounded walk's (see `boundedRows`): a match, or (false) the entry where the walk ends. */
  hit?: boolean;
}

/** How a page is walked (`walkEnd`): its driver, and where it ends, or that its statement bounds itself. */
interface Walk {
  driver: Driver;
  stop?: Cursor;
  days?: number[];
  /** The page's statement walks at most `scanBudget` + 1 entries of the driver's index (`boundedRows`). */
  bounded?: boolean;
}

interface Pending {
  kind: 'insert' | 'complete';
  row: Row;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** Columns of a row as jsonb_to_recordset reads them (one JSON parameter per statement; body_z in base64). */
const RECORD = `ord int, event_id text, event_time bigint, region text, event_rw text, event_name text,
  event_type text, service_name text, user_name text, access_key_id text, sensitive boolean, outcome text,
  error_code text, source_ip text, cluster text, account_id text, resources text[], body_z text`;
const COLUMNS = 'region, event_rw, event_name, event_type, service_name, user_name, access_key_id, sensitive, outcome, error_code, source_ip, cluster, account_id, resources, body_z';
/** The values of COLUMNS from `input i`. */
const VALUES = COLUMNS.split(', ')
  .map((c) => (c === 'body_z' ? "decode(i.body_z, 'base64')" : `i.${c}`))
  .join(', ');

const INSERT_SQL = `WITH input AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(${RECORD})),
  ids AS (
    INSERT INTO event_ids (event_id, event_time, seq)
    SELECT o.event_id, o.event_time, nextval('event_seq') FROM (SELECT event_id, event_time FROM input ORDER BY ord) o
    ON CONFLICT (event_id) DO NOTHING
    RETURNING event_id, seq)
  INSERT INTO events (seq, event_id, event_time, ${COLUMNS})
  SELECT ids.seq, i.event_id, i.event_time, ${VALUES}
  FROM input i JOIN ids USING (event_id)
  RETURNING event_id`;

/** Rows copied with the positions they had in another store (`importPositioned`): no ON CONFLICT, a clash is an error. */
const IMPORT_SQL = `WITH input AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(${RECORD}, seq bigint)),
  ids AS (INSERT INTO event_ids (event_id, event_time, seq) SELECT event_id, event_time, seq FROM input RETURNING event_id)
  INSERT INTO events (seq, event_id, event_time, ${COLUMNS})
  SELECT i.seq, i.event_id, i.event_time, ${VALUES}
  FROM input i JOIN ids USING (event_id)`;

/**
 * A completion keeps the row's event_time (its partition and sort key; eventTime never changes).
 * It replaces the whole record, encoded in Node: a row journaled before migration 2 gets `body_z`
 * and loses its `body` text.
 */
const UPDATE_SQL = `WITH input AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(${RECORD}))
  UPDATE events e SET (${COLUMNS}, body) = (${VALUES}, NULL)
  FROM input i JOIN event_ids d USING (event_id)
  WHERE e.event_time = d.event_time AND e.seq = d.seq
  RETURNING e.event_id`;

/** Rows per statement: a flush after an outage may hold many thousands (one transaction, several statements). */
const CHUNK = 2000;

/**
 * `f` as the rows store it: the management account's events have no `account_id`, so a filter
 * for that account becomes `accountId: null` (`account_id IS NULL` in filter.ts).
 */
function storedAccount<F extends EventFilter>(f: F, management: string | undefined): F {
  return f.accountId !== undefined && f.accountId === management ? { ...f, accountId: null } : f;
}

function record(e: ActionTrailEvent, ord: number, codec: PostgresBodyCodec, management: string | undefined) {
  const t = pgText;
  return {
    ord,
    event_id: t(e.eventId),
    event_time: Date.parse(e.eventTime),
    region: t(regionColumn(e)),
    event_rw: t(e.eventRW),
    event_name: t(e.eventName),
    event_type: t(e.eventType),
    service_name: t(e.serviceName),
    user_name: t(e.userIdentity.userName || null),
    access_key_id: t(e.userIdentity.accessKeyId ?? null),
    sensitive: e.additionalEventData.sensitive === true,
    outcome: t(e.additionalEventData.outcome),
    error_code: t(e.errorCode ?? null),
    source_ip: t(e.sourceIpAddress || null),
    cluster: typeof e.additionalEventData.cluster === 'string' ? t(e.additionalEventData.cluster) : null,
    account_id: e.recipientAccountId === undefined || e.recipientAccountId === management ? null : t(e.recipientAccountId),
    resources: resourceKeys(e.referencedResources).map(t),
    body_z: codec.encode(e).toString('base64'),
  };
}

/** One row per eventId, numbered in order: the first (appends: a duplicate is not stored twice) or the last (completions). */
function unique(rows: readonly Row[], keep: 'first' | 'last'): Row[] {
  const by = new Map<string, Row>();
  for (const r of rows) if (keep === 'last' || !by.has(r.event_id)) by.set(r.event_id, r);
  return [...by.values()].map((r, ord) => ({ ...r, ord }));
}

function chunks<T>(rows: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += CHUNK) out.push(rows.slice(i, i + CHUNK));
  return out;
}

export class PostgresEventStore implements EventStore {
  private queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  private failures = 0;
  private readonly partitions = new Partitions();
  /**
   * The last ingest chunk's write: chunks go one after another, so at most one waits for
   * SEQ_LOCK and the appends queued meanwhile wait for one chunk, not every batch in flight.
   */
  private ingestTail: Promise<unknown> = Promise.resolve();
  private readonly flushIntervalMs: number;
  private readonly maxQueue: number;
  private readonly scanBudget: number;
  /** How many matches of a resource may drive a page through the GIN index (see `walkEnd`). */
  private readonly resourceBudget: number;
  private codec!: PostgresBodyCodec;
  /** The threads answering lookups (`readers`); none: lookups run here. */
  private readers: WorkerThread<ReaderCall>[] = [];
  /** `postgres:<uuid>`: which store this is (made once per database and schema). */
  id = '';

  private constructor(
    /**
     * The connection pool, shared with the other features' PostgreSQL repositories (sessions,
     * identity, …) so that one `store.poolMax` bounds what an instance holds; closed by `close`.
     */
    readonly pool: pg.Pool,
    private readonly opts: PostgresEventStoreOptions,
  ) {
    this.flushIntervalMs = opts.flushIntervalMs ?? 20;
    this.maxQueue = opts.maxQueue ?? 100_000;
    this.scanBudget = opts.scanBudget ?? SCAN_BUDGET;
    this.resourceBudget = Math.min(this.scanBudget, RESOURCE_BUDGET);
  }

  /**
   * Connects, applies the events migrations and creates the partitions of yesterday, today and
   * tomorrow. Throws FT_ERR_STORE_UNAVAILABLE (password redacted) when the database cannot be
   * used; nothing stays open then.
   */
  static async open(opts: PostgresEventStoreOptions): Promise<PostgresEventStore> {
    const pool = openPool(opts.url, { max: opts.poolMax ?? 10, ...(opts.schema ? { schema: opts.schema } : {}) }, (err) => opts.onPoolError?.(new Error(redactSecrets(err.message, opts.url))));
    const store = new PostgresEventStore(pool, opts);
    try {
      await migrate(pool, EVENTS_COMPONENT, EVENTS_MIGRATIONS);
      store.codec = await PostgresBodyCodec.open((sql, values) => store.query(sql, values));
      const [row] = (await pool.query('SELECT id FROM event_store_id')).rows as { id: string }[];
      store.id = `postgres:${row?.id ?? ''}`;
      const now = Date.now();
      await store.withClient((c) => store.partitions.ensure(c, [now - DAY_MS, now, now + DAY_MS]));
      await store.startReaders();
      return store;
    } catch (err) {
      for (const r of store.readers) await r.stop().catch(() => undefined);
      await pool.end().catch(() => undefined);
      throw new FlinkTrailError('FT_ERR_STORE_UNAVAILABLE', redactUrl(opts.url), redactSecrets((err as Error).message, opts.url));
    }
  }

  /**
   * A store that only reads (a reader thread's, see `readers`): it connects and loads the body
   * dictionaries, and leaves migrations and partitions to the store that started it.
   */
  static async openReader(opts: PostgresEventStoreOptions): Promise<PostgresEventStore> {
    // Named apart in pg_stat_activity: an operator sees which connections are lookup threads'.
    const pool = openPool(opts.url, { max: opts.poolMax ?? 10, applicationName: READER_APPLICATION, ...(opts.schema ? { schema: opts.schema } : {}) }, (err) => opts.onPoolError?.(new Error(redactSecrets(err.message, opts.url))));
    try {
      const store = new PostgresEventStore(pool, { ...opts, readers: 0 });
      store.codec = await PostgresBodyCodec.open((sql, values) => store.query(sql, values));
      return store;
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw new FlinkTrailError('FT_ERR_STORE_UNAVAILABLE', redactUrl(opts.url), redactSecrets((err as Error).message, opts.url));
    }
  }

  private async startReaders(): Promise<void> {
    const n = this.opts.readers ?? 0;
    if (n <= 0) return;
    const o = this.opts;
    const data: ReaderData = {
      url: o.url,
      poolMax: Math.ceil((o.poolMax ?? 10) / n),
      ...(o.schema !== undefined ? { schema: o.schema } : {}),
      ...(o.scanBudget !== undefined ? { scanBudget: o.scanBudget } : {}),
      ...(o.managementAccountId !== undefined ? { managementAccountId: o.managementAccountId } : {}),
    };
    this.readers = Array.from(
      { length: n },
      () =>
        new WorkerThread<ReaderCall>({
          file: READER_FILE,
          name: 'flinktrail-postgres-reader',
          data,
          nice: o.readerNice ?? 0,
          closeCall: { op: 'close' },
          closedMessage: CLOSED,
          onNotice: (n) => {
            if (n.notice === 'poolError') o.onPoolError?.(new Error(String(n['message'])));
          },
        }),
    );
    await Promise.all(this.readers.map((r) => r.start()));
  }

  /** `err` with anything that could quote the URL's password removed. */
  private clean(err: unknown): Error {
    const e = err instanceof Error ? err : new Error(String(err));
    const message = redactSecrets(e.message, this.opts.url);
    return message === e.message ? e : new Error(message);
  }

  private async withClient<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      return await fn(client);
    } finally {
      client.release();
    }
  }

  private async query<R>(sql: string, values: unknown[] = []): Promise<R[]> {
    try {
      return (await this.pool.query(sql, values)).rows as R[];
    } catch (err) {
      throw this.clean(err);
    }
  }

  /**
   * Writes appends and completions in one transaction under SEQ_LOCK. A day partition that
   * another instance dropped meanwhile (23514) is created again and the write retried once.
   */
  private write(inserts: readonly Row[], completes: readonly Row[]): Promise<Set<string>> {
    const ins = unique(inserts, 'first');
    return this.writeJson(
      chunks(ins).map((part) => JSON.stringify(part)),
      ins.map((r) => r.event_time),
      completes,
    );
  }

  /** `write` with the inserts as the INSERT statement takes them: each CHUNK's rows as JSON text (`insertTimes`: their event times, or one of each day). */
  private async writeJson(inserts: readonly string[], insertTimes: readonly number[], completes: readonly Row[]): Promise<Set<string>> {
    const comp = unique(completes, 'last');
    const times = [...insertTimes, ...comp.map((r) => r.event_time)];
    // The eventIds the appends inserted (those not stored before).
    const inserted = new Set<string>();
    try {
      await this.withClient(async (c) => {
        for (let attempt = 0; ; attempt++) {
          await this.partitions.ensure(c, times);
          inserted.clear();
          try {
            await inTransaction(c, async () => {
              await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [SEQ_LOCK]);
              for (const json of inserts) for (const r of (await c.query(INSERT_SQL, [json])).rows as { event_id: string }[]) inserted.add(r.event_id);
              const done = new Set<string>();
              for (const part of chunks(comp)) for (const r of (await c.query(UPDATE_SQL, [JSON.stringify(part)])).rows as { event_id: string }[]) done.add(r.event_id);
              // The journal entry is gone (purged, or journaling was off): keep the event anyway.
              for (const part of chunks(comp.filter((r) => !done.has(r.event_id)))) await c.query(INSERT_SQL, [JSON.stringify(part)]);
            });
            return;
          } catch (err) {
            if ((err as { code?: string }).code !== '23514' || attempt > 0) throw err;
            this.partitions.forget();
          }
        }
      });
    } catch (err) {
      throw this.clean(err);
    }
    return inserted;
  }

  async journal(event: ActionTrailEvent): Promise<void> {
    if (this.closed) throw new Error('The event store is closed.');
    await this.write([record(event, 0, this.codec, this.opts.managementAccountId)], []);
  }

  /**
   * A prepared batch (ingest), written as it comes in transactions of SERIALIZED_CHUNK events,
   * each under SEQ_LOCK like every insert; a chunk's eventIds already stored (or earlier in the
   * batch) are reported as duplicates by position. Chunks of concurrent batches take turns
   * (`ingestTail`), and each first writes the appends queued meanwhile (the gateway's events):
   * left to the flush timer, those would wait for the lock behind every chunk in flight.
   */
  async appendSerialized(eventsJson: string): Promise<number[]> {
    if (this.closed) throw new Error('The event store is closed.');
    // Parsing, compressing and serializing the rows again is the CPU of a batch (tens of µs a
    // record): a reader thread does it when there are any. The transactions stay here, taking
    // turns with the appends this store queues.
    const batch = await this.read<PreparedBatch>({ op: 'prepareSerialized', json: eventsJson }, () => Promise.resolve(this.prepareSerialized(eventsJson)));
    const inserted = new Set<string>();
    for (const part of batch.parts) {
      const turn = this.ingestTail.then(async () => {
        if (this.queue.length > 0 && this.failures === 0) await this.flush();
        return this.writeJson([part.json], part.days, []);
      });
      this.ingestTail = turn.catch(() => undefined);
      for (const id of await turn) inserted.add(id);
    }
    const seen = new Set<string>();
    const duplicates: number[] = [];
    batch.ids.forEach((id, i) => {
      if (seen.has(id) || !inserted.has(id)) duplicates.push(i);
      seen.add(id);
    });
    return duplicates;
  }

  /**
   * An ingest batch (a JSON array of records) as `appendSerialized` writes it: one part per
   * transaction of SERIALIZED_CHUNK records, its rows (compressed bodies, the first of each
   * eventId) as the INSERT statement's JSON text and one event time of each day it touches; and
   * every record's stored eventId, in order.
   */
  prepareSerialized(eventsJson: string): PreparedBatch {
    const rows = (JSON.parse(eventsJson) as ActionTrailEvent[]).map((e, i) => record(e, i, this.codec, this.opts.managementAccountId));
    const parts: PreparedBatch['parts'] = [];
    for (let from = 0; from < rows.length; from += SERIALIZED_CHUNK) {
      const ins = unique(rows.slice(from, from + SERIALIZED_CHUNK), 'first');
      const days = new Map<number, number>();
      for (const r of ins) days.set(Math.floor(r.event_time / DAY_MS), r.event_time);
      parts.push({ json: JSON.stringify(ins), days: [...days.values()] });
    }
    return { parts, ids: rows.map((r) => r.event_id) };
  }

  complete(event: ActionTrailEvent): Promise<void> {
    return this.enqueue('complete', event);
  }

  append(event: ActionTrailEvent): Promise<void> {
    return this.enqueue('insert', event);
  }

  private enqueue(kind: Pending['kind'], event: ActionTrailEvent): Promise<void> {
    if (this.closed) return Promise.reject(new Error('The event store is closed.'));
    if (this.queue.length >= this.maxQueue) {
      return Promise.reject(new Error(`The event store is failing and its queue is full (${this.queue.length} events).`));
    }
    return new Promise((resolve, reject) => {
      // The row is the store's copy: callers may reuse the object once the call returns.
      this.queue.push({ kind, row: record(event, 0, this.codec, this.opts.managementAccountId), resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.timer || this.flushing || this.closed) return;
    const delay = this.failures === 0 ? this.flushIntervalMs : Math.min(5000, 100 * 2 ** this.failures);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, delay);
  }

  /** Writes everything queued in one transaction; on failure keeps it (and retries unless closed). */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.flushing = (async () => {
      try {
        await this.write(
          batch.filter((p) => p.kind === 'insert').map((p) => p.row),
          batch.filter((p) => p.kind === 'complete').map((p) => p.row),
        );
        this.failures = 0;
        for (const p of batch) p.resolve();
      } catch (err) {
        this.failures++;
        this.queue = [...batch, ...this.queue];
        this.opts.onFlushError?.(err as Error, this.queue.length);
      } finally {
        this.flushing = undefined;
      }
    })();
    await this.flushing;
    if (this.queue.length) this.schedule();
  }

  /** `call` on the reader thread with the fewest calls in flight; without `readers`, `here()`. */
  private read<T>(call: ReaderCall, here: () => Promise<T>): Promise<T> {
    if (this.readers.length === 0) return here();
    if (this.closed) return Promise.reject(new Error(CLOSED));
    let best = this.readers[0] as WorkerThread<ReaderCall>;
    for (const r of this.readers) if (r.inFlight < best.inFlight) best = r;
    return best.call<T>(call);
  }

  lookup(req: LookupRequest): Promise<LookupPage> {
    return this.read({ op: 'lookup', request: req }, () => this.lookupHere(req));
  }

  /** A lookup on this thread (a reader thread's, or every lookup's without `readers`). */
  async lookupHere(req: LookupRequest): Promise<LookupPage> {
    const f = storedAccount(req.filter, this.opts.managementAccountId);
    const { lo, hi, desc } = pageRange(req);
    if (lo > hi) return { events: [] };
    try {
      return await this.withGenericPlans(async (c) => {
        const range: Range = { lo, hi, desc, ...(req.after ? { after: req.after } : {}) };
        let id: { event_time: number; seq: number } | undefined;
        if (f.eventId !== undefined) {
          // Unique: event_ids knows its partition and position, one row at most, no walk. A value
          // for event_time (not a subquery) prunes every other partition as the plan starts.
          [id] = await this.prepared<{ event_time: number; seq: number }>(c, 'SELECT event_time, seq FROM event_ids WHERE event_id = $1', [pgText(f.eventId)]);
          if (!id) return { events: [] };
        }
        const walk: Walk = id ? { driver: 'any' } : await this.walkEnd(c, f, range);
        if (walk.bounded) {
          const walked = await this.boundedRows(c, f, range, walk.driver, req.limit + 1);
          const hits = walked.filter((w) => w.hit);
          // The walk's last entry (number scanBudget + 1), when it got that far and the page is not full.
          const end = walked.find((w) => !w.hit);
          const full = hits.length > req.limit;
          const page = full ? hits.slice(0, req.limit) : hits;
          const last = page[page.length - 1];
          const result: LookupPage = { events: await this.codec.decode(page) };
          if (full && last) result.next = { time: last.event_time, seq: last.seq };
          else if (end) result.next = { time: end.event_time, seq: end.seq };
          return result;
        }
        const rows = await this.pageRows(c, f, walk.stop ? { ...range, stop: walk.stop } : range, walk.driver, req.limit + 1, walk.days, id);
        const more = rows.length > req.limit;
        const page = more ? rows.slice(0, req.limit) : rows;
        const last = page[page.length - 1];
        const result: LookupPage = { events: await this.codec.decode(page) };
        if (more && last) result.next = { time: last.event_time, seq: last.seq };
        else if (walk.stop) result.next = walk.stop;
        return result;
      });
    } catch (err) {
      throw this.clean(err);
    }
  }

  /**
   * Runs `fn` on a connection whose prepared statements get generic plans (the pool's default is
   * custom plans, see url.ts), and puts the default back. A lookup's statements name the whole
   * time range; a custom plan of one over 92 day partitions took 12–15 ms to plan (each partition
   * and its 13 indexes costed) and ~1 ms to run, a generic plan is made once per connection and
   * statement text and prunes the partitions outside the range when it starts (run-time
   * pruning). What a generic plan cannot know — which condition is rare — `walkEnd` finds out
   * with bounded probes, and the page's statement names its driving index (`pageRows`).
   */
  private async withGenericPlans<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query(SET_LOOKUP);
      try {
        return await fn(client);
      } finally {
        await client.query(RESET_LOOKUP).catch((err: Error) => {
          broken = err;
        });
      }
    } catch (err) {
      broken ??= err as Error;
      throw err;
    } finally {
      // A connection that may still have generic plans forced is not given back to the pool.
      client.release(broken);
    }
  }

  /** A statement prepared once per connection (named by its text): its generic plan is kept. */
  private async prepared<R>(c: pg.PoolClient, text: string, values: unknown[]): Promise<R[]> {
    const name = `ft_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    return (await c.query({ name, text, values })).rows as R[];
  }

  /**
   * A page and its bound in one statement, for a walk with one ordered candidate (`walkEnd`).
   * Its first branch walks the driver's index for at most `scanBudget` + 1 entries (only the
   * driver's condition in that walk's WHERE, so no other index can serve it) and keeps those
   * where every other condition holds (`hit`); its second, run only when the first did not fill
   * the page, is the probe: the entry number `scanBudget` + 1 (index-only), where the page then
   * ends, as `walkEnd`'s stop would have said. A page that fills early so costs no probe.
   * (A window's row_number() would number the walk in one pass, but it copies every row it
   * walks: 3 µs a row against 0.6 µs for a filter.)
   */
  private async boundedRows(c: pg.PoolClient, f: EventFilter, r: Range, driver: Driver, limit: number): Promise<PageRow[]> {
    const p = new Params();
    const order = r.desc ? 'DESC' : 'ASC';
    const by = `e.event_time ${order}, e.seq ${order}`;
    const walk = this.conditions(driverFilter(f, driver), p, r, driver).join(' AND ');
    // Every condition but the range and the cursor (the walk's WHERE has them).
    const hit = this.conditions(f, p, r, driver, 'e.', true);
    const lim = p.add(limit);
    const probe = this.conditions(driverFilter(f, driver), p, r, driver).join(' AND ');
    return this.prepared<PageRow>(
      c,
      `SELECT e.seq, ${BODY_COLUMNS}, e.hit FROM (
        (SELECT e.seq, ${BODY_COLUMNS}, true AS hit FROM (SELECT * FROM events e WHERE ${walk} ORDER BY ${by} LIMIT ${this.scanBudget + 1}) e
          ${hit.length ? `WHERE ${hit.join(' AND ')}` : ''} LIMIT ${lim})
        UNION ALL
        (SELECT e.seq, ${PROBE_COLUMNS}, false FROM events e WHERE ${probe} ORDER BY ${by} OFFSET ${this.scanBudget} LIMIT 1)
      ) e LIMIT ${lim}`,
      p.values,
    );
  }

  /**
   * The page: up to `limit` matching rows in the range, in walk order, after the cursor and up to
   * `stop` (inclusive) when the walk is bounded. Only the driver's condition is written so that
   * an index can serve it; every other one is written so that none can (`col || '' = $n`, the
   * same truth for text, NULL included), so the generic plan walks the driver's index and
   * nothing else. `any`: at most one condition can use an index, the planner's choice is right.
   * The GIN index (resource) yields no time order: its rows are sorted (≤ the budget of them).
   */
  private async pageRows(
    c: pg.PoolClient,
    f: EventFilter,
    r: Range & { stop?: Cursor },
    driver: Driver,
    limit: number,
    days?: readonly number[],
    id?: { event_time: number; seq: number },
  ): Promise<PageRow[]> {
    const p = new Params();
    const order = r.desc ? 'DESC' : 'ASC';
    if (driver === 'resource') {
      // Only when the whole range holds at most the budget of the resource's entries (no stop).
      const union = this.resourceUnion(f, p, r, days ?? [], `e.seq, ${BODY_COLUMNS}`);
      if (!union) return [];
      // `+ 0`: no index gives this order (sorts are off, see withGenericPlans), so the rows are found through the GIN index, then sorted.
      return this.prepared<PageRow>(c, `SELECT * FROM (${union}) e ORDER BY e.event_time + 0 ${order}, e.seq ${order} LIMIT ${p.add(limit)}`, p.values);
    }
    const where = this.conditions(f, p, r, driver);
    if (id) where.push(`e.event_time = ${p.add(id.event_time)}`, `e.seq = ${p.add(id.seq)}`);
    if (r.stop) {
      // The page covers the walk up to and including `stop`.
      where.push(r.desc ? `e.event_time >= ${p.add(r.stop.time)}` : `e.event_time <= ${p.add(r.stop.time)}`);
      where.push(`(e.event_time, e.seq) ${r.desc ? '>=' : '<='} (${p.add(r.stop.time)}, ${p.add(r.stop.seq)})`);
    }
    return this.prepared<PageRow>(c, `SELECT e.seq, ${BODY_COLUMNS} FROM events e WHERE ${where.join(' AND ')} ORDER BY e.event_time ${order}, e.seq ${order} LIMIT ${p.add(limit)}`, p.values);
  }

  /** The conditions of `f` over `events e` in the range, only `driver`'s indexable (see `pageRows`). */
  private conditions(f: EventFilter, p: Params, r: Range, driver: Driver, alias = 'e.', whole = false): string[] {
    const where = whole ? [] : [`${alias}event_time >= ${p.add(r.lo)}`, `${alias}event_time <= ${p.add(r.hi)}`];
    const member = memberOf(driver);
    // A member index serves its filter and the account together.
    const open = (k: Driver) => driver === 'any' || driver === k || (member !== undefined && (k === member || k === 'accountId'));
    for (const { filter, column } of FILTER_COLUMNS) {
      const v = f[filter];
      if (v === undefined) continue;
      // null: the management account, whose events are stored with no account (`record`).
      if (v === null) {
        where.push(`${alias}${column} IS NULL`);
        continue;
      }
      const only = filter === member ? MEMBER_INDEXED.get(filter) : undefined;
      if (typeof only === 'string') {
        // A partial member index (eventRW = 'Write'): the literal its WHERE names (driversFor: v is it).
        where.push(`${alias}${column} = '${only}'`);
        continue;
      }
      const value = p.add(pgText(v as string));
      if (filter === 'accountId') {
        // Three forms, one truth (v is a member account): a member index's statement names the
        // column itself; the account's own index is on (account_id || '') (events migration 5),
        // which so never competes with a member index; coalesce hides it from both.
        where.push(`${member !== undefined ? `${alias}account_id` : open(filter) ? `(${alias}account_id || '')` : `coalesce(${alias}account_id, '')`} = ${value}`);
        continue;
      }
      const col = open(filter) ? `${alias}${column}` : `(${alias}${column} || '')`;
      // A region's events and the global ones (stored once, seen from every region).
      where.push(filter === 'region' ? `${col} IN (${value}, '${GLOBAL_REGION_COLUMN}')` : `${col} = ${value}`);
    }
    // A literal, so that the partial index events_sensitive_time (WHERE sensitive) applies; coalesce hides it (the column is NOT NULL).
    if (f.sensitive !== undefined) {
      const col = open('sensitive') ? `${alias}sensitive` : `coalesce(${alias}sensitive, false)`;
      where.push(f.sensitive ? col : `NOT ${col}`);
    }
    const key = resourceFilterKey(f);
    if (key !== undefined) where.push(`${open('resource') ? `${alias}resources` : `(${alias}resources || '{}'::text[])`} @> ARRAY[${p.add(pgText(key))}]::text[]`);
    if (r.after && !whole) where.push(`(${alias}event_time, ${alias}seq) ${r.desc ? '<' : '>'} (${p.add(r.after.time)}, ${p.add(r.after.seq)})`);
    return where;
  }

  /**
   * The GIN index (resource) as a driver, over the day partitions of the range named one by one:
   * `select` from each (as `e`), UNION ALL, in walk order. On the partitioned table a generic
   * plan estimates a time range as 0.5 % of a partition and ANDs the primary key's bitmap of it
   * with the GIN bitmap — every index entry of the range read, ~0.4 ms per partition at 1M
   * events; a partition wholly inside the range needs no time condition at all, so only the
   * one or two at its ends get one. Empty when no partition overlaps the range.
   */
  private resourceUnion(f: EventFilter, p: Params, r: Range, days: readonly number[], select: string): string | undefined {
    if (days.length === 0) return undefined;
    return days
      .map((day) => {
        const whole = r.lo <= day && day + DAY_MS - 1 <= r.hi && (!r.after || (r.desc ? r.after.time >= day + DAY_MS : r.after.time < day));
        return `(SELECT ${select} FROM ${partitionName(day)} e WHERE ${this.conditions(f, p, r, 'resource', 'e.', whole).join(' AND ')})`;
      })
      .join(' UNION ALL ');
  }

  /**
   * The first days (UTC, epoch ms) of the day partitions that overlap lo..hi, in walk order
   * (newest first when `desc`). Read from the catalog on every lookup that needs them: a
   * partition another instance created is seen, and one that did not exist yet held no
   * committed event.
   */
  private async daysIn(c: pg.PoolClient, r: Range): Promise<number[]> {
    const parts = await this.prepared<{ bound: string }>(
      c,
      `SELECT pg_get_expr(c.relpartbound, c.oid) AS bound FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass`,
      [],
    );
    const days: number[] = [];
    for (const row of parts) {
      const m = /FROM \('?(-?\d+)'?\) TO \('?(-?\d+)'?\)/.exec(row.bound);
      if (m && Number(m[2]) > r.lo && Number(m[1]) <= r.hi) days.push(Number(m[1]));
    }
    return days.sort((a, b) => (r.desc ? b - a : a - b));
  }

  /**
   * Which index drives the page, and where its walk ends (`stop`), bounded as the SQLite store's
   * is: no condition besides time, or a single indexed one, is unbounded and free (its index
   * holds only matches: `any`). Otherwise one statement probes every candidate over the whole
   * range after the cursor, each index-only and reading at most `scanBudget` + 1 entries: for
   * each index that walks in time order (a filter's, the partial sensitive one, else the time
   * index) how many it has up to `scanBudget` + 1 and the last of them in walk order, for the GIN
   * index (resource) its count up to RESOURCE_BUDGET + 1. The sparsest candidate within its
   * budget drives the page over the whole range; when every candidate has more, the farthest of the ordered
   * probes ends the page there, and its index (which reaches it within the budget) drives it.
   * With one ordered candidate, the time index or the account's own, only the resource (if any)
   * is counted, and the candidate otherwise walks `bounded` (`boundedRows`: the same bound).
   */
  private async walkEnd(c: pg.PoolClient, f: EventFilter, r: Range): Promise<Walk> {
    const drivers = driversFor(f);
    const resource = resourceFilterKey(f) !== undefined;
    const conditions = CONDITIONS.filter((k) => f[k] !== undefined).length + (resource ? 1 : 0);
    if (conditions === 0 || (conditions === 1 && drivers.length === 1)) return { driver: 'any' };
    // A member index that covers every condition (the filter and the account) holds only matches.
    if (conditions === 2 && drivers.length === 1 && memberOf(drivers[0] as Driver) !== undefined) return { driver: drivers[0] as Driver };
    const ordered: Driver[] = drivers.length ? drivers : ['time'];
    const order = r.desc ? 'DESC' : 'ASC';
    const p = new Params();
    const only = (d: Driver) => driverFilter(f, d);
    // One ordered candidate, the time index or the account's own (and a resource maybe): no probe of
    // it — the page's own statement walks it bounded (`bounded`), which is what the probe would
    // have found out, at the price of the probe (reading the budget's entries over every day
    // partition: the account's own index holds a member account's whole timeline).
    const single = ordered.length === 1 && (ordered[0] === 'time' || ordered[0] === 'accountId');
    if (single && !resource) return { driver: ordered[0] as Driver, bounded: true };
    if (single) {
      const days = await this.daysIn(c, r);
      const union = this.resourceUnion(only('resource'), p, r, days, '1');
      if (!union) return { driver: 'resource', days };
      const [row] = await this.prepared<{ n: number }>(c, `SELECT count(*)::int AS n FROM (${union} LIMIT ${this.resourceBudget + 1}) x`, p.values);
      return (row?.n ?? 0) <= this.resourceBudget ? { driver: 'resource', days } : { driver: ordered[0] as Driver, bounded: true };
    }
    // Each ordered probe: how many of the first `scanBudget` + 1 entries there are, and the last
    // of them in walk order ([count, time, seq]); reading them is what finding the last costs anyway.
    const probes = ordered.map(
      (d) =>
        `(SELECT ARRAY[count(*)] || ${r.desc ? 'min' : 'max'}(ARRAY[event_time, seq]) FROM (SELECT event_time, seq FROM events
          WHERE ${this.conditions(only(d), p, r, d, '').join(' AND ')} ORDER BY event_time ${order}, seq ${order} LIMIT ${this.scanBudget + 1}) x)`,
    );
    const days = resource ? await this.daysIn(c, r) : [];
    if (resource) {
      const union = this.resourceUnion(only('resource'), p, r, days, '1');
      probes.push(union ? `(SELECT ARRAY[count(*)] FROM (${union} LIMIT ${this.resourceBudget + 1}) x)` : 'ARRAY[0]');
    }
    const [row] = await this.prepared<Record<string, string[] | null>>(c, `SELECT ${probes.map((q, i) => `${q} AS p${i}`).join(', ')}`, p.values);
    const got = probes.map((_, i) => row?.[`p${i}`]?.map(Number) ?? [0]);
    // The sparsest candidate with no more than the budget's entries drives the whole range: an
    // ordered one, or the resource's GIN index when it has fewer (each of its matches is a heap
    // read, as is each entry an ordered walk checks the other conditions on). The first free one
    // would not do: in a member account every candidate may be under the budget (a common user
    // and a rare IP), and walking the common one read 1,566 buffers where the rare one read a few.
    const count = (i: number) => (got[i] as number[])[0] as number;
    let best = -1;
    ordered.forEach((_, i) => {
      if (count(i) <= this.scanBudget && (best < 0 || count(i) < count(best))) best = i;
    });
    if (resource && count(ordered.length) <= this.resourceBudget && (best < 0 || count(ordered.length) < count(best))) return { driver: 'resource', days };
    if (best >= 0) return { driver: ordered[best] as Driver };
    let end: { driver: Driver; stop: Cursor } | undefined;
    ordered.forEach((d, i) => {
      const [, time, seq] = got[i] as number[];
      const stop = { time: time as number, seq: seq as number };
      const farther = !end || (r.desc ? stop.time < end.stop.time || (stop.time === end.stop.time && stop.seq < end.stop.seq) : stop.time > end.stop.time || (stop.time === end.stop.time && stop.seq > end.stop.seq));
      if (farther) end = { driver: d, stop };
    });
    return end as { driver: Driver; stop: Cursor };
  }

  histogram(q: HistogramQuery): Promise<Histogram> {
    return this.read({ op: 'histogram', query: q }, () => this.histogramHere(q));
  }

  /** `histogram` on this thread. */
  async histogramHere(q: HistogramQuery): Promise<Histogram> {
    const filter = storedAccount(q.filter, this.opts.managementAccountId);
    const bucketMs = histogramBucketMs(filter, q.buckets);
    const where = async () => {
      const p = new Params();
      const w = filterConditions(filter, p);
      if (filter.eventId !== undefined) {
        const [id] = await this.query<{ event_time: number; seq: number }>('SELECT event_time, seq FROM event_ids WHERE event_id = $1', [pgText(filter.eventId)]);
        w.push(id ? `e.event_time = ${p.add(id.event_time)} AND e.seq = ${p.add(id.seq)}` : 'false');
      }
      return { p, w: w.join(' AND ') };
    };
    const bucket = (p: Params) => `((e.event_time - ${p.add(filter.startTime)}::bigint) / ${p.add(bucketMs)}::bigint)::int`;
    const a = await where();
    const rw = await this.query<{ b: number; rw: string; n: number }>(`SELECT ${bucket(a.p)} AS b, e.event_rw AS rw, count(*)::int AS n FROM events e WHERE ${a.w} GROUP BY 1, 2`, a.p.values);
    if (q.groupBy !== 'eventName') return assembleHistogram(q, bucketMs, { rw });
    const t = await where();
    const top = await this.query<{ name: string; n: number }>(
      `SELECT e.event_name AS name, count(*)::int AS n FROM events e WHERE ${t.w} GROUP BY 1 ORDER BY n DESC, e.event_name COLLATE "C" LIMIT ${TOP_NAMES + 1}`,
      t.p.values,
    );
    const b = await where();
    const byName = await this.query<{ b: number; name: string; n: number }>(`SELECT ${bucket(b.p)} AS b, e.event_name AS name, count(*)::int AS n FROM events e WHERE ${b.w} GROUP BY 1, 2`, b.p.values);
    return assembleHistogram(q, bucketMs, { rw, top, byName });
  }

  get(eventId: string): Promise<ActionTrailEvent | undefined> {
    return this.read({ op: 'get', eventId }, () => this.getHere(eventId));
  }

  /** `get` on this thread. */
  async getHere(eventId: string): Promise<ActionTrailEvent | undefined> {
    const rows = await this.query<BodyRow>(
      `SELECT ${BODY_COLUMNS} FROM event_ids d JOIN events e ON e.event_time = d.event_time AND e.seq = d.seq WHERE d.event_id = $1`,
      [pgText(eventId)],
    );
    return (await this.codec.decode(rows))[0];
  }

  async existing(eventIds: readonly string[]): Promise<Set<string>> {
    if (eventIds.length === 0) return new Set();
    const rows = await this.query<{ event_id: string }>('SELECT event_id FROM event_ids WHERE event_id = ANY($1::text[])', [eventIds.map(pgText)]);
    return new Set(rows.map((r) => r.event_id));
  }

  /**
   * Append order is seq order, and seq order is commit order (SEQ_LOCK, see the top): once seq
   * N is visible, every smaller seq is committed or will never exist. A `pending` event stops
   * the scan before it.
   */
  scan(afterSeq: number, limit: number): Promise<Positioned[]> {
    return this.read({ op: 'scan', afterSeq, limit }, () => this.scanHere(afterSeq, limit));
  }

  /** `scan` on this thread. */
  async scanHere(afterSeq: number, limit: number): Promise<Positioned[]> {
    const rows = await this.query<BodyRow & { seq: number; outcome: string }>(
      `SELECT d.seq, e.outcome, ${BODY_COLUMNS} FROM (SELECT seq, event_time FROM event_ids WHERE seq > $1 ORDER BY seq LIMIT $2) d
       JOIN events e ON e.event_time = d.event_time AND e.seq = d.seq ORDER BY d.seq`,
      [afterSeq, limit],
    );
    const pending = rows.findIndex((r) => r.outcome === 'pending');
    const ready = pending < 0 ? rows : rows.slice(0, pending);
    const events = await this.codec.decode(ready);
    return ready.map((r, i) => ({ seq: r.seq, event: events[i] as ActionTrailEvent }));
  }

  /**
   * Every event after `afterSeq` in seq order, pending ones included: a copy of the store
   * (`flinktrail migrate` verifies with it), not a delivery (`scan` stops at the first pending).
   */
  async copyRange(afterSeq: number, limit: number): Promise<Positioned[]> {
    const rows = await this.query<BodyRow & { seq: number }>(
      `SELECT d.seq, ${BODY_COLUMNS} FROM (SELECT seq, event_time FROM event_ids WHERE seq > $1 ORDER BY seq LIMIT $2) d
       JOIN events e ON e.event_time = d.event_time AND e.seq = d.seq ORDER BY d.seq`,
      [afterSeq, limit],
    );
    const events = await this.codec.decode(rows);
    return rows.map((r, i) => ({ seq: r.seq, event: events[i] as ActionTrailEvent }));
  }

  /**
   * Copies events with the positions (seq) they had in another store, so that positions kept
   * elsewhere — a data directory's trail cursors — stay true (`flinktrail migrate`). One
   * transaction under SEQ_LOCK; refused with FT_ERR_MIGRATE_DIVERGED unless this store's last
   * position is still `after` (nothing else wrote meanwhile) and the rows come after it. The
   * sequence moves past the last copied row, so appends continue from there.
   */
  async importPositioned(rows: readonly Positioned[], after: number): Promise<void> {
    if (this.closed) throw new Error('The event store is closed.');
    if (rows.length === 0) return;
    const last = (rows[rows.length - 1] as Positioned).seq;
    if ((rows[0] as Positioned).seq <= after) throw new FlinkTrailError('FT_ERR_MIGRATE_DIVERGED', String(after), `the first copied position is ${(rows[0] as Positioned).seq}`);
    const records = rows.map((r, i) => ({ ...record(r.event, i, this.codec, this.opts.managementAccountId), seq: r.seq }));
    try {
      await this.withClient(async (c) => {
        await this.partitions.ensure(
          c,
          records.map((r) => r.event_time),
        );
        await inTransaction(c, async () => {
          await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [SEQ_LOCK]);
          const [row] = (await c.query('SELECT COALESCE(max(seq), 0)::bigint AS seq FROM event_ids')).rows as { seq: number }[];
          if ((row?.seq ?? 0) !== after) throw new FlinkTrailError('FT_ERR_MIGRATE_DIVERGED', String(after), `it ends at position ${row?.seq ?? 0}`);
          for (const part of chunks(records)) await c.query(IMPORT_SQL, [JSON.stringify(part)]);
          await c.query("SELECT setval('event_seq', GREATEST($1::bigint, (SELECT last_value FROM event_seq)))", [last]);
        });
      });
    } catch (err) {
      if (err instanceof FlinkTrailError) throw err;
      if ((err as { code?: string }).code === '23505') throw new FlinkTrailError('FT_ERR_MIGRATE_DIVERGED', String(after), 'an eventId being copied is already stored at another position');
      throw this.clean(err);
    }
  }

  /** The eventIds of events still pending (an operation whose outcome is not recorded yet). */
  async pendingEventIds(): Promise<string[]> {
    return (await this.query<{ event_id: string }>("SELECT event_id FROM events WHERE outcome = 'pending' ORDER BY seq")).map((r) => r.event_id);
  }

  async lastSeq(): Promise<number> {
    const [row] = await this.query<{ seq: number }>('SELECT COALESCE(max(seq), 0)::bigint AS seq FROM event_ids');
    return row?.seq ?? 0;
  }

  async resolvePending(message: string, before = Number.MAX_SAFE_INTEGER): Promise<number> {
    const rows = await this.query<BodyRow>(`SELECT ${BODY_COLUMNS} FROM events e WHERE e.outcome = 'pending' AND e.event_time < $1`, [before]);
    const resolved = (await this.codec.decode(rows)).map((e) => {
      e.additionalEventData = { ...e.additionalEventData, outcome: 'unknown' };
      e.errorCode = 'OutcomeUnknown';
      e.errorMessage = message;
      return e;
    });
    if (resolved.length) await this.write([], resolved.map((e) => record(e, 0, this.codec, this.opts.managementAccountId)));
    return resolved.length;
  }

  async purge(before: number): Promise<number> {
    try {
      return await this.withClient((c) => this.partitions.purge(c, before));
    } catch (err) {
      throw this.clean(err);
    }
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      this.closed = true;
      await this.flush();
      const left = this.queue;
      this.queue = [];
      for (const p of left) p.reject(new Error('The event store closed before this event could be written.'));
      await Promise.all(this.readers.map((r) => r.stop()));
      await this.pool.end();
    })();
    return this.closing;
  }
}
