/**
 * The IdentityStore on PostgreSQL, on the pool the event store opened (`PostgresEventStore.pool`).
 * What must change together (a key and its sealed secret; a rotation) runs in one transaction on
 * one client.
 */
import type { Pool } from 'pg';
import { inTransaction, migrate } from '../../store/postgres/migrations.js';
import type { AccessKeyRecord, Role, User } from '../directory.js';
import type { AccountRow, IdentityStore, NewAccessKey, StoredPolicy, UserChange } from '../store.js';
import { IDENTITY_MIGRATIONS } from './migrations.js';

type Queryable = Pick<Pool, 'query'>;

interface UserRow {
  id: string;
  name: string;
  role: Role;
  password_hash: string | null;
  created_at: string;
  disabled: boolean;
  email: string | null;
  source: string;
  account_id: string | null;
}

interface KeyRow {
  id: string;
  user_id: string;
  secret_hash: string;
  status: 'Active' | 'Inactive';
  created_at: string;
  last_used_at: string | null;
  last_used_ip: string | null;
}

interface PolicyRow {
  name: string;
  document: string;
  description: string;
  created_at: string;
  updated_at: string;
}

// bigint columns come back as strings; milliseconds fit a double.
const toUser = (r: UserRow): User => ({
  id: r.id,
  name: r.name,
  role: r.role,
  passwordHash: r.password_hash,
  createdAt: Number(r.created_at),
  disabled: r.disabled,
  email: r.email,
  source: r.source,
  accountId: r.account_id,
});

const toKey = (r: KeyRow): AccessKeyRecord => ({
  id: r.id,
  userId: r.user_id,
  secretHash: r.secret_hash,
  status: r.status,
  createdAt: Number(r.created_at),
  lastUsedAt: r.last_used_at === null ? null : Number(r.last_used_at),
  lastUsedIp: r.last_used_ip,
});

const toPolicy = (r: PolicyRow): StoredPolicy => ({
  name: r.name,
  document: r.document,
  description: r.description,
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});

async function insertKey(q: Queryable, key: NewAccessKey, sealed: string | undefined): Promise<void> {
  await q.query('INSERT INTO access_keys (id, user_id, secret_hash, created_at) VALUES ($1, $2, $3, $4)', [key.id, key.userId, key.secretHash, key.createdAt]);
  if (sealed !== undefined) {
    await q.query('INSERT INTO access_key_signing (key_id, sealed) VALUES ($1, $2) ON CONFLICT (key_id) DO UPDATE SET sealed = excluded.sealed', [key.id, sealed]);
  }
}

export class PostgresIdentityStore implements IdentityStore {
  private constructor(private readonly pool: Pool) {}

  /** Applies the `identity` migrations, then the store. */
  static async open(pool: Pool): Promise<PostgresIdentityStore> {
    await migrate(pool, 'identity', IDENTITY_MIGRATIONS);
    return new PostgresIdentityStore(pool);
  }

