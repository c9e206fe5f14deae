/**
 * Identity's tables in the embedded database, as each part moves behind its contract. The SQL
 * is this feature's; store/sqlite/database.ts keeps the one numbered list, so the version an
 * existing data directory recorded still means the same tables.
 */

/** Migration 2 (with `meta`): users and their AccessKeys (directory.ts). */
export const USERS_V2 = `
  CREATE TABLE users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    password_hash TEXT,
    created_at INTEGER NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0
  );
  CREATE TABLE access_keys (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    secret_hash TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'Active',
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    last_used_ip TEXT
  );
`;

/** Migration 3, first: policies and their attachments to users (directory.ts). */
export const POLICIES_V3 = `
  CREATE TABLE policies (
    name TEXT PRIMARY KEY,
    document TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE TABLE user_policies (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    policy_name TEXT NOT NULL REFERENCES policies (name) ON DELETE CASCADE,
    PRIMARY KEY (user_id, policy_name)
  );
`;

/** Migration 3, last: the users' email and source (federated users). */
export const USERS_V3 = `
  ALTER TABLE users ADD COLUMN email TEXT;
  ALTER TABLE users ADD COLUMN source TEXT NOT NULL DEFAULT 'local';
`;

/** Migration 9 (with the RPC nonces): AccessKey secrets sealed for signature checks (signing-secrets.ts). */
export const SIGNING_V9 = `
  CREATE TABLE access_key_signing (
    key_id TEXT PRIMARY KEY REFERENCES access_keys (id) ON DELETE CASCADE,
    sealed TEXT NOT NULL
  );
`;

/** Migration 3 (with policies and the users' email and source): console sessions (sessions.ts). */
export const SESSIONS_V3 = `
  CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    principal TEXT NOT NULL,
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  );
`;

/**
 * Migration 12 (with the events' account column): member accounts, and the account each user
 * belongs to (NULL: the management account, `accountId` in the configuration). A user keeps its
 * account for life; an account cannot be deleted while a user names it.
 */
export const ACCOUNTS_V12 = `
  CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
  );
  ALTER TABLE users ADD COLUMN account_id TEXT REFERENCES accounts (id);
  CREATE INDEX users_account ON users (account_id) WHERE account_id IS NOT NULL;
`;
