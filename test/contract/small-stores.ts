/**
 * The small feature stores' contracts as tests, shared by every implementation: NonceStore,
 * SessionStore, MetaStore, PolicyHashState and ObjectStates. The SQLite implementations run them as unit tests
 * (src/store/sqlite/small-stores.contract.test.ts), the PostgreSQL ones in an integration test on
 * a real server (test/integration/store/postgres-features.test.ts).
 *
 * A backend hands out "instances" of one space: on SQLite two handles on one file, on PostgreSQL
 * two pools on one schema — what holds across instances (one nonce use wins, one meta value
 * wins, a session made through one works through the other) is tested through two of them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NonceStore } from '../../src/api/actiontrail/nonces.js';
import { Sessions, type SessionRecord, type SessionStore } from '../../src/identity/sessions.js';
import type { MetaStore } from '../../src/store/meta.js';
import type { PolicyHashState } from '../../src/pipeline/audit-policy/change.js';
import type { ObjectKey } from '../../src/sources/k8s-audit/map.js';
import type { ObjectStates } from '../../src/sources/k8s-audit/state.js';

/** One instance's stores on a shared space. */
export interface FeatureStores {
  nonces: NonceStore;
  sessions: SessionStore;
  meta: MetaStore;
  policyHash: PolicyHashState;
  objects: ObjectStates;
}

export interface FeatureSpace {
  /** A new instance on this space (its own handle or pool). */
  instance(): Promise<FeatureStores>;
  /** Closes every instance and removes what the space holds. */
  dispose(): Promise<void>;
}

export interface FeatureBackend {
  space(): Promise<FeatureSpace>;
}

const T0 = Date.parse('2026-03-01T00:00:00Z');

function record(id: string, over: Partial<SessionRecord> = {}): SessionRecord {
  return { idHash: id, userId: 'u-alice', principal: '{"principalId":"u-alice"}', csrfToken: `csrf-${id}`, createdAt: T0, lastSeenAt: T0, expiresAt: T0 + 3_600_000, ...over };
}

async function withSpace(backend: FeatureBackend, fn: (space: FeatureSpace) => Promise<void>): Promise<void> {
  const space = await backend.space();
  try {
    await fn(space);
  } finally {
    await space.dispose();
  }
}

export function nonceStoreContract(name: string, backend: FeatureBackend): void {
  describe(`NonceStore contract: ${name}`, () => {
    it('accepts a nonce once while it has not expired, again once it has, per key', () =>
      withSpace(backend, async (space) => {
        const { nonces } = await space.instance();
        assert.equal(await nonces.use('AK1', 'n1', T0 + 900_000, T0), true);
        assert.equal(await nonces.use('AK1', 'n1', T0 + 1_000_000, T0 + 1000), false);
        assert.equal(await nonces.use('AK2', 'n1', T0 + 900_000, T0), true, 'another key has its own nonces');
        assert.equal(await nonces.use('AK1', 'n1', T0 + 2_000_000, T0 + 900_001), true, 'an expired nonce may be used again');
        assert.equal(await nonces.use('AK1', 'n1', T0 + 2_000_000, T0 + 900_002), false);
      }));

    it('purges only expired nonces and says how many', () =>
      withSpace(backend, async (space) => {
        const { nonces } = await space.instance();
        await nonces.use('AK1', 'old', T0 + 10, T0);
        await nonces.use('AK1', 'new', T0 + 1000, T0);
        assert.equal(await nonces.purge(T0 + 500), 1);
        assert.equal(await nonces.use('AK1', 'new', T0 + 2000, T0 + 600), false);
      }));

    it('lets exactly one of two instances racing on the same nonce win', () =>
      withSpace(backend, async (space) => {
        const a = await space.instance();
        const b = await space.instance();
        for (let round = 0; round < 20; round++) {
          const uses = await Promise.all([a, b, a, b].map((s) => s.nonces.use('AK1', `race-${round}`, T0 + 900_000, T0)));
          assert.equal(uses.filter(Boolean).length, 1, `round ${round}: ${JSON.stringify(uses)}`);
        }
      }));
  });
}

