/**
 * Trails' tables in the embedded database, as each part moves behind its contract. The SQL is
 * this feature's; store/sqlite/database.ts keeps the one numbered list, so the version an
 * existing data directory recorded still means the same tables.
 */

/** Migration 4 (with the trail tables): digest public keys (private keys are files in the data dir). */
export const DIGEST_KEYS_V4 = `
  CREATE TABLE trail_digest_keys (
    fingerprint TEXT PRIMARY KEY,
    public_key TEXT NOT NULL,
    valid_from INTEGER NOT NULL,
    valid_to INTEGER
  );
`;

/** Migration 11: the delivery lease of each trail (holder, fencing token, expiry in ms). */
export const TRAIL_LEASES_V11 = `
  CREATE TABLE trail_leases (
    trail TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    token INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  );
`;

/**
 * Migration 13: trails belong to accounts. `account_id` is the owner (NULL: the management
 * account — every trail made before accounts, and those the management account makes); a history
 * job keeps its trail's, as jobs outlive their trail. `is_organization_trail`: a multi-account
 * trail (every account's events, each under its own path).
 */
export const TRAIL_ACCOUNTS_V13 = `
  ALTER TABLE trails ADD COLUMN account_id TEXT;
  ALTER TABLE trails ADD COLUMN is_organization_trail INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE trail_history_jobs ADD COLUMN account_id TEXT;
  CREATE INDEX trail_history_jobs_account ON trail_history_jobs (account_id, created_at);
`;
