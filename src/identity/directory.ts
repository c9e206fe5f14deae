/**
 * The directory of users and AccessKeys, kept in the embedded database.
 *
 * Used by the server to authenticate and by `flinktrail keys …` directly on the data directory
 * (SQLite WAL allows both at once), so a key made while the server runs works at once.
 *
 * The reads every request makes (its AccessKey, its user, the user's policies) are cached for
 * `cacheMs` (default 1 s), so that a request neither queries the database three times nor
 * parses its caller's policy documents again — the same document objects come back, and
 * `compilePolicy` compiles each once. Bounds, as docs/reference/identity.md states them: a change
 * made through this directory (the API, the console) clears the cache and applies to the next
 * request; a change made by another process on the same database (`flinktrail keys disable`,
 * `flinktrail users …`) applies within `cacheMs`. Misses are never cached: a key or user just
 * made elsewhere is found at once.
 */
import { randomInt } from 'node:crypto';
import type { Db } from '../store/sqlite/database.js';
import { FlinkTrailError } from '../errors/index.js';
import { hashKeySecret, newAccessKeyId, newAccessKeySecret } from './secrets.js';
import type { Sealer } from '../secrets/envelope.js';
import { SigningSecrets } from './signing-secrets.js';

export interface PolicyRecord {
  name: string;
  document: PolicyDocument;
  description: string;
  createdAt: number;
  updatedAt: number;
}

import { compilePolicy, ROLE_NAMES, type PolicyDocument, type RoleName } from '../policy/index.js';

/** Built-in roles; what each may do is decided by src/policy. */
export const ROLES = ROLE_NAMES;
export type Role = RoleName;

export interface User {
  id: string;
  name: string;
  role: Role;
  passwordHash: string | null;
  createdAt: number;
  disabled: boolean;
  email: string | null;
  /** `local`, or `oidc` / `proxy` for users first seen through federation. */
  source: string;
}

export interface AccessKeyRecord {
  id: string;
  userId: string;
  secretHash: string;
  status: 'Active' | 'Inactive';
  createdAt: number;
  lastUsedAt: number | null;
  lastUsedIp: string | null;
}

/** A `users` row as SQLite returns it (shared with sqlite/directory.ts until the directory reads through IdentityStore). */
export interface UserRow {
  id: string;
  name: string;
  role: Role;
  password_hash: string | null;
  created_at: number;
  disabled: number;
  email?: string | null;
  source?: string;
}

/** An `access_keys` row as SQLite returns it. */
export interface KeyRow {
  id: string;
  user_id: string;
  secret_hash: string;
  status: 'Active' | 'Inactive';
  created_at: number;
  last_used_at: number | null;
  last_used_ip: string | null;
}

export const toUser = (r: UserRow): User => ({
  id: r.id,
  name: r.name,
  role: r.role,
  passwordHash: r.password_hash,
  createdAt: r.created_at,
  disabled: r.disabled === 1,
  email: r.email ?? null,
  source: r.source ?? 'local',
});

export const toKey = (r: KeyRow): AccessKeyRecord => ({
  id: r.id,
  userId: r.user_id,
  secretHash: r.secret_hash,
  status: r.status,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
  lastUsedIp: r.last_used_ip,
});

/** Principal ids look like ActionTrail's numeric RAM user ids. */
function newPrincipalId(): string {
  let id = String(randomInt(1, 10));
  for (let i = 0; i < 15; i++) id += String(randomInt(0, 10));
  return id;
}

/** How long a cached read may be used, and the clock it is measured with (tests move it). */
export interface DirectoryOptions {
  /** Milliseconds a cached key, user or policy list is used before it is read again; 0: no cache. Default 1000. */
  cacheMs?: number;
  now?: () => number;
}

/** The default bound on how long a change made by another process goes unseen. */
export const DIRECTORY_CACHE_MS = 1000;

/** Entries kept at most; past it the cache starts again (a flood of distinct callers costs reads, not memory). */
const CACHE_ENTRIES = 10_000;

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

