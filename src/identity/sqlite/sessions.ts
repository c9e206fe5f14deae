/** The embedded SessionStore: table `sessions` (sqlite/migrations.ts), statements prepared once (`get` runs on every console request). */
import type { Db } from '../../store/sqlite/database.js';
import type { SessionRecord, SessionStore } from '../sessions.js';

type Row = { id_hash: string; user_id: string; principal: string; csrf_token: string; created_at: number; last_seen_at: number; expires_at: number };

export class SqliteSessionStore implements SessionStore {
  private readonly stmts;

  constructor(db: Db) {
    this.stmts = {
      insert: db.prepare('INSERT INTO sessions (id_hash, user_id, principal, csrf_token, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      get: db.prepare('SELECT * FROM sessions WHERE id_hash = ?'),
      delete: db.prepare('DELETE FROM sessions WHERE id_hash = ?'),
      touch: db.prepare('UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?'),
      purge: db.prepare('DELETE FROM sessions WHERE expires_at < ? OR last_seen_at < ?'),
      deleteOfUser: db.prepare('DELETE FROM sessions WHERE user_id = ?'),
    };
  }

  async insert(r: SessionRecord): Promise<void> {
    this.stmts.insert.run(r.idHash, r.userId, r.principal, r.csrfToken, r.createdAt, r.lastSeenAt, r.expiresAt);
  }

  async get(idHash: string): Promise<SessionRecord | undefined> {
    const r = this.stmts.get.get(idHash) as Row | undefined;
    return r && { idHash: r.id_hash, userId: r.user_id, principal: r.principal, csrfToken: r.csrf_token, createdAt: r.created_at, lastSeenAt: r.last_seen_at, expiresAt: r.expires_at };
  }

  async delete(idHash: string): Promise<void> {
    this.stmts.delete.run(idHash);
  }

  async touch(idHash: string, lastSeenAt: number): Promise<void> {
    this.stmts.touch.run(lastSeenAt, idHash);
  }

  async purge(now: number, idleBefore: number): Promise<number> {
    return this.stmts.purge.run(now, idleBefore).changes;
  }

  async deleteOfUser(userId: string): Promise<number> {
    return this.stmts.deleteOfUser.run(userId).changes;
  }
}
