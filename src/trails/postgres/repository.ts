/**
 * The TrailRepository on PostgreSQL (with `store.url`; repository.ts is the contract): the trail
 * tables of the embedded database (store/sqlite/database.ts, migrations 4, 7 and 8) in the event
 * store's database, under their own migrations component (`trails`), plus `trail_leases`. Every
 * instance sees the same trails, and the lease of a trail says which one delivers it.
 *
 * Behaviour is the embedded repository's, statement for statement: positions only move forward
 * (`GREATEST` for SQLite's two-argument `MAX`), `INSERT OR REPLACE` is `ON CONFLICT … DO UPDATE`,
 * `INSERT OR IGNORE` is `ON CONFLICT … DO NOTHING`, on the same keys. Text that SQLite orders
 * (trail names, object keys, regions, job ids) is `COLLATE "C"`, byte order as in SQLite,
 * whatever the database's collation: a digest lists its files in the same order everywhere.
 *
 * What SQLite got from its single writer is said here instead. A transaction is one client of
 * the pool. Writes that read before they write (update, start, stop) lock the trail's row first;
 * create relies on the primary key, so two instances creating one name at once get one trail and
 * one FT_ERR_TRAIL_ALREADY_EXISTS; createJob locks the jobs table against itself so "one history
 * job at a time" holds across instances. Lease times are the database's clock
 * (`clock_timestamp()`), never an instance's. A fenced write first reads its trail's lease row
 * `FOR SHARE` in the same transaction: a takeover (an UPDATE of that row) waits until the write
 * commits, and every fenced write of the old holder after the takeover sees the new token and
 * fails with FT_ERR_TRAIL_LEASE_LOST, having written nothing.
 */
import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { FlinkTrailError } from '../../errors/index.js';
import type { ActionTrailEvent } from '../../event/types.js';
import { isSealed, type Sealer } from '../../secrets/index.js';
import { inTransaction, migrate, type Migration } from '../../store/postgres/migrations.js';
import { parseDestination, type Destination } from '../destination.js';
import { JOB_STATUS, type JobStatus, type TrailEventRW, type TrailSpec, type TrailStatus } from '../model.js';
import type { Chain, Cursor, DeadLetter, DeliveredFile, Fence, HistoryJob, Lease, Plan, StoredDestination, TrailRecord, TrailRepository } from '../repository.js';

/**
 * Times and positions are bigint (epoch ms, store `seq`). Plan filters and dead-letter bodies are
 * text: written by JSON.stringify and read back byte for byte (jsonb would reorder the copy of the
 * event kept as evidence), and nothing queries inside them.
 */
