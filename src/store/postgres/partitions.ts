/**
 * Day partitions of `events` (RANGE on event_time, epoch ms, UTC days): created on demand before
 * rows of a new day are inserted, and dropped whole by retention.
 *
 * Creating a partition locks the parent table briefly, so it happens in a transaction of its own
 * before the insert (never inside it) and the days around "now" are created at open. Two
 * instances creating the same day at once serialise on an advisory lock and the second finds
 * the table there (CREATE TABLE IF NOT EXISTS). Days known to exist are cached; a day another
 * instance purged meanwhile shows up as PostgreSQL error 23514 (no partition for the row), on
 * which the caller forgets the cache and ensures again.
 */
import type { PoolClient } from 'pg';

export const DAY_MS = 86_400_000;
const LOCK = 'flinktrail:partitions';

/** The UTC day (its first millisecond) of `ms`. */
export function dayOf(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}

/** events_pYYYYMMDD for years 1000–9999, events_d<day number> otherwise (any event time is storable). */
export function partitionName(day: number): string {
  const iso = new Date(day).toISOString();
  return /^[1-9]\d{3}-/.test(iso) ? `events_p${iso.slice(0, 10).replace(/-/g, '')}` : `events_d${day < 0 ? 'm' : ''}${Math.abs(day / DAY_MS)}`;
}

export class Partitions {
  private readonly known = new Set<number>();

  /** Creates the partitions of these days that do not exist yet (own transaction). */
  async ensure(client: PoolClient, times: Iterable<number>): Promise<void> {
    const missing = [...new Set([...times].map(dayOf))].filter((d) => !this.known.has(d)).sort((a, b) => a - b);
    if (missing.length === 0) return;
    await client.query('BEGIN');
    try {
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [LOCK]);
      for (const day of missing) {
        // Values are integers computed here, never user text: safe to inline (DDL takes no parameters).
        await client.query(`CREATE TABLE IF NOT EXISTS ${partitionName(day)} PARTITION OF events FOR VALUES FROM (${day}) TO (${day + DAY_MS})`);
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
    for (const day of missing) this.known.add(day);
  }

  /** Forgets which days exist (after another instance may have dropped some). */
  forget(): void {
    this.known.clear();
  }

  /**
   * Deletes events older than `before`: partitions that end at or before it are dropped, the
   * boundary day loses its older rows, and `event_ids` its rows by time. One transaction;
   * returns how many events went.
   */
  async purge(client: PoolClient, before: number): Promise<number> {
    await client.query('BEGIN');
    try {
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [LOCK]);
      const parts = (await client.query(
        `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound FROM pg_inherits i
           JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass`,
      )).rows as { name: string; bound: string }[];
      const n = (await client.query('DELETE FROM event_ids WHERE event_time < $1', [before])).rowCount ?? 0;
      for (const p of parts) {
        const m = /FROM \('?(-?\d+)'?\) TO \('?(-?\d+)'?\)/.exec(p.bound);
        if (!m || Number(m[2]) > before) continue;
        await client.query(`DROP TABLE ${p.name}`);
        this.known.delete(Number(m[1]));
      }
      await client.query('DELETE FROM events WHERE event_time < $1', [before]);
      await client.query('COMMIT');
      return n;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }
}
