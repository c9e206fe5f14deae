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
import { FlinkTrailError } from '../errors/index.js';
import { META_MIGRATIONS } from './postgres/meta.js';
import { inTransaction, migrate } from './postgres/migrations.js';
import type { Db } from './sqlite/database.js';

/** `meta` keys about the data directory itself, never copied: which event store its positions refer to. */
export const DIRECTORY_META_KEYS: readonly string[] = ['event-store'];

/** The tables copied and verified, in the order they are written (references first). */
export const COPIED_TABLES = ['users', 'policies', 'access_keys', 'access_key_signing', 'user_policies', 'sessions', 'k8s_objects', 'meta', 'trail_digest_keys'] as const;
export type CopiedTable = (typeof COPIED_TABLES)[number];

/** Per table: rows in both stores once verified, and rows this run inserted. */
export type TableCounts = Record<CopiedTable, { rows: number; copied: number }>;

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
  unique?: string;
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
  users: {
    columns: ['id', 'name', 'role', 'password_hash', 'created_at', 'disabled', 'email', 'source'],
    key: ['id'],
    same: ['name'],
    update: ['role', 'password_hash', 'disabled', 'email', 'source'],
    unique: 'name',
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

const keyOf = (spec: TableSpec, r: Row): string => JSON.stringify(spec.key.map((c) => String(r[c])));
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
}

/** INSERT of `rows` in statements of at most 500 rows. */
async function upsert(client: PoolClient, table: string, spec: TableSpec, rows: Row[]): Promise<void> {
  const cols = spec.columns;
  const onConflict = spec.update.length ? `DO UPDATE SET ${spec.update.map((c) => `${c} = excluded.${c}`).join(', ')}` : 'DO NOTHING';
  for (let i = 0; i < rows.length; i += 500) {
    const chunk = rows.slice(i, i + 500);
    const params: unknown[] = [];
    const values = chunk.map((r) => `(${cols.map((c) => (params.push(spec.convert?.[c]?.(r[c]) ?? r[c]), `$${params.length}`)).join(', ')})`);
    await client.query(`INSERT INTO ${table} (${cols.join(', ')}) VALUES ${values.join(', ')} ON CONFLICT (${spec.key.join(', ')}) ${onConflict}`, params);
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
  const byUnique = spec.unique ? new Map(present.map((r) => [text(r[spec.unique as string]), r])) : undefined;
  let copied = 0;
  for (const r of source) {
    const theirs = byKey.get(keyOf(spec, r));
    const differs = theirs && spec.same.find((c) => text(theirs[c]) !== text(r[c]));
    if (differs) {
      // A sealed value is never quoted: name the key only.
      const shown = table === 'meta' ? `${spec.what} '${text(r['key'])}' with another value` : `${spec.what} ${spec.key.map((c) => text(r[c])).join('/')} with another ${differs}`;
      throw new FlinkTrailError('FT_ERR_MIGRATE_CONFLICT', shown, `table ${table}`);
    }
    const sameName = spec.unique ? byUnique?.get(text(r[spec.unique])) : undefined;
    if (sameName && keyOf(spec, sameName) !== keyOf(spec, r)) {
      throw new FlinkTrailError('FT_ERR_MIGRATE_CONFLICT', `${spec.what} named '${text(r[spec.unique as string])}' under another id`, `table ${table}`);
    }
    if (!theirs) copied++;
  }
  await upsert(client, table, spec, source);
  if (spec.mirror) {
    const keep = new Set(source.map((r) => keyOf(spec, r)));
    const gone = present.filter((r) => !keep.has(keyOf(spec, r)));
    for (const r of gone) await client.query(`DELETE FROM ${table} WHERE ${spec.key.map((c, i) => `${c} = $${i + 1}`).join(' AND ')}`, spec.key.map((c) => r[c]));
  }
  const target = ((await client.query(`SELECT count(*)::int AS n FROM ${table}${spec.where ? ` WHERE ${spec.where}` : ''}`)).rows[0] as { n: number }).n;
  return { rows: source.length, copied, target };
}

/**
 * Copies every table of COPIED_TABLES from the directory's database into the target, verifies
 * the counts and commits (all or nothing); then the unexpired RPC nonces. `where` (the target,
 * password redacted) and `dataDir` name the stores in a failed verification; `sealer` seals a
 * digest key file an older version wrote in clear (refused without it: FT_ERR_MIGRATE_SOURCE).
 */
export async function copyTables(db: Db, pool: Pool, where: string, dataDir: string, opts: { now?: number; sealer?: Sealer } = {}): Promise<TableCounts> {
  const now = opts.now ?? Date.now();
  await prepareTables(pool);
  const client = await pool.connect();
  try {
    const counts = await inTransaction(client, async () => {
      const out = {} as TableCounts;
      const differ: string[] = [];
      for (const table of COPIED_TABLES) {
        const c = await copyTable({ db, dataDir, ...(opts.sealer ? { sealer: opts.sealer } : {}) }, client, table);
        if (c.rows !== c.target) differ.push(`the data directory has ${c.rows} rows in ${table}, the copy ${c.target}`);
        out[table] = { rows: c.rows, copied: c.copied };
      }
      if (differ.length) throw new FlinkTrailError('FT_ERR_MIGRATE_UNVERIFIED', where, dataDir, `${differ.join('; ')} (rows the directory does not have: deleted there since an earlier run, or not this directory's)`);
      return out;
    });
    const nonces = db.prepare('SELECT access_key_id, nonce, expires_at FROM rpc_nonces WHERE expires_at >= ?').all(now) as Row[];
    await upsert(client, 'rpc_nonces', { columns: ['access_key_id', 'nonce', 'expires_at'], key: ['access_key_id', 'nonce'], same: [], update: [], what: 'the nonce' }, nonces);
    return counts;
  } finally {
    client.release();
  }
}
