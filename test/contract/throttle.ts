/**
 * The sign-in throttle's rules over each ThrottleStore, as tests shared by every implementation:
 * the in-memory store runs them as a unit test (src/identity/rate-limit.test.ts), the PostgreSQL
 * store in test/integration/store/postgres-throttle.test.ts, where two instances on one
 * database also count into the same counters.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { SignInThrottle, type ThrottleNotice, type ThrottleSubject } from '../../src/identity/rate-limit.js';
import type { ThrottleStore } from '../../src/identity/throttle-store.js';

export interface ThrottleSpace {
  /** A new instance's store on this space (PostgreSQL: its own pool on one schema). */
  instance(): Promise<ThrottleStore>;
  dispose(): Promise<void>;
}

export interface ThrottleBackend {
  space(): Promise<ThrottleSpace>;
}

const OPTS = { maxFailures: 3, windowMs: 60_000, baseDelayMs: 1000, maxDelayMs: 8000, perSourceFactor: 2 };
const admin: ThrottleSubject = { kind: 'user', name: 'admin' };
const key: ThrottleSubject = { kind: 'key', name: 'FTAKexample' };
const T0 = 1_000_000;

export function throttleContract(name: string, backend: ThrottleBackend): void {
  describe(`sign-in throttle: ${name}`, () => {
    let space: ThrottleSpace;
    beforeEach(async () => {
      space = await backend.space();
    });
    afterEach(() => space.dispose());

    async function throttle(opts: Partial<typeof OPTS> = {}) {
      const notices: ThrottleNotice[] = [];
      return { t: new SignInThrottle({ ...OPTS, ...opts }, (n) => notices.push(n), await space.instance()), notices };
    }

    it('lets maxFailures through, then doubles the wait up to the cap', async () => {
      const { t, notices } = await throttle({ perSourceFactor: 100 });
      const waits: number[] = [];
      let now = T0;
      for (let i = 0; i < 7; i++) {
        await t.failed('198.51.100.7', admin, now);
        waits.push(await t.waitFor('198.51.100.7', admin, now));
        now += waits[waits.length - 1] as number; // the attacker waits exactly as long as told
      }
      assert.deepEqual(waits, [0, 0, 0, 1000, 2000, 4000, 8000]);
      assert.deepEqual(notices.map((n) => [n.scope, n.waitMs]), [['pair', 1000], ['pair', 2000], ['pair', 4000], ['pair', 8000]]);
    });

    it("never makes the owner's other addresses wait, nor keys the wait on an identity alone", async () => {
      const { t } = await throttle();
      for (let i = 0; i < 10; i++) {
        await t.failed('198.51.100.7', admin, T0);
        await t.failed('198.51.100.7', key, T0);
      }
      assert.ok(await t.waitFor('198.51.100.7', admin, T0) > 0);
      assert.ok(await t.waitFor('198.51.100.7', key, T0) > 0, 'the attacking address waits for the key it guesses');
      assert.equal(await t.waitFor('203.0.113.5', admin, T0), 0);
      assert.equal(await t.waitFor('203.0.113.5', key, T0), 0);
    });

    it('bounds spraying per address, but not for identities that signed in from it, nor for AccessKeys', async () => {
      const { t, notices } = await throttle();
      const nat = '192.0.2.10';
      await t.succeeded(nat, { kind: 'user', name: 'owner' }, T0);
      // maxFailures × perSourceFactor = 6 failures across different names, none of them past its own pair bound.
      for (let i = 0; i < 6; i++) await t.failed(nat, { kind: 'user', name: `ghost-${i}` }, T0);
      assert.equal(await t.waitFor(nat, { kind: 'user', name: 'newcomer' }, T0), 0, 'at the bound, not past it');
      await t.failed(nat, { kind: 'user', name: 'ghost-6' }, T0);
      assert.equal(await t.waitFor(nat, { kind: 'user', name: 'newcomer' }, T0), 1000);
      assert.equal(await t.waitFor(nat, { kind: 'user', name: 'owner' }, T0), 0, 'vouched for by an earlier sign-in');
      assert.equal(await t.waitFor(nat, key, T0), 0, 'AccessKeys cannot be guessed');
      assert.equal(await t.waitFor('198.51.100.1', { kind: 'user', name: 'newcomer' }, T0), 0);
      assert.deepEqual(notices.map((n) => n.scope), ['source']);
    });

    it('does not count AccessKey failures towards the per-address bound', async () => {
      const { t } = await throttle();
      for (let i = 0; i < 20; i++) await t.failed('192.0.2.10', { kind: 'key', name: `FTAK${i}` }, T0);
      assert.equal(await t.waitFor('192.0.2.10', admin, T0), 0);
    });

    it('forgets failures a window after the last one, never during a wait, and on success', async () => {
      const { t } = await throttle();
      for (let i = 0; i < 3; i++) await t.failed('198.51.100.7', admin, T0);
      await t.failed('198.51.100.7', admin, T0 + 59_000);
      assert.equal(await t.waitFor('198.51.100.7', admin, T0 + 59_500), 500);
      await t.failed('198.51.100.7', admin, T0 + 118_000);
      assert.equal(await t.waitFor('198.51.100.7', admin, T0 + 118_000), 2000, 'still counting: the window runs from the last failure');
      assert.equal(await t.waitFor('198.51.100.7', admin, T0 + 178_000), 0);
      await t.failed('198.51.100.7', admin, T0 + 178_000);
      assert.equal(await t.waitFor('198.51.100.7', admin, T0 + 178_000), 0, 'forgotten: this is a first failure again');
      for (let i = 0; i < 3; i++) await t.failed('198.51.100.7', admin, T0 + 180_000);
      assert.ok(await t.waitFor('198.51.100.7', admin, T0 + 180_000) > 0);
      await t.succeeded('198.51.100.7', admin, T0 + 200_000);
      await t.failed('198.51.100.7', admin, T0 + 200_000);
      assert.equal(await t.waitFor('198.51.100.7', admin, T0 + 200_000), 0, 'a success starts the pair afresh');
      const slow = new SignInThrottle({ ...OPTS, windowMs: 1000, maxDelayMs: 60_000, baseDelayMs: 30_000 }, undefined, await space.instance());
      for (let i = 0; i < 4; i++) await slow.failed('198.51.100.70', admin, T0);
      assert.equal(await slow.waitFor('198.51.100.70', admin, T0 + 20_000), 10_000, 'a wait outlasts the window');
    });

    it('clears by address, by identity, or one pair', async () => {
      const { t } = await throttle();
      const fail = async (ip: string, s: ThrottleSubject) => {
        for (let i = 0; i < 4; i++) await t.failed(ip, s, T0);
      };
      await fail('198.51.100.7', admin);
      await fail('198.51.100.8', admin);
      await fail('198.51.100.7', key);
      for (let i = 0; i < 7; i++) await t.failed('198.51.100.9', { kind: 'user', name: `g${i}` }, T0);
      assert.equal((await t.list(T0)).length, 3 + 1);
      assert.equal(await t.clear({ name: 'admin' }), 2);
      assert.equal(await t.waitFor('198.51.100.8', admin, T0), 0);
      assert.ok(await t.waitFor('198.51.100.7', key, T0) > 0);
      assert.equal(await t.clear({ sourceIp: '198.51.100.9' }), 1 + 7);
      assert.equal(await t.waitFor('198.51.100.9', { kind: 'user', name: 'new' }, T0), 0);
      assert.equal(await t.clear({ sourceIp: '198.51.100.7', name: key.name }), 1);
      assert.deepEqual(await t.list(T0), []);
    });

    it('counts failures made through two instances into one counter, and makes the address wait at both', async () => {
      const one = new SignInThrottle(OPTS, undefined, await space.instance());
      const two = new SignInThrottle(OPTS, undefined, await space.instance());
      await Promise.all([one.failed('198.51.100.7', admin, T0), two.failed('198.51.100.7', admin, T0), one.failed('198.51.100.7', admin, T0)]);
      assert.equal(await one.waitFor('198.51.100.7', admin, T0), 0, 'three free failures, counted once each');
      await two.failed('198.51.100.7', admin, T0);
      assert.equal(await one.waitFor('198.51.100.7', admin, T0), 1000);
      assert.equal(await two.waitFor('198.51.100.7', admin, T0), 1000);
      assert.equal((await one.list(T0)).length, 1);
      assert.equal(await one.clear({ name: 'admin' }), 1);
      assert.equal(await two.waitFor('198.51.100.7', admin, T0), 0);
    });

    it('counts and clears any name a caller sends, NUL and all', async () => {
      const { t } = await throttle();
      const odd: ThrottleSubject = { kind: 'user', name: 'ad\0min\u{1F600}' };
      for (let i = 0; i < 4; i++) await t.failed('198.51.100.7', odd, T0);
      assert.equal(await t.waitFor('198.51.100.7', odd, T0), 1000);
      assert.equal(await t.waitFor('198.51.100.7', admin, T0), 0, 'another name');
      assert.equal(await t.clear({ name: odd.name }), 1);
      assert.equal(await t.waitFor('198.51.100.7', odd, T0), 0);
    });

    it('purges counters whose failures are forgotten, keeps the waiting ones', async () => {
      const { t } = await throttle();
      for (let i = 0; i < 4; i++) await t.failed('198.51.100.7', admin, T0);
      await t.failed('198.51.100.8', admin, T0);
      for (let i = 0; i < 4; i++) await t.failed('198.51.100.9', admin, T0 + 60_500);
      assert.equal(await t.purge(T0 + 30_000), 0, 'within the window');
      assert.equal(await t.purge(T0 + 61_000), 4, 'the pairs and addresses of .7 and .8: past their wait and window');
      assert.equal(await t.waitFor('198.51.100.9', admin, T0 + 61_000), 500, '.9 still waits');
      assert.equal((await t.list(T0 + 61_000)).length, 1);
    });
  });
}
