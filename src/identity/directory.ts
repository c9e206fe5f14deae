/**
 * The directory of users and AccessKeys, kept in the embedded database.
 *
 * Used by the server to authenticate and by `flinktrail keys …` directly on the data directory
 * (SQLite WAL allows both at once), so a key made while the server runs works at once.
 */
import { randomInt } from 'node:crypto';
import type { Db } from '../store/sqlite/database.js';
import { FlinkTrailError } from '../errors/index.js';
import { hashKeySecret, hashPassword, newAccessKeyId, newAccessKeySecret } from './secrets.js';

/** Built-in roles; what each may do is decided by the policy module (issue: access control). */
export const ROLES = ['viewer', 'operator', 'developer', 'admin', 'auditor'] as const;
export type Role = (typeof ROLES)[number];

export interface User {
  id: string;
  name: string;
  role: Role;
  passwordHash: string | null;
  createdAt: number;
  disabled: boolean;
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

interface UserRow {
  id: string;
  name: string;
  role: Role;
  password_hash: string | null;
  created_at: number;
  disabled: number;
}

interface KeyRow {
  id: string;
  user_id: string;
  secret_hash: string;
  status: 'Active' | 'Inactive';
  created_at: number;
  last_used_at: number | null;
  last_used_ip: string | null;
}

const toUser = (r: UserRow): User => ({
  id: r.id,
  name: r.name,
  role: r.role,
  passwordHash: r.password_hash,
  createdAt: r.created_at,
  disabled: r.disabled === 1,
});

const toKey = (r: KeyRow): AccessKeyRecord => ({
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

export class Directory {
  private readonly stmts;

  constructor(private readonly db: Db) {
    this.stmts = {
      userByName: db.prepare('SELECT * FROM users WHERE name = ?'),
      userById: db.prepare('SELECT * FROM users WHERE id = ?'),
      insertUser: db.prepare(
        'INSERT INTO users (id, name, role, password_hash, created_at) VALUES (@id, @name, @role, @password_hash, @created_at)',
      ),
      keyById: db.prepare('SELECT * FROM access_keys WHERE id = ?'),
      insertKey: db.prepare(
        'INSERT INTO access_keys (id, user_id, secret_hash, created_at) VALUES (@id, @user_id, @secret_hash, @created_at)',
      ),
      touchKey: db.prepare('UPDATE access_keys SET last_used_at = ?, last_used_ip = ? WHERE id = ?'),
      keysOf: db.prepare('SELECT k.*, u.name AS user_name FROM access_keys k JOIN users u ON u.id = k.user_id ORDER BY k.created_at'),
    };
  }

  userByName(name: string): User | undefined {
    const r = this.stmts.userByName.get(name) as UserRow | undefined;
    return r && toUser(r);
  }

  userById(id: string): User | undefined {
    const r = this.stmts.userById.get(id) as UserRow | undefined;
    return r && toUser(r);
  }

  /** Creates a user, or updates role and password of an existing one when `upsert`. */
  createUser(name: string, role: Role, password?: string, upsert = false): User {
    const existing = this.userByName(name);
    if (existing) {
      if (!upsert) return existing;
      this.db
        .prepare('UPDATE users SET role = ?, password_hash = COALESCE(?, password_hash) WHERE id = ?')
        .run(role, password ? hashPassword(password) : null, existing.id);
      return this.userById(existing.id) as User;
    }
    const row: UserRow = {
      id: newPrincipalId(),
      name,
      role,
      password_hash: password ? hashPassword(password) : null,
      created_at: Date.now(),
      disabled: 0,
    };
    this.stmts.insertUser.run(row);
    return toUser(row);
  }

  /** Makes a new pair for `userName`; the secret is returned once and only its hash is kept. */
  createAccessKey(userName: string): { accessKeyId: string; accessKeySecret: string; user: User } {
    const user = this.userByName(userName);
    if (!user) throw new FlinkTrailError('FT_ERR_KEYS_UNKNOWN_USER', userName);
    const accessKeyId = newAccessKeyId();
    const accessKeySecret = newAccessKeySecret();
    this.stmts.insertKey.run({
      id: accessKeyId,
      user_id: user.id,
      secret_hash: hashKeySecret(accessKeySecret),
      created_at: Date.now(),
    });
    return { accessKeyId, accessKeySecret, user };
  }

  accessKey(id: string): AccessKeyRecord | undefined {
    const r = this.stmts.keyById.get(id) as KeyRow | undefined;
    return r && toKey(r);
  }

  listAccessKeys(): (AccessKeyRecord & { userName: string })[] {
    return (this.stmts.keysOf.all() as (KeyRow & { user_name: string })[]).map((r) => ({
      ...toKey(r),
      userName: r.user_name,
    }));
  }

  touchAccessKey(id: string, at: number, ip: string): void {
    this.stmts.touchKey.run(at, ip, id);
  }
}
