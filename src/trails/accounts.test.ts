/**
 * Trails and accounts, at the engine: a member account's trail delivers its own account's events
 * only (live and backfill), the management account's ordinary trail the management account's
 * (with events that name no account), and a multi-account trail every account's, each under
 * `<rd_id>/<accountId>/<region>/` with its own digest chain, which validate-logs checks account by
 * account. One data directory, events appended to the store directly.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { newEvents } from '../../test/helpers/events.js';
import { testSecrets } from '../../test/helpers/secrets.js';
import { buildConfig } from '../config/index.js';
import type { ActionTrailEvent } from '../event/types.js';
import { openDatabase, type Db } from '../store/sqlite/database.js';
import { SqliteEventStore } from '../store/sqlite/events.js';
import { createLogger } from '../telemetry/logger.js';
import { readDigest } from './digest/format.js';
import { DigestKeys } from './digest/keys.js';
import { DeliveryEngine } from './engine.js';
import { decodeFile, parseDigestKey } from './layout.js';
import { createTrailMetrics } from './metrics.js';
import { validateCreate } from './model.js';
import type { TrailRecord } from './repository.js';
import { FileObjectStore } from './sinks/index.js';
import { SqliteDigestKeyStore } from './sqlite/digest-keys.js';
import { SqliteTrailRepository } from './sqlite/repository.js';
import { validateLogs } from './validate-logs/index.js';

const MGMT = '1000000000000001';
const A = '2000000000000001';
const B = '2000000000000002';
const RD = `rd-${MGMT}`;

/** Every log file under a directory destination: key (relative) → events. */
async function logFiles(root: string): Promise<Map<string, ActionTrailEvent[]>> {
  const store = new FileObjectStore(root);
  const out = new Map<string, ActionTrailEvent[]>();
  const walk = async (prefix: string): Promise<void> => {
    for (const k of await store.list(prefix)) out.set(k, decodeFile((await store.get(k))!));
    for (const d of await store.listDirs(prefix)) await walk(d);
  };
  await walk('AliyunLogs/Actiontrail/');
  return out;
}

const ids = (events: Iterable<ActionTrailEvent>) => [...events].map((e) => e.eventId).sort();

