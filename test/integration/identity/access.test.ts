/**
 * Identity and access control end to end, against a real Flink cluster: built-in roles through
 * the gateway, custom deny policies, AccessKey lifecycle, console sessions with CSRF,
 * brute-force limits and trusted-proxy identity — each refusal answered and recorded.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startFlink, uploadAndRunJob, waitForJobState, type FlinkCluster } from '../../helpers/flink.js';
import type { ActionTrailEvent } from '../../../src/event/types.js';
import { basic, foundIn, makeKey, startInProcess, storedContents, tempDir, waitForEvents, type Credentials, type InProcess } from '../../helpers/flinktrail.js';

type Cred = Credentials & { principalId: string };

describe('identity and access control', { timeout: 300_000 }, () => {
  let flink: FlinkCluster;
  let ft: InProcess;
  let gw: string;
  let api: string;
  const creds: Record<string, Cred> = {};
  let jobId = '';

  before(async () => {
    flink = await startFlink();
    const dataDir = tempDir();
    for (const role of ['viewer', 'operator', 'developer', 'admin', 'auditor'] as const) creds[role] = await makeKey(dataDir, `${role}-user`, role, role === 'admin' ? 'admin-password-1' : undefined);
    ft = await startInProcess(flink.restUrl, {}, dataDir);
    gw = ft.info.clusters['default']!.gatewayUrl;
    api = ft.info.apiUrl;
    ({ jobId } = await uploadAndRunJob(flink.restUrl, flink.jobJar));
    await waitForJobState(flink.restUrl, jobId, 'RUNNING', 60_000);
  });
  after(async () => {
    if (jobId) await fetch(`${flink.restUrl}/jobs/${jobId}?mode=cancel`, { method: 'PATCH' }).catch(() => undefined);
    await ft?.close();
    await flink?.stop();
  });

  const as = (role: string, method: string, url: string, init: { json?: unknown; headers?: Record<string, string> } = {}) =>
    fetch(url, {
      method,
      headers: { authorization: basic(creds[role]!), ...(init.json !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers },
      ...(init.json !== undefined ? { body: JSON.stringify(init.json) } : {}),
    });

  async function refusedAndRecorded(res: Response, eventName: string, user: string) {
    assert.equal(res.status, 403);
    const body = (await res.json()) as { Code: string; RequestId: string };
    assert.equal(body.Code, 'NoPermission');
    const events = await waitForEvents(api, creds['admin']!, { errorCode: 'NoPermission', eventName }, (es) => es.some((e) => e.requestId === body.RequestId));
    const e = events.find((x) => x.requestId === body.RequestId)!;
    assert.equal(e.userIdentity.userName, user);
    assert.equal(e.additionalEventData.outcome, 'failure');
  }

  it('viewer reads jobs, but not logs, and cannot cancel', async () => {
    assert.equal((await as('viewer', 'GET', `${gw}jobs/overview`)).status, 200);
    await refusedAndRecorded(await as('viewer', 'GET', `${gw}jobmanager/log`), 'GetJobManagerLog', 'viewer-user');
    await refusedAndRecorded(await as('viewer', 'PATCH', `${gw}jobs/${jobId}?mode=cancel`), 'CancelJob', 'viewer-user');
    const state = ((await (await fetch(`${flink.restUrl}/jobs/${jobId}`)).json()) as { state: string }).state;
    assert.equal(state, 'RUNNING', 'the refused cancel never reached Flink');
    await refusedAndRecorded(await as('viewer', 'GET', `${api}/api/v1/events`), 'LookupEvents', 'viewer-user');
  });

  it('auditor reads the audit trail but has no Flink access', async () => {
    assert.equal((await as('auditor', 'GET', `${api}/api/v1/events`)).status, 200);
    await refusedAndRecorded(await as('auditor', 'GET', `${gw}jobs/overview`), 'GetJobsOverview', 'auditor-user');
    await refusedAndRecorded(await as('auditor', 'POST', `${api}/api/v1/keys`, { json: { userName: 'auditor-user' } }), 'CreateAccessKey', 'auditor-user');
  });

  it('operator reads logs and takes savepoints but may not upload jars; developer may', async () => {
    assert.equal((await as('operator', 'GET', `${gw}jobmanager/log`)).status, 200);
    const sp = await as('operator', 'POST', `${gw}jobs/${jobId}/savepoints`, { json: { 'cancel-job': false } });
    assert.equal(sp.status, 202);
    const form = () => {
      const f = new FormData();
      f.append('jarfile', new Blob([readFileSync(flink.jobJar)]), 'job.jar');
      return f;
    };
    const opUpload = await fetch(`${gw}jars/upload`, { method: 'POST', body: form(), headers: { authorization: basic(creds['operator']!) } });
    await refusedAndRecorded(opUpload, 'UploadJar', 'operator-user');
    const devUpload = await fetch(`${gw}jars/upload`, { method: 'POST', body: form(), headers: { authorization: basic(creds['developer']!) } });
    assert.equal(devUpload.status, 200);
    const jarId = String(((await devUpload.json()) as { filename: string }).filename).split('/').pop();
    assert.equal((await as('developer', 'DELETE', `${gw}jars/${jarId}`)).status, 200);
    await refusedAndRecorded(await as('developer', 'DELETE', `${gw}cluster`), 'ShutdownCluster', 'developer-user');
  });

  it('a deny policy wins over the role, and policy changes are recorded as global events', async () => {
    const put = await as('admin', 'PUT', `${api}/api/v1/policies/no-cancel`, { json: { document: { Statement: [{ Effect: 'Deny', Action: ['RealtimeCompute:CancelJob'], Resource: ['cluster/default'] }] } } });
    assert.equal(put.status, 200, await put.clone().text());
    const bad = await as('admin', 'PUT', `${api}/api/v1/policies/broken`, { json: { document: { Statement: [{ Effect: 'Perhaps', Action: ['x'] }] } } });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { Code: string }).Code, 'FT_ERR_POLICY_INVALID');
    assert.equal((await as('admin', 'POST', `${api}/api/v1/users/operator-user/policies`, { json: { policyName: 'no-cancel' } })).status, 200);
    await refusedAndRecorded(await as('operator', 'PATCH', `${gw}jobs/${jobId}?mode=cancel`), 'CancelJob', 'operator-user');
    assert.equal((await as('admin', 'DELETE', `${api}/api/v1/users/operator-user/policies/no-cancel`)).status, 204);
    const events = await waitForEvents(api, creds['admin']!, { serviceName: 'Actiontrail', eventName: 'AttachPolicyToUser' }, (es) => es.length === 1);
    assert.equal(events[0]!.isGlobal, true);
    assert.deepEqual(events[0]!.referencedResources['ACS::Actiontrail::Policy'], ['no-cancel']);
  });

  it('AccessKeys: create, use, disable, enable, rotate, delete — secrets shown once, never stored', async () => {
    const created = await as('admin', 'POST', `${api}/api/v1/keys`, { json: { userName: 'viewer-user' } });
    assert.equal(created.status, 201);
    const k = (await created.json()) as Credentials;
    const use = () => fetch(`${gw}overview`, { headers: { authorization: basic(k) } });
    assert.equal((await use()).status, 200);
    assert.equal((await as('admin', 'PATCH', `${api}/api/v1/keys/${k.accessKeyId}`, { json: { status: 'Inactive' } })).status, 200);
    assert.equal((await use()).status, 401);
    assert.equal((await as('admin', 'PATCH', `${api}/api/v1/keys/${k.accessKeyId}`, { json: { status: 'Active' } })).status, 200);
    assert.equal((await use()).status, 200);
    const rotated = (await (await as('admin', 'POST', `${api}/api/v1/keys/${k.accessKeyId}/rotate`)).json()) as Credentials & { previousAccessKeyId: string };
    assert.equal(rotated.previousAccessKeyId, k.accessKeyId);
    assert.equal((await use()).status, 401, 'the rotated-out key is inactive');
    assert.equal((await fetch(`${gw}overview`, { headers: { authorization: basic(rotated) } })).status, 200);
    const listed = (await (await as('admin', 'GET', `${api}/api/v1/keys`)).json()) as { AccessKeys: { accessKeyId: string; lastUsedAt: string | null; lastUsedIp: string | null }[] };
    const row = listed.AccessKeys.find((x) => x.accessKeyId === rotated.accessKeyId)!;
    assert.ok(row.lastUsedAt && row.lastUsedIp === '127.0.0.1', 'last use is tracked');
    assert.ok(!JSON.stringify(listed).includes(rotated.accessKeySecret));
    assert.equal((await as('admin', 'DELETE', `${api}/api/v1/keys/${rotated.accessKeyId}`)).status, 204);
    assert.equal((await fetch(`${gw}overview`, { headers: { authorization: basic(rotated) } })).status, 401);
    await waitForEvents(api, creds['admin']!, { eventName: 'DeleteAccessKey' }, (es) => es.length === 1);
    assert.deepEqual(foundIn(await storedContents(ft.dataDir), [k.accessKeySecret, rotated.accessKeySecret]), [], 'no AccessKey secret in the store');
  });

  it('console sessions: sign-in recorded, CSRF enforced, sign-out ends the session', async () => {
    const login = (password: string) => fetch(`${api}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userName: 'admin-user', password }) });
    const wrong = await login('not-the-password');
    assert.equal(wrong.status, 401);
    const ok = await login('admin-password-1');
    assert.equal(ok.status, 200);
    const cookie = ok.headers.get('set-cookie') ?? '';
    assert.match(cookie, /^ft_session=[A-Za-z0-9_-]{43}; Max-Age=\d+; Path=\/; HttpOnly; SameSite=Strict$/);
    const session = cookie.split(';')[0]!;
    const { csrfToken } = (await ok.json()) as { csrfToken: string };
    const signins = await waitForEvents(api, creds['admin']!, { eventName: 'ConsoleSignin' }, (es) => es.length === 2);
    const failed = signins.find((e) => e.errorCode)!;
    assert.equal(failed.eventType, 'ConsoleSignin');
    assert.equal(failed.errorCode, 'FT_ERR_AUTH_INVALID');
    assert.equal(failed.additionalEventData['authFailureReason'], 'wrong password');
    assert.equal(failed.userIdentity.userName, 'admin-user');
    const good = signins.find((e) => !e.errorCode)!;
    assert.equal(good.userIdentity.sessionContext?.attributes.mfaAuthenticated, 'false');
    assert.ok(good.userIdentity.sessionContext?.attributes.creationDate);
    assert.ok(!JSON.stringify(signins).includes('admin-password-1'));

    const viaCookie = await fetch(`${gw}jobs/overview`, { headers: { cookie: session } });
    assert.equal(viaCookie.status, 200);
    const rid = viaCookie.headers.get('x-request-id')!;
    const ops = await waitForEvents(api, creds['admin']!, { eventName: 'GetJobsOverview', user: 'admin-user' }, (es) => es.some((e) => e.requestId === rid));
    assert.equal(ops.find((e) => e.requestId === rid)!.eventType, 'ConsoleOperation');
    assert.equal((await fetch(`${gw}jobs/overview`, { headers: { cookie: session, 'sec-fetch-site': 'cross-site' } })).status, 403);

    const noCsrf = await fetch(`${api}/api/v1/auth/logout`, { method: 'POST', headers: { cookie: session } });
    assert.equal(noCsrf.status, 403);
    assert.equal(((await noCsrf.json()) as { Code: string }).Code, 'FT_ERR_AUTH_CSRF');
    const out = await fetch(`${api}/api/v1/auth/logout`, { method: 'POST', headers: { cookie: session, 'x-csrf-token': csrfToken } });
    assert.equal(out.status, 200);
    assert.equal((await fetch(`${api}/api/v1/auth/session`, { headers: { cookie: session } })).status, 401);
    assert.equal((await fetch(`${api}/api/v1/auth/session`, { headers: { cookie: 'ft_session=' + 'A'.repeat(43) } })).status, 401, 'a forged cookie is refused');
    const outs = await waitForEvents(api, creds['admin']!, { eventName: 'ConsoleSignout', eventType: 'ConsoleSignout' }, (es) => es.length === 2);
    assert.deepEqual(outs.map((e) => e.errorCode ?? 'ok').sort(), ['FT_ERR_AUTH_CSRF', 'ok'], 'the refused sign-out is recorded too');
  });

  it('nothing is reachable without credentials except health', async () => {
    for (const p of ['/api/v1/events', '/api/v1/users', '/api/v1/keys', '/api/v1/policies', '/api/v1/auth/session', '/metrics', '/flink/default/', '/flink/default/jobs/overview']) {
      assert.equal((await fetch(`${api}${p}`)).status, 401, p);
    }
    assert.equal((await fetch(`${gw}overview`)).status, 401);
    assert.equal((await fetch(`${api}/health`)).status, 200);
  });
});

/** Reads the store directly (the API itself may be refused in these set-ups) until `n` events match. */
async function storeEvents(ft: InProcess, pred: (e: ActionTrailEvent) => boolean, n: number): Promise<ActionTrailEvent[]> {
  for (let i = 0; i < 100; i++) {
    const page = await ft.app.store.lookup({ filter: { startTime: 0, endTime: Date.now() + 1000 }, direction: 'BACKWARD', limit: 200 });
    const hits = page.events.filter(pred);
    if (hits.length >= n) return hits;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`fewer than ${n} matching events in the store`);
}

