/**
 * The console through nginx round-robin in front of two FlinkTrail instances on one PostgreSQL
 * (issue 15 acceptance: "put two instances behind nginx round-robin in a test and use the
 * console through it"). A real headless Chromium signs in with a password, lists events (and
 * loads more pages of them), opens the Flink dashboard through the gateway, creates a user
 * and AccessKeys in the Users & keys page, and signs out — while nginx hands consecutive
 * requests to alternate instances (one worker: strictly in turn), so the session cookie, its
 * CSRF token and the page tokens one instance issued are honoured by the other: they live in
 * PostgreSQL (src/stores.ts). Every response says which instance served it (X-Upstream,
 * scripts/it/nginx.sh), and the test checks both did, also for the writes.
 *
 * Then: the signed-out session is refused by both instances directly, and both answer
 * LookupEvents for what was done through the console (ConsoleSignin, CreateUser,
 * CreateAccessKey, ConsoleSignout) with the same events.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { BrowserContext, Page, Response } from 'playwright-core';
import { signIn, startBrowser, type TestBrowser } from '../../helpers/browser.js';
import { newEvents } from '../../helpers/events.js';
import { startFlink, type FlinkCluster } from '../../helpers/flink.js';
import { basic, lookup, makeKey, startInProcess, tempDir, waitForEvents, type Credentials, type InProcess } from '../../helpers/flinktrail.js';
import { startNginx, UPSTREAM_HEADER, type NginxProxy } from '../../helpers/nginx.js';
import { startPostgres, type PostgresServer } from '../../helpers/postgres.js';

const USER = 'admin';
const PASSWORD = 'admin-password-1';
/** Events ingested for the Event Query: three console pages (50 each) of them. */
const CLUSTER = 'nginx-rr';
const INGESTED = 120;

/** One response the browser got through nginx. */
interface Seen {
  method: string;
  path: string;
  status: number;
  upstream: string;
}