export const TRAIL_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'trails',
    sql: `
    CREATE TABLE trails (
      name text COLLATE "C" PRIMARY KEY,
      event_rw text NOT NULL,
      trail_region text NOT NULL,
      home_region text NOT NULL,
      status text NOT NULL,
      digest_interval integer NOT NULL,
      created_at bigint NOT NULL,
      updated_at bigint NOT NULL,
      start_logging_at bigint,
      stop_logging_at bigint,
      first_start_seq bigint,
      first_start_at bigint
    );
    CREATE TABLE trail_destinations (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      trail text COLLATE "C" NOT NULL REFERENCES trails (name) ON DELETE CASCADE,
      ord integer NOT NULL,
      url text NOT NULL,
      kind text NOT NULL,
      min_cut_at bigint NOT NULL DEFAULT 0,
      last_digest_at bigint,
      last_digest_error text
    );
    CREATE INDEX trail_destinations_trail ON trail_destinations (trail, ord);
    CREATE TABLE trail_cursors (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      dest_id bigint NOT NULL REFERENCES trail_destinations (id) ON DELETE CASCADE,
      job_id text,
      position bigint NOT NULL,
      end_seq bigint,
      plan_from bigint,
      plan_to bigint,
      plan_cut_at bigint,
      plan_filter text,
      delivered_events bigint NOT NULL DEFAULT 0,
      last_delivery_at bigint,
      last_error text,
      last_error_at bigint,
      done boolean NOT NULL DEFAULT false
    );
    CREATE INDEX trail_cursors_dest ON trail_cursors (dest_id);
    CREATE INDEX trail_cursors_job ON trail_cursors (job_id) WHERE job_id IS NOT NULL;
    CREATE TABLE trail_off_times (
      trail text COLLATE "C" NOT NULL REFERENCES trails (name) ON DELETE CASCADE,
      from_time bigint NOT NULL,
      to_time bigint NOT NULL
    );
    CREATE INDEX trail_off_times_trail ON trail_off_times (trail, from_time);
    CREATE TABLE trail_files (
      dest_id bigint NOT NULL REFERENCES trail_destinations (id) ON DELETE CASCADE,
      key text COLLATE "C" NOT NULL,
      region text COLLATE "C" NOT NULL,
      cut_at bigint NOT NULL,
      sha256 text NOT NULL,
      size bigint NOT NULL,
      events integer NOT NULL,
      oldest text,
      newest text,
      delivered_at bigint NOT NULL,
      PRIMARY KEY (dest_id, key)
    );
    CREATE INDEX trail_files_cut ON trail_files (dest_id, region, cut_at);
    CREATE TABLE trail_digest_chains (
      dest_id bigint NOT NULL REFERENCES trail_destinations (id) ON DELETE CASCADE,
      region text COLLATE "C" NOT NULL,
      next_start bigint NOT NULL,
      last_key text,
      last_sha256 text,
      last_signature text,
      last_end bigint,
      PRIMARY KEY (dest_id, region)
    );
    CREATE TABLE trail_history_jobs (
      id text COLLATE "C" PRIMARY KEY,
      trail text COLLATE "C" NOT NULL,
      status integer NOT NULL,
      home_region text NOT NULL,
      end_seq bigint NOT NULL,
      before_time bigint,
      start_time bigint,
      end_time bigint,
      created_at bigint NOT NULL,
      updated_at bigint NOT NULL,
      error text
    );
    CREATE INDEX trail_history_jobs_trail ON trail_history_jobs (trail, created_at);
    CREATE TABLE trail_dead_letters (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      dest_id bigint NOT NULL REFERENCES trail_destinations (id) ON DELETE CASCADE,
      trail text COLLATE "C" NOT NULL,
      job_id text,
      seq bigint NOT NULL,
      event_id text NOT NULL,
      code text NOT NULL,
      reason text NOT NULL,
      body text NOT NULL,
      at bigint NOT NULL,
      UNIQUE (dest_id, seq)
    );
    CREATE INDEX trail_dead_letters_trail ON trail_dead_letters (trail, id);
    CREATE TABLE trail_leases (
      trail text COLLATE "C" PRIMARY KEY,
      holder text NOT NULL,
      token bigint NOT NULL,
      expires_at bigint NOT NULL
    );`,
  },
];

/** A client in a transaction, or the pool for a single statement. */
type Queryable = Pick<Pool, 'query'>;
/** bigint may come back as a string (pg's default) or a number (poolConfig's parser); SUM is numeric, a string. */
type Row = Record<string, string | number | boolean | null>;

/** Sealed-value context of destination URLs (as in the embedded repository: a value moves between them). */
const URL_CONTEXT = 'trail-destination';
/** The database's clock in epoch milliseconds, read when the statement runs (not when its transaction began). */
const DB_NOW_MS = '(extract(epoch from clock_timestamp()) * 1000)::bigint';
const UNIQUE_VIOLATION = '23505';

const num = (v: Row[string] | undefined): number | undefined => (v === null || v === undefined ? undefined : Number(v));
const str = (v: Row[string] | undefined): string | undefined => (v === null || v === undefined ? undefined : String(v));
const regionText = (r: TrailSpec['trailRegion']): string => (r === 'All' ? 'All' : JSON.stringify(r));

async function rows(q: Queryable, sql: string, params: unknown[] = []): Promise<Row[]> {
  return (await q.query<Row>(sql, params)).rows;
}

async function changes(q: Queryable, sql: string, params: unknown[] = []): Promise<number> {
  return (await q.query(sql, params)).rowCount ?? 0;
}

function toLease(r: Row): Lease {
  return { trail: String(r['trail']), holder: String(r['holder']), token: Number(r['token']), expiresAt: Number(r['expires_at']) };
}

export class PostgresTrailRepository implements TrailRepository {
  private constructor(
    private readonly pool: Pool,
    private readonly localDir: string,
    private readonly secrets: Sealer,
  ) {}

  /** Applies the `trails` migrations, then the repository is ready. `pool`: the event store's (or any on the same schema). */
  static async open(pool: Pool, localDir: string, secrets: Sealer): Promise<PostgresTrailRepository> {
    await migrate(pool, 'trails', TRAIL_MIGRATIONS);
    return new PostgresTrailRepository(pool, localDir, secrets);
  }

