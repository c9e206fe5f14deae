/**
 * `flinktrail migrate --from DIR --to postgres://…` against a real PostgreSQL (the one at
 * FLINKTRAIL_TEST_POSTGRES_URL, else a throwaway cluster from scripts/it/postgres.sh), each test
 * in a database of its own: positions kept, pending events brought up to date on resume, a
 * target that is not this directory's copy refused, a tampered copy never switched to, the
 * directory's users, AccessKeys, policies, sessions, meta keys and trail digest keys readable
 * through the PostgreSQL stores (copied once, resumable, never overwriting another's), and the
 * migrated directory served from PostgreSQL.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes, sign, verify } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { finishEvent } from '../../../src/event/build.js';
import type { ActionTrailEvent } from '../../../src/event/types.js';
import { isFlinkTrailError } from '../../../src/errors/index.js';
import { isSealed } from '../../../src/secrets/index.js';
import { PostgresIdentityStore } from '../../../src/identity/postgres/directory.js';
import { PostgresSessionStore } from '../../../src/identity/postgres/sessions.js';
import { signingContext } from '../../../src/identity/signing-secrets.js';
import { SqliteIdentityStore } from '../../../src/identity/sqlite/directory.js';
import { SqliteSessionStore } from '../../../src/identity/sqlite/sessions.js';
import type { SessionRecord } from '../../../src/identity/sessions.js';
import { loadMasterKey, Secrets } from '../../../src/secrets/index.js';
import { ensureKeyFile } from '../../../src/secrets/master-key.js';
import { migrateEvents } from '../../../src/store/migrate.js';
import { COPIED_TABLES, copyTables } from '../../../src/store/migrate-tables.js';
import { PostgresEventStore } from '../../../src/store/postgres/events.js';
import { PostgresMetaStore } from '../../../src/store/postgres/meta.js';
import { openDatabase } from '../../../src/store/sqlite/database.js';
import { SqliteMetaStore } from '../../../src/store/sqlite/meta.js';
import { SqliteEventStore } from '../../../src/store/sqlite/events.js';
import { DIGEST_KEY_CONTEXT, DigestKeys, digestKeyFile, importPublicKey } from '../../../src/trails/digest/keys.js';
import { PostgresDigestKeyStore } from '../../../src/trails/postgres/digest-keys.js';
import { SqliteDigestKeyStore } from '../../../src/trails/sqlite/digest-keys.js';
import { parseDestination } from '../../../src/trails/destination.js';
import type { TrailRepository } from '../../../src/trails/repository.js';
import { PostgresTrailRepository } from '../../../src/trails/postgres/repository.js';
import { SqliteTrailRepository } from '../../../src/trails/sqlite/repository.js';
import { claimEventStore } from '../../../src/stores.js';
import { createLogger } from '../../../src/telemetry/logger.js';
import { buildApp } from '../../../src/app.js';
import { buildConfig } from '../../../src/config/index.js';
import { Writable } from 'node:stream';
import type { PublicKeyInfo } from '../../../src/trails/digest/keys.js';
import { FileObjectStore } from '../../../src/trails/sinks/index.js';
import { validateLogs } from '../../../src/trails/validate-logs/index.js';
import { readDigest } from '../../../src/trails/digest/format.js';
import { readLogFiles, sleep, startTrailApp, until, type TrailApp } from '../trails/common.js';
import type { Positioned } from '../../../src/store/types.js';
import { newEvents } from '../../helpers/events.js';
import { basic, makeKey, REPO, startInProcess, tempDir } from '../../helpers/flinktrail.js';
import { startPostgres, type PostgresServer } from '../../helpers/postgres.js';
import { testSecrets } from '../../helpers/secrets.js';

const run = promisify(execFile);
/** The trail tables' counts of a directory without trails. */
const noTrails = Object.fromEntries(COPIED_TABLES.filter((t) => t.startsWith('trail') && t !== 'trail_digest_keys').map((t) => [t, { rows: 0, copied: 0 }]));
const DAY = 24 * 3600_000;

let server: PostgresServer | undefined;
let admin: pg.Client | undefined;
const databases: string[] = [];

before(async () => {
  server = await startPostgres();
  admin = new pg.Client({ connectionString: server.url });
  // The server ending this connection at shutdown is said, not thrown from nowhere.
  admin.on('error', (err) => process.stderr.write(`# admin connection: ${err.message}\n`));
  await admin.connect();
});
after(async () => {
  for (const d of databases) await admin?.query(`DROP DATABASE IF EXISTS ${d} WITH (FORCE)`).catch(() => undefined);
  await admin?.end();
  await server?.stop();
});

/** A new empty database on the test server; its URL. */
async function newDatabase(): Promise<string> {
  const name = `ft_mig_${randomBytes(5).toString('hex')}`;
  await admin?.query(`CREATE DATABASE ${name}`);
  databases.push(name);
  return (server?.url ?? '').replace(/^(postgres:\/\/[^/]*\/)[^?]+/, `$1${name}`);
}

/** A data directory whose embedded store holds `n` events over the last week, some purged (a gap of positions at the start) and `pending` left pending. */
async function dataDirWith(n: number, pending = 0): Promise<{ dir: string; pendingEvents: ActionTrailEvent[] }> {
  const dir = tempDir('ft-migrate-');
  const db = openDatabase(dir);
  const store = new SqliteEventStore(db, { flushIntervalMs: 1 });
  try {
    const events = newEvents(n, { start: Date.now() - 7 * DAY, stepMs: Math.floor((7 * DAY) / n) });
    await store.appendSerialized(JSON.stringify(events.slice(0, n - pending)));
    const pendingEvents = events.slice(n - pending).map((e) => ({ ...e, additionalEventData: { ...e.additionalEventData, outcome: 'pending' as const } }));
    for (const e of pendingEvents) await store.journal(e);
    // Retention took the oldest tenth: positions start above 1.
    await store.purge(Date.parse((events[Math.floor(n / 10)] as ActionTrailEvent).eventTime));
    return { dir, pendingEvents };
  } finally {
    await store.close();
    db.close();
  }
}

function sourceEvents(dir: string): Positioned[] {
  const db = openDatabase(dir);
  try {
    return new SqliteEventStore(db, { flushIntervalMs: 1 }).copyRange(0, 1_000_000);
  } finally {
    db.close();
  }
}

function recordedStore(dir: string): string | undefined {
  const db = openDatabase(dir);
  try {
    return (db.prepare("SELECT value FROM meta WHERE key = 'event-store'").get() as { value: string } | undefined)?.value;
  } finally {
    db.close();
  }
}

