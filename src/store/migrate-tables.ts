/**
 * `flinktrail migrate`, second part: the feature tables a data directory keeps that FlinkTrail on
 * PostgreSQL keeps there too — users, AccessKeys with their sealed signing secrets, policies and
 * attachments, console sessions, Kubernetes object state, the `meta` keys (sealed HMAC keys,
 * the audit policy last in force) and the trail digest signing keys — copied after the events and
 * before the directory is switched.
 *
 * - One transaction: every table is copied and its row count compared with the directory's, then
 *   committed; a refusal or a count that differs leaves the target's tables as they were.
 * - Resumable and idempotent: rows are written by primary key (INSERT … ON CONFLICT), so a second
 *   run adds what is missing and never duplicates. A row the target already has under the same key
 *   is this directory's earlier copy only if the columns that name it agree (`same`); then its
 *   changing columns are brought up to date (a key deactivated, a password changed since the
 *   earlier run: the directory is authoritative until the switch). Otherwise the copy is refused
 *   (FT_ERR_MIGRATE_CONFLICT) rather than overwriting: a `meta` key with another value, a user name
 *   held by another user id, a policy name made at another time.
 * - Sessions and Kubernetes object state mirror the directory (rows it no longer has are deleted:
 *   a session ended or an object deleted there must not come back); the identity tables do not —
 *   a row the directory lacks makes the counts differ (FT_ERR_MIGRATE_UNVERIFIED), as a target
 *   that is not this directory's copy should.
 * - Sealed values are copied as they are: the same master key ring opens them (contexts are the
 *   same on both stores).
 * - `rpc_nonces` are copied while unexpired, with DO NOTHING, and not counted: they live for the
 *   signature window (minutes), and copying them only closes a replay across the switch.
 * - `meta` keys that describe the directory itself (`DIRECTORY_META_KEYS`) stay in it.
 * - Trail digest keys: the public halves from `trail_digest_keys`, each with its private half's
 *   file (`<dataDir>/trail-digest-keys/<fingerprint>.pem`) as it is — sealed; one an older version
 *   wrote in clear is sealed on the way (with `sealer`; the directory's file is left as it is).
 *   A key the target holds that the directory does not (a FlinkTrail on the target made it) is
 *   refused: two active keys cannot stand side by side there.
 * - Trails: definitions, destinations (URLs sealed as they are, context `trail-destination`),
 *   cursors with their positions and plans, off times, delivered files, digest chains, history
 *   jobs and dead letters, with their ids (cursors, files and chains refer to destination ids; the
 *   PostgreSQL identities are `BY DEFAULT` for this), each identity then moved past the highest
 *   id copied. Positions, plans, counts and chain heads are state: a re-run brings them up to
 *   date from the directory. A trail of the same name made at another time, or by another
 *   account, is refused; owners and multi-account flags are copied with their trails. Leases
 *   are not copied: they belong to running processes, and a new one starts fresh.
 * - Feature groups (`FEATURE_GROUPS`): once a directory is switched, PostgreSQL holds its tables.
 *   A directory switched by an older version that did not copy a group yet (trails kept in the
 *   directory with `store.url` before this version) gets that group copied by a later run, but
 *   only into a target that has none of it — never over what FlinkTrail on PostgreSQL made or
 *   changed since. `COPIED_GROUPS_KEY` in the directory's meta lists the groups settled.
 */
import { readFileSync } from 'node:fs';
import type { Pool, PoolClient } from 'pg';
import { PostgresNonceStore } from '../api/actiontrail/postgres/nonces.js';
import { PostgresIdentityStore } from '../identity/postgres/directory.js';
import { PostgresSessionStore } from '../identity/postgres/sessions.js';
import { PostgresObjectStates } from '../sources/k8s-audit/postgres/state.js';
import { isSealed, type Sealer } from '../secrets/envelope.js';
import { DIGEST_KEY_CONTEXT, digestKeyFile } from '../trails/digest/keys.js';
import { PostgresDigestKeyStore } from '../trails/postgres/digest-keys.js';
import { TRAIL_MIGRATIONS } from '../trails/postgres/repository.js';
import { FlinkTrailError } from '../errors/index.js';
import { META_MIGRATIONS } from './postgres/meta.js';
import { inTransaction, migrate } from './postgres/migrations.js';
import type { Db } from './sqlite/database.js';

/** `meta` keys about the data directory itself, never copied: which event store its positions refer to. */
export const DIRECTORY_META_KEYS: readonly string[] = ['event-store', 'event-store-groups'];

