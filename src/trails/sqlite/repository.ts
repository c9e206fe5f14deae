/**
 * The embedded TrailRepository (repository.ts is the contract): trail tables in the data
 * directory's database (migrations 4, 7, 8, 11 and 13 of store/sqlite/database.ts). Lease times are
 * this process's clock: the data directory has one server.
 */
import { randomUUID } from 'node:crypto';
import { FlinkTrailError } from '../../errors/index.js';
import { isSealed, type Sealer } from '../../secrets/index.js';
import type { Db } from '../../store/sqlite/database.js';
import { parseDestination, type Destination } from '../destination.js';
import { JOB_STATUS, type JobStatus, type TrailSpec } from '../model.js';
import type { Chain, Cursor, DeadLetter, DeliveredFile, Fence, HistoryJob, Lease, NewDeadLetter, Plan, StoredDestination, TrailRecord, TrailRepository } from '../repository.js';
import { num, toChain, toCursor, toDeadLetter, toDestination, toFile, toJob, toLease, toRecord, URL_CONTEXT, type Row } from '../rows.js';


export class SqliteTrailRepository implements TrailRepository {
  constructor(
    private readonly db: Db,
    private readonly localDir: string,
    private readonly secrets: Sealer,
  ) {}

  /** The stored form of a destination URL: sealed if it carries credentials. */
  private storedUrl(d: Destination): string {
    return d.url === d.display ? d.url : this.secrets.seal(d.url, URL_CONTEXT);
  }

  /**
   * Seals destination URLs an older version stored with credentials in clear (once, at start),
   * then truncates the WAL so the clear copies do not linger there. Returns how many.
   */
  async sealStoredCredentials(): Promise<number> {
    const rows = this.db.prepare('SELECT id, url FROM trail_destinations').all() as { id: number; url: string }[];
    let n = 0;
    this.db
      .transaction(() => {
        for (const r of rows) {
          if (isSealed(r.url)) continue;
          const d = parseDestination(r.url, { localDir: this.localDir });
          if (d.url === d.display) continue;
          this.db.prepare('UPDATE trail_destinations SET url = ? WHERE id = ?').run(this.storedUrl(d), r.id);
          n++;
        }
      })
      .immediate();
    if (n > 0) this.db.pragma('wal_checkpoint(TRUNCATE)');
    return n;
  }

  private destinationsOf(trail: string): StoredDestination[] {
    const rows = this.db.prepare('SELECT * FROM trail_destinations WHERE trail = ? ORDER BY ord').all(trail) as Row[];
    return rows.map((r) => toDestination(r, this.secrets, this.localDir));
  }

  private toRecord(r: Row): TrailRecord {
    return toRecord(r, this.destinationsOf(String(r['name'])));
  }

  async get(name: string): Promise<TrailRecord | undefined> {
    return this.getSync(name);
  }

  async mustGet(name: string): Promise<TrailRecord> {
    return this.mustGetSync(name);
  }

  private getSync(name: string): TrailRecord | undefined {
    const r = this.db.prepare('SELECT * FROM trails WHERE name = ?').get(name) as Row | undefined;
    return r ? this.toRecord(r) : undefined;
  }

  private mustGetSync(name: string): TrailRecord {
    const t = this.getSync(name);
    if (!t) throw new FlinkTrailError('FT_ERR_TRAIL_NOT_FOUND', name);
    return t;
  }

  async list(names?: readonly string[]): Promise<TrailRecord[]> {
    const rows = this.db.prepare('SELECT * FROM trails ORDER BY name').all() as Row[];
    return rows.filter((r) => !names || names.includes(String(r['name']))).map((r) => this.toRecord(r));
  }

  private addDestination(trail: string, ord: number, d: Destination, position: number): void {
    const info = this.db.prepare('INSERT INTO trail_destinations (trail, ord, url, kind) VALUES (?, ?, ?, ?)').run(trail, ord, this.storedUrl(d), d.kind);
    this.db.prepare('INSERT INTO trail_cursors (dest_id, position) VALUES (?, ?)').run(Number(info.lastInsertRowid), position);
  }