export function sessionStoreContract(name: string, backend: FeatureBackend): void {
  describe(`SessionStore contract: ${name}`, () => {
    it('keeps a record as inserted; touch moves last-seen only; delete ends it', () =>
      withSpace(backend, async (space) => {
        const { sessions } = await space.instance();
        const r = record('h1');
        await sessions.insert(r);
        assert.deepEqual(await sessions.get('h1'), r);
        await sessions.touch('h1', T0 + 5000);
        assert.deepEqual(await sessions.get('h1'), { ...r, lastSeenAt: T0 + 5000 });
        await sessions.delete('h1');
        assert.equal(await sessions.get('h1'), undefined);
        assert.equal(await sessions.get('never'), undefined);
      }));

    it('refuses a second record with the same id', () =>
      withSpace(backend, async (space) => {
        const { sessions } = await space.instance();
        await sessions.insert(record('h1'));
        await assert.rejects(sessions.insert(record('h1', { userId: 'u-mallory' })));
        assert.equal((await sessions.get('h1'))?.userId, 'u-alice');
      }));

    it('purges sessions past their absolute lifetime or idle too long, and says how many', () =>
      withSpace(backend, async (space) => {
        const { sessions } = await space.instance();
        await sessions.insert(record('expired', { expiresAt: T0 + 10 }));
        await sessions.insert(record('idle', { lastSeenAt: T0 - 100 }));
        await sessions.insert(record('live'));
        assert.equal(await sessions.purge(T0 + 20, T0 - 50), 2);
        assert.equal(await sessions.get('expired'), undefined);
        assert.equal(await sessions.get('idle'), undefined);
        assert.ok(await sessions.get('live'));
      }));

    it("ends every session of one user, and only that user's, through any instance", () =>
      withSpace(backend, async (space) => {
        const one = (await space.instance()).sessions;
        const two = (await space.instance()).sessions;
        await one.insert(record('a1'));
        await one.insert(record('a2'));
        await one.insert(record('b1', { userId: 'u-bob' }));
        assert.equal(await two.deleteOfUser('u-alice'), 2);
        assert.equal(await one.get('a1'), undefined);
        assert.equal(await one.get('a2'), undefined);
        assert.equal((await one.get('b1'))?.userId, 'u-bob');
        assert.equal(await two.deleteOfUser('u-nobody'), 0);
      }));

    it('serves a session created through one instance to another: read, touched, ended there', () =>
      withSpace(backend, async (space) => {
        const one = new Sessions((await space.instance()).sessions, { idleMs: 3_600_000, absoluteMs: 86_400_000 });
        const twoStore = (await space.instance()).sessions;
        const two = new Sessions(twoStore, { idleMs: 3_600_000, absoluteMs: 86_400_000 });
        const { id, session } = await one.create({ type: 'ram-user', principalId: 'u-alice', userName: 'alice', role: 'viewer', method: 'password', mfaAuthenticated: false });
        const seen = await two.get(id);
        assert.equal(seen?.csrfToken, session.csrfToken);
        assert.equal(seen?.principal.principalId, 'u-alice');
        await two.destroy(id);
        assert.equal(await one.get(id), undefined);
      }));
  });
}

export function metaStoreContract(name: string, backend: FeatureBackend): void {
  describe(`MetaStore contract: ${name}`, () => {
    it('makes a secret once and returns it ever after, per key', () =>
      withSpace(backend, async (space) => {
        const { meta } = await space.instance();
        let made = 0;
        const make = () => `value-${++made}`;
        assert.equal(await meta.secret('k1', make), 'value-1');
        assert.equal(await meta.secret('k1', make), 'value-1');
        assert.equal(await meta.secret('k2', make), 'value-2');
        assert.equal(await (await space.instance()).meta.secret('k1', () => 'other'), 'value-1', 'another instance reads the same value');
      }));

    it('keeps plain values: none at first, then the one set last, in every instance', () =>
      withSpace(backend, async (space) => {
        const a = await space.instance();
        const b = await space.instance();
        assert.equal(await a.meta.get('global-events-storage-region'), undefined);
        await a.meta.set('global-events-storage-region', 'cn-hangzhou');
        assert.equal(await b.meta.get('global-events-storage-region'), 'cn-hangzhou', 'another instance reads it');
        await b.meta.set('global-events-storage-region', 'ap-southeast-1');
        assert.equal(await a.meta.get('global-events-storage-region'), 'ap-southeast-1', 'the last writer wins');
        assert.equal(await a.meta.secret('k1', () => 'secret'), 'secret', 'secrets live beside them');
        assert.equal(await a.meta.get('other'), undefined);
      }));

    it('gives every racing instance the one value that won', () =>
      withSpace(backend, async (space) => {
        const instances = [await space.instance(), await space.instance()];
        for (let round = 0; round < 10; round++) {
          const got = await Promise.all([0, 1, 0, 1].map((i, j) => instances[i]!.meta.secret(`race-${round}`, () => `v-${round}-${j}`)));
          assert.equal(new Set(got).size, 1, `round ${round}: ${JSON.stringify(got)}`);
        }
      }));
  });
}

