/**
 * Where the identity directory's rows live: users, AccessKeys with their sealed signing secrets,
 * policies and their attachments. Promise-returning, so that a database server can stand behind
 * it and a key made or disabled through one instance is seen by another.
 *
 * The rules (validation, coded errors, ids, hashing, sealing, the read cache) stay in
 * directory.ts; a store only keeps rows, and keeps together what must change together: a key and
 * its sealed secret, and a rotation's new key and its old one's status. The embedded store is
 * sqlite/directory.ts (tables from sqlite/migrations.ts).
 */
import type { AccessKeyRecord, Role, User } from './directory.js';

/** A member account as stored (the management account is configuration, not a row). */
export interface AccountRow {
  id: string;
  name: string;
  createdAt: number;
}

/** A policy as stored: its document as JSON text (directory.ts parses each text once). */
export interface StoredPolicy {
  name: string;
  document: string;
  description: string;
  createdAt: number;
  updatedAt: number;
}

/** A new AccessKey's row; it starts Active, never used. */
export interface NewAccessKey {
  id: string;
  userId: string;
  secretHash: string;
  createdAt: number;
}

export interface UserChange {
  role?: Role;
  passwordHash?: string;
  disabled?: boolean;
  email?: string;
}

export interface IdentityStore {
  /** Member accounts, by name. */
  listAccounts(): Promise<AccountRow[]>;
  accountById(id: string): Promise<AccountRow | undefined>;
  /** Throws when the id or the name is taken. */
  insertAccount(account: AccountRow): Promise<void>;
  /** False when no such account. */
  deleteAccount(id: string): Promise<boolean>;

  userById(id: string): Promise<User | undefined>;
  userByName(name: string): Promise<User | undefined>;
  /** By name. */
  listUsers(): Promise<User[]>;
  insertUser(user: User): Promise<void>;
  /** Sets what `change` names; false when no such user. */
  updateUser(id: string, change: UserChange): Promise<boolean>;
  /** Deletes the user with its keys, signing secrets and attachments; false when no such user. */
  deleteUser(id: string): Promise<boolean>;

  accessKey(id: string): Promise<AccessKeyRecord | undefined>;
  /** Oldest first, each with its user's name. */
  listAccessKeys(): Promise<(AccessKeyRecord & { userName: string })[]>;
  /** The key and its sealed signing secret (if any) in one transaction: both or neither. */
  insertAccessKey(key: NewAccessKey, sealedSecret: string | undefined): Promise<void>;
  /** False when no such key. */
  setAccessKeyStatus(id: string, status: AccessKeyRecord['status']): Promise<boolean>;
  /** False when no such key. */
  deleteAccessKey(id: string): Promise<boolean>;
  /**
   * Inserts `fresh` (with its sealed secret) and makes `previousId` Inactive in one transaction;
   * false, with nothing written, when `previousId` does not exist.
   */
  rotateAccessKey(fresh: NewAccessKey, sealedSecret: string | undefined, previousId: string): Promise<boolean>;
  touchAccessKey(id: string, at: number, ip: string): Promise<void>;
  /** The sealed signing secret as stored, or undefined. */
  signingSecret(keyId: string): Promise<string | undefined>;

  /** Inserts or replaces document and description; an existing policy keeps its createdAt. */
  putPolicy(policy: StoredPolicy): Promise<void>;
  policy(name: string): Promise<StoredPolicy | undefined>;
  /** By name. */
  listPolicies(): Promise<StoredPolicy[]>;
  /** Deletes it and its attachments; false when no such policy. */
  deletePolicy(name: string): Promise<boolean>;
  /** Idempotent. */
  attachPolicy(userId: string, policyName: string): Promise<void>;
  detachPolicy(userId: string, policyName: string): Promise<void>;
  /** The documents (JSON text) of the policies attached to a user. */
  policyDocumentsOf(userId: string): Promise<string[]>;
  /** The names of the policies attached to a user, sorted. */
  policyNamesOf(userId: string): Promise<string[]>;
}
