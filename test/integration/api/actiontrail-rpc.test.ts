/**
 * (Every assert.ok has a message: without one, Node parses the transpiled one-line source to
 * write it, which takes minutes.)
 *
 * The ActionTrail-compatible RPC endpoint driven by Alibaba Cloud's own SDKs, as a user would:
 * @alicloud/pop-core (Signature V1, GET and POST) and @alicloud/openapi-client (V3, and its V1
 * mode) against a real FlinkTrail with real events ingested over its API. Every LookupEvents page
 * must be the page GET /api/v1/events gives for the same filters; every malformed, forged,
 * replayed or stale request gets its Alibaba error code, never a 500; and the calls are recorded.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import RPCClient from '@alicloud/pop-core';
import OpenApiModule, { Config, OpenApiRequest, Params } from '@alicloud/openapi-client';
import OpenApiUtilModule from '@alicloud/openapi-util';
import { RuntimeOptions } from '@alicloud/tea-util';
import fc from 'fast-check';
import { openDatabase } from '../../../src/store/sqlite/database.js';
import { newEvents } from '../../helpers/events.js';
import { basic, lookup, makeKey, startInProcess, tempDir, waitForEvents, type Credentials, type InProcess } from '../../helpers/flinktrail.js';

// CommonJS packages compiled from TypeScript: their `default` export is a property of the module.
const OpenApi = OpenApiModule.default;
const OpenApiUtil = OpenApiUtilModule.default;
const VERSION = '2020-07-06';
type Body = Record<string, unknown>;
/** One way of calling an action: a client family and its signature. */
type Call = (action: string, params: Record<string, unknown>) => Promise<Body>;

function popCore(apiUrl: string, cred: Credentials, method: 'GET' | 'POST'): Call {
  const client = new RPCClient({ endpoint: apiUrl, apiVersion: VERSION, accessKeyId: cred.accessKeyId, accessKeySecret: cred.accessKeySecret });
  return (action, params) => client.request<Body>(action, params, { method, timeout: 20_000 });
}

function openApi(apiUrl: string, cred: Credentials, signature: 'v3' | 'v1'): Call {
  const client = new OpenApi(
    new Config({
      accessKeyId: cred.accessKeyId,
      accessKeySecret: cred.accessKeySecret,
      endpoint: new URL(apiUrl).host,
      protocol: 'http',
      regionId: 'local',
      ...(signature === 'v1' ? { signatureAlgorithm: 'v2' } : {}),
    }),
  );
  return async (action, params) => {
    // As the generated ActionTrail SDK does: RPC style, POST (StopLogging: GET), params in the query.
    const p = new Params({ action, version: VERSION, protocol: 'HTTP', pathname: '/', method: action === 'StopLogging' ? 'GET' : 'POST', authType: 'AK', style: 'RPC', reqBodyType: 'formData', bodyType: 'json' });
    const r = (await client.callApi(p, new OpenApiRequest({ query: OpenApiUtil.query(params) }), new RuntimeOptions({ readTimeout: 20_000, connectTimeout: 5_000 }))) as { body: Body };
    return r.body;
  };
}

/** A V1-signed request built with Alibaba's own signer (openapi-util), to vary what SDKs never get wrong. */
function signedV1(cred: Credentials, params: Record<string, string>, o: { method?: 'GET' | 'POST'; timestamp?: string; nonce?: string; secret?: string } = {}) {
  const all: Record<string, string> = {
    Format: 'JSON',
    Version: VERSION,
    AccessKeyId: cred.accessKeyId,
    SignatureMethod: 'HMAC-SHA1',
    SignatureVersion: '1.0',
    SignatureNonce: o.nonce ?? `n${Math.random().toString(16).slice(2)}${Date.now()}`,
    Timestamp: o.timestamp ?? new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    ...params,
  };
  all['Signature'] = OpenApiUtil.getRPCSignature(all, o.method ?? 'GET', o.secret ?? cred.accessKeySecret);
  return new URLSearchParams(all).toString();
}

