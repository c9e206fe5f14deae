/**
 * Trail management end to end (no external servers: directory destinations and an unreachable
 * bucket): ActionTrail's validation rules with coded errors, credentials never shown or recorded,
 * FlinkTrail's own audit of trail changes, stop/start semantics, delivery history jobs (one at
 * a time, status 0-3, progress in the CLI).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ActionTrailEvent } from '../../../src/event/types.js';
import type { TrailsModule } from '../../../src/trails/index.js';
import { MANAGEMENT_ACCOUNT } from '../../helpers/events.js';
import { lookup, tempDir } from '../../helpers/flinktrail.js';
import { cli, countIds, readLogFiles, startTrailApp, until, type TrailApp } from './common.js';

const SECRET = 'VerySecretValue0123456789';
const KEY_ID = 'AKIDSHOULDNOTSHOW';
const deadS3 = `s3://audit-bucket/flink?endpoint=http://127.0.0.1:9&region=us-east-1&accessKeyId=${KEY_ID}&secretAccessKey=${SECRET}`;

describe('trail management', () => {
  let t: TrailApp;
  const env = () => ({ FLINKTRAIL_ENDPOINT: t.info.apiUrl, FLINKTRAIL_ACCESS_KEY_ID: t.cred.accessKeyId, FLINKTRAIL_ACCESS_KEY_SECRET: t.cred.accessKeySecret });
  const whoami = async () => {
    const res = await fetch(`${t.info.apiUrl}/api/v1/whoami`, { headers: { authorization: `Basic ${Buffer.from(`${t.cred.accessKeyId}:${t.cred.accessKeySecret}`).toString('base64')}` } });
    assert.equal(res.status, 200);
    return res.headers.get('x-request-id') as string;
  };

  before(async () => {
    t = await startTrailApp({ trails: { knownRegions: ['cn-hangzhou'] } });
  });
  after(async () => {
    await t?.close();
  });

  it('refuses bad trails with clear, coded errors', async () => {
    const dir = tempDir('ft-dest-');
    const cases: [unknown, number, string][] = [
      [{ Name: 'no-destination' }, 400, 'FT_ERR_TRAIL_NO_DESTINATION'],
      [{ Name: 'no-destination', Destinations: [] }, 400, 'FT_ERR_TRAIL_NO_DESTINATION'],
      [{ Name: 'bad-region', TrailRegion: 'cn-hangzhou,mars-1', Destinations: [`file://${dir}`] }, 400, 'FT_ERR_TRAIL_UNKNOWN_REGION'],
      [{ Name: 'short', Destinations: [`file://${dir}`] }, 400, 'FT_ERR_TRAIL_INVALID_NAME'],
      [{ Name: 'Upper-case-name', Destinations: [`file://${dir}`] }, 400, 'FT_ERR_TRAIL_INVALID_NAME'],
      [{ Name: '1starts-with-digit', Destinations: [`file://${dir}`] }, 400, 'FT_ERR_TRAIL_INVALID_NAME'],
      [{ Name: 'x'.repeat(37), Destinations: [`file://${dir}`] }, 400, 'FT_ERR_TRAIL_INVALID_NAME'],
      [{ Name: 'bad-scheme', Destinations: ['ftp://example/x'] }, 400, 'FT_ERR_TRAIL_INVALID_DESTINATION'],
      [{ Name: 'relative-dir', Destinations: ['file://relative/dir'] }, 400, 'FT_ERR_TRAIL_INVALID_DESTINATION'],
      [{ Name: 'kafka-no-topic', Destinations: ['kafka://127.0.0.1:9092'] }, 400, 'FT_ERR_TRAIL_INVALID_DESTINATION'],
      [{ Name: 'bad-event-rw', EventRW: 'Both', Destinations: [`file://${dir}`] }, 400, 'FT_ERR_TRAIL_INVALID_PARAMETER'],
      [{ Name: 'bad-field', Destinations: [`file://${dir}`], OssBucket: 'x' }, 400, 'FT_ERR_TRAIL_INVALID_PARAMETER'],
      [{ Name: 'digest-too-often', Destinations: [`file://${dir}`], DigestInterval: 0 }, 400, 'FT_ERR_TRAIL_INVALID_PARAMETER'],
    ];
    for (const [body, status, code] of cases) {
      const r = await t.call('POST', '/api/v1/trails', body);
      assert.equal(r.status, status, JSON.stringify(body));
      assert.equal(r.body['Code'], code, JSON.stringify(r.body));
      assert.match(String(r.body['Message']), /\w/);
    }
    const ok = await t.call('POST', '/api/v1/trails', { Name: 'dup-trail', Destinations: [`file://${dir}`] });
    assert.equal(ok.status, 200);
    assert.equal(ok.body['Status'], 'Fresh');
    assert.equal(ok.body['EventRW'], 'Write');
    assert.equal(ok.body['TrailRegion'], 'All');
    const dup = await t.call('POST', '/api/v1/trails', { Name: 'dup-trail', Destinations: [`file://${dir}`] });
    assert.equal(dup.status, 409);
    assert.equal(dup.body['Code'], 'FT_ERR_TRAIL_ALREADY_EXISTS');
    const missing = await t.call('GET', '/api/v1/trails/no-such-trail/status');
    assert.equal(missing.status, 404);
    assert.equal(missing.body['Code'], 'FT_ERR_TRAIL_NOT_FOUND');
    assert.equal((await t.call('DELETE', '/api/v1/trails/dup-trail')).status, 200);
  });

  it('never shows or records bucket credentials, and audits trail changes as global Actiontrail events', async () => {
    const dir = tempDir('ft-dest-');
    const created = await t.call('POST', '/api/v1/trails', { Name: 'secret-trail', EventRW: 'All', TrailRegion: 'local,cn-hangzhou', Destinations: [deadS3, `file://${dir}`] });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const described = await t.call<{ TrailList: { Destinations: string[]; TrailRegion: string }[] }>('GET', '/api/v1/trails?NameList=secret-trail');
    const text = JSON.stringify([created.body, described.body]);
    assert.ok(!text.includes(SECRET) && !text.includes(KEY_ID), text);
    const shown = described.body.TrailList[0]!.Destinations[0]!;
    assert.match(shown, /secretAccessKey=\*\*\*\*\*\*/);
    assert.equal(described.body.TrailList[0]!.TrailRegion, 'cn-hangzhou,local');

    // A console sends the redacted URL back: the stored credentials are kept.
    const upd = await t.call('PATCH', '/api/v1/trails/secret-trail', { Destinations: [shown, `file://${dir}`], EventRW: 'Write' });
    assert.equal(upd.status, 200, JSON.stringify(upd.body));
    const trails = t.app.modules.find((m) => m.name === 'trails') as TrailsModule;
    assert.ok((await trails.service.get('secret-trail', {})).destinations[0]!.url.includes(SECRET), 'trails.service.get("secret-trail").destinations[0]!.url.includes(SECRET)');

    // The bucket is unreachable: the status names the failure, without credentials.
    assert.equal((await t.call('POST', '/api/v1/trails/secret-trail/start')).status, 200);
    // A write for the Write trail to deliver (to the unreachable bucket).
    await t.call('PATCH', '/api/v1/trails/secret-trail', { DigestInterval: 60 });
    const status = await until('a delivery error in GetTrailStatus', async () => {
      const s = await t.call<{ LatestDeliveryError: string; IsLogging: boolean; OssBucketStatus: boolean }>('GET', '/api/v1/trails/secret-trail/status');
      return s.body.LatestDeliveryError ? s.body : undefined;
    });
    assert.equal(status.IsLogging, true);
    assert.equal(status.OssBucketStatus, false);
    assert.match(status.LatestDeliveryError, /audit-bucket/);
    assert.ok(!JSON.stringify(status).includes(SECRET) && !JSON.stringify(status).includes(KEY_ID), '!JSON.stringify(status).includes(SECRET) && !JSON.stringify(status).includes(KEY_ID)');

    const events = await until('the trail management events', async () => {
      const r = await lookup(t.info.apiUrl, t.cred, { serviceName: 'Actiontrail', resourceName: 'secret-trail', maxResults: '200' });
      const names = new Set(r.Events.map((e) => e.eventName));
      return ['CreateTrail', 'DescribeTrails', 'UpdateTrail', 'StartLogging', 'GetTrailStatus'].every((n) => names.has(n)) ? r.Events : undefined;
    });
    const create = events.find((e) => e.eventName === 'CreateTrail') as ActionTrailEvent;
    assert.equal(create.isGlobal, true);
    assert.equal(create.eventRW, 'Write');
    assert.deepEqual(create.referencedResources['ACS::ActionTrail::Trail'], ['secret-trail']);
    assert.ok(!JSON.stringify(events).includes(SECRET) && !JSON.stringify(events).includes(KEY_ID), '!JSON.stringify(events).includes(SECRET) && !JSON.stringify(events).includes(KEY_ID)');
    assert.equal((await t.call('DELETE', '/api/v1/trails/secret-trail')).status, 200);
  });

  it('delivers nothing before StartLogging and nothing between StopLogging and StartLogging', async () => {
    const dir = tempDir('ft-dest-');
    assert.equal((await t.call('POST', '/api/v1/trails', { Name: 'stop-start', EventRW: 'All', Destinations: [`file://${dir}`] })).status, 200);
    const beforeStart = [await whoami(), await whoami()];
    await t.call('POST', '/api/v1/trails/stop-start/start');
    const first = [await whoami(), await whoami(), await whoami()];
    await until('first batch delivered', () => {
      const got = new Set([...readLogFiles(dir).values()].flat().map((e) => e.requestId));
      return first.every((r) => got.has(r)) ? true : undefined;
    });
    await t.call('POST', '/api/v1/trails/stop-start/stop');
    const between = [await whoami(), await whoami(), await whoami()];
    const stopped = await t.call<{ IsLogging: boolean; StopLoggingTime: string }>('GET', '/api/v1/trails/stop-start/status');
    assert.equal(stopped.body.IsLogging, false);
    assert.ok(stopped.body.StopLoggingTime, 'stopped.body.StopLoggingTime');
    await t.call('POST', '/api/v1/trails/stop-start/start');
    const second = [await whoami(), await whoami(), await whoami()];
    const files = await until('second batch delivered', () => {
      const f = readLogFiles(dir);
      const got = new Set([...f.values()].flat().map((e) => e.requestId));
      return second.every((r) => got.has(r)) ? f : undefined;
    });
    const all = [...files.values()].flat();
    const got = new Set(all.map((e) => e.requestId));
    for (const r of [...beforeStart, ...between]) assert.ok(!got.has(r), `event ${r} must not be delivered`);
    for (const r of [...first, ...second]) assert.ok(got.has(r), `event ${r} must be delivered`);
    assert.ok([...countIds(all).values()].every((n) => n === 1), 'every event exactly once');
    // Logging is on and off by event time: StopLogging happened while logging was on (delivered),
    // StartLogging happened while it was off (not delivered).
    assert.ok(all.some((e) => e.eventName === 'StopLogging'), 'all.some((e) => e.eventName === "StopLogging")');
    assert.ok(!all.some((e) => e.eventName === 'StartLogging'), '!all.some((e) => e.eventName === "StartLogging")');
    await t.call('DELETE', '/api/v1/trails/stop-start');
  });

  it('backfills retained history (one job at a time, status 0-3) with progress in the CLI', async () => {
    const history = [await whoami(), await whoami()];
    // A job towards an unreachable bucket keeps delivering (status 1) and blocks a second job.
    assert.equal((await t.call('POST', '/api/v1/trails', { Name: 'stuck-backfill', EventRW: 'All', Destinations: [deadS3] })).status, 200);
    const stuck = await t.call<{ JobId: string }>('POST', '/api/v1/trails/stuck-backfill/history-jobs');
    assert.equal(stuck.status, 200);
    await until('the stuck job delivering', async () => {
      const l = await t.call<{ DeliveryHistoryJobs: { JobStatus: number }[] }>('GET', '/api/v1/trails/stuck-backfill/history-jobs');
      return l.body.DeliveryHistoryJobs[0]?.JobStatus === 1 ? true : undefined;
    });
    const dir = tempDir('ft-dest-');
    assert.equal((await t.call('POST', '/api/v1/trails', { Name: 'history-trail', EventRW: 'All', Destinations: [`file://${dir}`] })).status, 200);
    const second = await t.call('POST', '/api/v1/trails/history-trail/history-jobs');
    assert.equal(second.status, 409);
    assert.equal(second.body['Code'], 'FT_ERR_TRAIL_HISTORY_JOB_RUNNING');
    // Deleting the trail fails its job (status 3).
    await t.call('DELETE', '/api/v1/trails/stuck-backfill');
    const failed = await t.call<{ DeliveryHistoryJobs: { JobId: string; JobStatus: number; ErrorMessage?: string }[] }>('GET', '/api/v1/trails/history-trail/history-jobs');
    assert.equal(failed.status, 200);
    // The trail is gone, so its own ListDeliveryHistoryJobs answers 404: the account-wide list still has the job.
    const trails = t.app.modules.find((m) => m.name === 'trails') as TrailsModule;
    const accountJobs = await trails.service.listHistoryJobs(undefined, 1, 100, {});
    assert.equal(accountJobs.DeliveryHistoryJobs.find((j) => j.JobId === stuck.body.JobId)?.JobStatus, 3);

    const run = await cli(['trails', 'backfill', 'history-trail', '--wait'], env());
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /Delivery history job [0-9a-f-]+ complete\./);
    assert.match(run.stderr, /100%/);
    const jobs = await cli(['trails', 'backfill', 'history-trail', '--list', '--output', 'json'], env());
    const listed = JSON.parse(jobs.stdout) as { DeliveryHistoryJobs: { JobStatus: number; Progress: number }[] };
    assert.equal(listed.DeliveryHistoryJobs[0]?.JobStatus, 2);
    assert.equal(listed.DeliveryHistoryJobs[0]?.Progress, 100);

    // Everything retained up to the job's start is delivered once, and nothing later.
    const delivered = [...readLogFiles(dir).values()].flat();
    assert.ok([...countIds(delivered).values()].every((n) => n === 1), '[...countIds(delivered).values()].every((n) => n === 1)');
    const ids = new Set(delivered.map((e) => e.requestId));
    for (const r of history) assert.ok(ids.has(r), `history event ${r} backfilled`);
    const jobRows = await t.trailRows<{ end_seq: number }>("SELECT end_seq FROM trail_history_jobs WHERE trail = 'history-trail'");
    assert.equal(jobRows.length, 1);
    const endSeq = jobRows[0]!.end_seq;
    assert.ok(Number.isInteger(endSeq) && endSeq > 0, `end_seq ${endSeq}`);
    const expected = (await t.app.store.scan(0, 100_000)).filter((p) => p.seq <= endSeq);
    assert.equal(delivered.length, expected.length);
  });

  it('manages trails from the CLI, tables by default and JSON on request', async () => {
    const dir = tempDir('ft-dest-');
    const created = await cli(['trails', 'create', '--name', 'cli-trail-1', '--destination', `file://${dir}`, '--destination', 'local', '--event-rw', 'All', '--start', '--output', 'json'], env());
    assert.equal(created.code, 0, created.stderr);
    const out = JSON.parse(created.stdout) as { Name: string; Status: string; Destinations: string[] };
    assert.equal(out.Status, 'Enable');
    assert.equal(out.Destinations.length, 2);
    assert.ok(out.Destinations[1]!.startsWith(`file://${t.dataDir}`), 'out.Destinations[1]!.startsWith(`file://${t.dataDir}`)');
    const table = await cli(['trails', 'describe'], env());
    assert.match(table.stdout, /Name\s+Account\s+Status\s+EventRW/);
    assert.match(table.stdout, new RegExp(`cli-trail-1\\s+${MANAGEMENT_ACCOUNT}\\s+Enable\\s+All`), 'the trail is the management account\'s');
    const bad = await cli(['trails', 'create', '--name', 'cli-trail-2'], env());
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /FT_ERR_TRAIL_NO_DESTINATION/);
    const status = await cli(['trails', 'status', 'cli-trail-1'], env());
    assert.match(status.stdout, /IsLogging: true/);
    const stop = await cli(['trails', 'stop', 'cli-trail-1'], env());
    assert.equal(stop.code, 0);
    const del = await cli(['trails', 'delete', 'cli-trail-1'], env());
    assert.equal(del.code, 0);
  });
});
