/**
 * The directory of users, AccessKeys and policies: the rules (names, ids, hashing, sealing,
 * coded errors) over an `IdentityStore` (store.ts) that keeps the rows — the data directory's
 * SQLite database (sqlite/directory.ts), or PostgreSQL with `store.url`, where every instance
 * and `flinktrail keys …` share them.
 *
 * The reads every request makes (its AccessKey, its user, the user's policies) are cached for
 * `cacheMs` (default 1 s), so that a request neither queries the store three times nor parses
 * its caller's policy documents again — the same document objects come back, and
 * `compilePolicy` compiles each once. Bounds, as docs/reference/identity.md states them: a change
 * made through this directory (the API, the console) clears the cache and applies to the next
 * request; a change made by another process or instance on the same store (`flinktrail keys
 * disable`, another FlinkTrail behind the same load balancer) applies within `cacheMs`. Misses
 * are never cached: a key or user just made elsewhere is found at once.
 */
import { randomInt } from 'node:crypto';
import { FlinkTrailError } from '../errors/index.js';
import { hashKeySecret, newAccessKeyId, newAccessKeySecret } from './secrets.js';
import type { Sealer } from '../secrets/envelope.js';
import { SigningSecrets } from './signing-secrets.js';
import type { AccountRow, IdentityStore, StoredPolicy } from './store.js';
import type { SessionStore } from './sessions.js';

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
  /** The member account the user belongs to; null: the management account. */
  accountId: string | null;
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

/** What a Principal says of the account of `user`: nothing for the management account. */
export function memberOf(user: Pick<User, 'accountId'>): { accountId?: string } {
  return user.accountId ? { accountId: user.accountId } : {};
}

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
  /** How long past its expiry a cached read is still used while the store cannot be reached. Default 10 minutes. */
  staleIfErrorMs?: number;
  now?: () => number;
}

/** Where the directory keeps its rows, and how it ends a user's console sessions (disabled, deleted, new password). */
export interface DirectoryStores {
  identity: IdentityStore;
  sessions: Pick<SessionStore, 'deleteOfUser'>;
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

/**
 * A store that could not be reached, as callers see it (503, nothing said of where the store is);
 * a coded error of the store's own (a refusal) passes as it is.
 */
function unavailable(err: unknown): Error {
  return err instanceof FlinkTrailError ? err : Object.assign(new FlinkTrailError('FT_ERR_IDENTITY_UNAVAILABLE'), { cause: err });
}

/** The store with every failure it did not code itself turned into FT_ERR_IDENTITY_UNAVAILABLE. */
function unavailableAs503(store: IdentityStore): IdentityStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        try {
          return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        } catch (err) {
          throw unavailable(err);
        }
      };
    },
  });
}

