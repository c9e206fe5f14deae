/**
 * `flinktrail migrate --from DIR --to postgres://…`: moves a data directory's events from its
 * embedded SQLite store into a PostgreSQL event store, then switches the directory to it.
 *
 * - Positions are kept: every event is written with the seq it had, so the directory's trail
 *   cursors, digest chains and backfill jobs (which count positions) stay true, and appends on
 *   PostgreSQL continue after the last copied position. So the target must be empty or hold an
 *   earlier, interrupted copy of this directory (FT_ERR_MIGRATE_DIVERGED otherwise).
 * - Resumable: the target's last position says where a copy stopped; running the same command
 *   again continues there. Events copied while still pending (an operation whose outcome came
 *   later) are brought up to date on every run.
 * - Verified: the count and a SHA-256 over every (position, event) of both stores in position
 *   order, each event in one canonical JSON form (keys sorted), must be equal. Only then does the
 *   directory's `event-store` record name the PostgreSQL store, which `serve --store` checks.
 * - Then the directory's users, AccessKeys (sealed signing secrets as they are), policies,
 *   sessions, Kubernetes object state, `meta` keys, trail digest keys (with their sealed
 *   private key files) and trails (definitions, destinations, positions, files, digest chains,
 *   jobs, dead letters; ids kept) are copied in one transaction and counted on both sides
 *   (migrate-tables.ts: resumable, and refusing to overwrite what it did not copy,
 *   FT_ERR_MIGRATE_CONFLICT). Once switched, PostgreSQL holds them: a later run copies none again
 *   (it would bring back what was deleted there since, and move trail positions back).
 * - Except what an older version left behind: a directory switched (or served with `store.url`)
 *   by a version that kept trails, digest keys or identities in the directory has them copied
 *   by a later run — events are only verified then — feature by feature, each only into a
 *   target that has none of it (FEATURE_GROUPS). The directory's meta then records every
 *   feature as settled, so this happens once.
 * - The SQLite copy stays in the directory (a backup); a server started on the directory without
 *   that store URL is refused (FT_ERR_STORE_MISMATCH) rather than recording into the old one.
 *
 * Stop FlinkTrail on the directory before the last run: events it records during the copy make
 * the verification fail (nothing is switched then; run again once it is stopped).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import stringify from 'safe-stable-stringify';
import type { ActionTrailEvent } from '../event/types.js';
import type { Sealer } from '../secrets/envelope.js';
import { FlinkTrailError } from '../errors/index.js';
import { copiedGroups, copyTables, GROUPS, groupsToCopy, recordCopiedGroups, type FeatureGroup, type TableCounts } from './migrate-tables.js';
import { PostgresEventStore } from './postgres/events.js';
import { redactUrl } from './postgres/url.js';
import { DB_FILE, openDatabase, type Db } from './sqlite/database.js';
import { SqliteEventStore } from './sqlite/events.js';
import type { Positioned } from './types.js';

export interface MigrateOptions {
  dataDir: string;
  url: string;
  /** The PostgreSQL schema (tests); default: the database's search_path. */
  schema?: string;
  /** The management account (`Config.accountId`): its events are stored without an account on both sides. */
  managementAccountId?: string;
  /** Events per copying transaction (default 2,000). */
  batch?: number;
  /** Called after each copied batch. */
  onProgress?: (p: { copied: number; total: number }) => void;
  /** Stop after copying this many events (tests: an interrupted copy), without verifying. */
  stopAfter?: number;
  /** Recorded in the target once the directory is switched (the migration's own event). */
  record?: (migration: MigrateResult) => ActionTrailEvent;
  /** The master key ring: seals a digest key file an older version wrote in clear (used only then). */
  sealer?: Sealer;
}

export interface MigrateResult {
  /** Events in the source (and so in the target once verified). */
  events: number;
  /** Events copied by this run. */
  copied: number;
  /** The position this run started after (0: a new copy). */
  resumedAfter: number;
  /** Events copied while pending, brought up to date by this run. */
  updated: number;
  /** The last position of both stores. */
  lastSeq: number;
  /** SHA-256 (hex) over every position and event, equal on both sides. */
  sha256: string;
  /** The store the directory now uses (`postgres:<uuid>`); absent when stopped early. */
  store?: string;
  /**
   * Per feature table: rows in both stores (verified equal) and rows this run inserted. Absent
   * when stopped early, and when the directory had been switched already and nothing was left to
   * copy; only the tables of `groups` when it had been switched by an older version.
   */
  tables?: TableCounts;
  /** The feature groups copied into a store the directory had been switched to already (an older version's switch). */
  groups?: FeatureGroup[];
  /** Feature groups the directory has but that were not copied, since the store it had been switched to holds its own (copied by that switch, or made there since). */
  kept?: FeatureGroup[];
  verified: boolean;
}

const META_KEY = 'event-store';

/** Count and digest of a store's events in position order, read `batch` at a time. */
async function digest(read: (after: number, limit: number) => Positioned[] | Promise<Positioned[]>, batch: number): Promise<{ count: number; last: number; sha256: string }> {
  const hash = createHash('sha256');
  let count = 0;
  let last = 0;
  for (;;) {
    const rows = await read(last, batch);
    if (rows.length === 0) break;
    for (const r of rows) hash.update(`${r.seq}\t${stringify(r.event)}\n`);
    count += rows.length;
    last = (rows[rows.length - 1] as Positioned).seq;
  }
  return { count, last, sha256: hash.digest('hex') };
}

