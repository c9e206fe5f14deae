/**
 * The shared IdentityStore contract (test/contract/identity-store.ts) against the PostgreSQL
 * store on a real PostgreSQL (FLINKTRAIL_TEST_POSTGRES_URL, else a throwaway cluster), each test
 * in a schema of its own. Each `open` is an event store's pool with the identity store on it, as
 * a server has: two opens are two instances.
 */

import { identityStoreContract } from '../../contract/identity-store.js';
import { PostgresIdentityStore } from '../../../src/identity/postgres/directory.js';
import { PostgresEventStore } from '../../../src/store/postgres/events.js';
import { postgresForFile } from '../../helpers/postgres.js';

const postgres = postgresForFile();

identityStoreContract('PostgreSQL', {
  async space() {
        const url = postgres.url;
    const schema = await postgres.newSchema();
    const stores: PostgresEventStore[] = [];
    return {
      async open() {
        const events = await PostgresEventStore.open({ url, schema, poolMax: 3 });
        stores.push(events);
        return PostgresIdentityStore.open(events.pool);
      },
      async dispose() {
        for (const s of stores) await s.close();
        await postgres.admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      },
    };
  },
});
