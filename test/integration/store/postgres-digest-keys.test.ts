/**
 * The DigestKeyStore contract (test/contract/digest-keys.ts) against the PostgreSQL store on a
 * real PostgreSQL (FLINKTRAIL_TEST_POSTGRES_URL, else a throwaway cluster), each test in a schema
 * of its own. Each instance is an event store's pool with the digest key store on it and a data
 * directory of its own, as two servers have: a trail delivered by either is signed with one key.
 * Also: the column holds the private half sealed, as `flinktrail secrets rotate` finds it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { digestKeyStoreContract, type DigestKeySpace } from '../../contract/digest-keys.js';
import { isSealed } from '../../../src/secrets/index.js';
import { PG_SEALED_COLUMNS } from '../../../src/secrets/postgres/sealed-values.js';
import { PostgresEventStore } from '../../../src/store/postgres/events.js';
import { DigestKeys } from '../../../src/trails/digest/keys.js';
import { PostgresDigestKeyStore } from '../../../src/trails/postgres/digest-keys.js';
import { tempDir } from '../../helpers/flinktrail.js';
import { postgresForFile } from '../../helpers/postgres.js';
import { testSecrets } from '../../helpers/secrets.js';

const postgres = postgresForFile();

/** A space in a new schema (named, for looking at the table as stored). */
async function openSpace(): Promise<DigestKeySpace & { schema: string }> {
  const url = postgres.url;
  const schema = await postgres.newSchema();
  const stores: PostgresEventStore[] = [];
  return {
    schema,
    secrets: testSecrets(),
    async instance() {
      const events = await PostgresEventStore.open({ url, schema, poolMax: 3 });
      stores.push(events);
      return { store: await PostgresDigestKeyStore.open(events.pool), dataDir: tempDir('ft-digest-pg-') };
    },
    async dispose() {
      for (const s of stores) await s.close();
      await postgres.admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    },
  };
}

digestKeyStoreContract('PostgreSQL', { space: openSpace });

describe('PostgresDigestKeyStore: what the table holds', () => {
  it('holds every private half sealed, in a column secrets rotate re-wraps, and refuses one in clear', async () => {
    const space = await openSpace();
    try {
      const one = await space.instance();
      const keys = new DigestKeys(one.store, one.dataDir, space.secrets);
      await keys.active(1000);
      await keys.rotate(2000);
      const rows = (await postgres.admin.query(`SELECT fingerprint, sealed_private_key FROM ${space.schema}.trail_digest_keys`)).rows as { fingerprint: string; sealed_private_key: string }[];
      assert.equal(rows.length, 2);
      for (const r of rows) assert.ok(isSealed(r.sealed_private_key) && !r.sealed_private_key.includes('PRIVATE KEY'), r.fingerprint);
      assert.ok(PG_SEALED_COLUMNS.some((c) => c.table === 'trail_digest_keys' && c.column === 'sealed_private_key' && c.key === 'fingerprint'));
      const active = (await keys.active(3000)).fingerprint;
      await assert.rejects(one.store.activate({ fingerprint: 'f'.repeat(32), publicKey: 'x', sealedPrivateKey: '-----BEGIN PRIVATE KEY-----' }, 4000, active), /sealed private key/);
      await assert.rejects(one.store.activate({ fingerprint: 'f'.repeat(32), publicKey: 'x' }, 4000, active), /sealed private key/);
      assert.equal(await one.store.activeFingerprint(), active);
    } finally {
      await space.dispose();
    }
  });
});