function recordedStore(db: Db): string | undefined {
  return (db.prepare('SELECT value FROM meta WHERE key = ?').get(META_KEY) as { value: string } | undefined)?.value;
}

export async function migrateEvents(o: MigrateOptions): Promise<MigrateResult> {
  const batch = o.batch ?? 2000;
  if (!existsSync(join(o.dataDir, DB_FILE))) throw new FlinkTrailError('FT_ERR_MIGRATE_SOURCE', o.dataDir, `it has no ${DB_FILE}`);
  const db = openDatabase(o.dataDir);
  let target: PostgresEventStore | undefined;
  try {
    const management = o.managementAccountId !== undefined ? { managementAccountId: o.managementAccountId } : {};
    const source = new SqliteEventStore(db, { flushIntervalMs: 20, ...management });
    target = await PostgresEventStore.open({ url: o.url, flushIntervalMs: 5, poolMax: 2, ...management, ...(o.schema ? { schema: o.schema } : {}) });
    const recorded = recordedStore(db);
    if (recorded !== undefined && recorded !== 'sqlite' && recorded !== target.id) {
      throw new FlinkTrailError('FT_ERR_MIGRATE_SOURCE', o.dataDir, `its events are in the store ${recorded}, not in the data directory`);
    }
    const total = (db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
    // Already moved (a run after a successful one): nothing to copy; the copy is verified again
    // up to the source's last position (the target has gone on recording since).
    const switched = recorded === target.id;

    // Where an earlier copy stopped: the target's last event must be the source's at that position.
    const resumedAfter = switched ? 0 : await target.lastSeq();
    if (resumedAfter > 0) {
      const [theirs] = await target.copyRange(resumedAfter - 1, 1);
      const [ours] = source.copyRange(resumedAfter - 1, 1);
      if (!theirs || !ours || ours.seq !== resumedAfter || ours.event.eventId !== theirs.event.eventId) {
        throw new FlinkTrailError('FT_ERR_MIGRATE_DIVERGED', '0', `its event at position ${resumedAfter} is not this data directory's`);
      }
    }

    // Events copied while pending whose outcome the source has since recorded.
    let updated = 0;
    for (const id of await target.pendingEventIds()) {
      const now = await source.get(id);
      if (now && now.additionalEventData.outcome !== 'pending') {
        await target.complete(now);
        updated++;
      }
    }

    // Copied by earlier runs.
    const before = (db.prepare('SELECT count(*) AS n FROM events WHERE seq <= ?').get(resumedAfter) as { n: number }).n;
    let copied = 0;
    let after = resumedAfter;
    while (!switched) {
      const limit = o.stopAfter !== undefined ? Math.min(batch, o.stopAfter - copied) : batch;
      if (limit <= 0) break;
      const rows = source.copyRange(after, limit);
      if (rows.length === 0) break;
      await target.importPositioned(rows, after);
      after = (rows[rows.length - 1] as Positioned).seq;
      copied += rows.length;
      o.onProgress?.({ copied: before + copied, total });
    }
    if (o.stopAfter !== undefined && copied >= o.stopAfter) {
      return { events: total, copied, resumedAfter, updated, lastSeq: after, sha256: '', verified: false };
    }

    const ours = await digest((a, n) => source.copyRange(a, n), batch);
    const t = target;
    const theirs = await digest(async (a, n) => (await t.copyRange(a, n)).filter((r) => !switched || r.seq <= ours.last), batch);
    const where = redactUrl(o.url);
    if (ours.count !== theirs.count || ours.last !== theirs.last || ours.sha256 !== theirs.sha256) {
      const what =
        ours.count !== theirs.count || ours.last !== theirs.last
          ? `the data directory has ${ours.count} events up to position ${ours.last}, the copy ${theirs.count} up to ${theirs.last}`
          : `the same ${ours.count} positions hold different events (SHA-256 ${ours.sha256.slice(0, 12)}… against ${theirs.sha256.slice(0, 12)}…)`;
      throw new FlinkTrailError('FT_ERR_MIGRATE_UNVERIFIED', where, o.dataDir, what);
    }
    const sealer = o.sealer ? { sealer: o.sealer } : {};
    let tables: TableCounts | undefined;
    let groups: FeatureGroup[] | undefined;
    let kept: FeatureGroup[] | undefined;
    if (!switched) {
      // After the events, before the switch: a refusal or a count that differs switches nothing.
      tables = await copyTables(db, target.pool, where, o.dataDir, sealer);
    } else {
      // Switched before: only what an older version left in the directory and the store lacks altogether.
      const settled = copiedGroups(db);
      const open = GROUPS.filter((g) => !settled.includes(g));
      const state = open.length ? await groupsToCopy(db, target.pool, open) : { missing: [], both: [] };
      groups = state.missing;
      kept = state.both;
      if (groups.length) tables = await copyTables(db, target.pool, where, o.dataDir, { ...sealer, groups });
    }
    db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(META_KEY, target.id);
    recordCopiedGroups(db, GROUPS);
    const result: MigrateResult = {
      events: ours.count,
      copied,
      resumedAfter,
      updated,
      lastSeq: ours.last,
      sha256: ours.sha256,
      store: target.id,
      ...(tables ? { tables } : {}),
      ...(groups?.length ? { groups } : {}),
      ...(kept?.length ? { kept } : {}),
      verified: true,
    };
    if (o.record && (!switched || tables)) await target.journal(o.record(result));
    return result;
  } finally {
    await target?.close();
    db.close();
  }
}

