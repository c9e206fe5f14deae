/**
 * (Every assert.ok has a message: without one, Node parses the transpiled one-line source to
 * write it, which takes minutes.)
 *
 * The acceptance table of accounts (issue 17): two member accounts and the management account,
 * each with a cluster (and a SQL Gateway when the Flink has one) behind one FlinkTrail, each with an
 * admin and a viewer, a trail, users, keys and events of its own. Every API route, ActionTrail RPC
 * action, CLI command that talks to the API and gateway path is called by every principal, aimed
 * at the other accounts' things; nothing of another account may appear in a member's answer
 * (searched for the other accounts' ids, user names, key ids, trail names, cluster names and event
 * ids), and a member's write on another account's thing is refused exactly as one on a thing that
 * does not exist and changes nothing. The management account's principals see every account (the
 * same search finds the others there: the search can fail).
 *
 * The table is derived: the API's routes from Fastify, the RPC actions from `ACTIONS`, the CLI's
 * from its commands. A route, action or command with no case here fails the first test, unless it
 * is listed as account-neutral with the reason.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Command } from 'commander';
import { ACTIONS } from '../../../src/api/actiontrail/actions.js';
import { CONSOLE_PAGES } from '../../../src/api/console-routes.js';
import { program } from '../../../src/cli/index.js';
import type { ActionTrailEvent } from '../../../src/event/types.js';
import { startFlink, uploadAndRunJob, waitForJobState, type FlinkCluster } from '../../helpers/flink.js';
import { basic, makeKey, REPO, startInProcess, tempDir, testStoreFor, type Credentials, type InProcess } from '../../helpers/flinktrail.js';
import { signedRpcUrl } from '../../helpers/rpc.js';

const MGMT = '1000000000000001';
type Acct = 'mgmt' | 'teama' | 'teamb';
const ACCTS: Acct[] = ['mgmt', 'teama', 'teamb'];
const MEMBERS: Acct[] = ['teama', 'teamb'];
const NONE = 'nosuchthing-x9';

/** Routes no account owns anything behind, with why. */
const NEUTRAL_ROUTES: Record<string, string> = {
  'GET /health': 'liveness: no credentials, no data',
  'GET /ready': 'readiness: no credentials, no data',
  'GET /api/v1/console/settings': "public: the console's sign-in settings, no account data",
  'POST /api/v1/auth/login': "signs in the caller's own user (name:password); answers its own session only",
  'POST /api/v1/auth/logout': "ends the caller's own session",
  'GET /favicon.svg': 'a static file',
  'POST /': 'the ActionTrail RPC endpoint (host/query constrained): walked action by action below',
};
/** CLI commands that talk to no API: they work on a data directory, whose holder is its operator. */
const LOCAL_COMMANDS_REASON = 'works on the data directory (its operator is the management account), not through the API';

interface Principal {
  acct: Acct;
  role: 'admin' | 'viewer';
  cred: Credentials;
}
interface Answer {
  status: number;
  text: string;
  json: unknown;
}

