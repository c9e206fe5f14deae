import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isFlinkTrailError } from '../../errors/index.js';
import { lookupQuery, MAX_LOOKUP_ATTRIBUTES, recordedParameters } from './actions.js';
import { RpcParams } from './params.js';
import { Throttle } from './throttle.js';

const p = (o: Record<string, string>) => new RpcParams(Object.entries(o));
const codeOf = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    assert.ok(isFlinkTrailError(err), String(err));
    return err.code;
  }
  assert.fail('no error');
};

describe('RPC parameters', () => {
  it('reads a flattened list in order', () => {
    const list = p({ 'LookupAttribute.2.Key': 'User', 'LookupAttribute.1.Key': 'EventName', 'LookupAttribute.1.Value': 'CancelJob', 'LookupAttribute.2.Value': 'alice' }).list('LookupAttribute', ['Key', 'Value'], 5);
    assert.deepEqual(list, [
      { Key: 'EventName', Value: 'CancelJob' },
      { Key: 'User', Value: 'alice' },
    ]);
    assert.deepEqual(p({ 'Destinations.1': 'local', 'Destinations.2': 'file:///x' }).list('Destinations', [], 10), [{ '': 'local' }, { '': 'file:///x' }]);
  });

  it('refuses malformed names, gaps, too many entries and missing fields with coded errors', () => {
    const list = (o: Record<string, string>, max = 5) => () => p(o).list('LookupAttribute', ['Key', 'Value'], max);
    assert.equal(codeOf(list({ 'LookupAttribute.x.Key': 'EventName' })), 'FT_ERR_RPC_INVALID_PARAMETER');
    assert.equal(codeOf(list({ 'LookupAttribute.0.Key': 'EventName', 'LookupAttribute.0.Value': 'a' })), 'FT_ERR_RPC_INVALID_PARAMETER');
    assert.equal(codeOf(list({ 'LookupAttribute.1.Name': 'EventName' })), 'FT_ERR_RPC_INVALID_PARAMETER');
    assert.equal(codeOf(list({ 'LookupAttribute.1.Key': 'a', 'LookupAttribute.1.Value': 'b', 'LookupAttribute.3.Key': 'c', 'LookupAttribute.3.Value': 'd' })), 'FT_ERR_RPC_INVALID_PARAMETER');
    assert.equal(codeOf(list({ 'LookupAttribute.1.Key': 'a', 'LookupAttribute.1.Value': 'b', 'LookupAttribute.2.Key': 'c', 'LookupAttribute.2.Value': 'd' }, 1)), 'FT_ERR_RPC_INVALID_PARAMETER');
    assert.equal(codeOf(list({ 'LookupAttribute.1.Key': 'a' })), 'FT_ERR_RPC_MISSING_PARAMETER');
  });

  it('refuses a parameter given twice and unknown parameters, and ignores the signature envelope', () => {
    assert.equal(codeOf(() => new RpcParams([['Name', 'a'], ['Name', 'b']])), 'FT_ERR_RPC_INVALID_PARAMETER');
    assert.equal(codeOf(() => p({ Name: 'a', Nmae: 'b' }).onlyKnown(['Name'])), 'FT_ERR_RPC_INVALID_PARAMETER');
    p({ Name: 'a', Signature: 's', AccessKeyId: 'k', Timestamp: 't', 'Destinations.1': 'local' }).onlyKnown(['Name'], ['Destinations']);
    assert.deepEqual(p({ Name: 'a', Signature: 's', Action: 'X' }).apiParameters(), { Name: 'a' });
  });

  it('maps LookupEvents to the REST query: attributes ANDed, RPC names in errors', () => {
    const q = lookupQuery(
      p({ 'LookupAttribute.1.Key': 'EventRW', 'LookupAttribute.1.Value': 'Write', 'LookupAttribute.2.Key': 'EventAccessKeyId', 'LookupAttribute.2.Value': 'FTAKX', MaxResults: '20', Direction: 'FORWARD', StartTime: '2026-01-01T00:00:00Z' }),
    );
    assert.deepEqual(q, { eventRW: 'Write', accessKeyId: 'FTAKX', maxResults: '20', direction: 'FORWARD', startTime: '2026-01-01T00:00:00Z' });
    assert.equal(lookupQuery(p({}))['maxResults'], '50');
    for (const bad of [{ MaxResults: '0' }, { MaxResults: '51' }, { Direction: 'UP' }, { StartTime: 'yesterday' }, { 'LookupAttribute.1.Key': 'toString', 'LookupAttribute.1.Value': 'x' }] as Record<string, string>[]) {
      assert.equal(codeOf(() => lookupQuery(p(bad))), 'FT_ERR_RPC_INVALID_PARAMETER', JSON.stringify(bad));
    }
    const twice = { 'LookupAttribute.1.Key': 'User', 'LookupAttribute.1.Value': 'a', 'LookupAttribute.2.Key': 'User', 'LookupAttribute.2.Value': 'b' };
    assert.equal(codeOf(() => lookupQuery(p(twice))), 'FT_ERR_RPC_INVALID_PARAMETER');
    assert.equal(MAX_LOOKUP_ATTRIBUTES, 14);
  });

  it('records destination URLs redacted and leaves the page token out', () => {
    assert.deepEqual(recordedParameters({ Name: 'trail-one', 'Destinations.1': 's3://b/p?accessKeyId=AK&secretAccessKey=SECRET', NextToken: 'abc' }), {
      Name: 'trail-one',
      'Destinations.1': 's3://b/p?accessKeyId=******&secretAccessKey=******',
    });
  });
});

describe('flow control', () => {
  it('is off at rate 0 and otherwise allows one second of calls per key, then says how long to wait', () => {
    const off = new Throttle({ requestsPerSecond: 0, lookupEventsPerSecond: 0 });
    for (let i = 0; i < 100; i++) assert.equal(off.check('k', 'LookupEvents', 1000), 0);
    const t = new Throttle({ requestsPerSecond: 0, lookupEventsPerSecond: 2 });
    assert.equal(t.check('k', 'LookupEvents', 1000), 0);
    assert.equal(t.check('k', 'LookupEvents', 1000), 0);
    assert.equal(t.check('k', 'LookupEvents', 1000), 500);
    assert.equal(t.check('other', 'LookupEvents', 1000), 0, 'per key');
    assert.equal(t.check('k', 'DescribeTrails', 1000), 0, 'other actions are not LookupEvents');
    assert.equal(t.check('k', 'LookupEvents', 1500), 0, 'refilled');
  });
});