  /** Runs `fn` in one transaction on one client of the pool. */
  private async tx<T>(fn: (c: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      return await inTransaction(client, () => fn(client));
    } finally {
      client.release();
    }
  }

  /**
   * Runs a write that moves delivery state. With a fence: in a transaction that first holds the
   * lease row `FOR SHARE` and checks its token (a takeover waits for this commit). Without one:
   * as it is — a single statement on the pool, or a transaction when `multi`.
   */
  private async fenced<T>(fence: Fence | undefined, write: (q: Queryable) => Promise<T>, multi = false): Promise<T> {
    if (!fence && !multi) return write(this.pool);
    return this.tx(async (c) => {
      if (fence) {
        const [r] = await rows(c, 'SELECT token FROM trail_leases WHERE trail = $1 FOR SHARE', [fence.trail]);
        if (r === undefined || Number(r['token']) !== fence.token) throw new FlinkTrailError('FT_ERR_TRAIL_LEASE_LOST', fence.trail);
      }
      return write(c);
    });
  }

  /** The stored form of a destination URL: sealed if it carries credentials. */
  private storedUrl(d: Destination): string {
    return d.url === d.display ? d.url : this.secrets.seal(d.url, URL_CONTEXT);
  }

  /**
   * Seals destination URLs an older version stored with credentials in clear (once, at start).
   * Returns how many. (PostgreSQL keeps the old row versions until vacuum; there is no WAL file
   * of ours to truncate as in the data directory.)
   */
  async sealStoredCredentials(): Promise<number> {
    return this.tx(async (c) => {
      let n = 0;
      for (const r of await rows(c, 'SELECT id, url FROM trail_destinations ORDER BY id FOR UPDATE')) {
        const url = String(r['url']);
        if (isSealed(url)) continue;
        const d = parseDestination(url, { localDir: this.localDir });
        if (d.url === d.display) continue;
        await c.query('UPDATE trail_destinations SET url = $1 WHERE id = $2', [this.storedUrl(d), r['id']]);
        n++;
      }
      return n;
    });
  }

  private toDestination(r: Row): StoredDestination {
    const stored = String(r['url']);
    const d = parseDestination(isSealed(stored) ? this.secrets.open(stored, URL_CONTEXT) : stored, { localDir: this.localDir });
    const lastDigestAt = num(r['last_digest_at']);
    const lastDigestError = str(r['last_digest_error']);
    return {
      ...d,
      id: Number(r['id']),
      minCutAt: Number(r['min_cut_at']),
      ...(lastDigestAt !== undefined ? { lastDigestAt } : {}),
      ...(lastDigestError !== undefined ? { lastDigestError } : {}),
    };
  }

  /** The records of trail rows, with their destinations (one query for all of them), in the order of `trails`. */
  private async records(q: Queryable, trails: Row[]): Promise<TrailRecord[]> {
    if (trails.length === 0) return [];
    const names = trails.map((r) => String(r['name']));
    const byTrail = new Map<string, StoredDestination[]>(names.map((n) => [n, []]));
    for (const r of await rows(q, 'SELECT * FROM trail_destinations WHERE trail = ANY($1::text[]) ORDER BY trail, ord, id', [names])) {
      byTrail.get(String(r['trail']))?.push(this.toDestination(r));
    }
    return trails.map((r) => {
      const region = String(r['trail_region']);
      const rec: TrailRecord = {
        name: String(r['name']),
        eventRW: r['event_rw'] as TrailEventRW,
        trailRegion: region === 'All' ? 'All' : (JSON.parse(region) as string[]),
        digestInterval: Number(r['digest_interval']),
        status: r['status'] as TrailStatus,
        homeRegion: String(r['home_region']),
        createdAt: Number(r['created_at']),
        updatedAt: Number(r['updated_at']),
        destinations: byTrail.get(String(r['name'])) ?? [],
      };
      const opt = { startLoggingAt: 'start_logging_at', stopLoggingAt: 'stop_logging_at', firstStartAt: 'first_start_at', firstStartSeq: 'first_start_seq' } as const;
      for (const [k, col] of Object.entries(opt)) {
        const v = num(r[col]);
        if (v !== undefined) (rec as unknown as Record<string, number>)[k] = v;
      }
      return rec;
    });
  }