  async create(spec: TrailSpec, homeRegion: string, now: number, lastSeq: number, accountId?: string): Promise<TrailRecord> {
    this.db
      .transaction(() => {
        if (this.db.prepare('SELECT 1 FROM trails WHERE name = ?').get(spec.name)) throw new FlinkTrailError('FT_ERR_TRAIL_ALREADY_EXISTS', spec.name);
        this.db
          .prepare(
            `INSERT INTO trails (name, event_rw, trail_region, home_region, status, digest_interval, created_at, updated_at, account_id, is_organization_trail)
             VALUES (?, ?, ?, ?, 'Fresh', ?, ?, ?, ?, ?)`,
          )
          .run(
            spec.name,
            spec.eventRW,
            spec.trailRegion === 'All' ? 'All' : JSON.stringify(spec.trailRegion),
            homeRegion,
            spec.digestInterval,
            now,
            now,
            accountId ?? null,
            spec.isOrganizationTrail ? 1 : 0,
          );
        spec.destinations.forEach((d, i) => this.addDestination(spec.name, i, d, lastSeq));
      })
      .immediate();
    return this.mustGet(spec.name);
  }

  /** Applies an UpdateTrail. Destinations with an unchanged URL keep their positions and chains. */
  async update(spec: TrailSpec, now: number, lastSeq: number): Promise<TrailRecord> {
    this.db
      .transaction(() => {
        const current = this.mustGetSync(spec.name);
        this.db
          .prepare('UPDATE trails SET event_rw = ?, trail_region = ?, digest_interval = ?, updated_at = ? WHERE name = ?')
          .run(spec.eventRW, spec.trailRegion === 'All' ? 'All' : JSON.stringify(spec.trailRegion), spec.digestInterval, now, spec.name);
        const keep = new Set(spec.destinations.map((d) => d.url));
        for (const d of current.destinations) if (!keep.has(d.url)) this.db.prepare('DELETE FROM trail_destinations WHERE id = ?').run(d.id);
        spec.destinations.forEach((d, i) => {
          const same = current.destinations.find((c) => c.url === d.url);
          if (same) this.db.prepare('UPDATE trail_destinations SET ord = ? WHERE id = ?').run(i, same.id);
          else this.addDestination(spec.name, i, d, lastSeq);
        });
      })
      .immediate();
    return this.mustGet(spec.name);
  }

  async delete(name: string, now: number): Promise<void> {
    this.db
      .transaction(() => {
        const info = this.db.prepare('DELETE FROM trails WHERE name = ?').run(name);
        if (info.changes === 0) throw new FlinkTrailError('FT_ERR_TRAIL_NOT_FOUND', name);
        this.db.prepare('DELETE FROM trail_leases WHERE trail = ?').run(name);
        this.db
          .prepare('UPDATE trail_history_jobs SET status = ?, error = ?, updated_at = ? WHERE trail = ? AND status IN (0, 1)')
          .run(JOB_STATUS.failed, 'The trail was deleted.', now, name);
      })
      .immediate();
  }

  /**
   * StartLogging. From Fresh: every live cursor starts at `lastSeq` (everything committed so far
   * happened before now) and events that happened from now on are delivered. From Disable: the
   * time between StopLogging and now becomes an off range that is never delivered.
   */
  async start(name: string, now: number, lastSeq: number): Promise<TrailRecord> {
    this.db
      .transaction(() => {
        const t = this.mustGetSync(name);
        if (t.status === 'Enable') return;
        if (t.status === 'Fresh') {
          for (const d of t.destinations) {
            this.db.prepare('UPDATE trail_cursors SET position = MAX(position, ?) WHERE dest_id = ? AND job_id IS NULL AND plan_from IS NULL').run(lastSeq, d.id);
          }
          this.db.prepare('UPDATE trails SET first_start_seq = COALESCE(first_start_seq, ?), first_start_at = COALESCE(first_start_at, ?) WHERE name = ?').run(lastSeq, now, name);
        } else if (t.stopLoggingAt !== undefined && now > t.stopLoggingAt) {
          this.db.prepare('INSERT INTO trail_off_times (trail, from_time, to_time) VALUES (?, ?, ?)').run(name, t.stopLoggingAt, now);
        }
        this.db.prepare("UPDATE trails SET status = 'Enable', start_logging_at = ?, updated_at = ? WHERE name = ?").run(now, now, name);
      })
      .immediate();
    return this.mustGet(name);
  }

  /** StopLogging: events that happened from now on are not delivered (earlier ones still are). */
  async stop(name: string, now: number): Promise<TrailRecord> {
    this.db
      .transaction(() => {
        const t = this.mustGetSync(name);
        if (t.status !== 'Enable') return;
        this.db.prepare("UPDATE trails SET status = 'Disable', stop_logging_at = ?, updated_at = ? WHERE name = ?").run(now, now, name);
      })
      .immediate();
    return this.mustGet(name);
  }

