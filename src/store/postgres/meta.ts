/**
 * The MetaStore on PostgreSQL (with `store.url`): table `meta` on the event store's pool, its own
 * migrations component (`meta`), values sealed with the master key as on SQLite (context
 * `meta:<key>`, so a value copied from a data directory by `flinktrail migrate` opens here).
 * One value wins when instances race: INSERT … ON CONFLICT DO NOTHING, then every one reads
 * the row that stands.
 */
import type { Pool } from 'pg';
import type { Sealer } from '../../secrets/envelope.js';
import type { MetaStore } from '../meta.js';
import { migrate, type Migration } from './migrations.js';

export const META_MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'meta', sql: 'CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL);' },
];

export class PostgresMetaStore implements MetaStore {
  private constructor(
    private readonly pool: Pool,
    private readonly sealer: Sealer,
  ) {}

  /** Applies the component's migrations, then the store is ready. */
  static async open(pool: Pool, sealer: Sealer): Promise<PostgresMetaStore> {
    await migrate(pool, 'meta', META_MIGRATIONS);
    return new PostgresMetaStore(pool, sealer);
  }

  async secret(key: string, make: () => string): Promise<string> {
    const context = `meta:${key}`;
    const found = await this.read(key);
    if (found !== undefined) return this.sealer.open(found, context);
    await this.pool.query('INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [key, this.sealer.seal(make(), context)]);
    const won = await this.read(key);
    if (won === undefined) throw new Error(`meta ${key} vanished after it was written`);
    return this.sealer.open(won, context);
  }

  async get(key: string): Promise<string | undefined> {
    return this.read(key);
  }

  async set(key: string, value: string): Promise<void> {
    await this.pool.query('INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value]);
  }

  private async read(key: string): Promise<string | undefined> {
    return ((await this.pool.query('SELECT value FROM meta WHERE key = $1', [key])).rows[0] as { value: string } | undefined)?.value;
  }
}
