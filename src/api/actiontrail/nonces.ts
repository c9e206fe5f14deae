/**
 * Signature nonces seen within the replay window, per AccessKey, kept durably (`rpc_nonces`).
 *
 * A signed request may be replayed by whoever saw it while its timestamp is acceptable (±15
 * minutes); its `SignatureNonce` / `x-acs-signature-nonce` must therefore be remembered at least
 * that long, across restarts and by every process on the same database. A nonce is recorded
 * only after its signature verified, so nobody can burn another caller's nonces.
 */
import type { Db } from '../../store/sqlite/database.js';

export class NonceStore {
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

  /**
   * Records `nonce` for the key until `expiresAt`; false when it was already used and has not
   * expired. Expired rows are purged every 1000 uses, so the table stays the size of the window.
   */
  use(accessKeyId: string, nonce: string, expiresAt: number, now = Date.now()): boolean {
    if (++this.uses % 1000 === 0) this.stmts.purge.run(now);
    return this.stmts.use.run(accessKeyId, nonce, expiresAt, now).changes === 1;
  }

  purge(now = Date.now()): number {
    return this.stmts.purge.run(now).changes;
  }
}
