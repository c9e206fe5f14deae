import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isFlinkTrailError } from '../errors/index.js';
import { parseDestination, redactUrl } from './destination.js';
import { resourceDirectoryId, TRAIL_NAME, trailAccount, validateCreate, validateUpdate, wants, type DeliveryFilter, type ValidationContext } from './model.js';

const ctx: ValidationContext = { knownRegions: new Set(['local', 'cn-hangzhou']), defaultDigestInterval: 3600, minDigestInterval: 60, localDir: '/var/lib/ft/trails' };
const code = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    assert.ok(isFlinkTrailError(err), String(err));
    return err.code;
  }
  return 'no error';
};

describe('trail model', () => {
  it("follows ActionTrail's name rules", () => {
    for (const ok of ['abcdef', 'my_trail-1', 'a'.repeat(36), 'a12345']) assert.ok(TRAIL_NAME.test(ok), ok);
    for (const bad of ['abcde', 'a'.repeat(37), 'Abcdef', '1abcde', '-abcde', 'abc def', 'abc.def', 'trail/x']) assert.ok(!TRAIL_NAME.test(bad), bad);
    fc.assert(
      fc.property(fc.string({ maxLength: 50 }), (s) => {
        const valid = s.length >= 6 && s.length <= 36 && /^[a-z]/.test(s) && /^[a-z0-9_-]*$/.test(s);
        assert.equal(TRAIL_NAME.test(s), valid);
      }),
    );
  });

  it('defaults EventRW to Write and TrailRegion to All, and refuses what ActionTrail refuses', () => {
    const s = validateCreate({ Name: 'my-trail', Destinations: ['local'] }, ctx);
    assert.equal(s.eventRW, 'Write');
    assert.equal(s.trailRegion, 'All');
    assert.equal(s.digestInterval, 3600);
    assert.equal(s.destinations[0]?.url, 'file:///var/lib/ft/trails');
    assert.deepEqual(validateCreate({ Name: 'my-trail', TrailRegion: 'local, cn-hangzhou', Destinations: ['local'] }, ctx).trailRegion, ['cn-hangzhou', 'local']);
    assert.equal(code(() => validateCreate({ Name: 'my-trail' }, ctx)), 'FT_ERR_TRAIL_NO_DESTINATION');
    assert.equal(code(() => validateCreate({ Name: 'my-trail', Destinations: ['local'], TrailRegion: ['mars'] }, ctx)), 'FT_ERR_TRAIL_UNKNOWN_REGION');
    assert.equal(code(() => validateCreate({ Name: 'my-trail', Destinations: ['local'], EventRW: 'write' }, ctx)), 'FT_ERR_TRAIL_INVALID_PARAMETER');
    assert.equal(code(() => validateCreate({ Name: 'my-trail', Destinations: ['local'], DigestInterval: 59 }, ctx)), 'FT_ERR_TRAIL_INVALID_PARAMETER');
    assert.equal(code(() => validateCreate({ Name: 'my-trail', Destinations: ['local', 'local'] }, ctx)), 'FT_ERR_TRAIL_INVALID_DESTINATION');
    assert.equal(code(() => validateCreate([], ctx)), 'FT_ERR_TRAIL_INVALID_PARAMETER');
    const cur = validateCreate({ Name: 'my-trail', Destinations: ['local'] }, ctx);
    assert.equal(code(() => validateUpdate(cur, { Name: 'other-name' }, ctx)), 'FT_ERR_TRAIL_INVALID_PARAMETER');
    assert.equal(validateUpdate(cur, { EventRW: 'All' }, ctx).destinations[0]?.url, 'file:///var/lib/ft/trails');
  });

  it('decides delivery by type, region and event time', () => {
    const e = (eventRW: string, acsRegion: string, at: number) => ({ eventRW, acsRegion, eventTime: new Date(at).toISOString() });
    const f = { eventRW: 'Write' as const, trailRegion: ['local'], since: 1000, until: 9000, off: [[3000, 4000]] as [number, number][] };
    assert.equal(wants(f, e('Write', 'local', 2000)), true);
    assert.equal(wants(f, e('Read', 'local', 2000)), false);
    assert.equal(wants(f, e('Write', 'cn-hangzhou', 2000)), false);
    assert.equal(wants(f, e('Write', 'local', 1000)), false, 'at the start: not yet');
    assert.equal(wants(f, e('Write', 'local', 1001)), true);
    assert.equal(wants(f, e('Write', 'local', 3000)), true, 'at the stop: still');
    assert.equal(wants(f, e('Write', 'local', 3500)), false);
    assert.equal(wants(f, e('Write', 'local', 4000)), false);
    assert.equal(wants(f, e('Write', 'local', 4001)), true);
    assert.equal(wants(f, e('Write', 'local', 9000)), true);
    assert.equal(wants(f, e('Write', 'local', 9001)), false);
  });

  it("decides delivery by account: an ordinary trail its account's events, a multi-account trail every account's", () => {
    const MGMT = '1000000000000001';
    const A = '2000000000000001';
    const e = (recipientAccountId?: string) => ({ eventRW: 'Write', acsRegion: 'local', eventTime: new Date(5000).toISOString(), ...(recipientAccountId ? { recipientAccountId } : {}) });
    const base: DeliveryFilter = { eventRW: 'All', trailRegion: 'All', off: [] };
    const member = { ...base, account: A, managementAccount: MGMT };
    assert.equal(wants(member, e(A)), true);
    assert.equal(wants(member, e(MGMT)), false);
    assert.equal(wants(member, e()), false, "an event that names no account is the management account's");
    assert.equal(wants(member, e('2000000000000002')), false);
    const management = { ...base, account: MGMT, managementAccount: MGMT };
    assert.equal(wants(management, e(MGMT)), true);
    assert.equal(wants(management, e()), true);
    assert.equal(wants(management, e(A)), false, "the management account's ordinary trail is not a multi-account trail");
    const multi = { ...base, managementAccount: MGMT };
    for (const a of [MGMT, A, undefined]) assert.equal(wants(multi, e(a)), true);
    assert.equal(wants(base, e(A)), true, 'a plan cut before trails had owners selects every account, as it did');
    assert.equal(wants({ ...member, eventRW: 'Read' }, e(A)), false, 'the account comes on top of the other rules');
    assert.equal(trailAccount({}, MGMT), MGMT);
    assert.equal(trailAccount({ accountId: A }, MGMT), A);
    assert.equal(resourceDirectoryId(MGMT), `rd-${MGMT}`);
  });

  it('takes IsOrganizationTrail at creation only', () => {
    assert.equal(validateCreate({ Name: 'my-trail', Destinations: ['local'] }, ctx).isOrganizationTrail, undefined);
    for (const yes of [true, 'true']) assert.equal(validateCreate({ Name: 'my-trail', Destinations: ['local'], IsOrganizationTrail: yes }, ctx).isOrganizationTrail, true);
    assert.equal(validateCreate({ Name: 'my-trail', Destinations: ['local'], IsOrganizationTrail: false }, ctx).isOrganizationTrail, undefined);
    assert.equal(code(() => validateCreate({ Name: 'my-trail', Destinations: ['local'], IsOrganizationTrail: 'yes' }, ctx)), 'FT_ERR_TRAIL_INVALID_PARAMETER');
    const multi = validateCreate({ Name: 'my-trail', Destinations: ['local'], IsOrganizationTrail: true }, ctx);
    assert.equal(validateUpdate(multi, { EventRW: 'All' }, ctx).isOrganizationTrail, true, 'an update keeps it');
    assert.equal(validateUpdate(multi, { IsOrganizationTrail: true }, ctx).isOrganizationTrail, true, 'the same value may be sent back');
    assert.equal(code(() => validateUpdate(multi, { IsOrganizationTrail: false }, ctx)), 'FT_ERR_TRAIL_INVALID_PARAMETER');
    const single = validateCreate({ Name: 'my-trail', Destinations: ['local'] }, ctx);
    assert.equal(code(() => validateUpdate(single, { IsOrganizationTrail: true }, ctx)), 'FT_ERR_TRAIL_INVALID_PARAMETER');
  });
});