async function targetEvents(url: string): Promise<Positioned[]> {
  const store = await PostgresEventStore.open({ url, poolMax: 1 });
  try {
    return await store.copyRange(0, 1_000_000);
  } finally {
    await store.close();
  }
}


/** The tables copied once more over the copy already in `url` (a rerun before the switch). */
async function copyTablesAgain(dir: string, url: string, secrets: Secrets): Promise<Awaited<ReturnType<typeof copyTables>>> {
  const db = openDatabase(dir);
  const store = await PostgresEventStore.open({ url, poolMax: 2 });
  try {
    return await copyTables(db, store.pool, 'target', dir, { sealer: secrets });
  } finally {
    await store.close();
    db.close();
  }
}

/** Object keys of the digest files under a directory destination. */
function digestKeysUnder(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...digestKeysUnder(root, p));
    else if (p.includes('/Actiontrail-Digest/')) out.push(p);
  }
  return out.sort();
}

const TRAIL = 'audit-trail';
const T0 = 1_700_000_000_000;
const S3_SECRET = 'wJalrXUtnFEMIK7MDENGbPxRfiCY';

/**
 * A trail in the data directory as delivery leaves it, through the embedded repository: two
 * destinations (a directory, and S3 with a secret: sealed at rest), started, stopped and started
 * again (an off time), a delivered batch, a written digest (a chain), a dead letter and a history
 * job. A trail made and deleted first, so that ids do not start at 1. Returns the trail's name.
 */
async function plantTrail(dir: string, secrets: Secrets, lastSeq: number): Promise<void> {
  const db = openDatabase(dir);
  try {
    const repo = new SqliteTrailRepository(db, join(dir, 'trails'), secrets);
    const dest = (u: string) => parseDestination(u, { localDir: join(dir, 'trails') });
    const spec = (name: string) => ({
      name,
      eventRW: 'All' as const,
      trailRegion: 'All' as const,
      digestInterval: 3600,
      destinations: [dest(`file://${dir}/delivered`), dest(`s3://audit-bucket/trails?region=us-east-1&accessKeyId=AKIDEXAMPLE&secretAccessKey=${S3_SECRET}`)],
    });
    await repo.create(spec('gone-trail'), 'local', T0, 0);
    await repo.delete('gone-trail', T0);
    const t = await repo.create(spec(TRAIL), 'local', T0, lastSeq - 50);
    await repo.start(TRAIL, T0 + 1000, lastSeq - 50);
    await repo.stop(TRAIL, T0 + 2000);
    const started = await repo.start(TRAIL, T0 + 3000, lastSeq - 40);
    const d = t.destinations[0]!;
    const [cursor] = await repo.cursorsOf(d.id);
    const f = (key: string, cutAt: number) => ({ key, region: 'local', cutAt, sha256: 'a'.repeat(64), size: 123, events: 3, oldest: '2023-11-14T22:13:20Z', newest: '2023-11-14T22:13:21Z' });
    await repo.delivered(cursor!.id, d.id, lastSeq - 20, 6, [f('AliyunLogs/local/a.json.gz', T0 + 60_000), f('AliyunLogs/local/b.json.gz', T0 + 120_000)], T0 + 130_000);
    await repo.startChain(d.id, 'local', T0);
    const [chain] = await repo.chains(d.id);
    await repo.digestWritten(chain!, T0 + 3600_000, 'AliyunLogs/local/Digest/d1.json.gz', 'b'.repeat(64), 'sig-1', T0 + 3601_000);
    const [ev] = newEvents(1);
    await repo.deadLetter(cursor!, TRAIL, [{ seq: lastSeq - 10, event: ev!, code: 'InvalidKey', reason: 'no store accepts this key' }], T0 + 140_000);
    await repo.createJob(started, lastSeq, undefined, T0 - DAY, T0, T0 + 150_000);
  } finally {
    db.close();
  }
}

/** Everything a repository says about the trails: to compare the directory's and the copy's. */
async function trailState(repo: TrailRepository): Promise<unknown> {
  const trails = await repo.list();
  const dests = trails.flatMap((t) => t.destinations);
  return {
    trails,
    cursors: await repo.allCursors(),
    offTimes: await Promise.all(trails.map((t) => repo.offTimes(t.name))),
    files: await Promise.all(dests.map((d) => repo.filesBetween(d.id, 'local', 0, Number.MAX_SAFE_INTEGER))),
    chains: await Promise.all(dests.map((d) => repo.chains(d.id))),
    deadLetters: await Promise.all(trails.map((t) => repo.deadLetters(t.name, 100))),
    jobs: await repo.jobs(undefined, 1, 100),
    minCutAt: await Promise.all(dests.map((d) => repo.minCutAt(d.id))),
  };
}

/** The directory's trails read through the embedded repository. */
async function directoryTrails(dir: string, secrets: Secrets): Promise<unknown> {
  const db = openDatabase(dir);
  try {
    return await trailState(new SqliteTrailRepository(db, join(dir, 'trails'), secrets));
  } finally {
    db.close();
  }
}

/** `fn` with the PostgreSQL trail repository on `url` (the directory's master key). */
async function withPgTrails<T>(url: string, dir: string, secrets: Secrets, fn: (repo: PostgresTrailRepository, pool: pg.Pool) => Promise<T>): Promise<T> {
  const store = await PostgresEventStore.open({ url, poolMax: 2 });
  try {
    return await fn(await PostgresTrailRepository.open(store.pool, join(dir, 'trails'), secrets), store.pool);
  } finally {
    await store.close();
  }
}

/** What `directoryWithIdentity` put in the data directory, to find again in PostgreSQL. */
interface Planted {
  userId: string;
  accessKeyId: string;
  accessKeySecret: string;
  session: SessionRecord;
  hmac: string;
  oidc: string;
}

