/**
 * The embedded DigestKeyStore: table `trail_digest_keys` (sqlite/migrations.ts) holds the public
 * halves and their validity; the private halves stay sealed files in the data directory, written
 * and read by `DigestKeys` (`privateKeys: 'files'`), as every data directory has them.
 */
import type { Db } from '../../store/sqlite/database.js';
import type { DigestKeyRecord, DigestKeyStore, NewDigestKey } from '../digest/keys.js';

export class SqliteDigestKeyStore implements DigestKeyStore {
  readonly privateKeys = 'files';
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

  async activate(key: NewDigestKey, now: number, replaces: string | undefined): Promise<string> {
    // IMMEDIATE: the write lock is taken before the active key is read, so another connection
    // cannot activate one between the check and the insert.
    return this.db
      .transaction(() => {
        const current = (this.stmts.active.get() as { fingerprint: string } | undefined)?.fingerprint;
        if (current !== undefined && current !== replaces) return current;
        this.stmts.close.run(now);
        this.stmts.insert.run(key.fingerprint, key.publicKey, now);
        return key.fingerprint;
      })
      .immediate();
  }

  async sealedPrivateKey(): Promise<string | undefined> {
    return undefined; // files, read by DigestKeys
  }

  async list(): Promise<DigestKeyRecord[]> {
    const rows = this.stmts.list.all() as { fingerprint: string; public_key: string; valid_from: number; valid_to: number | null }[];
    return rows.map((r) => ({ fingerprint: r.fingerprint, publicKey: r.public_key, validFrom: r.valid_from, validTo: r.valid_to }));
  }
}
