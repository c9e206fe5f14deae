import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SignInThrottle, type ThrottleNotice, type ThrottleSubject } from './rate-limit.js';

const OPTS = { maxFailures: 3, windowMs: 60_000, baseDelayMs: 1000, maxDelayMs: 8000, perSourceFactor: 2 };
const admin: ThrottleSubject = { kind: 'user', name: 'admin' };
const key: ThrottleSubject = { kind: 'key', name: 'FTAKexample' };
const T0 = 1_000_000;

function throttle(opts: Partial<typeof OPTS> = {}) {
  const notices: ThrottleNotice[] = [];
  return { t: new SignInThrottle({ ...OPTS, ...opts }, (n) => notices.push(n)), notices };
}

describe('sign-in throttle', () => {
  it('lets maxFailures through, then doubles the wait up to the cap', () => {
    const { t, notices } = throttle({ perSourceFactor: 100 });
    const waits: number[] = [];
    let now = T0;
    for (let i = 0; i < 7; i++) {
      t.failed('198.51.100.7', admin, now);
      waits.push(t.waitFor('198.51.100.7', admin, now));
      now += waits[waits.length - 1] as number; // the attacker waits exactly as long as told
    }
    assert.deepEqual(waits, [0, 0, 0, 1000, 2000, 4000, 8000]);
    assert.deepEqual(notices.map((n) => [n.scope, n.waitMs]), [['pair', 1000], ['pair', 2000], ['pair', 4000], ['pair', 8000]]);
  });

  it("never makes the owner's other addresses wait, nor keys the wait on an identity alone", () => {
    const { t } = throttle();
    for (let i = 0; i < 10; i++) {
      t.failed('198.51.100.7', admin, T0);
      t.failed('198.51.100.7', key, T0);
    }
    assert.ok(t.waitFor('198.51.100.7', admin, T0) > 0);
    assert.ok(t.waitFor('198.51.100.7', key, T0) > 0, 'the attacking address waits for the key it guesses');
    assert.equal(t.waitFor('203.0.113.5', admin, T0), 0);
    assert.equal(t.waitFor('203.0.113.5', key, T0), 0);
  });

  it('bounds spraying per address, but not for identities that signed in from it, nor for AccessKeys', () => {
    const { t, notices } = throttle();
    const nat = '192.0.2.10';
    t.succeeded(nat, { kind: 'user', name: 'owner' }, T0);
    // maxFailures × perSourceFactor = 6 failures across different names, none of them past its own pair bound.
    for (let i = 0; i < 6; i++) t.failed(nat, { kind: 'user', name: `ghost-${i}` }, T0);
    assert.equal(t.waitFor(nat, { kind: 'user', name: 'newcomer' }, T0), 0, 'at the bound, not past it');
    t.failed(nat, { kind: 'user', name: 'ghost-6' }, T0);
    assert.equal(t.waitFor(nat, { kind: 'user', name: 'newcomer' }, T0), 1000);
    assert.equal(t.waitFor(nat, { kind: 'user', name: 'owner' }, T0), 0, 'vouched for by an earlier sign-in');
    assert.equal(t.waitFor(nat, key, T0), 0, 'AccessKeys cannot be guessed');
    assert.equal(t.waitFor('198.51.100.1', { kind: 'user', name: 'newcomer' }, T0), 0);
    assert.deepEqual(notices.map((n) => n.scope), ['source']);
  });

  it('does not count AccessKey failures towards the per-address bound', () => {
    const { t } = throttle();
    for (let i = 0; i < 20; i++) t.failed('192.0.2.10', { kind: 'key', name: `FTAK${i}` }, T0);
    assert.equal(t.waitFor('192.0.2.10', admin, T0), 0);
  });

  it('forgets failures a window after the last one, never during a wait, and on success', () => {
    const { t } = throttle();
    for (let i = 0; i < 3; i++) t.failed('198.51.100.7', admin, T0);
    t.failed('198.51.100.7', admin, T0 + 59_000);
    assert.equal(t.waitFor('198.51.100.7', admin, T0 + 59_500), 500);
    t.failed('198.51.100.7', admin, T0 + 118_000);
    assert.equal(t.waitFor('198.51.100.7', admin, T0 + 118_000), 2000, 'still counting: the window runs from the last failure');
    assert.equal(t.waitFor('198.51.100.7', admin, T0 + 178_000), 0);
    t.failed('198.51.100.7', admin, T0 + 178_000);
    assert.equal(t.waitFor('198.51.100.7', admin, T0 + 178_000), 0, 'forgotten: this is a first failure again');
    for (let i = 0; i < 3; i++) t.failed('198.51.100.7', admin, T0 + 180_000);
    assert.ok(t.waitFor('198.51.100.7', admin, T0 + 180_000) > 0);
    t.succeeded('198.51.100.7', admin, T0 + 200_000);
    t.failed('198.51.100.7', admin, T0 + 200_000);
    assert.equal(t.waitFor('198.51.100.7', admin, T0 + 200_000), 0, 'a success starts the pair afresh');
    const slow = new SignInThrottle({ ...OPTS, windowMs: 1000, maxDelayMs: 60_000, baseDelayMs: 30_000 });
    for (let i = 0; i < 4; i++) slow.failed('198.51.100.7', admin, T0);
    assert.equal(slow.waitFor('198.51.100.7', admin, T0 + 20_000), 10_000, 'a wait outlasts the window');
  });

  it('clears by address, by identity, or one pair', () => {
    const { t } = throttle();
    const fail = (ip: string, s: ThrottleSubject) => {
      for (let i = 0; i < 4; i++) t.failed(ip, s, T0);
    };
    fail('198.51.100.7', admin);
    fail('198.51.100.8', admin);
    fail('198.51.100.7', key);
    for (let i = 0; i < 7; i++) t.failed('198.51.100.9', { kind: 'user', name: `g${i}` }, T0);
    assert.equal(t.list(T0).length, 3 + 1);
    assert.equal(t.clear({ name: 'admin' }), 2);
    assert.equal(t.waitFor('198.51.100.8', admin, T0), 0);
    assert.ok(t.waitFor('198.51.100.7', key, T0) > 0);
    assert.equal(t.clear({ sourceIp: '198.51.100.9' }), 1 + 7);
    assert.equal(t.waitFor('198.51.100.9', { kind: 'user', name: 'new' }, T0), 0);
    assert.equal(t.clear({ sourceIp: '198.51.100.7', name: key.name }), 1);
    assert.deepEqual(t.list(T0), []);
  });
});
