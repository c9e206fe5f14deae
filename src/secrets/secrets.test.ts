import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { testKey } from '../../test/helpers/secrets.js';
import { buildConfig } from '../config/index.js';
import { sqliteDirectory } from '../identity/sqlite/directory.js';
import { metaSecret, openDatabase } from '../store/sqlite/database.js';
import { SqliteSealedValues } from './sqlite/sealed-values.js';
import { isReference, isSealed, keyIdOf, loadMasterKey, openSecrets, resolveSecret, rotateSecrets, Secrets } from './index.js';
import { parseKeyMaterial } from './master-key.js';

const tmp = (p = 'ft-secrets-') => mkdtempSync(join(tmpdir(), p));
const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return 'no error';
};

describe('sealing', () => {
  it('opens what it sealed, and the sealed form names the key and hides the value', () => {
    const ring = new Secrets(testKey());
    const sealed = ring.seal('hunter2-secret', 'ctx');
    assert.ok(isSealed(sealed));
    assert.ok(!sealed.includes('hunter2'));
    assert.equal(Secrets.keyIdOf(sealed), ring.active.id);
    assert.equal(ring.open(sealed, 'ctx'), 'hunter2-secret');
    assert.notEqual(ring.seal('hunter2-secret', 'ctx'), sealed, 'a fresh data key and IV every time');
  });

  it('refuses a value moved to another context, tampered with, or sealed by an unknown key', () => {
    const ring = new Secrets(testKey());
    const sealed = ring.seal('v', 'trail-destination');
    assert.equal(code(() => ring.open(sealed, 'meta:x')), 'FT_ERR_SECRETS_CORRUPT');
    const last = sealed.slice(-2, -1) === 'A' ? 'B' : 'A';
    assert.equal(code(() => ring.open(`${sealed.slice(0, -2)}${last}${sealed.slice(-1)}`, 'trail-destination')), 'FT_ERR_SECRETS_CORRUPT');
    assert.equal(code(() => new Secrets(testKey()).open(sealed, 'trail-destination')), 'FT_ERR_SECRETS_UNKNOWN_KEY');
    assert.equal(code(() => ring.open('plain', 'trail-destination')), 'FT_ERR_SECRETS_CORRUPT');
  });

  it('rewrap moves a value to the new key without changing it; the old key alone no longer opens it', () => {
    const old = new Secrets(testKey());
    const sealed = old.seal('value', 'c');
    const next = testKey();
    const ring = old.withActive(next);
    const moved = ring.rewrap(sealed);
    assert.equal(Secrets.keyIdOf(moved), next.id);
    assert.equal(new Secrets(next).open(moved, 'c'), 'value');
    assert.equal(code(() => old.open(moved, 'c')), 'FT_ERR_SECRETS_UNKNOWN_KEY');
    assert.equal(ring.rewrap(moved), moved, 'already under the active key');
  });
});

describe('master keys', () => {
  it('reads base64, hex and raw keys with the same id', () => {
    const raw = Buffer.alloc(32, 7);
    const ids = [raw, Buffer.from(raw.toString('base64')), Buffer.from(`${raw.toString('hex')}\n`)].map((b) => keyIdOf(parseKeyMaterial(b, 'x')));
    assert.equal(new Set(ids).size, 1);
    assert.equal(code(() => parseKeyMaterial(Buffer.from('too short'), 'x')), 'FT_ERR_SECRETS_MASTER_KEY');
  });

  it('refuses a key file inside the data directory, and a missing variable', () => {
    const dataDir = tmp();
    writeFileSync(join(dataDir, 'master.key'), Buffer.alloc(32, 1).toString('base64'));
    assert.equal(code(() => loadMasterKey(`file:${join(dataDir, 'master.key')}`, { dataDir })), 'FT_ERR_SECRETS_MASTER_KEY');
    assert.equal(code(() => loadMasterKey('env:FT_TEST_NO_SUCH_VAR', { env: {} })), 'FT_ERR_SECRETS_MASTER_KEY');
    assert.equal(loadMasterKey('env:K', { env: { K: Buffer.alloc(32, 2).toString('hex') } }).id, keyIdOf(Buffer.alloc(32, 2)));
  });

  it('without a configured key, makes the per-user key file once (0600, directory 0700) and reuses it', () => {
    const home = tmp('ft-home-');
    const env = { XDG_CONFIG_HOME: home };
    const config = buildConfig({ dataDir: tmp() });
    const a = openSecrets(config, { env });
    const b = openSecrets(config, { env });
    assert.equal(a.active.id, b.active.id);
    const file = join(home, 'flinktrail', 'master.key');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(join(home, 'flinktrail')).mode & 0o777, 0o700);
    assert.equal(a.active.source, `file:${file}`);
  });

  it('resolves env: and file: references, and leaves other values alone', () => {
    const dir = tmp();
    writeFileSync(join(dir, 's'), 'from-file\n');
    assert.equal(resolveSecret(`file:${join(dir, 's')}`), 'from-file');
    assert.equal(resolveSecret('env:S3_SECRET', { S3_SECRET: 'from-env' }), 'from-env');
    assert.equal(resolveSecret('plain-value'), 'plain-value');
    assert.ok(isReference('env:A_B') && isReference('file:/x') && !isReference('envy:x') && !isReference('file:relative'));
    assert.equal(code(() => resolveSecret('env:NOT_SET_ANYWHERE', {})), 'FT_ERR_SECRETS_REFERENCE');
  });
});

