import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isFlinkTrailError } from '../errors/index.js';
import { parseLookup, TokenCodec } from './lookup.js';

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (err) {
    assert.ok(isFlinkTrailError(err), `expected a coded error, got ${String(err)}`);
    return err.code;
  }
};

describe('parseLookup', () => {
  it('accepts every filter at once', () => {
    const q = parseLookup({
      eventRW: 'Write',
      user: 'alice',
      serviceName: 'RealtimeCompute',
      eventName: 'CancelJob',
      resourceType: 'ACS::RealtimeCompute::Job',
      resourceName: 'abc',
      accessKeyId: 'FTAK1',
      sensitive: 'true',
      eventId: 'e1',
      region: 'local',
      startTime: '2026-01-01T00:00:00Z',
      endTime: '2026-01-02T00:00:00+02:00',
      maxResults: '200',
      direction: 'FORWARD',
    });
    assert.equal(q.filter.eventName, 'CancelJob');
    assert.equal(q.filter.sensitive, true);
    assert.equal(q.filter.endTime, Date.parse('2026-01-01T22:00:00Z'));
    assert.equal(q.limit, 200);
  });

  it('refuses bad input with coded errors', () => {
    assert.equal(codeOf(() => parseLookup({ startTime: 'yesterday' })), 'FT_ERR_QUERY_TIME_RANGE');
    assert.equal(codeOf(() => parseLookup({ startTime: '2026-01-02T00:00:00Z', endTime: '2026-01-01T00:00:00Z' })), 'FT_ERR_QUERY_TIME_RANGE');
    assert.equal(codeOf(() => parseLookup({ evntName: 'x' })), 'FT_ERR_QUERY_UNKNOWN_PARAMETER');
    assert.equal(codeOf(() => parseLookup({ maxResults: '0' })), 'FT_ERR_QUERY_INVALID_PARAMETER');
    assert.equal(codeOf(() => parseLookup({ maxResults: '201' })), 'FT_ERR_QUERY_INVALID_PARAMETER');
    assert.equal(codeOf(() => parseLookup({ eventRW: 'Both' })), 'FT_ERR_QUERY_INVALID_PARAMETER');
    assert.equal(codeOf(() => parseLookup({ user: ['a', 'b'] })), 'FT_ERR_QUERY_INVALID_PARAMETER');
  });

  it('asks the home region by default, another region when told, every region with region=*', () => {
    const home = { homeRegion: 'eu-west-1' };
    assert.equal(parseLookup({}, 0, home).filter.region, 'eu-west-1');
    assert.equal(parseLookup({ region: 'cn-hangzhou' }, 0, home).filter.region, 'cn-hangzhou');
    assert.equal(parseLookup({ region: '*' }, 0, home).filter.region, undefined);
    assert.equal(parseLookup({}, 0).filter.region, undefined, 'no home region (unit tests): every region');
    for (const bad of ['', 'CN-Hangzhou', '..', 'a', 'all', '**', 'x'.repeat(50)]) {
      assert.equal(codeOf(() => parseLookup({ region: bad }, 0, home)), bad === 'all' ? undefined : 'FT_ERR_QUERY_INVALID_PARAMETER', JSON.stringify(bad));
    }
    // A page token binds the region asked: a defaulted one too (instances may differ in home region).
    const fp = (p: Record<string, unknown>, h = home) => parseLookup(p, 0, h).fingerprint;
    assert.equal(fp({}), fp({ region: 'eu-west-1' }));
    assert.notEqual(fp({}), fp({}, { homeRegion: 'us-east-1' }));
    assert.notEqual(fp({}), fp({ region: '*' }));
  });

  it('never throws anything but a coded error, whatever the input', () => {
    const keys = fc.constantFrom('eventRW', 'startTime', 'endTime', 'maxResults', 'direction', 'sensitive', 'user', 'bogus', 'nextToken', 'region');
    const values = fc.oneof(fc.string(), fc.array(fc.string(), { maxLength: 3 }), fc.constant(undefined));
    fc.assert(
      fc.property(fc.dictionary(keys, values), (params) => {
        try {
          parseLookup(params, Date.now(), { homeRegion: 'local' });
        } catch (err) {
          return isFlinkTrailError(err) && err.status === 400;
        }
        return true;
      }),
      { numRuns: 2000 },
    );
  });
});

describe('TokenCodec', () => {
  const codec = new TokenCodec('k');
  const range = { startTime: 1, endTime: 2 };
  it('round-trips a cursor bound to its query', () => {
    const t = codec.encode({ time: 5, seq: 9 }, 'f1', range);
    assert.deepEqual(codec.decode(t, 'f1'), { cursor: { time: 5, seq: 9 }, ...range });
  });
  it('refuses a token used with other filters, or altered', () => {
    const t = codec.encode({ time: 5, seq: 9 }, 'f1', range);
    assert.equal(codeOf(() => codec.decode(t, 'f2')), 'FT_ERR_QUERY_BAD_TOKEN');
    const altered = `${Buffer.from(JSON.stringify({ t: 6, s: 9, a: 1, b: 2 })).toString('base64url')}.${t.split('.')[1]}`;
    assert.equal(codeOf(() => codec.decode(altered, 'f1')), 'FT_ERR_QUERY_BAD_TOKEN');
    fc.assert(fc.property(fc.string(), (s) => codeOf(() => codec.decode(s, 'f1')) === 'FT_ERR_QUERY_BAD_TOKEN'));
    for (const suffix of ['.', '.x', `.${t.split('.')[0]}`]) assert.equal(codeOf(() => codec.decode(`${t}${suffix}`, 'f1')), 'FT_ERR_QUERY_BAD_TOKEN', `a token is exactly payload.mac: ${suffix}`);
  });
});
