/**
 * The small feature stores' contracts (test/contract/small-stores.ts) against their PostgreSQL
 * implementations on a real PostgreSQL (FLINKTRAIL_TEST_POSTGRES_URL, else a throwaway cluster
 * started by scripts/it/postgres.sh). Each test gets a schema of its own; each "instance" is its
 * own pg.Pool on that schema, as two FlinkTrail processes sharing one database.
 */
import { randomBytes } from 'node:crypto';
import { after, before } from 'node:test';
import pg from 'pg';
import { metaStoreContract, nonceStoreContract, objectStatesContract, policyHashStateContract, sessionStoreContract, type FeatureBackend } from '../../contract/small-stores.js';
import { PostgresNonceStore } from '../../../src/api/actiontrail/postgres/nonces.js';
import { PostgresSessionStore } from '../../../src/identity/postgres/sessions.js';
import { PostgresMetaStore } from '../../../src/store/postgres/meta.js';
import { PostgresPolicyHashState } from '../../../src/pipeline/audit-policy/postgres/state.js';
import { PostgresObjectStates } from '../../../src/sources/k8s-audit/postgres/state.js';
import { poolConfig } from '../../../src/store/postgres/url.js';
import { startPostgres, type PostgresServer } from '../../helpers/postgres.js';
import { testSecrets } from '../../helpers/secrets.js';

let server: PostgresServer | undefined;
let admin: pg.Pool | undefined;

before(async () => {
  server = await startPostgres();
  admin = new pg.Pool({ connectionString: server.url, max: 2 });
  admin.on('error', (err) => process.stderr.write(`# admin connection: ${err.message}\n`));
});
after(async () => {
  await admin?.end();
  await server?.stop();
});

const backend: FeatureBackend = {
  async space() {
    if (!server || !admin) throw new Error('PostgreSQL did not start');
    const url = server.url;
    const schema = `ft_test_${randomBytes(6).toString('hex')}`;
    await admin.query(`CREATE SCHEMA ${schema}`);
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
        await admin?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      },
    };
  },
};

nonceStoreContract('PostgreSQL', backend);
sessionStoreContract('PostgreSQL', backend);
metaStoreContract('PostgreSQL', backend);
policyHashStateContract('PostgreSQL', backend);
objectStatesContract('PostgreSQL', backend);