  /** The trail, read on `q`; `lock` takes its row FOR UPDATE (a write that reads first). */
  private async read(q: Queryable, name: string, lock = false): Promise<TrailRecord | undefined> {
    const [rec] = await this.records(q, await rows(q, `SELECT * FROM trails WHERE name = $1${lock ? ' FOR UPDATE' : ''}`, [name]));
    return rec;
  }

  private async mustRead(q: Queryable, name: string, lock = false): Promise<TrailRecord> {
    const t = await this.read(q, name, lock);
    if (!t) throw new FlinkTrailError('FT_ERR_TRAIL_NOT_FOUND', name);
    return t;
  }

  get(name: string): Promise<TrailRecord | undefined> {
    return this.read(this.pool, name);
  }

  mustGet(name: string): Promise<TrailRecord> {
    return this.mustRead(this.pool, name);
  }

  async list(names?: readonly string[]): Promise<TrailRecord[]> {
    const sql = names ? 'SELECT * FROM trails WHERE name = ANY($1::text[]) ORDER BY name' : 'SELECT * FROM trails ORDER BY name';
    return this.records(this.pool, await rows(this.pool, sql, names ? [[...names]] : []));
  }

  private async addDestination(q: Queryable, trail: string, ord: number, d: Destination, position: number): Promise<void> {
    const [r] = await rows(q, 'INSERT INTO trail_destinations (trail, ord, url, kind) VALUES ($1, $2, $3, $4) RETURNING id', [trail, ord, this.storedUrl(d), d.kind]);
    await q.query('INSERT INTO trail_cursors (dest_id, position) VALUES ($1, $2)', [r?.['id'], position]);
  }

  async create(spec: TrailSpec, homeRegion: string, now: number, lastSeq: number): Promise<TrailRecord> {
    return this.tx(async (c) => {
      try {
        // No read first: two instances creating one name at once both pass a read; the key refuses one.
        await c.query(
          `INSERT INTO trails (name, event_rw, trail_region, home_region, status, digest_interval, created_at, updated_at)
           VALUES ($1, $2, $3, $4, 'Fresh', $5, $6, $7)`,
          [spec.name, spec.eventRW, regionText(spec.trailRegion), homeRegion, spec.digestInterval, now, now],
        );
      } catch (err) {
        if ((err as { code?: string }).code === UNIQUE_VIOLATION) throw new FlinkTrailError('FT_ERR_TRAIL_ALREADY_EXISTS', spec.name);
        throw err;
      }
      for (const [i, d] of spec.destinations.entries()) await this.addDestination(c, spec.name, i, d, lastSeq);
      return this.mustRead(c, spec.name);
    });
  }

  async update(spec: TrailSpec, now: number, lastSeq: number): Promise<TrailRecord> {
    return this.tx(async (c) => {
      const current = await this.mustRead(c, spec.name, true);
      await c.query('UPDATE trails SET event_rw = $1, trail_region = $2, digest_interval = $3, updated_at = $4 WHERE name = $5', [
        spec.eventRW,
        regionText(spec.trailRegion),
        spec.digestInterval,
        now,
        spec.name,
      ]);
      const keep = new Set(spec.destinations.map((d) => d.url));
      for (const d of current.destinations) if (!keep.has(d.url)) await c.query('DELETE FROM trail_destinations WHERE id = $1', [d.id]);
      for (const [i, d] of spec.destinations.entries()) {
        const same = current.destinations.find((s) => s.url === d.url);
        if (same) await c.query('UPDATE trail_destinations SET ord = $1 WHERE id = $2', [i, same.id]);
        else await this.addDestination(c, spec.name, i, d, lastSeq);
      }
      return this.mustRead(c, spec.name);
    });
  }

  async delete(name: string, now: number): Promise<void> {
    await this.tx(async (c) => {
      if ((await changes(c, 'DELETE FROM trails WHERE name = $1', [name])) === 0) throw new FlinkTrailError('FT_ERR_TRAIL_NOT_FOUND', name);
      await c.query('UPDATE trail_history_jobs SET status = $1, error = $2, updated_at = $3 WHERE trail = $4 AND status IN (0, 1)', [
        JOB_STATUS.failed,
        'The trail was deleted.',
        now,
        name,
      ]);
      // Its holder's next fenced write finds no lease and stops; a trail made again under this name starts at token 1.
      await c.query('DELETE FROM trail_leases WHERE trail = $1', [name]);
    });
  }

