/**
 * Regions end to end (issue 17's acceptance, regions half): one FlinkTrail with a cluster in its
 * home region (region-a) and one in region-b. A sign-in (a global event) is stored once and is in
 * the answer of every region's query; a job cancel in region-b is not in the default (home
 * region) query but is in region-b's and in the all-regions query — LookupEvents, the histogram
 * and the export alike. The global events storage region is read and changed over REST; a
 * non-admin's change is refused and recorded, and global events recorded afterwards carry the
 * new region while the old ones keep theirs. Flink is down: the cancels are attempts, recorded
 * with their failure, which is all a region needs.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { ActionTrailEvent } from '../../../src/event/types.js';
import { closedPort, type ClosedPort } from '../../helpers/ports.js';
import { basic, lookup, makeKey, REPO, startInProcess, tempDir, waitForEvents, type Credentials, type InProcess } from '../../helpers/flinktrail.js';

const exec = promisify(execFile);
const BIN = join(REPO, 'bin/flinktrail.mjs');

const PASSWORD = 'regions-password-1';

describe('regions: Event Query per region, global events in every region', () => {
  let ft: InProcess;
  let admin: Credentials;
  let viewer: Credentials;
  let flinkDown: ClosedPort;
  let api: string;
  const since = new Date(Date.now() - 60_000).toISOString();

  before(async () => {
    const dataDir = tempDir('ft-regions-');
    admin = await makeKey(dataDir, 'root', 'admin', PASSWORD);
    viewer = await makeKey(dataDir, 'vic', 'viewer');
    flinkDown = await closedPort();
    ft = await startInProcess(
      flinkDown.url,
      {
        region: 'region-a',
        clusters: [
          { name: 'home', url: flinkDown.url },
          { name: 'far', url: flinkDown.url, region: 'region-b' },
        ],
        trails: { knownRegions: ['region-c'] },
      },
      dataDir,
    );
    api = ft.info.apiUrl;
  });
  after(async () => {
    await ft?.close();
    await flinkDown?.release();
  });

  const call = (path: string, cred: Credentials, init: RequestInit = {}) =>
    fetch(`${api}${path}`, { ...init, headers: { authorization: basic(cred), 'content-type': 'application/json', ...(init.headers as Record<string, string> | undefined) } });
  const signIn = async (): Promise<string> => {
    const res = await fetch(`${api}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userName: 'root', password: PASSWORD }) });
    assert.equal(res.status, 200, await res.text());
    return res.headers.get('x-request-id') as string;
  };
  const cancel = async (cluster: string): Promise<string> => {
    const res = await call(`/flink/${cluster}/jobs/${'0'.repeat(31)}1?mode=cancel`, admin, { method: 'PATCH' });
    await res.arrayBuffer();
    return res.headers.get('x-request-id') as string;
  };
  const ids = (events: ActionTrailEvent[]) => events.map((e) => e.requestId);

  it('a sign-in is stored once and in every region; a cancel in region-b only in its own and the all-regions query', async () => {
    const signedIn = await signIn();
    const cancelA = await cancel('home');
    const cancelB = await cancel('far');
    // Every region (`region=*`): both cancels and the sign-in, once each.
    const all = await waitForEvents(api, admin, { startTime: since, region: '*' }, (es) => [signedIn, cancelA, cancelB].every((r) => es.some((e) => e.requestId === r)));
    assert.equal(all.filter((e) => e.requestId === signedIn).length, 1, 'the sign-in is stored once');
    const signInEvent = all.find((e) => e.requestId === signedIn) as ActionTrailEvent;
    assert.equal(signInEvent.eventName, 'ConsoleSignin');
    assert.ok(signInEvent.isGlobal, 'a sign-in is a global event');
    assert.equal(signInEvent.acsRegion, 'region-a', 'recorded in the global events storage region (default: the home region)');
    const b = all.find((e) => e.requestId === cancelB) as ActionTrailEvent;
    assert.deepEqual([b.eventName, b.acsRegion, b.isGlobal], ['CancelJob', 'region-b', false]);

    // Default: the home region (region-a) and the global events.
    const home = (await lookup(api, admin, { startTime: since, maxResults: '200' })).Events;
    assert.ok(ids(home).includes(signedIn) && ids(home).includes(cancelA), 'home region: the sign-in and its own cancel');
    assert.ok(!ids(home).includes(cancelB), "home region: not region-b's cancel");
    assert.ok(home.every((e) => e.acsRegion === 'region-a' || e.isGlobal), 'only region-a and global events');
    // region-b: its cancel and the same sign-in (same eventId), not region-a's cancel.
    const far = (await lookup(api, admin, { startTime: since, maxResults: '200', region: 'region-b' })).Events;
    assert.ok(ids(far).includes(cancelB) && !ids(far).includes(cancelA), "region-b: its own cancel, not region-a's");
    assert.equal(far.find((e) => e.requestId === signedIn)?.eventId, signInEvent.eventId, 'the one sign-in, seen from region-b');
    // A region with no cluster of its own still sees every global event.
    const other = (await lookup(api, admin, { startTime: since, maxResults: '200', region: 'region-c' })).Events;
    assert.ok(ids(other).includes(signedIn) && other.every((e) => e.isGlobal), 'region-c: the global events only');
    assert.ok(!ids(other).includes(cancelA) && !ids(other).includes(cancelB));
  });

  it('the histogram and the export ask the same region as LookupEvents', async () => {
    const count = async (q: Record<string, string>) => {
      const res = await call(`/api/v1/events/histogram?${new URLSearchParams({ startTime: since, eventName: 'CancelJob', buckets: '1', ...q }).toString()}`, admin);
      assert.equal(res.status, 200);
      return ((await res.json()) as { total: number }).total;
    };
    const cancels = await waitForEvents(api, admin, { startTime: since, eventName: 'CancelJob', region: '*' }, (es) => es.length >= 2);
    const inA = cancels.filter((e) => e.acsRegion === 'region-a').length;
    const inB = cancels.filter((e) => e.acsRegion === 'region-b').length;
    assert.ok(inA >= 1 && inB >= 1, 'cancels in both regions');
    assert.equal(await count({}), inA);
    assert.equal(await count({ region: 'region-b' }), inB);
    assert.equal(await count({ region: '*' }), inA + inB);
    const exported = async (q: Record<string, string>) => {
      const res = await call(`/api/v1/events/export?${new URLSearchParams({ startTime: since, eventName: 'CancelJob', format: 'json', ...q }).toString()}`, admin);
      assert.equal(res.status, 200);
      return ((await res.json()) as ActionTrailEvent[]).map((e) => e.acsRegion).sort();
    };
    assert.deepEqual(await exported({}), Array<string>(inA).fill('region-a'));
    assert.deepEqual(await exported({ region: '*' }), [...Array<string>(inA).fill('region-a'), ...Array<string>(inB).fill('region-b')]);
    for (const bad of ['Region-B', 'region_b', '', '*,region-a']) {
      const res = await call(`/api/v1/events?region=${encodeURIComponent(bad)}`, admin);
      assert.equal(res.status, 400, bad);
      assert.equal(((await res.json()) as { Code: string }).Code, 'FT_ERR_QUERY_INVALID_PARAMETER', bad);
    }
  });

  it('lists the regions and keeps the global events storage region; only an admin changes it, and every attempt is recorded', async () => {
    const { RequestId, ...regions } = (await (await call('/api/v1/regions', viewer)).json()) as { RequestId: string; Regions: string[]; HomeRegion: string; GlobalEventsStorageRegion: string };
    assert.ok(RequestId, 'a RequestId');
    assert.deepEqual(regions, { Regions: ['region-a', 'region-b', 'region-c'], HomeRegion: 'region-a', GlobalEventsStorageRegion: 'region-a' });
    const storage = async (cred: Credentials) => ((await (await call('/api/v1/regions/global-events-storage', cred)).json()) as { StorageRegion: string }).StorageRegion;
    assert.equal(await storage(viewer), 'region-a');

    const put = (cred: Credentials, body: unknown) => call('/api/v1/regions/global-events-storage', cred, { method: 'PUT', body: JSON.stringify(body) });
    const refused = await put(viewer, { StorageRegion: 'region-b' });
    assert.equal(refused.status, 403);
    assert.equal(((await refused.json()) as { Code: string }).Code, 'NoPermission');
    const unknown = await put(admin, { StorageRegion: 'us-east-1' });
    assert.equal(unknown.status, 400);
    assert.equal(((await unknown.json()) as { Code: string }).Code, 'FT_ERR_REGION_UNKNOWN');
    assert.equal((await put(admin, { StorageRegion: 'region-b', extra: 1 })).status, 400);
    assert.equal(await storage(viewer), 'region-a', 'nothing changed');

    const before = await signIn();
    const ok = await put(admin, { StorageRegion: 'region-b' });
    assert.equal(ok.status, 200);
    assert.equal(((await ok.json()) as { StorageRegion: string }).StorageRegion, 'region-b');
    assert.equal(await storage(viewer), 'region-b');
    const afterwards = await signIn();

    // Global events recorded from now on are in region-b; the earlier ones keep region-a; all in every region's query.
    for (const region of ['region-a', 'region-b', 'region-c']) {
      const es = await waitForEvents(api, admin, { startTime: since, eventName: 'ConsoleSignin', region }, (x) => [before, afterwards].every((r) => x.some((e) => e.requestId === r)));
      assert.equal(es.find((e) => e.requestId === before)?.acsRegion, 'region-a', region);
      assert.equal(es.find((e) => e.requestId === afterwards)?.acsRegion, 'region-b', region);
    }
    // Every attempt to change it is recorded, as a global event: the viewer's refusal, the bad region, the success.
    const updates = await waitForEvents(api, admin, { startTime: since, eventName: 'UpdateGlobalEventsStorageRegion', region: 'region-c' }, (es) => es.length >= 4);
    assert.ok(updates.every((e) => e.isGlobal && e.additionalEventData.sensitive === true), 'global and sensitive');
    const byVic = updates.filter((e) => e.userIdentity.userName === 'vic');
    assert.deepEqual(byVic.map((e) => [e.errorCode, e.requestParameters['StorageRegion']]), [['NoPermission', undefined]]);
    const done = updates.find((e) => e.additionalEventData.outcome === 'success');
    assert.equal(done?.requestParameters['StorageRegion'], 'region-b');
    assert.equal(done?.acsRegion, 'region-b', 'the change is recorded once it took effect: in the new region');
  });

  it('the CLI: lookup-events asks the home region, --all-regions every region; regions list, storage and set-storage', async () => {
    const env = { ...process.env, FLINKTRAIL_ENDPOINT: api, FLINKTRAIL_ACCESS_KEY_ID: admin.accessKeyId, FLINKTRAIL_ACCESS_KEY_SECRET: admin.accessKeySecret };
    const cli = async (...args: string[]) => exec(process.execPath, [BIN, ...args], { env });
    const cancels = async (...args: string[]) =>
      (JSON.parse((await cli('lookup-events', '--event-name', 'CancelJob', '--start-time', since, '--output', 'json', ...args)).stdout) as { Events: ActionTrailEvent[] }).Events.map((e) => e.acsRegion);
    assert.ok((await cancels()).every((r) => r === 'region-a'), 'the home region');
    assert.ok((await cancels('--region', 'region-b')).every((r) => r === 'region-b'));
    assert.deepEqual(new Set(await cancels('--all-regions')), new Set(['region-a', 'region-b']));
    const table = (await cli('lookup-events', '--event-name', 'ConsoleSignin', '--start-time', since, '--region', 'region-c')).stdout;
    assert.match(table.split('\n')[0] ?? '', /Time\s+User\s+Event.*Region/);
    assert.match(table, /region-a \(global\)/, 'global events are marked');
    const both = await cli('lookup-events', '--all-regions', '--region', 'region-a').catch((e: { code: number; stderr: string }) => e);
    assert.notEqual((both as { code: number }).code, 0);
    assert.match((both as { stderr: string }).stderr, /cannot be used with/);

    const listed = JSON.parse((await cli('regions', 'list', '--output', 'json')).stdout) as { Regions: string[]; HomeRegion: string };
    assert.deepEqual([listed.Regions, listed.HomeRegion], [['region-a', 'region-b', 'region-c'], 'region-a']);
    assert.match((await cli('regions', 'set-storage', 'region-c')).stdout, /region-c from now on/);
    assert.equal((await cli('regions', 'storage')).stdout.trim(), 'region-c');
    const unknown = await cli('regions', 'set-storage', 'mars-1').catch((e: { code: number; stderr: string }) => e);
    assert.equal((unknown as { code: number }).code, 2);
    assert.match((unknown as { stderr: string }).stderr, /FT_ERR_REGION_UNKNOWN/);
  });
});
