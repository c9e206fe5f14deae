/** The shared IdentityStore contract (test/contract/identity-store.ts) against the embedded store. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { identityStoreContract } from '../../../test/contract/identity-store.js';
import { openDatabase, type Db } from '../../store/sqlite/database.js';
import { SqliteIdentityStore } from './directory.js';

identityStoreContract('SQLite', {
  space() {
    const dir = mkdtempSync(join(tmpdir(), 'ft-identity-'));
    const dbs: Db[] = [];
    return Promise.resolve({
      open() {
        const db = openDatabase(dir);
        dbs.push(db);
        return Promise.resolve(new SqliteIdentityStore(db));
      },
      dispose() {
        for (const db of dbs) db.close();
        rmSync(dir, { recursive: true, force: true });
        return Promise.resolve();
      },
    });
  },
});
