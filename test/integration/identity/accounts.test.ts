/**
 * (Every assert.ok has a message: without one, Node parses the transpiled one-line source to
 * write it, which takes minutes.)
 *
 * Accounts over the API: the management account creates member accounts; each member's admin
 * manages its own users and keys only; every query route (LookupEvents, GetEvent, histogram,
 * export, the ActionTrail-style filters) answers a member with its own account's events only,
 * whatever it asks for, while the management account sees every account's and can pick one; an
 * account that still owns something cannot be deleted.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { ActionTrailEvent } from '../../../src/event/types.js';
import { closedPort, type ClosedPort } from '../../helpers/ports.js';
import { basic, makeKey, startInProcess, tempDir, testStoreFor, waitForEvents, type Credentials, type InProcess } from '../../helpers/flinktrail.js';

const run = promisify(execFile);
const MANAGEMENT = '1000000000000001';

describe('accounts: one FlinkTrail, each member account sees only its own', () => {
  let ft: InProcess;
  let root: Credentials;
  let flinkDown: ClosedPort;
  let dataDir: string;
  const accounts: Record<'a' | 'b', string> = { a: '', b: '' };
  const admins: Partial<Record<'a' | 'b', Credentials>> = {};

  before(async () => {
    dataDir = tempDir();
    root = await makeKey(dataDir, 'root', 'admin');
    flinkDown = await closedPort();
    ft = await startInProcess(flinkDown.url, {}, dataDir);
  });
  after(async () => {
    await ft?.close();
    await flinkDown?.release();
  });

  const call = async (cred: Credentials, method: string, path: string, body?: unknown) => {
    const res = await fetch(`${ft.info.apiUrl}${path}`, {
      method,
      headers: { authorization: basic(cred), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> & { Code?: string } };
  };
  const events = async (cred: Credentials, query: Record<string, string> = {}): Promise<ActionTrailEvent[]> => {
    const r = await call(cred, 'GET', `/api/v1/events?${new URLSearchParams({ maxResults: '200', ...query }).toString()}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body['Events'] as ActionTrailEvent[];
  };

  it('the management account creates member accounts with 16-digit ids; names are unique; members cannot create any', async () => {
    for (const k of ['a', 'b'] as const) {
      const r = await call(root, 'POST', '/api/v1/accounts', { name: `team-${k}` });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.match(String(r.body['accountId']), /^[1-9][0-9]{15}$/, 'an ActionTrail-style account id');
      accounts[k] = String(r.body['accountId']);
    }
    assert.notEqual(accounts.a, accounts.b, 'distinct ids');
    const dup = await call(root, 'POST', '/api/v1/accounts', { name: 'team-a' });
    assert.equal(dup.status, 409, 'a name is unique');
    assert.equal(dup.body.Code, 'FT_ERR_ACCOUNT_EXISTS');

    for (const k of ['a', 'b'] as const) {
      const u = await call(root, 'POST', '/api/v1/users', { userName: `admin-${k}`, role: 'admin', accountId: accounts[k] });
      assert.equal(u.status, 201, JSON.stringify(u.body));
      assert.equal(u.body['accountId'], accounts[k]);
      const key = await call(root, 'POST', '/api/v1/keys', { userName: `admin-${k}` });
      assert.equal(key.status, 201, JSON.stringify(key.body));
      admins[k] = { accessKeyId: String(key.body['accessKeyId']), accessKeySecret: String(key.body['accessKeySecret']) };
    }
    const a = admins.a as Credentials;
    const refused = await call(a, 'POST', '/api/v1/accounts', { name: 'team-x' });
    assert.equal(refused.status, 403, 'only the management account creates accounts');
    assert.equal(refused.body.Code, 'FT_ERR_ACCOUNT_DENIED');
    const unknown = await call(root, 'POST', '/api/v1/users', { userName: 'ghost', accountId: '9999999999999999' });
    assert.equal(unknown.status, 404, 'a user joins an existing account only');
    assert.equal(unknown.body.Code, 'FT_ERR_ACCOUNT_NOT_FOUND');

    const listed = await call(a, 'GET', '/api/v1/accounts');
    assert.deepEqual(
      (listed.body['Accounts'] as { accountId: string }[]).map((x) => x.accountId),
      [accounts.a],
      'a member sees its own account only',
    );
    const all = await call(root, 'GET', '/api/v1/accounts');
    assert.deepEqual(
      (all.body['Accounts'] as { accountId: string }[]).map((x) => x.accountId).sort(),
      [MANAGEMENT, accounts.a, accounts.b].sort(),
      'the management account sees every account',
    );
    const who = await call(a, 'GET', '/api/v1/whoami');
    assert.equal(who.body['accountId'], accounts.a, 'the caller identity carries its account');
    assert.equal(who.body['managementAccount'], false, 'and says it is a member');
  });

  it("auditors list accounts (the management account's every account, a member's its own); viewers list none; only admins create or delete", async () => {
    const keyFor = async (userName: string, role: string, accountId?: string): Promise<Credentials> => {
      const u = await call(root, 'POST', '/api/v1/users', { userName, role, ...(accountId ? { accountId } : {}) });
      assert.equal(u.status, 201, JSON.stringify(u.body));
      const k = await call(root, 'POST', '/api/v1/keys', { userName });
      assert.equal(k.status, 201, JSON.stringify(k.body));
      return { accessKeyId: String(k.body['accessKeyId']), accessKeySecret: String(k.body['accessKeySecret']) };
    };
    const ids = (r: { body: Record<string, unknown> }) => ((r.body['Accounts'] ?? []) as { accountId: string }[]).map((x) => x.accountId).sort();
    const mAuditor = await keyFor('auditor-m', 'auditor');
    const mViewer = await keyFor('viewer-m', 'viewer');
    const aAuditor = await keyFor('auditor-a', 'auditor', accounts.a);

    const all = await call(mAuditor, 'GET', '/api/v1/accounts');
    assert.equal(all.status, 200, JSON.stringify(all.body));
    assert.deepEqual(ids(all), [MANAGEMENT, accounts.a, accounts.b].sort(), "the management account's auditor sees every account (the console's account picker)");
    const own = await call(aAuditor, 'GET', '/api/v1/accounts');
    assert.equal(own.status, 200, JSON.stringify(own.body));
    assert.deepEqual(ids(own), [accounts.a], "a member's auditor sees its own account only");
    const viewer = await call(mViewer, 'GET', '/api/v1/accounts');
    assert.deepEqual([viewer.status, viewer.body.Code], [403, 'NoPermission'], 'a viewer reads no audit data, the account list included');

    // Writes stay the management account's admins'.
    for (const cred of [mAuditor, aAuditor]) {
      const made = await call(cred, 'POST', '/api/v1/accounts', { name: 'team-auditor' });
      assert.deepEqual([made.status, made.body.Code], [403, 'NoPermission'], 'an auditor creates no account');
      const gone = await call(cred, 'DELETE', `/api/v1/accounts/${accounts.b}`);
      assert.deepEqual([gone.status, gone.body.Code], [403, 'NoPermission'], 'an auditor deletes no account');
    }
    assert.deepEqual(ids(await call(root, 'GET', '/api/v1/accounts')), [MANAGEMENT, accounts.a, accounts.b].sort(), 'nothing was created or deleted');
    for (const u of ['auditor-m', 'viewer-m', 'auditor-a']) assert.equal((await call(root, 'DELETE', `/api/v1/users/${u}`)).status, 204, `${u} removed (account b's deletion below counts users)`);
  });

  it("a member's admin manages its own users and keys, and another account's answer as not found", async () => {
    const a = admins.a as Credentials;
    const b = admins.b as Credentials;
    const made = await call(a, 'POST', '/api/v1/users', { userName: 'viewer-a', role: 'viewer' });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    assert.equal(made.body['accountId'], accounts.a, "a member's new user joins the member's account");
    const elsewhere = await call(a, 'POST', '/api/v1/users', { userName: 'spy', accountId: accounts.b });
    assert.equal(elsewhere.status, 403, 'not into another account');
    const users = await call(a, 'GET', '/api/v1/users');
    assert.deepEqual(
      (users.body['Users'] as { userName: string }[]).map((u) => u.userName).sort(),
      ['admin-a', 'viewer-a'],
      "a member lists its own account's users only",
    );
    const keys = await call(b, 'GET', '/api/v1/keys');
    assert.deepEqual(
      (keys.body['AccessKeys'] as { userName: string }[]).map((k) => k.userName),
      ['admin-b'],
      "a member lists its own account's keys only",
    );
    for (const [method, path, body] of [
      ['PATCH', '/api/v1/users/viewer-a', { disabled: true }],
      ['DELETE', '/api/v1/users/viewer-a', undefined],
      ['POST', '/api/v1/keys', { userName: 'viewer-a' }],
      ['PATCH', `/api/v1/keys/${a.accessKeyId}`, { status: 'Inactive' }],
      ['POST', `/api/v1/keys/${a.accessKeyId}/rotate`, undefined],
      ['DELETE', `/api/v1/keys/${a.accessKeyId}`, undefined],
      ['POST', '/api/v1/users/viewer-a/policies', { policyName: 'p' }],
    ] as const) {
      // Answered exactly as if it did not exist: the same status and code as a name no account has.
      const r = await call(b, method, path, body);
      const none = await call(b, method, path.replace('viewer-a', 'nobody-at-all').replace(a.accessKeyId, 'LTAInobodyatall0000'), body && 'userName' in body ? { userName: 'nobody-at-all' } : body);
      assert.ok(r.status >= 400 && r.status < 500, `${method} ${path} by another account's admin is refused: ${JSON.stringify(r.body)}`);
      assert.deepEqual([r.status, r.body.Code], [none.status, none.body.Code], `${method} ${path}: as for nothing at all`);
    }
    const still = await call(a, 'GET', '/api/v1/users');
    assert.ok((still.body['Users'] as { userName: string; disabled: boolean }[]).some((u) => u.userName === 'viewer-a' && !u.disabled), 'nothing changed');
    const policy = await call(a, 'PUT', '/api/v1/policies/mine', { document: { Statement: [{ Effect: 'Deny', Action: ['RealtimeCompute:CancelJob'] }] } });
    assert.equal(policy.status, 403, 'policies are shared: the management account writes them');
  });

  it('queries answer a member with its own events only; the management account sees all and can pick one account', async () => {
    const a = admins.a as Credentials;
    const b = admins.b as Credentials;
    // Each account's own API calls are its events.
    for (const cred of [a, b, root]) assert.equal((await call(cred, 'GET', '/api/v1/whoami')).status, 200, 'whoami');
    await waitForEvents(ft.info.apiUrl, root, { eventName: 'GetCallerIdentity' }, (es) => new Set(es.map((e) => e.recipientAccountId)).size === 3);

    const mine = await events(a);
    assert.ok(mine.length > 0, 'a member sees events');
    assert.ok(mine.every((e) => e.recipientAccountId === accounts.a), `only its own: ${[...new Set(mine.map((e) => e.recipientAccountId))].join(',')}`);
    assert.ok(mine.some((e) => e.eventName === 'GetCallerIdentity' && e.userIdentity.accountId === accounts.a), "its own caller's identity names its account");
    const theirs = await events(b);
    assert.ok(theirs.length > 0 && theirs.every((e) => e.recipientAccountId === accounts.b), 'and the other member only its own');

    const everything = await events(root);
    const seen = new Set(everything.map((e) => e.recipientAccountId ?? MANAGEMENT));
    for (const id of [MANAGEMENT, accounts.a, accounts.b]) assert.ok(seen.has(id), `the management account sees account ${id}`);
    const picked = await events(root, { accountId: accounts.b });
    assert.ok(picked.length > 0 && picked.every((e) => e.recipientAccountId === accounts.b), 'one account, picked');
    const own = await events(root, { accountId: MANAGEMENT });
    assert.ok(own.length > 0 && own.every((e) => (e.recipientAccountId ?? MANAGEMENT) === MANAGEMENT), "the management account's own");

    const asked = await call(a, 'GET', `/api/v1/events?accountId=${accounts.b}`);
    assert.equal(asked.status, 403, "a member asking for another account's events is refused");
    assert.equal(asked.body.Code, 'FT_ERR_ACCOUNT_DENIED');
    const bad = await call(root, 'GET', '/api/v1/events?accountId=abc');
    assert.equal(bad.status, 400, 'an account id is digits');

    const other = theirs[0] as ActionTrailEvent;
    assert.equal((await call(a, 'GET', `/api/v1/events/${other.eventId}`)).status, 404, "another account's event is not found by id");
    assert.equal((await call(b, 'GET', `/api/v1/events/${other.eventId}`)).status, 200, 'its own account finds it');
    assert.equal((await call(root, 'GET', `/api/v1/events/${other.eventId}`)).status, 200, 'the management account finds it');

    const h = await call(a, 'GET', '/api/v1/events/histogram');
    assert.equal(h.status, 200, JSON.stringify(h.body));
    const hb = await call(b, 'GET', '/api/v1/events/histogram');
    const hroot = await call(root, 'GET', '/api/v1/events/histogram');
    const total = (x: Record<string, unknown>) => Number(x['total']);
    assert.ok(total(h.body) > 0 && total(h.body) < total(hroot.body) && total(hb.body) < total(hroot.body), `histograms are per account: a ${total(h.body)}, b ${total(hb.body)}, all ${total(hroot.body)}`);

    const x = await fetch(`${ft.info.apiUrl}/api/v1/events/export?format=json`, { headers: { authorization: basic(a) } });
    assert.equal(x.status, 200);
    const exported = JSON.parse(await x.text()) as ActionTrailEvent[];
    assert.ok(exported.length > 0 && exported.every((e) => e.recipientAccountId === accounts.a), 'an export holds its own events only');
  });

  it('an account that owns users cannot be deleted; once empty it can; the management account never', async () => {
    const inUse = await call(root, 'DELETE', `/api/v1/accounts/${accounts.b}`);
    assert.equal(inUse.status, 409, JSON.stringify(inUse.body));
    assert.equal(inUse.body.Code, 'FT_ERR_ACCOUNT_IN_USE');
    assert.match(String(inUse.body['Message']), /admin-b/, 'names what it still owns');
    assert.equal((await call(admins.a as Credentials, 'DELETE', `/api/v1/accounts/${accounts.b}`)).status, 403, 'members delete no account');
    assert.equal((await call(root, 'DELETE', '/api/v1/users/admin-b')).status, 204);
    assert.equal((await call(root, 'DELETE', `/api/v1/accounts/${accounts.b}`)).status, 204, 'deleted once empty');
    assert.equal((await call(root, 'DELETE', `/api/v1/accounts/${MANAGEMENT}`)).status, 403, 'the management account is configuration');
    const gone = await call(root, 'GET', '/api/v1/accounts');
    assert.ok(!(gone.body['Accounts'] as { accountId: string }[]).some((x) => x.accountId === accounts.b), 'listed no more');
  });

  it('the CLI creates, lists and deletes accounts on the data directory', async () => {
    const bin = join(process.cwd(), 'bin', 'flinktrail.mjs');
    // The store the server uses (FLINKTRAIL_TEST_STORE=postgres: a database of this data directory's).
    const store = await testStoreFor(dataDir);
    const env = { ...process.env, ...(store ? { FLINKTRAIL__STORE__URL: store.url } : {}) };
    const cli = async (...args: string[]) => (await run(process.execPath, [bin, ...args, '--data-dir', dataDir], { env })).stdout;
    const created = JSON.parse(await cli('accounts', 'create', '--name', 'team-cli', '--output', 'json')) as { accountId: string; name: string };
    assert.match(created.accountId, /^[1-9][0-9]{15}$/, 'prints {accountId, name}');
    assert.equal(created.name, 'team-cli');
    const key = JSON.parse(await cli('keys', 'create', '--user', 'cli-admin', '--role', 'admin', '--account', created.accountId, '--output', 'json')) as Credentials & { accountId: string };
    assert.equal(key.accountId, created.accountId, 'a key for a user of the new account');
    const listed = JSON.parse(await cli('accounts', 'list', '--output', 'json')) as { accountId: string; name: string }[];
    assert.ok(listed.some((x) => x.accountId === created.accountId && x.name === 'team-cli'), 'listed');
    // The running server sees the key of the new account's admin (the directory's cache bound is 1 s).
    const who = await (async () => {
      for (let i = 0; i < 50; i++) {
        const r = await call({ accessKeyId: key.accessKeyId, accessKeySecret: key.accessKeySecret }, 'GET', '/api/v1/whoami');
        if (r.status === 200) return r.body;
        await new Promise((res) => setTimeout(res, 100));
      }
      return undefined;
    })();
    assert.equal(who?.['accountId'], created.accountId, 'the key signs in as its account');
    await assert.rejects(cli('accounts', 'delete', created.accountId), /FT_ERR_ACCOUNT_IN_USE/, 'refused while a user is in it');
  });
});
