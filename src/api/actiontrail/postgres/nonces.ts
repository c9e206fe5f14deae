/**
 * The NonceStore on PostgreSQL (with `store.url`): table `rpc_nonces` on the event store's pool,
 * its own migrations component (`rpc-nonces`). One upsert decides a use, as on SQLite: an
 * unexpired row is never taken over, so of several instances racing on one nonce exactly one
 * gets a row back.
 */
import type { Pool } from 'pg';
import { migrate, type Migration } from '../../../store/postgres/migrations.js';
import type { NonceStore } from '../nonces.js';

export const NONCE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'rpc_nonces',
    sql: `CREATE TABLE rpc_nonces (
      access_key_id text NOT NULL,
      nonce text NOT NULL,
      expires_at bigint NOT NULL,
      PRIMARY KEY (access_key_id, nonce));
    CREATE INDEX rpc_nonces_expiry ON rpc_nonces (expires_at);`,
  },
];

export class PostgresNonceStore implements NonceStore {
  private uses = 0;

  private constructor(private readonly pool: Pool) {}

  /** Applies the component's migrations, then the store is ready. */
  static async open(pool: Pool): Promise<PostgresNonceStore> {
    await migrate(pool, 'rpc-nonces', NONCE_MIGRATIONS);
    return new PostgresNonceStore(pool);
  }

  /** Expired rows are purged every 1000 uses, so the table stays the size of the window. */
  async use(accessKeyId: string, nonce: string, expiresAt: number, now = Date.now()): Promise<boolean> {
    if (++this.uses % 1000 === 0) await this.purge(now);
    // A row whose expiry passed may be taken over: its request's timestamp is stale by now.
    const r = await this.pool.query(
      `INSERT INTO rpc_nonces (access_key_id, nonce, expires_at) VALUES ($1, $2, $3)
       ON CONFLICT (access_key_id, nonce) DO UPDATE SET expires_at = excluded.expires_at WHERE rpc_nonces.expires_at < $4`,
      [accessKeyId, nonce, expiresAt, now],
    );
    return r.rowCount === 1;
  }

  async purge(now = Date.now()): Promise<number> {
    return (await this.pool.query('DELETE FROM rpc_nonces WHERE expires_at < $1', [now])).rowCount ?? 0;
  }
}
