import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isFlinkTrailError } from '../errors/index.js';
import { endpointRegion, lookupQuery } from '../api/actiontrail/actions.js';
import { RpcParams } from '../api/actiontrail/params.js';
import { checkManagementAccount, checkStorageRegion, configuredRegions, knownRegionList, queryRegion, StorageRegion, STORAGE_REGION_KEY } from './index.js';

const codeOf = async (fn: () => unknown): Promise<string | undefined> => {
  try {
    await fn();
    return undefined;
  } catch (err) {
    assert.ok(isFlinkTrailError(err), `expected a coded error, got ${String(err)}`);
    return err.code;
  }
};

const config = {
  region: 'local',
  clusters: [
    { name: 'a', url: 'http://a', kind: 'jobmanager' as const, region: 'eu-west-1' },
    { name: 'b', url: 'http://b', kind: 'jobmanager' as const },
  ],
  trails: { knownRegions: ['cn-hangzhou'] },
} as unknown as Parameters<typeof configuredRegions>[0];

/** A MetaStore's plain values in memory, counting reads. */
function memoryMeta() {
  const values = new Map<string, string>();
  const m = {
    reads: 0,
    values,
    get: (k: string) => {
      m.reads++;
      return Promise.resolve(values.get(k));
    },
    set: (k: string, v: string) => {
      values.set(k, v);
      return Promise.resolve();
    },
  };
  return m;
}

describe('regions', () => {
  it('queryRegion: the home region by default, * for all, a region name otherwise', async () => {
    assert.equal(queryRegion(undefined, 'local'), 'local');
    assert.equal(queryRegion('*', 'local'), undefined);
    assert.equal(queryRegion('us-east-1', 'local'), 'us-east-1');
    for (const bad of ['', '*,local', 'Local', 'local_1', '-x', '../x']) assert.equal(await codeOf(() => queryRegion(bad, 'local')), 'FT_ERR_QUERY_INVALID_PARAMETER', bad);
  });

  it('the region marker of global events can never be a region name', () => {
    assert.equal(queryRegion('*', 'local'), undefined, '* means every region, never a region called *');
    assert.throws(() => queryRegion('**', 'local'));
  });

  it('knows the home region, the clusters\', trails.knownRegions and the storage region', async () => {
    assert.deepEqual([...configuredRegions(config)].sort(), ['cn-hangzhou', 'eu-west-1', 'local']);
    const meta = memoryMeta();
    const storage = new StorageRegion(meta, 'local');
    await storage.load();
    assert.deepEqual(await knownRegionList(config, storage), ['cn-hangzhou', 'eu-west-1', 'local']);
    // One the configuration no longer names (set before a change) is still listed.
    meta.values.set(STORAGE_REGION_KEY, 'ap-southeast-1');
    await storage.load();
    assert.deepEqual(await knownRegionList(config, storage), ['ap-southeast-1', 'cn-hangzhou', 'eu-west-1', 'local']);
  });

  it('a new storage region must be a configured region', async () => {
    assert.equal(checkStorageRegion(config, 'eu-west-1'), 'eu-west-1');
    for (const bad of ['us-east-1', '', '*', 42, undefined]) assert.equal(await codeOf(() => checkStorageRegion(config, bad)), 'FT_ERR_REGION_UNKNOWN', String(bad));
  });

  it('only the management account may change it: a caller without an account is the management account', async () => {
    const mgmt = '1000000000000001';
    checkManagementAccount(undefined, mgmt);
    checkManagementAccount({}, mgmt);
    checkManagementAccount({ accountId: mgmt }, mgmt);
    assert.equal(await codeOf(() => checkManagementAccount({ accountId: '2000000000000002' }, mgmt)), 'FT_ERR_REGION_MANAGEMENT_ONLY');
  });

  it('StorageRegion: the home region until one is set; read again once older than the cache bound', async () => {
    const meta = memoryMeta();
    let now = 0;
    const a = new StorageRegion(meta, 'local', { cacheMs: 5000, now: () => now });
    assert.equal(await a.load(), 'local');
    // Another instance on the same store sets it.
    const b = new StorageRegion(meta, 'local', { cacheMs: 5000, now: () => now });
    await b.set('eu-west-1');
    assert.equal(b.current(), 'eu-west-1', 'the setter uses it at once');
    now = 4999;
    assert.equal(a.current(), 'local', 'within the bound: the cached value');
    assert.equal(await a.get(), 'local');
    const reads = meta.reads;
    now = 5000;
    assert.equal(a.current(), 'local', 'current() never waits; it starts a refresh');
    await new Promise((r) => setImmediate(r));
    assert.equal(meta.reads, reads + 1);
    assert.equal(a.current(), 'eu-west-1');
    now = 20_000;
    await b.set('cn-hangzhou');
    assert.equal(await a.get(), 'cn-hangzhou', 'get() past the bound reads again');
    // A value no region can be (edited by hand) is not used.
    meta.values.set(STORAGE_REGION_KEY, 'Not A Region');
    assert.equal(await a.load(), 'local');
  });

  it('RPC LookupEvents asks the Region attribute, else RegionId, else the home region', () => {
    const p = (o: Record<string, string>) => lookupQuery(new RpcParams(Object.entries(o)));
    assert.equal(p({})['region'], undefined, 'the REST default applies: the home region');
    assert.equal(p({ RegionId: 'cn-hangzhou' })['region'], 'cn-hangzhou');
    assert.equal(p({ RegionId: 'cn-hangzhou', 'LookupAttribute.1.Key': 'Region', 'LookupAttribute.1.Value': '*' })['region'], '*');
    assert.equal(p({ RegionId: '' })['region'], undefined);
    // The endpoint's region (actiontrail.<region>.…) when RegionId is absent.
    assert.equal(endpointRegion('actiontrail.cn-hangzhou.aliyuncs.com'), 'cn-hangzhou');
    assert.equal(endpointRegion('ActionTrail.eu-west-1.example.com:8443'), 'eu-west-1');
    for (const h of ['127.0.0.1:8080', 'flinktrail.example.com', 'actiontrail.aliyuncs.com', 'actiontrail..x']) assert.equal(endpointRegion(h), undefined, h);
    const q = (o: Record<string, string>, host: string) => lookupQuery(new RpcParams(Object.entries(o)), endpointRegion(host))['region'];
    assert.equal(q({}, 'actiontrail.eu-west-1.example.com'), 'eu-west-1');
    assert.equal(q({ RegionId: 'cn-hangzhou' }, 'actiontrail.eu-west-1.example.com'), 'cn-hangzhou', 'RegionId first');
    assert.equal(q({ 'LookupAttribute.1.Key': 'Region', 'LookupAttribute.1.Value': '*' }, 'actiontrail.eu-west-1.example.com'), '*');
  });
});