  async start(name: string, now: number, lastSeq: number): Promise<TrailRecord> {
    return this.tx(async (c) => {
      const t = await this.mustRead(c, name, true);
      if (t.status === 'Enable') return t;
      if (t.status === 'Fresh') {
        for (const d of t.destinations) {
          await c.query('UPDATE trail_cursors SET position = GREATEST(position, $1) WHERE dest_id = $2 AND job_id IS NULL AND plan_from IS NULL', [lastSeq, d.id]);
        }
        await c.query('UPDATE trails SET first_start_seq = COALESCE(first_start_seq, $1), first_start_at = COALESCE(first_start_at, $2) WHERE name = $3', [lastSeq, now, name]);
      } else if (t.stopLoggingAt !== undefined && now > t.stopLoggingAt) {
        await c.query('INSERT INTO trail_off_times (trail, from_time, to_time) VALUES ($1, $2, $3)', [name, t.stopLoggingAt, now]);
      }
      await c.query("UPDATE trails SET status = 'Enable', start_logging_at = $1, updated_at = $2 WHERE name = $3", [now, now, name]);
      return this.mustRead(c, name);
    });
  }

  async stop(name: string, now: number): Promise<TrailRecord> {
    return this.tx(async (c) => {
      const t = await this.mustRead(c, name, true);
      if (t.status !== 'Enable') return t;
      await c.query("UPDATE trails SET status = 'Disable', stop_logging_at = $1, updated_at = $2 WHERE name = $3", [now, now, name]);
      return this.mustRead(c, name);
    });
  }

  async offTimes(trail: string): Promise<[number, number][]> {
    return (await rows(this.pool, 'SELECT from_time, to_time FROM trail_off_times WHERE trail = $1 ORDER BY from_time, to_time', [trail])).map((r) => [
      Number(r['from_time']),
      Number(r['to_time']),
    ]);
  }

  // --- cursors ---

  private toCursor(r: Row): Cursor {
    const c: Cursor = {
      id: Number(r['id']),
      destId: Number(r['dest_id']),
      position: Number(r['position']),
      deliveredEvents: Number(r['delivered_events']),
      done: r['done'] === true,
    };
    const jobId = str(r['job_id']);
    if (jobId !== undefined) c.jobId = jobId;
    const endSeq = num(r['end_seq']);
    if (endSeq !== undefined) c.endSeq = endSeq;
    if (r['plan_from'] !== null) {
      c.plan = {
        from: Number(r['plan_from']),
        to: Number(r['plan_to']),
        cutAt: Number(r['plan_cut_at']),
        filter: JSON.parse(String(r['plan_filter'])) as Plan['filter'],
      };
    }
    const lda = num(r['last_delivery_at']);
    if (lda !== undefined) c.lastDeliveryAt = lda;
    const le = str(r['last_error']);
    if (le !== undefined) c.lastError = le;
    const lea = num(r['last_error_at']);
    if (lea !== undefined) c.lastErrorAt = lea;
    return c;
  }

  async cursor(id: number): Promise<Cursor | undefined> {
    const [r] = await rows(this.pool, 'SELECT * FROM trail_cursors WHERE id = $1', [id]);
    return r && this.toCursor(r);
  }

  async allCursors(): Promise<(Cursor & { trail: string })[]> {
    const rs = await rows(this.pool, 'SELECT c.*, d.trail AS trail FROM trail_cursors c JOIN trail_destinations d ON d.id = c.dest_id ORDER BY c.id');
    return rs.map((r) => ({ ...this.toCursor(r), trail: String(r['trail']) }));
  }

  async cursorsOf(destId: number): Promise<Cursor[]> {
    return (await rows(this.pool, 'SELECT * FROM trail_cursors WHERE dest_id = $1 ORDER BY id', [destId])).map((r) => this.toCursor(r));
  }

  async advance(id: number, position: number, fence?: Fence): Promise<void> {
    await this.fenced(fence, (q) => q.query('UPDATE trail_cursors SET position = GREATEST(position, $1) WHERE id = $2 AND plan_from IS NULL', [position, id]));
  }

  async setPlan(id: number, plan: Plan, fence?: Fence): Promise<void> {
    await this.fenced(fence, (q) =>
      q.query('UPDATE trail_cursors SET plan_from = $1, plan_to = $2, plan_cut_at = $3, plan_filter = $4 WHERE id = $5', [plan.from, plan.to, plan.cutAt, JSON.stringify(plan.filter), id]),
    );
  }

