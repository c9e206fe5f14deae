/**
 * `flinktrail secrets rotate` on PostgreSQL: the SealedValueStore contract (rotate.ts) of
 * PostgresSealedValues on a real PostgreSQL (FLINKTRAIL_TEST_POSTGRES_URL, else a throwaway
 * cluster started by scripts/it/postgres.sh), in a schema of this file's own, dropped at the end.
 * Values are put through the real stores (PostgresMetaStore, PostgresIdentityStore,
 * PostgresDigestKeyStore through DigestKeys), so the test covers every sealed column those stores
 * write.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { PostgresIdentityStore } from '../../../src/identity/postgres/directory.js';
import { signingContext } from '../../../src/identity/signing-secrets.js';
import { PostgresPolicyHashState } from '../../../src/pipeline/audit-policy/postgres/state.js';
import { Secrets } from '../../../src/secrets/index.js';
import { PostgresSealedValues } from '../../../src/secrets/postgres/sealed-values.js';
import { rotateSecrets } from '../../../src/secrets/rotate.js';
import { PostgresMetaStore } from '../../../src/store/postgres/meta.js';
import { DigestKeys } from '../../../src/trails/digest/keys.js';
import { PostgresDigestKeyStore } from '../../../src/trails/postgres/digest-keys.js';
import { poolConfig } from '../../../src/store/postgres/url.js';
import { tempDir } from '../../helpers/flinktrail.js';
import { startPostgres, type PostgresServer } from '../../helpers/postgres.js';
import { testKey } from '../../helpers/secrets.js';

let server: PostgresServer | undefined;
let admin: pg.Pool | undefined;
let pool: pg.Pool | undefined;
const schema = `ft_secrets_${randomBytes(6).toString('hex')}`;

before(async () => {
  server = await startPostgres();
  admin = new pg.Pool({ connectionString: server.url, max: 1 });
  admin.on('error', (err) => process.stderr.write(`# admin connection: ${err.message}\n`));
  await admin.query(`CREATE SCHEMA ${schema}`);
  pool = new pg.Pool(poolConfig(server.url, { max: 4, schema }));
});
after(async () => {
  await pool?.end();
  await admin?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
  await admin?.end();
  await server?.stop();
});

function thePool(): pg.Pool {
  if (!pool) throw new Error('PostgreSQL did not start');
  return pool;
}

/** Every row of the sealed columns, as stored. */
async function rawRows(): Promise<{ meta: Record<string, string>; signing: Record<string, string>; digestKeys: Record<string, string> }> {
  const p = thePool();
  const meta = (await p.query('SELECT key, value FROM meta ORDER BY key')).rows as { key: string; value: string }[];
  const signing = (await p.query('SELECT key_id, sealed FROM access_key_signing ORDER BY key_id')).rows as { key_id: string; sealed: string }[];
  const digestKeys = (await p.query('SELECT fingerprint, sealed_private_key FROM trail_digest_keys ORDER BY fingerprint')).rows as { fingerprint: string; sealed_private_key: string }[];
  return {
    meta: Object.fromEntries(meta.map((r) => [r.key, r.value])),
    signing: Object.fromEntries(signing.map((r) => [r.key_id, r.sealed])),
    digestKeys: Object.fromEntries(digestKeys.map((r) => [r.fingerprint, r.sealed_private_key])),
  };
}