/** The directory's `meta` key listing the feature groups PostgreSQL holds since the switch (JSON array; absent: switched by an older version, or not switched). */
export const COPIED_GROUPS_KEY = 'event-store-groups';

/** The tables copied and verified, in the order they are written (references first). */
export const COPIED_TABLES = [
  'accounts',
  'users',
  'policies',
  'access_keys',
  'access_key_signing',
  'user_policies',
  'sessions',
  'k8s_objects',
  'meta',
  'trail_digest_keys',
  'trails',
  'trail_destinations',
  'trail_cursors',
  'trail_off_times',
  'trail_files',
  'trail_digest_chains',
  'trail_history_jobs',
  'trail_dead_letters',
] as const;
export type CopiedTable = (typeof COPIED_TABLES)[number];

/** Per table copied by a run: rows in both stores once verified, and rows this run inserted. */
export type TableCounts = Partial<Record<CopiedTable, { rows: number; copied: number }>>;

/**
 * Tables that can be copied into a store the directory was already switched to, by feature:
 * `lead` is the table whose rows say the target has the feature already (then the group is left
 * alone). Sessions, Kubernetes state and `meta` are not among them: FlinkTrail on PostgreSQL
 * makes its own from its first start, and they are not worth overwriting.
 */
export const FEATURE_GROUPS = {
  identity: { lead: 'users', tables: ['accounts', 'users', 'policies', 'access_keys', 'access_key_signing', 'user_policies'] },
  'trail-digest-keys': { lead: 'trail_digest_keys', tables: ['trail_digest_keys'] },
  trails: {
    lead: 'trails',
    tables: ['trails', 'trail_destinations', 'trail_cursors', 'trail_off_times', 'trail_files', 'trail_digest_chains', 'trail_history_jobs', 'trail_dead_letters'],
  },
} as const satisfies Record<string, { lead: CopiedTable; tables: readonly CopiedTable[] }>;
export type FeatureGroup = keyof typeof FEATURE_GROUPS;
export const GROUPS = Object.keys(FEATURE_GROUPS) as FeatureGroup[];

interface TableSpec {
  /** Every column, in the order of the SQLite SELECT and the PostgreSQL INSERT. */
  columns: readonly string[];
  /** The primary key. */
  key: readonly string[];
  /** Columns that must agree when the target has the key already (else FT_ERR_MIGRATE_CONFLICT). */
  same: readonly string[];
  /** Columns brought up to date when the target has the key already. */
  update: readonly string[];
  /** A natural key other than the primary key that the target must not hold under another primary key. */
  unique?: readonly string[];
  /** The key is no constraint of the table (rows only ever added): rows the target lacks are inserted, none updated. */
  keyless?: boolean;
  /** An identity column whose sequence is moved past the highest value copied (ids are kept). */
  identity?: string;
  /** Target rows the directory does not have are deleted (state that ends, not identity). */
  mirror?: boolean;
  /** A target row the directory does not have is refused (FT_ERR_MIGRATE_CONFLICT) before anything is written. */
  exclusive?: boolean;
  /** The source rows, when not only the directory's database holds them (default: SELECT `columns`). */
  read?: (from: Source) => Row[];
  /** The SQLite WHERE that selects the rows copied (default: all). */
  where?: string;
  /** SQLite value → PostgreSQL value, per column. */
  convert?: Partial<Record<string, (v: unknown) => unknown>>;
  /** How a row is named in a refusal. */
  what: string;
}

