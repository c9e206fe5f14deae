/**
 * The SessionStore on PostgreSQL (with `store.url`): table `sessions` on the event store's pool,
 * its own migrations component (`sessions`), so a session made through one instance is read,
 * touched and ended through any other.
 */
import type { Pool } from 'pg';
import { migrate, type Migration } from '../../store/postgres/migrations.js';
import type { SessionRecord, SessionStore } from '../sessions.js';

export const SESSION_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'sessions',
    sql: `CREATE TABLE sessions (
      id_hash text PRIMARY KEY,
      user_id text NOT NULL,
      principal text NOT NULL,
      csrf_token text NOT NULL,
      created_at bigint NOT NULL,
      last_seen_at bigint NOT NULL,
      expires_at bigint NOT NULL);`,
  },
];

type Row = { id_hash: string; user_id: string; principal: string; csrf_token: string; created_at: string; last_seen_at: string; expires_at: string };

export class PostgresSessionStore implements SessionStore {
  private constructor(private readonly pool: Pool) {}

  /** Applies the component's migrations, then the store is ready. */
  static async open(pool: Pool): Promise<PostgresSessionStore> {
    await migrate(pool, 'sessions', SESSION_MIGRATIONS);
    return new PostgresSessionStore(pool);
  }

  async insert(r: SessionRecord): Promise<void> {
    await this.pool.query(
      'INSERT INTO sessions (id_hash, user_id, principal, csrf_token, created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
      [r.idHash, r.userId, r.principal, r.csrfToken, r.createdAt, r.lastSeenAt, r.expiresAt],
    );
  }

  async get(idHash: string): Promise<SessionRecord | undefined> {
    const r = (await this.pool.query('SELECT * FROM sessions WHERE id_hash = $1', [idHash])).rows[0] as Row | undefined;
    // bigint comes back as a string (pg's default); epoch milliseconds fit a double exactly.
    return r && { idHash: r.id_hash, userId: r.user_id, principal: r.principal, csrfToken: r.csrf_token, createdAt: Number(r.created_at), lastSeenAt: Number(r.last_seen_at), expiresAt: Number(r.expires_at) };
  }

  async delete(idHash: string): Promise<void> {
    await this.pool.query('DELETE FROM sessions WHERE id_hash = $1', [idHash]);
  }

  async touch(idHash: string, lastSeenAt: number): Promise<void> {
    await this.pool.query('UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2', [lastSeenAt, idHash]);
  }

  async purge(now: number, idleBefore: number): Promise<number> {
    return (await this.pool.query('DELETE FROM sessions WHERE expires_at < $1 OR last_seen_at < $2', [now, idleBefore])).rowCount ?? 0;
  }

  async deleteOfUser(userId: string): Promise<number> {
    return (await this.pool.query('DELETE FROM sessions WHERE user_id = $1', [userId])).rowCount ?? 0;
  }
}
