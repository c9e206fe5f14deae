/**
 * The shared IdentityStore contract (test/contract/identity-store.ts) against the PostgreSQL
 * store on a real PostgreSQL (FLINKTRAIL_TEST_POSTGRES_URL, else a throwaway cluster), each test
 * in a schema of its own. Each `open` is an event store's pool with the identity store on it, as
 * a server has: two opens are two instances.
 */
import { randomBytes } from 'node:crypto';
import { after, before } from 'node:test';
import pg from 'pg';
import { identityStoreContract } from '../../contract/identity-store.js';
import { PostgresIdentityStore } from '../../../src/identity/postgres/directory.js';
import { PostgresEventStore } from '../../../src/store/postgres/events.js';
import { startPostgres, type PostgresServer } from '../../helpers/postgres.js';

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

identityStoreContract('PostgreSQL', {
  async space() {
    if (!server || !admin) throw new Error('PostgreSQL did not start');
    const url = server.url;
    const schema = `ft_test_${randomBytes(6).toString('hex')}`;
    await admin.query(`CREATE SCHEMA ${schema}`);
    const stores: PostgresEventStore[] = [];
    return {
      async open() {
        const events = await PostgresEventStore.open({ url, schema, poolMax: 3 });
        stores.push(events);
        return PostgresIdentityStore.open(events.pool);
      },
      async dispose() {
        for (const s of stores) await s.close();
        await admin?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      },
    };
  },
});
