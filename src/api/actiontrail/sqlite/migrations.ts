/**
 * The ActionTrail RPC endpoint's tables in the embedded database. The SQL is this feature's;
 * store/sqlite/database.ts keeps the one numbered list, so the version an existing data
 * directory recorded still means the same tables (this part belongs to migration 9).
 */

/** Migration 9 (with the signing secrets): signature nonces seen within the replay window. */
export const NONCES_V9 = `
  CREATE TABLE rpc_nonces (
    access_key_id TEXT NOT NULL,
    nonce TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (access_key_id, nonce)
  ) WITHOUT ROWID;
  CREATE INDEX rpc_nonces_expiry ON rpc_nonces (expires_at);
`;
