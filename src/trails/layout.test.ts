import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { newEvents } from '../../test/helpers/events.js';
import { readDigest, verifyDigest, writeDigest, type DigestBody } from './digest/format.js';
import { buildFiles, decodeFile, digestKey, keyProblem, logPath, parseDigestKey, parseLogKey, pathAccount, pathRegion } from './layout.js';
import { formatRfc5424, frame } from './sinks/syslog/index.js';

describe('file layout', () => {
  const cut = Date.UTC(2026, 10, 25, 11, 9, 10, 123);
  it("names files in ActionTrail's layout, one per region, deterministically", () => {
    const events = newEvents(10);
    const a = buildFiles('audit/flink', cut, events);
    const b = buildFiles('audit/flink', cut, structuredClone(events));
    assert.deepEqual(a.map((f) => f.key), b.map((f) => f.key));
    assert.ok(a.every((f, i) => f.body.equals(b[i]!.body)), 'same events, same bytes');
    assert.equal(a.length, 2);
    for (const f of a) {
      assert.match(f.key, new RegExp(`^audit/flink/AliyunLogs/Actiontrail/${f.region}/2026/11/25/Actiontrail_${f.region}_20261125110910_1002_5_${f.body.length}_[0-9a-f]{32}\\.gz$`));
      assert.deepEqual(parseLogKey(f.key), { region: f.region, cutAt: Date.UTC(2026, 10, 25, 11, 9, 10), events: 5 });
      assert.deepEqual(decodeFile(f.body).map((e) => e.eventId), events.filter((e) => e.acsRegion === f.region).map((e) => e.eventId));
    }
    assert.equal(buildFiles('', cut, events)[0]!.key.split('/')[0], 'AliyunLogs');
    const insight = { ...events[0]!, eventCategory: 'Insight' } as unknown as (typeof events)[number];
    assert.match(buildFiles('', cut, [insight])[0]!.key, /^AliyunLogs\/Actiontrail-Insight\//);
  });

  it("puts a multi-account trail's files under <rd_id>/<accountId>/<region>/, one per account and region", () => {
    const MGMT = '1000000000000001';
    const accounts = { rdId: `rd-${MGMT}`, managementAccountId: MGMT };
    const events = newEvents(12).map((e, i) => {
      // Thirds: account A, account B, and no account named (the management account's).
      const copy = { ...e, recipientAccountId: i % 3 ? '2000000000000002' : '2000000000000001' };
      if (i % 3 === 2) delete (copy as Partial<typeof copy>).recipientAccountId;
      return copy;
    });
    const files = buildFiles('audit', cut, events, accounts);
    assert.equal(files.length, 6, '3 accounts × 2 regions');
    for (const f of files) {
      const m = new RegExp(`^audit/AliyunLogs/Actiontrail/rd-${MGMT}/(\\d+)/(${f.region})/2026/11/25/Actiontrail_${f.region}_20261125110910_1002_2_`).exec(f.key);
      assert.ok(m, f.key);
      assert.equal(f.path, `rd-${MGMT}/${m[1]}/${f.region}`);
      assert.equal(parseLogKey(f.key)?.region, f.region);
      for (const e of decodeFile(f.body)) assert.equal(e.recipientAccountId ?? MGMT, m[1]);
    }
    assert.deepEqual(new Set(files.map((f) => f.path.split('/')[1])), new Set([MGMT, '2000000000000001', '2000000000000002']));
    assert.deepEqual(buildFiles('audit', cut, events, accounts).map((f) => f.key), files.map((f) => f.key), 'deterministic');
    // Ordinary trails: the single-account layout, whatever the events' accounts.
    assert.ok(buildFiles('audit', cut, events).every((f) => f.path === f.region && f.key.startsWith(`audit/AliyunLogs/Actiontrail/${f.region}/`)));
    // An account id that cannot be a path segment has no key in the multi-account layout only.
    const odd = { ...events[0]!, recipientAccountId: '../x' };
    assert.match(keyProblem(odd, accounts) ?? '', /recipientAccountId .* is not a valid account id/);
    assert.equal(keyProblem(odd), undefined);
    assert.equal(logPath('local', { rdId: 'rd-1', accountId: '22' }), 'rd-1/22/local');
    assert.deepEqual([pathRegion('rd-1/22/local'), pathAccount('rd-1/22/local'), pathRegion('local'), pathAccount('local')], ['local', '22', 'local', undefined]);
  });

  it('names digests by trail, region and end time', () => {
    const k = digestKey('p', 'cn-hangzhou', 'my_trail-1', Date.UTC(2026, 0, 2, 3, 4, 5));
    assert.equal(k, 'p/AliyunLogs/Actiontrail-Digest/cn-hangzhou/2026/01/02/Actiontrail-Digest_cn-hangzhou_my_trail-1_20260102T030405Z.json.gz');
    assert.deepEqual(parseDigestKey(k), { region: 'cn-hangzhou', trail: 'my_trail-1', endMs: Date.UTC(2026, 0, 2, 3, 4, 5) });
    const multi = digestKey('p', 'rd-1/22/cn-hangzhou', 'my_trail-1', Date.UTC(2026, 0, 2, 3, 4, 5));
    assert.equal(multi, 'p/AliyunLogs/Actiontrail-Digest/rd-1/22/cn-hangzhou/2026/01/02/Actiontrail-Digest_cn-hangzhou_my_trail-1_20260102T030405Z.json.gz');
    assert.deepEqual(parseDigestKey(multi), parseDigestKey(k));
  });

  it('signs digests so that any change, or another key, fails verification', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const body = { digestVersion: 1, trailName: 'my-trail', logFiles: [] } as unknown as DigestBody;
    const { bytes } = writeDigest(body, privateKey);
    const d = readDigest(bytes);
    assert.equal(verifyDigest(d, publicKey), true);
    assert.equal(verifyDigest(d, generateKeyPairSync('ed25519').publicKey), false);
    const text = gunzipSync(bytes).toString().replace('my-trail', 'my-traiL');
    assert.equal(verifyDigest(readDigest(gzipSync(Buffer.from(text))), publicKey), false);
  });
});

describe('syslog messages', () => {
  it('are RFC 5424 with octet-counted framing', () => {
    const [e] = newEvents(1);
    const msg = formatRfc5424({ ...e!, eventName: 'Cancel Job "x"]' }, { facility: 13, appName: 'flinktrail' }, 'host-1', 42);
    assert.match(msg, /^<110>1 \S+Z host-1 flinktrail 42 Cancel_Job_"x"\] \[flinktrail@32473 eventId="[^"]+" eventRW="Read" /);
    const framed = frame(`${msg}ü`);
    const sp = framed.indexOf(0x20);
    assert.equal(Number(framed.subarray(0, sp).toString()), framed.length - sp - 1);
  });
});