/** A V3-signed GET (ACS3-HMAC-SHA256) built with Alibaba's own signer, for replays and stale dates. */
function signedV3(apiUrl: string, cred: Credentials, action: string, o: { nonce?: string; date?: string; version?: string } = {}): Record<string, string> {
  const headers: Record<string, string> = {
    host: new URL(apiUrl).host,
    'x-acs-action': action,
    'x-acs-version': o.version ?? VERSION,
    'x-acs-date': o.date ?? new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    'x-acs-signature-nonce': o.nonce ?? `v3${Math.random().toString(16).slice(2)}${Date.now()}`,
    'x-acs-content-sha256': OpenApiUtil.hexEncode(OpenApiUtil.hash(Buffer.alloc(0), 'ACS3-HMAC-SHA256')),
  };
  const request = { pathname: '/', method: 'GET', query: {}, headers } as unknown as Parameters<typeof OpenApiUtil.getAuthorization>[0];
  headers['authorization'] = OpenApiUtil.getAuthorization(request, 'ACS3-HMAC-SHA256', headers['x-acs-content-sha256']!, cred.accessKeyId, cred.accessKeySecret);
  return headers;
}

interface ErrorAnswer {
  status: number;
  body: { RequestId: string; HostId: string; Code: string; Message: string; Recommend: string };
  headers: Headers;
}