export function policyHashStateContract(name: string, backend: FeatureBackend): void {
  describe(`PolicyHashState contract: ${name}`, () => {
    it('has no hash at first, then the one set last, in every instance', () =>
      withSpace(backend, async (space) => {
        const a = await space.instance();
        assert.equal(await a.policyHash.get(), undefined);
        await a.policyHash.set('h1');
        await a.policyHash.set('h2');
        assert.equal(await (await space.instance()).policyHash.get(), 'h2');
        assert.equal(await a.meta.secret('other', () => 'x'), 'x', 'the hash and meta secrets live side by side');
        assert.equal(await a.policyHash.get(), 'h2');
      }));
  });
}

const KEY: ObjectKey = { cluster: 'prod', resource: 'flinkdeployments', namespace: 'flink', name: 'orders' };
const digest = (v: string) => new Map([['spec.job.parallelism', v]]);

export function objectStatesContract(name: string, backend: FeatureBackend): void {
  describe(`ObjectStates contract: ${name}`, () => {
    it('keeps the state put, per key, until deleted', () =>
      withSpace(backend, async (space) => {
        const { objects } = await space.instance();
        assert.equal(await objects.get(KEY), undefined);
        await objects.put(KEY, { uid: 'u1', resourceVersion: '10', digest: digest('2') });
        assert.deepEqual(await objects.get(KEY), { uid: 'u1', resourceVersion: '10', digest: digest('2') });
        assert.equal(await objects.get({ ...KEY, namespace: 'other' }), undefined);
        await objects.delete(KEY);
        assert.equal(await objects.get(KEY), undefined);
      }));

    it('never writes an older numeric resource version over a newer one; keeps the uid when none comes', () =>
      withSpace(backend, async (space) => {
        const { objects } = await space.instance();
        await objects.put(KEY, { uid: 'u1', resourceVersion: '100', digest: digest('4') });
        await objects.put(KEY, { resourceVersion: '99', digest: digest('1') });
        assert.deepEqual(await objects.get(KEY), { uid: 'u1', resourceVersion: '100', digest: digest('4') });
        await objects.put(KEY, { resourceVersion: '101', digest: digest('8') });
        assert.deepEqual(await objects.get(KEY), { uid: 'u1', resourceVersion: '101', digest: digest('8') }, 'a newer version without uid keeps the uid');
        await objects.put(KEY, { resourceVersion: 'abc', digest: digest('9') });
        assert.equal((await objects.get(KEY))?.resourceVersion, 'abc', 'a version that is not a number counts as newer');
        await objects.put(KEY, { resourceVersion: '5', digest: digest('3') });
        assert.equal((await objects.get(KEY))?.resourceVersion, '5', 'so does any version after one that is not a number');
      }));

    it('keeps the newest version when two instances put versions out of order at once', () =>
      withSpace(backend, async (space) => {
        const a = await space.instance();
        const b = await space.instance();
        const versions = Array.from({ length: 20 }, (_, i) => String(1000 + i));
        await Promise.all(versions.map((v, i) => (i % 2 ? a : b).objects.put(KEY, { resourceVersion: v, digest: digest(v) })));
        assert.equal((await a.objects.get(KEY))?.resourceVersion, '1019');
      }));
  });
}
