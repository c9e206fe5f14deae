/**
 * Issue 12, "The record never lies": each way an attacker made the record (or the authorization)
 * disagree with what real Flink 2.2 did, replayed through the gateway in front of a real Flink
 * cluster started by the repo's script. Each test states what Flink would have done and checks
 * that the gateway either records and authorizes exactly that, or refuses with a coded error that
 * is itself recorded — and that the job is still running when it should be.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { getJson, runJar, startFlink, uploadJar, waitForJobState, type FlinkCluster } from '../../helpers/flink.js';
import { basic, makeKey, startInProcess, tempDir, waitForEvents, type Credentials, type InProcess } from '../../helpers/flinktrail.js';
import type { ActionTrailEvent } from '../../../src/event/types.js';

const JOB = 'ACS::RealtimeCompute::Job';

describe('the record never lies (issue 12), against a real Flink', { timeout: 600_000 }, () => {
  let flink: FlinkCluster | undefined;
  let ft: InProcess | undefined;
  let gw = '';
  let api = '';
  let jarId = '';
  const creds: Record<string, Credentials> = {};
  const started = new Date(Date.now() - 1000).toISOString();
  const jobs: string[] = [];

  before(async () => {
    flink = await startFlink();
    const dataDir = tempDir();
    creds['alice'] = await makeKey(dataDir, 'alice', 'admin');
    creds['olga'] = await makeKey(dataDir, 'olga', 'operator');
    creds['sam'] = await makeKey(dataDir, 'sam', 'viewer');
    await makeKey(dataDir, 'carol', 'operator', 'carol-password-1');
    ft = await startInProcess(flink.restUrl, {}, dataDir);
    gw = ft.info.clusters['default']!.gatewayUrl;
    api = ft.info.apiUrl;
    const admin = (method: string, path: string, json: unknown) =>
      fetch(`${api}${path}`, { method, headers: { authorization: basic(creds['alice']!), 'content-type': 'application/json' }, body: JSON.stringify(json) });
    // olga may operate, but not cancel the jobs named protected-*; sam (viewer) may take savepoints.
    assert.equal((await admin('PUT', '/api/v1/policies/protect', { document: { Statement: [{ Effect: 'Deny', Action: ['RealtimeCompute:Cancel*', 'RealtimeCompute:StopJob*'], Resource: ['cluster/default/job/protected-*'] }] } })).status, 200);
    assert.equal((await admin('POST', '/api/v1/users/olga/policies', { policyName: 'protect' })).status, 200);
    assert.equal((await admin('PUT', '/api/v1/policies/savepoints', { document: { Statement: [{ Effect: 'Allow', Action: ['RealtimeCompute:TriggerSavepoint'], Resource: ['cluster/default'] }] } })).status, 200);
    assert.equal((await admin('POST', '/api/v1/users/sam/policies', { policyName: 'savepoints' })).status, 200);
    // Jobs are started on Flink directly: the gateway has never seen their names.
    jarId = await uploadJar(flink.restUrl, flink.jobJar);
  });
  after(async () => {
    for (const id of jobs) await fetch(`${flink?.restUrl}/jobs/${id}?mode=cancel`, { method: 'PATCH' }).catch(() => undefined);
    await ft?.close();
    await flink?.stop();
  });

  async function runningJob(name: string): Promise<string> {
    const id = await runJar(flink!.restUrl, jarId, { programArgs: ['--job-name', name], parallelism: 1 });
    jobs.push(id);
    await waitForJobState(flink!.restUrl, id, 'RUNNING', 90_000);
    return id;
  }

  async function state(id: string): Promise<string> {
    return (await getJson<{ state: string }>(`${flink!.restUrl}/jobs/${id}`)).state;
  }

  async function call(who: string, method: string, path: string, init: { body?: string | FormData | Buffer; headers?: Record<string, string> } = {}) {
    const headers: Record<string, string> = { ...(who ? { authorization: basic(creds[who]!) } : {}), ...init.headers };
    const res = await fetch(`${gw}${path}`, { method, headers, ...(init.body !== undefined ? { body: init.body } : {}) });
    const text = await res.text();
    return { status: res.status, text, requestId: res.headers.get('x-request-id') ?? '', code: res.headers.get('x-flinktrail-error-code') ?? '' };
  }

  async function eventOf(requestId: string): Promise<ActionTrailEvent> {
    const events = await waitForEvents(api, creds['alice']!, { startTime: started, serviceName: 'RealtimeCompute' }, (es) =>
      es.some((e) => e.requestId === requestId && e.additionalEventData.outcome !== 'pending'),
    );
    const mine = events.filter((e) => e.requestId === requestId);
    assert.equal(mine.length, 1, `one event for ${requestId}`);
    return mine[0]!;
  }

  /** A refusal: coded answer, Flink untouched, a failed event with the code. */
  async function assertRefused(r: { status: number; requestId: string; code: string; text: string }, status: number, code: string) {
    assert.equal(r.status, status, r.text.slice(0, 300));
    assert.equal(r.code, code);
    const e = await eventOf(r.requestId);
    assert.equal(e.additionalEventData.outcome, 'failure');
    assert.equal(e.errorCode, code);
    return e;
  }

  it('1. `;` in the query: refused, not recorded as an allowed StopJob while Flink cancels', async () => {
    const id = await runningJob('semicolon-job');
    const patch = await call('alice', 'PATCH', `jobs/${id}?x=;mode=cancel&mode=stop`);
    const e = await assertRefused(patch, 400, 'FT_ERR_GATEWAY_QUERY_AMBIGUOUS');
    assert.equal(e.requestParameters['query'], '?x=;mode=cancel&mode=stop', 'the refused query is recorded as sent');
    const yarn = await call('alice', 'GET', `jobs/${id}/yarn-stop?x=;mode=cancel`);
    await assertRefused(yarn, 400, 'FT_ERR_GATEWAY_QUERY_AMBIGUOUS');
    // A write reads each parameter once; Flink takes the first of repeated values.
    const repeated = await call('alice', 'PATCH', `jobs/${id}?mode=cancel&mode=stop`);
    await assertRefused(repeated, 400, 'FT_ERR_GATEWAY_QUERY_AMBIGUOUS');
    assert.equal(await state(id), 'RUNNING', 'Flink never saw the calls');
    // The same cancel, spelled plainly, goes through and is recorded as what it is.
    const plain = await call('alice', 'PATCH', `jobs/${id}?mode=cancel`);
    assert.equal(plain.status, 202, plain.text);
    assert.equal((await eventOf(plain.requestId)).eventName, 'CancelJob');
    await waitForJobState(flink!.restUrl, id, 'CANCELED');
  });

  it('2. other spellings of a job id: refused; upper case is recorded as the canonical id', async () => {
    const id = await runningJob('protected-spelling');
    const digit = /[0-9]/.exec(id)!;
    // Java's Integer.parseInt(…, 16) reads a fullwidth digit as the digit: the same job to Flink.
    const fullwidth = id.slice(0, digit.index) + encodeURIComponent(String.fromCharCode(0xff10 + Number(digit[0]))) + id.slice(digit.index + 1);
    await assertRefused(await call('olga', 'GET', `jobs/${fullwidth}/yarn-cancel`), 400, 'FT_ERR_GATEWAY_ID_NOT_CANONICAL');
    // hexStringToByte ignores a 33rd character.
    await assertRefused(await call('olga', 'PATCH', `jobs/${id}0?mode=cancel`), 400, 'FT_ERR_GATEWAY_ID_NOT_CANONICAL');
    // A sign: "+f" is the byte 0x0f.
    await assertRefused(await call('olga', 'PATCH', `jobs/%2B${id.slice(1)}?mode=cancel`), 400, 'FT_ERR_GATEWAY_ID_NOT_CANONICAL');
    assert.equal(await state(id), 'RUNNING');
    // Upper case is the same id: the name-based Deny holds, and the event names the real id.
    const upper = await call('olga', 'PATCH', `jobs/${id.toUpperCase()}?mode=cancel`);
    const denied = await assertRefused(upper, 403, 'NoPermission');
    assert.ok(denied.referencedResources[JOB]?.includes(id), JSON.stringify(denied.referencedResources));
    const found = await waitForEvents(api, creds['alice']!, { startTime: started, resourceName: id }, (es) => es.some((e) => e.requestId === upper.requestId));
    assert.ok(found.length >= 1, 'resourceName=<real job id> finds the call');
    assert.equal(await state(id), 'RUNNING');
  });

  it('3. a name-based Deny holds on the first call, before the gateway has seen the name', async () => {
    const id = await runningJob('protected-first');
    const first = await call('olga', 'GET', `jobs/${id}/yarn-cancel`);
    const e = await assertRefused(first, 403, 'NoPermission');
    assert.ok(e.referencedResources[JOB]?.includes('protected-first'), 'the name learnt from Flink is recorded');
    assert.equal(await state(id), 'RUNNING');
    // A job Flink does not know has no name to check: a job-naming Deny applies (fail closed).
    const unknown = await call('olga', 'PATCH', `jobs/${'0'.repeat(32)}?mode=cancel`);
    const ue = await assertRefused(unknown, 403, 'NoPermission');
    assert.equal(ue.additionalEventData['jobNameUnknown'], true);
    // Other jobs are olga's to cancel.
    const other = await runningJob('ordinary-job');
    const ok = await call('olga', 'PATCH', `jobs/${other}?mode=cancel`);
    assert.equal(ok.status, 202, ok.text);
    await waitForJobState(flink!.restUrl, other, 'CANCELED');
  });

  it('4. a savepoint that cancels is authorized and recorded as the cancel it is, whatever the padding', async () => {
    const id = await runningJob('savepoint-cancel');
    const padded = JSON.stringify({ 'cancel-job': true }) + ' '.repeat(17_000);
    // sam may take savepoints, not cancel: the cancel is what is decided.
    const bySam = await call('sam', 'POST', `jobs/${id}/savepoints`, { body: padded, headers: { 'content-type': 'application/json' } });
    const se = await assertRefused(bySam, 403, 'NoPermission');
    assert.equal(se.eventName, 'CancelJobWithSavepoint');
    assert.equal(se.requestParameters['cancel-job'], true);
    // The multipart `request` part Flink reads as the body: refused on an endpoint that takes no files.
    const form = new FormData();
    form.append('request', JSON.stringify({ 'cancel-job': true }));
    await assertRefused(await call('alice', 'POST', `jobs/${id}/savepoints`, { body: form }), 415, 'FT_ERR_GATEWAY_BODY_TYPE');
    // More than the gateway can read whole: refused, not forwarded half-recorded.
    const huge = JSON.stringify({ 'cancel-job': true }) + ' '.repeat(1024 * 1024 + 10);
    await assertRefused(await call('alice', 'POST', `jobs/${id}/savepoints`, { body: huge, headers: { 'content-type': 'application/json' } }), 413, 'FT_ERR_GATEWAY_BODY_TOO_LARGE');
    // Trailing content Jackson would ignore and the gateway cannot parse: refused.
    await assertRefused(await call('alice', 'POST', `jobs/${id}/savepoints`, { body: '{"cancel-job": false} {"cancel-job": true}', headers: { 'content-type': 'application/json' } }), 400, 'FT_ERR_GATEWAY_BODY_UNREADABLE');
    assert.equal(await state(id), 'RUNNING');
    const byAlice = await call('alice', 'POST', `jobs/${id}/savepoints`, { body: padded, headers: { 'content-type': 'application/json' } });
    assert.equal(byAlice.status, 202, byAlice.text);
    const e = await eventOf(byAlice.requestId);
    assert.equal(e.eventName, 'CancelJobWithSavepoint');
    assert.equal(e.additionalEventData.sensitive, true);
    assert.equal(e.requestParameters['cancel-job'], true);
    assert.ok(e.referencedResources[JOB]?.includes(id));
    await waitForJobState(flink!.restUrl, id, 'CANCELED', 120_000);
  });

  it('BOM-prefixed and form-encoded JSON bodies are parsed and recorded; other types are refused', async () => {
    const id = await runningJob('bom-job');
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify({ 'cancel-job': false, formatType: 'CANONICAL' }))]);
    const r = await call('alice', 'POST', `jobs/${id}/savepoints`, { body: bom, headers: { 'content-type': 'application/json' } });
    assert.equal(r.status, 202, r.text);
    const e = await eventOf(r.requestId);
    assert.equal(e.eventName, 'TriggerSavepoint');
    assert.equal(e.requestParameters['cancel-job'], false);
    assert.equal(e.requestParameters['formatType'], 'CANONICAL');
    // What curl -d sends: Flink reads the bytes as JSON, so does the gateway.
    const form = await call('alice', 'POST', `jobs/${id}/checkpoints`, { body: '{"checkpointType": "FULL"}', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(form.status, 202, form.text);
    assert.equal((await eventOf(form.requestId)).requestParameters['checkpointType'], 'FULL');
    await assertRefused(await call('alice', 'POST', `jobs/${id}/savepoints`, { body: 'cancel-job=true', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 400, 'FT_ERR_GATEWAY_BODY_UNREADABLE');
    await assertRefused(await call('alice', 'POST', `jobs/${id}/savepoints`, { body: '{"cancel-job": true}', headers: { 'content-type': 'text/plain' } }), 415, 'FT_ERR_GATEWAY_BODY_TYPE');
    assert.equal(await state(id), 'RUNNING');
  });

  it('7. cross-site writes with the console cookie are refused, same-origin ones pass as ConsoleOperation', async () => {
    const login = await fetch(`${api}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userName: 'carol', password: 'carol-password-1' }) });
    assert.equal(login.status, 200);
    const session = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
    const { csrfToken } = (await login.json()) as { csrfToken: string };
    const id = await runningJob('csrf-job');
    for (const site of ['same-site', 'cross-site']) {
      const r = await call('', 'GET', `jobs/${id}/yarn-cancel`, { headers: { cookie: session, 'sec-fetch-site': site } });
      const e = await assertRefused(r, 403, 'FT_ERR_AUTH_CSRF');
      assert.equal(e.eventType, 'ConsoleOperation');
    }
    // No Sec-Fetch-Site (an old browser, a script with a stolen cookie) and no token: refused.
    await assertRefused(await call('', 'GET', `jobs/${id}/yarn-cancel`, { headers: { cookie: session } }), 403, 'FT_ERR_AUTH_CSRF');
    assert.equal(await state(id), 'RUNNING');
    // Reads stay possible from the console's own pages; the token lets a script write.
    assert.equal((await call('', 'GET', `jobs/${id}`, { headers: { cookie: session, 'sec-fetch-site': 'same-site' } })).status, 200);
    const ok = await call('', 'GET', `jobs/${id}/yarn-cancel`, { headers: { cookie: session, 'x-csrf-token': csrfToken } });
    assert.equal(ok.status, 202, ok.text);
    const e = await eventOf(ok.requestId);
    assert.equal(e.eventType, 'ConsoleOperation');
    assert.equal(e.eventName, 'CancelJob');
    await waitForJobState(flink!.restUrl, id, 'CANCELED');
    const sameOrigin = await runningJob('csrf-job-2');
    const so = await call('', 'GET', `jobs/${sameOrigin}/yarn-cancel`, { headers: { cookie: session, 'sec-fetch-site': 'same-origin' } });
    assert.equal(so.status, 202, so.text);
    await waitForJobState(flink!.restUrl, sameOrigin, 'CANCELED');
  });

  it('8. the event type follows who authenticated; unknown clusters are told only to the authenticated', async () => {
    const withReferer = await call('alice', 'GET', 'overview', { headers: { referer: `${gw}#/overview`, cookie: 'ft_session=', 'sec-fetch-site': 'same-origin' } });
    assert.equal(withReferer.status, 200);
    assert.equal((await eventOf(withReferer.requestId)).eventType, 'ApiCall', 'a key-authenticated call is an ApiCall');
    const anonymous = await fetch(`${api}/flink/no-such-cluster/`);
    assert.equal(anonymous.status, 401, 'no cluster enumeration before authentication');
    const authed = await fetch(`${api}/flink/no-such-cluster/`, { headers: { authorization: basic(creds['alice']!) } });
    assert.equal(authed.status, 404);
    assert.equal(authed.headers.get('x-flinktrail-error-code'), 'FT_ERR_GATEWAY_UNKNOWN_CLUSTER');
  });
});