  async delivered(id: number, destId: number, position: number, events: number, files: readonly DeliveredFile[], now: number, fence?: Fence): Promise<void> {
    await this.fenced(
      fence,
      async (q) => {
        // One statement per file, as SQLite's INSERT OR REPLACE: a key given twice keeps the last.
        for (const f of files) {
          await q.query(
            `INSERT INTO trail_files (dest_id, key, region, cut_at, sha256, size, events, oldest, newest, delivered_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (dest_id, key) DO UPDATE SET region = excluded.region, cut_at = excluded.cut_at, sha256 = excluded.sha256,
               size = excluded.size, events = excluded.events, oldest = excluded.oldest, newest = excluded.newest, delivered_at = excluded.delivered_at`,
            [destId, f.key, f.region, f.cutAt, f.sha256, f.size, f.events, f.oldest, f.newest, now],
          );
        }
        await q.query(
          `UPDATE trail_cursors SET position = GREATEST(position, $1), plan_from = NULL, plan_to = NULL, plan_cut_at = NULL, plan_filter = NULL,
           delivered_events = delivered_events + $2, last_error = NULL, last_error_at = NULL,
           last_delivery_at = CASE WHEN $2 > 0 THEN $3 ELSE last_delivery_at END WHERE id = $4`,
          [position, events, now, id],
        );
      },
      true,
    );
  }

  async failed(id: number, message: string, now: number): Promise<void> {
    await this.pool.query('UPDATE trail_cursors SET last_error = $1, last_error_at = $2 WHERE id = $3', [message.slice(0, 2000), now, id]);
  }

  async deadLetter(
    c: Pick<Cursor, 'id' | 'destId' | 'jobId'>,
    trail: string,
    letters: readonly { seq: number; event: ActionTrailEvent; code: string; reason: string }[],
    now: number,
    fence?: Fence,
  ): Promise<number> {
    if (letters.length === 0 && !fence) return 0;
    // One statement for the batch; rows go in in the batch's order (ids, hence paging, follow it).
    return this.fenced(fence, (q) =>
      changes(
        q,
        `INSERT INTO trail_dead_letters (dest_id, trail, job_id, seq, event_id, code, reason, body, at)
         SELECT $1, $2, $3, l.seq, l.event_id, l.code, l.reason, l.body, $4
         FROM unnest($5::bigint[], $6::text[], $7::text[], $8::text[], $9::text[]) WITH ORDINALITY AS l (seq, event_id, code, reason, body, n)
         ORDER BY l.n
         ON CONFLICT (dest_id, seq) DO NOTHING`,
        [
          c.destId,
          trail,
          c.jobId ?? null,
          now,
          letters.map((l) => l.seq),
          letters.map((l) => l.event.eventId),
          letters.map((l) => l.code),
          letters.map((l) => l.reason.slice(0, 2000)),
          letters.map((l) => JSON.stringify(l.event)),
        ],
      ),
    );
  }

  async deadLetters(trail: string, limit: number, beforeId?: number): Promise<DeadLetter[]> {
    const rs = await rows(this.pool, 'SELECT * FROM trail_dead_letters WHERE trail = $1 AND id < $2 ORDER BY id DESC LIMIT $3', [
      trail,
      beforeId ?? Number.MAX_SAFE_INTEGER,
      limit,
    ]);
    return rs.map((r) => {
      const jobId = str(r['job_id']);
      return {
        id: Number(r['id']),
        destId: Number(r['dest_id']),
        trail: String(r['trail']),
        ...(jobId !== undefined ? { jobId } : {}),
        seq: Number(r['seq']),
        eventId: String(r['event_id']),
        code: String(r['code']),
        reason: String(r['reason']),
        at: Number(r['at']),
        event: JSON.parse(String(r['body'])) as ActionTrailEvent,
      };
    });
  }

  async deadLetterSummary(destId: number): Promise<{ count: number; lastAt?: number }> {
    const [r] = await rows(this.pool, 'SELECT COUNT(*) AS n, MAX(at) AS last FROM trail_dead_letters WHERE dest_id = $1', [destId]);
    const last = num(r?.['last']);
    return { count: Number(r?.['n'] ?? 0), ...(last !== undefined ? { lastAt: last } : {}) };
  }

  async finish(id: number, fence?: Fence): Promise<void> {
    await this.fenced(fence, (q) => q.query('UPDATE trail_cursors SET done = true WHERE id = $1', [id]));
  }

  // --- files and digests ---

