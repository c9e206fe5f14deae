import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AuthError } from '../../identity/authenticate.js';
import { sqliteDirectory } from '../../identity/sqlite/directory.js';
import type { Directory } from '../../identity/directory.js';
import { testSecrets } from '../../../test/helpers/secrets.js';
import { signingContext } from '../../identity/signing-secrets.js';
import { isSealed } from '../../secrets/index.js';
import { openDatabase, type Db } from '../../store/sqlite/database.js';
import { verifyRequest, type SignedRequest } from './auth.js';
import type { NonceStore } from './nonces.js';
import { SqliteNonceStore } from './sqlite/nonces.js';
import { RpcParams } from './params.js';
import { canonicalRequestV3, sha256Hex, signV1, signV3, stringToSignV1, stringToSignV3, type Pair } from './signature.js';

const NOW = Date.parse('2026-11-25T06:13:33Z');
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

describe('RPC request authentication', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ft-rpc-auth-'));
  let db: Db;
  let directory: Directory;
  let nonces: NonceStore;
  let key: { accessKeyId: string; accessKeySecret: string };
  let n = 0;
  const ring = testSecrets();

  before(async () => {
    db = openDatabase(dataDir);
    directory = sqliteDirectory(db, ring);
    await directory.createUser('alice', 'admin');
    key = await directory.createAccessKey('alice');
    nonces = new SqliteNonceStore(db);
  });
  after(() => db.close());

  const verify = (r: Omit<SignedRequest, 'sourceIp'>, now = NOW) => verifyRequest({ directory, nonces, now: () => now }, { ...r, sourceIp: '10.0.0.1' }, new RpcParams([...r.query, ...r.body]));
  const codeOf = async (f: () => Promise<unknown>): Promise<string> => {
    try {
      await f();
    } catch (err) {
      assert.ok(err instanceof AuthError, String(err));
      return err.apiCode;
    }
    assert.fail('accepted');
  };

  function v1(extra: Record<string, string> = {}, o: { secret?: string; timestamp?: number; nonce?: string } = {}): Omit<SignedRequest, 'sourceIp'> {
    const query: Pair[] = Object.entries({
      Action: 'DescribeTrails',
      Version: '2020-07-06',
      AccessKeyId: key.accessKeyId,
      SignatureMethod: 'HMAC-SHA1',
      SignatureVersion: '1.0',
      SignatureNonce: o.nonce ?? `nonce-v1-${++n}`,
      Timestamp: iso(o.timestamp ?? NOW),
      ...extra,
    });
    query.push(['Signature', signV1(o.secret ?? key.accessKeySecret, stringToSignV1('GET', query))]);
    return { method: 'GET', query, body: [], rawBody: Buffer.alloc(0), headers: {} };
  }

  function v3(o: { body?: string; mutate?: (h: Record<string, string>) => void; signed?: string[] } = {}): Omit<SignedRequest, 'sourceIp'> {
    const raw = Buffer.from(o.body ?? '');
    const headers: Record<string, string> = {
      host: '127.0.0.1:8470',
      'x-acs-action': 'DescribeTrails',
      'x-acs-version': '2020-07-06',
      'x-acs-date': iso(NOW),
      'x-acs-signature-nonce': `nonce-v3-${++n}`,
      'x-acs-content-sha256': sha256Hex(raw),
      ...(raw.length ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
    };
    const signed = o.signed ?? Object.keys(headers).sort();
    const query: Pair[] = [['NameList', 'a,b']];
    const sig = signV3(key.accessKeySecret, stringToSignV3(canonicalRequestV3({ method: 'POST', path: '/', query, headers, signedHeaders: signed, bodySha256: sha256Hex(raw) })));
    headers['authorization'] = `ACS3-HMAC-SHA256 Credential=${key.accessKeyId},SignedHeaders=${signed.join(';')},Signature=${sig}`;
    o.mutate?.(headers);
    return { method: 'POST', query, body: raw.length ? ([...new URLSearchParams(raw.toString())] as Pair[]) : [], rawBody: raw, headers };
  }

  it('accepts V1 and V3 signatures and names the signer', async () => {
    const a = await verify(v1());
    assert.equal(a.method, 'HMAC-SHA1');
    assert.equal(a.principal.accessKeyId, key.accessKeyId);
    assert.equal(a.principal.userName, 'alice');
    assert.equal((await verify(v3({ body: 'Name=trail-one' }))).method, 'ACS3-HMAC-SHA256');
  });

  it("names the signer's account: a member account's key signs as that account, the management account's as none", async () => {
    assert.equal('accountId' in (await verify(v1())).principal, false, 'the management account');
    const team = await directory.createAccount('team-rpc', '1000000000000001');
    await directory.createUser('member-bob', 'admin', undefined, false, { accountId: team.id });
    const bobKey = await directory.createAccessKey('member-bob');
    const saved = key;
    key = bobKey;
    try {
      assert.equal((await verify(v1())).principal.accountId, team.id);
      assert.equal((await verify(v3())).principal.accountId, team.id);
    } finally {
      key = saved;
    }
  });

  it('refuses a wrong secret, a stale or future timestamp, an unknown or inactive key, STS tokens', async () => {
    assert.equal(await codeOf(() => verify(v1({}, { secret: 'wrong' }))), 'SignatureDoesNotMatch');
    assert.equal(await codeOf(() => verify(v1({}, { timestamp: NOW - 16 * 60_000 }))), 'InvalidTimeStamp.Expired');
    assert.equal(await codeOf(() => verify(v1({}, { timestamp: NOW + 16 * 60_000 }))), 'InvalidTimeStamp.Expired');
    assert.equal(await codeOf(() => verify(v1({ AccessKeyId: 'FTAKUNKNOWN' }))), 'InvalidAccessKeyId.NotFound');
    assert.equal(await codeOf(() => verify(v1({ SecurityToken: 'sts' }))), 'InvalidParameter');
    assert.equal(await codeOf(() => verify(v1({ SignatureMethod: 'HMAC-SHA256' }))), 'IncompleteSignature');
    const other = await directory.createAccessKey('alice');
    await directory.setAccessKeyStatus(other.accessKeyId, 'Inactive');
    assert.equal(await codeOf(() => verify(v1({ AccessKeyId: other.accessKeyId }, { secret: other.accessKeySecret }))), 'InvalidAccessKeyId.Inactive');
  });

  it('keeps the signing secret sealed with the master key, bound to its key; interim-format values cannot sign', async () => {
    const stored = (id: string) => (db.prepare('SELECT sealed FROM access_key_signing WHERE key_id = ?').get(id) as { sealed: string }).sealed;
    assert.ok(isSealed(stored(key.accessKeyId)) && !stored(key.accessKeyId).includes(key.accessKeySecret), 'sealed, not in clear');
    assert.equal(ring.open(stored(key.accessKeyId), signingContext(key.accessKeyId)), key.accessKeySecret);
    const other = await directory.createAccessKey('alice');
    // A sealed value copied to another key's row does not open there.
    db.prepare('UPDATE access_key_signing SET sealed = ? WHERE key_id = ?').run(stored(key.accessKeyId), other.accessKeyId);
    await assert.rejects(directory.signing.get(other.accessKeyId), (e: { code?: string }) => e.code === 'FT_ERR_SECRETS_CORRUPT');
    // What unreleased builds stored under a key file in the data directory: not signable.
    db.prepare('UPDATE access_key_signing SET sealed = ? WHERE key_id = ?').run('v1.aXY.dGFn.Y3Q', other.accessKeyId);
    assert.equal(await codeOf(() => verify(v1({ AccessKeyId: other.accessKeyId }, { secret: other.accessKeySecret }))), 'FT_ERR_RPC_KEY_NOT_SIGNABLE');
    // A directory opened without the master key cannot make keys that sign.
    await assert.rejects(sqliteDirectory(db).createAccessKey('alice'), /without the master key/);
  });

  it('V3: a changed or unsigned x-acs header, or a body that is not the hashed one, is refused', async () => {
    assert.equal(await codeOf(() => verify(v3({ mutate: (h) => (h['x-acs-action'] = 'DeleteTrail') }))), 'SignatureDoesNotMatch');
    assert.equal(await codeOf(() => verify(v3({ mutate: (h) => (h['x-acs-extra'] = '1') }))), 'IncompleteSignature');
    assert.equal(await codeOf(() => verify(v3({ signed: ['host', 'x-acs-action', 'x-acs-content-sha256', 'x-acs-date', 'x-acs-signature-nonce'] }))), 'IncompleteSignature');
    const tampered = v3({ body: 'Name=trail-one' });
    assert.equal(await codeOf(() => verify({ ...tampered, rawBody: Buffer.from('Name=trail-two') })), 'IncompleteSignature');
    assert.equal(await codeOf(() => verify(v3({ body: 'Name=trail-one', signed: ['host', 'x-acs-action', 'x-acs-content-sha256', 'x-acs-date', 'x-acs-signature-nonce', 'x-acs-version'] }))), 'IncompleteSignature');
    assert.equal(await codeOf(() => verify(v3({ mutate: (h) => (h['authorization'] = 'ACS3-HMAC-SHA256 Credential=x') }))), 'IncompleteSignature');
  });

  it('refuses a replayed nonce, also after a restart, and only once the signature verified', async () => {
    const req = v1({}, { nonce: 'replayed-nonce' });
    // A forged request with the same nonce does not burn it.
    assert.equal(await codeOf(() => verify(v1({}, { nonce: 'replayed-nonce', secret: 'wrong' }))), 'SignatureDoesNotMatch');
    await verify(req);
    assert.equal(await codeOf(() => verify(req)), 'SignatureNonceUsed');
    const reopened = openDatabase(dataDir);
    try {
      const again = () => verifyRequest({ directory: sqliteDirectory(reopened, ring), nonces: new SqliteNonceStore(reopened), now: () => NOW }, { ...req, sourceIp: '10.0.0.1' }, new RpcParams(req.query));
      assert.equal(await codeOf(again), 'SignatureNonceUsed');
    } finally {
      reopened.close();
    }
    // Expired nonces are purged; their requests' timestamps are stale by then anyway.
    assert.ok(await nonces.purge(NOW + 20 * 60_000) >= 1, 'purged');
  });
});
