/** The embedded MetaStore: the `meta` table, secrets sealed with the master key (metaSecret). */
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
}
