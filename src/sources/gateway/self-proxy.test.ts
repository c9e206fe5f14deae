import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { selfProxies } from './self-proxy.js';

describe('selfProxies: cluster URLs that lead back to FlinkTrail', () => {
  const api = { host: '127.0.0.1', port: 41000 };
  const cluster = (url: string) => [{ name: 'c', url }];

  it('finds a URL on a listener port, by address or by a name that resolves to it', async () => {
    assert.deepEqual(await selfProxies(cluster('http://127.0.0.1:41000'), [api]), [{ cluster: 'c', url: 'http://127.0.0.1:41000', listener: api }]);
    assert.equal((await selfProxies(cluster('http://localhost:41000/'), [api])).length, 1);
  });

  it('finds a loopback URL for a listener on every address', async () => {
    const any = { host: '0.0.0.0', port: 41001 };
    assert.equal((await selfProxies(cluster('http://127.0.0.1:41001'), [api, any])).length, 1);
    assert.equal((await selfProxies(cluster('http://[::1]:41000'), [{ host: '::', port: 41000 }])).length, 1);
  });

  it('lets other ports, other hosts and names that do not resolve through', async () => {
    assert.deepEqual(await selfProxies(cluster('http://127.0.0.1:41002'), [api]), []);
    assert.deepEqual(await selfProxies(cluster('http://127.0.0.2:41000'), [api]), []);
    assert.deepEqual(await selfProxies(cluster('http://flink.invalid:41000'), [api]), []);
    // Default ports count: http://127.0.0.1 is port 80.
    assert.equal((await selfProxies(cluster('http://127.0.0.1'), [{ host: '127.0.0.1', port: 80 }])).length, 1);
  });
});
