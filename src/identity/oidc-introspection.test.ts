/** What an introspection answer must say to be accepted, and the bounded cache of accepted answers. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IntrospectionCache, judgeIntrospection } from './oidc-introspection.js';

const NOW = Date.parse('2030-01-01T00:00:00Z');
const sec = NOW / 1000;
const expect = { issuer: 'https://idp', audience: 'urn:ft', clientId: 'ft', clockSkewSeconds: 5, nowMs: NOW };
const good = { active: true, iss: 'https://idp', aud: 'urn:ft', token_type: 'Bearer', exp: sec + 60, sub: 'alice' };

describe('judgeIntrospection', () => {
  it('accepts an active access token for this audience and refuses everything else with a reason', () => {
    assert.equal(judgeIntrospection(good, expect).ok, true);
    assert.equal(judgeIntrospection({ ...good, aud: ['other', 'urn:ft'] }, expect).ok, true);
    const reason = (a: Record<string, unknown>, e = expect) => {
      const v = judgeIntrospection(a, e);
      return v.ok ? 'accepted' : v.reason;
    };
    assert.equal(reason({ active: false }), 'inactive token');
    assert.equal(reason({ ...good, active: 'true' }), 'inactive token', 'only the JSON true');
    assert.equal(reason({ ...good, iss: 'https://evil' }), 'foreign issuer');
    assert.equal(reason({ ...good, aud: 'urn:other' }), 'wrong audience');
    assert.equal(reason({ ...good, aud: undefined }), 'wrong audience', 'no aud and audience is not the client id');
    assert.equal(reason({ ...good, aud: undefined, client_id: 'ft' }, { ...expect, audience: 'ft' }), 'accepted');
    assert.equal(reason({ ...good, aud: undefined, client_id: 'cli' }, { ...expect, audience: 'ft' }), 'wrong audience');
    assert.equal(reason({ ...good, token_type: 'refresh_token' }), 'not an access token');
    assert.equal(reason({ ...good, exp: sec - 6 }), 'token expired');
    assert.equal(reason({ ...good, exp: sec - 4 }), 'accepted', 'within the clock skew');
  });
});

describe('IntrospectionCache', () => {
  it('keeps accepted answers until the TTL or the token exp, whichever is first, and stays bounded', () => {
    const cache = new IntrospectionCache(60, 2);
    cache.put('t1', { sub: 'a', exp: sec + 10 }, NOW);
    assert.deepEqual(cache.get('t1', NOW + 9_000), { sub: 'a', exp: sec + 10 });
    assert.equal(cache.get('t1', NOW + 10_000), undefined, 'not past exp');
    cache.put('t2', { sub: 'b' }, NOW);
    assert.ok(cache.get('t2', NOW + 59_000));
    assert.equal(cache.get('t2', NOW + 60_000), undefined, 'not past the TTL');
    cache.put('a', { sub: 'a' }, NOW);
    cache.put('b', { sub: 'b' }, NOW);
    cache.put('c', { sub: 'c' }, NOW);
    assert.equal(cache.size, 2);
    assert.equal(cache.get('a', NOW), undefined, 'the oldest went first');
    assert.ok(cache.get('c', NOW));
    const off = new IntrospectionCache(0);
    off.put('t', { sub: 'a' }, NOW);
    assert.equal(off.get('t', NOW), undefined, 'TTL 0 caches nothing');
  });
});
