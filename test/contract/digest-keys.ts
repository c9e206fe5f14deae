/**
 * The DigestKeyStore contract as tests, shared by every implementation: the SQLite store runs it
 * as a unit test (src/trails/sqlite/digest-keys.contract.test.ts), the PostgreSQL store on a real
 * server (test/integration/store/postgres-digest-keys.test.ts).
 *
 * A backend hands out "instances" of one space, each with a data directory: on SQLite two
 * handles on one file and the one data directory they share (the private halves are its files),
 * on PostgreSQL two pools on one schema and a data directory each — two FlinkTrail processes, of
 * which either may deliver a trail. What must hold across them: at most one active key, every
 * instance signs with it (also when two make their first key, or rotate, at the same moment), a
 * rotation through one is what the other signs with next, and a private half is stored sealed.
 */
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isSealed, type Secrets } from '../../src/secrets/index.js';
import { DIGEST_KEY_CONTEXT, DIGEST_KEY_DIR, DigestKeys, digestKeyFile, fingerprintOf, importPublicKey, type DigestKeyStore, type NewDigestKey } from '../../src/trails/digest/keys.js';

/** One instance on a shared space: its store and its data directory. */
export interface DigestKeyInstance {
  store: DigestKeyStore;
  dataDir: string;
}

export interface DigestKeySpace {
  /** The master key ring every instance of the space has (the same `secrets.masterKey`). */
  secrets: Secrets;
  /** A new instance on this space (its own handle or pool). */
  instance(): Promise<DigestKeyInstance>;
  /** Closes every instance and removes what the space holds. */
  dispose(): Promise<void>;
}

export interface DigestKeyBackend {
  space(): Promise<DigestKeySpace>;
}

const T0 = Date.parse('2026-03-01T00:00:00Z');

async function withSpace(backend: DigestKeyBackend, fn: (space: DigestKeySpace) => Promise<void>): Promise<void> {
  const space = await backend.space();
  try {
    await fn(space);
  } finally {
    await space.dispose();
  }
}

/** A key as `DigestKeys` hands it to a store: sealed private half exactly when the store keeps them. */
function newKey(space: DigestKeySpace, store: DigestKeyStore): NewDigestKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const sealed = space.secrets.seal(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, DIGEST_KEY_CONTEXT);
  return { fingerprint: fingerprintOf(publicKey), publicKey: publicKey.export({ type: 'spki', format: 'pem' }) as string, ...(store.privateKeys === 'store' ? { sealedPrivateKey: sealed } : {}) };
}

/** Signs with `signer` and checks the signature with the key `reader` publishes under that fingerprint. */
async function verifiesThrough(reader: DigestKeys, signer: { fingerprint: string; privateKey: KeyObject }): Promise<boolean> {
  const data = randomBytes(64);
  const info = (await reader.publicKeys()).find((k) => k.Fingerprint === signer.fingerprint);
  assert.ok(info, `key ${signer.fingerprint} is published`);
  return verify(null, data, importPublicKey(info), sign(null, data, signer.privateKey));
}

