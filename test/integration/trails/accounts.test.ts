/**
 * Trails and accounts against the real S3 server (Swift s3api): two member accounts and the
 * management account, events of each ingested by the management account's admin. Each member's
 * trail holds its own account's events only, the management account's ordinary trail only the
 * management account's, and a multi-account trail every account's, each under
 * `<rd_id>/<accountId>/<region>/` with its own digest chain; validate-logs (the CLI, online)
 * passes account by account. A member sees, changes and deletes only its own trails.
 *
 * Member principals act through the trail service in process (a caller with `accountId`), as the
 * API's routes call it; the HTTP routes with member keys come with the accounts' identities.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { FlinkTrailError } from '../../../src/errors/index.js';
import type { ActionTrailEvent } from '../../../src/event/types.js';
import type { TrailsModule } from '../../../src/trails/index.js';
import { decodeFile } from '../../../src/trails/layout.js';
import { newEvents } from '../../helpers/events.js';
import { startS3, type S3Server } from '../../helpers/s3.js';
import { cli, startTrailApp, until, type TrailApp } from './common.js';

const MGMT = '1000000000000001';
const A = '2000000000000001';
const B = '2000000000000002';
const RD = `rd-${MGMT}`;
const ACCOUNTS = [MGMT, A, B];

/** Rejects with a FlinkTrailError of `code`. */
async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => err instanceof FlinkTrailError && err.code === code, code);
}

describe('trails and accounts', { timeout: 300_000 }, () => {
  let s3: S3Server;
  let t: TrailApp;
  let trails: TrailsModule;
  /** Ingested events by account. */
  const ingested = new Map<string, ActionTrailEvent[]>();

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
    trails = t.app.modules.find((m) => m.name === 'trails') as TrailsModule;
    const make = async (name: string, bucket: string, as: { accountId?: string }, extra: Record<string, unknown> = {}) => {
      const body = { Name: name, EventRW: 'All', DigestInterval: 1, Destinations: [await s3.destination(bucket)], ...extra };
      if (as.accountId === undefined) {
        const r = await t.call('POST', '/api/v1/trails', body);
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.equal((await t.call('POST', `/api/v1/trails/${name}/start`)).status, 200);
      } else {
        await trails.service.create(body, as);
        await trails.service.start(name, as);
      }
    };
    await make('org-trail', 'acct-org', {}, { IsOrganizationTrail: true });
    await make('mgmt-trail', 'acct-mgmt', {});
    await make('member-a-trail', 'acct-a', { accountId: A });
    await make('member-b-trail', 'acct-b', { accountId: B });

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
      assert.deepEqual(events.map((e) => e.eventId).sort(), ingested.get(acct)!.map((e) => e.eventId).sort());
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
    const env = { FLINKTRAIL_ENDPOINT: t.info.apiUrl, FLINKTRAIL_ACCESS_KEY_ID: t.cred.accessKeyId, FLINKTRAIL_ACCESS_KEY_SECRET: t.cred.accessKeySecret };
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
  });

  it("a member account sees, changes and deletes only its own trails; another account's trail is not found", async () => {
    const svc = trails.service;
    const asA = { accountId: A };
    assert.deepEqual((await svc.list(undefined, asA)).map((x) => x.name), ['member-a-trail']);
    assert.deepEqual((await svc.list('member-b-trail,org-trail,member-a-trail', asA)).map((x) => x.name), ['member-a-trail']);
    for (const other of ['member-b-trail', 'org-trail', 'mgmt-trail']) {
      await rejectsWith(svc.get(other, asA), 'FT_ERR_TRAIL_NOT_FOUND');
      await rejectsWith(svc.status(other, asA), 'FT_ERR_TRAIL_NOT_FOUND');
      await rejectsWith(svc.update(other, { EventRW: 'Write' }, asA), 'FT_ERR_TRAIL_NOT_FOUND');
      await rejectsWith(svc.stop(other, asA), 'FT_ERR_TRAIL_NOT_FOUND');
      await rejectsWith(svc.start(other, asA), 'FT_ERR_TRAIL_NOT_FOUND');
      await rejectsWith(svc.deadLetters(other, undefined, undefined, asA), 'FT_ERR_TRAIL_NOT_FOUND');
      await rejectsWith(svc.createHistoryJob(other, asA), 'FT_ERR_TRAIL_NOT_FOUND');
      await rejectsWith(svc.listHistoryJobs(other, undefined, undefined, asA), 'FT_ERR_TRAIL_NOT_FOUND');
      await rejectsWith(svc.delete(other, asA), 'FT_ERR_TRAIL_NOT_FOUND');
    }
    assert.equal((await svc.get('member-b-trail', {})).status, 'Enable', "B's trail is untouched");
    // Its own trail: yes. A multi-account trail or a key rotation: the management account's only.
    assert.equal((await svc.status('member-a-trail', asA)).IsLogging, true);
    await rejectsWith(svc.create({ Name: 'member-a-org', Destinations: ['local'], IsOrganizationTrail: true }, asA), 'FT_ERR_TRAIL_MANAGEMENT_ONLY');
    await rejectsWith(svc.rotateKey(asA), 'FT_ERR_TRAIL_MANAGEMENT_ONLY');
    // Names are unique across accounts.
    await rejectsWith(svc.create({ Name: 'member-b-trail', Destinations: ['local'] }, asA), 'FT_ERR_TRAIL_ALREADY_EXISTS');
    // A member's history jobs: its own; the management account lists every account's.
    const job = await svc.createHistoryJob('member-a-trail', asA);
    assert.deepEqual((await svc.listHistoryJobs(undefined, 1, 10, asA)).DeliveryHistoryJobs.map((j) => j.JobId), [job.id]);
    assert.deepEqual((await svc.listHistoryJobs(undefined, 1, 10, { accountId: B })).DeliveryHistoryJobs, []);
    assert.ok((await svc.listHistoryJobs(undefined, 1, 10, {})).DeliveryHistoryJobs.some((j) => j.JobId === job.id));
    const created = await svc.create({ Name: 'member-a-extra', Destinations: ['local'] }, asA);
    assert.equal(created.accountId, A);
    await svc.delete('member-a-extra', asA);
    assert.deepEqual((await svc.list(undefined, asA)).map((x) => x.name), ['member-a-trail']);
  });
});
