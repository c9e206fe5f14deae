/**
 * The sign-in throttle's counters on PostgreSQL (with `store.url`): tables `signin_throttle` and
 * `signin_vouched` on the event store's pool, migrations component `throttle`. Every instance on
 * the database counts into the same counters: a failure is one atomic upsert (forgotten counters
 * start again at 1 inside it), so failures counted at once through two instances are both counted,
 * and an address made to wait through one waits at all of them.
 *
 * Every authenticated request asks for its counter and clears it on success, so the store keeps
 * what it learnt that a counter does NOT exist for `cacheMs` (default 1 s, the identity
 * directory's bound): a clean caller costs no query per request, and a wait begun through another
 * instance applies here within that bound (failures counted through this one: at once). A
 * success is noted (vouched) at most once an hour per pair. Rows whose failures are forgotten are
 * deleted by `purge` (the app's hourly purge).
 *
 * While PostgreSQL cannot be reached, each instance counts and waits on its own (an in-memory
 * store, as without `store.url`): guessing is still slowed, and a sign-in is never refused only
 * because the counters are out of reach.
 */
import { createHash } from 'node:crypto';
import type { Pool } from 'pg';
import { migrate, type Migration } from '../../store/postgres/migrations.js';
import type { ThrottleSubject } from '../rate-limit.js';
import { MemoryThrottleStore, type ThrottleCounter, type ThrottleScope, type ThrottleStore } from '../throttle-store.js';

export const THROTTLE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'sign-in throttle',
    sql: `CREATE TABLE signin_throttle (
      scope text NOT NULL,
      key text NOT NULL, -- SHA-256 of the throttle's key
      source_ip text NOT NULL,
      subject_kind text,
      subject_name text,
      failures integer NOT NULL,
      last bigint NOT NULL,
      until bigint NOT NULL,
      PRIMARY KEY (scope, key));
    CREATE INDEX signin_throttle_until ON signin_throttle (until);
    CREATE TABLE signin_vouched (key text PRIMARY KEY, at bigint NOT NULL);`,
  },
];

type Row = { scope: ThrottleScope; source_ip: string; subject_kind: ThrottleSubject['kind'] | null; subject_name: string | null; failures: number; last: string; until: string };

const toCounter = (r: Row): ThrottleCounter => ({
  sourceIp: r.source_ip,
  ...(r.subject_kind !== null && r.subject_name !== null ? { subject: { kind: r.subject_kind, name: r.subject_name } } : {}),
  failures: r.failures,
  // bigint comes back as a string (pg's default); epoch milliseconds fit a double exactly.
  last: Number(r.last),
  until: Number(r.until),
});

const VOUCH_EVERY_MS = 3600_000;

/**
 * Keys and names come from callers (a Basic user name may hold any byte, NUL included, which
 * PostgreSQL text cannot): a key is stored as its SHA-256, a name with NUL replaced.
 */
const dbKey = (key: string) => createHash('sha256').update(key).digest('base64url');
const dbText = (name: string) => name.replaceAll('\0', '\uFFFD');
const CACHE_ENTRIES = 10_000;

export class PostgresThrottleStore implements ThrottleStore {
  /** Keys known to have no counter, and until when that is believed. */
  private readonly absent = new Map<string, number>();
  private readonly vouchedHere = new Map<string, number>();
  /** Where counting goes while PostgreSQL cannot be reached. */
  private readonly local = new MemoryThrottleStore();

  private constructor(
    private readonly pool: Pool,
    private readonly cacheMs: number,
    private readonly now: () => number,
  ) {}

  /** Applies the component's migrations, then the store is ready. */
  static async open(pool: Pool, opts: { cacheMs?: number; now?: () => number } = {}): Promise<PostgresThrottleStore> {
    await migrate(pool, 'throttle', THROTTLE_MIGRATIONS);
    return new PostgresThrottleStore(pool, opts.cacheMs ?? 1000, opts.now ?? Date.now);
  }

  get(scope: ThrottleScope, key: string): Promise<ThrottleCounter | undefined> {
    return this.orLocal(() => this.sharedGet(scope, key), () => this.local.get(scope, key));
  }

  fail(scope: ThrottleScope, key: string, who: Pick<ThrottleCounter, 'sourceIp' | 'subject'>, now: number, windowMs: number): Promise<ThrottleCounter> {
    return this.orLocal(() => this.sharedFail(scope, key, who, now, windowMs), () => this.local.fail(scope, key, who, now, windowMs));
  }

  async wait(scope: ThrottleScope, key: string, until: number): Promise<void> {
    await this.local.wait(scope, key, until);
    await this.orLocal(() => this.sharedWait(scope, key, until), async () => undefined);
  }

  async delete(scope: ThrottleScope, key: string): Promise<void> {
    await this.local.delete(scope, key);
    await this.orLocal(() => this.sharedDelete(scope, key), async () => undefined);
  }

  waiting(now: number): Promise<(ThrottleCounter & { scope: ThrottleScope })[]> {
    return this.orLocal(() => this.sharedWaiting(now), () => this.local.waiting(now));
  }

  async clear(match: { sourceIp?: string; name?: string }): Promise<number> {
    const here = await this.local.clear(match);
    return this.orLocal(() => this.sharedClear(match), async () => here);
  }