/** Puts into the directory, through its SQLite stores: a user, an AccessKey with its sealed signing secret, a policy attached, a session, meta secrets, a Kubernetes object and an RPC nonce. */
async function plantIdentity(dir: string, secrets: Secrets): Promise<Planted> {
  const db = openDatabase(dir);
  try {
    const ids = new SqliteIdentityStore(db);
    const now = Date.now();
    const userId = `u-${randomBytes(4).toString('hex')}`;
    // carol belongs to a member account: the account and her membership move with her.
    await ids.insertAccount({ id: '4000000000000004', name: 'team-carol', createdAt: now });
    await ids.insertUser({ id: userId, name: 'carol', role: 'viewer', passwordHash: 'scrypt$x', createdAt: now, disabled: false, email: 'carol@example.com', source: 'local', accountId: '4000000000000004' });
    const accessKeyId = `LTAI${randomBytes(8).toString('hex')}`;
    const accessKeySecret = randomBytes(20).toString('base64url');
    await ids.insertAccessKey({ id: accessKeyId, userId, secretHash: 'hash-of-secret', createdAt: now }, secrets.seal(accessKeySecret, signingContext(accessKeyId)));
    await ids.putPolicy({ name: 'flink-readers', document: '{"Version":"1","Statement":[]}', description: 'read', createdAt: now, updatedAt: now });
    await ids.attachPolicy(userId, 'flink-readers');
    const session: SessionRecord = { idHash: randomBytes(16).toString('hex'), userId, principal: '{"userName":"carol"}', csrfToken: 'csrf', createdAt: now, lastSeenAt: now, expiresAt: now + DAY };
    await new SqliteSessionStore(db).insert(session);
    const meta = new SqliteMetaStore(db, secrets);
    const hmac = await meta.secret('pagination-token-key', () => randomBytes(32).toString('base64url'));
    const oidc = await meta.secret('oidc-state-key', () => randomBytes(32).toString('base64url'));
    db.prepare("INSERT INTO k8s_objects (cluster, resource, namespace, name, uid, resource_version, spec, updated_at) VALUES ('c1', 'flinkdeployments', 'ns', 'job', 'uid-1', '42', '{}', ?)").run(now);
    db.prepare('INSERT INTO rpc_nonces (access_key_id, nonce, expires_at) VALUES (?, ?, ?)').run(accessKeyId, 'n-1', now + 600_000);
    return { userId, accessKeyId, accessKeySecret, session, hmac, oidc };
  } finally {
    db.close();
  }
}

/**
 * Digest keys made in the directory as a server on it makes them: a first key, then a rotation.
 * The first key's file is put back in clear, as a version before sealing left it (a retired key
 * is never read again, so it stays so).
 */
async function plantDigestKeys(dir: string, secrets: Secrets): Promise<{ retired: string; active: string; retiredPem: string }> {
  const db = openDatabase(dir);
  try {
    const keys = new DigestKeys(new SqliteDigestKeyStore(db), dir, secrets);
    const retired = (await keys.active(Date.now() - DAY)).fingerprint;
    const active = (await keys.rotate()).fingerprint;
    const retiredPem = secrets.open(readFileSync(digestKeyFile(dir, retired), 'utf8').trim(), DIGEST_KEY_CONTEXT);
    writeFileSync(digestKeyFile(dir, retired), retiredPem);
    return { retired, active, retiredPem };
  } finally {
    db.close();
  }
}