export function digestKeyStoreContract(name: string, backend: DigestKeyBackend): void {
  describe(`DigestKeyStore contract: ${name}`, () => {
    it('has no active key at first; an activation ends the validity of the key before at that moment', () =>
      withSpace(backend, async (space) => {
        const { store } = await space.instance();
        assert.equal(await store.activeFingerprint(), undefined);
        assert.deepEqual(await store.list(), []);
        const k1 = newKey(space, store);
        assert.equal(await store.activate(k1, T0, undefined), k1.fingerprint);
        assert.equal(await store.activeFingerprint(), k1.fingerprint);
        const k2 = newKey(space, store);
        assert.equal(await store.activate(k2, T0 + 1000, k1.fingerprint), k2.fingerprint);
        assert.equal(await store.activeFingerprint(), k2.fingerprint);
        assert.deepEqual(await store.list(), [
          { fingerprint: k1.fingerprint, publicKey: k1.publicKey, validFrom: T0, validTo: T0 + 1000 },
          { fingerprint: k2.fingerprint, publicKey: k2.publicKey, validFrom: T0 + 1000, validTo: null },
        ]);
      }));

    it('changes nothing when the caller saw another key active than the one that is, and answers the one that is', () =>
      withSpace(backend, async (space) => {
        const { store } = await space.instance();
        const k1 = newKey(space, store);
        await store.activate(k1, T0, undefined);
        assert.equal(await store.activate(newKey(space, store), T0 + 10, undefined), k1.fingerprint, 'a "first" key after one was made');
        assert.equal(await store.activate(newKey(space, store), T0 + 20, 'f'.repeat(32)), k1.fingerprint, 'a rotation of a key that is no longer active');
        assert.deepEqual(
          (await store.list()).map((k) => [k.fingerprint, k.validTo]),
          [[k1.fingerprint, null]],
        );
      }));

    it('keeps the sealed private half where it says: in the store, or (files) nowhere in it', () =>
      withSpace(backend, async (space) => {
        const { store } = await space.instance();
        const k = newKey(space, store);
        await store.activate(k, T0, undefined);
        assert.equal(await store.sealedPrivateKey(k.fingerprint), k.sealedPrivateKey);
        assert.equal(await store.sealedPrivateKey('0'.repeat(32)), undefined);
      }));

    it('lets one of two instances activating at the same moment win, first key or rotation; both answer the winner', () =>
      withSpace(backend, async (space) => {
        const a = (await space.instance()).store;
        const b = (await space.instance()).store;
        let active: string | undefined;
        for (let round = 0; round < 10; round++) {
          const [ka, kb] = [newKey(space, a), newKey(space, b)];
          const answers = await Promise.all([a.activate(ka, T0 + round, active), b.activate(kb, T0 + round, active)]);
          assert.equal(answers[0], answers[1], `round ${round}: ${JSON.stringify(answers)}`);
          assert.ok([ka.fingerprint, kb.fingerprint].includes(answers[0]));
          active = answers[0];
          assert.equal(await a.activeFingerprint(), active);
          assert.equal(await b.activeFingerprint(), active);
        }
        const keys = await a.list();
        assert.equal(keys.length, 10, 'one key per round');
        assert.deepEqual(
          keys.filter((k) => k.validTo === null).map((k) => k.fingerprint),
          [active],
        );
      }));

    it('has two instances (DigestKeys, each on its own data directory) sign with the one active key, made by whichever came first', () =>
      withSpace(backend, async (space) => {
        const one = await space.instance();
        const two = await space.instance();
        const a = new DigestKeys(one.store, one.dataDir, space.secrets);
        const b = new DigestKeys(two.store, two.dataDir, space.secrets);
        const [sa, sb] = await Promise.all([a.active(T0), b.active(T0)]);
        assert.equal(sa.fingerprint, sb.fingerprint);
        assert.equal((await a.publicKeys()).length, 1, 'one key made, not one per instance');
        assert.ok(await verifiesThrough(b, sa), "one instance's signature verifies with the key the other publishes");
        assert.ok(await verifiesThrough(a, sb));
        if (one.store.privateKeys === 'files') {
          assert.deepEqual(readdirSync(join(one.dataDir, DIGEST_KEY_DIR)), [`${sa.fingerprint}.pem`], 'the losing key file is removed');
        }
      }));

    it('has a rotation through one instance signed with by the other next, the old key published with its end', () =>
      withSpace(backend, async (space) => {
        const one = await space.instance();
        const two = await space.instance();
        const a = new DigestKeys(one.store, one.dataDir, space.secrets);
        const b = new DigestKeys(two.store, two.dataDir, space.secrets);
        const first = await b.active(T0);
        const rotated = await a.rotate(T0 + 60_000);
        assert.notEqual(rotated.fingerprint, first.fingerprint);
        const next = await b.active(T0 + 61_000);
        assert.equal(next.fingerprint, rotated.fingerprint);
        assert.ok(await verifiesThrough(a, next));
        assert.deepEqual(
          (await b.publicKeys()).map((k) => [k.Fingerprint, k.ValidityStartTime, k.ValidityEndTime]),
          [
            [first.fingerprint, new Date(T0).toISOString(), new Date(T0 + 60_000).toISOString()],
            [rotated.fingerprint, new Date(T0 + 60_000).toISOString(), undefined],
          ],
        );

        // Both rotate at the same moment: one rotation, both sign with its key.
        const [ra, rb] = await Promise.all([a.rotate(T0 + 120_000), b.rotate(T0 + 120_000)]);
        assert.equal(ra.fingerprint, rb.fingerprint);
        assert.equal((await a.publicKeys()).length, 3);
      }));

    it('never stores a private half in clear: sealed with the master key, context trail-digest-key', () =>
      withSpace(backend, async (space) => {
        const one = await space.instance();
        const keys = new DigestKeys(one.store, one.dataDir, space.secrets);
        const signer = await keys.active(T0);
        const stored = one.store.privateKeys === 'store' ? await one.store.sealedPrivateKey(signer.fingerprint) : readFileSync(digestKeyFile(one.dataDir, signer.fingerprint), 'utf8').trim();
        assert.ok(stored !== undefined && isSealed(stored), 'sealed');
        assert.ok(!stored.includes('PRIVATE KEY'));
        const pem = space.secrets.open(stored, DIGEST_KEY_CONTEXT);
        assert.equal(fingerprintOf(createPublicKey(pem)), signer.fingerprint, 'the sealed PEM is the key that signs');
        if (one.store.privateKeys === 'store') assert.equal(existsSync(join(one.dataDir, DIGEST_KEY_DIR)), false, 'no key file in the data directory');
      }));
  });
}
