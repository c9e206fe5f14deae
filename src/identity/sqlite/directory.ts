/** The embedded IdentityStore: tables users, access_keys, access_key_signing, policies, user_policies (sqlite/migrations.ts). */
import type { Db } from '../../store/sqlite/database.js';
import type { Sealer } from '../../secrets/envelope.js';
import { Directory, type AccessKeyRecord, type DirectoryOptions, type Role, type User } from '../directory.js';
import { SqliteSessionStore } from './sessions.js';
import type { AccountRow, IdentityStore, NewAccessKey, StoredPolicy, UserChange } from '../store.js';

/** A `users` row as SQLite returns it. */
interface UserRow {
  id: string;
  name: string;
  role: Role;
  password_hash: string | null;
  created_at: number;
  disabled: number;
  email?: string | null;
  source?: string;
  account_id?: string | null;
}

/** An `access_keys` row as SQLite returns it. */
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
  email: r.email ?? null,
  source: r.source ?? 'local',
  accountId: r.account_id ?? null,
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

interface PolicyRow {
  name: string;
  document: string;
  description: string;
  created_at: number;
  updated_at: number;
}

const toPolicy = (r: PolicyRow): StoredPolicy => ({ name: r.name, document: r.document, description: r.description, createdAt: r.created_at, updatedAt: r.updated_at });

/** Statements are prepared once: `userById`, `accessKey` and `policyDocumentsOf` run on requests (through the directory's cache). */
export class SqliteIdentityStore implements IdentityStore {
  private readonly stmts;
  private readonly insertKeyTx: (key: NewAccessKey, sealed: string | undefined) => void;
  private readonly rotateTx: (fresh: NewAccessKey, sealed: string | undefined, previousId: string) => boolean;

  constructor(private readonly db: Db) {
    this.stmts = {
      userById: db.prepare('SELECT * FROM users WHERE id = ?'),
      userByName: db.prepare('SELECT * FROM users WHERE name = ?'),
      listUsers: db.prepare('SELECT * FROM users ORDER BY name'),
      insertUser: db.prepare(
        'INSERT INTO users (id, name, role, password_hash, created_at, disabled, email, source, account_id) VALUES (@id, @name, @role, @passwordHash, @createdAt, @disabled, @email, @source, @accountId)',
      ),
      updateUser: db.prepare(
        'UPDATE users SET role = COALESCE(?, role), password_hash = COALESCE(?, password_hash), disabled = COALESCE(?, disabled), email = COALESCE(?, email) WHERE id = ?',
      ),
      deleteUser: db.prepare('DELETE FROM users WHERE id = ?'),
      listAccounts: db.prepare('SELECT id, name, created_at AS createdAt FROM accounts ORDER BY name'),
      accountById: db.prepare('SELECT id, name, created_at AS createdAt FROM accounts WHERE id = ?'),
      insertAccount: db.prepare('INSERT INTO accounts (id, name, created_at) VALUES (@id, @name, @createdAt)'),
      deleteAccount: db.prepare('DELETE FROM accounts WHERE id = ?'),
      keyById: db.prepare('SELECT * FROM access_keys WHERE id = ?'),
      listKeys: db.prepare('SELECT k.*, u.name AS user_name FROM access_keys k JOIN users u ON u.id = k.user_id ORDER BY k.created_at, k.id'),
      insertKey: db.prepare('INSERT INTO access_keys (id, user_id, secret_hash, created_at) VALUES (@id, @userId, @secretHash, @createdAt)'),
      putSigning: db.prepare('INSERT OR REPLACE INTO access_key_signing (key_id, sealed) VALUES (?, ?)'),
      getSigning: db.prepare('SELECT sealed FROM access_key_signing WHERE key_id = ?'),
      keyStatus: db.prepare('UPDATE access_keys SET status = ? WHERE id = ?'),
      deleteKey: db.prepare('DELETE FROM access_keys WHERE id = ?'),
      touchKey: db.prepare('UPDATE access_keys SET last_used_at = ?, last_used_ip = ? WHERE id = ?'),
      putPolicy: db.prepare(
        'INSERT INTO policies (name, document, description, created_at, updated_at) VALUES (@name, @document, @description, @createdAt, @updatedAt) ON CONFLICT (name) DO UPDATE SET document = excluded.document, description = excluded.description, updated_at = excluded.updated_at',
      ),
      policy: db.prepare('SELECT * FROM policies WHERE name = ?'),
      listPolicies: db.prepare('SELECT * FROM policies ORDER BY name'),
      deletePolicy: db.prepare('DELETE FROM policies WHERE name = ?'),
      attach: db.prepare('INSERT OR IGNORE INTO user_policies (user_id, policy_name) VALUES (?, ?)'),
      detach: db.prepare('DELETE FROM user_policies WHERE user_id = ? AND policy_name = ?'),
      documentsOf: db.prepare('SELECT p.document FROM user_policies up JOIN policies p ON p.name = up.policy_name WHERE up.user_id = ? ORDER BY p.name'),
      namesOf: db.prepare('SELECT policy_name FROM user_policies WHERE user_id = ? ORDER BY policy_name'),
    };
    const insertKey = (key: NewAccessKey, sealed: string | undefined): void => {
      this.stmts.insertKey.run(key);
      if (sealed !== undefined) this.stmts.putSigning.run(key.id, sealed);
    };
    const insertKeyTx = db.transaction(insertKey);
    this.insertKeyTx = (key, sealed) => insertKeyTx.immediate(key, sealed);
    const rotateTx = db.transaction((fresh: NewAccessKey, sealed: string | undefined, previousId: string): boolean => {
      if (this.stmts.keyStatus.run('Inactive', previousId).changes !== 1) return false;
      insertKey(fresh, sealed);
      return true;
    });
    this.rotateTx = (fresh, sealed, previousId) => rotateTx.immediate(fresh, sealed, previousId);
  }

