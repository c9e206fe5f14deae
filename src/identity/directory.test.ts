/**
 * The directory's cache of per-request reads, and its bounds: a change made through the same
 * directory (the API) applies to the next request; a change made by another process on the same
 * database (the `flinktrail` CLI) within `cacheMs`, never later.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { testSecrets } from '../../test/helpers/secrets.js';
import { compilePolicy, decide, type PolicyDocument } from '../policy/index.js';
import { openDatabase, type Db } from '../store/sqlite/database.js';
import { AuthError, Authenticator, type AuthContext } from './authenticate.js';
import { Directory, DIRECTORY_CACHE_MS } from './directory.js';
import { SqliteIdentityStore, sqliteDirectory } from './sqlite/directory.js';
import { SqliteSessionStore } from './sqlite/sessions.js';

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const ctx = (authorization: string): AuthContext => ({ authorization, peerIp: '10.0.0.1', sourceIp: '10.0.0.1', headers: {} });
const CANCEL = { service: 'RealtimeCompute', action: { eventName: 'CancelJob', eventRW: 'Write', api: 'dispatcher', known: true }, cluster: 'prod', jobs: [] } as const;
const DENY_CANCEL: PolicyDocument = { Statement: [{ Effect: 'Deny', Action: ['RealtimeCompute:CancelJob'] }] };

describe('Directory cache', () => {
  const ring = testSecrets();
  let dataDir: string;
  let serverDb: Db;
  let cliDb: Db;
  let clock: number;
  let server: Directory;
  /** Another process on the same database: `flinktrail keys …`. */
  let cli: Directory;
  let auth: Authenticator;
  let key: { accessKeyId: string; accessKeySecret: string };

  before(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'ft-directory-'));
    serverDb = openDatabase(dataDir);
    cliDb = openDatabase(dataDir);
  });
  after(() => {
    serverDb?.close();
    cliDb?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    clock = 1_000_000;
    server = sqliteDirectory(serverDb, ring, { now: () => clock });
    cli = sqliteDirectory(cliDb, ring);
    const name = `u${Math.random().toString(36).slice(2, 10)}`;
    await cli.createUser(name, 'admin');
    key = await cli.createAccessKey(name);
    auth = new Authenticator(server, { anonymous: false });
  });

  const refusal = async (): Promise<string | undefined> => {
    try {
      await auth.authenticate(ctx(basic(key.accessKeyId, key.accessKeySecret)));
      return undefined;
    } catch (err) {
      assert.ok(err instanceof AuthError, String(err));
      return err.reason;
    }
  };

  it('a key disabled by another process is refused once the cache bound has passed, not later', async () => {
    assert.equal(await refusal(), undefined);
    await cli.setAccessKeyStatus(key.accessKeyId, 'Inactive');
    // Within the bound the cached record may still be used …
    clock += DIRECTORY_CACHE_MS - 1;
    assert.equal(await refusal(), undefined);
    // … and past it, the key is refused.
    clock += 2;
    assert.equal(await refusal(), 'key inactive');
  });

  it('a key disabled through the same directory (the API) is refused on the next request', async () => {
    assert.equal(await refusal(), undefined);
    await server.setAccessKeyStatus(key.accessKeyId, 'Inactive');
    assert.equal(await refusal(), 'key inactive');
    await server.setAccessKeyStatus(key.accessKeyId, 'Active');
    assert.equal(await refusal(), undefined);
  });

  it('a user disabled by another process is refused within the bound', async () => {
    const user = await cli.userById(((await cli.accessKey(key.accessKeyId)) as { userId: string }).userId);
    assert.ok(user);
    assert.equal(await refusal(), undefined);
    await cli.updateUser(user.name, { disabled: true });
    clock += DIRECTORY_CACHE_MS + 1;
    assert.equal(await refusal(), 'user disabled');
  });

  it('a key made by another process works at once (misses are never cached)', async () => {
    const user = (await cli.userById(((await cli.accessKey(key.accessKeyId)) as { userId: string }).userId)) as { name: string };
    assert.equal((await server.accessKey('LTAInotYetMade')), undefined);
    const fresh = await cli.createAccessKey(user.name);
    assert.ok((await server.accessKey(fresh.accessKeyId)), 'a new key is found without waiting for the cache');
  });

  it('policies: the same documents come back (compiled once), and a change applies within the bound', async () => {
    const p = await auth.authenticate(ctx(basic(key.accessKeyId, key.accessKeySecret)));
    const user = p.principalId;
    assert.deepEqual((await server.policiesOf(user)), []);
    const userName = p.userName;
    await cli.putPolicy('no-cancel', DENY_CANCEL);
    await cli.attachPolicy(userName, 'no-cancel');
    clock += DIRECTORY_CACHE_MS + 1;
    const first = (await auth.authenticate(ctx(basic(key.accessKeyId, key.accessKeySecret)))).policies ?? [];
    const second = (await auth.authenticate(ctx(basic(key.accessKeyId, key.accessKeySecret)))).policies ?? [];
    assert.equal(first.length, 1);
    assert.equal(first[0], second[0], 'the cached document object itself, so compilePolicy compiles it once');
    assert.equal(compilePolicy(first[0] as PolicyDocument), compilePolicy(second[0] as PolicyDocument));
    assert.equal(decide({ role: 'admin', policies: second }, CANCEL).allowed, false);
    assert.throws(() => (second as PolicyDocument[]).push(DENY_CANCEL), TypeError, 'cached documents are frozen: no caller changes them for the others');
    clock += DIRECTORY_CACHE_MS + 1;
    const later = (await auth.authenticate(ctx(basic(key.accessKeyId, key.accessKeySecret)))).policies ?? [];
    assert.equal(later[0], first[0], 'read again after the bound, an unchanged document is still the same object (not compiled again)');
    await cli.putPolicy('no-cancel', { Statement: [{ Effect: 'Deny', Action: ['RealtimeCompute:CancelJob', 'RealtimeCompute:StopJob'] }] });
    clock += DIRECTORY_CACHE_MS + 1;
    const edited = (await auth.authenticate(ctx(basic(key.accessKeyId, key.accessKeySecret)))).policies ?? [];
    assert.notEqual(edited[0], first[0], 'an edited document is parsed and compiled anew');
    assert.deepEqual((edited[0] as PolicyDocument).Statement[0]?.Action, ['RealtimeCompute:CancelJob', 'RealtimeCompute:StopJob']);
    // Detached through the same directory: applies to the next request.
    await server.detachPolicy(userName, 'no-cancel');
    const third = (await auth.authenticate(ctx(basic(key.accessKeyId, key.accessKeySecret)))).policies ?? [];
    assert.equal(decide({ role: 'admin', policies: third }, CANCEL).allowed, true);
  });

  it('cacheMs 0 reads the database on every call', async () => {
    const uncached = sqliteDirectory(serverDb, ring, { cacheMs: 0 });
    assert.notEqual((await uncached.accessKey(key.accessKeyId)), (await uncached.accessKey(key.accessKeyId)));
    await cli.setAccessKeyStatus(key.accessKeyId, 'Inactive');
    assert.equal((await uncached.accessKey(key.accessKeyId))?.status, 'Inactive');
  });
});