describe('ActionTrail RPC endpoint (2020-07-06) with Alibaba Cloud SDKs', () => {
  let ft: InProcess | undefined;
  let throttled: InProcess | undefined;
  let admin: Credentials;
  let viewer: Credentials;
  let legacy: Credentials;
  let interim: Credentials;
  let api: string;
  const trailDir = tempDir('ft-rpc-trail-');
  const START = new Date(Date.now() - 3 * 3600_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const END = new Date(Date.now() + 3600_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const events = newEvents(137, { start: Date.now() - 2 * 3600_000, stepMs: 30_000 });

  before(async () => {
    const dataDir = tempDir();
    admin = await makeKey(dataDir, 'alice', 'admin');
    viewer = await makeKey(dataDir, 'victor', 'viewer');
    legacy = await makeKey(dataDir, 'olga', 'admin');
    interim = await makeKey(dataDir, 'ivan', 'admin');
    const db = openDatabase(dataDir);
    // A key from before signing secrets were kept: only its hash exists.
    db.prepare('DELETE FROM access_key_signing WHERE key_id = ?').run(legacy.accessKeyId);
    // A key sealed by unreleased builds with a key file in the data directory (format v1.<iv>.<tag>.<ct>).
    db.prepare('UPDATE access_key_signing SET sealed = ? WHERE key_id = ?').run('v1.MDEyMzQ1Njc4OWFi.MDEyMzQ1Njc4OWFiY2RlZg.Y2lwaGVydGV4dA', interim.accessKeyId);
    db.close();
    ft = await startInProcess('http://127.0.0.1:9', {}, dataDir);
    api = ft.info.apiUrl;
    const res = await fetch(`${api}/api/v1/events`, { method: 'POST', headers: { authorization: basic(admin), 'content-type': 'application/json' }, body: JSON.stringify(events) });
    assert.equal(res.status, 200, await res.text());
    // Half of them in cn-hangzhou, half in the home region (local): every region's.
    await waitForEvents(api, admin, { serviceName: 'RealtimeCompute', startTime: START, region: '*' }, (e) => e.length === 137);
  });
  after(async () => {
    await ft?.close();
    await throttled?.close();
  });

  /** Every page of a REST lookup, for comparison. */
  async function restPages(query: Record<string, string>): Promise<string[][]> {
    const pages: string[][] = [];
    let token: string | undefined;
    do {
      const r = await lookup(api, admin, { ...query, ...(token ? { nextToken: token } : {}) });
      pages.push(r.Events.map((e) => e.eventId));
      token = r.NextToken;
    } while (token);
    return pages;
  }

  async function lifecycle(call: Call, trail: string) {
    const created = await call('CreateTrail', { Name: trail, EventRW: 'All', Destinations: [`file://${join(trailDir, trail)}`] });
    assert.equal(created['Name'], trail);
    assert.equal(created['EventRW'], 'All');
    assert.match(String(created['RequestId']), /^[0-9A-F-]{36}$/);
    assert.equal(created['Code'], undefined, 'a success carries no Code');
    await call('StartLogging', { Name: trail });
    const status = await call('GetTrailStatus', { Name: trail });
    assert.equal(status['IsLogging'], true);
    assert.ok(status['StartLoggingTime'], 'StartLoggingTime set');

    // Page by page until NextToken is absent; each page is the REST API's page for the same filters
    // (every region: the events are in two).
    const rest = await restPages({ serviceName: 'RealtimeCompute', eventRW: 'Write', region: '*', startTime: START, endTime: END, maxResults: '20' });
    const pages: string[][] = [];
    let token: string | undefined;
    do {
      const page = await call('LookupEvents', {
        LookupAttribute: [
          { Key: 'ServiceName', Value: 'RealtimeCompute' },
          { Key: 'EventRW', Value: 'Write' },
          { Key: 'Region', Value: '*' },
        ],
        StartTime: START,
        EndTime: END,
        MaxResults: '20',
        ...(token ? { NextToken: token } : {}),
      });
      const evs = page['Events'] as { eventId: string; eventRW: string; serviceName: string; userIdentity: { userName: string } }[];
      assert.ok(evs.every((e) => e.eventRW === 'Write' && e.serviceName === 'RealtimeCompute' && e.userIdentity.userName), 'raw records, filters ANDed');
      assert.equal(page['StartTime'], START);
      assert.equal(page['EndTime'], END);
      pages.push(evs.map((e) => e.eventId));
      token = page['NextToken'] as string | undefined;
      assert.ok(pages.length < 20, 'pagination ends');
    } while (token);
    assert.deepEqual(pages, rest);
    const writes = events.filter((e) => e.eventRW === 'Write').map((e) => e.eventId);
    assert.deepEqual(new Set(pages.flat()), new Set(writes));
    assert.equal(pages.flat().length, writes.length, 'no event twice');

    await call('StopLogging', { Name: trail });
    assert.equal((await call('GetTrailStatus', { Name: trail }))['IsLogging'], false);
    const described = (await call('DescribeTrails', { NameList: trail }))['TrailList'] as Body[];
    assert.equal(described.length, 1);
    assert.equal(described[0]?.['Status'], 'Disable');
    await call('DeleteTrail', { Name: trail });
    assert.deepEqual((await call('DescribeTrails', { NameList: trail }))['TrailList'], []);
  }

  it('pop-core (Signature V1, GET): create, start, look up page by page, status, stop, delete', async () => {
    await lifecycle(popCore(api, admin, 'GET'), 'pop-core-get');
  });

  it('pop-core (Signature V1, POST form body): the same', async () => {
    await lifecycle(popCore(api, admin, 'POST'), 'pop-core-post');
  });

  it('openapi-client (ACS3-HMAC-SHA256, Action in x-acs-action): the same', async () => {
    await lifecycle(openApi(api, admin, 'v3'), 'openapi-v3');
  });

  it("openapi-client's V1 mode (signatureAlgorithm v2): the same", async () => {
    await lifecycle(openApi(api, admin, 'v1'), 'openapi-v1');
  });

  it('answers the remaining actions: regions, delivery history jobs, defaults of LookupEvents', async () => {
    const call = openApi(api, admin, 'v3');
    const regions = (await call('DescribeRegions', {}))['Regions'] as { Region: { RegionId: string }[] };
    assert.deepEqual(regions.Region.map((r) => r.RegionId), ['local']);
    await call('CreateTrail', { Name: 'history-trail', Destinations: [`file://${join(trailDir, 'history')}`] });
    const job = await call('CreateDeliveryHistoryJob', { TrailName: 'history-trail', ClientToken: 'token-1' });
    assert.ok(job['JobId'], 'a JobId');
    const jobs = await call('ListDeliveryHistoryJobs', { PageSize: '10' });
    assert.equal(jobs['PageNumber'], 1);
    assert.ok((jobs['DeliveryHistoryJobs'] as { JobId: string }[]).some((j) => j.JobId === job['JobId']), 'the job is listed');
    // Defaults: the last 7 days, newest first, 50 a page.
    const page = await call('LookupEvents', {});
    const evs = page['Events'] as { eventTime: string }[];
    assert.equal(evs.length, 50);
    assert.equal(Date.parse(String(page['EndTime'])) - Date.parse(String(page['StartTime'])), 7 * 86_400_000);
    assert.ok(evs[0]!.eventTime >= evs[49]!.eventTime, 'newest first');
    assert.ok(page['NextToken'], 'more than one page');
  });

  it('asks the region of RegionId (global events included), every region with Region *, and keeps the storage region', async () => {
    const call = openApi(api, admin, 'v3');
    const ofRegion = async (params: Record<string, string>) => {
      const a = await raw(signedV1(admin, { Action: 'LookupEvents', Version: VERSION, MaxResults: '50', StartTime: START, EndTime: END, 'LookupAttribute.1.Key': 'ServiceName', 'LookupAttribute.1.Value': 'RealtimeCompute', ...params }));
      assert.equal(a.status, 200, JSON.stringify(a.body));
      return (a.body as unknown as { Events: { acsRegion: string; eventId: string }[] }).Events;
    };
    const hz = events.filter((e) => e.acsRegion === 'cn-hangzhou' && Date.parse(e.eventTime) >= Date.parse(START));
    const got = await ofRegion({ RegionId: 'cn-hangzhou' });
    assert.ok(got.length === 50 && got.every((e) => e.acsRegion === 'cn-hangzhou'), 'RegionId: that region only');
    assert.ok(got.every((e) => hz.some((h) => h.eventId === e.eventId)), 'the ingested events of cn-hangzhou');
    assert.ok((await ofRegion({})).every((e) => e.acsRegion === 'local'), 'no RegionId: the home region');
    const all = await ofRegion({ RegionId: 'local', 'LookupAttribute.2.Key': 'Region', 'LookupAttribute.2.Value': '*' });
    assert.deepEqual(new Set(all.map((e) => e.acsRegion)), new Set(['local', 'cn-hangzhou']), 'Region * overrides RegionId: every region');
    assertError(await raw(signedV1(admin, { Action: 'LookupEvents', RegionId: 'Not_A_Region' })), 400, 'InvalidParameter');

    assert.equal((await call('GetGlobalEventsStorageRegion', {}))['StorageRegion'], 'local');
    assertError(await raw(signedV1(admin, { Action: 'UpdateGlobalEventsStorageRegion', StorageRegion: 'us-east-1' })), 400, 'InvalidStorageRegion');
    assertError(await raw(signedV1(viewer, { Action: 'UpdateGlobalEventsStorageRegion', StorageRegion: 'local' })), 403, 'NoPermission');
    assertError(await raw(signedV1(admin, { Action: 'UpdateGlobalEventsStorageRegion' })), 400, 'MissingParameter');
    const updated = await call('UpdateGlobalEventsStorageRegion', { StorageRegion: 'local' });
    assert.deepEqual(Object.keys(updated), ['RequestId'], "ActionTrail's answer: RequestId only");
    const recorded = await waitForEvents(api, admin, { eventName: 'UpdateGlobalEventsStorageRegion', region: '*' }, (e) => e.length >= 4);
    assert.ok(recorded.every((e) => e.isGlobal && e.acsRegion === 'local'), 'recorded as global events, in the storage region');
    assert.ok(recorded.some((e) => e.errorCode === 'NoPermission' && e.userIdentity.userName === 'victor'), "the viewer's refusal is recorded");
  });

  async function raw(query: string, init: RequestInit = {}): Promise<ErrorAnswer> {
    const res = await fetch(`${api}/?${query}`, init);
    const body = (await res.json()) as ErrorAnswer['body'];
    return { status: res.status, body, headers: res.headers };
  }

  function assertError(a: ErrorAnswer, status: number, code: string) {
    assert.equal(a.status, status, JSON.stringify(a.body));
    assert.equal(a.body.Code, code, JSON.stringify(a.body));
    assert.match(a.body.RequestId, /^[0-9A-F-]{36}$/);
    assert.ok(a.body.HostId && a.body.Message && a.body.Recommend, JSON.stringify(a.body));
  }

  it('refuses forged, replayed, stale and unknown-key requests with their codes', async () => {
    const describe = { Action: 'DescribeTrails' };
    assertError(await raw(signedV1(admin, describe, { secret: 'not-the-secret' })), 400, 'SignatureDoesNotMatch');
    const once = signedV1(admin, describe);
    assert.equal((await fetch(`${api}/?${once}`)).status, 200);
    assertError(await raw(once), 400, 'SignatureNonceUsed');
    const stale = new Date(Date.now() - 20 * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    assertError(await raw(signedV1(admin, describe, { timestamp: stale })), 400, 'InvalidTimeStamp.Expired');
    assertError(await raw(signedV1(admin, describe, { timestamp: 'yesterday' })), 400, 'InvalidTimeStamp.Format');
    assertError(await raw(signedV1({ accessKeyId: 'FTAKNOSUCHKEY0000000000', accessKeySecret: 'x' }, describe)), 404, 'InvalidAccessKeyId.NotFound');
    assertError(await raw(signedV1(legacy, describe)), 400, 'FT_ERR_RPC_KEY_NOT_SIGNABLE');
    assertError(await raw(signedV1(interim, describe)), 400, 'FT_ERR_RPC_KEY_NOT_SIGNABLE');
    assertError(await raw(`Action=DescribeTrails&Version=${VERSION}`), 400, 'IncompleteSignature');
    // A V1 signature covers the parameters only: the Action must be one of them.
    const noAction = signedV1(admin, {}, { method: 'POST' });
    assertError(await raw('', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: noAction }), 400, 'MissingParameter');
    assertError(await raw(signedV1(admin, { Action: 'DescribeTrails', Version: '2017-12-04' })), 400, 'InvalidVersion');
    assertError(await raw(signedV1(admin, { Action: 'DeleteEverything' })), 404, 'InvalidAction.NotFound');
    // V3 (headers signed): replay, stale date, unknown version, unknown action, wrong secret.
    const v3 = async (headers: Record<string, string>): Promise<ErrorAnswer> => {
      const res = await fetch(`${api}/`, { headers });
      return { status: res.status, body: (await res.json()) as ErrorAnswer['body'], headers: res.headers };
    };
    const v3once = signedV3(api, admin, 'DescribeTrails');
    assert.equal((await v3(v3once)).status, 200);
    assertError(await v3(v3once), 400, 'SignatureNonceUsed');
    assertError(await v3(signedV3(api, admin, 'DescribeTrails', { date: stale })), 400, 'InvalidTimeStamp.Expired');
    assertError(await v3(signedV3(api, admin, 'DescribeTrails', { version: '2017-12-04' })), 400, 'InvalidVersion');
    assertError(await v3(signedV3(api, admin, 'DeleteEverything')), 404, 'InvalidAction.NotFound');
    assertError(await v3(signedV3(api, { ...admin, accessKeySecret: 'wrong' }, 'DescribeTrails')), 400, 'SignatureDoesNotMatch');
    assertError(await v3(signedV3(api, { accessKeyId: 'FTAKNOSUCHKEY0000000000', accessKeySecret: 'x' }, 'DescribeTrails')), 404, 'InvalidAccessKeyId.NotFound');
    // The same forgery through the V3 client: its status and code.
    await assert.rejects(openApi(api, { ...admin, accessKeySecret: 'wrong' }, 'v3')('DescribeTrails', {}), (e: { statusCode: number; code: string }) => e.statusCode === 400 && e.code === 'SignatureDoesNotMatch');
    await assert.rejects(popCore(api, { ...admin, accessKeySecret: 'wrong' }, 'GET')('DescribeTrails', {}), (e: { code: string }) => e.code === 'SignatureDoesNotMatch');
  });

  it('refuses malformed list parameters and bad values with InvalidParameter / MissingParameter', async () => {
    const l = (o: Record<string, string>) => raw(signedV1(admin, { Action: 'LookupEvents', ...o }));
    assertError(await l({ 'LookupAttribute.x.Key': 'EventName', 'LookupAttribute.x.Value': 'CancelJob' }), 400, 'InvalidParameter');
    assertError(await l({ 'LookupAttribute.1.Key': 'EventName', 'LookupAttribute.1.Value': 'CancelJob', 'LookupAttribute.3.Key': 'User', 'LookupAttribute.3.Value': 'bob' }), 400, 'InvalidParameter');
    const many: Record<string, string> = {};
    for (let i = 1; i <= 15; i++) Object.assign(many, { [`LookupAttribute.${i}.Key`]: 'EventName', [`LookupAttribute.${i}.Value`]: 'x' });
    assertError(await l(many), 400, 'InvalidParameter');
    assertError(await l({ 'LookupAttribute.1.Key': 'EventName' }), 400, 'MissingParameter');
    assertError(await l({ 'LookupAttribute.1.Key': 'Colour', 'LookupAttribute.1.Value': 'red' }), 400, 'InvalidParameter');
    assertError(await l({ MaxResults: '51' }), 400, 'InvalidParameter');
    assertError(await l({ NextToken: 'forged.token' }), 400, 'InvalidParameter');
    assertError(await l({ Bogus: '1' }), 400, 'InvalidParameter');
    assertError(await raw(signedV1(admin, { Action: 'CreateTrail', Name: 'Bad Name!', 'Destinations.1': 'local' })), 400, 'InvalidTrailNameException');
    assertError(await raw(signedV1(admin, { Action: 'GetTrailStatus', Name: 'no-such-trail' })), 404, 'TrailNotFoundException');
    assertError(await raw(signedV1(admin, { Action: 'CreateTrail', Name: 'rpc-dup-trail', SlsProjectArn: 'acs:log:x' })), 400, 'InvalidParameter');
    assert.equal((await raw(signedV1(admin, { Action: 'CreateTrail', Name: 'rpc-dup-trail', 'Destinations.1': 'local' }))).status, 200);
    assertError(await raw(signedV1(admin, { Action: 'CreateTrail', Name: 'rpc-dup-trail', 'Destinations.1': 'local' })), 400, 'TrailAlreadyExistsException');
    assertError(await raw('', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"Action":"LookupEvents"}' }), 400, 'InvalidParameter');
  });

  it('authorizes with the same policies as the rest of the API', async () => {
    assertError(await raw(signedV1(viewer, { Action: 'LookupEvents' })), 403, 'NoPermission');
    assert.equal((await raw(signedV1(viewer, { Action: 'DescribeRegions' }))).status, 200);
  });

  it('never answers 500 to random parameters', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(fc.constantFrom('Action', 'Version', 'LookupAttribute.1.Key', 'LookupAttribute.1.Value', 'LookupAttribute.2.Key', 'MaxResults', 'StartTime', 'NextToken', 'Name', 'Direction', 'Destinations.1'), fc.string({ maxLength: 30 })),
        fc.boolean(),
        async (params, sign) => {
          const q = sign ? signedV1(admin, params) : new URLSearchParams({ Action: 'LookupEvents', ...params }).toString();
          const res = await fetch(`${api}/?${q}`);
          const body = (await res.json()) as { Code?: string };
          return res.status < 500 && (res.status === 200 || typeof body.Code === 'string');
        },
      ),
      { numRuns: 150 },
    );
  });

  it('keeps the console at GET / and POST / without RPC markers is still RPC', async () => {
    const page = await fetch(`${api}/`);
    const type = page.headers.get('content-type') ?? '';
    // The console's page, or its coded "not built" answer in a checkout without console/dist.
    if (page.status === 200) assert.match(type, /text\/html/);
    else assert.equal(((await page.json()) as { Code: string }).Code, 'FT_ERR_CONSOLE_NOT_BUILT');
    assertError(await raw('', { method: 'POST' }), 400, 'MissingParameter');
  });

  it('records its own calls with the signing AccessKey, and keeps no plain secret on disk', async () => {
    const ids = new Set<string>();
    // (Not LookupEvents: this test's REST comparisons record as many of those, under the same key.)
    for (const name of ['CreateTrail', 'StartLogging', 'StopLogging', 'DeleteTrail']) {
      const all = await waitForEvents(api, admin, { serviceName: 'Actiontrail', eventName: name, accessKeyId: admin.accessKeyId }, (e) => e.length >= 4);
      assert.ok(all.every((e) => e.additionalEventData['apiVersion'] === VERSION && e.userIdentity.userName === 'alice' && e.eventSource === 'flinktrail'), `${name}: RPC records of alice`);
      const ok = all.filter((e) => e.additionalEventData.outcome === 'success');
      assert.ok(ok.length >= 4, `${name}: one success per client`);
      for (const e of ok) ids.add(String(e.additionalEventData['signatureMethod']));
    }
    assert.deepEqual([...ids].sort(), ['ACS3-HMAC-SHA256', 'HMAC-SHA1']);
    const forged = await waitForEvents(api, admin, { serviceName: 'Actiontrail', errorCode: 'SignatureDoesNotMatch' }, (e) => e.length > 0);
    assert.equal(forged[0]!.userIdentity.type, 'anonymous');
    assert.equal(forged[0]!.additionalEventData['authFailure'], true);
    const replay = await waitForEvents(api, admin, { serviceName: 'Actiontrail', errorCode: 'SignatureNonceUsed' }, (e) => e.length > 0);
    assert.equal(replay[0]!.userIdentity.accessKeyId, admin.accessKeyId);
    for (const f of readdirSync(ft!.dataDir, { withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name)) {
      const bytes = readFileSync(join(ft!.dataDir, f));
      assert.equal(bytes.includes(admin.accessKeySecret), false, `the secret is sealed, not stored in clear (${f})`);
    }
    assert.ok(readdirSync(ft!.dataDir).every((f) => !f.endsWith('.key')), 'no sealing key in the data directory');
  });

  it('throttles per AccessKey when a rate limit is configured (Throttling.User, 400, x-acs-retry-after)', async () => {
    const dataDir = tempDir();
    const key = await makeKey(dataDir, 'tess', 'admin');
    throttled = await startInProcess('http://127.0.0.1:9', { actiontrailApi: { rateLimit: { lookupEventsPerSecond: 0.01 } } }, dataDir);
    const call = (q: string) => fetch(`${throttled!.info.apiUrl}/?${q}`);
    assert.equal((await call(signedV1(key, { Action: 'LookupEvents' }))).status, 200);
    const res = await call(signedV1(key, { Action: 'LookupEvents' }));
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { Code: string }).Code, 'Throttling.User');
    assert.ok(Number(res.headers.get('x-acs-retry-after')) > 1000, 'x-acs-retry-after in ms');
    assert.ok(Number(res.headers.get('retry-after')) >= 1, 'Retry-After in s');
    assert.equal((await call(signedV1(key, { Action: 'DescribeTrails' }))).status, 200, 'other actions are not LookupEvents');
  });
});