describe('the console through nginx round-robin over two instances on one PostgreSQL', { timeout: 240_000 }, () => {
  let postgres: PostgresServer | undefined;
  let admin: pg.Client | undefined;
  const database = `ft_nginx_${randomBytes(5).toString('hex')}`;
  let flink: FlinkCluster | undefined;
  let a: InProcess | undefined;
  let b: InProcess | undefined;
  let nginx: NginxProxy | undefined;
  let browser: TestBrowser | undefined;
  let ctx: BrowserContext | undefined;
  let root: Credentials;
  const seen: Seen[] = [];
  const pageErrors: string[] = [];
  let since = '';
  /** AccessKeys created through the console. */
  let keysMade = 0;

  before(async () => {
    since = new Date(Date.now() - 60_000).toISOString();
    [postgres, flink, browser] = await Promise.all([startPostgres(), startFlink(), startBrowser()]);
    admin = new pg.Client({ connectionString: postgres.url });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    const storeUrl = postgres.url.replace(/^postgres:\/\/postgres@\/[^?]+/, `postgres://postgres@/${database}`);
    const dirA = tempDir('ft-nginx-a-');
    // Made in PostgreSQL (as `keys create` with store.url does): one user for both instances.
    root = await makeKey(dirA, USER, 'admin', PASSWORD, undefined, { storeUrl });
    const extra = { store: { url: storeUrl }, clusters: [{ name: 'default', url: flink.restUrl, listen: { port: 0 } }] };
    [a, b] = await Promise.all([startInProcess(flink.restUrl, extra, dirA), startInProcess(flink.restUrl, extra, tempDir('ft-nginx-b-'))]);
    nginx = await startNginx([a.info.apiUrl, b.info.apiUrl]);

    // Something for the Event Query to list, over more than one page (in the home region, which it shows).
    const batch = newEvents(INGESTED, { start: Date.now() - 30_000, stepMs: 100 }).map((e) => ({ ...e, acsRegion: 'local', additionalEventData: { ...e.additionalEventData, cluster: CLUSTER } }));
    const ingested = await fetch(`${a.info.apiUrl}/api/v1/events`, { method: 'POST', headers: { authorization: basic(root), 'content-type': 'application/json' }, body: JSON.stringify(batch) });
    assert.deepEqual(await ingested.json(), { accepted: INGESTED, duplicates: 0, rejected: [] });
    await waitForEvents(b.info.apiUrl, root, { cluster: CLUSTER, startTime: since }, (es) => es.length === INGESTED);

    ctx = await browser.newContext();
    ctx.on('response', (r: Response) => {
      const url = new URL(r.url());
      if (url.origin !== nginx?.url) return;
      seen.push({ method: r.request().method(), path: url.pathname + url.search, status: r.status(), upstream: r.headers()[UPSTREAM_HEADER] ?? '' });
    });
  });

  after(async () => {
    await ctx?.close().catch(() => undefined);
    await browser?.close();
    await nginx?.stop();
    await a?.close();
    await b?.close();
    await admin?.query(`DROP DATABASE IF EXISTS ${database}`).catch(() => undefined);
    await admin?.end();
    await flink?.stop();
    await postgres?.stop();
  });

  const hostOf = (i: InProcess | undefined) => new URL(i?.info.apiUrl ?? 'http://none').host;
  const both = () => [hostOf(a), hostOf(b)].sort();
  const upstreamsOf = (rs: Seen[]) => [...new Set(rs.map((r) => r.upstream))].sort();
  const describeSeen = (rs: Seen[]) => rs.map((r) => `${r.method} ${r.path} → ${r.status} by ${r.upstream}`).join('\n');

  it('signs in, lists events, opens the Flink dashboard, creates a user and keys and signs out, with requests spread over both instances', async () => {
    const c = ctx as BrowserContext;
    const base = (nginx as NginxProxy).url;
    const page: Page = await c.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));

    // Sign in with the password through nginx.
    await signIn(page, base, USER, PASSWORD);
    const login = seen.filter((r) => r.path === '/api/v1/auth/login');
    assert.equal(login.length, 1);
    assert.equal(login[0]?.status, 200);
    const signedInAt = seen.findIndex((r) => r.path === '/api/v1/auth/login');

    // The Event Query: the page and its histogram, then "Load 50 more" twice. Nothing else runs
    // in between, so consecutive pages go to alternate instances: the token one issued is read by the other.
    await page.goto(`${base}/events?cluster=${CLUSTER}`);
    const rows = page.locator('.events-table tbody tr');
    await rows.nth(49).waitFor();
    await page.getByRole('button', { name: 'Load 50 more' }).click();
    await rows.nth(99).waitFor();
    await page.getByRole('button', { name: 'Load 50 more' }).click();
    await rows.nth(INGESTED - 1).waitFor();
    assert.equal(await rows.count(), INGESTED);
    const pages = seen.filter((r) => r.path.startsWith(`/api/v1/events?cluster=${CLUSTER}&`)).slice(-3);
    assert.deepEqual(
      pages.map((r) => [r.path.includes('nextToken='), r.status]),
      [[false, 200], [true, 200], [true, 200]],
      describeSeen(pages),
    );
    assert.ok(pages.slice(1).some((r, i) => r.upstream !== pages[i]?.upstream), `a page token read by the instance that did not issue it:\n${describeSeen(pages)}`);

    // The Flink dashboard through the gateway, signed in by the console session.
    await page.goto(`${base}/clusters`);
    await page.locator('[data-cluster=default]').getByRole('link', { name: 'Open Flink UI' }).click();
    await page.waitForURL(`${base}/flink/default/**`);
    await page.getByText('Running Jobs').first().waitFor();
    const flinkRest = () => seen.filter((r) => /^\/flink\/default\/(overview|jobs\/overview|config)\b/.test(r.path));
    // The dashboard polls: wait until both instances have answered its REST calls.
    for (let i = 0; i < 100 && upstreamsOf(flinkRest()).length < 2; i++) await page.waitForTimeout(100);
    assert.deepEqual(upstreamsOf(flinkRest()), both(), describeSeen(flinkRest()));
    assert.ok(flinkRest().every((r) => r.status === 200), describeSeen(flinkRest()));

    // Users & keys (three API calls per load): a user, then AccessKeys for it until the writes
    // (each checked against the session's CSRF token) were served by both instances.
    await page.goto(`${base}/access`);
    await page.getByLabel('User name', { exact: true }).fill('rr-viewer');
    await page.getByLabel('Role', { exact: true }).selectOption('viewer');
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.locator('tr[data-user="rr-viewer"]').waitFor();
    await page.getByRole('tab', { name: /AccessKeys/ }).click();
    const writes = () => seen.filter((r) => r.method !== 'GET' && (r.path === '/api/v1/users' || r.path === '/api/v1/keys'));
    const keys: Credentials[] = [];
    for (let i = 0; i < 4 && (i < 1 || upstreamsOf(writes()).length < 2); i++) {
      await page.getByLabel('User', { exact: true }).selectOption('rr-viewer');
      await page.getByRole('button', { name: 'Create AccessKey' }).click();
      const secretBox = page.locator('.notice-secret');
      await secretBox.waitFor();
      const key = { accessKeyId: (await secretBox.locator('dd code').first().textContent()) as string, accessKeySecret: (await page.getByTestId('key-secret').textContent()) as string };
      keys.push(key);
      // Its row shows once all three lists were read again: nothing of this page is in flight.
      await page.locator(`tr[data-key="${key.accessKeyId}"]`).waitFor();
      await page.getByRole('button', { name: 'I have stored it' }).click();
      // A write and the three reads after it are four requests: to let the next write go to the
      // other instance, one more request from the console's page (its session, as the app asks).
      const status = await page.evaluate(() => fetch('/api/v1/auth/session').then((r) => r.status));
      assert.equal(status, 200);
    }
    keysMade = keys.length;
    assert.deepEqual(upstreamsOf(writes()), both(), describeSeen(writes()));
    assert.ok(writes().every((r) => r.status === 201), describeSeen(writes()));
    for (const key of keys) {
      for (const i of [a, b]) {
        const res = await fetch(`${i?.info.apiUrl ?? ''}/api/v1/auth/session`, { headers: { authorization: basic(key) } });
        assert.equal(res.status, 200, `key ${key.accessKeyId} made through the console works at ${hostOf(i)}`);
      }
    }

    // While signed in, every request through nginx was answered by both instances alike: none refused.
    const signedIn = seen.slice(signedInAt);
    assert.deepEqual(upstreamsOf(signedIn), both());
    const apiCalls = signedIn.filter((r) => r.path.startsWith('/api/'));
    assert.deepEqual(upstreamsOf(apiCalls), both());
    assert.deepEqual(signedIn.filter((r) => r.status >= 400), [], 'no request was refused or failed');

    // Sign out through the console: the session ends in PostgreSQL, for both instances.
    const cookie = (await c.cookies()).find((k) => k.name === 'ft_session');
    assert.ok(cookie, 'a session cookie while signed in');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
    assert.equal(seen.filter((r) => r.path === '/api/v1/auth/logout').map((r) => r.status).join(), '200');
    for (const i of [a, b]) {
      const res = await fetch(`${i?.info.apiUrl ?? ''}/api/v1/auth/session`, { headers: { cookie: `ft_session=${cookie.value}` } });
      assert.equal(res.status, 401, `the ended session at ${hostOf(i)}`);
    }
    assert.deepEqual(pageErrors, []);
    await page.close();
  });

  it('both instances answer LookupEvents for what was done through the console with the same events', async () => {
    const expected: Record<string, number> = { ConsoleSignin: 1, CreateUser: 1, CreateAccessKey: keysMade, ConsoleSignout: 1 };
    assert.ok(keysMade > 0, 'the console test ran first');
    for (const [eventName, n] of Object.entries(expected)) {
      const q = { eventName, user: USER, startTime: since };
      const viaA = await waitForEvents(a?.info.apiUrl ?? '', root, q, (es) => es.length === n);
      const viaB = (await lookup(b?.info.apiUrl ?? '', root, { ...q, maxResults: '200' })).Events;
      assert.deepEqual(viaB, viaA, eventName);
      for (const e of viaA) {
        assert.equal(e.userIdentity.userName, USER);
        assert.equal(e.additionalEventData.outcome, 'success', `${eventName}: ${JSON.stringify(e)}`);
      }
      if (eventName === 'CreateUser' || eventName === 'CreateAccessKey') assert.ok(viaA.every((e) => e.eventType === 'ConsoleOperation'), eventName);
    }
  });
});
