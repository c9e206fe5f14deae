/**
 * A destination down under steady traffic: the real S3 endpoint (Swift's proxy) is stopped for
 * 20 s while events keep coming, then started again. GetTrailStatus shows the error meanwhile,
 * the failures are counted, and afterwards every event is in the bucket exactly once, no file
 * exists twice (retries overwrite themselves), the error is cleared and the digest chain,
 * delayed by the outage, validates.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { ActionTrailEvent } from '../../../src/event/types.js';
import { parseDestination } from '../../../src/trails/destination.js';
import type { TrailsModule } from '../../../src/trails/index.js';
import { decodeFile } from '../../../src/trails/layout.js';
import { S3ObjectStore } from '../../../src/trails/sinks/index.js';
import { prefixed, validateLogs } from '../../../src/trails/validate-logs/index.js';
import { newEvents } from '../../helpers/events.js';
import { startS3, type S3Server } from '../../helpers/s3.js';
import { countIds, sleep, startTrailApp, until, type TrailApp } from './common.js';

const OUTAGE_MS = Number(process.env['FLINKTRAIL_TEST_OUTAGE_SECONDS'] ?? 20) * 1000;

describe('a bucket down for a while under steady traffic', { timeout: 300_000 }, () => {
  let s3: S3Server;
  let t: TrailApp;
  let url = '';
  let traffic = true;
  let sent = 0;
  let pump: Promise<void> | undefined;

  before(async () => {
    s3 = await startS3({ ownServer: true });
    // Small files, so that the backlog after the outage must be split.
    t = await startTrailApp({ trails: { windowSeconds: 1, maxEventsPerFile: 200, retry: { initialBackoffMs: 100, maxBackoffMs: 1000 } } });
    url = await s3.destination('outage-bucket', 'trail');
    const r = await t.call('POST', '/api/v1/trails', { Name: 'outage-trail', EventRW: 'All', DigestInterval: 2, Destinations: [url] });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    await t.call('POST', '/api/v1/trails/outage-trail/start');
    // Steady traffic: one event every 25 ms, recorded as the gateway would.
    pump = (async () => {
      while (traffic) {
        const [e] = newEvents(1, { start: Date.now() });
        await t.app.store.append(e!);
        sent++;
        await sleep(25);
      }
    })();
  });
  after(async () => {
    traffic = false;
    await pump;
    await Promise.allSettled([t?.close()]);
    await s3?.stop();
  });

  it('shows the error meanwhile, then catches up with nothing missing and no duplicate file', async () => {
    await sleep(3000);
    const status = () =>
      t.call<{ LatestDeliveryError: string; LatestDeliveryTime: string | null; OssBucketStatus: boolean; Destinations: { Status: string; Position: number; PendingBatch: unknown }[] }>(
        'GET',
        '/api/v1/trails/outage-trail/status',
      );
    const before = (await status()).body;
    assert.equal(before.LatestDeliveryError, '');
    assert.ok(before.LatestDeliveryTime, 'files were delivered before the outage');

    await s3.pause();
    const outageStart = Date.now();
    let sawError = '';
    let sawFailing = false;
    while (Date.now() - outageStart < OUTAGE_MS) {
      const s = (await status()).body;
      if (s.LatestDeliveryError) sawError = s.LatestDeliveryError;
      if (s.Destinations[0]?.Status === 'Failing' && !s.OssBucketStatus) sawFailing = true;
      await sleep(1000);
    }
    const sentDuringOutage = sent;
    await s3.resume();
    await sleep(2000);
    traffic = false;
    await pump;
    assert.ok(sawFailing, 'GetTrailStatus showed the destination failing during the outage');
    assert.match(sawError, /^s3:\/\/outage-bucket\/trail\?.*: .+/);
    assert.ok(!sawError.includes(s3.secretAccessKey), 'no credentials in the status');

    const lastSeq = await t.app.store.lastSeq();
    const caughtUp = Date.now();
    await until('catch-up', async () => {
      const s = (await status()).body;
      return s.Destinations[0]!.Position >= lastSeq && s.Destinations[0]!.PendingBatch === null && s.LatestDeliveryError === '' ? s : undefined;
    }, 60_000);
    console.log(`outage: ${OUTAGE_MS / 1000} s, ${sent} events sent (${sentDuringOutage} by its end), caught up ${Date.now() - caughtUp} ms after the last event`);

    // Every event exactly once, in files that each exist once.
    const trails = t.app.modules.find((m) => m.name === 'trails') as TrailsModule;
    const startAt = (await trails.service.get('outage-trail', {})).firstStartAt!;
    const want = (await t.app.store.scan(0, 1_000_000)).filter((p) => p.seq <= lastSeq && Date.parse(p.event.eventTime) > startAt).map((p) => p.event.eventId);
    // Events keep arriving after lastSeq (the status calls above are recorded too), so the trail
    // may deliver while the bucket is listed: what was recorded before the listing must be in
    // it, and what is in it must be recorded once the delivery in flight has finished.
    const recordedFiles = async () => (await t.trailRows<{ key: string }>("SELECT f.key AS key FROM trail_files f JOIN trail_destinations d ON d.id = f.dest_id WHERE d.trail = 'outage-trail'")).map((r) => r.key);
    const recordedBefore = await recordedFiles();
    const c = s3.client();
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await c.send(new ListObjectsV2Command({ Bucket: 'outage-bucket', Prefix: 'trail/AliyunLogs/Actiontrail/', ...(token ? { ContinuationToken: token } : {}) }));
      keys.push(...(page.Contents ?? []).map((o) => o.Key!));
      token = page.NextContinuationToken;
    } while (token);
    const delivered: ActionTrailEvent[] = [];
    for (const k of keys) delivered.push(...decodeFile(Buffer.from(await (await c.send(new GetObjectCommand({ Bucket: 'outage-bucket', Key: k }))).Body!.transformToByteArray())));
    c.destroy();
    const counts = countIds(delivered);
    assert.deepEqual([...counts].filter(([, n]) => n > 1), [], 'no event twice');
    assert.deepEqual(want.filter((id) => !counts.has(id)), [], 'no event missing');
    assert.deepEqual(recordedBefore.filter((k) => !keys.includes(k)), [], 'every recorded file is in the bucket');
    const stray = async () => {
      const recorded = new Set(await recordedFiles());
      return keys.filter((k) => !recorded.has(k));
    };
    await until('the files in flight during the listing to be recorded', async () => ((await stray()).length === 0 ? true : undefined), 30_000).catch(() => undefined);
    assert.deepEqual(await stray(), [], 'every file in the bucket is recorded: no duplicate or stray file');
    // The backlog was split at maxEventsPerFile.
    const sizes = keys.map((k) => Number(/_1002_(\d+)_/.exec(k)![1]));
    assert.ok(sizes.every((n) => n <= 200), `file sizes ${sizes.join(',')}`);
    assert.ok(sizes.filter((n) => n === 200).length >= 2, `the backlog was split into full files: ${sizes.join(',')}`);

    const metrics = await (await fetch(`${t.info.apiUrl}/metrics`, { headers: { authorization: `Basic ${Buffer.from(`${t.cred.accessKeyId}:${t.cred.accessKeySecret}`).toString('base64')}` } })).text();
    const failures = /flinktrail_trail_delivery_failures_total\{trail="outage-trail",destination="s3"\} (\d+)/.exec(metrics);
    assert.ok(failures && Number(failures[1]) > 0, 'failures counted');
    assert.match(metrics, /flinktrail_trail_lag_events\{trail="outage-trail",destination="s3"\} \d+/);

    // The digest chain was delayed, not broken.
    await sleep(2500);
    const dest = parseDestination(url, { localDir: '/' });
    const store = new S3ObjectStore(dest.s3!, { multipartThresholdBytes: 8 * 1024 * 1024 });
    const report = await validateLogs({ reader: prefixed(store, 'trail'), trail: 'outage-trail', publicKeys: await trails.keys.publicKeys(), start: startAt - 60_000, end: Date.now() });
    await store.close();
    assert.equal(report.ok, true, JSON.stringify(report.findings.filter((f) => f.severity === 'error')));
    assert.ok(report.files.valid >= keys.length - 2, `${report.files.valid} of ${keys.length} files covered by digests`);
  });
});
