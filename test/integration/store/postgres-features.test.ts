/**
 * The small feature stores' contracts (test/contract/small-stores.ts) against their PostgreSQL
 * implementations on a real PostgreSQL (FLINKTRAIL_TEST_POSTGRES_URL, else a throwaway cluster
 * started by scripts/it/postgres.sh). Each test gets a schema of its own; each "instance" is its
 * own pg.Pool on that schema, as two FlinkTrail processes sharing one database.
 */

import pg from 'pg';
import { metaStoreContract, nonceStoreContract, objectStatesContract, policyHashStateContract, sessionStoreContract, type FeatureBackend } from '../../contract/small-stores.js';
import { PostgresNonceStore } from '../../../src/api/actiontrail/postgres/nonces.js';
import { PostgresSessionStore } from '../../../src/identity/postgres/sessions.js';
import { PostgresMetaStore } from '../../../src/store/postgres/meta.js';
import { PostgresPolicyHashState } from '../../../src/pipeline/audit-policy/postgres/state.js';
import { PostgresObjectStates } from '../../../src/sources/k8s-audit/postgres/state.js';
import { poolConfig } from '../../../src/store/postgres/url.js';
import { postgresForFile } from '../../helpers/postgres.js';
import { testSecrets } from '../../helpers/secrets.js';

const postgres = postgresForFile();

const backend: FeatureBackend = {
  async space() {
        const url = postgres.url;
    const schema = await postgres.newSchema();
    const sealer = testSecrets();
    const pools: pg.Pool[] = [];
    return {
      async instance() {
        const pool = new pg.Pool(poolConfig(url, { max: 4, schema }));
        pools.push(pool);
        return {
          nonces: await PostgresNonceStore.open(pool), sessions: await PostgresSessionStore.open(pool), meta: await PostgresMetaStore.open(pool, sealer),
          policyHash: await PostgresPolicyHashState.open(pool),
          objects: await PostgresObjectStates.open(pool),
        };
      },
      async dispose() {
        for (const p of pools) await p.end();
        await postgres.admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      },
    };
  },
};

nonceStoreContract('PostgreSQL', backend);
sessionStoreContract('PostgreSQL', backend);
metaStoreContract('PostgreSQL', backend);
policyHashStateContract('PostgreSQL', backend);
objectStatesContract('PostgreSQL', backend);