  async offTimes(trail: string): Promise<[number, number][]> {
    return (this.db.prepare('SELECT from_time, to_time FROM trail_off_times WHERE trail = ? ORDER BY from_time').all(trail) as Row[]).map((r) => [
      Number(r['from_time']),
      Number(r['to_time']),
    ]);
  }

  // --- cursors ---

  async cursor(id: number): Promise<Cursor | undefined> {
    const r = this.db.prepare('SELECT * FROM trail_cursors WHERE id = ?').get(id) as Row | undefined;
    return r ? toCursor(r) : undefined;
  }

  /** Every cursor of every trail, with its trail name. */
  async allCursors(): Promise<(Cursor & { trail: string })[]> {
    const rows = this.db
      .prepare('SELECT c.*, d.trail AS trail FROM trail_cursors c JOIN trail_destinations d ON d.id = c.dest_id ORDER BY c.id')
      .all() as Row[];
    return rows.map((r) => ({ ...toCursor(r), trail: String(r['trail']) }));
  }

  async cursorsOf(destId: number): Promise<Cursor[]> {
    return (this.db.prepare('SELECT * FROM trail_cursors WHERE dest_id = ? ORDER BY id').all(destId) as Row[]).map((r) => toCursor(r));
  }

  /** Moves a cursor forward over events that need no delivery. */
  async advance(id: number, position: number, fence?: Fence): Promise<void> {
    this.fenced(fence, () => {
      this.db.prepare('UPDATE trail_cursors SET position = MAX(position, ?) WHERE id = ? AND plan_from IS NULL').run(position, id);
    });
  }

  async setPlan(id: number, plan: Plan, fence?: Fence): Promise<void> {
    this.fenced(fence, () => {
      this.db
        .prepare('UPDATE trail_cursors SET plan_from = ?, plan_to = ?, plan_cut_at = ?, plan_filter = ? WHERE id = ?')
        .run(plan.from, plan.to, plan.cutAt, JSON.stringify(plan.filter), id);
    });
  }

