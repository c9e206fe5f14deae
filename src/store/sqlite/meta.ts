/** The embedded MetaStore: the `meta` table, secrets sealed with the master key (metaSecret), plain values as they are. */
import type { Sealer } from '../../secrets/envelope.js';
import type { MetaStore } from '../meta.js';
import { metaSecret, type Db } from './database.js';

export class SqliteMetaStore implements MetaStore {
  constructor(
    private readonly db: Db,
    private readonly sealer: Sealer,
  ) {}

  async secret(key: string, make: () => string): Promise<string> {
    return metaSecret(this.db, key, make, this.sealer);
  }

  async get(key: string): Promise<string | undefined> {
    return (this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value;
  }

  async set(key: string, value: string): Promise<void> {
    this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
  }
}