const SPECS: Record<CopiedTable, TableSpec> = {
  accounts: {
    columns: ['id', 'name', 'created_at'],
    key: ['id'],
    same: ['name', 'created_at'],
    update: [],
    unique: ['name'],
    what: 'the account',
  },
  users: {
    columns: ['id', 'name', 'role', 'password_hash', 'created_at', 'disabled', 'email', 'source', 'account_id'],
    key: ['id'],
    same: ['name', 'account_id'],
    update: ['role', 'password_hash', 'disabled', 'email', 'source'],
    unique: ['name'],
    convert: { disabled: (v) => v === 1 || v === true },
    what: 'the user',
  },
  policies: {
    columns: ['name', 'document', 'description', 'created_at', 'updated_at'],
    key: ['name'],
    same: ['created_at'],
    update: ['document', 'description', 'updated_at'],
    what: 'the policy',
  },
  access_keys: {
    columns: ['id', 'user_id', 'secret_hash', 'status', 'created_at', 'last_used_at', 'last_used_ip'],
    key: ['id'],
    same: ['user_id', 'secret_hash', 'created_at'],
    update: ['status', 'last_used_at', 'last_used_ip'],
    what: 'the AccessKey',
  },
  // The sealed secret is copied as it is; a rotation since the earlier run re-wraps it (same value).
  access_key_signing: { columns: ['key_id', 'sealed'], key: ['key_id'], same: [], update: ['sealed'], what: 'the signing secret of the AccessKey' },
  user_policies: { columns: ['user_id', 'policy_name'], key: ['user_id', 'policy_name'], same: [], update: [], what: 'the attachment' },
  sessions: {
    columns: ['id_hash', 'user_id', 'principal', 'csrf_token', 'created_at', 'last_seen_at', 'expires_at'],
    key: ['id_hash'],
    same: ['user_id', 'principal', 'created_at'],
    update: ['last_seen_at', 'expires_at'],
    mirror: true,
    what: 'the session',
  },
  k8s_objects: {
    columns: ['cluster', 'resource', 'namespace', 'name', 'uid', 'resource_version', 'spec', 'updated_at'],
    key: ['cluster', 'resource', 'namespace', 'name'],
    same: [],
    update: ['uid', 'resource_version', 'spec', 'updated_at'],
    mirror: true,
    what: 'the Kubernetes object',
  },
  // A sealed HMAC key with another value was made by a FlinkTrail on the target: tokens it signed
  // would stop verifying if it were overwritten, so the copy is refused instead.
  meta: {
    columns: ['key', 'value'],
    key: ['key'],
    same: ['value'],
    update: [],
    where: `key NOT IN (${DIRECTORY_META_KEYS.map((k) => `'${k}'`).join(', ')})`,
    what: 'the meta key',
  },
  // The fingerprint is a hash of the public key: another public key under it was not copied from here.
  trail_digest_keys: {
    columns: ['fingerprint', 'public_key', 'sealed_private_key', 'valid_from', 'valid_to'],
    key: ['fingerprint'],
    same: ['public_key'],
    update: ['sealed_private_key', 'valid_to'],
    exclusive: true,
    read: digestKeyRows,
    what: 'the trail digest key',
  },
  // A trail made at another time under the name is another FlinkTrail's (the name may be reused after a delete).
  // stop_seq (SQLite migration 4) is no longer read by any version: not a PostgreSQL column.
  trails: {
    columns: [
      'name',
      'event_rw',
      'trail_region',
      'home_region',
      'status',
      'digest_interval',
      'created_at',
      'updated_at',
      'start_logging_at',
      'stop_logging_at',
      'first_start_seq',
      'first_start_at',
      'account_id',
      'is_organization_trail',
    ],
    key: ['name'],
    // The owner never changes: another one is another FlinkTrail's trail of that name.
    same: ['created_at', 'account_id'],
    update: ['event_rw', 'trail_region', 'home_region', 'status', 'digest_interval', 'updated_at', 'start_logging_at', 'stop_logging_at', 'first_start_seq', 'first_start_at'],
    convert: { is_organization_trail: (v) => v === 1 || v === true },
    what: 'the trail',
  },
  // UpdateTrail deletes destinations it no longer names (their cursors, files and chains with them,
  // by cascade): mirrored, so an update between two runs does not leave them in the copy. A
  // destination of a trail that is not this directory's makes the trails' counts differ, and the
  // transaction, deletes included, is rolled back.
  trail_destinations: {
    columns: ['id', 'trail', 'ord', 'url', 'kind', 'min_cut_at', 'last_digest_at', 'last_digest_error'],
    key: ['id'],
    same: ['trail', 'kind'],
    update: ['ord', 'url', 'min_cut_at', 'last_digest_at', 'last_digest_error'],
    mirror: true,
    identity: 'id',
    what: 'the trail destination',
  },
  trail_cursors: {
    columns: [
      'id',
      'dest_id',
      'job_id',
      'position',
      'end_seq',
      'plan_from',
      'plan_to',
      'plan_cut_at',
      'plan_filter',
      'delivered_events',
      'last_delivery_at',
      'last_error',
      'last_error_at',
      'done',
    ],
    key: ['id'],
    same: ['dest_id', 'job_id'],
    update: ['position', 'end_seq', 'plan_from', 'plan_to', 'plan_cut_at', 'plan_filter', 'delivered_events', 'last_delivery_at', 'last_error', 'last_error_at', 'done'],
    identity: 'id',
    convert: { done: (v) => v === 1 || v === true },
    what: 'the trail cursor',
  },
  // Added by StartLogging, never changed: no key in either schema, so the ones missing are added.
  trail_off_times: { columns: ['trail', 'from_time', 'to_time'], key: ['trail', 'from_time', 'to_time'], same: [], update: [], keyless: true, what: 'the off time' },
  // Written INSERT OR REPLACE by delivery: every column but the key may have changed.
  trail_files: {
    columns: ['dest_id', 'key', 'region', 'cut_at', 'sha256', 'size', 'events', 'oldest', 'newest', 'delivered_at'],
    key: ['dest_id', 'key'],
    same: [],
    update: ['region', 'cut_at', 'sha256', 'size', 'events', 'oldest', 'newest', 'delivered_at'],
    what: 'the delivered file',
  },
  trail_digest_chains: {
    columns: ['dest_id', 'region', 'next_start', 'last_key', 'last_sha256', 'last_signature', 'last_end'],
    key: ['dest_id', 'region'],
    same: [],
    update: ['next_start', 'last_key', 'last_sha256', 'last_signature', 'last_end'],
    what: 'the digest chain',
  },
  trail_history_jobs: {
    columns: ['id', 'trail', 'status', 'home_region', 'end_seq', 'before_time', 'start_time', 'end_time', 'created_at', 'updated_at', 'error', 'account_id'],
    key: ['id'],
    same: ['trail', 'created_at', 'account_id'],
    update: ['status', 'home_region', 'end_seq', 'before_time', 'start_time', 'end_time', 'updated_at', 'error'],
    what: 'the history job',
  },
  // A copy of the event kept as evidence: never changed once written.
  trail_dead_letters: {
    columns: ['id', 'dest_id', 'trail', 'job_id', 'seq', 'event_id', 'code', 'reason', 'body', 'at'],
    key: ['id'],
    same: ['dest_id', 'seq', 'event_id'],
    update: [],
    unique: ['dest_id', 'seq'],
    identity: 'id',
    what: 'the dead letter',
  },
};