describe('destinations', () => {
  const opts = { localDir: '/data/trails' };
  it('parses every kind and redacts credentials in what it shows', () => {
    const s3 = parseDestination('s3://my-bucket/a/b/?endpoint=http://127.0.0.1:9000/&accessKeyId=AK&secretAccessKey=SK&region=eu-1', opts);
    assert.equal(s3.kind, 's3');
    assert.deepEqual([s3.s3?.bucket, s3.s3?.prefix, s3.s3?.endpoint, s3.s3?.region, s3.s3?.forcePathStyle, s3.s3?.checksums], ['my-bucket', 'a/b', 'http://127.0.0.1:9000', 'eu-1', true, 'WHEN_REQUIRED']);
    assert.ok(!s3.display.includes('SK') && !s3.display.includes('=AK'));
    assert.ok(s3.url.includes('secretAccessKey=SK'));
    assert.equal(parseDestination('s3://aws-bucket', opts).s3?.checksums, 'WHEN_SUPPORTED');
    const k = parseDestination('kafka://127.0.0.1:9092,127.0.0.2/audit.events', opts);
    assert.deepEqual(k.kafka?.brokers, ['127.0.0.1:9092', '127.0.0.2:9092']);
    const sys = parseDestination('syslog+tls://127.0.0.1:6514?ca=/etc/ca.pem&facility=local0', opts);
    assert.deepEqual([sys.syslog?.tls, sys.syslog?.facility, sys.syslog?.ca], [true, 16, '/etc/ca.pem']);
    assert.equal(parseDestination('syslog+tcp://[::1]:514', opts).syslog?.host, '::1');
    assert.equal(parseDestination('file:///srv/audit/', opts).url, 'file:///srv/audit');
    for (const bad of ['s3://B', 's3://bucket/../x', 'kafka://h:1', 'syslog+tcp://host', 'syslog+tcp://h:1?ca=/x', 'file:///', 'file://host/x', 'http://x', 's3://bucket?accessKeyId=a', 's3://bucket?bogus=1']) {
      assert.equal(code(() => parseDestination(bad, opts)), 'FT_ERR_TRAIL_INVALID_DESTINATION', bad);
    }
  });

  it('never echoes a secret in its errors, and keeps stored secrets for a redacted URL sent back', () => {
    try {
      parseDestination('s3://bucket?secretAccessKey=TOPSECRET&accessKeyId=AK&nope=1', opts);
      assert.fail('expected an error');
    } catch (err) {
      assert.ok(!(err as Error).message.includes('TOPSECRET'));
    }
    assert.equal(redactUrl('s3://b?accessKeyId=A&secretAccessKey=B'), 's3://b?accessKeyId=******&secretAccessKey=******');
    const stored = parseDestination('s3://bucket/p?accessKeyId=AK&secretAccessKey=SK', opts);
    assert.equal(parseDestination(stored.display, { ...opts, existing: [stored] }).url, stored.url);
    assert.equal(code(() => parseDestination(stored.display, opts)), 'FT_ERR_TRAIL_INVALID_DESTINATION');
  });
});