describe('rotation', () => {
  it('re-wraps meta secrets, destination URLs, AccessKey signing secrets and key files in one go', async () => {
    const dataDir = tmp();
    const old = new Secrets(testKey());
    const db = openDatabase(dataDir);
    try {
      const hmac = metaSecret(db, 'pagination-token-key', () => 'k'.repeat(43), old);
      db.prepare("INSERT INTO trails (name, event_rw, trail_region, home_region, status, digest_interval, created_at, updated_at) VALUES ('t-rotate', 'All', 'All', 'local', 'Fresh', 60, 0, 0)").run();
      db.prepare("INSERT INTO trail_destinations (trail, ord, url, kind) VALUES ('t-rotate', 0, ?, 's3')").run(old.seal('s3://b?secretAccessKey=x', 'trail-destination'));
      db.prepare("INSERT INTO trail_destinations (trail, ord, url, kind) VALUES ('t-rotate', 1, 'file:///tmp/x', 'file')").run();
      const keyDir = join(dataDir, 'trail-digest-keys');
      mkdirSync(keyDir, { recursive: true });
      writeFileSync(join(keyDir, 'abc.pem'), `${old.seal('PEM', 'trail-digest-key')}\n`);
      const directory = sqliteDirectory(db, old);
      await directory.createUser('ak-owner', 'admin');
      const ak = await directory.createAccessKey('ak-owner');
      const next = testKey();
      const result = await rotateSecrets(new SqliteSealedValues(db), dataDir, old.withActive(next));
      assert.deepEqual(result, { values: 3, perStore: [3], files: 1, plaintext: 1 });
      const signing = (db.prepare('SELECT sealed FROM access_key_signing WHERE key_id = ?').get(ak.accessKeyId) as { sealed: string }).sealed;
      assert.equal(Secrets.keyIdOf(signing), next.id, 'the signing secret is under the new key');
      assert.equal(await sqliteDirectory(db, new Secrets(next)).signing.get(ak.accessKeyId), ak.accessKeySecret);
      const fresh = new Secrets(next);
      assert.equal(metaSecret(db, 'pagination-token-key', () => 'other', fresh), hmac);
      const url = (db.prepare('SELECT url FROM trail_destinations WHERE ord = 0').get() as { url: string }).url;
      assert.equal(fresh.open(url, 'trail-destination'), 's3://b?secretAccessKey=x');
      assert.equal(fresh.open(readFileSync(join(keyDir, 'abc.pem'), 'utf8').trim(), 'trail-digest-key'), 'PEM');
    } finally {
      db.close();
    }
  });

  it('changes nothing in the database when a value cannot be opened', async () => {
    const dataDir = tmp();
    const db = openDatabase(dataDir);
    try {
      const stranger = new Secrets(testKey());
      const mine = new Secrets(testKey());
      metaSecret(db, 'a', () => 'x', mine);
      metaSecret(db, 'b', () => 'y', stranger);
      const before = db.prepare('SELECT key, value FROM meta ORDER BY key').all();
      await assert.rejects(rotateSecrets(new SqliteSealedValues(db), dataDir, mine.withActive(testKey())), (err: { code?: string }) => err.code === 'FT_ERR_SECRETS_UNKNOWN_KEY');
      assert.deepEqual(db.prepare('SELECT key, value FROM meta ORDER BY key').all(), before);
    } finally {
      db.close();
    }
  });
});