type Row = Record<string, unknown>;

/** What a copy reads: the directory's database and files, and the ring that seals what an older version left in clear. */
interface Source {
  db: Db;
  dataDir: string;
  sealer?: Sealer;
}

/** Public halves from the database, each with its private half's file as it is (sealed), or null when the file is gone. */
function digestKeyRows({ db, dataDir, sealer }: Source): Row[] {
  const rows = db.prepare('SELECT fingerprint, public_key, valid_from, valid_to FROM trail_digest_keys ORDER BY valid_from').all() as Row[];
  return rows.map((r) => {
    const fingerprint = String(r['fingerprint']);
    let text: string | null;
    try {
      text = readFileSync(digestKeyFile(dataDir, fingerprint), 'utf8').trim();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      text = null;
    }
    if (text !== null && !isSealed(text)) {
      if (!sealer) throw new FlinkTrailError('FT_ERR_MIGRATE_SOURCE', dataDir, `its digest key ${fingerprint} was written in clear by an older version, and no master key was given to seal it`);
      text = sealer.seal(text, DIGEST_KEY_CONTEXT);
    }
    return { ...r, sealed_private_key: text };
  });
}

const keyOf = (spec: TableSpec, r: Row): string => JSON.stringify(spec.key.map((c) => text(r[c])));
const uniqueOf = (unique: readonly string[], r: Row): string => JSON.stringify(unique.map((c) => text(r[c])));
/** SQLite integers and PostgreSQL bigints (parsed to numbers) compare as text. */
const text = (v: unknown): string =>
  v === null || v === undefined ? '\u0000null' : typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' ? String(v) : JSON.stringify(v);

/** Applies the PostgreSQL migrations of every copied table (the stores' own components). */
export async function prepareTables(pool: Pool): Promise<void> {
  await PostgresIdentityStore.open(pool);
  await PostgresSessionStore.open(pool);
  await PostgresObjectStates.open(pool);
  await PostgresNonceStore.open(pool);
  await migrate(pool, 'meta', META_MIGRATIONS);
  await PostgresDigestKeyStore.open(pool);
  await migrate(pool, 'trails', TRAIL_MIGRATIONS);
}

