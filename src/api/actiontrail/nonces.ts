/**
 * Signature nonces seen within the replay window, per AccessKey: the contract of their store.
 *
 * A signed request may be replayed by whoever saw it while its timestamp is acceptable (±15
 * minutes); its `SignatureNonce` / `x-acs-signature-nonce` must therefore be remembered at least
 * that long, across restarts and by every process on the same database. A nonce is recorded
 * only after its signature verified, so nobody can burn another caller's nonces.
 *
 * Promise-returning, so that a store on a database server can stand behind it; the embedded one
 * is sqlite/nonces.ts (table `rpc_nonces`, created by sqlite/migrations.ts).
 */
export interface NonceStore {
  /**
   * Records `nonce` for the key until `expiresAt`; false when it was already used and has not
   * expired. One use wins when several processes race on the same nonce.
   */
  use(accessKeyId: string, nonce: string, expiresAt: number, now?: number): Promise<boolean>;
  /** Forgets nonces whose expiry passed; how many. */
  purge(now?: number): Promise<number>;
}