describe('Directory while its store cannot be reached', () => {
  const ring = testSecrets();
  let dataDir: string;
  let db: Db;
  before(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'ft-directory-down-'));
    db = openDatabase(dataDir);
  });
  after(() => {
    db?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  /** The data directory's store, made to fail like a server that went away while `down`. */
  function flaky() {
    const state = { down: false };
    const real = new SqliteIdentityStore(db);
    const store = new Proxy(real, {
      get(target, prop, receiver) {
        const value: unknown = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => (state.down ? Promise.reject(new Error('connect ENOENT /run/postgresql/.s.PGSQL.5432')) : (value as (...a: unknown[]) => unknown).apply(target, args));
      },
    });
    return { state, store };
  }

  it('serves what it read in the last staleIfErrorMs, refuses anything else with a coded 503 that names no server', async () => {
    let clock = 1_000_000;
    const { state, store } = flaky();
    const dir = new Directory({ identity: store, sessions: new SqliteSessionStore(db) }, ring, { now: () => clock, staleIfErrorMs: 60_000 });
    await dir.createUser('erin', 'viewer');
    const k = await dir.createAccessKey('erin');
    assert.equal((await dir.accessKey(k.accessKeyId))?.userId, k.user.id);
    state.down = true;
    clock += DIRECTORY_CACHE_MS + 1;
    assert.equal((await dir.accessKey(k.accessKeyId))?.userId, k.user.id, 'past the cache bound, still known while the store is down');
    const unseen = await dir.accessKey('FTAKneverSeen').then(
      () => 'answered',
      (err: { code?: string; status?: number; message: string }) => `${err.code} ${err.status} ${err.message}`,
    );
    assert.match(unseen, /^FT_ERR_IDENTITY_UNAVAILABLE 503 /);
    assert.doesNotMatch(unseen, /ENOENT|postgresql/, 'where the store is, is not told');
    await assert.rejects(dir.listUsers(), (err: { code?: string }) => err.code === 'FT_ERR_IDENTITY_UNAVAILABLE', 'an uncached call: coded too');
    clock += 60_001;
    await assert.rejects(dir.accessKey(k.accessKeyId), (err: { code?: string }) => err.code === 'FT_ERR_IDENTITY_UNAVAILABLE', 'past staleIfErrorMs: refused, never let through');
    state.down = false;
    assert.equal((await dir.accessKey(k.accessKeyId))?.userId, k.user.id, 'back with the store');
  });

  it('passes a coded refusal of the store through as it is', async () => {
    const { store } = flaky();
    const dir = new Directory({ identity: store, sessions: new SqliteSessionStore(db) }, ring);
    await assert.rejects(dir.updateUser('nobody-here', { disabled: true }), (err: { code?: string }) => err.code === 'FT_ERR_KEYS_UNKNOWN_USER');
  });
});
