/**
 * Clusters belong to accounts, against a real Flink (its JobManager and SQL Gateway): two member
 * accounts made with `flinktrail accounts create`, each owning a cluster entry (both in front of
 * the same Flink), each with an admin made through the API. A member's admin operates its own
 * cluster and is recorded in its account; asking for the other account's cluster — under
 * /flink/<name>/, on its dedicated listener, on its SQL Gateway — is 403 NoPermission, Flink never
 * sees it (a cancel of a running job leaves the job running), and the refusal is recorded in both
 * accounts. The management account's admin operates every cluster, its events in the cluster's
 * account.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { ActionTrailEvent } from '../../../src/event/types.js';
import { startFlink, uploadAndRunJob, waitForJobState, type FlinkCluster } from '../../helpers/flink.js';
import { basic, lookup, makeKey, REPO, startInProcess, tempDir, testStoreFor, type Credentials, type InProcess } from '../../helpers/flinktrail.js';

const exec = promisify(execFile);
const MANAGEMENT = '1000000000000001';
/** A shared Flink (FLINKTRAIL_TEST_FLINK_URL) without a SQL Gateway; a Flink of this file's own has one. */
const NO_SQL_GATEWAY = !!process.env['FLINKTRAIL_TEST_FLINK_URL'] && !process.env['FLINKTRAIL_TEST_FLINK_SQL_GATEWAY_URL'];

