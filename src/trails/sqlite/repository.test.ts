/**
 * The trail repository's contract (test/contract/trail-repository.ts) on the embedded database:
 * each instance is its own connection to one data directory's database file, as the server and
 * the CLI are.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trailRepositoryContract } from '../../../test/contract/trail-repository.js';
import { testSecrets } from '../../../test/helpers/secrets.js';
import { openDatabase, type Db } from '../../store/sqlite/database.js';
import { SqliteTrailRepository } from './repository.js';

trailRepositoryContract('SQLite', {
  space() {
    const dataDir = mkdtempSync(join(tmpdir(), 'ft-trails-'));
    const secrets = testSecrets();
    const dbs: Db[] = [];
    const open = () => {
      const db = openDatabase(dataDir, { synchronous: 'normal' });
      dbs.push(db);
      return db;
    };
    const own = open();
    return Promise.resolve({
      instance: () => Promise.resolve(new SqliteTrailRepository(open(), join(dataDir, 'trails'), secrets)),
      storedUrl: (destId: number) => Promise.resolve((own.prepare('SELECT url FROM trail_destinations WHERE id = ?').get(destId) as { url: string }).url),
      dispose() {
        for (const db of dbs) db.close();
        rmSync(dataDir, { recursive: true, force: true });
        return Promise.resolve();
      },
    });
  },
});