describe('flinktrail migrate (SQLite data directory → PostgreSQL)', { timeout: 300_000 }, () => {
  it('copies every event at its position, verifies, switches the directory and records the migration (the CLI)', async () => {
    const { dir } = await dataDirWith(3000, 3);
    const url = await newDatabase();
    const before = sourceEvents(dir);
    assert.ok((before[0] as Positioned).seq > 1, 'the purge left a gap of positions before the first event');

    const { stdout, stderr } = await run(process.execPath, [join(REPO, 'bin/flinktrail.mjs'), 'migrate', '--from', dir, '--to', url, '--batch', '500', '-o', 'json'], { cwd: REPO });
    const answer = JSON.parse(stdout) as { Store: string; Events: number; Copied: number; LastPosition: number; Sha256: string; ResumedAfter: number; Tables?: Record<string, { Rows: number; Copied: number }> };
    assert.deepEqual(Object.keys(answer.Tables ?? {}), [...COPIED_TABLES], 'the feature tables, counted');
    assert.ok(COPIED_TABLES.includes('trail_cursors') && !(COPIED_TABLES as readonly string[]).includes('trail_leases'), 'trails copied, leases not');
    assert.equal(answer.Events, before.length);
    assert.equal(answer.Copied, before.length);
    assert.equal(answer.ResumedAfter, 0);
    assert.equal(answer.LastPosition, (before[before.length - 1] as Positioned).seq);
    assert.match(answer.Sha256, /^[0-9a-f]{64}$/);
    assert.match(answer.Store, /^postgres:[0-9a-f-]{36}$/);
    assert.match(stderr, new RegExp(`copied ${before.length} of ${before.length} events`));
    assert.equal(recordedStore(dir), answer.Store, 'the directory now names the PostgreSQL store');

    const copied = await targetEvents(url);
    // Everything copied at its position, pending ones still pending; then the migration's own event.
    assert.deepEqual(copied.slice(0, before.length), before);
    const own = copied[before.length] as Positioned;
    assert.equal(copied.length, before.length + 1);
    assert.equal(own.seq, answer.LastPosition + 1, 'appends continue after the last copied position');
    assert.equal(own.event.eventName, 'MigrateEventStore');
    assert.equal(own.event.requestParameters['events'], before.length);
    assert.equal(own.event.requestParameters['sha256'], answer.Sha256);

    // Run again: nothing to copy, the copy verified again with the same digest, nothing recorded twice.
    const again = JSON.parse((await run(process.execPath, [join(REPO, 'bin/flinktrail.mjs'), 'migrate', '--from', dir, '--to', url, '-o', 'json'], { cwd: REPO })).stdout) as typeof answer;
    assert.deepEqual([again.Copied, again.Events, again.Sha256, again.Store], [0, before.length, answer.Sha256, answer.Store]);
    assert.equal(again.Tables, undefined, 'the tables are not copied again once switched');
    assert.equal((await targetEvents(url)).length, before.length + 1);

    // The CLI's own records follow the directory: refused without the store's URL (they would
    // land where no query looks), recorded in PostgreSQL with it.
    const cli = (env: Record<string, string> = {}) =>
      run(process.execPath, [join(REPO, 'bin/flinktrail.mjs'), 'keys', 'create', '--user', 'bob', '--data-dir', dir, '-o', 'json'], { cwd: REPO, env: { ...process.env, ...env } });
    await assert.rejects(cli(), (err: { code?: number; stderr?: string }) => err.code === 2 && /FT_ERR_STORE_MISMATCH/.test(err.stderr ?? ''));
    const key = JSON.parse((await cli({ FLINKTRAIL__STORE__URL: url })).stdout) as { accessKeyId: string };
    const recorded = (await targetEvents(url)).slice(before.length + 1).map((p) => [p.event.eventName, p.event.referencedResources['ACS::Actiontrail::AccessKey']?.[0]]);
    assert.deepEqual(recorded, [
      ['CreateUser', undefined],
      ['CreateAccessKey', key.accessKeyId],
    ]);
  });

  it('resumes an interrupted copy, bringing events copied while pending up to date and taking events recorded since', async () => {
    const { dir, pendingEvents } = await dataDirWith(2000, 2);
    const url = await newDatabase();
    const all = sourceEvents(dir);
    const first = await migrateEvents({ dataDir: dir, url, batch: 300, stopAfter: all.length - 1 });
    assert.equal(first.verified, false);
    assert.equal(first.copied, all.length - 1);
    assert.equal(recordedStore(dir), undefined, 'an interrupted copy does not switch the directory');

    // Meanwhile the first pending operation finished, and FlinkTrail recorded one more event.
    const db = openDatabase(dir);
    const store = new SqliteEventStore(db, { flushIntervalMs: 1 });
    const done = finishEvent(pendingEvents[0] as ActionTrailEvent, { outcome: 'success', httpStatus: 202 });
    await store.complete(done);
    const [late] = newEvents(1, { start: Date.now() });
    await store.append(late as ActionTrailEvent);
    await store.close();
    db.close();

    const second = await migrateEvents({ dataDir: dir, url, batch: 300 });
    assert.equal(second.verified, true);
    assert.equal(second.resumedAfter, first.lastSeq);
    assert.equal(second.copied, 2, 'the last event of the first run and the one recorded since');
    assert.equal(second.updated, 1, 'the operation that finished meanwhile');
    const copied = await targetEvents(url);
    assert.deepEqual(copied, sourceEvents(dir));
    assert.equal(copied.find((p) => p.event.eventId === done.eventId)?.event.additionalEventData.outcome, 'success');
    assert.equal(recordedStore(dir), second.store);
  });

  it('refuses a target that holds events of its own, and never switches to a copy that differs', async () => {
    const { dir } = await dataDirWith(500);
    const url = await newDatabase();
    const other = await PostgresEventStore.open({ url, poolMax: 1 });
    await other.appendSerialized(JSON.stringify(newEvents(3, { start: Date.now() - 1000 })));
    await other.close();
    await assert.rejects(migrateEvents({ dataDir: dir, url }), (err) => isFlinkTrailError(err) && err.code === 'FT_ERR_MIGRATE_DIVERGED');
    assert.equal(recordedStore(dir), undefined);

    const url2 = await newDatabase();
    await migrateEvents({ dataDir: dir, url: url2, stopAfter: 400 });
    // Someone edits a copied event (a body) before the copy completes.
    const c = new pg.Client({ connectionString: url2 });
    await c.connect();
    // Bodies are compressed (body_z) and take userName back from its column: edit the column.
    await c.query("UPDATE events SET user_name = 'mallory' WHERE seq = (SELECT min(seq) FROM events WHERE user_name = 'alice')");
    await c.end();
    await assert.rejects(migrateEvents({ dataDir: dir, url: url2 }), (err) => isFlinkTrailError(err) && err.code === 'FT_ERR_MIGRATE_UNVERIFIED' && /different events/.test(err.message));
    assert.equal(recordedStore(dir), undefined, 'the directory keeps its own store');
  });

  it("copies the directory's users, AccessKeys, policies, sessions and meta secrets; the PostgreSQL stores read them as SQLite did", async () => {
    const { dir } = await dataDirWith(100);
    const secrets = testSecrets();
    const p = await plantIdentity(dir, secrets);
    const url = await newDatabase();
    const result = await migrateEvents({ dataDir: dir, url });
    assert.equal(result.verified, true);
    const one = { rows: 1, copied: 1 };
    // meta: the two HMAC keys; `event-store` (this directory's own record) stays in the directory.
    const none = { rows: 0, copied: 0 };
    assert.deepEqual(result.tables, { accounts: one, users: one, policies: one, access_keys: one, access_key_signing: one, user_policies: one, sessions: one, k8s_objects: one, meta: { rows: 2, copied: 2 }, trail_digest_keys: none, ...noTrails });

    const db = openDatabase(dir);
    const sqlite = new SqliteIdentityStore(db);
    const store = await PostgresEventStore.open({ url, poolMax: 2 });
    try {
      const ids = await PostgresIdentityStore.open(store.pool);
      assert.deepEqual(await ids.userByName('carol'), await sqlite.userByName('carol'));
      assert.equal((await ids.userByName('carol'))?.accountId, '4000000000000004');
      assert.deepEqual(await ids.listAccounts(), await sqlite.listAccounts());
      assert.deepEqual(await ids.accessKey(p.accessKeyId), await sqlite.accessKey(p.accessKeyId));
      assert.equal(secrets.open((await ids.signingSecret(p.accessKeyId)) ?? '', signingContext(p.accessKeyId)), p.accessKeySecret, 'the sealed signing secret opens with the same ring');
      assert.deepEqual(await ids.policyNamesOf(p.userId), ['flink-readers']);
      assert.deepEqual(await ids.policy('flink-readers'), await sqlite.policy('flink-readers'));
      assert.deepEqual(await (await PostgresSessionStore.open(store.pool)).get(p.session.idHash), p.session);
      const meta = await PostgresMetaStore.open(store.pool, secrets);
      assert.equal(await meta.secret('pagination-token-key', () => 'made anew'), p.hmac);
      assert.equal(await meta.secret('oidc-state-key', () => 'made anew'), p.oidc);
      assert.equal((await store.pool.query("SELECT 1 FROM meta WHERE key = 'event-store'")).rowCount, 0);
      assert.equal((await store.pool.query('SELECT 1 FROM rpc_nonces WHERE nonce = $1', ['n-1'])).rowCount, 1, 'an unexpired nonce is copied');
    } finally {
      await store.close();
      db.close();
    }
  });

  it('copies the tables idempotently over an earlier copy, bringing changed rows up to date, and refuses what another FlinkTrail wrote', async () => {
    const { dir } = await dataDirWith(50);
    const secrets = testSecrets();
    const p = await plantIdentity(dir, secrets);
    const url = await newDatabase();
    // An earlier run copied the tables and stopped before the switch; the key was deactivated since.
    const store = await PostgresEventStore.open({ url, poolMax: 2 });
    const db = openDatabase(dir);
    try {
      await copyTables(db, store.pool, 'target', dir);
      await new SqliteIdentityStore(db).setAccessKeyStatus(p.accessKeyId, 'Inactive');
    } finally {
      db.close();
      await store.close();
    }
    const result = await migrateEvents({ dataDir: dir, url });
    assert.deepEqual(
      Object.values(result.tables ?? {}).map((c) => c.copied),
      COPIED_TABLES.map(() => 0),
      'nothing inserted twice',
    );
    assert.equal(result.tables?.users?.rows, 1);
    const after = await PostgresEventStore.open({ url, poolMax: 1 });
    try {
      assert.equal((await (await PostgresIdentityStore.open(after.pool)).accessKey(p.accessKeyId))?.status, 'Inactive', 'the deactivation reached the copy');
    } finally {
      await after.close();
    }

    // A FlinkTrail already ran on this database and made its own page-token key: refused, not overwritten.
    const { dir: dir2 } = await dataDirWith(50);
    await plantIdentity(dir2, secrets);
    const url2 = await newDatabase();
    const theirs = await PostgresEventStore.open({ url: url2, poolMax: 1 });
    const made = await (await PostgresMetaStore.open(theirs.pool, secrets)).secret('pagination-token-key', () => 'their own key');
    await theirs.close();
    await assert.rejects(
      migrateEvents({ dataDir: dir2, url: url2 }),
      (err) => isFlinkTrailError(err) && err.code === 'FT_ERR_MIGRATE_CONFLICT' && /meta key 'pagination-token-key'/.test(err.message) && !err.message.includes('their own key'),
    );
    assert.equal(recordedStore(dir2), undefined, 'not switched');
    const check = await PostgresEventStore.open({ url: url2, poolMax: 1 });
    try {
      assert.equal(await (await PostgresMetaStore.open(check.pool, secrets)).secret('pagination-token-key', () => 'x'), made);
      assert.equal((await check.pool.query('SELECT count(*)::int AS n FROM users')).rows[0].n, 0, 'nothing of the tables was copied (one transaction)');
    } finally {
      await check.close();
    }

    // A user of the same name under another id.
    const { dir: dir3 } = await dataDirWith(20);
    await plantIdentity(dir3, secrets);
    const url3 = await newDatabase();
    const other = await PostgresEventStore.open({ url: url3, poolMax: 1 });
    await (await PostgresIdentityStore.open(other.pool)).insertUser({ id: 'someone-else', name: 'carol', role: 'admin', passwordHash: null, createdAt: 1, disabled: false, email: null, source: 'local', accountId: null });
    await other.close();
    await assert.rejects(migrateEvents({ dataDir: dir3, url: url3 }), (err) => isFlinkTrailError(err) && err.code === 'FT_ERR_MIGRATE_CONFLICT' && /user named 'carol'/.test(err.message));
    assert.equal(recordedStore(dir3), undefined);
  });

  it("copies the directory's digest keys with their private halves sealed; an instance on another data directory signs with the active one", async () => {
    const { dir } = await dataDirWith(20);
    const keyFile = join(tempDir('ft-migrate-keys-'), 'master.key');
    ensureKeyFile(keyFile);
    const secrets = new Secrets(loadMasterKey(`file:${keyFile}`));
    const k = await plantDigestKeys(dir, secrets);
    const url = await newDatabase();
    // A key in clear must be sealed on the way, which takes the master key.
    await assert.rejects(migrateEvents({ dataDir: dir, url }), (err) => isFlinkTrailError(err) && err.code === 'FT_ERR_MIGRATE_SOURCE' && err.message.includes(k.retired));
    assert.equal(recordedStore(dir), undefined, 'not switched');

    // The CLI opens the configured master key for it.
    const env = { ...process.env, FLINKTRAIL__SECRETS__MASTER_KEY: `file:${keyFile}` };
    const { stdout } = await run(process.execPath, [join(REPO, 'bin/flinktrail.mjs'), 'migrate', '--from', dir, '--to', url, '-o', 'json'], { cwd: REPO, env });
    assert.deepEqual((JSON.parse(stdout) as { Tables: Record<string, unknown> }).Tables['trail_digest_keys'], { Rows: 2, Copied: 2 });
    const again = await copyTablesAgain(dir, url, secrets);
    assert.deepEqual(again.trail_digest_keys, { rows: 2, copied: 0 }, 'idempotent');

    const db = openDatabase(dir);
    const store = await PostgresEventStore.open({ url, poolMax: 2 });
    try {
      const pg = await PostgresDigestKeyStore.open(store.pool);
      assert.deepEqual(await pg.list(), await new SqliteDigestKeyStore(db).list(), 'public halves and validity as they were');
      const sealed = (await store.pool.query('SELECT fingerprint, sealed_private_key FROM trail_digest_keys')).rows as { fingerprint: string; sealed_private_key: string }[];
      assert.ok(sealed.every((r) => isSealed(r.sealed_private_key)), 'no private half in clear, the one written in clear included');
      assert.equal(secrets.open((await pg.sealedPrivateKey(k.retired)) ?? '', DIGEST_KEY_CONTEXT), k.retiredPem.trim());
      assert.equal(readFileSync(digestKeyFile(dir, k.retired), 'utf8'), k.retiredPem, "the directory's files are left as they are");
      // Another instance, its own data directory: signs with the directory's active key.
      const keys = new DigestKeys(pg, tempDir('ft-migrate-other-'), secrets);
      const signer = await keys.active();
      assert.equal(signer.fingerprint, k.active);
      const info = (await keys.publicKeys()).find((p) => p.Fingerprint === k.active);
      assert.ok(info && verify(null, Buffer.from('digest'), importPublicKey(info), sign(null, Buffer.from('digest'), signer.privateKey)));
    } finally {
      await store.close();
      db.close();
    }

    // A FlinkTrail already ran on the target and made its own key: refused, not switched.
    const dir2 = (await dataDirWith(20)).dir;
    await plantDigestKeys(dir2, secrets);
    const url2 = await newDatabase();
    const theirs = await PostgresEventStore.open({ url: url2, poolMax: 1 });
    const made = (await new DigestKeys(await PostgresDigestKeyStore.open(theirs.pool), tempDir('ft-migrate-theirs-'), secrets).active()).fingerprint;
    await theirs.close();
    await assert.rejects(
      migrateEvents({ dataDir: dir2, url: url2, sealer: secrets }),
      (err) => isFlinkTrailError(err) && err.code === 'FT_ERR_MIGRATE_CONFLICT' && err.message.includes(made) && /trail digest key/.test(err.message),
    );
    assert.equal(recordedStore(dir2), undefined);

    // Another public key under one of the directory's fingerprints.
    const dir3 = (await dataDirWith(20)).dir;
    const k3 = await plantDigestKeys(dir3, secrets);
    const url3 = await newDatabase();
    const forged = await PostgresEventStore.open({ url: url3, poolMax: 1 });
    await PostgresDigestKeyStore.open(forged.pool);
    await forged.pool.query('INSERT INTO trail_digest_keys (fingerprint, public_key, sealed_private_key, valid_from, valid_to) VALUES ($1, $2, NULL, 1, 2)', [k3.retired, 'another key']);
    await forged.close();
    await assert.rejects(
      migrateEvents({ dataDir: dir3, url: url3, sealer: secrets }),
      (err) => isFlinkTrailError(err) && err.code === 'FT_ERR_MIGRATE_CONFLICT' && err.message.includes(k3.retired) && /public_key/.test(err.message),
    );
    assert.equal(recordedStore(dir3), undefined);
  });

  it('secrets rotate after the move re-wraps what PostgreSQL holds as well as the directory (the CLI)', async () => {
    const { dir } = await dataDirWith(20);
    const keys = tempDir('ft-migrate-keys-');
    ensureKeyFile(join(keys, 'old.key'));
    const old = new Secrets(loadMasterKey(`file:${join(keys, 'old.key')}`));
    const p = await plantIdentity(dir, old);
    const url = await newDatabase();
    await migrateEvents({ dataDir: dir, url });
    const env = { ...process.env, FLINKTRAIL__STORE__URL: url, FLINKTRAIL__SECRETS__MASTER_KEY: `file:${join(keys, 'old.key')}` };
    const { stdout } = await run(process.execPath, [join(REPO, 'bin/flinktrail.mjs'), 'secrets', 'rotate', '--new-key-file', join(keys, 'new.key'), '--data-dir', dir, '-o', 'json'], { cwd: REPO, env });
    const answer = JSON.parse(stdout) as { KeyId: string; RewrappedValues: number; RewrappedPostgresValues?: number };
    // PostgreSQL: two meta keys and the signing secret; the directory keeps its own copies (the backup) too.
    assert.equal(answer.RewrappedPostgresValues, 3);
    assert.equal(answer.RewrappedValues, 6);
    const fresh = new Secrets(loadMasterKey(`file:${join(keys, 'new.key')}`));
    assert.equal(fresh.active.id, answer.KeyId);
    const store = await PostgresEventStore.open({ url, poolMax: 2 });
    try {
      assert.equal(await (await PostgresMetaStore.open(store.pool, fresh)).secret('pagination-token-key', () => 'made anew'), p.hmac);
      const sealed = (await (await PostgresIdentityStore.open(store.pool)).signingSecret(p.accessKeyId)) ?? '';
      assert.equal(Secrets.keyIdOf(sealed), fresh.active.id);
      assert.equal(fresh.open(sealed, signingContext(p.accessKeyId)), p.accessKeySecret);
      const own = (await store.copyRange(0, 1_000_000)).map((r) => r.event).filter((e) => e.eventName === 'RotateMasterKey');
      assert.equal(own.length, 1, 'recorded in the store the directory uses');
      assert.equal(own[0]?.requestParameters['postgresValues'], 3);
    } finally {
      await store.close();
    }
  });

  it('serves the migrated directory from PostgreSQL: LookupEvents answers with the copied events', async () => {
    const { dir } = await dataDirWith(300);
    const cred = await makeKey(dir, 'alice', 'admin');
    const url = await newDatabase();
    await migrateEvents({ dataDir: dir, url });
    const app = await startInProcess('http://127.0.0.1:9', { store: { url } }, dir);
    try {
      const expected = sourceEvents(dir)
        .filter((p) => p.event.eventName === 'CancelJob')
        .map((p) => p.event.eventId)
        .reverse();
      assert.ok(expected.length > 10);
      const q = new URLSearchParams({ eventName: 'CancelJob', startTime: new Date(Date.now() - 8 * DAY).toISOString(), maxResults: '100' });
      const res = await fetch(`${app.info.apiUrl}/api/v1/events?${q.toString()}`, { headers: { authorization: basic(cred) } });
      assert.equal(res.status, 200);
      const page = (await res.json()) as { Events: ActionTrailEvent[] };
      assert.deepEqual(
        page.Events.map((e) => e.eventId),
        expected,
        'every CancelJob recorded in SQLite before the migration, newest first, from PostgreSQL',
      );
    } finally {
      await app.close();
    }
  });
  it("copies the directory's trails with their ids, positions, files, digest chains, jobs and dead letters; a re-run brings them up to date; leases are not copied", async () => {
    const { dir } = await dataDirWith(200);
    const secrets = testSecrets();
    const lastSeq = (sourceEvents(dir).at(-1) as Positioned).seq;
    await plantTrail(dir, secrets, lastSeq);
    const url = await newDatabase();
    // An earlier run copied the tables and stopped before the switch; delivery went on since.
    const first = await copyTablesAgain(dir, url, secrets);
    assert.deepEqual(first.trails, { rows: 1, copied: 1 });
    assert.deepEqual(first.trail_cursors, { rows: 4, copied: 4 }, 'two live cursors and two of the history job');
    {
      const db = openDatabase(dir);
      try {
        const repo = new SqliteTrailRepository(db, join(dir, 'trails'), secrets);
        const d = (await repo.mustGet(TRAIL)).destinations[0]!;
        const [cursor] = await repo.cursorsOf(d.id);
        const f = { key: 'AliyunLogs/local/c.json.gz', region: 'local', cutAt: T0 + 180_000, sha256: 'c'.repeat(64), size: 99, events: 4, oldest: '2023-11-14T22:13:22Z', newest: '2023-11-14T22:13:23Z' };
        await repo.delivered(cursor!.id, d.id, lastSeq - 5, 4, [f], T0 + 190_000);
        const [chain] = await repo.chains(d.id);
        await repo.digestWritten(chain!, T0 + 7200_000, 'AliyunLogs/local/Digest/d2.json.gz', 'd'.repeat(64), 'sig-2', T0 + 7201_000);
        // A lease of the process delivering from the directory: not copied, a new holder starts fresh.
        assert.ok(await repo.acquireLease(TRAIL, 'old-process', 60_000));
      } finally {
        db.close();
      }
    }
    const expected = await directoryTrails(dir, secrets);

    const result = await migrateEvents({ dataDir: dir, url, sealer: secrets });
    assert.equal(result.verified, true);
    assert.deepEqual(result.tables?.trails, { rows: 1, copied: 0 });
    assert.deepEqual(result.tables?.trail_destinations, { rows: 2, copied: 0 });
    assert.deepEqual(result.tables?.trail_files, { rows: 3, copied: 1 }, 'the file delivered since the earlier run');
    assert.deepEqual(result.tables?.trail_off_times, { rows: 1, copied: 0 });
    assert.deepEqual(result.tables?.trail_digest_chains, { rows: 1, copied: 0 });
    assert.deepEqual(result.tables?.trail_history_jobs, { rows: 1, copied: 0 });
    assert.deepEqual(result.tables?.trail_dead_letters, { rows: 1, copied: 0 });

    await withPgTrails(url, dir, secrets, async (repo, pool) => {
      assert.deepEqual(await trailState(repo), expected, 'the same trail, positions, plan, counts, files, chains, jobs and dead letters, under the same ids');
      const trail = await repo.mustGet(TRAIL);
      const [cursor] = await repo.cursorsOf(trail.destinations[0]!.id);
      assert.equal(cursor?.position, lastSeq - 5, 'the position delivery reached after the earlier run');
      assert.equal((await repo.chains(trail.destinations[0]!.id))[0]?.lastSignature, 'sig-2', 'the chain head written after the earlier run');
      assert.deepEqual(await repo.leases(), [], 'no lease copied');
      const stored = (await pool.query<{ id: string; url: string }>('SELECT id, url FROM trail_destinations ORDER BY id')).rows.map((r) => [Number(r.id), r.url]);
      const db = openDatabase(dir);
      try {
        assert.deepEqual(stored, (db.prepare('SELECT id, url FROM trail_destinations ORDER BY id').all() as { id: number; url: string }[]).map((r) => [r.id, r.url]), 'URLs as they are');
      } finally {
        db.close();
      }
      assert.ok(isSealed(String(stored[1]?.[1])) && !String(stored[1]?.[1]).includes(S3_SECRET), 'the S3 credentials stay sealed');
      assert.ok((stored[0]?.[0] as number) > 2, 'the deleted trail used the first ids: kept, not renumbered');
      // New rows on PostgreSQL take ids after the copied ones.
      const other = await repo.create({ name: 'new-trail', eventRW: 'All', trailRegion: 'All', digestInterval: 3600, destinations: [parseDestination('file:///srv/audit/x', { localDir: '/tmp' })] }, 'local', T0, lastSeq);
      assert.ok((other.destinations[0]?.id ?? 0) > (stored[1]?.[0] as number));
      const cursors = await repo.allCursors();
      assert.equal(new Set(cursors.map((c) => c.id)).size, cursors.length);
      await repo.delete('new-trail', T0);
    });

    // Once switched, a run copies nothing again (it would move positions back).
    const again = await migrateEvents({ dataDir: dir, url, sealer: secrets });
    assert.equal(again.tables, undefined);
    assert.equal(again.groups, undefined);
    await withPgTrails(url, dir, secrets, async (repo) => assert.deepEqual(await trailState(repo), expected));
  });

  it("copies each trail's owning account and multi-account flag, and its history jobs' account", async () => {
    const { dir } = await dataDirWith(20);
    const secrets = testSecrets();
    const member = '2000000000000001';
    const db = openDatabase(dir);
    try {
      const repo = new SqliteTrailRepository(db, join(dir, 'trails'), secrets);
      const spec = (name: string, multi = false) => ({
        name,
        eventRW: 'All' as const,
        trailRegion: 'All' as const,
        digestInterval: 3600,
        destinations: [parseDestination(`file://${dir}/${name}`, { localDir: join(dir, 'trails') })],
        ...(multi ? { isOrganizationTrail: true } : {}),
      });
      const mine = await repo.create(spec('member-trail'), 'local', T0, 0, member);
      await repo.create(spec('every-account-trail', true), 'local', T0, 0);
      await repo.createJob(mine, 10, undefined, 0, 1, T0 + 1);
    } finally {
      db.close();
    }
    const expected = await directoryTrails(dir, secrets);
    const url = await newDatabase();
    const result = await migrateEvents({ dataDir: dir, url, sealer: secrets });
    assert.equal(result.verified, true);
    assert.deepEqual(result.tables?.trails, { rows: 2, copied: 2 });
    await withPgTrails(url, dir, secrets, async (repo) => {
      assert.deepEqual(await trailState(repo), expected);
      assert.deepEqual((await repo.list()).map((t) => [t.name, t.accountId, t.isOrganizationTrail]), [
        ['every-account-trail', undefined, true],
        ['member-trail', member, false],
      ]);
      assert.deepEqual((await repo.jobs(undefined, 1, 10, member)).jobs.map((j) => [j.trail, j.accountId]), [['member-trail', member]]);
    });
  });

  it('refuses to copy a trail over one of the same name that PostgreSQL made (FT_ERR_MIGRATE_CONFLICT), switching nothing', async () => {
    const { dir } = await dataDirWith(50);
    const secrets = testSecrets();
    await plantTrail(dir, secrets, 40);
    const url = await newDatabase();
    await withPgTrails(url, dir, secrets, (repo) =>
      repo.create({ name: TRAIL, eventRW: 'Write', trailRegion: 'All', digestInterval: 3600, destinations: [parseDestination('file:///srv/audit/x', { localDir: '/tmp' })] }, 'local', T0 + 5, 0),
    );
    await assert.rejects(migrateEvents({ dataDir: dir, url, sealer: secrets }), (err: unknown) => isFlinkTrailError(err) && err.code === 'FT_ERR_MIGRATE_CONFLICT' && /the trail audit-trail with another created_at/.test(err.message));
    assert.equal(recordedStore(dir), undefined, 'not switched');
    await withPgTrails(url, dir, secrets, async (repo) => {
      const t = await repo.mustGet(TRAIL);
      assert.deepEqual([t.eventRW, t.createdAt, t.destinations.map((d) => d.url)], ['Write', T0 + 5, ['file:///srv/audit/x']], 'untouched');
      assert.equal((await repo.jobs(undefined, 1, 10)).total, 0, 'nothing of the directory written');
    });
  });

  it('upgrade: a directory an older version served with store.url keeps its trails in SQLite; serve warns, migrate copies them (and its users) once, into a store that has none', async () => {
    const dir = tempDir('ft-migrate-');
    const secrets = testSecrets();
    const url = await newDatabase();
    // The older version: events in PostgreSQL from the start (the directory names the store), trails and users in the directory.
    const store = await PostgresEventStore.open({ url, poolMax: 2 });
    const events = newEvents(30);
    await store.importPositioned(events.map((event, i) => ({ seq: i + 1, event })), 0);
    const db = openDatabase(dir);
    claimEventStore(db, dir, store.id);
    db.close();
    await store.close();
    await plantTrail(dir, secrets, 30);
    await plantIdentity(dir, secrets);
    const expected = await directoryTrails(dir, secrets);

    /** The warnings buildApp logs on the directory with the store URL. */
    const warnings = async (): Promise<string[]> => {
      const lines: string[] = [];
      const sink = new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(chunk.toString()), done()) });
      const config = buildConfig({ dataDir: dir, api: { port: 0 }, clusters: [{ name: 'default', url: 'http://127.0.0.1:9' }], store: { url } });
      const app = await buildApp(config, { log: createLogger('warn', sink), secrets });
      await app.close();
      return lines.map((l) => String((JSON.parse(l) as { msg: string }).msg));
    };
    const before = await warnings();
    assert.ok(before.some((m) => /data directory has trails that PostgreSQL does not.*flinktrail migrate --from DIR --to URL/.test(m)), before.join('\n'));

    const out = await run(process.execPath, [join(REPO, 'bin/flinktrail.mjs'), 'migrate', '--from', dir, '--to', url, '-o', 'json'], { cwd: REPO });
    const answer = JSON.parse(out.stdout) as { Events: number; CopiedAfterSwitch?: string[]; NotCopied?: string[]; Tables?: Record<string, { Rows: number; Copied: number }> };
    assert.equal(answer.Events, 0, 'no events in the directory: nothing to verify but that');
    assert.deepEqual(answer.CopiedAfterSwitch, ['identity', 'trails']);
    assert.equal(answer.NotCopied, undefined);
    assert.deepEqual(Object.keys(answer.Tables ?? {}), ['accounts', 'users', 'policies', 'access_keys', 'access_key_signing', 'user_policies', ...COPIED_TABLES.filter((t) => t.startsWith('trail') && t !== 'trail_digest_keys')]);
    assert.deepEqual(answer.Tables?.['trails'], { Rows: 1, Copied: 1 });
    await withPgTrails(url, dir, secrets, async (repo) => assert.deepEqual(await trailState(repo), expected, 'the trails as the directory had them'));
    assert.deepEqual(await warnings(), [], 'no warning once copied');

    // Settled: a later run copies nothing, even once the trails are deleted in PostgreSQL.
    await withPgTrails(url, dir, secrets, (repo) => repo.delete(TRAIL, T0 + 10));
    const again = await migrateEvents({ dataDir: dir, url, sealer: secrets });
    assert.deepEqual([again.tables, again.groups, again.kept], [undefined, undefined, undefined]);
    await withPgTrails(url, dir, secrets, async (repo) => assert.deepEqual(await repo.list(), []));
  });

  it('upgrade: trails PostgreSQL already holds its own of are not copied over (said, not merged)', async () => {
    const dir = tempDir('ft-migrate-');
    const secrets = testSecrets();
    const url = await newDatabase();
    const store = await PostgresEventStore.open({ url, poolMax: 2 });
    const db = openDatabase(dir);
    claimEventStore(db, dir, store.id);
    db.close();
    await store.close();
    await plantTrail(dir, secrets, 30);
    await withPgTrails(url, dir, secrets, (repo) =>
      repo.create({ name: 'pg-made-trail', eventRW: 'All', trailRegion: 'All', digestInterval: 3600, destinations: [parseDestination('file:///srv/audit/x', { localDir: '/tmp' })] }, 'local', T0, 0),
    );
    const result = await migrateEvents({ dataDir: dir, url, sealer: secrets });
    assert.deepEqual([result.groups, result.kept, result.tables], [undefined, ['trails'], undefined]);
    await withPgTrails(url, dir, secrets, async (repo) => assert.deepEqual((await repo.list()).map((t) => t.name), ['pg-made-trail']));
  });
  it('end to end: a trail delivered from the data directory goes on after the move, from PostgreSQL, and validate-logs passes across the switch', async () => {
    const live = tempDir('ft-live-');
    const start = Date.now() - 60_000;
    const traffic = async (t: TrailApp, ms: number) => {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        await t.call('GET', '/api/v1/whoami');
        await sleep(60);
      }
    };
    // Before: the embedded store, a trail with digests every second.
    const first = await startTrailApp();
    const dir = first.dataDir;
    try {
      const c = await first.call('POST', '/api/v1/trails', { Name: 'moving-trail', EventRW: 'All', Destinations: [`file://${live}`], DigestInterval: 1 });
      assert.equal(c.status, 200, JSON.stringify(c.body));
      await first.call('POST', '/api/v1/trails/moving-trail/start');
      await traffic(first, 2500);
      await until('a digest written from the directory', () => (first.app.db.prepare('SELECT MAX(last_end) FROM trail_digest_chains').pluck().get() ? true : undefined));
    } finally {
      await first.close();
    }
    const filesBefore = new Set(readLogFiles(live).keys());
    assert.ok(filesBefore.size > 0);
    const digestsBefore = new Set(digestKeysUnder(live));

    const url = await newDatabase();
    const result = await migrateEvents({ dataDir: dir, url });
    assert.equal(result.tables?.trails?.rows, 1);
    const switchedAt = Date.now();

    // After: the same directory served from PostgreSQL goes on delivering the trail.
    const second = await startTrailApp({ store: { url } }, dir, first.cred);
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    try {
      await traffic(second, 2500);
      await second.call('POST', '/api/v1/trails/moving-trail/stop');
      const stoppedAt = Date.now();
      const q = async (sql: string) => Number(((await pool.query(sql)).rows[0] as { n: string | number | null }).n ?? 0);
      await until('every file covered by a digest, from PostgreSQL', async () => {
        if (Date.now() < stoppedAt + 2500) return undefined;
        const lastCut = await q('SELECT MAX(cut_at) AS n FROM trail_files');
        const lastEnd = await q('SELECT MAX(last_end) AS n FROM trail_digest_chains');
        const planned = await q('SELECT COUNT(*) AS n FROM trail_cursors WHERE plan_from IS NOT NULL');
        return planned === 0 && lastCut < lastEnd ? true : undefined;
      });
      const files = readLogFiles(live);
      const added = [...files.keys()].filter((k) => !filesBefore.has(k));
      assert.ok(added.length > 0, 'files delivered after the switch');
      const delivered = [...files.values()].flat();
      assert.ok(
        delivered.some((e) => Date.parse(e.eventTime) > switchedAt && e.eventName !== 'MigrateEventStore'),
        'events recorded in PostgreSQL after the switch are delivered',
      );
      assert.equal(new Set(delivered.map((e) => e.eventId)).size, delivered.length, 'no event delivered twice across the switch');
      const keys = await second.call<{ PublicKeyList: PublicKeyInfo[] }>('GET', '/api/v1/trails/moving-trail/digest-public-keys');
      assert.equal(keys.status, 200);
      const report = await validateLogs({ reader: new FileObjectStore(live), trail: 'moving-trail', publicKeys: keys.body.PublicKeyList, start, end: Date.now() });
      assert.deepEqual(
        report.findings.filter((f) => f.severity === 'error'),
        [],
        'the digest chain goes on across the switch',
      );
      assert.ok(report.ok && report.digests.valid > 1);
      // The first digest written from PostgreSQL links to the last one written from the directory: one chain, not a new one.
      const newDigests = digestKeysUnder(live).filter((k) => !digestsBefore.has(k));
      assert.ok(newDigests.length > 0);
      const linked = newDigests.map((k) => readDigest(readFileSync(join(live, k))).body.previousDigestObject);
      assert.ok(
        linked.some((prev) => prev !== null && digestsBefore.has(prev)),
        `a digest after the switch names one from before as its previous (${JSON.stringify(linked)})`,
      );
      assert.ok(!linked.includes(null), 'no chain started anew');
    } finally {
      await pool.end();
      await second.close();
    }
  });
});