describe('account isolation: every route, action, command and gateway path, as every account', { timeout: 600_000 }, () => {
  let flink: FlinkCluster;
  let ft: InProcess;
  let root: Credentials;
  let jobId = '';
  const id: Record<Acct, string> = { mgmt: MGMT, teama: '', teamb: '' };
  const principals: Principal[] = [];
  /** What each account owns, by kind: what must never show in another member's answer. */
  const owned: Record<Acct, { users: string[]; keys: string[]; trails: string[]; clusters: string[]; events: string[] }> = {
    mgmt: { users: [], keys: [], trails: [], clusters: [], events: [] },
    teama: { users: [], keys: [], trails: [], clusters: [], events: [] },
    teamb: { users: [], keys: [], trails: [], clusters: [], events: [] },
  };
  const counts = { apiRoutes: 0, neutralRoutes: 0, rpcActions: 0, cliCommands: 0, gatewayPaths: 0, consoleRoutes: 0, calls: { api: 0, rpc: 0, cli: 0, gateway: 0, console: 0 } };
  const covered = new Set<string>();
  const withSql = () => !!flink.sqlGatewayUrl;

  const needlesOf = (a: Acct): string[] => {
    const o = owned[a];
    return [...(a === 'mgmt' ? [] : [id[a]]), ...o.users, ...o.keys, ...o.trails, ...o.clusters, ...o.events];
  };
  const others = (a: Acct): Acct[] => ACCTS.filter((x) => x !== a);
  /** The other accounts' things found in `text`, leaving out what the request itself named. */
  const leaked = (p: Principal, text: string, request = ''): string[] =>
    others(p.acct)
      .flatMap(needlesOf)
      .filter((n) => text.includes(n) && !request.includes(n));

  async function http(url: string, cred: Credentials | undefined, method = 'GET', body?: unknown, kind: keyof typeof counts.calls = 'api'): Promise<Answer> {
    counts.calls[kind]++;
    const res = await fetch(url, {
      method,
      headers: { ...(cred ? { authorization: basic(cred) } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, text, json };
  }
  const api = (p: Principal | Credentials, method: string, path: string, body?: unknown) => http(`${ft.info.apiUrl}${path}`, 'acct' in p ? p.cred : p, method, body);
  const code = (a: Answer) => (a.json as { Code?: string } | undefined)?.Code;

  async function rpc(p: Principal, action: string, params: Record<string, string>): Promise<Answer> {
    counts.calls.rpc++;
    const res = await fetch(signedRpcUrl(ft.info.apiUrl, p.cred, action, params));
    const text = await res.text();
    return { status: res.status, text, json: JSON.parse(text) };
  }

  /** The CLI in this process (its output captured): spawning one per call would cost minutes. */
  async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
    counts.calls.cli++;
    const out: string[] = [];
    const grab = (chunk: unknown, ...rest: unknown[]) => {
      out.push(String(chunk));
      (rest.find((x) => typeof x === 'function') as (() => void) | undefined)?.();
      return true;
    };
    const [w1, w2, code0] = [process.stdout.write.bind(process.stdout), process.stderr.write.bind(process.stderr), process.exitCode];
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
    process.stdout.write = grab;
    process.stderr.write = grab;
    process.exitCode = undefined;
    try {
      const cmd = program();
      const noExit = (c: Command) => {
        c.exitOverride();
        c.commands.forEach(noExit);
      };
      noExit(cmd);
      try {
        await cmd.parseAsync(['node', 'flinktrail', ...args]);
      } catch (err) {
        out.push(`flinktrail: ${(err as Error).message}`);
        process.exitCode = (err as { exitCode?: number }).exitCode ?? 2;
      }
      return { code: Number(process.exitCode ?? 0), out: out.join('') };
    } finally {
      process.stdout.write = w1;
      process.stderr.write = w2;
      process.exitCode = code0;
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  }
  const asCli = (p: Principal) => ['--endpoint', ft.info.apiUrl, '--key-id', p.cred.accessKeyId, '--key-secret', p.cred.accessKeySecret];

  /** Events as the management account's admin sees them (every account, every region). */
  async function eventsOf(a: Acct): Promise<ActionTrailEvent[]> {
    const r = await api(root, 'GET', `/api/v1/events?${new URLSearchParams({ region: '*', maxResults: '200', accountId: id[a] }).toString()}`);
    assert.equal(r.status, 200, r.text);
    return (r.json as { Events: ActionTrailEvent[] }).Events;
  }
  /** A trail of `a`'s as its own admin sees it (unchanged by the table: the same JSON before and after). */
  const trailState = async (a: Acct) => {
    const admin = principals.find((p) => p.acct === a && p.role === 'admin') as Principal;
    const r = await api(admin, 'GET', `/api/v1/trails/${owned[a].trails[0]}`);
    const s = await api(admin, 'GET', `/api/v1/trails/${owned[a].trails[0]}/status`);
    const trail = { ...(r.json as Record<string, unknown> | undefined) };
    delete trail['RequestId'];
    return { trail, logging: (s.json as { IsLogging?: boolean }).IsLogging, status: r.status };
  };
  const usersState = async () => ((await api(root, 'GET', '/api/v1/users')).json as { Users: unknown[] }).Users;
  const keysState = async () => ((await api(root, 'GET', '/api/v1/keys')).json as { AccessKeys: { accessKeyId: string; status: string }[] }).AccessKeys.map((k) => `${k.accessKeyId}:${k.status}`).sort();

  /** Events in an answer: every one is the caller's account's; no other account's event id is in them. */
  function ownEventsOnly(p: Principal, events: ActionTrailEvent[], what: string): void {
    const foreign = events.filter((e) => (e.recipientAccountId ?? MGMT) !== id[p.acct]);
    if (p.acct === 'mgmt') return;
    assert.deepEqual(foreign.map((e) => e.eventId), [], `${what} as ${p.acct} ${p.role}: another account's events`);
    // Who acted on the caller's things is its to know (accounts.md): the management account
    // operating its cluster, another account refused on it (recorded in both). Nothing else of
    // theirs: their identity in any other event is a leak.
    const visitors = events.filter((e) => e.userIdentity.accountId !== undefined && e.userIdentity.accountId !== id[p.acct]);
    const strays = visitors.filter((e) => e.userIdentity.accountId !== MGMT && e.errorCode !== 'NoPermission');
    assert.deepEqual(strays.map((e) => `${e.eventName} ${e.errorCode ?? ''}`), [], `${what} as ${p.acct} ${p.role}: another member's calls that were not refused`);
    // What the caller itself sent is recorded in its own events (a name or an event id it asked
    // about, in the parameters and the error message): the rest is searched for the other accounts'.
    const text = JSON.stringify(
      events.map(({ requestParameters: _r, additionalEventData: _a, referencedResources: _x, errorMessage: _m, userIdentity, ...rest }) =>
        visitors.some((v) => v.eventId === rest.eventId) ? rest : { ...rest, userIdentity },
      ),
    );
    const found = leaked(p, text);
    assert.deepEqual(found, [], `${what} as ${p.acct} ${p.role}: another account's things in its events: ${found.map((n) => text.slice(Math.max(0, text.indexOf(n) - 300), text.indexOf(n) + 100)).join(' | ')}`);
  }

  before(async () => {
    flink = await startFlink({ withSqlGateway: true });
    const dataDir = tempDir('ft-isolation-');
    root = await makeKey(dataDir, 'root', 'admin');
    const store = await testStoreFor(dataDir);
    const storeEnv: Record<string, string> = store ? { FLINKTRAIL__STORE__URL: store.url } : {};
    for (const a of MEMBERS) {
      const made = await cli(['accounts', 'create', '--name', a, '--output', 'json', '--data-dir', dataDir], storeEnv);
      assert.equal(made.code, 0, made.out);
      id[a] = (JSON.parse(made.out) as { accountId: string }).accountId;
    }
    const clusters = ACCTS.flatMap((a) => [
      { name: `prod-${a}`, url: flink.restUrl, listen: { port: 0 }, ...(a === 'mgmt' ? {} : { account: id[a] }) },
      ...(flink.sqlGatewayUrl ? [{ name: `sql-${a}`, url: flink.sqlGatewayUrl, kind: 'sql-gateway', ...(a === 'mgmt' ? {} : { account: id[a] }) }] : []),
    ]);
    ft = await startInProcess(flink.restUrl, { accountId: MGMT, clusters }, dataDir);
    owned.mgmt.users.push('root');
    owned.mgmt.keys.push(root.accessKeyId);
    for (const a of ACCTS) {
      owned[a].clusters.push(...clusters.filter((c) => c.name.endsWith(`-${a}`)).map((c) => c.name));
      for (const role of ['admin', 'viewer'] as const) {
        const userName = `usr-${a}-${role}`;
        const u = await api(root, 'POST', '/api/v1/users', { userName, role, ...(a === 'mgmt' ? {} : { accountId: id[a] }) });
        assert.equal(u.status, 201, u.text);
        const k = await api(root, 'POST', '/api/v1/keys', { userName });
        assert.equal(k.status, 201, k.text);
        const cred = k.json as Credentials;
        principals.push({ acct: a, role, cred: { accessKeyId: cred.accessKeyId, accessKeySecret: cred.accessKeySecret } });
        owned[a].users.push(userName);
        owned[a].keys.push(cred.accessKeyId);
      }
      const admin = principals.find((p) => p.acct === a && p.role === 'admin') as Principal;
      // The targets of writes: a user with a key and a policy, and a trail that is logging.
      const victim = `usr-${a}-target`;
      assert.equal((await api(admin, 'POST', '/api/v1/users', { userName: victim, role: 'viewer' })).status, 201);
      const vk = await api(admin, 'POST', '/api/v1/keys', { userName: victim });
      owned[a].users.push(victim);
      owned[a].keys.push((vk.json as Credentials).accessKeyId);
      const trail = `trail-${a}`;
      const t = await api(admin, 'POST', '/api/v1/trails', { Name: trail, Destinations: ['local'] });
      assert.equal(t.status, 200, t.text);
      assert.equal((await api(admin, 'POST', `/api/v1/trails/${trail}/start`)).status, 200);
      owned[a].trails.push(trail);
      // Its own cluster, through the gateway: events of its account's.
      assert.equal((await api(admin, 'GET', `/flink/prod-${a}/jobs/overview`)).status, 200);
    }
    const policy = await api(root, 'PUT', '/api/v1/policies/isolation-shared', { document: { Statement: [{ Effect: 'Deny', Action: ['RealtimeCompute:StopJobWithSavepoint'] }] } });
    assert.ok(policy.status < 300, policy.text);
    for (const a of ACCTS) assert.ok((await api(root, 'POST', `/api/v1/users/usr-${a}-target/policies`, { policyName: 'isolation-shared' })).status < 300, 'attached');
    // A running job of team B's, on the Flink every cluster entry fronts.
    jobId = (await uploadAndRunJob(flink.restUrl, flink.jobJar, { programArgs: ['--job-name', 'teamb-isolation', '--rate', '1'] })).jobId;
    await waitForJobState(flink.restUrl, jobId, 'RUNNING', 120_000);
    for (const a of ACCTS) {
      const es = await eventsOf(a);
      assert.ok(es.length > 0, `account ${a} has events`);
      owned[a].events.push(...es.slice(0, 40).map((e) => e.eventId));
    }
  });

  after(async () => {
    if (jobId) await fetch(`${flink.restUrl}/jobs/${jobId}?mode=cancel`, { method: 'PATCH' }).catch(() => undefined);
    await ft?.close();
    await flink?.stop();
    const line = `isolation table: ${counts.apiRoutes} API routes (+${counts.neutralRoutes} account-neutral), ${counts.rpcActions} RPC actions, ${counts.cliCommands} CLI commands, ${counts.gatewayPaths} gateway paths, ${counts.consoleRoutes} console routes; calls: ${JSON.stringify(counts.calls)} by ${principals.length} principals`;
    process.stdout.write(`# ${line}\n`);
  });

  // ---- The API's routes -------------------------------------------------------------------------

  type Case = (p: Principal, victim: Acct) => Promise<void>;
  /** A read: 2xx or a refusal, never another account's things in the answer. */
  const read =
    (path: (v: Acct) => string): Case =>
    async (p, v) => {
      const url = path(v);
      const r = await api(p, 'GET', url);
      const events = (r.json as { Events?: ActionTrailEvent[] } | undefined)?.Events;
      if (Array.isArray(events)) ownEventsOnly(p, events, `GET ${url}`);
      else if (p.acct !== 'mgmt') assert.deepEqual(leaked(p, r.text, url), [], `GET ${url} as ${p.acct} ${p.role} (${r.status})`);
    };
  /**
   * A member's write on another account's thing: refused exactly as on a thing that does not
   * exist (status and code), nothing in the answer of the other account's. `none` is the same call
   * on nothing at all.
   */
  const asIfNone =
    (method: string, path: (v: Acct) => string, none: string, body?: (v: Acct) => unknown, noneBody: unknown = body?.('mgmt')): Case =>
    async (p, v) => {
      if (p.acct === 'mgmt') return; // the management account administers every account
      const url = path(v);
      const r = await api(p, method, url, body?.(v));
      const n = await api(p, method, none, noneBody);
      assert.ok(r.status >= 400 && r.status < 500, `${method} ${url} as ${p.acct} ${p.role} is refused: ${r.status} ${r.text}`);
      assert.deepEqual([r.status, code(r)], [n.status, code(n)], `${method} ${url} as ${p.acct} ${p.role}: as for nothing at all`);
      assert.deepEqual(leaked(p, r.text, url + JSON.stringify(body?.(v) ?? '')), [], `${method} ${url} as ${p.acct} ${p.role}`);
    };
  /** A member's write that only the management account may make: refused, changing nothing. */
  const refused =
    (method: string, path: (v: Acct) => string, body?: (v: Acct) => unknown): Case =>
    async (p, v) => {
      if (p.acct === 'mgmt') return;
      const url = path(v);
      const r = await api(p, method, url, body?.(v));
      assert.equal(r.status, 403, `${method} ${url} as ${p.acct} ${p.role}: ${r.text}`);
      assert.deepEqual(leaked(p, r.text, url + JSON.stringify(body?.(v) ?? '')), [], `${method} ${url} as ${p.acct} ${p.role}`);
    };
  const user = (v: Acct) => `usr-${v}-target`;
  const key = (v: Acct) => owned[v].keys.at(-1) as string;
  const trail = (v: Acct) => `trail-${v}`;
  const event = (v: Acct) => owned[v].events[0] as string;

  const ROUTES: Record<string, Case> = {
    'GET /metrics': read(() => '/metrics'),
    'GET /api/v1/whoami': read(() => '/api/v1/whoami'),
    'GET /api/v1/events': async (p, v) => {
      await read(() => '/api/v1/events?region=*&maxResults=200')(p, v);
      await read((x) => `/api/v1/events?region=*&eventId=${event(x)}`)(p, v);
      if (p.acct !== 'mgmt') assert.equal((await api(p, 'GET', `/api/v1/events?accountId=${id[v]}`)).status, 403, 'naming another account');
    },
    'GET /api/v1/events/histogram': async (p, v) => {
      await read(() => '/api/v1/events/histogram?region=*')(p, v);
      if (p.acct !== 'mgmt') assert.equal((await api(p, 'GET', `/api/v1/events/histogram?accountId=${id[v]}`)).status, 403, 'naming another account');
    },
    'GET /api/v1/events/export': async (p, v) => {
      const r = await api(p, 'GET', '/api/v1/events/export?format=json&region=*');
      if (r.status === 200) ownEventsOnly(p, r.json as ActionTrailEvent[], 'export');
      else assert.deepEqual([r.status, code(r)], [403, 'NoPermission'], r.text);
      if (p.acct !== 'mgmt') assert.equal((await api(p, 'GET', `/api/v1/events/export?format=csv&accountId=${id[v]}`)).status, 403, 'naming another account');
    },
    'POST /api/v1/events': async (p, v) => {
      if (p.acct === 'mgmt') return;
      const marker = `ingest-${p.acct}-${p.role}-${v}`;
      const [e] = (await eventsOf(v)).slice(0, 1);
      const r = await api(p, 'POST', '/api/v1/events', [{ ...e, eventId: randomUUID(), eventName: marker, recipientAccountId: id[v] }]);
      // A viewer may not ingest at all; an admin's record naming another account is rejected, coded.
      if (p.role === 'viewer') assert.deepEqual([r.status, code(r)], [403, 'NoPermission'], r.text);
      else assert.deepEqual((r.json as { rejected?: { code: string }[] }).rejected?.map((x) => x.code), ['FT_ERR_INGEST_FOREIGN_ACCOUNT'], `ingest into another account: ${r.text}`);
      assert.ok(!(await eventsOf(v)).some((x) => x.eventName === marker), 'nothing ingested into it');
    },
    'GET /api/v1/events/:eventId': asIfNone('GET', (v) => `/api/v1/events/${event(v)}`, `/api/v1/events/${NONE}`),
    'GET /api/v1/auth/session': read(() => '/api/v1/auth/session'),
    'GET /api/v1/auth/throttles': read(() => '/api/v1/auth/throttles'),
    'POST /api/v1/auth/unlock': refused('POST', () => '/api/v1/auth/unlock', (v) => ({ identity: user(v) })),
    // Who may list accounts: admins (and auditors, tested in accounts.test.ts), not viewers; a
    // member's list is its own account, the management account's every account.
    'GET /api/v1/accounts': async (p, v) => {
      await read(() => '/api/v1/accounts')(p, v);
      const r = await api(p, 'GET', '/api/v1/accounts');
      if (p.role === 'viewer') {
        assert.deepEqual([r.status, code(r)], [403, 'NoPermission'], `a viewer lists no accounts: ${r.text}`);
      } else {
        const listed = (r.json as { Accounts: { accountId: string }[] }).Accounts.map((a) => a.accountId).sort();
        assert.deepEqual(listed, p.acct === 'mgmt' ? Object.values(id).sort() : [id[p.acct]], `accounts listed to ${p.acct} ${p.role}`);
      }
    },
    'POST /api/v1/accounts': refused('POST', () => '/api/v1/accounts', (v) => ({ name: `${v}-twin` })),
    'DELETE /api/v1/accounts/:id': refused('DELETE', (v) => `/api/v1/accounts/${id[v]}`),
    'GET /api/v1/users': read(() => '/api/v1/users'),
    'POST /api/v1/users': refused('POST', () => '/api/v1/users', (v) => ({ userName: `spy-${v}`, role: 'admin', accountId: id[v] })),
    'PATCH /api/v1/users/:name': asIfNone('PATCH', (v) => `/api/v1/users/${user(v)}`, `/api/v1/users/${NONE}`, () => ({ disabled: true })),
    'DELETE /api/v1/users/:name': asIfNone('DELETE', (v) => `/api/v1/users/${user(v)}`, `/api/v1/users/${NONE}`),
    'POST /api/v1/users/:name/policies': asIfNone('POST', (v) => `/api/v1/users/${user(v)}/policies`, `/api/v1/users/${NONE}/policies`, () => ({ policyName: 'isolation-shared' })),
    'DELETE /api/v1/users/:name/policies/:policy': asIfNone('DELETE', (v) => `/api/v1/users/${user(v)}/policies/isolation-shared`, `/api/v1/users/${NONE}/policies/isolation-shared`),
    'GET /api/v1/keys': read(() => '/api/v1/keys'),
    'POST /api/v1/keys': asIfNone('POST', () => '/api/v1/keys', '/api/v1/keys', (v) => ({ userName: user(v) }), { userName: NONE }),
    'PATCH /api/v1/keys/:id': asIfNone('PATCH', (v) => `/api/v1/keys/${key(v)}`, `/api/v1/keys/LTAI${NONE}0000`, () => ({ status: 'Inactive' })),
    'DELETE /api/v1/keys/:id': asIfNone('DELETE', (v) => `/api/v1/keys/${key(v)}`, `/api/v1/keys/LTAI${NONE}0000`),
    'POST /api/v1/keys/:id/rotate': asIfNone('POST', (v) => `/api/v1/keys/${key(v)}/rotate`, `/api/v1/keys/LTAI${NONE}0000/rotate`),
    'GET /api/v1/policies': read(() => '/api/v1/policies'),
    'PUT /api/v1/policies/:name': refused('PUT', () => '/api/v1/policies/isolation-shared', () => ({ document: { Statement: [{ Effect: 'Allow', Action: ['*'] }] } })),
    'DELETE /api/v1/policies/:name': refused('DELETE', () => '/api/v1/policies/isolation-shared'),
    'GET /api/v1/console/catalog': read(() => '/api/v1/console/catalog'),
    'GET /api/v1/clusters': read(() => '/api/v1/clusters'),
    'GET /api/v1/regions': read(() => '/api/v1/regions'),
    'GET /api/v1/regions/global-events-storage': read(() => '/api/v1/regions/global-events-storage'),
    'PUT /api/v1/regions/global-events-storage': refused('PUT', () => '/api/v1/regions/global-events-storage', () => ({ StorageRegion: 'local' })),
    'GET /api/v1/trails': read(() => '/api/v1/trails'),
    // Trail names are unique across accounts (ActionTrail's are per account): taking another
    // account's name is 409, the one thing a member learns — that the name is in use.
    'POST /api/v1/trails': async (p, v) => {
      if (p.acct === 'mgmt') return;
      const r = await api(p, 'POST', '/api/v1/trails', { Name: trail(v), Destinations: ['local'] });
      assert.ok(r.status === 409 || r.status === 403, `another account's trail name: ${r.text}`);
      assert.deepEqual(leaked(p, r.text, trail(v)), [], 'nothing else of it');
      const org = await api(p, 'POST', '/api/v1/trails', { Name: `org-${p.acct}-${p.role}`, Destinations: ['local'], IsOrganizationTrail: true });
      assert.equal(org.status, 403, `a member makes no multi-account trail: ${org.text}`);
    },
    'GET /api/v1/trails/:name': asIfNone('GET', (v) => `/api/v1/trails/${trail(v)}`, `/api/v1/trails/${NONE}`),
    'PATCH /api/v1/trails/:name': asIfNone('PATCH', (v) => `/api/v1/trails/${trail(v)}`, `/api/v1/trails/${NONE}`, () => ({ EventRW: 'Read' })),
    'DELETE /api/v1/trails/:name': asIfNone('DELETE', (v) => `/api/v1/trails/${trail(v)}`, `/api/v1/trails/${NONE}`),
    'POST /api/v1/trails/:name/start': asIfNone('POST', (v) => `/api/v1/trails/${trail(v)}/start`, `/api/v1/trails/${NONE}/start`),
    'POST /api/v1/trails/:name/stop': asIfNone('POST', (v) => `/api/v1/trails/${trail(v)}/stop`, `/api/v1/trails/${NONE}/stop`),
    'GET /api/v1/trails/:name/status': asIfNone('GET', (v) => `/api/v1/trails/${trail(v)}/status`, `/api/v1/trails/${NONE}/status`),
    'GET /api/v1/trails/:name/dead-letters': asIfNone('GET', (v) => `/api/v1/trails/${trail(v)}/dead-letters`, `/api/v1/trails/${NONE}/dead-letters`),
    'GET /api/v1/trails/:name/digest-public-keys': asIfNone('GET', (v) => `/api/v1/trails/${trail(v)}/digest-public-keys`, `/api/v1/trails/${NONE}/digest-public-keys`),
    'POST /api/v1/trails/:name/history-jobs': asIfNone('POST', (v) => `/api/v1/trails/${trail(v)}/history-jobs`, `/api/v1/trails/${NONE}/history-jobs`),
    'GET /api/v1/trails/:name/history-jobs': asIfNone('GET', (v) => `/api/v1/trails/${trail(v)}/history-jobs`, `/api/v1/trails/${NONE}/history-jobs`),
    'POST /api/v1/trail-digest-keys/rotate': refused('POST', () => '/api/v1/trail-digest-keys/rotate'),
    'POST /k8s-audit': async (p, v) => {
      if (p.acct === 'mgmt') return;
      const marker = `k8s-${p.acct}-${p.role}-${v}`;
      const auditEvent = {
        kind: 'Event', apiVersion: 'audit.k8s.io/v1', level: 'Metadata', auditID: `00000000-0000-4000-8000-${Math.random().toString(16).slice(2, 14).padEnd(12, '0')}`,
        stage: 'ResponseComplete', requestURI: `/apis/flink.apache.org/v1beta1/namespaces/${marker}/flinkdeployments/x`, verb: 'delete',
        user: { username: marker }, objectRef: { resource: 'flinkdeployments', namespace: marker, name: 'x', apiGroup: 'flink.apache.org', apiVersion: 'v1beta1' },
        responseStatus: { code: 200 }, requestReceivedTimestamp: new Date().toISOString(), stageTimestamp: new Date().toISOString(),
      };
      const r = await api(p, 'POST', `/k8s-audit?cluster=prod-${v}`, { kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: [auditEvent] });
      assert.deepEqual([r.status, code(r)], [403, 'NoPermission'], `a member delivers no Kubernetes audit events for another account's cluster: ${r.text}`);
      if (p.role === 'admin') assert.match(r.text, /not in your account/, 'refused for the account, not the role');
      assert.ok(!(await eventsOf(v)).some((e) => JSON.stringify(e).includes(marker)), 'none recorded in it');
    },
  };

  /** The API's routes as Fastify registered them: "METHOD /path" (HEAD is GET's). */
  function registeredRoutes(): string[] {
    const out = new Set<string>();
    const stack: string[] = [];
    for (const line of ft.app.api.printRoutes({ commonPrefix: false }).split('\n')) {
      const m = /^([│ ]*)(?:[├└]── )(.*?) \(([A-Z, ]+)\)/.exec(line);
      if (!m) continue;
      const depth = (m[1] as string).length / 4;
      stack.length = depth;
      stack.push(m[2] as string);
      const path = stack.map((s, i) => (i === 0 ? s : s.startsWith('/') ? s : `/${s}`)).join('').replace(/^\/\//, '/');
      for (const method of (m[3] as string).split(', ')) if (method !== 'HEAD') out.add(`${method} ${path}`);
    }
    return [...out].sort();
  }
  /** The console's pages (the SPA's HTML, served for each client-side route): loaded below. */
  const isConsole = (r: string) => ['GET /', 'GET /*', ...CONSOLE_PAGES.flatMap((pg) => [`GET ${pg}`, `GET ${pg}/*`])].includes(r);

  it('the table covers every API route, RPC action and CLI command there is (or says why one is account-neutral)', () => {
    const routes = registeredRoutes();
    assert.ok(routes.includes('GET /api/v1/trails/:name/status') && routes.includes('DELETE /api/v1/users/:name/policies/:policy'), `the routes were read: ${routes.join(', ')}`);
    const missing = routes.filter((r) => !(r in ROUTES) && !(r in NEUTRAL_ROUTES) && !isConsole(r));
    assert.deepEqual(missing, [], 'routes without an isolation case: add one to ROUTES (or to NEUTRAL_ROUTES with the reason)');
    const stale = Object.keys(ROUTES).filter((r) => !routes.includes(r));
    assert.deepEqual(stale, [], 'cases of routes that are gone');
    const actions = Object.keys(ACTIONS).filter((a) => !(a in RPC));
    assert.deepEqual(actions, [], 'RPC actions without an isolation case');
    const commands = apiCommands();
    assert.deepEqual(commands.filter((c) => !(c in CLI)), [], 'CLI commands that call the API without an isolation case');
    assert.deepEqual(Object.keys(CLI).filter((c) => !commands.includes(c)), [], 'cases of CLI commands that are gone');
    counts.apiRoutes = routes.filter((r) => r in ROUTES).length;
    counts.neutralRoutes = routes.filter((r) => r in NEUTRAL_ROUTES).length;
    counts.consoleRoutes = routes.filter(isConsole).length;
  });

  it('no API route shows or reaches another account\'s things to a member; the management account sees every account', async () => {
    const shared = async () => {
      const policies = (await api(root, 'GET', '/api/v1/policies')).json as Record<string, unknown>;
      const region = (await api(root, 'GET', '/api/v1/regions/global-events-storage')).json as Record<string, unknown>;
      delete policies['RequestId'];
      delete region['RequestId'];
      return { policies, region, accounts: ((await api(root, 'GET', '/api/v1/accounts')).json as { Accounts: unknown }).Accounts };
    };
    const before = { users: await usersState(), keys: await keysState(), trails: await Promise.all(ACCTS.map(trailState)), shared: await shared() };
    for (const [route, run] of Object.entries(ROUTES)) {
      for (const p of principals) for (const v of others(p.acct)) await run(p, v);
      covered.add(route);
    }
    // Nothing changed: users, keys, trails (logging still), accounts, policies, the storage region.
    assert.deepEqual(await usersState(), before.users, 'users and their policies unchanged');
    assert.deepEqual(await keysState(), before.keys, 'keys unchanged');
    assert.deepEqual(await Promise.all(ACCTS.map(trailState)), before.trails, 'trails unchanged and logging');
    assert.deepEqual(await shared(), before.shared, 'accounts, policies and the storage region unchanged');
    // The search would have found them: the management account's admin sees every account's.
    const mgmtAdmin = principals.find((p) => p.acct === 'mgmt' && p.role === 'admin') as Principal;
    for (const path of ['/api/v1/users', '/api/v1/keys', '/api/v1/trails', '/api/v1/events?region=*&maxResults=200', '/api/v1/accounts']) {
      const r = await api(mgmtAdmin, 'GET', path);
      for (const m of MEMBERS) assert.ok(needlesOf(m).some((n) => r.text.includes(n)), `the management account sees ${m}'s in ${path}`);
    }
  });

  // ---- ActionTrail RPC ----------------------------------------------------------------------------

  const rpcAsIfNone =
    (action: string, param: string, extra: Record<string, string> = {}) =>
    async (p: Principal, v: Acct) => {
      if (p.acct === 'mgmt') return;
      const r = await rpc(p, action, { [param]: trail(v), ...extra });
      const n = await rpc(p, action, { [param]: NONE, ...extra });
      assert.ok(r.status >= 400, `${action} of another account's trail as ${p.acct} ${p.role}: ${r.text}`);
      assert.deepEqual([r.status, code(r)], [n.status, code(n)], `${action} as ${p.acct} ${p.role}: as for nothing at all`);
      assert.deepEqual(leaked(p, r.text, trail(v)), [], `${action} as ${p.acct} ${p.role}`);
    };
  const rpcRead = (action: string, params: (v: Acct) => Record<string, string> = () => ({})) => async (p: Principal, v: Acct) => {
    const ps = params(v);
    const r = await rpc(p, action, ps);
    const events = (r.json as { Events?: ActionTrailEvent[] }).Events;
    if (Array.isArray(events)) ownEventsOnly(p, events, action);
    else if (p.acct !== 'mgmt') assert.deepEqual(leaked(p, r.text, JSON.stringify(ps)), [], `${action} as ${p.acct} ${p.role} (${r.status})`);
  };
  const RPC: Record<string, (p: Principal, v: Acct) => Promise<void>> = {
    LookupEvents: async (p, v) => {
      await rpcRead('LookupEvents', () => ({ MaxResults: '50', 'LookupAttribute.1.Key': 'Region', 'LookupAttribute.1.Value': '*' }))(p, v);
      await rpcRead('LookupEvents', (x) => ({ 'LookupAttribute.1.Key': 'EventId', 'LookupAttribute.1.Value': event(x) }))(p, v);
    },
    CreateTrail: async (p, v) => {
      if (p.acct === 'mgmt') return;
      const r = await rpc(p, 'CreateTrail', { Name: trail(v), 'Destinations.1': 'local' });
      assert.ok(r.status >= 400, `CreateTrail with another account's trail name: ${r.text}`);
      assert.deepEqual(leaked(p, r.text, trail(v)), [], 'nothing else of it');
    },
    UpdateTrail: rpcAsIfNone('UpdateTrail', 'Name', { EventRW: 'Read' }),
    DeleteTrail: rpcAsIfNone('DeleteTrail', 'Name'),
    DescribeTrails: rpcRead('DescribeTrails', (v) => ({ NameList: trail(v), IncludeOrganizationTrail: 'true' })),
    GetTrailStatus: rpcAsIfNone('GetTrailStatus', 'Name'),
    StartLogging: rpcAsIfNone('StartLogging', 'Name'),
    StopLogging: rpcAsIfNone('StopLogging', 'Name'),
    CreateDeliveryHistoryJob: rpcAsIfNone('CreateDeliveryHistoryJob', 'TrailName'),
    ListDeliveryHistoryJobs: async (p, v) => {
      await rpcRead('ListDeliveryHistoryJobs')(p, v);
      await rpcAsIfNone('ListDeliveryHistoryJobs', 'TrailName')(p, v);
    },
    DescribeRegions: rpcRead('DescribeRegions'),
    GetGlobalEventsStorageRegion: rpcRead('GetGlobalEventsStorageRegion'),
    UpdateGlobalEventsStorageRegion: async (p) => {
      if (p.acct === 'mgmt') return;
      const r = await rpc(p, 'UpdateGlobalEventsStorageRegion', { StorageRegion: 'local' });
      assert.equal(r.status, 403, `a member changes no storage region: ${r.text}`);
    },
  };

  it('no ActionTrail RPC action shows or reaches another account\'s things to a member', async () => {
    const before = await Promise.all(ACCTS.map(trailState));
    for (const run of Object.values(RPC)) {
      for (const p of principals) for (const v of others(p.acct)) await run(p, v);
      counts.rpcActions++;
    }
    assert.deepEqual(await Promise.all(ACCTS.map(trailState)), before, 'trails unchanged and logging');
  });

  // ---- Gateway ------------------------------------------------------------------------------------

  it("no gateway path reaches another account's cluster: 403 NoPermission, Flink never sees it, a running job keeps running", async () => {
    const paths: [string, (p: Principal, v: Acct) => Promise<void>][] = [
      ['GET /flink/<cluster>/jobs/overview', async (p, v) => {
        const r = await http(`${ft.info.apiUrl}/flink/prod-${v}/jobs/overview`, p.cred, 'GET', undefined, 'gateway');
        if (p.acct === 'mgmt') return assert.equal(r.status, 200, 'the management account reaches every cluster');
        assert.equal(r.status, 403, r.text);
        assert.equal(code(r), 'NoPermission');
        assert.ok(!r.text.includes(jobId), 'no job of Flink in the answer');
      }],
      ['PATCH /flink/<cluster>/jobs/<id>?mode=cancel', async (p, v) => {
        if (p.acct === 'mgmt') return;
        for (const job of [jobId, 'ffffffffffffffffffffffffffffffff']) {
          const r = await http(`${ft.info.apiUrl}/flink/prod-${v}/jobs/${job}?mode=cancel`, p.cred, 'PATCH', undefined, 'gateway');
          assert.deepEqual([r.status, code(r)], [403, 'NoPermission'], r.text);
        }
      }],
      ['GET <dedicated listener>/jobs/overview', async (p, v) => {
        const r = await http(`${ft.info.clusters[`prod-${v}`]!.gatewayUrl}jobs/overview`, p.cred, 'GET', undefined, 'gateway');
        if (p.acct === 'mgmt') return assert.equal(r.status, 200, 'the management account reaches every cluster');
        assert.deepEqual([r.status, code(r)], [403, 'NoPermission'], r.text);
      }],
      ['PATCH <dedicated listener>/jobs/<id>?mode=cancel', async (p, v) => {
        if (p.acct === 'mgmt') return;
        const r = await http(`${ft.info.clusters[`prod-${v}`]!.gatewayUrl}jobs/${jobId}?mode=cancel`, p.cred, 'PATCH', undefined, 'gateway');
        assert.deepEqual([r.status, code(r)], [403, 'NoPermission'], r.text);
      }],
      ...(withSql()
        ? ([
            ['POST /flink/<sql gateway>/v1/sessions', async (p: Principal, v: Acct) => {
              if (p.acct === 'mgmt') return;
              const r = await http(`${ft.info.apiUrl}/flink/sql-${v}/v1/sessions`, p.cred, 'POST', {}, 'gateway');
              assert.deepEqual([r.status, code(r)], [403, 'NoPermission'], r.text);
            }],
            ['GET /flink/<sql gateway>/v1/info', async (p: Principal, v: Acct) => {
              if (p.acct === 'mgmt') return;
              const r = await http(`${ft.info.apiUrl}/flink/sql-${v}/v1/info`, p.cred, 'GET', undefined, 'gateway');
              assert.deepEqual([r.status, code(r)], [403, 'NoPermission'], r.text);
            }],
          ] as [string, (p: Principal, v: Acct) => Promise<void>][])
        : []),
    ];
    for (const [, run] of paths) {
      for (const p of principals) for (const v of others(p.acct)) await run(p, v);
      counts.gatewayPaths++;
    }
    // Its own cluster, on the other hand, answers every member.
    for (const p of principals) assert.equal((await http(`${ft.info.apiUrl}/flink/prod-${p.acct}/jobs/overview`, p.cred, 'GET', undefined, 'gateway')).status, 200, 'its own cluster');
    const job = (await (await fetch(`${flink.restUrl}/jobs/${jobId}`)).json()) as { state: string };
    assert.equal(job.state, 'RUNNING', "team B's job kept running");
  });

  // ---- CLI ----------------------------------------------------------------------------------------

  /** The CLI's commands that call the API (they take --endpoint), by their full name. */
  function apiCommands(): string[] {
    const out: string[] = [];
    const walk = (c: Command, prefix: string[]) => {
      for (const sub of c.commands) {
        const name = [...prefix, sub.name()];
        if (sub.commands.length) walk(sub, name);
        else if (sub.options.some((o) => o.long === '--endpoint')) out.push(name.join(' '));
      }
    };
    walk(program(), []);
    return out.sort();
  }
  /** Output with request ids and the name asked about left out: what must be the same for "nothing". */
  const normal = (s: string, name: string) => s.split(name).join('<name>').replace(/[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}/gi, '<id>');
  const cliAsIfNone = (args: (name: string) => string[]) => async (p: Principal, v: Acct) => {
    if (p.acct === 'mgmt') return;
    const r = await cli([...args(trail(v)), ...asCli(p)]);
    const n = await cli([...args(NONE), ...asCli(p)]);
    assert.notEqual(r.code, 0, `${args(trail(v)).join(' ')} as ${p.acct} ${p.role}: ${r.out}`);
    assert.deepEqual([r.code, normal(r.out, trail(v))], [n.code, normal(n.out, NONE)], `${args(trail(v)).join(' ')} as ${p.acct} ${p.role}: as for nothing at all`);
    assert.deepEqual(leaked(p, r.out, trail(v)), [], 'nothing of it');
  };
  const cliRead = (args: string[]) => async (p: Principal) => {
    const r = await cli([...args, ...asCli(p)]);
    if (p.acct !== 'mgmt') assert.deepEqual(leaked(p, r.out, args.join(' ')), [], `${args.join(' ')} as ${p.acct} ${p.role} (exit ${r.code})`);
    return r;
  };
  const cliRefused = (args: string[]) => async (p: Principal) => {
    if (p.acct === 'mgmt') return;
    const r = await cli([...args, ...asCli(p)]);
    assert.notEqual(r.code, 0, `${args.join(' ')} as ${p.acct} ${p.role}: ${r.out}`);
  };
  const CLI: Record<string, (p: Principal, v: Acct) => Promise<unknown>> = {
    'lookup-events': async (p) => {
      const r = await cli(['lookup-events', '--all-regions', '--max-results', '200', '--output', 'json', ...asCli(p)]);
      // A viewer's role may not look events up; who may sees its own account's only.
      if (r.code !== 0) return assert.match(r.out, /NoPermission/);
      ownEventsOnly(p, (JSON.parse(r.out) as { Events: ActionTrailEvent[] }).Events, 'lookup-events');
    },
    'trails create': async (p, v) => {
      if (p.acct === 'mgmt') return;
      const r = await cli(['trails', 'create', '--name', trail(v), '--destination', 'local', ...asCli(p)]);
      assert.notEqual(r.code, 0, r.out);
      assert.deepEqual(leaked(p, r.out, trail(v)), [], 'nothing else of it');
    },
    'trails update': cliAsIfNone((n) => ['trails', 'update', n, '--event-rw', 'Read']),
    'trails delete': cliAsIfNone((n) => ['trails', 'delete', n]),
    'trails describe': (p, v) => cliRead(['trails', 'describe', trail(v), '--output', 'json'])(p),
    'trails status': cliAsIfNone((n) => ['trails', 'status', n]),
    'trails dead-letters': cliAsIfNone((n) => ['trails', 'dead-letters', n]),
    'trails start': cliAsIfNone((n) => ['trails', 'start', n]),
    'trails stop': cliAsIfNone((n) => ['trails', 'stop', n]),
    'trails backfill': async (p, v) => {
      await cliAsIfNone((n) => ['trails', 'backfill', n])(p, v);
      await cliAsIfNone((n) => ['trails', 'backfill', n, '--list'])(p, v);
    },
    'trails public-keys': cliAsIfNone((n) => ['trails', 'public-keys', n]),
    'trails rotate-key': cliRefused(['trails', 'rotate-key']),
    'validate-logs': cliAsIfNone((n) => ['validate-logs', '--trail', n, '--start-time', new Date(Date.now() - 3600_000).toISOString()]),
    'auth throttles': (p) => cliRead(['auth', 'throttles', '--output', 'json'])(p),
    'auth unlock': (p, v) => cliRefused(['auth', 'unlock', '--identity', user(v)])(p),
    'regions list': (p) => cliRead(['regions', 'list', '--output', 'json'])(p),
    'regions storage': (p) => cliRead(['regions', 'storage', '--output', 'json'])(p),
    'regions set-storage': cliRefused(['regions', 'set-storage', 'local']),
  };

  it("no CLI command shows or reaches another account's things to a member", async () => {
    const before = await Promise.all(ACCTS.map(trailState));
    for (const run of Object.values(CLI)) {
      for (const p of principals) for (const v of others(p.acct)) await run(p, v);
      counts.cliCommands++;
    }
    assert.deepEqual(await Promise.all(ACCTS.map(trailState)), before, 'trails unchanged and logging');
    const local: string[] = [];
    const walk = (c: Command, prefix: string[]) => {
      for (const sub of c.commands) {
        if (sub.commands.length) walk(sub, [...prefix, sub.name()]);
        else if (!sub.options.some((o) => o.long === '--endpoint')) local.push([...prefix, sub.name()].join(' '));
      }
    };
    walk(program(), []);
    process.stdout.write(`# CLI commands not through the API (${LOCAL_COMMANDS_REASON}): ${local.join(', ')}\n`);
  });

  // ---- Console ------------------------------------------------------------------------------------

  const consoleBuilt = existsSync(join(REPO, 'console', 'dist', 'index.html'));
  it('the console serves its pages to every principal without another account\'s data in them', async () => {
    // Every page, and deep links naming another account's event and trail.
    for (const path of ['/', ...CONSOLE_PAGES, `/events/${owned.teamb.events[0]}`, '/trails/trail-teamb', `/accounts/${id.teamb}`]) {
      for (const p of principals) {
        const r = await http(`${ft.info.apiUrl}${path}`, p.cred, 'GET', undefined, 'console');
        // Without a built console (console/dist) the pages answer 503; with one, the SPA's HTML.
        assert.equal(r.status, consoleBuilt ? 200 : 503, `${path}: ${r.text.slice(0, 200)}`);
        if (p.acct !== 'mgmt') assert.deepEqual(leaked(p, r.text, path), [], `console ${path} as ${p.acct} ${p.role}`);
      }
    }
  });
});