  async filesBetween(destId: number, region: string, from: number, to: number): Promise<DeliveredFile[]> {
    const rs = await rows(this.pool, 'SELECT * FROM trail_files WHERE dest_id = $1 AND region = $2 AND cut_at >= $3 AND cut_at < $4 ORDER BY cut_at, key', [
      destId,
      region,
      from,
      to,
    ]);
    return rs.map((r) => ({
      key: String(r['key']),
      region: String(r['region']),
      cutAt: Number(r['cut_at']),
      sha256: String(r['sha256']),
      size: Number(r['size']),
      events: Number(r['events']),
      oldest: String(r['oldest']),
      newest: String(r['newest']),
    }));
  }

  async regionsWithoutChain(destId: number): Promise<{ region: string; firstCut: number }[]> {
    const rs = await rows(
      this.pool,
      `SELECT f.region AS region, MIN(f.cut_at) AS first_cut FROM trail_files f
       WHERE f.dest_id = $1 AND NOT EXISTS (SELECT 1 FROM trail_digest_chains c WHERE c.dest_id = f.dest_id AND c.region = f.region)
       GROUP BY f.region ORDER BY f.region`,
      [destId],
    );
    return rs.map((r) => ({ region: String(r['region']), firstCut: Number(r['first_cut']) }));
  }

  async chains(destId: number): Promise<Chain[]> {
    return (await rows(this.pool, 'SELECT * FROM trail_digest_chains WHERE dest_id = $1 ORDER BY region', [destId])).map((r) => {
      const c: Chain = { destId, region: String(r['region']), nextStart: Number(r['next_start']) };
      const k = str(r['last_key']);
      if (k !== undefined) {
        c.lastKey = k;
        c.lastSha256 = String(r['last_sha256']);
        c.lastSignature = String(r['last_signature']);
        c.lastEnd = Number(r['last_end']);
      }
      return c;
    });
  }

  async startChain(destId: number, region: string, start: number, fence?: Fence): Promise<void> {
    await this.fenced(fence, (q) =>
      q.query('INSERT INTO trail_digest_chains (dest_id, region, next_start) VALUES ($1, $2, $3) ON CONFLICT (dest_id, region) DO NOTHING', [destId, region, start]),
    );
  }

  async skipChain(destId: number, region: string, nextStart: number, fence?: Fence): Promise<void> {
    await this.fenced(fence, (q) => q.query('UPDATE trail_digest_chains SET next_start = $1 WHERE dest_id = $2 AND region = $3', [nextStart, destId, region]));
  }

  async digestWritten(c: Chain, end: number, key: string, sha256: string, signature: string, now: number, fence?: Fence): Promise<void> {
    await this.fenced(
      fence,
      async (q) => {
        await q.query('UPDATE trail_digest_chains SET next_start = $1, last_key = $2, last_sha256 = $3, last_signature = $4, last_end = $1 WHERE dest_id = $5 AND region = $6', [
          end,
          key,
          sha256,
          signature,
          c.destId,
          c.region,
        ]);
        await q.query('UPDATE trail_destinations SET min_cut_at = GREATEST(min_cut_at, $1), last_digest_at = $2, last_digest_error = NULL WHERE id = $3', [end, now, c.destId]);
      },
      true,
    );
  }

  async digestFailed(destId: number, message: string): Promise<void> {
    await this.pool.query('UPDATE trail_destinations SET last_digest_error = $1 WHERE id = $2', [message.slice(0, 2000), destId]);
  }

  async minCutAt(destId: number): Promise<number> {
    const [r] = await rows(this.pool, 'SELECT min_cut_at FROM trail_destinations WHERE id = $1', [destId]);
    return r ? Number(r['min_cut_at']) : 0;
  }

  // --- history jobs ---

  private toJob(r: Row): HistoryJob {
    const j: HistoryJob = {
      id: String(r['id']),
      trail: String(r['trail']),
      status: Number(r['status']) as JobStatus,
      homeRegion: String(r['home_region']),
      endSeq: Number(r['end_seq']),
      createdAt: Number(r['created_at']),
      updatedAt: Number(r['updated_at']),
    };
    const bt = num(r['before_time']);
    if (bt !== undefined) j.before = bt;
    const st = num(r['start_time']);
    if (st !== undefined) j.startTime = st;
    const et = num(r['end_time']);
    if (et !== undefined) j.endTime = et;
    const e = str(r['error']);
    if (e !== undefined) j.error = e;
    return j;
  }