export class Directory {
  private readonly stmts;
  /** Sealed secrets for request signatures (the ActionTrail RPC endpoint). */
  readonly signing: SigningSecrets;
  private readonly cache = new Map<string, { value: unknown; until: number }>();
  /**
   * Parsed policy documents by their stored text. Kept across the cache's expiries and changes:
   * an unchanged document is the same (frozen) object a second later, so `compilePolicy` (a
   * WeakMap by object) compiles each version of a document once; an edited one has new text.
   */
  private readonly documents = new Map<string, PolicyDocument>();
  private readonly cacheMs: number;
  private readonly now: () => number;

  /** `sealer` (the master key ring) is needed to make AccessKeys and to check request signatures; listing and Basic auth work without. */
  constructor(
    private readonly db: Db,
    sealer?: Sealer,
    opts: DirectoryOptions = {},
  ) {
    this.cacheMs = opts.cacheMs ?? DIRECTORY_CACHE_MS;
    this.now = opts.now ?? Date.now;
    this.signing = new SigningSecrets(db, sealer);
    this.stmts = {
      userByName: db.prepare('SELECT * FROM users WHERE name = ?'),
      userById: db.prepare('SELECT * FROM users WHERE id = ?'),
      keyById: db.prepare('SELECT * FROM access_keys WHERE id = ?'),
      insertKey: db.prepare(
        'INSERT INTO access_keys (id, user_id, secret_hash, created_at) VALUES (@id, @user_id, @secret_hash, @created_at)',
      ),
      touchKey: db.prepare('UPDATE access_keys SET last_used_at = ?, last_used_ip = ? WHERE id = ?'),
      policiesOf: db.prepare('SELECT p.document FROM user_policies up JOIN policies p ON p.name = up.policy_name WHERE up.user_id = ?'),
      keysOf: db.prepare('SELECT k.*, u.name AS user_name FROM access_keys k JOIN users u ON u.id = k.user_id ORDER BY k.created_at'),
    };
  }

  /**
   * A read through the cache. Values are frozen (every caller shares them); `undefined` (not
   * found) is never cached.
   */
  private cached<T>(key: string, load: () => T | undefined): T | undefined {
    if (this.cacheMs <= 0) return load();
    const now = this.now();
    const hit = this.cache.get(key);
    if (hit && hit.until > now) return hit.value as T;
    const value = load();
    if (value === undefined) {
      this.cache.delete(key);
      return undefined;
    }
    if (this.cache.size >= CACHE_ENTRIES) this.cache.clear();
    this.cache.set(key, { value: deepFreeze(value), until: now + this.cacheMs });
    return value;
  }

  /** Forgets every cached read: each change made through this directory calls it. */
  private changed(): void {
    this.cache.clear();
  }

  userByName(name: string): User | undefined {
    return this.cached(`name:${name}`, () => {
      const r = this.stmts.userByName.get(name) as UserRow | undefined;
      return r && toUser(r);
    });
  }

  userById(id: string): User | undefined {
    return this.cached(`user:${id}`, () => {
      const r = this.stmts.userById.get(id) as UserRow | undefined;
      return r && toUser(r);
    });
  }

  /**
   * Creates a user, or updates role and password of an existing one when `upsert`.
   * Passwords are hashed with argon2id (`hashPassword`), which is async: pass the hash.
   */
  createUser(name: string, role: Role, passwordHash?: string, upsert = false, extra: { email?: string; source?: string } = {}): User {
    this.changed();
    if (!/^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$/.test(name)) throw new FlinkTrailError('FT_ERR_IDENTITY_INVALID', `user name '${name.slice(0, 64)}' must be 1-128 letters, digits and . _ @ + -`);
    const existing = this.userByName(name);
    if (existing) {
      if (!upsert) return existing;
      this.db
        .prepare('UPDATE users SET role = ?, password_hash = COALESCE(?, password_hash), email = COALESCE(?, email) WHERE id = ?')
        .run(role, passwordHash ?? null, extra.email ?? null, existing.id);
      this.changed();
      return this.userById(existing.id) as User;
    }
    const row: UserRow = {
      id: newPrincipalId(),
      name,
      role,
      password_hash: passwordHash ?? null,
      created_at: Date.now(),
      disabled: 0,
      email: extra.email ?? null,
      source: extra.source ?? 'local',
    };
    this.db
      .prepare('INSERT INTO users (id, name, role, password_hash, created_at, email, source) VALUES (@id, @name, @role, @password_hash, @created_at, @email, @source)')
      .run(row);
    this.changed();
    return toUser(row);
  }

