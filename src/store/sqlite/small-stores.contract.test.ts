/**
 * The small feature stores' contracts (test/contract/small-stores.ts) against their SQLite
 * implementations: each "instance" is its own connection to one database file, as two processes
 * on one data directory would be.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { metaStoreContract, nonceStoreContract, objectStatesContract, policyHashStateContract, sessionStoreContract, type FeatureBackend } from '../../../test/contract/small-stores.js';
import { testSecrets } from '../../../test/helpers/secrets.js';
import { SqliteNonceStore } from '../../api/actiontrail/sqlite/nonces.js';
import { SqliteSessionStore } from '../../identity/sqlite/sessions.js';
import { openDatabase, type Db } from './database.js';
import { SqliteMetaStore } from './meta.js';
import { SqlitePolicyHashState } from '../../pipeline/audit-policy/sqlite/state.js';
import { SqliteObjectStates } from '../../sources/k8s-audit/sqlite/state.js';

const backend: FeatureBackend = {
  space() {
    const dir = mkdtempSync(join(tmpdir(), 'ft-small-contract-'));
    const sealer = testSecrets();
    const dbs: Db[] = [];
    return Promise.resolve({
      instance() {
        const db = openDatabase(dir);
        dbs.push(db);
        return Promise.resolve({ nonces: new SqliteNonceStore(db), sessions: new SqliteSessionStore(db), meta: new SqliteMetaStore(db, sealer), policyHash: new SqlitePolicyHashState(db), objects: new SqliteObjectStates(db) });
      },
      dispose() {
        for (const db of dbs) db.close();
        rmSync(dir, { recursive: true, force: true });
        return Promise.resolve();
      },
    });
  },
};

nonceStoreContract('SQLite', backend);
sessionStoreContract('SQLite', backend);
metaStoreContract('SQLite', backend);
policyHashStateContract('SQLite', backend);
objectStatesContract('SQLite', backend);