  async createJob(trail: TrailRecord, endSeq: number, before: number | undefined, startTime: number, endTime: number, now: number): Promise<HistoryJob> {
    const id = randomUUID();
    return this.tx(async (c) => {
      // One job at a time across instances: this mode conflicts with itself (and with the row
      // writes of setJobStatus), so two createJob calls cannot both find none running.
      await c.query('LOCK TABLE trail_history_jobs IN SHARE ROW EXCLUSIVE MODE');
      const [running] = await rows(c, 'SELECT id, trail FROM trail_history_jobs WHERE status IN (0, 1) LIMIT 1');
      if (running) throw new FlinkTrailError('FT_ERR_TRAIL_HISTORY_JOB_RUNNING', String(running['id']), String(running['trail']));
      const [r] = await rows(
        c,
        `INSERT INTO trail_history_jobs (id, trail, status, home_region, end_seq, before_time, start_time, end_time, created_at, updated_at)
         VALUES ($1, $2, 0, $3, $4, $5, $6, $7, $8, $8) RETURNING *`,
        [id, trail.name, trail.homeRegion, endSeq, before ?? null, startTime, endTime, now],
      );
      for (const d of trail.destinations) {
        await c.query('INSERT INTO trail_cursors (dest_id, job_id, position, end_seq) VALUES ($1, $2, 0, $3)', [d.id, id, endSeq]);
      }
      return this.toJob(r as Row);
    });
  }

  async job(id: string): Promise<HistoryJob | undefined> {
    const [r] = await rows(this.pool, 'SELECT * FROM trail_history_jobs WHERE id = $1', [id]);
    return r && this.toJob(r);
  }

  async jobs(trail: string | undefined, page: number, size: number): Promise<{ total: number; jobs: HistoryJob[] }> {
    const t = trail ?? null;
    const [n] = await rows(this.pool, 'SELECT COUNT(*) AS n FROM trail_history_jobs WHERE $1::text IS NULL OR trail = $1', [t]);
    const rs = await rows(this.pool, 'SELECT * FROM trail_history_jobs WHERE $1::text IS NULL OR trail = $1 ORDER BY created_at DESC, id LIMIT $2 OFFSET $3', [
      t,
      size,
      (page - 1) * size,
    ]);
    return { total: Number(n?.['n'] ?? 0), jobs: rs.map((r) => this.toJob(r)) };
  }

  async jobProgress(id: string): Promise<{ cursors: number; done: number; position: number; end: number }> {
    const [r] = await rows(
      this.pool,
      'SELECT COUNT(*) AS n, SUM(done::int) AS done, SUM(position) AS pos, SUM(end_seq) AS end FROM trail_cursors WHERE job_id = $1',
      [id],
    );
    return { cursors: Number(r?.['n'] ?? 0), done: Number(r?.['done'] ?? 0), position: Number(r?.['pos'] ?? 0), end: Number(r?.['end'] ?? 0) };
  }

  async setJobStatus(id: string, status: JobStatus, now: number, error?: string): Promise<void> {
    await this.pool.query('UPDATE trail_history_jobs SET status = $1, updated_at = $2, error = $3 WHERE id = $4 AND status IN (0, 1)', [status, now, error ?? null, id]);
  }

  // --- leases ---

  async acquireLease(trail: string, holder: string, ttlMs: number): Promise<Lease | undefined> {
    // One statement, the database's clock: free → token 1; ran out (or released) → the next
    // token; the holder's own → renewed, same token; another holder's still running → no row.
    const [r] = await rows(
      this.pool,
      `INSERT INTO trail_leases AS l (trail, holder, token, expires_at) VALUES ($1, $2, 1, ${DB_NOW_MS} + $3::bigint)
       ON CONFLICT (trail) DO UPDATE SET
         token = CASE WHEN l.holder = excluded.holder THEN l.token ELSE l.token + 1 END,
         holder = excluded.holder, expires_at = excluded.expires_at
       WHERE l.holder = excluded.holder OR l.expires_at <= ${DB_NOW_MS}
       RETURNING trail, holder, token, expires_at`,
      [trail, holder, Math.round(ttlMs)],
    );
    return r && toLease(r);
  }

  async releaseLease(lease: Fence & { holder: string }): Promise<void> {
    await this.pool.query('UPDATE trail_leases SET expires_at = 0 WHERE trail = $1 AND holder = $2 AND token = $3', [lease.trail, lease.holder, lease.token]);
  }

  async leases(): Promise<Lease[]> {
    return (await rows(this.pool, 'SELECT trail, holder, token, expires_at FROM trail_leases ORDER BY trail')).map(toLease);
  }
}
