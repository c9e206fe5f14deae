/**
 * The SealedValueStore on PostgreSQL (with `store.url`): the columns of the feature stores that
 * hold sealed values there, re-wrapped in one transaction on one client (a value that cannot be
 * opened, or any failure, rolls every value back to the old key). Rows are locked as they are
 * read (`FOR UPDATE`), so a FlinkTrail instance still running cannot write a value between the
 * read and the re-wrap of its row — but stop them anyway: they hold the old ring until restarted.
 */
import type { Pool } from 'pg';
import { inTransaction } from '../../store/postgres/migrations.js';
import { rewrapped, type SealedValueStore } from '../rotate.js';

/**
 * Where sealed values are stored on PostgreSQL: table, column, and the key column of the row.
 */
export const PG_SEALED_COLUMNS: readonly { table: string; column: string; key: string }[] = [
  // store/postgres/meta.ts: HMAC keys (meta:<key>); plaintext rows (audit-policy-hash) are left alone
  { table: 'meta', column: 'value', key: 'key' },
  // identity/postgres/directory.ts: AccessKey secrets kept for request signatures
  { table: 'access_key_signing', column: 'sealed', key: 'key_id' },
  // trails/postgres/digest-keys.ts: the private halves of trail digest signing keys
  { table: 'trail_digest_keys', column: 'sealed_private_key', key: 'fingerprint' },
  // trails/postgres/repository.ts: destination URLs that carry credentials (others stay in clear)
  { table: 'trail_destinations', column: 'url', key: 'id' },
];

export class PostgresSealedValues implements SealedValueStore {
  /** `pool`: the event store's (`PostgresEventStore.pool`), or any pool on the same schema. */
  constructor(private readonly pool: Pool) {}

  async rewrapAll(rewrap: (sealed: string) => string): Promise<{ values: number; plaintext: number }> {
    const result = { values: 0, plaintext: 0 };
    const client = await this.pool.connect();
    try {
      await inTransaction(client, async () => {
        for (const { table, column, key } of PG_SEALED_COLUMNS) {
          // A table its feature has not migrated yet holds nothing to re-wrap.
          const exists = (await client.query('SELECT to_regclass($1) IS NOT NULL AS e', [table])).rows[0] as { e: boolean };
          if (!exists.e) continue;
          const rows = (await client.query(`SELECT ${key} AS k, ${column} AS v FROM ${table} ORDER BY ${key} FOR UPDATE`)).rows as { k: string; v: string | null }[];
          for (const r of rows) {
            const next = rewrapped(r.v, rewrap, result);
            if (next !== undefined) await client.query(`UPDATE ${table} SET ${column} = $1 WHERE ${key} = $2`, [next, r.k]);
          }
        }
      });
    } finally {
      client.release();
    }
    return result;
  }
}
