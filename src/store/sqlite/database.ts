/**
 * Opens the embedded SQLite database and brings its schema up to date.
 *
 * One file (`<dataDir>/flinktrail.db`) in WAL mode holds events and FlinkTrail's own state
 * (users, keys). WAL lets the CLI (`flinktrail keys create`) write while the server runs.
 * Migrations are numbered and applied once each inside a transaction. The numbered list is here,
 * in one order, so that the version a data directory recorded keeps its meaning; the SQL of a
 * feature behind its own contract comes from that feature's `sqlite/migrations.ts`.
 *
 * The data directory is 0700 and the database files 0600, whatever the umask: they hold
 * events, password hashes and sealed secrets. Secrets in the `meta` table are sealed with the
 * master key (`metaSecret`, see src/secrets/), and `secure_delete = FAST` zeroes the bytes a
 * changed row leaves behind in its page.
 */
import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { isSealed, type Sealer } from '../../secrets/envelope.js';
import { NONCES_V9 } from '../../api/actiontrail/sqlite/migrations.js';
import { ACCOUNTS_V12, POLICIES_V3, SESSIONS_V3, SIGNING_V9, USERS_V2, USERS_V3 } from '../../identity/sqlite/migrations.js';
import { DIGEST_KEYS_V4, TRAIL_ACCOUNTS_V13, TRAIL_LEASES_V11 } from '../../trails/sqlite/migrations.js';
import { K8S_OBJECTS_V5 } from '../../sources/k8s-audit/sqlite/migrations.js';
import { UUID_GLOB, VALUE_KIND as K } from './values.js';

export type Db = Database.Database;