describe('PostgresSealedValues (secrets rotate on PostgreSQL)', () => {
  const old = new Secrets(testKey());
  const next = testKey();
  const accessKeyId = `LTAI${randomBytes(8).toString('hex')}`;
  const accessKeySecret = randomBytes(20).toString('base64url');
  let hmac = '';
  let digestKey = '';

  it('re-wraps meta HMAC keys, AccessKey signing secrets and digest private keys, all under the new key, values unchanged', async () => {
    const p = thePool();
    const meta = await PostgresMetaStore.open(p, old);
    hmac = await meta.secret('pagination-token-key', () => randomBytes(32).toString('base64url'));
    await (await PostgresPolicyHashState.open(p)).set('policy-hash-in-clear');
    const identity = await PostgresIdentityStore.open(p);
    await identity.insertUser({ id: 'u-rotate', name: 'rotate-owner', role: 'admin', passwordHash: null, createdAt: Date.now(), disabled: false, email: null, source: 'local', accountId: null });
    await identity.insertAccessKey({ id: accessKeyId, userId: 'u-rotate', secretHash: 'h', createdAt: Date.now() }, old.seal(accessKeySecret, signingContext(accessKeyId)));
    const dataDir = tempDir('ft-rotate-pg-');
    digestKey = (await new DigestKeys(await PostgresDigestKeyStore.open(p), dataDir, old).active()).fingerprint;
    const before = await rawRows();

    const result = await rotateSecrets([new PostgresSealedValues(p)], dataDir, old.withActive(next));
    assert.deepEqual(result, { values: 3, perStore: [3], files: 0, plaintext: 1 });

    const now = await rawRows();
    assert.notEqual(now.meta['pagination-token-key'], before.meta['pagination-token-key']);
    assert.notEqual(now.signing[accessKeyId], before.signing[accessKeyId]);
    assert.equal(now.meta['audit-policy-hash'], 'policy-hash-in-clear', 'a value in clear is left as it is');
    assert.equal(Secrets.keyIdOf(now.meta['pagination-token-key'] ?? ''), next.id);
    assert.equal(Secrets.keyIdOf(now.signing[accessKeyId] ?? ''), next.id);
    assert.notEqual(now.digestKeys[digestKey], before.digestKeys[digestKey]);
    assert.equal(Secrets.keyIdOf(now.digestKeys[digestKey] ?? ''), next.id);

    // The new key alone opens everything, through the stores that read them.
    const fresh = new Secrets(next);
    assert.equal(await (await PostgresMetaStore.open(p, fresh)).secret('pagination-token-key', () => 'made again'), hmac);
    assert.equal(fresh.open((await identity.signingSecret(accessKeyId)) ?? '', signingContext(accessKeyId)), accessKeySecret);
    assert.equal((await new DigestKeys(await PostgresDigestKeyStore.open(p), tempDir('ft-rotate-pg-'), fresh).active()).fingerprint, digestKey, 'another instance signs with the re-wrapped key');

    // Again with the same ring: nothing left to re-wrap.
    assert.deepEqual(await new PostgresSealedValues(p).rewrapAll((v) => old.withActive(next).rewrap(v)), { values: 0, plaintext: 1 });
  });

  it('changes nothing when the re-wrap throws part-way (one transaction)', async () => {
    const p = thePool();
    const before = await rawRows();
    assert.ok(Object.keys(before.signing).length === 1 && before.meta['pagination-token-key'] && before.digestKeys[digestKey], 'the values of the first test are there');
    const ring = new Secrets(next).withActive(testKey());
    let calls = 0;
    await assert.rejects(
      new PostgresSealedValues(p).rewrapAll((v) => {
        // The first value is re-wrapped (and written), the second fails.
        if (++calls === 2) throw new Error('cannot open');
        return ring.rewrap(v);
      }),
      /cannot open/,
    );
    assert.equal(calls, 2);
    assert.deepEqual(await rawRows(), before);
    assert.equal(await (await PostgresMetaStore.open(p, new Secrets(next))).secret('pagination-token-key', () => 'made again'), hmac);
  });

  it('skips the tables of features not migrated yet', async () => {
    const empty = `ft_secrets_${randomBytes(6).toString('hex')}`;
    await admin?.query(`CREATE SCHEMA ${empty}`);
    const other = new pg.Pool(poolConfig(server?.url ?? '', { max: 1, schema: empty }));
    try {
      assert.deepEqual(await new PostgresSealedValues(other).rewrapAll(() => assert.fail('nothing to re-wrap')), { values: 0, plaintext: 0 });
    } finally {
      await other.end();
      await admin?.query(`DROP SCHEMA IF EXISTS ${empty} CASCADE`);
    }
  });
});