  private async rows<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    return (await this.pool.query(sql, params)).rows as T[];
  }

  private async changes(sql: string, params: unknown[]): Promise<number> {
    return (await this.pool.query(sql, params)).rowCount ?? 0;
  }

  async listAccounts(): Promise<AccountRow[]> {
    const rows = await this.rows<{ id: string; name: string; created_at: string }>('SELECT * FROM accounts ORDER BY name COLLATE "C"');
    return rows.map((r) => ({ id: r.id, name: r.name, createdAt: Number(r.created_at) }));
  }

  async accountById(id: string): Promise<AccountRow | undefined> {
    const [r] = await this.rows<{ id: string; name: string; created_at: string }>('SELECT * FROM accounts WHERE id = $1', [id]);
    return r && { id: r.id, name: r.name, createdAt: Number(r.created_at) };
  }

  async insertAccount(a: AccountRow): Promise<void> {
    await this.pool.query('INSERT INTO accounts (id, name, created_at) VALUES ($1, $2, $3)', [a.id, a.name, a.createdAt]);
  }

  async deleteAccount(id: string): Promise<boolean> {
    return (await this.changes('DELETE FROM accounts WHERE id = $1', [id])) === 1;
  }

  async userById(id: string): Promise<User | undefined> {
    const [r] = await this.rows<UserRow>('SELECT * FROM users WHERE id = $1', [id]);
    return r && toUser(r);
  }

  async userByName(name: string): Promise<User | undefined> {
    const [r] = await this.rows<UserRow>('SELECT * FROM users WHERE name = $1', [name]);
    return r && toUser(r);
  }

  async listUsers(): Promise<User[]> {
    return (await this.rows<UserRow>('SELECT * FROM users ORDER BY name COLLATE "C"')).map(toUser);
  }

  async insertUser(u: User): Promise<void> {
    await this.pool.query('INSERT INTO users (id, name, role, password_hash, created_at, disabled, email, source, account_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)', [
      u.id,
      u.name,
      u.role,
      u.passwordHash,
      u.createdAt,
      u.disabled,
      u.email,
      u.source,
      u.accountId,
    ]);
  }

  async updateUser(id: string, c: UserChange): Promise<boolean> {
    const n = await this.changes(
      'UPDATE users SET role = COALESCE($1, role), password_hash = COALESCE($2, password_hash), disabled = COALESCE($3, disabled), email = COALESCE($4, email) WHERE id = $5',
      [c.role ?? null, c.passwordHash ?? null, c.disabled ?? null, c.email ?? null, id],
    );
    return n === 1;
  }

  async deleteUser(id: string): Promise<boolean> {
    return (await this.changes('DELETE FROM users WHERE id = $1', [id])) === 1;
  }

  async accessKey(id: string): Promise<AccessKeyRecord | undefined> {
    const [r] = await this.rows<KeyRow>('SELECT * FROM access_keys WHERE id = $1', [id]);
    return r && toKey(r);
  }

  async listAccessKeys(): Promise<(AccessKeyRecord & { userName: string })[]> {
    const rows = await this.rows<KeyRow & { user_name: string }>(
      'SELECT k.*, u.name AS user_name FROM access_keys k JOIN users u ON u.id = k.user_id ORDER BY k.created_at, k.id COLLATE "C"',
    );
    return rows.map((r) => ({ ...toKey(r), userName: r.user_name }));
  }

  async insertAccessKey(key: NewAccessKey, sealedSecret: string | undefined): Promise<void> {
    const client = await this.pool.connect();
    try {
      await inTransaction(client, () => insertKey(client, key, sealedSecret));
    } finally {
      client.release();
    }
  }

  async setAccessKeyStatus(id: string, status: AccessKeyRecord['status']): Promise<boolean> {
    return (await this.changes('UPDATE access_keys SET status = $1 WHERE id = $2', [status, id])) === 1;
  }

  async deleteAccessKey(id: string): Promise<boolean> {
    return (await this.changes('DELETE FROM access_keys WHERE id = $1', [id])) === 1;
  }

  async rotateAccessKey(fresh: NewAccessKey, sealedSecret: string | undefined, previousId: string): Promise<boolean> {
    const client = await this.pool.connect();
    try {
      return await inTransaction(client, async () => {
        const old = await client.query("UPDATE access_keys SET status = 'Inactive' WHERE id = $1", [previousId]);
        if (old.rowCount !== 1) return false;
        await insertKey(client, fresh, sealedSecret);
        return true;
      });
    } finally {
      client.release();
    }
  }

  async touchAccessKey(id: string, at: number, ip: string): Promise<void> {
    await this.pool.query('UPDATE access_keys SET last_used_at = $1, last_used_ip = $2 WHERE id = $3', [at, ip, id]);
  }

  async signingSecret(keyId: string): Promise<string | undefined> {
    const [r] = await this.rows<{ sealed: string }>('SELECT sealed FROM access_key_signing WHERE key_id = $1', [keyId]);
    return r?.sealed;
  }

  async putPolicy(p: StoredPolicy): Promise<void> {
    await this.pool.query(
      `INSERT INTO policies (name, document, description, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (name) DO UPDATE SET document = excluded.document, description = excluded.description, updated_at = excluded.updated_at`,
      [p.name, p.document, p.description, p.createdAt, p.updatedAt],
    );
  }

  async policy(name: string): Promise<StoredPolicy | undefined> {
    const [r] = await this.rows<PolicyRow>('SELECT * FROM policies WHERE name = $1', [name]);
    return r && toPolicy(r);
  }

  async listPolicies(): Promise<StoredPolicy[]> {
    return (await this.rows<PolicyRow>('SELECT * FROM policies ORDER BY name COLLATE "C"')).map(toPolicy);
  }

  async deletePolicy(name: string): Promise<boolean> {
    return (await this.changes('DELETE FROM policies WHERE name = $1', [name])) === 1;
  }

  async attachPolicy(userId: string, policyName: string): Promise<void> {
    await this.pool.query('INSERT INTO user_policies (user_id, policy_name) VALUES ($1, $2) ON CONFLICT DO NOTHING', [userId, policyName]);
  }

  async detachPolicy(userId: string, policyName: string): Promise<void> {
    await this.pool.query('DELETE FROM user_policies WHERE user_id = $1 AND policy_name = $2', [userId, policyName]);
  }

  async policyDocumentsOf(userId: string): Promise<string[]> {
    const rows = await this.rows<{ document: string }>(
      'SELECT p.document FROM user_policies up JOIN policies p ON p.name = up.policy_name WHERE up.user_id = $1 ORDER BY p.name COLLATE "C"',
      [userId],
    );
    return rows.map((r) => r.document);
  }

  async policyNamesOf(userId: string): Promise<string[]> {
    return (await this.rows<{ policy_name: string }>('SELECT policy_name FROM user_policies WHERE user_id = $1 ORDER BY policy_name COLLATE "C"', [userId])).map(
      (r) => r.policy_name,
    );
  }
}