const MIGRATIONS: readonly string[] = [
  // 1: events and their resources
  `
  CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    event_time INTEGER NOT NULL,
    region TEXT NOT NULL,
    event_rw TEXT NOT NULL,
    event_name TEXT NOT NULL,
    event_type TEXT NOT NULL,
    service_name TEXT NOT NULL,
    user_name TEXT,
    access_key_id TEXT,
    sensitive INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    error_code TEXT,
    source_ip TEXT,
    cluster TEXT,
    body TEXT NOT NULL
  );
  CREATE INDEX events_time ON events (event_time, seq);
  CREATE INDEX events_name_time ON events (event_name, event_time);
  CREATE INDEX events_user_time ON events (user_name, event_time);
  CREATE INDEX events_ak_time ON events (access_key_id, event_time);
  CREATE INDEX events_service_time ON events (service_name, event_time);
  CREATE INDEX events_rw_time ON events (event_rw, event_time);
  CREATE INDEX events_sensitive_time ON events (sensitive, event_time) WHERE sensitive = 1;
  CREATE INDEX events_error_time ON events (error_code, event_time) WHERE error_code IS NOT NULL;
  CREATE INDEX events_pending ON events (outcome) WHERE outcome = 'pending';
  CREATE TABLE event_resources (
    seq INTEGER NOT NULL REFERENCES events (seq) ON DELETE CASCADE,
    type TEXT NOT NULL,
    name TEXT NOT NULL
  );
  CREATE INDEX event_resources_name ON event_resources (name, seq);
  CREATE INDEX event_resources_type ON event_resources (type, seq);
  CREATE INDEX event_resources_seq ON event_resources (seq);
  `,
  // 2: identity
  USERS_V2 +
    `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  `,
  // 3: access control and console sessions
  POLICIES_V3 + SESSIONS_V3 + USERS_V3,
  // 4: trails — definitions, destinations, delivery positions, delivered files, digest chains,
  // delivery history (backfill) jobs, digest public keys (private keys are files in the data dir)
  `
  CREATE TABLE trails (
    name TEXT PRIMARY KEY,
    event_rw TEXT NOT NULL,
    trail_region TEXT NOT NULL,
    home_region TEXT NOT NULL,
    status TEXT NOT NULL,
    digest_interval INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    start_logging_at INTEGER,
    stop_logging_at INTEGER,
    stop_seq INTEGER,
    first_start_seq INTEGER
  );
  CREATE TABLE trail_destinations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    trail TEXT NOT NULL REFERENCES trails (name) ON DELETE CASCADE,
    ord INTEGER NOT NULL,
    url TEXT NOT NULL,
    kind TEXT NOT NULL,
    min_cut_at INTEGER NOT NULL DEFAULT 0,
    last_digest_at INTEGER,
    last_digest_error TEXT
  );
  CREATE TABLE trail_cursors (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dest_id INTEGER NOT NULL REFERENCES trail_destinations (id) ON DELETE CASCADE,
    job_id TEXT,
    position INTEGER NOT NULL,
    end_seq INTEGER,
    plan_from INTEGER,
    plan_to INTEGER,
    plan_cut_at INTEGER,
    plan_filter TEXT,
    delivered_events INTEGER NOT NULL DEFAULT 0,
    last_delivery_at INTEGER,
    last_error TEXT,
    last_error_at INTEGER,
    done INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX trail_cursors_dest ON trail_cursors (dest_id);
  CREATE TABLE trail_gaps (
    trail TEXT NOT NULL REFERENCES trails (name) ON DELETE CASCADE,
    from_seq INTEGER NOT NULL,
    to_seq INTEGER NOT NULL
  );
  CREATE TABLE trail_files (
    dest_id INTEGER NOT NULL REFERENCES trail_destinations (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    region TEXT NOT NULL,
    cut_at INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    events INTEGER NOT NULL,
    oldest TEXT,
    newest TEXT,
    delivered_at INTEGER NOT NULL,
    PRIMARY KEY (dest_id, key)
  );
  CREATE INDEX trail_files_cut ON trail_files (dest_id, region, cut_at);
  CREATE TABLE trail_digest_chains (
    dest_id INTEGER NOT NULL REFERENCES trail_destinations (id) ON DELETE CASCADE,
    region TEXT NOT NULL,
    next_start INTEGER NOT NULL,
    last_key TEXT,
    last_sha256 TEXT,
    last_signature TEXT,
    last_end INTEGER,
    PRIMARY KEY (dest_id, region)
  );
  CREATE TABLE trail_history_jobs (
    id TEXT PRIMARY KEY,
    trail TEXT NOT NULL,
    status INTEGER NOT NULL,
    home_region TEXT NOT NULL,
    end_seq INTEGER NOT NULL,
    start_time INTEGER,
    end_time INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    error TEXT
  );
  ` + DIGEST_KEYS_V4,
  // 5: Kubernetes audit — the last spec seen of each Flink custom resource (sources/k8s-audit/sqlite/)
  K8S_OBJECTS_V5,
  // 6: LookupEvents by source IP or cluster walks an index in time order like the other filters
  // (without one, a long-tail IP scanned every event in the time range: seconds at 1M events)
  `
  CREATE INDEX events_ip_time ON events (source_ip, event_time);
  CREATE INDEX events_cluster_time ON events (cluster, event_time);
  `,
  // 7: trails — logging on/off by event time, not store position: an event that happened before
  // StopLogging but was committed just after it is still delivered (and vice versa)
  `
  DROP TABLE trail_gaps;
  CREATE TABLE trail_off_times (
    trail TEXT NOT NULL REFERENCES trails (name) ON DELETE CASCADE,
    from_time INTEGER NOT NULL,
    to_time INTEGER NOT NULL
  );
  ALTER TABLE trails ADD COLUMN first_start_at INTEGER;
  ALTER TABLE trail_history_jobs ADD COLUMN before_time INTEGER;
  `,
  // 8: trails — dead letters: events a destination can never take (an object key no store
  // accepts, a record the destination refuses), set aside with the reason instead of blocking
  // every event behind them; a copy of the event, so retention does not take the evidence
  `
  CREATE TABLE trail_dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dest_id INTEGER NOT NULL REFERENCES trail_destinations (id) ON DELETE CASCADE,
    trail TEXT NOT NULL,
    job_id TEXT,
    seq INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    code TEXT NOT NULL,
    reason TEXT NOT NULL,
    body TEXT NOT NULL,
    at INTEGER NOT NULL,
    UNIQUE (dest_id, seq)
  );
  CREATE INDEX trail_dead_letters_trail ON trail_dead_letters (trail, id);
  `,
  // 9: ActionTrail-compatible RPC endpoint — AccessKey secrets sealed with the master key for
  // signature checks (identity/signing-secrets.ts; re-wrapped by `flinktrail secrets rotate`)
  // and signature nonces seen within the replay window (api/actiontrail/nonces.ts)
  SIGNING_V9 + NONCES_V9,
  // 10: compact events (issue 14 item 5). Bodies written from now on are compressed with a
  // dictionary kept here (store/sqlite/body-codec.ts; older rows stay JSON text and readable).
  // Resource names are stored once each in resource_names and referenced by id from a
  // WITHOUT ROWID event_resources keyed (rid, seq): 2 small rows per reference instead of a
  // rowid row and three indexes holding the type and name strings. eventRW=Read is never
  // worth an index (nearly every event is a read): only writes keep one.
  `
  CREATE TABLE event_dictionaries (id INTEGER PRIMARY KEY, created_at INTEGER NOT NULL, dict BLOB NOT NULL);
  CREATE TABLE resource_names (id INTEGER PRIMARY KEY, type TEXT NOT NULL, name TEXT NOT NULL, UNIQUE (name, type));
  INSERT INTO resource_names (type, name) SELECT DISTINCT type, name FROM event_resources;
  CREATE TABLE event_refs (
    rid INTEGER NOT NULL,
    seq INTEGER NOT NULL REFERENCES events (seq) ON DELETE CASCADE,
    PRIMARY KEY (rid, seq)
  ) WITHOUT ROWID;
  INSERT OR IGNORE INTO event_refs (rid, seq)
    SELECT n.id, r.seq FROM event_resources r JOIN resource_names n ON n.name = r.name AND n.type = r.type;
  DROP TABLE event_resources;
  ALTER TABLE event_refs RENAME TO event_resources;
  CREATE INDEX event_resources_seq ON event_resources (seq);
  CREATE INDEX resource_names_type ON resource_names (type);
  DROP INDEX events_rw_time;
  CREATE INDEX events_write_time ON events (event_time) WHERE event_rw = 'Write';
  `,
  // 11: trails — the delivery lease of each trail (trails/repository.ts: one holder delivers a
  // trail; its fencing token guards every write that moves delivery state)
  TRAIL_LEASES_V11,
  // 12: accounts (docs/reference/accounts.md) — member accounts and their users
  // (identity/sqlite/migrations.ts), and the member account each event belongs to. NULL is the
  // management account: events recorded before accounts existed, and every event of a
  // single-account installation, which therefore pays for no index entry; the partial index
  // holds member accounts' events only and drives a member's lookups.
  ACCOUNTS_V12 +
    `
  ALTER TABLE events ADD COLUMN account_id TEXT;
  CREATE INDEX events_account_time ON events (account_id, event_time) WHERE account_id IS NOT NULL;
  `,
  // 13: trails belong to accounts (their owner; history jobs keep their trail's) and
  // multi-account trails (trails/sqlite/migrations.ts)
  TRAIL_ACCOUNTS_V13,
  // 14: a member account's lookups — "filter AND its account" — driven by an index that holds
  // only matches: (account_id, column, event_time) for each filter that drives lookups, partial
  // over member accounts' events (a single-account installation has none: no entry, no cost).
  // Walking the plain filter index skipped every other account's events; walking the account
  // index checked the filter row by row (up to 11x slower than the same query by the
  // management account at 1M events over 100 accounts: docs/benchmarks.md §2a).
  `
  CREATE INDEX events_acct_user_time ON events (account_id, user_name, event_time) WHERE account_id IS NOT NULL;
  CREATE INDEX events_acct_name_time ON events (account_id, event_name, event_time) WHERE account_id IS NOT NULL;
  CREATE INDEX events_acct_ak_time ON events (account_id, access_key_id, event_time) WHERE account_id IS NOT NULL;
  CREATE INDEX events_acct_ip_time ON events (account_id, source_ip, event_time) WHERE account_id IS NOT NULL;
  CREATE INDEX events_acct_error_time ON events (account_id, error_code, event_time) WHERE account_id IS NOT NULL AND error_code IS NOT NULL;
  CREATE INDEX events_acct_sensitive_time ON events (account_id, event_time) WHERE account_id IS NOT NULL AND sensitive = 1;
  CREATE INDEX events_acct_cluster_time ON events (account_id, cluster, event_time) WHERE account_id IS NOT NULL;
  CREATE INDEX events_acct_service_time ON events (account_id, service_name, event_time) WHERE account_id IS NOT NULL;
  CREATE INDEX events_acct_write_time ON events (account_id, event_time) WHERE account_id IS NOT NULL AND event_rw = 'Write';
  `,
  // 15: a member account's lookups by resource — "this job AND its account" — driven by the
  // member's references to that resource in time order: (account_id, rid, event_time, seq) over
  // member accounts' events only. Walking the account index checked each of the account's
  // events against event_resources, one random probe per event (1.3-1.7x the management
  // account's time for the same query at 1M events over 100 accounts: docs/benchmarks.md §2a);
  // this walk reads only matches. A resource type is one more row per event and type, under
  // rid = -(resource_types.id), so that a type filter (thousands of names) walks one key too.
  // The seq index serves deletes (events' cascade, rewrites). Both copies start from member
  // accounts' events (the partial account index), so a single-account store upgrades at no cost.
  `
  CREATE TABLE resource_types (id INTEGER PRIMARY KEY, type TEXT NOT NULL UNIQUE);
  INSERT INTO resource_types (type) SELECT DISTINCT type FROM resource_names;
  CREATE TABLE member_resources (
    account_id TEXT NOT NULL,
    rid INTEGER NOT NULL,
    event_time INTEGER NOT NULL,
    seq INTEGER NOT NULL REFERENCES events (seq) ON DELETE CASCADE,
    PRIMARY KEY (account_id, rid, event_time, seq)
  ) WITHOUT ROWID;
  CREATE INDEX member_resources_seq ON member_resources (seq);
  INSERT INTO member_resources (account_id, rid, event_time, seq)
    SELECT e.account_id, r.rid, e.event_time, r.seq FROM event_resources r JOIN events e ON e.seq = r.seq WHERE e.account_id IS NOT NULL;
  INSERT OR IGNORE INTO member_resources (account_id, rid, event_time, seq)
    SELECT m.account_id, -t.id, m.event_time, m.seq FROM member_resources m
      CROSS JOIN resource_names n CROSS JOIN resource_types t
      WHERE m.rid > 0 AND n.id = m.rid AND t.type = n.type;
  `,
  // 16: narrow rows (issue 14 item 5: bytes per event). Region, event name and type, service,
  // user name, AccessKey ID, source IP and cluster are stored once each in event_values and
  // referenced by id (never handed out twice: readers cache id -> text) — in the row and in every
  // index over them; a canonical UUID eventId is
  // kept as 16 bytes (store/sqlite/values.ts). The table is rebuilt (a column's type cannot
  // change in place) with its rows, seq numbers and the AUTOINCREMENT high-water mark as they
  // were, so trail positions and event_resources / member_resources keep pointing at the same
  // events; foreign keys are off while the old table is dropped (`FOREIGN_KEYS_OFF`), or the drop
  // would cascade to the references. About a minute per million events on a 2-core machine.
  `
  CREATE TABLE event_values (id INTEGER PRIMARY KEY AUTOINCREMENT, kind INTEGER NOT NULL, value TEXT NOT NULL, UNIQUE (kind, value));
  INSERT OR IGNORE INTO event_values (kind, value) SELECT DISTINCT ${K.region}, region FROM events;
  INSERT OR IGNORE INTO event_values (kind, value) SELECT DISTINCT ${K.eventName}, event_name FROM events;
  INSERT OR IGNORE INTO event_values (kind, value) SELECT DISTINCT ${K.eventType}, event_type FROM events;
  INSERT OR IGNORE INTO event_values (kind, value) SELECT DISTINCT ${K.serviceName}, service_name FROM events;
  INSERT OR IGNORE INTO event_values (kind, value) SELECT DISTINCT ${K.userName}, user_name FROM events WHERE user_name IS NOT NULL;
  INSERT OR IGNORE INTO event_values (kind, value) SELECT DISTINCT ${K.accessKeyId}, access_key_id FROM events WHERE access_key_id IS NOT NULL;
  INSERT OR IGNORE INTO event_values (kind, value) SELECT DISTINCT ${K.sourceIp}, source_ip FROM events WHERE source_ip IS NOT NULL;
  INSERT OR IGNORE INTO event_values (kind, value) SELECT DISTINCT ${K.cluster}, cluster FROM events WHERE cluster IS NOT NULL;
  CREATE TABLE events_v16 (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id NOT NULL UNIQUE,
    event_time INTEGER NOT NULL,
    region_id INTEGER NOT NULL,
    event_rw TEXT NOT NULL,
    name_id INTEGER NOT NULL,
    type_id INTEGER NOT NULL,
    service_id INTEGER NOT NULL,
    user_id INTEGER,
    key_id INTEGER,
    sensitive INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    error_code TEXT,
    ip_id INTEGER,
    cluster_id INTEGER,
    account_id TEXT,
    body BLOB NOT NULL
  );
  INSERT INTO events_v16 (seq, event_id, event_time, region_id, event_rw, name_id, type_id, service_id, user_id, key_id,
      sensitive, outcome, error_code, ip_id, cluster_id, account_id, body)
    SELECT e.seq, CASE WHEN e.event_id GLOB '${UUID_GLOB}' THEN unhex(replace(e.event_id, '-', '')) ELSE e.event_id END, e.event_time,
      (SELECT id FROM event_values WHERE kind = ${K.region} AND value = e.region), e.event_rw,
      (SELECT id FROM event_values WHERE kind = ${K.eventName} AND value = e.event_name),
      (SELECT id FROM event_values WHERE kind = ${K.eventType} AND value = e.event_type),
      (SELECT id FROM event_values WHERE kind = ${K.serviceName} AND value = e.service_name),
      (SELECT id FROM event_values WHERE kind = ${K.userName} AND value = e.user_name),
      (SELECT id FROM event_values WHERE kind = ${K.accessKeyId} AND value = e.access_key_id),
      e.sensitive, e.outcome, e.error_code,
      (SELECT id FROM event_values WHERE kind = ${K.sourceIp} AND value = e.source_ip),
      (SELECT id FROM event_values WHERE kind = ${K.cluster} AND value = e.cluster),
      e.account_id, e.body
    FROM events e ORDER BY e.seq;
  CREATE TEMP TABLE events_v16_sequence AS SELECT seq FROM sqlite_sequence WHERE name = 'events';
  DROP TABLE events;
  ALTER TABLE events_v16 RENAME TO events;
  UPDATE sqlite_sequence SET seq = MAX(seq, COALESCE((SELECT seq FROM temp.events_v16_sequence), 0)) WHERE name = 'events';
  DROP TABLE temp.events_v16_sequence;
  CREATE INDEX events_time ON events (event_time, seq);
  CREATE INDEX events_name_time ON events (name_id, event_time);
  CREATE INDEX events_user_time ON events (user_id, event_time);
  CREATE INDEX events_ak_time ON events (key_id, event_time);
  CREATE INDEX events_service_time ON events (service_id, event_time);
  CREATE INDEX events_ip_time ON events (ip_id, event_time);
  CREATE INDEX events_cluster_time ON events (cluster_id, event_time);
  CREATE INDEX events_sensitive_time ON events (sensitive, event_time) WHERE sensitive = 1;
  CREATE INDEX events_error_time ON events (error_code, event_time) WHERE error_code IS NOT NULL;
  CREATE INDEX events_pending ON events (outcome) WHERE outcome = 'pending';
  CREATE INDEX events_write_time ON events (event_time) WHERE event_rw = 'Write';
  CREATE INDEX events_account_time ON events (account_id, event_time) WHERE account_id IS NOT NULL;
  CREATE INDEX events_acct_user_time ON events (account_id, user_id, event_time) WHERE account_id IS NOT NULL;
  CREATE INDEX events_acct_name_time ON events (account_id, name_id, event_time) WHERE account_id IS NOT NULL;
  CREATE INDEX events_acct_ak_time ON events (account_id, key_id, event_time) WHERE account_id IS NOT NULL;
  CREATE INDEX events_acct_ip_time ON events (account_id, ip_id, event_time) WHERE account_id IS NOT NULL;
  CREATE INDEX events_acct_error_time ON events (account_id, error_code, event_time) WHERE account_id IS NOT NULL AND error_code IS NOT NULL;
  CREATE INDEX events_acct_sensitive_time ON events (account_id, event_time) WHERE account_id IS NOT NULL AND sensitive = 1;
  CREATE INDEX events_acct_cluster_time ON events (account_id, cluster_id, event_time) WHERE account_id IS NOT NULL;
  CREATE INDEX events_acct_service_time ON events (account_id, service_id, event_time) WHERE account_id IS NOT NULL;
  CREATE INDEX events_acct_write_time ON events (account_id, event_time) WHERE account_id IS NOT NULL AND event_rw = 'Write';
  `,
];