/** INSERT of `rows` in statements of at most 500 rows. */
async function upsert(client: PoolClient, table: string, spec: TableSpec, rows: Row[]): Promise<void> {
  const cols = spec.columns;
  const onConflict = spec.keyless
    ? ''
    : ` ON CONFLICT (${spec.key.join(', ')}) ${spec.update.length ? `DO UPDATE SET ${spec.update.map((c) => `${c} = excluded.${c}`).join(', ')}` : 'DO NOTHING'}`;
  for (let i = 0; i < rows.length; i += 500) {
    const chunk = rows.slice(i, i + 500);
    const params: unknown[] = [];
    const values = chunk.map((r) => `(${cols.map((c) => (params.push(spec.convert?.[c]?.(r[c]) ?? r[c]), `$${params.length}`)).join(', ')})`);
    await client.query(`INSERT INTO ${table} (${cols.join(', ')}) VALUES ${values.join(', ')}${onConflict}`, params);
  }
}

async function copyTable(from: Source, client: PoolClient, table: CopiedTable): Promise<{ rows: number; copied: number; target: number }> {
  const spec = SPECS[table];
  const source = spec.read ? spec.read(from) : (from.db.prepare(`SELECT ${spec.columns.join(', ')} FROM ${table}${spec.where ? ` WHERE ${spec.where}` : ''}`).all() as Row[]);
  const present = (await client.query(`SELECT ${spec.columns.join(', ')} FROM ${table}${spec.where ? ` WHERE ${spec.where}` : ''}`)).rows as Row[];
  const byKey = new Map(present.map((r) => [keyOf(spec, r), r]));
  if (spec.exclusive) {
    const ours = new Set(source.map((r) => keyOf(spec, r)));
    const foreign = present.find((r) => !ours.has(keyOf(spec, r)));
    if (foreign) throw new FlinkTrailError('FT_ERR_MIGRATE_CONFLICT', `${spec.what} ${spec.key.map((c) => text(foreign[c])).join('/')} that the data directory does not have`, `table ${table}`);
  }
  const unique = spec.unique;
  const byUnique = unique ? new Map(present.map((r) => [uniqueOf(unique, r), r])) : undefined;
  let copied = 0;
  const missing: Row[] = [];
  // Keyless tables: how many rows of a key the target has that no source row has matched yet.
  const unmatched = new Map<string, number>();
  if (spec.keyless) for (const r of present) unmatched.set(keyOf(spec, r), (unmatched.get(keyOf(spec, r)) ?? 0) + 1);
  for (const r of source) {
    if (spec.keyless) {
      const k = keyOf(spec, r);
      const left = unmatched.get(k) ?? 0;
      if (left > 0) unmatched.set(k, left - 1);
      else missing.push(r);
      continue;
    }
    const theirs = byKey.get(keyOf(spec, r));
    const differs = theirs && spec.same.find((c) => text(theirs[c]) !== text(r[c]));
    if (differs) {
      // A sealed value is never quoted: name the key only.
      const shown = table === 'meta' ? `${spec.what} '${text(r['key'])}' with another value` : `${spec.what} ${spec.key.map((c) => text(r[c])).join('/')} with another ${differs}`;
      throw new FlinkTrailError('FT_ERR_MIGRATE_CONFLICT', shown, `table ${table}`);
    }
    const sameName = unique ? byUnique?.get(uniqueOf(unique, r)) : undefined;
    if (unique && sameName && keyOf(spec, sameName) !== keyOf(spec, r)) {
      throw new FlinkTrailError('FT_ERR_MIGRATE_CONFLICT', `${spec.what} ${unique.length === 1 ? 'named' : `of ${unique.join('/')}`} '${unique.map((c) => text(r[c])).join('/')}' under another ${spec.key.join('/')}`, `table ${table}`);
    }
    if (!theirs) copied++;
  }
  if (spec.keyless) copied = missing.length;
  await upsert(client, table, spec, spec.keyless ? missing : source);
  if (spec.mirror) {
    const keep = new Set(source.map((r) => keyOf(spec, r)));
    const gone = present.filter((r) => !keep.has(keyOf(spec, r)));
    for (const r of gone) await client.query(`DELETE FROM ${table} WHERE ${spec.key.map((c, i) => `${c} = $${i + 1}`).join(' AND ')}`, spec.key.map((c) => r[c]));
  }
  if (spec.identity) {
    // Ids were written as the directory had them; the next one made on PostgreSQL comes after them.
    await client.query(
      `SELECT setval(pg_get_serial_sequence($1, $2), COALESCE(MAX(${spec.identity}), 1), MAX(${spec.identity}) IS NOT NULL) FROM ${table}`,
      [table, spec.identity],
    );
  }
  const target = ((await client.query(`SELECT count(*)::int AS n FROM ${table}${spec.where ? ` WHERE ${spec.where}` : ''}`)).rows[0] as { n: number }).n;
  return { rows: source.length, copied, target };
}

