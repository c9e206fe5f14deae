/**
 * Clusters belong to accounts: the gateway built with a stand-in for Flink (an HTTP server that
 * counts what reaches it) and for authentication (the caller's account from a test header), so
 * that every pairing of caller account and cluster account is tried in a few milliseconds. The
 * same against a real Flink, with real accounts and keys: test/integration/gateway/accounts.test.ts.
 */
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { buildConfig } from '../../config/index.js';
import type { ActionTrailEvent } from '../../event/types.js';
import { AuthError, type Authenticator, type Principal } from '../../identity/authenticate.js';
import type { Recorder } from '../../pipeline/recorder.js';
import { createLogger } from '../../telemetry/logger.js';
import { createMetrics } from '../../telemetry/metrics.js';
import { inEachAccount, mayReach } from './cross-account.js';
import { createGateway, type Gateway } from './gateway.js';

const MGMT = '1000000000000001';
const A = '2000000000000001';
const B = '3000000000000001';

describe('mayReach and inEachAccount', () => {
  it('lets a member reach its own account only, and the management account every one', () => {
    assert.equal(mayReach(A, A, MGMT), true);
    assert.equal(mayReach(A, B, MGMT), false);
    assert.equal(mayReach(A, MGMT, MGMT), false, "a member cannot reach the management account's clusters");
    assert.equal(mayReach(MGMT, B, MGMT), true);
  });

  it('copies an event into the other account with its own id, and only then', () => {
    const e = { eventId: 'x', recipientAccountId: B } as ActionTrailEvent;
    assert.deepEqual(inEachAccount(e, undefined), [e]);
    assert.deepEqual(inEachAccount(e, B), [e]);
    const [first, second] = inEachAccount(e, A);
    assert.equal(first, e);
    assert.equal(second?.recipientAccountId, A);
    assert.notEqual(second?.eventId, 'x');
  });
});

