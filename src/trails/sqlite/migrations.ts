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