describe("a member account reaches only its own account's clusters", { timeout: 300_000 }, () => {
  let flink: FlinkCluster;
  let ft: InProcess;
  let root: Credentials;
  const team: Record<'a' | 'b', { accountId: string; admin: Credentials }> = {} as never;
  let jobId = '';

  /** `flinktrail accounts create`, as an operator onboarding a team runs it. */
  async function createAccount(dataDir: string, name: string): Promise<string> {
    const store = await testStoreFor(dataDir);
    const { stdout } = await exec(process.execPath, [join(REPO, 'bin/flinktrail.mjs'), 'accounts', 'create', '--name', name, '--output', 'json', '--data-dir', dataDir], {
      // The store the server uses (FLINKTRAIL_TEST_STORE=postgres: a database of this data directory's).
      env: { ...process.env, ...(store ? { FLINKTRAIL__STORE__URL: store.url } : {}) },
    });
    const made = JSON.parse(stdout) as { accountId: string; name: string };
    assert.match(made.accountId, /^[0-9]{16}$/);
    assert.equal(made.name, name);
    return made.accountId;
  }

  /** An admin of `accountId`, made through the API by the management account's admin. */
  async function memberAdmin(userName: string, accountId: string): Promise<Credentials> {
    const api = ft.info.apiUrl;
    const headers = { authorization: basic(root), 'content-type': 'application/json' };
    const user = await fetch(`${api}/api/v1/users`, { method: 'POST', headers, body: JSON.stringify({ userName, role: 'admin', accountId }) });
    assert.equal(user.status, 201, await user.clone().text());
    const key = await fetch(`${api}/api/v1/keys`, { method: 'POST', headers, body: JSON.stringify({ userName }) });
    assert.equal(key.status, 201, await key.clone().text());
    return (await key.json()) as Credentials;
  }

  before(async () => {
    flink = await startFlink({ withSqlGateway: true });
    const dataDir = tempDir('ft-accounts-');
    root = await makeKey(dataDir, 'root', 'admin');
    const a = await createAccount(dataDir, 'team-a');
    const b = await createAccount(dataDir, 'team-b');
    ft = await startInProcess(
      flink.restUrl,
      {
        accountId: MANAGEMENT,
        clusters: [
          { name: 'a-prod', url: flink.restUrl, account: a, listen: { port: 0 } },
          { name: 'b-prod', url: flink.restUrl, account: b, listen: { port: 0 } },
          ...(flink.sqlGatewayUrl ? [{ name: 'b-sql', url: flink.sqlGatewayUrl, kind: 'sql-gateway', account: b }] : []),
        ],
      },
      dataDir,
    );
    team.a = { accountId: a, admin: await memberAdmin('alice', a) };
    team.b = { accountId: b, admin: await memberAdmin('bob', b) };
    // A job of team B's, started on Flink directly.
    jobId = (await uploadAndRunJob(flink.restUrl, flink.jobJar, { programArgs: ['--job-name', 'team-b-orders', '--rate', '5'] })).jobId;
    await waitForJobState(flink.restUrl, jobId, 'RUNNING', 120_000);
  });
  after(async () => {
    if (jobId) await fetch(`${flink.restUrl}/jobs/${jobId}?mode=cancel`, { method: 'PATCH' }).catch(() => undefined);
    await ft?.close();
    await flink?.stop();
  });

  async function call(cred: Credentials, url: string, method = 'GET', body?: unknown) {
    const res = await fetch(url, {
      method,
      headers: { authorization: basic(cred), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, text, requestId: res.headers.get('x-request-id') ?? '' };
  }

  /** The finished events of one request, as the store holds them (no query-side scoping). */
  async function storedFor(requestId: string, count: number): Promise<ActionTrailEvent[]> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const page = await ft.app.store.lookup({ filter: { startTime: Date.now() - 600_000, endTime: Date.now() + 60_000 }, direction: 'BACKWARD', limit: 500 });
      const mine = page.events.filter((e) => e.requestId === requestId && e.additionalEventData.outcome !== 'pending');
      if (mine.length >= count || Date.now() > deadline) return mine;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  const prefix = (cluster: string) => `${ft.info.apiUrl}/flink/${cluster}`;

  it("records a member's calls to its own cluster in its account", async () => {
    const r = await call(team.a.admin, `${prefix('a-prod')}/jobs/overview`);
    assert.equal(r.status, 200);
    const [e, ...more] = await storedFor(r.requestId, 1);
    assert.equal(more.length, 0);
    assert.equal(e?.recipientAccountId, team.a.accountId);
    assert.equal(e?.userIdentity.accountId, team.a.accountId);
    assert.equal(e?.userIdentity.userName, 'alice');
  });

  it("refuses a member's cancel of another account's job 403 NoPermission: the job keeps running, the refusal is recorded in both accounts", async () => {
    for (const url of [`${prefix('b-prod')}/jobs/${jobId}?mode=cancel`, `${ft.info.clusters['b-prod']!.gatewayUrl}jobs/${jobId}?mode=cancel`]) {
      const r = await call(team.a.admin, url, 'PATCH');
      assert.equal(r.status, 403, r.text);
      assert.equal((JSON.parse(r.text) as { Code: string }).Code, 'NoPermission');
      const events = await storedFor(r.requestId, 2);
      assert.equal(events.length, 2, url);
      const byAccount = new Map(events.map((e) => [e.recipientAccountId, e]));
      const there = byAccount.get(team.b.accountId);
      const home = byAccount.get(team.a.accountId);
      assert.ok(there && home, 'one in the cluster’s account, one in the caller’s');
      assert.notEqual(there.eventId, home.eventId);
      assert.deepEqual({ ...there, eventId: '', recipientAccountId: '' }, { ...home, eventId: '', recipientAccountId: '' });
      assert.equal(there.eventName, 'CancelJob');
      assert.equal(there.errorCode, 'NoPermission');
      assert.equal(there.userIdentity.accountId, team.a.accountId);
    }
    // Flink never saw it: the job runs on.
    const job = (await (await fetch(`${flink.restUrl}/jobs/${jobId}`)).json()) as { state: string };
    assert.equal(job.state, 'RUNNING');
  });

  it('shows the refusal to each account, its own copy', async () => {
    const query = { eventName: 'CancelJob', startTime: new Date(Date.now() - 600_000).toISOString() };
    for (const side of ['a', 'b'] as const) {
      const { Events } = await lookup(ft.info.apiUrl, team[side].admin, query);
      assert.equal(Events.length, 2, `${side}: the two refused cancels`);
      for (const e of Events) assert.equal(e.recipientAccountId, team[side].accountId);
    }
  });

  it("refuses a member's SQL Gateway session on another account's SQL Gateway", { skip: NO_SQL_GATEWAY && 'the shared Flink has no SQL Gateway' }, async () => {
    const r = await call(team.a.admin, `${prefix('b-sql')}/v1/sessions`, 'POST', { sessionName: 'not-mine' });
    assert.equal(r.status, 403, r.text);
    const events = await storedFor(r.requestId, 2);
    assert.deepEqual(events.map((e) => e.recipientAccountId).sort(), [team.a.accountId, team.b.accountId].sort());
    const own = await call(team.b.admin, `${prefix('b-sql')}/v1/sessions`, 'POST', { sessionName: 'mine' });
    assert.equal(own.status, 200, own.text);
  });

  it('keeps 404 for a cluster that does not exist', async () => {
    const r = await call(team.a.admin, `${prefix('nope')}/jobs/overview`);
    assert.equal(r.status, 404);
    assert.equal((JSON.parse(r.text) as { Code: string }).Code, 'FT_ERR_GATEWAY_UNKNOWN_CLUSTER');
  });

  it("lets the management account's admin operate every cluster, its events in the cluster's account", async () => {
    const r = await call(root, `${prefix('b-prod')}/jobs/${jobId}?mode=cancel`, 'PATCH');
    assert.equal(r.status, 202, r.text);
    await waitForJobState(flink.restUrl, jobId, 'CANCELED', 60_000);
    const [e, ...more] = await storedFor(r.requestId, 1);
    assert.equal(more.length, 0);
    assert.equal(e?.recipientAccountId, team.b.accountId);
    assert.equal(e?.userIdentity.accountId, MANAGEMENT);
    assert.equal(e?.additionalEventData.outcome, 'success');
    jobId = '';
  });
});