  listUsers(): User[] {
    return (this.db.prepare('SELECT * FROM users ORDER BY name').all() as UserRow[]).map(toUser);
  }

  updateUser(name: string, change: { role?: Role; passwordHash?: string; disabled?: boolean }): User {
    this.changed();
    const u = this.userByName(name);
    if (!u) throw new FlinkTrailError('FT_ERR_KEYS_UNKNOWN_USER', name);
    this.db
      .prepare('UPDATE users SET role = COALESCE(?, role), password_hash = COALESCE(?, password_hash), disabled = COALESCE(?, disabled) WHERE id = ?')
      .run(change.role ?? null, change.passwordHash ?? null, change.disabled === undefined ? null : change.disabled ? 1 : 0, u.id);
    if (change.disabled || change.passwordHash) this.db.prepare('DELETE FROM sessions WHERE user_id = ?').run(u.id);
    this.changed();
    return this.userById(u.id) as User;
  }

  deleteUser(name: string): boolean {
    this.changed();
    const u = this.userByName(name);
    if (!u) return false;
    this.db.prepare('DELETE FROM sessions WHERE user_id = ?').run(u.id);
    const deleted = this.db.prepare('DELETE FROM users WHERE id = ?').run(u.id).changes === 1;
    this.changed();
    return deleted;
  }

  // --- AccessKey lifecycle

  setAccessKeyStatus(id: string, status: 'Active' | 'Inactive'): AccessKeyRecord {
    const updated = this.db.prepare('UPDATE access_keys SET status = ? WHERE id = ?').run(status, id).changes === 1;
    this.changed();
    if (!updated) throw new FlinkTrailError('FT_ERR_IDENTITY_NOT_FOUND', `AccessKey ${id}`);
    return this.accessKey(id) as AccessKeyRecord;
  }

  deleteAccessKey(id: string): void {
    const deleted = this.db.prepare('DELETE FROM access_keys WHERE id = ?').run(id).changes === 1;
    this.changed();
    if (!deleted) throw new FlinkTrailError('FT_ERR_IDENTITY_NOT_FOUND', `AccessKey ${id}`);
  }

  /** A new pair for the same user; the old one is made Inactive (delete it once clients moved). */
  rotateAccessKey(id: string): { accessKeyId: string; accessKeySecret: string; user: User; previous: string } {
    const old = this.accessKey(id);
    if (!old) throw new FlinkTrailError('FT_ERR_IDENTITY_NOT_FOUND', `AccessKey ${id}`);
    const user = this.userById(old.userId) as User;
    return this.db.transaction(() => {
      const fresh = this.createAccessKey(user.name);
      this.setAccessKeyStatus(id, 'Inactive');
      return { ...fresh, previous: id };
    }).immediate();
  }

  // --- policies

