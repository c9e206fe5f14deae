/**
 * Values FlinkTrail keeps for itself beside the events (the `meta` table of the embedded
 * database): HMAC keys made once and shared by every process on the same database — page
 * tokens, OIDC state cookies, Kubernetes spec digests.
 *
 * The contract, Promise-returning so that a database server can stand behind it; the embedded
 * implementation is store/sqlite/meta.ts.
 */
export interface MetaStore {
  /**
   * The secret kept under `key`, made by `make` the first time (when several processes race,
   * one value wins and all of them get it). Sealed with the master key at rest.
   */
  secret(key: string, make: () => string): Promise<string>;
  /** The plain (unsealed) value under `key`, undefined when none was set. Not for secrets. */
  get(key: string): Promise<string | undefined>;
  /** Sets the plain value under `key` (the last writer wins); every instance reads it next. */
  set(key: string, value: string): Promise<void>;
}
