/**
 * The DigestKeyStore contract (test/contract/digest-keys.ts) against the embedded store: each
 * "instance" is its own connection to one database file, and both share the data directory that
 * holds the private halves as files — as two processes on one data directory would. Also: a data
 * directory from before keeps signing with its key files as they are.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { digestKeyStoreContract } from '../../../test/contract/digest-keys.js';
import { testSecrets } from '../../../test/helpers/secrets.js';
import { isSealed } from '../../secrets/index.js';
import { openDatabase, type Db } from '../../store/sqlite/database.js';
import { DIGEST_KEY_CONTEXT, DIGEST_KEY_DIR, DigestKeys, digestKeyFile, fingerprintOf } from '../digest/keys.js';
import { SqliteDigestKeyStore } from './digest-keys.js';

digestKeyStoreContract('SQLite', {
  space() {
    const dir = mkdtempSync(join(tmpdir(), 'ft-digest-keys-'));
    const dbs: Db[] = [];
    return Promise.resolve({
      secrets: testSecrets(),
      instance() {
        const db = openDatabase(dir);
        dbs.push(db);
        return Promise.resolve({ store: new SqliteDigestKeyStore(db), dataDir: dir });
      },
      dispose() {
        for (const db of dbs) db.close();
        rmSync(dir, { recursive: true, force: true });
        return Promise.resolve();
      },
    });
  },
});

describe('SqliteDigestKeyStore on a data directory from before', () => {
  it('signs with the key files it has — a sealed one as it is, one written in clear sealed on first use', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ft-digest-keys-old-'));
    const db = openDatabase(dir);
    try {
      const secrets = testSecrets();
      // What an earlier version left: the public half in the table, the private half a file in clear.
      const { privateKey, publicKey } = generateKeyPairSync('ed25519');
      const fingerprint = fingerprintOf(publicKey);
      db.prepare('INSERT INTO trail_digest_keys (fingerprint, public_key, valid_from, valid_to) VALUES (?, ?, ?, NULL)').run(fingerprint, publicKey.export({ type: 'spki', format: 'pem' }), 1000);
      mkdirSync(join(dir, DIGEST_KEY_DIR), { mode: 0o700 });
      const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
      writeFileSync(digestKeyFile(dir, fingerprint), pem, { mode: 0o600 });

      const keys = new DigestKeys(new SqliteDigestKeyStore(db), dir, secrets);
      assert.equal((await keys.active(2000)).fingerprint, fingerprint);
      const file = readFileSync(digestKeyFile(dir, fingerprint), 'utf8').trim();
      assert.ok(isSealed(file), 'sealed on first use');
      assert.equal(secrets.open(file, DIGEST_KEY_CONTEXT), pem.trim());
      // A new process on the directory reads the sealed file.
      assert.equal((await new DigestKeys(new SqliteDigestKeyStore(db), dir, secrets).active(3000)).fingerprint, fingerprint);
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