const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$/;
const ACCOUNT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export class Directory {
  private readonly store: IdentityStore;
  private readonly sessions: DirectoryStores['sessions'];
  /** Sealed secrets for request signatures (the ActionTrail RPC endpoint). */
  readonly signing: SigningSecrets;
  private readonly cache = new Map<string, { value: unknown; until: number }>();
  /**
   * Parsed policy documents by their stored text. Kept across the cache's expiries and changes:
   * an unchanged document is the same (frozen) object a second later, so `compilePolicy` (a
   * WeakMap by object) compiles each version of a document once; an edited one has new text.
   */
  private readonly documents = new Map<string, PolicyDocument>();
  /** The role each user had when last read (see `knownRole`). */
  private readonly roles = new Map<string, Role>();
  private readonly cacheMs: number;
  private readonly staleIfErrorMs: number;
  private readonly now: () => number;

  /** `sealer` (the master key ring) is needed to make AccessKeys and to check request signatures; listing and Basic auth work without. */
  constructor(stores: DirectoryStores, sealer?: Sealer, opts: DirectoryOptions = {}) {
    this.store = unavailableAs503(stores.identity);
    this.sessions = stores.sessions;
    this.cacheMs = opts.cacheMs ?? DIRECTORY_CACHE_MS;
    this.staleIfErrorMs = opts.staleIfErrorMs ?? 600_000;
    this.now = opts.now ?? Date.now;
    this.signing = new SigningSecrets(this.store, sealer);
  }

  /**
   * A read through the cache. Values are frozen (every caller shares them); `undefined` (not
   * found) is never cached.
   */
  private async cached<T>(key: string, load: () => Promise<T | undefined>): Promise<T | undefined> {
    if (this.cacheMs <= 0) return load();
    const hit = this.cache.get(key);
    if (hit && hit.until > this.now()) return hit.value as T;
    let value: T | undefined;
    try {
      value = await load();
    } catch (err) {
      // The store cannot be reached: what was read lately still stands, for a bounded time.
      if (hit && this.now() - hit.until < this.staleIfErrorMs) return hit.value as T;
      throw err;
    }
    if (value === undefined) {
      this.cache.delete(key);
      return undefined;
    }
    if (this.cache.size >= CACHE_ENTRIES) this.cache.clear();
    this.cache.set(key, { value: deepFreeze(value), until: this.now() + this.cacheMs });
    return value;
  }

  /** Forgets every cached read: each change made through this directory calls it. */
  private changed(): void {
    this.cache.clear();
  }

  private seen(u: User | undefined): User | undefined {
    if (u) {
      if (this.roles.size >= CACHE_ENTRIES) this.roles.clear();
      this.roles.set(u.id, u.role);
    }
    return u;
  }

  userByName(name: string): Promise<User | undefined> {
    return this.cached(`name:${name}`, async () => this.seen(await this.store.userByName(name)));
  }

  userById(id: string): Promise<User | undefined> {
    return this.cached(`user:${id}`, async () => this.seen(await this.store.userById(id)));
  }

  /**
   * The role a user had when this directory last read them, without waiting: every
   * authenticated request reads its user first, so the role of a principal whose event is being
   * recorded is known (the audit policy's `roles` rules use it). Undefined for a principal never
   * read here.
   */
  knownRole(principalId: string): Role | undefined {
    return this.roles.get(principalId);
  }

  /**
   * Creates a user, or updates role and password of an existing one when `upsert`.
   * Passwords are hashed with argon2id (`hashPassword`), which is async: pass the hash.
   */
  async createUser(name: string, role: Role, passwordHash?: string, upsert = false, extra: { email?: string; source?: string; accountId?: string | null } = {}): Promise<User> {
    this.changed();
    if (!USER_NAME.test(name)) throw new FlinkTrailError('FT_ERR_IDENTITY_INVALID', `user name '${name.slice(0, 64)}' must be 1-128 letters, digits and . _ @ + -`);
    const existing = await this.store.userByName(name);
    if (existing) {
      if (!upsert) return existing;
      await this.store.updateUser(existing.id, { role, ...(passwordHash ? { passwordHash } : {}), ...(extra.email ? { email: extra.email } : {}) });
      this.changed();
      return (await this.store.userById(existing.id)) as User;
    }
    const user: User = {
      id: newPrincipalId(),
      name,
      role,
      passwordHash: passwordHash ?? null,
      createdAt: Date.now(),
      disabled: false,
      email: extra.email ?? null,
      source: extra.source ?? 'local',
      accountId: extra.accountId ?? null,
    };
    if (user.accountId !== null && !(await this.store.accountById(user.accountId))) throw new FlinkTrailError('FT_ERR_ACCOUNT_NOT_FOUND', user.accountId);
    try {
      await this.store.insertUser(user);
    } catch (err) {
      // Another process or instance made the same name first: theirs stands.
      const raced = await this.store.userByName(name);
      if (!raced) throw err;
      this.changed();
      return upsert ? this.createUser(name, role, passwordHash, true, extra) : raced;
    }
    this.changed();
    return user;
  }

  listUsers(): Promise<User[]> {
    return this.store.listUsers();
  }

  // --- member accounts (the management account is configuration: `Config.accountId`)

  /** A new member account with a fresh 16-digit id (ActionTrail's account ids); names are unique. */
  async createAccount(name: string, managementAccountId: string): Promise<AccountRow> {
    if (!ACCOUNT_NAME.test(name)) throw new FlinkTrailError('FT_ERR_IDENTITY_INVALID', `account name '${name.slice(0, 64)}' must be 1-64 letters, digits and . _ -`);
    if ((await this.store.listAccounts()).some((a) => a.name === name)) throw new FlinkTrailError('FT_ERR_ACCOUNT_EXISTS', name);
    for (;;) {
      const account: AccountRow = { id: newPrincipalId(), name, createdAt: Date.now() };
      if (account.id === managementAccountId || (await this.store.accountById(account.id))) continue;
      try {
        await this.store.insertAccount(account);
      } catch (err) {
        // Another process made the same name first.
        if ((await this.store.listAccounts()).some((a) => a.name === name)) throw new FlinkTrailError('FT_ERR_ACCOUNT_EXISTS', name);
        throw err;
      }
      this.changed();
      return account;
    }
  }

  listAccounts(): Promise<AccountRow[]> {
    return this.cached('accounts', () => this.store.listAccounts()) as Promise<AccountRow[]>;
  }

  account(id: string): Promise<AccountRow | undefined> {
    return this.cached(`account:${id}`, () => this.store.accountById(id));
  }

  /**
   * Deletes a member account. Refused (FT_ERR_ACCOUNT_IN_USE) while it owns users or what
   * `owned` names (clusters, trails: the caller asks the features that keep them); its events
   * stay, readable by the management account.
   */
  async deleteAccount(id: string, owned: readonly string[] = []): Promise<void> {
    if (!(await this.store.accountById(id))) throw new FlinkTrailError('FT_ERR_ACCOUNT_NOT_FOUND', id);
    const users = (await this.store.listUsers()).filter((u) => u.accountId === id).map((u) => `user ${u.name}`);
    const blocking = [...users, ...owned];
    if (blocking.length) throw new FlinkTrailError('FT_ERR_ACCOUNT_IN_USE', id, blocking.slice(0, 5).join(', ') + (blocking.length > 5 ? `, and ${blocking.length - 5} more` : ''));
    await this.store.deleteAccount(id);
    this.changed();
  }

  async updateUser(name: string, change: { role?: Role; passwordHash?: string; disabled?: boolean }): Promise<User> {
    this.changed();
    const u = await this.store.userByName(name);
    if (!u) throw new FlinkTrailError('FT_ERR_KEYS_UNKNOWN_USER', name);
    await this.store.updateUser(u.id, change);
    // A disabled user, or one whose password changed, is signed out everywhere.
    if (change.disabled || change.passwordHash) await this.sessions.deleteOfUser(u.id);
    this.changed();
    return (await this.store.userById(u.id)) as User;
  }

  async deleteUser(name: string): Promise<boolean> {
    this.changed();
    const u = await this.store.userByName(name);
    if (!u) return false;
    await this.sessions.deleteOfUser(u.id);
    const deleted = await this.store.deleteUser(u.id);
    this.changed();
    return deleted;
  }

  // --- AccessKey lifecycle

  async setAccessKeyStatus(id: string, status: 'Active' | 'Inactive'): Promise<AccessKeyRecord> {
    const updated = await this.store.setAccessKeyStatus(id, status);
    this.changed();
    if (!updated) throw new FlinkTrailError('FT_ERR_IDENTITY_NOT_FOUND', `AccessKey ${id}`);
    return (await this.accessKey(id)) as AccessKeyRecord;
  }

  async deleteAccessKey(id: string): Promise<void> {
    const deleted = await this.store.deleteAccessKey(id);
    this.changed();
    if (!deleted) throw new FlinkTrailError('FT_ERR_IDENTITY_NOT_FOUND', `AccessKey ${id}`);
  }

  /** A new pair for the same user; the old one is made Inactive (delete it once clients moved). */
  async rotateAccessKey(id: string): Promise<{ accessKeyId: string; accessKeySecret: string; user: User; previous: string }> {
    const old = await this.store.accessKey(id);
    if (!old) throw new FlinkTrailError('FT_ERR_IDENTITY_NOT_FOUND', `AccessKey ${id}`);
    const user = (await this.store.userById(old.userId)) as User;
    const { key, secret, sealed } = this.newKey(user);
    const rotated = await this.store.rotateAccessKey(key, sealed, id);
    this.changed();
    if (!rotated) throw new FlinkTrailError('FT_ERR_IDENTITY_NOT_FOUND', `AccessKey ${id}`);
    return { accessKeyId: key.id, accessKeySecret: secret, user, previous: id };
  }

  // --- policies

  async putPolicy(name: string, document: PolicyDocument, description = ''): Promise<PolicyRecord> {
    if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(name)) throw new FlinkTrailError('FT_ERR_IDENTITY_INVALID', 'policy name must be 1-64 letters, digits, _ and -');
    try {
      compilePolicy(document);
    } catch (err) {
      throw new FlinkTrailError('FT_ERR_POLICY_INVALID', (err as Error).message);
    }
    const now = Date.now();
    await this.store.putPolicy({ name, document: JSON.stringify(document), description, createdAt: now, updatedAt: now });
    this.changed();
    return (await this.policy(name)) as PolicyRecord;
  }

  private toPolicyRecord(p: StoredPolicy): PolicyRecord {
    return { name: p.name, document: this.document(p.document), description: p.description, createdAt: p.createdAt, updatedAt: p.updatedAt };
  }

  async policy(name: string): Promise<PolicyRecord | undefined> {
    const p = await this.store.policy(name);
    return p && this.toPolicyRecord(p);
  }

  async listPolicies(): Promise<PolicyRecord[]> {
    return (await this.store.listPolicies()).map((p) => this.toPolicyRecord(p));
  }

  async deletePolicy(name: string): Promise<void> {
    const deleted = await this.store.deletePolicy(name);
    this.changed();
    if (!deleted) throw new FlinkTrailError('FT_ERR_IDENTITY_NOT_FOUND', `policy ${name}`);
  }

  async attachPolicy(userName: string, policyName: string): Promise<void> {
    const u = await this.store.userByName(userName);
    if (!u) throw new FlinkTrailError('FT_ERR_KEYS_UNKNOWN_USER', userName);
    if (!(await this.store.policy(policyName))) throw new FlinkTrailError('FT_ERR_IDENTITY_NOT_FOUND', `policy ${policyName}`);
    await this.store.attachPolicy(u.id, policyName);
    this.changed();
  }

  async detachPolicy(userName: string, policyName: string): Promise<void> {
    const u = await this.store.userByName(userName);
    if (!u) throw new FlinkTrailError('FT_ERR_KEYS_UNKNOWN_USER', userName);
    await this.store.detachPolicy(u.id, policyName);
    this.changed();
  }

  /**
   * The policy documents attached to a user, on every authenticated request: cached, so the
   * same (frozen) documents come back and are parsed and compiled once per change.
   */
  async policiesOf(userId: string): Promise<readonly PolicyDocument[]> {
    return (await this.cached(`policies:${userId}`, async () => (await this.store.policyDocumentsOf(userId)).map((text) => this.document(text)))) ?? [];
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

  policyNamesOf(userId: string): Promise<string[]> {
    return this.store.policyNamesOf(userId);
  }

  /** A new pair's row, its secret, and the secret sealed for signatures. */
  private newKey(user: User) {
    const id = newAccessKeyId();
    const secret = newAccessKeySecret();
    const sealed = this.signing.seal(id, secret);
    return { key: { id, userId: user.id, secretHash: hashKeySecret(secret), createdAt: Date.now() }, secret, sealed };
  }

  /** Makes a new pair for `userName`; the secret is returned once; its hash (Basic auth) and a sealed copy (signatures) are kept, in one transaction. */
  async createAccessKey(userName: string): Promise<{ accessKeyId: string; accessKeySecret: string; user: User }> {
    const user = await this.store.userByName(userName);
    if (!user) throw new FlinkTrailError('FT_ERR_KEYS_UNKNOWN_USER', userName);
    const { key, secret, sealed } = this.newKey(user);
    await this.store.insertAccessKey(key, sealed);
    this.changed();
    return { accessKeyId: key.id, accessKeySecret: secret, user };
  }

  accessKey(id: string): Promise<AccessKeyRecord | undefined> {
    return this.cached(`key:${id}`, () => this.store.accessKey(id));
  }

  listAccessKeys(): Promise<(AccessKeyRecord & { userName: string })[]> {
    return this.store.listAccessKeys();
  }

  /** Records a key's last use; the cached record follows at once. */
  async touchAccessKey(id: string, at: number, ip: string): Promise<void> {
    // Only last-used changed: the cached record follows, and keeps its expiry (the bound on
    // changes made elsewhere still holds).
    const hit = this.cache.get(`key:${id}`);
    if (hit) hit.value = deepFreeze({ ...(hit.value as AccessKeyRecord), lastUsedAt: at, lastUsedIp: ip });
    await this.store.touchAccessKey(id, at, ip);
  }
}