describe('trails and accounts', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ft-accounts-'));
  const dirs = { member: mkdtempSync(join(tmpdir(), 'ft-acct-a-')), mgmt: mkdtempSync(join(tmpdir(), 'ft-acct-m-')), org: mkdtempSync(join(tmpdir(), 'ft-acct-o-')) };
  let db: Db;
  let store: SqliteEventStore;
  let repo: SqliteTrailRepository;
  let keys: DigestKeys;
  let engine: DeliveryEngine;
  /** Events by account: `legacy` are the management account's that name no account (stored before accounts). */
  const events: Record<'mgmt' | 'legacy' | 'a' | 'b', ActionTrailEvent[]> = { mgmt: [], legacy: [], a: [], b: [] };
  let history: ActionTrailEvent[] = [];

  before(async () => {
    db = openDatabase(dataDir, { synchronous: 'normal' });
    store = new SqliteEventStore(db, { flushIntervalMs: 5 });
    const config = buildConfig({ dataDir, accountId: MGMT, trails: { windowSeconds: 1, pollIntervalMs: 10, minDigestIntervalSeconds: 1, retry: { initialBackoffMs: 10, maxBackoffMs: 100 } } });
    const secrets = testSecrets();
    repo = new SqliteTrailRepository(db, join(dataDir, 'trails'), secrets);
    keys = new DigestKeys(new SqliteDigestKeyStore(db), dataDir, secrets);
    engine = new DeliveryEngine({
      repo,
      store,
      keys,
      config: config.trails,
      accountId: MGMT,
      log: createLogger('silent'),
      metrics: createTrailMetrics(new Registry()),
      region: 'local',
      holder: 'accounts-test',
      openObjectStore: (d) => new FileObjectStore(d.file!.dir),
      openRecordSink: () => assert.fail('no record sinks here'),
    });
    // History: account A's and B's events before any trail started (for backfill).
    history = newEvents(12, { start: Date.now() - 60_000, stepMs: 1 }).map((e, i) => ({ ...e, recipientAccountId: i % 2 ? A : B }));
    for (const e of history) await store.append(e);

    const make = async (name: string, dir: string, owner: string | undefined, multi = false): Promise<TrailRecord> => {
      const spec = validateCreate({ Name: name, EventRW: 'All', Destinations: [`file://${dir}`], DigestInterval: 1, ...(multi ? { IsOrganizationTrail: true } : {}) }, {
        knownRegions: new Set(['local']),
        defaultDigestInterval: 1,
        minDigestInterval: 1,
        localDir: dataDir,
      });
      await repo.create(spec, 'local', Date.now(), await store.lastSeq(), owner);
      return repo.start(name, Date.now() - 1, await store.lastSeq());
    };
    await make('member-trail', dirs.member, A);
    await make('mgmt-trail', dirs.mgmt, undefined);
    await make('org-trail', dirs.org, undefined, true);
    engine.start();

    const start = Date.now();
    const batch = newEvents(40, { start, stepMs: 1 });
    batch.forEach((e, i) => {
      const which = (['mgmt', 'legacy', 'a', 'b'] as const)[i % 4]!;
      const account = { mgmt: MGMT, legacy: undefined, a: A, b: B }[which];
      const stored: ActionTrailEvent = { ...e, recipientAccountId: account };
      if (account === undefined) delete stored.recipientAccountId;
      events[which].push(stored);
    });
    for (const e of Object.values(events).flat()) await store.append(e);
    // Drained: every live cursor past the last event with no batch pending, and every path's digest chain past its files.
    const last = await store.lastSeq();
    const deadline = Date.now() + 30_000;
    for (;;) {
      const cursors = (await repo.allCursors()).filter((c) => !c.jobId);
      const filesCovered = await Promise.all(
        (await repo.list()).flatMap((t) => t.destinations).map(async (d) => {
          const chains = await repo.chains(d.id);
          const files = db.prepare('SELECT region, MAX(cut_at) AS cut FROM trail_files WHERE dest_id = ? GROUP BY region').all(d.id) as { region: string; cut: number }[];
          return files.every((f) => chains.some((c) => c.region === f.region && (c.lastEnd ?? 0) > f.cut));
        }),
      );
      if (cursors.every((c) => c.position >= last && !c.plan) && filesCovered.every(Boolean)) break;
      if (Date.now() > deadline) assert.fail('trails did not deliver and digest in time');
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  after(async () => {
    await engine?.stop();
    await store?.close();
    db?.close();
  });

  it("a member account's trail delivers only its own account's events", async () => {
    const files = await logFiles(dirs.member);
    assert.deepEqual(ids([...files.values()].flat()), ids(events.a));
    assert.ok([...files.keys()].every((k) => /^AliyunLogs\/Actiontrail\/(local|cn-hangzhou)\/\d{4}\//.test(k)), 'the single-account layout');
  });

  it("the management account's ordinary trail delivers the management account's events, also those that name no account", async () => {
    const files = await logFiles(dirs.mgmt);
    assert.deepEqual(ids([...files.values()].flat()), ids([...events.mgmt, ...events.legacy]));
  });

  it("a multi-account trail delivers every account's events, each account's under <rd_id>/<accountId>/<region>/, one file per account and region per batch", async () => {
    const files = await logFiles(dirs.org);
    assert.deepEqual(ids([...files.values()].flat()), ids(Object.values(events).flat()));
    for (const [key, list] of files) {
      const m = /^AliyunLogs\/Actiontrail\/(rd-\d+)\/(\d+)\/([a-z-]+)\/\d{4}\/\d\d\/\d\d\/Actiontrail_([a-z-]+)_\d{14}_1002_/.exec(key);
      assert.ok(m, key);
      assert.equal(m[1], RD);
      assert.equal(m[3], m[4], 'the region in the path and in the name');
      for (const e of list) {
        assert.equal(e.recipientAccountId ?? MGMT, m[2], `${e.eventId} is in its own account's path`);
        assert.equal(e.acsRegion, m[3]);
      }
    }
    const accounts = new Set([...files.keys()].map((k) => k.split('/')[3]));
    assert.deepEqual([...accounts].sort(), [MGMT, A, B].sort());
  });

  it('keeps one digest chain per account path, each digest naming its account', async () => {
    const store = new FileObjectStore(dirs.org);
    const digests: string[] = [];
    const walk = async (p: string): Promise<void> => {
      digests.push(...(await store.list(p)));
      for (const d of await store.listDirs(p)) await walk(d);
    };
    await walk('AliyunLogs/Actiontrail-Digest/');
    const byPath = new Set<string>();
    for (const k of digests) {
      const m = /^AliyunLogs\/Actiontrail-Digest\/(rd-\d+)\/(\d+)\/([a-z-]+)\/\d{4}\/\d\d\/\d\d\/(.+)$/.exec(k);
      assert.ok(m, k);
      assert.equal(m[1], RD);
      const body = readDigest((await store.get(k))!).body;
      assert.equal(body.accountId, m[2]);
      assert.equal(body.region, m[3]);
      assert.equal(parseDigestKey(k)?.trail, 'org-trail');
      for (const f of body.logFiles) assert.ok(f.object.startsWith(`AliyunLogs/Actiontrail/${RD}/${m[2]}/${m[3]}/`), 'a digest lists its own path only');
      byPath.add(`${m[2]}/${m[3]}`);
    }
    for (const a of [MGMT, A, B]) assert.ok([...byPath].some((p) => p.startsWith(`${a}/`)), `account ${a} has digests`);
  });

  it('validate-logs validates a multi-account trail account by account, and a change in one account fails that account only', async () => {
    const reader = new FileObjectStore(dirs.org);
    const o = { reader, trail: 'org-trail', publicKeys: await keys.publicKeys(), start: Date.now() - 3_600_000, end: Date.now() + 60_000, accounts: { rdId: RD } };
    const ok = await validateLogs(o);
    assert.equal(ok.ok, true, JSON.stringify(ok.findings));
    assert.deepEqual(ok.accounts?.map((a) => a.accountId), [MGMT, A, B].sort());
    for (const a of ok.accounts ?? []) {
      assert.ok(a.ok && a.files.total > 0 && a.files.valid === a.files.total && a.digests.valid === a.digests.total, JSON.stringify(a));
    }
    const only = await validateLogs({ ...o, accounts: { rdId: RD, only: [B] } });
    assert.deepEqual(only.accounts?.map((a) => a.accountId), [B]);
    assert.equal(only.files.total, ok.accounts?.find((a) => a.accountId === B)?.files.total);

    const victim = [...(await logFiles(dirs.org)).keys()].find((k) => k.split('/')[3] === A)!;
    const path = join(dirs.org, victim);
    const original = readFileSync(path);
    writeFileSync(path, Buffer.concat([original, Buffer.from('x')]));
    try {
      const bad = await validateLogs(o);
      assert.equal(bad.ok, false);
      assert.deepEqual(bad.findings.filter((f) => f.severity === 'error').map((f) => [f.kind, f.object, f.account]), [['file-modified', victim, A]]);
      assert.deepEqual(bad.accounts?.map((a) => [a.accountId, a.ok]), [[MGMT, true], [A, false], [B, true]].sort((x, y) => String(x[0]).localeCompare(String(y[0]))));
    } finally {
      writeFileSync(path, original);
    }
  });

  it("a member account's backfill delivers only its own account's history", async () => {
    const t = await repo.mustGet('member-trail');
    const job = await repo.createJob(t, await store.lastSeq(), t.firstStartAt, 0, t.firstStartAt!, Date.now());
    assert.equal(job.accountId, A);
    engine.poke();
    const deadline = Date.now() + 30_000;
    while ((await repo.job(job.id))?.status !== 2) {
      if (Date.now() > deadline) assert.fail('the history job did not complete');
      await new Promise((r) => setTimeout(r, 50));
    }
    const delivered = [...(await logFiles(dirs.member)).values()].flat();
    assert.deepEqual(ids(delivered), ids([...events.a, ...history.filter((e) => e.recipientAccountId === A)]));
  });
});