  /** Records a delivered batch: files, new position, plan cleared — one transaction. */
  async delivered(id: number, destId: number, position: number, events: number, files: readonly DeliveredFile[], now: number, fence?: Fence): Promise<void> {
    this.fenced(fence, () => {
        const ins = this.db.prepare(
          `INSERT OR REPLACE INTO trail_files (dest_id, key, region, cut_at, sha256, size, events, oldest, newest, delivered_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        );
        for (const f of files) ins.run(destId, f.key, f.region, f.cutAt, f.sha256, f.size, f.events, f.oldest, f.newest, now);
        this.db
          .prepare(
            `UPDATE trail_cursors SET position = MAX(position, ?), plan_from = NULL, plan_to = NULL, plan_cut_at = NULL, plan_filter = NULL,
             delivered_events = delivered_events + ?, last_error = NULL, last_error_at = NULL,
             last_delivery_at = CASE WHEN ? > 0 THEN ? ELSE last_delivery_at END WHERE id = ?`,
          )
          .run(position, events, events, now, id);
    });
  }

  async failed(id: number, message: string, now: number): Promise<void> {
    this.db.prepare('UPDATE trail_cursors SET last_error = ?, last_error_at = ? WHERE id = ?').run(message.slice(0, 2000), now, id);
  }

  /**
   * Sets events aside as dead letters and moves the cursor past `position` — one transaction,
   * so an event is either still to deliver or recorded as a dead letter, never neither.
   * Returns the letters newly recorded (a retried batch does not record one twice).
   */
  async deadLetter(c: Pick<Cursor, 'id' | 'destId' | 'jobId'>, trail: string, letters: readonly NewDeadLetter[], now: number, fence?: Fence): Promise<number> {
    let added = 0;
    this.fenced(fence, () => {
        const ins = this.db.prepare(
          `INSERT OR IGNORE INTO trail_dead_letters (dest_id, trail, job_id, seq, event_id, code, reason, body, at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        );
        for (const l of letters) {
          added += ins.run(c.destId, trail, c.jobId ?? null, l.seq, l.event.eventId, l.code, l.reason.slice(0, 2000), JSON.stringify(l.event), now).changes;
        }
    });
    return added;
  }

  /** Dead letters of a trail, newest first. */
  async deadLetters(trail: string, limit: number, beforeId?: number): Promise<DeadLetter[]> {
    const rows = this.db
      .prepare('SELECT * FROM trail_dead_letters WHERE trail = ? AND id < ? ORDER BY id DESC LIMIT ?')
      .all(trail, beforeId ?? Number.MAX_SAFE_INTEGER, limit) as Row[];
    return rows.map(toDeadLetter);
  }

  /** How many dead letters a destination has, and when the last was set aside. */
  async deadLetterSummary(destId: number): Promise<{ count: number; lastAt?: number }> {
    const r = this.db.prepare('SELECT COUNT(*) AS n, MAX(at) AS last FROM trail_dead_letters WHERE dest_id = ?').get(destId) as Row;
    const last = num(r['last']);
    return { count: Number(r['n'] ?? 0), ...(last !== undefined ? { lastAt: last } : {}) };
  }

  async finish(id: number, fence?: Fence): Promise<void> {
    this.fenced(fence, () => {
      this.db.prepare('UPDATE trail_cursors SET done = 1 WHERE id = ?').run(id);
    });
  }

  // --- files and digests ---

  async filesBetween(destId: number, region: string, from: number, to: number): Promise<DeliveredFile[]> {
    const rows = this.db
      .prepare('SELECT * FROM trail_files WHERE dest_id = ? AND region = ? AND cut_at >= ? AND cut_at < ? ORDER BY cut_at, key')
      .all(destId, region, from, to) as Row[];
    return rows.map(toFile);
  }

  /** Regions that have delivered files at or after `from` but no digest chain yet. */
  async regionsWithoutChain(destId: number): Promise<{ region: string; firstCut: number }[]> {
    return (
      this.db
        .prepare(
          `SELECT f.region AS region, MIN(f.cut_at) AS first_cut FROM trail_files f
           WHERE f.dest_id = ? AND NOT EXISTS (SELECT 1 FROM trail_digest_chains c WHERE c.dest_id = f.dest_id AND c.region = f.region)
           GROUP BY f.region`,
        )
        .all(destId) as Row[]
    ).map((r) => ({ region: String(r['region']), firstCut: Number(r['first_cut']) }));
  }

  async chains(destId: number): Promise<Chain[]> {
    return (this.db.prepare('SELECT * FROM trail_digest_chains WHERE dest_id = ? ORDER BY region').all(destId) as Row[]).map((r) => toChain(destId, r));
  }

  async startChain(destId: number, region: string, start: number, fence?: Fence): Promise<void> {
    this.fenced(fence, () => {
      this.db.prepare('INSERT OR IGNORE INTO trail_digest_chains (dest_id, region, next_start) VALUES (?, ?, ?)').run(destId, region, start);
    });
  }

  /** Moves a chain's next interval start without writing a digest (logging was off). */
  async skipChain(destId: number, region: string, nextStart: number, fence?: Fence): Promise<void> {
    this.fenced(fence, () => {
      this.db.prepare('UPDATE trail_digest_chains SET next_start = ? WHERE dest_id = ? AND region = ?').run(nextStart, destId, region);
    });
  }

  async digestWritten(c: Chain, end: number, key: string, sha256: string, signature: string, now: number, fence?: Fence): Promise<void> {
    this.fenced(fence, () => {
        this.db
          .prepare('UPDATE trail_digest_chains SET next_start = ?, last_key = ?, last_sha256 = ?, last_signature = ?, last_end = ? WHERE dest_id = ? AND region = ?')
          .run(end, key, sha256, signature, end, c.destId, c.region);
        this.db
          .prepare('UPDATE trail_destinations SET min_cut_at = MAX(min_cut_at, ?), last_digest_at = ?, last_digest_error = NULL WHERE id = ?')
          .run(end, now, c.destId);
    });
  }

  async digestFailed(destId: number, message: string): Promise<void> {
    this.db.prepare('UPDATE trail_destinations SET last_digest_error = ? WHERE id = ?').run(message.slice(0, 2000), destId);
  }

  async minCutAt(destId: number): Promise<number> {
    const r = this.db.prepare('SELECT min_cut_at FROM trail_destinations WHERE id = ?').get(destId) as Row | undefined;
    return r ? Number(r['min_cut_at']) : 0;
  }

  // --- history jobs ---

  async createJob(trail: TrailRecord, endSeq: number, before: number | undefined, startTime: number, endTime: number, now: number): Promise<HistoryJob> {
    const id = randomUUID();
    this.db
      .transaction(() => {
        const account = trail.accountId ?? null;
        const running = this.db.prepare('SELECT id, trail FROM trail_history_jobs WHERE status IN (0, 1) AND account_id IS ? LIMIT 1').get(account) as Row | undefined;
        if (running) throw new FlinkTrailError('FT_ERR_TRAIL_HISTORY_JOB_RUNNING', String(running['id']), String(running['trail']));
        this.db
          .prepare(
            `INSERT INTO trail_history_jobs (id, trail, status, home_region, end_seq, before_time, start_time, end_time, created_at, updated_at, account_id)
             VALUES (?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(id, trail.name, trail.homeRegion, endSeq, before ?? null, startTime, endTime, now, now, account);
        for (const d of trail.destinations) {
          this.db.prepare('INSERT INTO trail_cursors (dest_id, job_id, position, end_seq) VALUES (?, ?, 0, ?)').run(d.id, id, endSeq);
        }
      })
      .immediate();
    return (await this.job(id)) as HistoryJob;
  }

  async job(id: string): Promise<HistoryJob | undefined> {
    const r = this.db.prepare('SELECT * FROM trail_history_jobs WHERE id = ?').get(id) as Row | undefined;
    return r ? toJob(r) : undefined;
  }

  /** A page of one trail's jobs, or of every job (`trail` undefined: ListDeliveryHistoryJobs is account-wide); with `accountId`, that account's only. */
  async jobs(trail: string | undefined, page: number, size: number, accountId?: string): Promise<{ total: number; jobs: HistoryJob[] }> {
    const t = trail ?? null;
    const a = accountId ?? null;
    const where = 'WHERE (? IS NULL OR trail = ?) AND (? IS NULL OR account_id = ?)';
    const total = (this.db.prepare(`SELECT COUNT(*) AS n FROM trail_history_jobs ${where}`).get(t, t, a, a) as Row)['n'];
    const rows = this.db
      .prepare(`SELECT * FROM trail_history_jobs ${where} ORDER BY created_at DESC, id LIMIT ? OFFSET ?`)
      .all(t, t, a, a, size, (page - 1) * size) as Row[];
    return { total: Number(total), jobs: rows.map((r) => toJob(r)) };
  }

  /** Job progress: events handled / to handle, over its cursors. */
  async jobProgress(id: string): Promise<{ cursors: number; done: number; position: number; end: number }> {
    const r = this.db
      .prepare('SELECT COUNT(*) AS n, SUM(done) AS done, SUM(position) AS pos, SUM(end_seq) AS end FROM trail_cursors WHERE job_id = ?')
      .get(id) as Row;
    return { cursors: Number(r['n'] ?? 0), done: Number(r['done'] ?? 0), position: Number(r['pos'] ?? 0), end: Number(r['end'] ?? 0) };
  }

  async setJobStatus(id: string, status: JobStatus, now: number, error?: string): Promise<void> {
    this.db.prepare('UPDATE trail_history_jobs SET status = ?, updated_at = ?, error = ? WHERE id = ? AND status IN (0, 1)').run(status, now, error ?? null, id);
  }

  // --- leases ---

  /** Runs `write` in one transaction, only while `fence` (if any) still holds its trail's lease. */
  private fenced(fence: Fence | undefined, write: () => void): void {
    this.db
      .transaction(() => {
        if (fence) {
          const r = this.db.prepare('SELECT token FROM trail_leases WHERE trail = ?').get(fence.trail) as { token: number } | undefined;
          if (r?.token !== fence.token) throw new FlinkTrailError('FT_ERR_TRAIL_LEASE_LOST', fence.trail);
        }
        write();
      })
      .immediate();
  }

  async acquireLease(trail: string, holder: string, ttlMs: number): Promise<Lease | undefined> {
    const now = Date.now();
    const r = this.db
      .prepare(
        `INSERT INTO trail_leases (trail, holder, token, expires_at) VALUES (?, ?, 1, ?)
         ON CONFLICT (trail) DO UPDATE SET
           token = CASE WHEN trail_leases.holder = excluded.holder THEN trail_leases.token ELSE trail_leases.token + 1 END,
           holder = excluded.holder, expires_at = excluded.expires_at
         WHERE trail_leases.holder = excluded.holder OR trail_leases.expires_at <= ?
         RETURNING trail, holder, token, expires_at`,
      )
      .get(trail, holder, now + ttlMs, now) as { trail: string; holder: string; token: number; expires_at: number } | undefined;
    return r && { trail: r.trail, holder: r.holder, token: r.token, expiresAt: r.expires_at };
  }

  async releaseLease(lease: Fence & { holder: string }): Promise<void> {
    this.db.prepare('UPDATE trail_leases SET expires_at = 0 WHERE trail = ? AND holder = ? AND token = ?').run(lease.trail, lease.holder, lease.token);
  }

  async leases(): Promise<Lease[]> {
    const rows = this.db.prepare('SELECT trail, holder, token, expires_at FROM trail_leases ORDER BY trail').all() as { trail: string; holder: string; token: number; expires_at: number }[];
    return rows.map((r) => toLease(r));
  }
}
