/**
 * The console's server side over plain HTTP: the app shell and assets are public and safe to
 * cache, client routes fall back to index.html, every data route stays authenticated; the
 * histogram and the streamed export agree with LookupEvents, are allowed to auditors only, and
 * are recorded; the cluster list never carries upstream URLs.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { newEvents } from '../../helpers/events.js';
import { REPO_ROOT } from '../../helpers/flink.js';
import { basic, lookup, makeKey, startInProcess, tempDir, waitForEvents, type Credentials, type InProcess } from '../../helpers/flinktrail.js';

// Nothing here talks to Flink: an address where nothing listens is enough.
const NO_FLINK = 'http://127.0.0.1:9';
const SECRET_URL = 'http://flinkadmin:s3cr3t@127.0.0.1:9';

describe('console routes', () => {
  let ft: InProcess;
  let admin: Credentials;
  let auditor: Credentials;
  let viewer: Credentials;
  let api: string;
  const start = Date.now() - 3600_000;
  const seeded = newEvents(1234, { start, stepMs: 1000 });
  const range = { startTime: new Date(start).toISOString(), endTime: new Date(start + 1234_000).toISOString() };

  before(async () => {
    const dataDir = tempDir('ft-console-api-');
    admin = await makeKey(dataDir, 'root', 'admin');
    auditor = await makeKey(dataDir, 'audrey', 'auditor');
    viewer = await makeKey(dataDir, 'vic', 'viewer');
    ft = await startInProcess(NO_FLINK, { clusters: [{ name: 'default', url: SECRET_URL, region: 'eu-west-1' }], region: 'local' }, dataDir);
    api = ft.info.apiUrl;
    await Promise.all(seeded.map((e) => ft.app.store.append(e)));
  });
  after(async () => {
    await ft?.close();
  });

  const get = (path: string, cred?: Credentials, headers: Record<string, string> = {}) =>
    fetch(`${api}${path}`, { headers: { ...(cred ? { authorization: basic(cred) } : {}), ...headers } });

  it('serves the app shell and assets without credentials, with a strict CSP, and client routes as index.html', async () => {
    for (const path of ['/', '/events', '/events?user=bob', '/trails', '/access', '/clusters', '/accounts', '/signin?next=%2Fevents']) {
      const res = await get(path);
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get('content-type') ?? '', /text\/html/);
      assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'self'.*frame-ancestors 'none'/);
      assert.equal(res.headers.get('cache-control'), 'no-cache');
      assert.match(await res.text(), /<div id="app">/);
    }
    const asset = readdirSync(join(REPO_ROOT, 'console', 'dist', 'assets')).find((f) => f.endsWith('.js')) as string;
    const res = await get(`/assets/${asset}`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('cache-control') ?? '', /immutable/);
    assert.equal((await get('/assets/nope.js')).status, 404);
    for (const escape of ['/assets/..%2f..%2fpackage.json', '/assets/%2e%2e%2f%2e%2e%2fpackage.json', '/assets/..%5c..%5cpackage.json']) {
      const r = await get(escape);
      assert.ok(r.status === 403 || r.status === 404, `${escape}: ${r.status}`);
      assert.doesNotMatch(await r.text(), /"devDependencies"/);
    }
  });

  it('keeps every data route authenticated', async () => {
    for (const path of ['/api/v1/clusters', '/api/v1/console/catalog', '/api/v1/events/histogram', '/api/v1/events/export', '/api/v1/nope']) {
      assert.equal((await get(path)).status, 401, path);
    }
    const settings = (await (await get('/api/v1/console/settings')).json()) as { sso: { enabled: boolean }; region: string };
    assert.deepEqual(settings, { region: 'local', sso: { enabled: false, loginUrl: '/api/v1/auth/oidc/login', providers: [] } });
  });

  it('lists clusters for any signed-in user, without upstream URLs', async () => {
    const res = await get('/api/v1/clusters', viewer);
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.doesNotMatch(text, /s3cr3t|flinkadmin|127\.0\.0\.1:9/);
    const body = JSON.parse(text) as { Clusters: unknown[]; Regions: string[]; DefaultRegion: string };
    assert.deepEqual(body.Clusters, [{ name: 'default', kind: 'jobmanager', region: 'eu-west-1', path: '/flink/default/' }]);
    assert.deepEqual(body.Regions, ['eu-west-1', 'local']);
    const catalog = (await (await get('/api/v1/console/catalog', viewer)).json()) as { EventNames: string[]; ResourceTypes: string[] };
    for (const n of ['CancelJob', 'RunJar', 'LookupEvents', 'ExportEvents', 'CreateTrail']) assert.ok(catalog.EventNames.includes(n), n);
    assert.ok(catalog.ResourceTypes.includes('ACS::RealtimeCompute::Job'));
  });

  it('counts the same events as LookupEvents in the histogram, for auditors and admins only', async () => {
    // The seeded events are in two regions (local, the home region, and cn-hangzhou): every region's.
    const q = new URLSearchParams({ ...range, user: 'carol', eventRW: 'Write', buckets: '12', region: '*' });
    const res = await get(`/api/v1/events/histogram?${q.toString()}`, auditor);
    assert.equal(res.status, 200);
    const h = (await res.json()) as { total: number; buckets: { Read: number; Write: number }[] };
    const expected = seeded.filter((e) => e.userIdentity.userName === 'carol' && e.eventRW === 'Write').length;
    assert.equal(h.total, expected);
    // Without region: the home region's only; with one: that region's.
    for (const region of [undefined, 'local', 'cn-hangzhou']) {
      const one = new URLSearchParams({ ...range, user: 'carol', eventRW: 'Write', buckets: '12', ...(region ? { region } : {}) });
      const total = ((await (await get(`/api/v1/events/histogram?${one.toString()}`, auditor)).json()) as { total: number }).total;
      assert.equal(total, seeded.filter((e) => e.userIdentity.userName === 'carol' && e.eventRW === 'Write' && e.acsRegion === (region ?? 'local')).length, String(region));
    }
    assert.equal(h.buckets.length, 12);
    assert.equal(
      h.buckets.reduce((n, b) => n + b.Write, 0),
      expected,
    );
    const denied = await get(`/api/v1/events/histogram?${q.toString()}`, viewer);
    assert.equal(denied.status, 403);
    assert.equal(((await denied.json()) as { Code: string }).Code, 'NoPermission');
    const bad = await get('/api/v1/events/histogram?buckets=9999', admin);
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { Code: string }).Code, 'FT_ERR_QUERY_INVALID_PARAMETER');
  });

  it('streams every matching event as CSV and JSON (more than a page, no cap), recorded as ExportEvents', async () => {
    const csvRes = await get(`/api/v1/events/export?${new URLSearchParams({ ...range, format: 'csv', region: '*' }).toString()}`, auditor);
    assert.equal(csvRes.status, 200);
    assert.match(csvRes.headers.get('content-type') ?? '', /^text\/csv/);
    assert.match(csvRes.headers.get('content-disposition') ?? '', /^attachment; filename="flinktrail-events-\d{8}T\d{6}Z\.csv"$/);
    const lines = (await csvRes.text()).split('\r\n').filter(Boolean);
    assert.equal(lines.length, 1 + seeded.length);
    // Newest first, as LookupEvents.
    assert.ok(lines[1]?.startsWith(`${seeded[seeded.length - 1]?.eventTime},${seeded[seeded.length - 1]?.eventId},`));

    // Without region: the home region's, as LookupEvents.
    const jsonRes = await get(`/api/v1/events/export?${new URLSearchParams({ ...range, format: 'json', user: 'alice', direction: 'FORWARD' }).toString()}`, admin);
    const records = (await jsonRes.json()) as { eventId: string }[];
    const api200 = await lookup(api, admin, { ...range, user: 'alice', direction: 'FORWARD', maxResults: '200' });
    assert.equal(records.length, seeded.filter((e) => e.userIdentity.userName === 'alice' && e.acsRegion === 'local').length);
    assert.deepEqual(
      records.slice(0, 200).map((r) => r.eventId),
      api200.Events.map((e) => e.eventId),
    );

    assert.equal((await get(`/api/v1/events/export?format=xml`, admin)).status, 400);
    assert.equal((await get(`/api/v1/events/export?region=EU_WEST`, admin)).status, 400);
    assert.equal((await get(`/api/v1/events/export`, viewer)).status, 403);

    const recorded = await waitForEvents(api, admin, { eventName: 'ExportEvents', user: 'audrey' }, (es) => es.length === 1);
    assert.equal(recorded[0]?.requestParameters['format'], 'csv');
    assert.equal(recorded[0]?.requestParameters['exportedEvents'], seeded.length);
    assert.equal(recorded[0]?.serviceName, 'Actiontrail');
  });
});
