import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isFlinkTrailError } from '../errors/index.js';
import { buildConfig, fromEnv, loadConfig } from './index.js';

describe('config', () => {
  it('fills defaults and freezes', () => {
    const c = buildConfig({ clusters: [{ name: 'a', url: 'http://127.0.0.1:8081' }] });
    assert.equal(c.store.retentionDays, 90);
    assert.equal(c.gateway.failClosed, true);
    assert.equal(c.clusters[0]?.kind, 'jobmanager');
    assert.ok(Object.isFrozen(c.gateway));
  });
  it('reports every problem at once with its path', () => {
    try {
      buildConfig({ api: { port: 'x' }, bogus: 1, clusters: [{ name: 'A!', url: 'ftp://x' }] });
      assert.fail('expected an error');
    } catch (err) {
      assert.ok(isFlinkTrailError(err));
      assert.equal(err.code, 'FT_ERR_CONFIG_INVALID');
      for (const part of ['api.port', "'bogus'", 'clusters.0.name', 'clusters.0.url']) assert.ok(err.message.includes(part), err.message);
    }
  });
  it('takes FLINKTRAIL__ environment overrides', () => {
    assert.deepEqual(fromEnv({ FLINKTRAIL__GATEWAY__FAIL_CLOSED: 'false', OTHER: '1' }), { gateway: { failClosed: false } });
    const c = loadConfig({ env: { FLINKTRAIL__API__PORT: '9999' }, overrides: { region: 'eu-1' } });
    assert.equal(c.api.port, 9999);
    assert.equal(c.region, 'eu-1');
  });
  it('takes durations such as 60s, 5m, 1h for keys counted in a unit of time, from every source', () => {
    const c = loadConfig({
      env: { FLINKTRAIL__TRAILS__DIGEST_INTERVAL_SECONDS: '2h', FLINKTRAIL__AUTH__SESSION__IDLE_MINUTES: '90' },
      overrides: { store: { retentionDays: '180d', flushIntervalMs: '50ms' }, gateway: { upstreamTimeoutMs: '2m' }, auth: { rateLimit: { windowSeconds: '5m' } } },
    });
    assert.equal(c.trails.digestIntervalSeconds, 7200);
    assert.equal(c.auth.session.idleMinutes, 90);
    assert.equal(c.store.retentionDays, 180);
    assert.equal(c.store.flushIntervalMs, 50);
    assert.equal(c.gateway.upstreamTimeoutMs, 120_000);
    assert.equal(c.auth.rateLimit.windowSeconds, 300);
  });
  it('reports a bad duration once, with its path, next to the other problems; limits apply after conversion', () => {
    try {
      buildConfig({ trails: { digestIntervalSeconds: '1500ms' }, auth: { session: { idleMinutes: 'soon' } }, store: { flushIntervalMs: '2s' }, api: { port: 'x' } });
      assert.fail('expected an error');
    } catch (err) {
      assert.ok(isFlinkTrailError(err));
      assert.match(err.message, /trails\.digestIntervalSeconds: '1500ms' is not a whole number of seconds/);
      assert.match(err.message, /auth\.session\.idleMinutes: 'soon' is not a duration/);
      assert.match(err.message, /store\.flushIntervalMs: must be <= 1000/);
      assert.match(err.message, /api\.port/);
      assert.equal(err.message.match(/idleMinutes/g)?.length, 1, err.message);
    }
  });
  it('refuses duplicate cluster names', () => {
    assert.throws(() => buildConfig({ clusters: [{ name: 'a', url: 'http://x' }, { name: 'a', url: 'http://y' }] }), /duplicate/);
  });
});
