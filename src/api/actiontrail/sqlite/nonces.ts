/**
 * The embedded NonceStore: table `rpc_nonces` in the SQLite database (sqlite/migrations.ts).
 * One upsert decides a use, so two processes on the same file never both accept a nonce.
 */
import type { Db } from '../../../store/sqlite/database.js';
import type { NonceStore } from '../nonces.js';

export class SqliteNonceStore implements NonceStore {
  private readonly stmts;
  private uses = 0;

  constructor(db: Db) {
    this.stmts = {
      // A row whose expiry passed may be taken over: its request's timestamp is stale by now.
      use: db.prepare(
        'INSERT INTO rpc_nonces (access_key_id, nonce, expires_at) VALUES (?, ?, ?) ON CONFLICT (access_key_id, nonce) DO UPDATE SET expires_at = excluded.expires_at WHERE rpc_nonces.expires_at < ?',
      ),
      purge: db.prepare('DELETE FROM rpc_nonces WHERE expires_at < ?'),
    };
  }

  /** Expired rows are purged every 1000 uses, so the table stays the size of the window. */
  async use(accessKeyId: string, nonce: string, expiresAt: number, now = Date.now()): Promise<boolean> {
    if (++this.uses % 1000 === 0) this.stmts.purge.run(now);
    return this.stmts.use.run(accessKeyId, nonce, expiresAt, now).changes === 1;
  }

  async purge(now = Date.now()): Promise<number> {
    return this.stmts.purge.run(now).changes;
  }
}