describe('the gateway keeps each account to its own clusters', () => {
  const reached: string[] = [];
  const events: ActionTrailEvent[] = [];
  let flink: Server;
  let front: Server;
  let gateway: Gateway;
  let base: string;

  before(async () => {
    flink = createServer((req, res) => {
      reached.push(`${req.method} ${req.url}`);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"jobs":[]}');
    });
    await new Promise<void>((r) => flink.listen(0, '127.0.0.1', r));
    const flinkUrl = `http://127.0.0.1:${(flink.address() as AddressInfo).port}`;
    const config = buildConfig({
      accountId: MGMT,
      clusters: [
        { name: 'a-prod', url: flinkUrl, account: A },
        { name: 'b-prod', url: flinkUrl, account: B },
        { name: 'b-history', url: flinkUrl, account: B, kind: 'history-server' },
        { name: 'b-sql', url: flinkUrl, account: B, kind: 'sql-gateway' },
        { name: 'platform', url: flinkUrl },
      ],
    });
    // The caller: `x-test-account` names its account (none: the management account); `x-test-fail` fails the sign-in.
    const authenticator = {
      authenticate(ctx: { headers: Record<string, string | string[] | undefined> }): Promise<Principal> {
        if (ctx.headers['x-test-fail']) return Promise.reject(new AuthError('FT_ERR_AUTH_INVALID', { userName: 'mallory' }, 'wrong secret'));
        const account = ctx.headers['x-test-account'] as string | undefined;
        return Promise.resolve({
          type: 'ram-user',
          principalId: `p-${account ?? 'mgmt'}`,
          userName: `admin-${account ?? 'mgmt'}`,
          role: 'admin',
          method: 'access-key',
          mfaAuthenticated: false,
          ...(account ? { accountId: account } : {}),
        });
      },
    } as unknown as Authenticator;
    const recorder = {
      record: (e: ActionTrailEvent) => Promise.resolve(void events.push(e)),
      journal: (e: ActionTrailEvent) => Promise.resolve(void events.push(e)),
      complete: (e: ActionTrailEvent) => Promise.resolve(void events.push(e)),
    } as unknown as Recorder;
    gateway = createGateway({ config, recorder, authenticator, resolveIp: (ip) => ip ?? '', log: createLogger('silent'), metrics: createMetrics() });
    front = createServer((req, res) => {
      const m = /^\/flink\/([^/]+)(\/.*)$/.exec(req.url ?? '');
      gateway.handle(req, res, { cluster: m?.[1] ?? '', url: m?.[2] ?? '/' });
    });
    await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(front.address() as AddressInfo).port}`;
  });
  after(async () => {
    await gateway.close();
    await new Promise((r) => front.close(r));
    await new Promise((r) => flink.close(r));
  });

  async function call(cluster: string, headers: Record<string, string>, method = 'GET', path = '/jobs/overview') {
    reached.length = 0;
    const res = await fetch(`${base}/flink/${cluster}${path}`, { method, headers: { 'user-agent': 'test', ...headers } });
    const body = await res.text();
    const requestId = res.headers.get('x-request-id') ?? '';
    // Events are recorded as the answer ends: wait for them (a refusal's come at once; a 404 has none).
    for (let i = 0; res.status !== 404 && i < 100 && !events.some((e) => e.requestId === requestId && e.additionalEventData.outcome !== 'pending'); i++) await new Promise((r) => setTimeout(r, 10));
    const mine = events.filter((e) => e.requestId === requestId && e.additionalEventData.outcome !== 'pending');
    return { status: res.status, body, mine, reached: [...reached] };
  }

  it("records a member's call to its own cluster in its account", async () => {
    const r = await call('a-prod', { 'x-test-account': A });
    assert.equal(r.status, 200);
    assert.deepEqual(r.reached, ['GET /jobs/overview']);
    assert.equal(r.mine.length, 1);
    assert.equal(r.mine[0]?.recipientAccountId, A);
    assert.equal(r.mine[0]?.userIdentity.accountId, A);
  });

  for (const cluster of ['b-prod', 'b-history', 'b-sql', 'platform']) {
    it(`refuses a member's call to ${cluster} (another account's) 403 NoPermission before Flink, recorded in both accounts`, async () => {
      const r = await call(cluster, { 'x-test-account': A }, 'PATCH', '/jobs/0123456789abcdef0123456789abcdef?mode=cancel');
      assert.equal(r.status, 403);
      assert.equal((JSON.parse(r.body) as { Code: string }).Code, 'NoPermission');
      assert.deepEqual(r.reached, [], 'Flink never saw it');
      assert.equal(r.mine.length, 2);
      const [there, home] = r.mine as [ActionTrailEvent, ActionTrailEvent];
      assert.equal(there.recipientAccountId, cluster === 'platform' ? MGMT : B);
      assert.equal(home.recipientAccountId, A);
      assert.notEqual(there.eventId, home.eventId);
      const rest = (e: ActionTrailEvent) => ({ ...e, eventId: undefined, recipientAccountId: undefined });
      assert.deepEqual(rest(there), rest(home), 'identical but for eventId and recipientAccountId');
      assert.equal(there.userIdentity.accountId, A, "the caller's account");
      assert.equal(there.errorCode, 'NoPermission');
      assert.equal(there.additionalEventData['crossAccount'], true);
    });
  }

  it("answers Flink's own client (no User-Agent) in Flink's error shape", async () => {
    const answer = await new Promise<{ status: number; body: string; code: string }>((resolve, reject) => {
      const req = request(`${base}/flink/b-prod/jobs/overview`, { headers: { 'x-test-account': A } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, code: String(res.headers['x-flinktrail-error-code']) }));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(answer.status, 403);
    assert.equal(answer.code, 'NoPermission');
    const errors = (JSON.parse(answer.body) as { errors: string[] }).errors;
    assert.match(errors[0] ?? '', /^NoPermission: .*b-prod is not in your account/);
  });

  it('keeps 404 for a cluster that does not exist', async () => {
    const r = await call('nope', { 'x-test-account': A });
    assert.equal(r.status, 404);
    assert.equal((JSON.parse(r.body) as { Code: string }).Code, 'FT_ERR_GATEWAY_UNKNOWN_CLUSTER');
    assert.deepEqual(r.reached, []);
  });

  it("lets the management account reach every cluster, its events in the cluster's account", async () => {
    for (const [cluster, account] of [['b-prod', B], ['a-prod', A], ['platform', MGMT]] as const) {
      const r = await call(cluster, {});
      assert.equal(r.status, 200, cluster);
      assert.equal(r.reached.length, 1);
      assert.equal(r.mine.length, 1);
      assert.equal(r.mine[0]?.recipientAccountId, account);
      assert.equal(r.mine[0]?.userIdentity.accountId, MGMT, "the caller's own account");
    }
  });

  it("records a failed sign-in in the cluster's account", async () => {
    const r = await call('b-prod', { 'x-test-fail': '1' });
    assert.equal(r.status, 401);
    assert.equal(r.mine.length, 1);
    assert.equal(r.mine[0]?.recipientAccountId, B);
    assert.equal(r.mine[0]?.userIdentity.accountId, B);
    assert.equal(r.mine[0]?.userIdentity.type, 'anonymous');
  });
});
