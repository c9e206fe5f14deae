/**
 * Identity's tables in the embedded database, as each part moves behind its contract. The SQL
 * is this feature's; store/sqlite/database.ts keeps the one numbered list, so the version an
 * existing data directory recorded still means the same tables.
 */

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
