/**
 * The embedded SealedValueStore: the columns of the SQLite database that hold sealed values,
 * re-wrapped in one IMMEDIATE transaction (a value that cannot be opened leaves every value under
 * the old key).
 */
import type { Db } from '../../store/sqlite/database.js';
import { rewrapped, type SealedValueStore } from '../rotate.js';

/** Where sealed values are stored: table, column, and a key column that identifies the row. */
export const SEALED_COLUMNS: readonly { table: string; column: string; key: string }[] = [
  { table: 'meta', column: 'value', key: 'key' },
  { table: 'trail_destinations', column: 'url', key: 'id' },
  // AccessKey secrets kept for request signatures (identity/signing-secrets.ts)
  { table: 'access_key_signing', column: 'sealed', key: 'key_id' },
];

export class SqliteSealedValues implements SealedValueStore {
  constructor(private readonly db: Db) {}

  async rewrapAll(rewrap: (sealed: string) => string): Promise<{ values: number; plaintext: number }> {
    const { db } = this;
    const result = { values: 0, plaintext: 0 };
    db.transaction(() => {
      for (const { table, column, key } of SEALED_COLUMNS) {
        const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table);
        if (!exists) continue;
        const rows = db.prepare(`SELECT ${key} AS k, ${column} AS v FROM ${table}`).all() as { k: string | number; v: string | null }[];
        const update = db.prepare(`UPDATE ${table} SET ${column} = ? WHERE ${key} = ?`);
        for (const r of rows) {
          const next = rewrapped(r.v, rewrap, result);
          if (next !== undefined) update.run(next, r.k);
        }
      }
    }).immediate();
    return result;
  }
}
