/** The embedded PolicyHashState: key `audit-policy-hash` of the database's `meta` table (made by migration 2). */
import type { Db } from '../../../store/sqlite/database.js';
import type { PolicyHashState } from '../change.js';

const META_KEY = 'audit-policy-hash';

export class SqlitePolicyHashState implements PolicyHashState {
  private readonly stmts;

  constructor(db: Db) {
    this.stmts = {
      get: db.prepare('SELECT value FROM meta WHERE key = ?'),
      put: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    };
  }

  async get(): Promise<string | undefined> {
    return (this.stmts.get.get(META_KEY) as { value: string } | undefined)?.value;
  }

  async set(hash: string): Promise<void> {
    this.stmts.put.run(META_KEY, hash);
  }
}