  async listAccounts(): Promise<AccountRow[]> {
    return this.stmts.listAccounts.all() as AccountRow[];
  }

  async accountById(id: string): Promise<AccountRow | undefined> {
    return this.stmts.accountById.get(id) as AccountRow | undefined;
  }

  async insertAccount(a: AccountRow): Promise<void> {
    this.stmts.insertAccount.run(a);
  }

  async deleteAccount(id: string): Promise<boolean> {
    return this.stmts.deleteAccount.run(id).changes === 1;
  }

  async userById(id: string): Promise<User | undefined> {
    const r = this.stmts.userById.get(id) as UserRow | undefined;
    return r && toUser(r);
  }

  async userByName(name: string): Promise<User | undefined> {
    const r = this.stmts.userByName.get(name) as UserRow | undefined;
    return r && toUser(r);
  }

  async listUsers(): Promise<User[]> {
    return (this.stmts.listUsers.all() as UserRow[]).map(toUser);
  }

  async insertUser(u: User): Promise<void> {
    this.stmts.insertUser.run({ ...u, disabled: u.disabled ? 1 : 0 });
  }

  async updateUser(id: string, c: UserChange): Promise<boolean> {
    const disabled = c.disabled === undefined ? null : c.disabled ? 1 : 0;
    return this.stmts.updateUser.run(c.role ?? null, c.passwordHash ?? null, disabled, c.email ?? null, id).changes === 1;
  }

  async deleteUser(id: string): Promise<boolean> {
    return this.stmts.deleteUser.run(id).changes === 1;
  }

  async accessKey(id: string): Promise<AccessKeyRecord | undefined> {
    const r = this.stmts.keyById.get(id) as KeyRow | undefined;
    return r && toKey(r);
  }

  async listAccessKeys(): Promise<(AccessKeyRecord & { userName: string })[]> {
    return (this.stmts.listKeys.all() as (KeyRow & { user_name: string })[]).map((r) => ({ ...toKey(r), userName: r.user_name }));
  }

  async insertAccessKey(key: NewAccessKey, sealedSecret: string | undefined): Promise<void> {
    this.insertKeyTx(key, sealedSecret);
  }

  async setAccessKeyStatus(id: string, status: AccessKeyRecord['status']): Promise<boolean> {
    return this.stmts.keyStatus.run(status, id).changes === 1;
  }

  async deleteAccessKey(id: string): Promise<boolean> {
    return this.stmts.deleteKey.run(id).changes === 1;
  }

  async rotateAccessKey(fresh: NewAccessKey, sealedSecret: string | undefined, previousId: string): Promise<boolean> {
    return this.rotateTx(fresh, sealedSecret, previousId);
  }

  async touchAccessKey(id: string, at: number, ip: string): Promise<void> {
    this.stmts.touchKey.run(at, ip, id);
  }

  async signingSecret(keyId: string): Promise<string | undefined> {
    return (this.stmts.getSigning.get(keyId) as { sealed: string } | undefined)?.sealed;
  }

  async putPolicy(p: StoredPolicy): Promise<void> {
    this.stmts.putPolicy.run(p);
  }

  async policy(name: string): Promise<StoredPolicy | undefined> {
    const r = this.stmts.policy.get(name) as PolicyRow | undefined;
    return r && toPolicy(r);
  }

  async listPolicies(): Promise<StoredPolicy[]> {
    return (this.stmts.listPolicies.all() as PolicyRow[]).map(toPolicy);
  }

  async deletePolicy(name: string): Promise<boolean> {
    return this.stmts.deletePolicy.run(name).changes === 1;
  }

  async attachPolicy(userId: string, policyName: string): Promise<void> {
    this.stmts.attach.run(userId, policyName);
  }

  async detachPolicy(userId: string, policyName: string): Promise<void> {
    this.stmts.detach.run(userId, policyName);
  }

  async policyDocumentsOf(userId: string): Promise<string[]> {
    return (this.stmts.documentsOf.all(userId) as { document: string }[]).map((r) => r.document);
  }

  async policyNamesOf(userId: string): Promise<string[]> {
    return (this.stmts.namesOf.all(userId) as { policy_name: string }[]).map((r) => r.policy_name);
  }
}

/** The directory on the data directory's database: its identity rows and its console sessions. */
export function sqliteDirectory(db: Db, sealer?: Sealer, opts?: DirectoryOptions): Directory {
  return new Directory({ identity: new SqliteIdentityStore(db), sessions: new SqliteSessionStore(db) }, sealer, opts);
}