describe('brute force and trusted proxies', { timeout: 60_000 }, () => {
  it('throttles repeated failures of one identity from one address and records them', async () => {
    const dataDir = tempDir();
    const admin = await makeKey(dataDir, 'root-admin', 'admin');
    // A long first wait: the throttled attempts below must fall inside it however slow the machine.
    const ft = await startInProcess('http://127.0.0.1:9', { auth: { rateLimit: { maxFailures: 3, baseDelaySeconds: 600, maxDelaySeconds: 600 } } }, dataDir);
    try {
      const gw = ft.info.clusters['default']!.gatewayUrl;
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) {
        statuses.push((await fetch(`${gw}overview`, { headers: { authorization: basic({ user: 'mallory', password: `guess-${i}` }) } })).status);
      }
      assert.deepEqual(statuses, [401, 401, 401, 401, 429], 'three free failures, a fourth starts the wait');
      // The right key from the same address is another identity: it is not held back.
      const own = await fetch(`${gw}overview`, { headers: { authorization: basic(admin) } });
      assert.ok(own.status !== 401 && own.status !== 429, `the key signs in (${own.status})`);
      const events = await storeEvents(ft, (e) => e.errorCode === 'FT_ERR_AUTH_RATE_LIMITED', 1);
      assert.ok(events.every((e) => e.additionalEventData['authFailure'] === true));
      assert.ok(events.every((e) => e.userIdentity.userName === 'HIDDEN_DUE_TO_SECURITY_REASONS'), 'an unknown name is not recorded');
      const [throttled] = await storeEvents(ft, (e) => e.eventName === 'ThrottleSignIn', 1);
      assert.equal(throttled?.requestParameters['scope'], 'pair');
      assert.equal(throttled?.requestParameters['waitSeconds'], 600);
    } finally {
      await ft.close();
    }
  });

  it('believes identity headers only from trusted proxies', async () => {
    const trusted = await startInProcess('http://127.0.0.1:9', { gateway: { trustedProxies: ['127.0.0.1/32'] }, auth: { trustedProxyIdentity: { enabled: true, role: 'auditor' } } });
    const untrusted = await startInProcess('http://127.0.0.1:9', { gateway: { trustedProxies: ['10.0.0.0/8'] }, auth: { trustedProxyIdentity: { enabled: true } } });
    try {
      const headers = { 'x-forwarded-user': 'carol', 'x-forwarded-email': 'carol@example.com', 'x-forwarded-for': '203.0.113.9' };
      const who = await fetch(`${trusted.info.apiUrl}/api/v1/whoami`, { headers });
      assert.equal(who.status, 200);
      const me = (await who.json()) as { userName: string; type: string; role: string };
      assert.deepEqual([me.userName, me.type, me.role], ['carol', 'assumed-role', 'auditor']);
      const [e] = await storeEvents(trusted, (x) => x.userIdentity.userName === 'carol', 1);
      assert.equal(e?.sourceIpAddress, '203.0.113.9', 'the client address from the trusted proxy');
      assert.equal(e?.userIdentity.sessionContext?.attributes['email'], 'carol@example.com');
      const refused = await fetch(`${untrusted.info.apiUrl}/api/v1/whoami`, { headers });
      assert.equal(refused.status, 401);
    } finally {
      await trusted.close();
      await untrusted.close();
    }
  });
});
