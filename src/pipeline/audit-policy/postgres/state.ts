/**
 * The PolicyHashState on PostgreSQL (with `store.url`): key `audit-policy-hash` of the `meta`
 * table that store/postgres/meta.ts migrates (component `meta`), so every instance on one
 * database compares its policy with the one last in force there.
 */
import type { Pool } from 'pg';
import { migrate } from '../../../store/postgres/migrations.js';
import { META_MIGRATIONS } from '../../../store/postgres/meta.js';
import type { PolicyHashState } from '../change.js';

const META_KEY = 'audit-policy-hash';

export class PostgresPolicyHashState implements PolicyHashState {
  private constructor(private readonly pool: Pool) {}

  static async open(pool: Pool): Promise<PostgresPolicyHashState> {
    await migrate(pool, 'meta', META_MIGRATIONS);
    return new PostgresPolicyHashState(pool);
  }

  async get(): Promise<string | undefined> {
    return ((await this.pool.query('SELECT value FROM meta WHERE key = $1', [META_KEY])).rows[0] as { value: string } | undefined)?.value;
  }

  async set(hash: string): Promise<void> {
    await this.pool.query('INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [META_KEY, hash]);
  }
}
