/**
 * AccessKey secrets kept in a form the server can sign with: the one place that stores them.
 *
 * HMAC request signatures (the ActionTrail-compatible RPC endpoint, src/api/actiontrail/) are
 * checked by recomputing them, which needs the secret itself — a salted hash (what Basic auth
 * verifies against) cannot produce an HMAC. Alibaba Cloud keeps AccessKey secrets encrypted
 * server-side for the same reason; so does FlinkTrail: each new key's secret is sealed with the
 * master key (src/secrets, kept outside the data directory) in `access_key_signing`, bound to
 * its key id (context `access-key-signing:<id>`), so a sealed value moved to another key's row
 * does not open there. `flinktrail secrets rotate` re-wraps them with the other sealed columns.
 *
 * Keys without a usable sealed secret cannot sign requests (HTTP Basic still works with them):
 * keys made before this store existed (only their hash), and values sealed with the interim
 * per-data-directory key of unreleased builds (not in `ftsec1.` form). Rotate such keys.
 */
import { isSealed, type Sealer } from '../secrets/envelope.js';
import type { IdentityStore } from './store.js';

/** The sealing context of a key's signing secret. */
export const signingContext = (accessKeyId: string): string => `access-key-signing:${accessKeyId}`;

export class SigningSecrets {
  /** Without a sealer (tools that only read the directory) keys can be looked up but no secret kept or opened. */
  constructor(
    private readonly store: Pick<IdentityStore, 'signingSecret'>,
    private readonly sealer?: Sealer,
  ) {}

  private required(): Sealer {
    // A programming error, not bad input: whoever makes or checks keys holds the master key ring.
    if (!this.sealer) throw new Error('the directory was opened without the master key: AccessKey signing secrets cannot be kept or opened');
    return this.sealer;
  }

  /** The form a new key's secret is stored in (the store writes it with the key, in one transaction). */
  seal(accessKeyId: string, secret: string): string {
    return this.required().seal(secret, signingContext(accessKeyId));
  }

  /**
   * The plain secret, or undefined for a key without usable signing material. A sealed value
   * that does not open throws the secrets error (FT_ERR_SECRETS_UNKNOWN_KEY / _CORRUPT).
   */
  async get(accessKeyId: string): Promise<string | undefined> {
    const sealed = await this.store.signingSecret(accessKeyId);
    if (sealed === undefined || !isSealed(sealed)) return undefined;
    return this.required().open(sealed, signingContext(accessKeyId));
  }
}