  putPolicy(name: string, document: PolicyDocument, description = ''): PolicyRecord {
    if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(name)) throw new FlinkTrailError('FT_ERR_IDENTITY_INVALID', 'policy name must be 1-64 letters, digits, _ and -');
    try {
      compilePolicy(document);
    } catch (err) {
      throw new FlinkTrailError('FT_ERR_POLICY_INVALID', (err as Error).message);
    }
    const now = Date.now();
    this.db
      .prepare(
        'INSERT INTO policies (name, document, description, created_at, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET document = excluded.document, description = excluded.description, updated_at = excluded.updated_at',
      )
      .run(name, JSON.stringify(document), description, now, now);
    this.changed();
    return this.policy(name) as PolicyRecord;
  }

  policy(name: string): PolicyRecord | undefined {
    const r = this.db.prepare('SELECT * FROM policies WHERE name = ?').get(name) as
      | { name: string; document: string; description: string; created_at: number; updated_at: number }
      | undefined;
    return r && { name: r.name, document: JSON.parse(r.document) as PolicyDocument, description: r.description, createdAt: r.created_at, updatedAt: r.updated_at };
  }

  listPolicies(): PolicyRecord[] {
    return (this.db.prepare('SELECT name FROM policies ORDER BY name').all() as { name: string }[]).map((r) => this.policy(r.name) as PolicyRecord);
  }

  deletePolicy(name: string): void {
    const deleted = this.db.prepare('DELETE FROM policies WHERE name = ?').run(name).changes === 1;
    this.changed();
    if (!deleted) throw new FlinkTrailError('FT_ERR_IDENTITY_NOT_FOUND', `policy ${name}`);
  }

  attachPolicy(userName: string, policyName: string): void {
    const u = this.userByName(userName);
    if (!u) throw new FlinkTrailError('FT_ERR_KEYS_UNKNOWN_USER', userName);
    if (!this.policy(policyName)) throw new FlinkTrailError('FT_ERR_IDENTITY_NOT_FOUND', `policy ${policyName}`);
    this.db.prepare('INSERT OR IGNORE INTO user_policies (user_id, policy_name) VALUES (?, ?)').run(u.id, policyName);
    this.changed();
  }

  detachPolicy(userName: string, policyName: string): void {
    const u = this.userByName(userName);
    if (!u) throw new FlinkTrailError('FT_ERR_KEYS_UNKNOWN_USER', userName);
    this.db.prepare('DELETE FROM user_policies WHERE user_id = ? AND policy_name = ?').run(u.id, policyName);
    this.changed();
  }

  /**
   * The policy documents attached to a user, on every authenticated request: cached, so the
   * same (frozen) documents come back and are parsed and compiled once per change.
   */
  policiesOf(userId: string): readonly PolicyDocument[] {
    return (
      this.cached(`policies:${userId}`, () => (this.stmts.policiesOf.all(userId) as { document: string }[]).map((r) => this.document(r.document))) ?? []
    );
  }

  private document(text: string): PolicyDocument {
    let doc = this.documents.get(text);
    if (!doc) {
      if (this.documents.size >= CACHE_ENTRIES) this.documents.clear();
      doc = deepFreeze(JSON.parse(text) as PolicyDocument);
      this.documents.set(text, doc);
    }
    return doc;
  }

  policyNamesOf(userId: string): string[] {
    return (this.db.prepare('SELECT policy_name FROM user_policies WHERE user_id = ? ORDER BY policy_name').all(userId) as { policy_name: string }[]).map((r) => r.policy_name);
  }

  /** Makes a new pair for `userName`; the secret is returned once; its hash (Basic auth) and a sealed copy (signatures) are kept. */
  createAccessKey(userName: string): { accessKeyId: string; accessKeySecret: string; user: User } {
    const user = this.userByName(userName);
    if (!user) throw new FlinkTrailError('FT_ERR_KEYS_UNKNOWN_USER', userName);
    const accessKeyId = newAccessKeyId();
    const accessKeySecret = newAccessKeySecret();
    this.db.transaction(() => {
      this.stmts.insertKey.run({
        id: accessKeyId,
        user_id: user.id,
        secret_hash: hashKeySecret(accessKeySecret),
        created_at: Date.now(),
      });
      this.signing.put(accessKeyId, accessKeySecret);
    }).immediate();
    this.changed();
    return { accessKeyId, accessKeySecret, user };
  }

  accessKey(id: string): AccessKeyRecord | undefined {
    return this.cached(`key:${id}`, () => {
      const r = this.stmts.keyById.get(id) as KeyRow | undefined;
      return r && toKey(r);
    });
  }

  listAccessKeys(): (AccessKeyRecord & { userName: string })[] {
    return (this.stmts.keysOf.all() as (KeyRow & { user_name: string })[]).map((r) => ({
      ...toKey(r),
      userName: r.user_name,
    }));
  }

  touchAccessKey(id: string, at: number, ip: string): void {
    this.stmts.touchKey.run(at, ip, id);
    // Only last-used changed: the cached record follows, and keeps its expiry (the bound on
    // changes made elsewhere still holds).
    const hit = this.cache.get(`key:${id}`);
    if (hit) hit.value = deepFreeze({ ...(hit.value as AccessKeyRecord), lastUsedAt: at, lastUsedIp: ip });
  }
}
