/** Identity's tables on PostgreSQL (component `identity` of store/postgres/migrations.ts): the same rows as sqlite/migrations.ts. */
import type { Migration } from '../../store/postgres/migrations.js';

export const IDENTITY_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'users, access keys, signing secrets, policies',
    sql: `
      CREATE TABLE users (
        id text PRIMARY KEY,
        name text NOT NULL UNIQUE,
        role text NOT NULL,
        password_hash text,
        created_at bigint NOT NULL,
        disabled boolean NOT NULL DEFAULT false,
        email text,
        source text NOT NULL DEFAULT 'local'
      );
      CREATE TABLE access_keys (
        id text PRIMARY KEY,
        user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        secret_hash text NOT NULL,
        status text NOT NULL DEFAULT 'Active',
        created_at bigint NOT NULL,
        last_used_at bigint,
        last_used_ip text
      );
      CREATE INDEX access_keys_user ON access_keys (user_id);
      CREATE TABLE access_key_signing (
        key_id text PRIMARY KEY REFERENCES access_keys (id) ON DELETE CASCADE,
        sealed text NOT NULL
      );
      CREATE TABLE policies (
        name text PRIMARY KEY,
        document text NOT NULL,
        description text NOT NULL DEFAULT '',
        created_at bigint NOT NULL,
        updated_at bigint NOT NULL
      );
      CREATE TABLE user_policies (
        user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        policy_name text NOT NULL REFERENCES policies (name) ON DELETE CASCADE,
        PRIMARY KEY (user_id, policy_name)
      );
      CREATE INDEX user_policies_policy ON user_policies (policy_name);
    `,
  },
  {
    version: 2,
    name: 'member accounts; the account of each user',
    sql: `
      CREATE TABLE accounts (
        id text PRIMARY KEY,
        name text NOT NULL UNIQUE,
        created_at bigint NOT NULL
      );
      ALTER TABLE users ADD COLUMN account_id text REFERENCES accounts (id);
      CREATE INDEX users_account ON users (account_id) WHERE account_id IS NOT NULL;
    `,
  },
];
