/**
 * Trails and accounts against the real S3 server (Swift s3api): two member accounts (made through
 * the API, each with its admin's AccessKey) and the management account, events of each ingested by
 * the management account's admin. Each member's trail (made by the member's admin) holds its own
 * account's events only, the management account's ordinary trail only the management account's,
 * and a multi-account trail every account's, each under `<rd_id>/<accountId>/<region>/` with its
 * own digest chain; validate-logs (the CLI, online) passes account by account. A member sees,
 * changes and deletes only its own trails — REST, ActionTrail RPC and CLI — and another
 * account's trail answers exactly as one that does not exist.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { ActionTrailEvent } from '../../../src/event/types.js';
import { decodeFile } from '../../../src/trails/layout.js';
import { newEvents } from '../../helpers/events.js';
import { basic, type Credentials } from '../../helpers/flinktrail.js';
import { signedRpcUrl } from '../../helpers/rpc.js';
import { startS3, type S3Server } from '../../helpers/s3.js';
import { cli, startTrailApp, until, type TrailApp } from './common.js';

// A CommonJS package compiled from TypeScript: its `default` export is a property of the module.
const MGMT = '1000000000000001';
const RD = `rd-${MGMT}`;

type Answer = { status: number; body: Record<string, unknown> & { Code?: string } };

describe('trails and accounts', { timeout: 300_000 }, () => {
  let s3: S3Server;
  let t: TrailApp;
  /** The member accounts' ids (made through the API) and their admins' keys. */
  let A = '';
  let B = '';
  let ACCOUNTS: string[] = [];
  const admins = new Map<string, Credentials>();
  /** Ingested events by account. */
  const ingested = new Map<string, ActionTrailEvent[]>();

  const callAs = async (cred: Credentials, method: string, path: string, body?: unknown): Promise<Answer> => {
    const res = await fetch(`${t.info.apiUrl}${path}`, {
      method,
      headers: { authorization: basic(cred), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : {}) as Answer['body'] };
  };
  /** An ActionTrail RPC call, V1-signed with Alibaba's own signer. */
  const rpcAs = async (cred: Credentials, action: string, params: Record<string, string>): Promise<Answer> => {
    const res = await fetch(signedRpcUrl(t.info.apiUrl, cred, action, params));
    return { status: res.status, body: (await res.json()) as Answer['body'] };
  };
  const cliEnv = (cred: Credentials) => ({ FLINKTRAIL_ENDPOINT: t.info.apiUrl, FLINKTRAIL_ACCESS_KEY_ID: cred.accessKeyId, FLINKTRAIL_ACCESS_KEY_SECRET: cred.accessKeySecret });

  /** Every log file of a bucket: key → events. */
  const bucketFiles = async (bucket: string): Promise<Map<string, ActionTrailEvent[]>> => {
    const c = s3.client();
    try {
      const out = new Map<string, ActionTrailEvent[]>();
      let token: string | undefined;
      do {
        const page = await c.send(new ListObjectsV2Command({ Bucket: bucket, ...(token ? { ContinuationToken: token } : {}) }));
        for (const o of page.Contents ?? []) {
          if (!/\/Actiontrail_[a-z-]+_\d{14}_1002_.*\.gz$/.test(o.Key!)) continue;
          const body = Buffer.from(await (await c.send(new GetObjectCommand({ Bucket: bucket, Key: o.Key! }))).Body!.transformToByteArray());
          out.set(o.Key!, decodeFile(body));
        }
        token = page.NextContinuationToken;
      } while (token);
      return out;
    } finally {
      c.destroy();
    }
  };
  const account = (e: ActionTrailEvent) => e.recipientAccountId ?? MGMT;

  before(async () => {
    s3 = await startS3();
    t = await startTrailApp({ accountId: MGMT, trails: { knownRegions: ['cn-hangzhou'] } });
    // Two member accounts, each with an admin and its AccessKey, made by the management account's admin.
    for (const team of ['team-a', 'team-b']) {
      const acct = await t.call<{ accountId: string }>('POST', '/api/v1/accounts', { name: team });
      assert.equal(acct.status, 201, JSON.stringify(acct.body));
      const id = acct.body.accountId;
      assert.equal((await t.call('POST', '/api/v1/users', { userName: `${team}-admin`, role: 'admin', accountId: id })).status, 201);
      const key = await t.call<{ accessKeyId: string; accessKeySecret: string }>('POST', '/api/v1/keys', { userName: `${team}-admin` });
      assert.equal(key.status, 201, JSON.stringify(key.body));
      admins.set(id, { accessKeyId: key.body.accessKeyId, accessKeySecret: key.body.accessKeySecret });
    }
    [A, B] = [...admins.keys()] as [string, string];
    ACCOUNTS = [MGMT, A, B];
    admins.set(MGMT, t.cred);

    const make = async (name: string, bucket: string, owner: string, extra: Record<string, unknown> = {}) => {
      const cred = admins.get(owner)!;
      const body = { Name: name, EventRW: 'All', DigestInterval: 1, Destinations: [await s3.destination(bucket)], ...extra };
      const r = await callAs(cred, 'POST', '/api/v1/trails', body);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body['AccountId'], owner, 'the trail belongs to its creator\'s account');
      assert.equal((await callAs(cred, 'POST', `/api/v1/trails/${name}/start`)).status, 200);
    };
    await make('org-trail', 'acct-org', MGMT, { IsOrganizationTrail: true });
    await make('mgmt-trail', 'acct-mgmt', MGMT);
    await make('member-a-trail', 'acct-a', A);
    await make('member-b-trail', 'acct-b', B);

    // The management account's admin ingests every account's events (both regions).
    const batch = newEvents(60, { start: Date.now(), stepMs: 1 }).map((e, i) => ({ ...e, recipientAccountId: ACCOUNTS[i % 3]! }));
    for (const e of batch) ingested.set(e.recipientAccountId, [...(ingested.get(e.recipientAccountId) ?? []), e]);
    const r = await t.call('POST', '/api/v1/events', batch);
    assert.deepEqual(r, { status: 200, body: { accepted: 60, duplicates: 0, rejected: [] } });

    // Delivered everywhere, and every path's digest chain past its last file.
    for (const [trail, bucket, accounts] of [
      ['org-trail', 'acct-org', ACCOUNTS],
      ['mgmt-trail', 'acct-mgmt', [MGMT]],
      ['member-a-trail', 'acct-a', [A]],
      ['member-b-trail', 'acct-b', [B]],
    ] as const) {
      const want = accounts.flatMap((a) => ingested.get(a)!.map((e) => e.eventId));
      await until(`${trail} to deliver the ingested events`, async () => {
        const got = new Set([...(await bucketFiles(bucket)).values()].flat().map((e) => e.eventId));
        return want.every((id) => got.has(id)) ? true : undefined;
      }, 60_000, 250);
      await until(`${trail}'s digests to cover its files`, async () => {
        const rows = await t.trailRows<{ region: string; cut: number; chain_end: number | null }>(
          `SELECT f.region AS region, MAX(f.cut_at) AS cut, MAX(c.last_end) AS chain_end FROM trail_files f
           JOIN trail_destinations d ON d.id = f.dest_id
           LEFT JOIN trail_digest_chains c ON c.dest_id = f.dest_id AND c.region = f.region
           WHERE d.trail = ? GROUP BY f.region`,
          trail,
        );
        return rows.length > 0 && rows.every((r) => r.chain_end !== null && r.chain_end > r.cut) ? true : undefined;
      }, 60_000, 250);
    }
  });

  after(async () => {
    await Promise.allSettled([t?.close()]);
    await s3?.stop();
  });

  it("each member account's trail holds its own account's events only", async () => {
    for (const [bucket, acct] of [['acct-a', A], ['acct-b', B]] as const) {
      const events = [...(await bucketFiles(bucket)).values()].flat();
      assert.deepEqual(events.filter((e) => account(e) !== acct).map((e) => [e.eventName, account(e)]), [], `${bucket}: another account's events`);
      const ids = new Set(events.map((e) => e.eventId));
      assert.deepEqual(ingested.get(acct)!.filter((e) => !ids.has(e.eventId)), [], `${bucket}: every ingested event of its account`);
      // Besides those: the member's own API calls after its StartLogging (FlinkTrail's events of its account).
      assert.ok(events.every((e) => ingested.get(acct)!.some((i) => i.eventId === e.eventId) || e.eventSource !== 'flink-jobmanager'), 'nothing else');
    }
  });

  it("the management account's ordinary trail holds the management account's events only", async () => {
    const events = [...(await bucketFiles('acct-mgmt')).values()].flat();
    assert.ok(events.every((e) => account(e) === MGMT), 'no member account event');
    const ids = new Set(events.map((e) => e.eventId));
    assert.ok(ingested.get(MGMT)!.every((e) => ids.has(e.eventId)));
  });

  it("the multi-account trail delivers each account's events under its own <rd_id>/<accountId>/ path", async () => {
    const files = await bucketFiles('acct-org');
    const seen = new Set<string>();
    for (const [key, events] of files) {
      const m = /^AliyunLogs\/Actiontrail\/(rd-\d+)\/(\d+)\/([a-z-]+)\/\d{4}\/\d\d\/\d\d\/Actiontrail_([a-z-]+)_/.exec(key);
      assert.ok(m, key);
      assert.equal(m[1], RD);
      assert.equal(m[3], m[4]);
      for (const e of events) {
        assert.equal(account(e), m[2], `${e.eventId} under ${key}`);
        assert.equal(e.acsRegion, m[3]);
        seen.add(e.eventId);
      }
    }
    for (const a of ACCOUNTS) for (const e of ingested.get(a)!) assert.ok(seen.has(e.eventId), `${a}'s ${e.eventId} delivered`);
    assert.deepEqual([...new Set([...files.keys()].map((k) => k.split('/')[3]))].sort(), [...ACCOUNTS].sort());
  });

  it('validate-logs (online, the CLI) passes for the multi-account trail account by account', async () => {
    const env = cliEnv(t.cred);
    const args = ['validate-logs', '--trail', 'org-trail', '--start-time', new Date(Date.now() - 3_600_000).toISOString(), '--s3-access-key-id', s3.accessKeyId, '--s3-secret-access-key', s3.secretAccessKey];
    const all = await cli([...args, '--output', 'json'], env);
    assert.equal(all.code, 0, all.stdout + all.stderr);
    const report = JSON.parse(all.stdout) as { ok: boolean; accounts: { accountId: string; ok: boolean; files: { valid: number; total: number }; digests: { valid: number; total: number } }[] };
    assert.equal(report.ok, true);
    assert.deepEqual(report.accounts.map((a) => a.accountId), [...ACCOUNTS].sort());
    for (const a of report.accounts) assert.ok(a.ok && a.files.total > 0 && a.files.valid === a.files.total && a.digests.total > 0 && a.digests.valid === a.digests.total, JSON.stringify(a));
    const one = await cli([...args, '--account', A], env);
    assert.equal(one.code, 0, one.stdout + one.stderr);
    assert.match(one.stdout, new RegExp(`^Account ${A}: valid — (\\d+)/\\1 digest files valid, (\\d+)/\\2 log files valid$`, 'm'));
    assert.doesNotMatch(one.stdout, new RegExp(`Account (${MGMT}|${B})`));
    const single = await cli([...args.map((x) => (x === 'org-trail' ? 'mgmt-trail' : x)), '--account', A], env);
    assert.notEqual(single.code, 0, 'an ordinary trail has no accounts to pick');
    assert.match(single.stderr, /FT_ERR_TRAIL_VALIDATION_INPUT|not a multi-account trail/);
  });

  it('the management account sees every trail with its owner; GetTrailStatus says which is multi-account', async () => {
    const r = await t.call<{ TrailList: { Name: string; AccountId: string; IsOrganizationTrail: boolean; OrganizationId: string; TrailArn: string }[] }>('GET', '/api/v1/trails');
    assert.deepEqual(
      r.body.TrailList.map((x) => [x.Name, x.AccountId, x.IsOrganizationTrail, x.OrganizationId]),
      [
        ['member-a-trail', A, false, ''],
        ['member-b-trail', B, false, ''],
        ['mgmt-trail', MGMT, false, ''],
        ['org-trail', MGMT, true, RD],
      ],
    );
    assert.ok(r.body.TrailList.find((x) => x.Name === 'member-a-trail')!.TrailArn.includes(`:${A}:trail/`));
    assert.equal((await t.call<{ IsOrganizationTrail: boolean }>('GET', '/api/v1/trails/org-trail/status')).body.IsOrganizationTrail, true);
    assert.equal((await t.call<{ IsOrganizationTrail: boolean }>('GET', '/api/v1/trails/member-a-trail/status')).body.IsOrganizationTrail, false);
    const rpc = await rpcAs(t.cred, 'GetTrailStatus', { Name: 'org-trail', IsOrganizationTrail: 'true' });
    assert.equal(rpc.status, 200, JSON.stringify(rpc.body));
    assert.equal(rpc.body['IsOrganizationTrail'], true);
  });

  it("a member account sees, changes and deletes only its own trails: another account's answers exactly as none (REST, RPC, CLI)", async () => {
    const a = admins.get(A)!;
    const names = async (cred: Credentials) => ((await callAs(cred, 'GET', '/api/v1/trails')).body['TrailList'] as { Name: string }[]).map((x) => x.Name);
    assert.deepEqual(await names(a), ['member-a-trail']);
    assert.deepEqual(await names(admins.get(B)!), ['member-b-trail']);
    const some = await callAs(a, 'GET', '/api/v1/trails?NameList=member-b-trail,org-trail,member-a-trail');
    assert.deepEqual((some.body['TrailList'] as { Name: string }[]).map((x) => x.Name), ['member-a-trail']);
    let routes = 0;
    for (const other of ['member-b-trail', 'org-trail', 'mgmt-trail']) {
      for (const [method, path, body] of [
        ['GET', '/api/v1/trails/NAME', undefined],
        ['GET', '/api/v1/trails/NAME/status', undefined],
        ['PATCH', '/api/v1/trails/NAME', { EventRW: 'Write' }],
        ['POST', '/api/v1/trails/NAME/stop', undefined],
        ['POST', '/api/v1/trails/NAME/start', undefined],
        ['GET', '/api/v1/trails/NAME/dead-letters', undefined],
        ['POST', '/api/v1/trails/NAME/history-jobs', undefined],
        ['GET', '/api/v1/trails/NAME/history-jobs', undefined],
        ['GET', '/api/v1/trails/NAME/digest-public-keys', undefined],
        ['DELETE', '/api/v1/trails/NAME', undefined],
      ] as const) {
        const r = await callAs(a, method, path.replace('NAME', other), body);
        const none = await callAs(a, method, path.replace('NAME', 'no-such-trail'), body);
        assert.deepEqual([r.status, r.body.Code], [404, 'FT_ERR_TRAIL_NOT_FOUND'], `${method} ${path} on ${other}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body['Message'], String(none.body['Message']).replace('no-such-trail', other), 'the same answer as for no trail at all');
        routes++;
      }
      for (const [action, param] of [
        ['GetTrailStatus', 'Name'],
        ['StopLogging', 'Name'],
        ['UpdateTrail', 'Name'],
        ['DeleteTrail', 'Name'],
        ['CreateDeliveryHistoryJob', 'TrailName'],
      ] as const) {
        const r = await rpcAs(a, action, { [param]: other });
        const none = await rpcAs(a, action, { [param]: 'no-such-trail' });
        assert.deepEqual([r.status, r.body.Code], [none.status, none.body.Code], `RPC ${action} on ${other}: as for no trail (${JSON.stringify(r.body)})`);
        assert.equal(r.status, 404);
        routes++;
      }
    }
    const described = await rpcAs(a, 'DescribeTrails', {});
    assert.deepEqual((described.body['TrailList'] as { Name: string }[]).map((x) => x.Name), ['member-a-trail']);
    const status = await cli(['trails', 'status', 'member-b-trail'], cliEnv(a));
    assert.notEqual(status.code, 0);
    assert.match(status.stderr, /FT_ERR_TRAIL_NOT_FOUND/);
    const validate = await cli(['validate-logs', '--trail', 'org-trail', '--start-time', new Date(Date.now() - 3_600_000).toISOString()], cliEnv(a));
    assert.notEqual(validate.code, 0);
    assert.match(validate.stderr, /FT_ERR_TRAIL_NOT_FOUND/, 'validate-logs of another account\'s trail: not found');
    console.log(`member account A was refused ${routes} REST and RPC calls on other accounts' trails`);
    // Nothing changed: B's trail is still logging, every trail still there.
    assert.equal((await t.call<{ IsLogging: boolean }>('GET', '/api/v1/trails/member-b-trail/status')).body.IsLogging, true);
    assert.equal(((await t.call('GET', '/api/v1/trails')).body['TrailList'] as unknown[]).length, 4);

    // Its own trail: yes. A multi-account trail or a key rotation: the management account's only.
    assert.equal((await callAs(a, 'GET', '/api/v1/trails/member-a-trail/status')).body['IsLogging'], true);
    // FT_ERR_TRAIL_MANAGEMENT_ONLY, answered with ActionTrail's code.
    const org = await callAs(a, 'POST', '/api/v1/trails', { Name: 'member-a-org', Destinations: ['local'], IsOrganizationTrail: true });
    assert.deepEqual([org.status, org.body.Code], [403, 'NoPermission']);
    assert.match(String(org.body['Message']), /Only a principal of the management account may create a multi-account trail/);
    const orgRpc = await rpcAs(a, 'CreateTrail', { Name: 'member-a-org', 'Destinations.1': 'local', IsOrganizationTrail: 'true' });
    assert.deepEqual([orgRpc.status, orgRpc.body.Code], [403, 'NoPermission'], JSON.stringify(orgRpc.body));
    const orgCli = await cli(['trails', 'create', '--name', 'member-a-org', '--destination', 'local', '--multi-account'], cliEnv(a));
    assert.notEqual(orgCli.code, 0);
    assert.match(orgCli.stderr, /management account/);
    const rotate = await callAs(a, 'POST', '/api/v1/trail-digest-keys/rotate');
    assert.deepEqual([rotate.status, rotate.body.Code], [403, 'NoPermission']);
    assert.match(String(rotate.body['Message']), /management account may rotate the digest signing key/);
    // Names are unique across accounts.
    const taken = await callAs(a, 'POST', '/api/v1/trails', { Name: 'member-b-trail', Destinations: ['local'] });
    assert.deepEqual([taken.status, taken.body.Code], [409, 'FT_ERR_TRAIL_ALREADY_EXISTS']);
    // History jobs: a member sees its own account's; the management account every account's.
    const job = await callAs(a, 'POST', '/api/v1/trails/member-a-trail/history-jobs');
    assert.equal(job.status, 200, JSON.stringify(job.body));
    const jobsOf = async (cred: Credentials) => ((await rpcAs(cred, 'ListDeliveryHistoryJobs', {})).body['DeliveryHistoryJobs'] as { JobId: string }[]).map((j) => j.JobId);
    assert.deepEqual(await jobsOf(a), [job.body['JobId']]);
    assert.deepEqual(await jobsOf(admins.get(B)!), []);
    assert.ok((await jobsOf(t.cred)).includes(String(job.body['JobId'])));
    // A trail made, changed and deleted by its own account.
    assert.equal((await callAs(a, 'POST', '/api/v1/trails', { Name: 'member-a-extra', Destinations: ['local'] })).status, 200);
    assert.equal((await callAs(a, 'PATCH', '/api/v1/trails/member-a-extra', { EventRW: 'Write' })).status, 200);
    assert.equal((await callAs(a, 'DELETE', '/api/v1/trails/member-a-extra')).status, 200);
    assert.deepEqual(await names(a), ['member-a-trail']);
  });

  it('an account that owns a trail is not deleted; once its trail is gone, it is', async () => {
    const a = admins.get(A)!;
    const refused = await t.call('DELETE', `/api/v1/accounts/${A}`);
    assert.equal(refused.status, 409, JSON.stringify(refused.body));
    assert.match(String(refused.body['Message']), /trail member-a-trail/);
    assert.equal((await callAs(a, 'DELETE', '/api/v1/trails/member-a-trail')).status, 200);
    const still = await t.call('DELETE', `/api/v1/accounts/${A}`);
    assert.doesNotMatch(String(still.body['Message']), /trail /, 'no trail left to name');
  });
});
