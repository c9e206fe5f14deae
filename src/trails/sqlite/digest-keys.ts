/** The embedded DigestKeyStore: table `trail_digest_keys` (sqlite/migrations.ts); the private halves are files (digest/keys.ts). */
import type { Db } from '../../store/sqlite/database.js';
import type { DigestKeyRecord, DigestKeyStore } from '../digest/keys.js';

export class SqliteDigestKeyStore implements DigestKeyStore {
  private readonly stmts;

  constructor(private readonly db: Db) {
    this.stmts = {
      active: db.prepare('SELECT fingerprint FROM trail_digest_keys WHERE valid_to IS NULL ORDER BY valid_from DESC LIMIT 1'),
      close: db.prepare('UPDATE trail_digest_keys SET valid_to = ? WHERE valid_to IS NULL'),
      insert: db.prepare('INSERT INTO trail_digest_keys (fingerprint, public_key, valid_from, valid_to) VALUES (?, ?, ?, NULL)'),
      list: db.prepare('SELECT fingerprint, public_key, valid_from, valid_to FROM trail_digest_keys ORDER BY valid_from'),
    };
  }

  async activeFingerprint(): Promise<string | undefined> {
    return (this.stmts.active.get() as { fingerprint: string } | undefined)?.fingerprint;
  }

  async activate(key: { fingerprint: string; publicKey: string }, now: number): Promise<void> {
    this.db
      .transaction(() => {
        this.stmts.close.run(now);
        this.stmts.insert.run(key.fingerprint, key.publicKey, now);
      })
      .immediate();
  }

  async list(): Promise<DigestKeyRecord[]> {
    const rows = this.stmts.list.all() as { fingerprint: string; public_key: string; valid_from: number; valid_to: number | null }[];
    return rows.map((r) => ({ fingerprint: r.fingerprint, publicKey: r.public_key, validFrom: r.valid_from, validTo: r.valid_to }));
  }
}
