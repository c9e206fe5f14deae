/**
 * The DigestKeyStore on PostgreSQL (with `store.url`): table `trail_digest_keys` on the event
 * store's pool, its own migrations component (`trail-digest-keys`), holding each key's public
 * half, its validity and its private half sealed with the master key (`privateKeys: 'store'`;
 * `flinktrail secrets rotate` re-wraps it). So every instance signs with the one active key, and
 * an instance that takes over a trail continues its digest chain with the key it was signed with.
 *
 * At most one key is active (a partial unique index says so too). Activations are serialised by
 * a table lock (SHARE ROW EXCLUSIVE: it conflicts with itself, not with readers), and an
 * activation whose caller saw another key active than the one now active changes nothing and
 * answers the key now active: of two instances making their first key, or rotating, at the same
 * moment, one key wins and both sign with it.
 */
import type { Pool } from 'pg';
import { isSealed } from '../../secrets/envelope.js';
import { inTransaction, migrate, type Migration } from '../../store/postgres/migrations.js';
import type { DigestKeyRecord, DigestKeyStore, NewDigestKey } from '../digest/keys.js';

export const DIGEST_KEY_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'trail digest keys',
    // sealed_private_key may be null: a key copied from a data directory that lost its file can
    // still be published for validation, never activated to sign.
    sql: `CREATE TABLE trail_digest_keys (
      fingerprint text PRIMARY KEY,
      public_key text NOT NULL,
      sealed_private_key text,
      valid_from bigint NOT NULL,
      valid_to bigint);
    CREATE UNIQUE INDEX trail_digest_keys_one_active ON trail_digest_keys ((valid_to IS NULL)) WHERE valid_to IS NULL;`,
  },
];

const ACTIVE = 'SELECT fingerprint FROM trail_digest_keys WHERE valid_to IS NULL ORDER BY valid_from DESC LIMIT 1';

export class PostgresDigestKeyStore implements DigestKeyStore {
  readonly privateKeys = 'store';

  private constructor(private readonly pool: Pool) {}

  /** Applies the component's migrations, then the store is ready. */
  static async open(pool: Pool): Promise<PostgresDigestKeyStore> {
    await migrate(pool, 'trail-digest-keys', DIGEST_KEY_MIGRATIONS);
    return new PostgresDigestKeyStore(pool);
  }

  async activeFingerprint(): Promise<string | undefined> {
    return ((await this.pool.query(ACTIVE)).rows[0] as { fingerprint: string } | undefined)?.fingerprint;
  }

  async activate(key: NewDigestKey, now: number, replaces: string | undefined): Promise<string> {
    // Every instance must be able to sign with an active key, and none must read it in clear.
    if (key.sealedPrivateKey === undefined || !isSealed(key.sealedPrivateKey)) throw new Error(`Digest key ${key.fingerprint} comes without its sealed private key.`);
    const client = await this.pool.connect();
    try {
      return await inTransaction(client, async () => {
        await client.query('LOCK TABLE trail_digest_keys IN SHARE ROW EXCLUSIVE MODE');
        const current = ((await client.query(ACTIVE)).rows[0] as { fingerprint: string } | undefined)?.fingerprint;
        if (current !== undefined && current !== replaces) return current;
        await client.query('UPDATE trail_digest_keys SET valid_to = $1 WHERE valid_to IS NULL', [now]);
        await client.query('INSERT INTO trail_digest_keys (fingerprint, public_key, sealed_private_key, valid_from, valid_to) VALUES ($1, $2, $3, $4, NULL)', [
          key.fingerprint,
          key.publicKey,
          key.sealedPrivateKey,
          now,
        ]);
        return key.fingerprint;
      });
    } finally {
      client.release();
    }
  }

  async sealedPrivateKey(fingerprint: string): Promise<string | undefined> {
    const r = (await this.pool.query('SELECT sealed_private_key FROM trail_digest_keys WHERE fingerprint = $1', [fingerprint])).rows[0] as { sealed_private_key: string | null } | undefined;
    return r?.sealed_private_key ?? undefined;
  }

  async list(): Promise<DigestKeyRecord[]> {
    const rows = (await this.pool.query('SELECT fingerprint, public_key, valid_from, valid_to FROM trail_digest_keys ORDER BY valid_from, fingerprint')).rows as {
      fingerprint: string;
      public_key: string;
      valid_from: string;
      valid_to: string | null;
    }[];
    // bigint comes back as a string (pg's default); epoch milliseconds fit a double exactly.
    return rows.map((r) => ({ fingerprint: r.fingerprint, publicKey: r.public_key, validFrom: Number(r.valid_from), validTo: r.valid_to === null ? null : Number(r.valid_to) }));
  }
}
