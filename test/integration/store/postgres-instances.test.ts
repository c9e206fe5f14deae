/**
 * Several FlinkTrail instances on one PostgreSQL (issue 15 item 2, the identity half): two
 * in-process apps with data directories of their own share one database (a database of this
 * test's own on the server from scripts/it/postgres.sh or FLINKTRAIL_TEST_POSTGRES_URL).
 *
 * What holds across them: a key made through one signs in at the other; a console session made
 * through one is served, and ended, through the other; a key disabled through one is refused by
 * the other once the directory's cache bound (DIRECTORY_CACHE_MS) has passed; a page token one
 * issued is read by the other (one HMAC key, in PostgreSQL's meta); both answer the same query
 * with the same events; an address guessing a password through one waits at the other (shared
 * sign-in throttle); the global events storage region changed through one is the other's within
 * its cache bound (STORAGE_REGION_CACHE_MS), and its global events go there; the data directories
 * hold no users, keys or sessions.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { ActionTrailEvent } from '../../../src/event/types.js';
import { DIRECTORY_CACHE_MS } from '../../../src/identity/directory.js';
import { STORAGE_REGION_CACHE_MS } from '../../../src/regions/index.js';
import { openDatabase } from '../../../src/store/sqlite/database.js';
import { newEvents } from '../../helpers/events.js';
import { basic, lookup, makeKey, startInProcess, tempDir, waitForEvents, type Credentials, type InProcess } from '../../helpers/flinktrail.js';
import { startPostgres, type PostgresServer } from '../../helpers/postgres.js';

describe('two instances on one PostgreSQL: one directory, one set of sessions, one page-token key', () => {
  let postgres: PostgresServer | undefined;
  let admin: pg.Client | undefined;
  const database = `ft_instances_${randomBytes(5).toString('hex')}`;
  let storeUrl = '';
  let a: InProcess | undefined;
  let b: InProcess | undefined;
  let root: Credentials;

  before(async () => {
    postgres = await startPostgres();
    admin = new pg.Client({ connectionString: postgres.url });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    storeUrl = postgres.url.replace(/^postgres:\/\/postgres@\/[^?]+/, `postgres://postgres@/${database}`);
    const dirA = tempDir('ft-inst-a-');
    // The CLI's way (`keys create` with store.url): made in PostgreSQL, not in the directory.
    root = await makeKey(dirA, 'root', 'admin', undefined, undefined, { storeUrl });
    // A long first wait: the test looks at a wait begun through one instance from the other.
    const extra = { clusters: [], store: { url: storeUrl }, auth: { rateLimit: { maxFailures: 3, baseDelaySeconds: 300 } }, trails: { knownRegions: ['eu-west-1'] } };
    a = await startInProcess('http://127.0.0.1:9', extra, dirA);
    b = await startInProcess('http://127.0.0.1:9', extra, tempDir('ft-inst-b-'));
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await admin?.query(`DROP DATABASE IF EXISTS ${database}`).catch(() => undefined);
    await admin?.end();
    await postgres?.stop();
  });

  const api = (i: InProcess | undefined) => i?.info.apiUrl ?? '';
  const call = (i: InProcess | undefined, path: string, init: RequestInit & { cred?: Credentials } = {}) =>
    fetch(`${api(i)}${path}`, {
      ...init,
      headers: { ...(init.cred ? { authorization: basic(init.cred) } : {}), ...(init.body ? { 'content-type': 'application/json' } : {}), ...(init.headers as Record<string, string>) },
    });

  it('a key made through one instance works at the other at once, and one disabled through one is refused by the other within the cache bound', async () => {
    const made = await call(a, '/api/v1/keys', { method: 'POST', cred: root, body: JSON.stringify({ userName: 'root' }) });
    assert.equal(made.status, 201);
    const key = (await made.json()) as { accessKeyId: string; accessKeySecret: string };
    const cred = { accessKeyId: key.accessKeyId, accessKeySecret: key.accessKeySecret };
    assert.equal((await call(b, '/api/v1/auth/session', { cred })).status, 200, 'found at once: misses are never cached');

    const disabled = await call(a, `/api/v1/keys/${key.accessKeyId}`, { method: 'PATCH', cred: root, body: JSON.stringify({ status: 'Inactive' }) });
    assert.equal(disabled.status, 200);
    assert.equal((await call(a, '/api/v1/auth/session', { cred })).status, 401, 'refused at once where it was disabled');
    // The bound is the product's promise: past it, the other instance has read the key again.
    await new Promise((r) => setTimeout(r, DIRECTORY_CACHE_MS + 100));
    const refused = await call(b, '/api/v1/auth/session', { cred });
    assert.equal(refused.status, 401);
    assert.equal(((await refused.json()) as { Code: string }).Code, 'FT_ERR_AUTH_INVALID');
  });

  it('the global events storage region changed through one instance is the other\'s within the cache bound, and its global events go there', async () => {
    const put = await call(a, '/api/v1/regions/global-events-storage', { method: 'PUT', cred: root, body: JSON.stringify({ StorageRegion: 'eu-west-1' }) });
    assert.equal(put.status, 200, await put.text());
    await new Promise((r) => setTimeout(r, STORAGE_REGION_CACHE_MS + 100));
    const got = await call(b, '/api/v1/regions/global-events-storage', { cred: root });
    assert.equal(((await got.json()) as { StorageRegion: string }).StorageRegion, 'eu-west-1');
    // A global event recorded by the other instance: listing users (identity is account-wide).
    const listed = await call(b, '/api/v1/users', { cred: root });
    assert.equal(listed.status, 200);
    const requestId = listed.headers.get('x-request-id') as string;
    // Seen from the home region (local) too: global events are in every region's answer.
    const seen = await waitForEvents(api(a), root, { eventName: 'ListUsers', region: 'local' }, (es) => es.some((x) => x.requestId === requestId));
    assert.equal(seen.find((x) => x.requestId === requestId)?.acsRegion, 'eu-west-1');
    const back = await call(a, '/api/v1/regions/global-events-storage', { method: 'PUT', cred: root, body: JSON.stringify({ StorageRegion: 'local' }) });
    assert.equal(back.status, 200);
  });

  it('a console session made through one instance is served by the other, and ends everywhere when the user is disabled through the other', async () => {
    const created = await call(b, '/api/v1/users', { method: 'POST', cred: root, body: JSON.stringify({ userName: 'carol', role: 'viewer', password: 'carol-password-1' }) });
    assert.equal(created.status, 201);
    const login = await call(a, '/api/v1/auth/login', { method: 'POST', body: JSON.stringify({ userName: 'carol', password: 'carol-password-1' }) });
    assert.equal(login.status, 200);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string;
    const { csrfToken } = (await login.json()) as { csrfToken: string };
    const there = await call(b, '/api/v1/auth/session', { headers: { cookie } });
    assert.equal(there.status, 200);
    assert.deepEqual(
      { ...((await there.json()) as Record<string, unknown>), expiresAt: undefined },
      { userName: 'carol', role: 'viewer', method: 'session', accountId: '1000000000000001', managementAccount: true, csrfToken, expiresAt: undefined },
      'the same session, with the CSRF token issued through the first instance',
    );

    const off = await call(b, '/api/v1/users/carol', { method: 'PATCH', cred: root, body: JSON.stringify({ disabled: true }) });
    assert.equal(off.status, 200);
    // Ended in the shared store: the instance that made it has nothing to serve either.
    assert.equal((await call(a, '/api/v1/auth/session', { headers: { cookie } })).status, 401);
    assert.equal((await call(b, '/api/v1/auth/session', { headers: { cookie } })).status, 401);
  });

  it('both answer the same query with the same events, and a page token issued by one is read by the other', async () => {
    const batch: ActionTrailEvent[] = newEvents(30, { start: Date.now() - 60_000, stepMs: 100 }).map((e) => ({ ...e, eventSource: 'ci-pipeline', additionalEventData: { ...e.additionalEventData, cluster: 'shared' } }));
    const ingested = await call(a, '/api/v1/events', { method: 'POST', cred: root, body: JSON.stringify(batch) });
    assert.deepEqual(await ingested.json(), { accepted: 30, duplicates: 0, rejected: [] });
    const again = await call(b, '/api/v1/events', { method: 'POST', cred: root, body: JSON.stringify(batch) });
    assert.deepEqual(await again.json(), { accepted: 0, duplicates: 30, rejected: [] }, 'each event is written once, whichever instance is asked');

    // Every region: the batch is in two (local and cn-hangzhou).
    const q = { cluster: 'shared', startTime: new Date(Date.now() - 3600_000).toISOString(), region: '*' };
    const viaA = await waitForEvents(api(a), root, q, (es) => es.length === 30);
    const viaB = (await lookup(api(b), root, { ...q, maxResults: '200' })).Events;
    assert.deepEqual(viaB, viaA);

    const first = await lookup(api(a), root, { ...q, maxResults: '10' });
    assert.ok(first.NextToken);
    const second = await lookup(api(b), root, { ...q, maxResults: '10', nextToken: first.NextToken });
    assert.deepEqual(
      [...first.Events, ...second.Events].map((e) => e.eventId),
      viaA.slice(0, 20).map((e) => e.eventId),
    );
  });

  it('an address guessing a password through one instance waits at the other, the right password included', async () => {
    const created = await call(a, '/api/v1/users', { method: 'POST', cred: root, body: JSON.stringify({ userName: 'dave', role: 'viewer', password: 'dave-password-1' }) });
    assert.equal(created.status, 201);
    const login = (i: InProcess | undefined, password: string) => call(i, '/api/v1/auth/login', { method: 'POST', body: JSON.stringify({ userName: 'dave', password }) });
    for (let n = 0; n < 4; n++) assert.equal((await login(a, `guess-${n}`)).status, 401, `guess ${n}`);
    const there = await login(b, 'dave-password-1');
    assert.equal(there.status, 429, 'the fourth failure through A made this address wait, at B too');
    assert.equal(((await there.json()) as { Code: string }).Code, 'FT_ERR_AUTH_RATE_LIMITED');
    const throttles = (await (await call(b, '/api/v1/auth/throttles', { cred: root })).json()) as { Throttles: { scope: string; identity?: string; failures: number }[] };
    assert.deepEqual(
      throttles.Throttles.filter((t) => t.scope === 'pair').map((t) => [t.identity, t.failures]),
      [['dave', 4]],
      'the other instance lists the wait, with every failure counted',
    );
    const unlocked = await call(b, '/api/v1/auth/unlock', { method: 'POST', cred: root, body: JSON.stringify({ identity: 'dave' }) });
    assert.equal(unlocked.status, 200);
    assert.equal((await login(a, 'dave-password-1')).status, 200, 'unlocked through B, signs in through A');
  });

  it('keeps no user, key or session in either data directory', () => {
    for (const dir of [a?.dataDir, b?.dataDir]) {
      const db = openDatabase(dir as string);
      try {
        for (const table of ['users', 'access_keys', 'access_key_signing', 'sessions']) {
          assert.equal((db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n, 0, `${table} in ${dir}`);
        }
      } finally {
        db.close();
      }
    }
  });
});