/**
 * Migrations that drop and rebuild a table other tables reference: run with foreign keys off
 * (SQLite ignores the pragma inside a transaction, so it is set around it), and checked after.
 */
const FOREIGN_KEYS_OFF: ReadonlySet<number> = new Set([16]);

export interface OpenOptions {
  synchronous?: 'full' | 'normal';
  readonly?: boolean;
  /** This connection's page cache in MiB (`store.cacheMb`); default `DEFAULT_CACHE_MB`. */
  cacheMb?: number;
  /** Tests: stop after this migration (a data directory as an older version left it). */
  migrateTo?: number;
}

/**
 * The page cache of one connection when none is configured. Stated here rather than inherited:
 * better-sqlite3 compiles SQLite with 16 MiB per connection, and with a writer, readers and the
 * main connection each filling theirs as the database grows, that is a resident set that climbs
 * for minutes after start (64 MiB with two readers) although nothing leaks. Pages that fall out
 * of it are read again from the operating system's file cache.
 */
export const DEFAULT_CACHE_MB = 4;

/** The database file in a data directory. */
export const DB_FILE = 'flinktrail.db';
/** The database file and the files SQLite keeps beside it. */
export const DB_FILES = [DB_FILE, `${DB_FILE}-wal`, `${DB_FILE}-shm`] as const;