/**
 * Of `groups`, those whose lead table has rows in the directory and none in the target (`missing`:
 * never copied there) and those with rows in both (`both`: the target holds its own).
 */
export async function groupsToCopy(db: Db, pool: Pool, groups: readonly FeatureGroup[]): Promise<{ missing: FeatureGroup[]; both: FeatureGroup[] }> {
  await prepareTables(pool);
  const out = { missing: [] as FeatureGroup[], both: [] as FeatureGroup[] };
  for (const g of groups) {
    const lead = FEATURE_GROUPS[g].lead;
    if ((db.prepare(`SELECT count(*) AS n FROM ${lead}`).get() as { n: number }).n === 0) continue;
    const theirs = ((await pool.query(`SELECT count(*)::int AS n FROM ${lead}`)).rows[0] as { n: number }).n;
    (theirs === 0 ? out.missing : out.both).push(g);
  }
  return out;
}

/** The groups the directory's meta says PostgreSQL holds since the switch (empty: none recorded). */
export function copiedGroups(db: Db): FeatureGroup[] {
  const v = (db.prepare('SELECT value FROM meta WHERE key = ?').get(COPIED_GROUPS_KEY) as { value: string } | undefined)?.value;
  if (v === undefined) return [];
  const list = JSON.parse(v) as unknown;
  return Array.isArray(list) ? GROUPS.filter((g) => list.includes(g)) : [];
}

/** Records in the directory's meta that PostgreSQL holds `groups` (added to those recorded). */
export function recordCopiedGroups(db: Db, groups: readonly FeatureGroup[]): void {
  const all = GROUPS.filter((g) => groups.includes(g) || copiedGroups(db).includes(g));
  db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(COPIED_GROUPS_KEY, JSON.stringify(all));
}

/**
 * Copies the tables of COPIED_TABLES (or of `groups` only: a directory already switched) from
 * the directory's database into the target, verifies the counts and commits (all or nothing);
 * then, for a whole copy, the unexpired RPC nonces. `where` (the target, password redacted) and
 * `dataDir` name the stores in a failed verification; `sealer` seals a digest key file an older
 * version wrote in clear (refused without it: FT_ERR_MIGRATE_SOURCE).
 */
export async function copyTables(
  db: Db,
  pool: Pool,
  where: string,
  dataDir: string,
  opts: { now?: number; sealer?: Sealer; groups?: readonly FeatureGroup[] } = {},
): Promise<TableCounts> {
  const now = opts.now ?? Date.now();
  const groups = opts.groups;
  const tables = groups ? COPIED_TABLES.filter((t) => groups.some((g) => (FEATURE_GROUPS[g].tables as readonly CopiedTable[]).includes(t))) : COPIED_TABLES;
  await prepareTables(pool);
  const client = await pool.connect();
  try {
    const counts = await inTransaction(client, async () => {
      const out: TableCounts = {};
      const differ: string[] = [];
      for (const table of tables) {
        const c = await copyTable({ db, dataDir, ...(opts.sealer ? { sealer: opts.sealer } : {}) }, client, table);
        if (c.rows !== c.target) differ.push(`the data directory has ${c.rows} rows in ${table}, the copy ${c.target}`);
        out[table] = { rows: c.rows, copied: c.copied };
      }
      if (differ.length) throw new FlinkTrailError('FT_ERR_MIGRATE_UNVERIFIED', where, dataDir, `${differ.join('; ')} (rows the directory does not have: deleted there since an earlier run, or not this directory's)`);
      return out;
    });
    if (!groups) {
      const nonces = db.prepare('SELECT access_key_id, nonce, expires_at FROM rpc_nonces WHERE expires_at >= ?').all(now) as Row[];
      await upsert(client, 'rpc_nonces', { columns: ['access_key_id', 'nonce', 'expires_at'], key: ['access_key_id', 'nonce'], same: [], update: [], what: 'the nonce' }, nonces);
    }
    return counts;
  } finally {
    client.release();
  }
}
