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
  it('refuses duplicate cluster names', () => {
    assert.throws(() => buildConfig({ clusters: [{ name: 'a', url: 'http://x' }, { name: 'a', url: 'http://y' }] }), /duplicate/);
  });
});