/**
 * Makes the data directory 0700 and the database files 0600, creating the directory and the
 * database file with those modes (the umask cannot widen them: modes are set explicitly).
 * An existing directory is tightened only if this user owns it and it is not a shared sticky
 * directory such as /tmp.
 */
export function secureDataDir(dataDir: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const st = statSync(dataDir);
  const mine = typeof process.getuid !== 'function' || st.uid === process.getuid();
  if (mine && (st.mode & 0o077) !== 0 && (st.mode & 0o1000) === 0) chmodSync(dataDir, st.mode & 0o700);
  closeSync(openSync(join(dataDir, DB_FILE), 'a', 0o600));
  for (const f of DB_FILES) {
    try {
      if ((statSync(join(dataDir, f)).mode & 0o077) !== 0) chmodSync(join(dataDir, f), 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

export function openDatabase(dataDir: string, opts: OpenOptions = {}): Db {
  if (!opts.readonly) secureDataDir(dataDir);
  const db = new Database(join(dataDir, DB_FILE), { readonly: opts.readonly ?? false });
  db.pragma('busy_timeout = 5000');
  db.pragma(`cache_size = ${-Math.round((opts.cacheMb ?? DEFAULT_CACHE_MB) * 1024)}`);
  if (opts.readonly) return db;
  db.pragma('secure_delete = FAST');
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${opts.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
  db.pragma('foreign_keys = ON');
  migrate(db, opts.migrateTo);
  return db;
}

function migrate(db: Db, upTo = MIGRATIONS.length): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
  const row = db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null };
  const current = row.v ?? 0;
  MIGRATIONS.forEach((sql, i) => {
    const version = i + 1;
    if (version <= current || version > upTo) return;
    const fkOff = FOREIGN_KEYS_OFF.has(version) && (db.pragma('foreign_keys', { simple: true }) as number) === 1;
    if (fkOff) db.pragma('foreign_keys = OFF');
    try {
      db.transaction(() => {
        db.exec(sql);
        if (fkOff && (db.pragma('foreign_key_check') as unknown[]).length > 0) throw new Error(`Migration ${version} left rows whose references point nowhere.`);
        db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(version, Date.now());
      }).immediate();
    } finally {
      if (fkOff) db.pragma('foreign_keys = ON');
    }
  });
}

/**
 * A secret kept in the meta table (an HMAC key), sealed with the master key; created once by
 * `make`. A value an older version stored in clear is sealed in place on first read, and the
 * WAL is truncated so the clear copy does not linger there.
 */
export function metaSecret(db: Db, key: string, make: () => string, sealer: Sealer): string {
  const context = `meta:${key}`;
  const get = db.prepare('SELECT value FROM meta WHERE key = ?');
  const found = get.get(key) as { value: string } | undefined;
  if (found && isSealed(found.value)) return sealer.open(found.value, context);
  if (found) {
    db.prepare('UPDATE meta SET value = ? WHERE key = ? AND value = ?').run(sealer.seal(found.value, context), key, found.value);
    db.pragma('wal_checkpoint(TRUNCATE)');
    return metaSecret(db, key, make, sealer);
  }
  db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)').run(key, sealer.seal(make(), context));
  return sealer.open((get.get(key) as { value: string }).value, context);
}

/** A value kept in the meta table, created once by `make`. Not for secrets: see `metaSecret`. */
export function metaValue(db: Db, key: string, make: () => string): string {
  const get = db.prepare('SELECT value FROM meta WHERE key = ?');
  const found = get.get(key) as { value: string } | undefined;
  if (found) return found.value;
  db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)').run(key, make());
  return (get.get(key) as { value: string }).value;
}