  vouch(key: string, now: number): Promise<void> {
    return this.orLocal(() => this.sharedVouch(key, now), () => this.local.vouch(key, now));
  }

  vouchedAt(key: string): Promise<number | undefined> {
    return this.orLocal(() => this.sharedVouchedAt(key), () => this.local.vouchedAt(key));
  }

  private async orLocal<T>(shared: () => Promise<T>, local: () => Promise<T>): Promise<T> {
    try {
      return await shared();
    } catch {
      return local();
    }
  }

  private async sharedGet(scope: ThrottleScope, key: string): Promise<ThrottleCounter | undefined> {
    const k = `${scope}\0${key}`;
    if ((this.absent.get(k) ?? 0) > this.now()) return undefined;
    const r = (await this.pool.query('SELECT * FROM signin_throttle WHERE scope = $1 AND key = $2', [scope, dbKey(key)])).rows[0] as Row | undefined;
    if (r) return toCounter(r);
    if (this.cacheMs > 0) {
      if (this.absent.size >= CACHE_ENTRIES) this.absent.clear();
      this.absent.set(k, this.now() + this.cacheMs);
    }
    return undefined;
  }

  private async sharedFail(scope: ThrottleScope, key: string, who: Pick<ThrottleCounter, 'sourceIp' | 'subject'>, now: number, windowMs: number): Promise<ThrottleCounter> {
    this.absent.delete(`${scope}\0${key}`);
    const r = (
      await this.pool.query(
        `INSERT INTO signin_throttle AS t (scope, key, source_ip, subject_kind, subject_name, failures, last, until)
         VALUES ($1, $2, $3, $4, $5, 1, $6, 0)
         ON CONFLICT (scope, key) DO UPDATE SET
           failures = CASE WHEN $6 >= t.until AND $6 - t.last >= $7 THEN 1 ELSE t.failures + 1 END,
           until = CASE WHEN $6 >= t.until AND $6 - t.last >= $7 THEN 0 ELSE t.until END,
           last = $6
         RETURNING *`,
        [scope, dbKey(key), who.sourceIp, who.subject?.kind ?? null, who.subject ? dbText(who.subject.name) : null, now, windowMs],
      )
    ).rows[0] as Row;
    return toCounter(r);
  }

  private async sharedWait(scope: ThrottleScope, key: string, until: number): Promise<void> {
    await this.pool.query('UPDATE signin_throttle SET until = GREATEST(until, $3) WHERE scope = $1 AND key = $2', [scope, dbKey(key), until]);
  }

  private async sharedDelete(scope: ThrottleScope, key: string): Promise<void> {
    // A key known to be absent needs no statement: every authenticated request ends here.
    if ((this.absent.get(`${scope}\0${key}`) ?? 0) > this.now()) return;
    await this.pool.query('DELETE FROM signin_throttle WHERE scope = $1 AND key = $2', [scope, dbKey(key)]);
  }

  private async sharedWaiting(now: number): Promise<(ThrottleCounter & { scope: ThrottleScope })[]> {
    const rows = (await this.pool.query("SELECT * FROM signin_throttle WHERE until > $1 ORDER BY scope = 'pair', until DESC", [now])).rows as Row[];
    return rows.map((r) => ({ ...toCounter(r), scope: r.scope }));
  }

  private async sharedClear(match: { sourceIp?: string; name?: string }): Promise<number> {
    this.absent.clear();
    // An address alone: its own counter and all its pairs; otherwise only pairs.
    if (match.name === undefined && match.sourceIp !== undefined) return (await this.pool.query('DELETE FROM signin_throttle WHERE source_ip = $1', [match.sourceIp])).rowCount ?? 0;
    const conds = ["scope = 'pair'"];
    const args: string[] = [];
    if (match.sourceIp !== undefined) conds.push(`source_ip = $${args.push(match.sourceIp)}`);
    if (match.name !== undefined) conds.push(`subject_name = $${args.push(dbText(match.name))}`);
    return (await this.pool.query(`DELETE FROM signin_throttle WHERE ${conds.join(' AND ')}`, args)).rowCount ?? 0;
  }

  private async sharedVouch(key: string, now: number): Promise<void> {
    if (now - (this.vouchedHere.get(key) ?? -Infinity) < VOUCH_EVERY_MS) return;
    await this.pool.query('INSERT INTO signin_vouched (key, at) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET at = GREATEST(signin_vouched.at, excluded.at)', [dbKey(key), now]);
    if (this.vouchedHere.size >= CACHE_ENTRIES) this.vouchedHere.clear();
    this.vouchedHere.set(key, now);
  }

  private async sharedVouchedAt(key: string): Promise<number | undefined> {
    const r = (await this.pool.query('SELECT at FROM signin_vouched WHERE key = $1', [dbKey(key)])).rows[0] as { at: string } | undefined;
    return r && Number(r.at);
  }

  /** Deletes counters whose failures are forgotten and vouches older than `vouchedBefore`; how many counters. */
  async purge(now: number, windowMs: number, vouchedBefore: number): Promise<number> {
    await this.local.purge(now, windowMs, vouchedBefore);
    await this.pool.query('DELETE FROM signin_vouched WHERE at < $1', [vouchedBefore]);
    return (await this.pool.query('DELETE FROM signin_throttle WHERE $1 >= until AND $1 - last >= $2', [now, windowMs])).rowCount ?? 0;
  }
}
