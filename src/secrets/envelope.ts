/**
 * Envelope encryption of secrets at rest (AES-256-GCM, node:crypto).
 *
 * Each value gets its own random data key; the value is encrypted with the data key, the data
 * key with the master key. The sealed form is one ASCII string that says which master key
 * wrapped it:
 *
 *     ftsec1.<master key id>.<wrapped data key>.<ciphertext>
 *
 * (both parts base64url of iv ‖ ciphertext ‖ tag). Rotating the master key only re-wraps the
 * small data keys (`rewrap`); the values themselves are not touched. A `context` (e.g.
 * `trail-destination`, `meta:pagination-token-key`) is bound in as additional authenticated
 * data, so a sealed value moved to another place does not open there.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { FlinkTrailError } from '../errors/index.js';
import type { MasterKey } from './master-key.js';

export const SEALED_PREFIX = 'ftsec1.';
const SEALED = /^ftsec1\.([0-9a-f]{16})\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/;
const IV = 12;
const TAG = 16;

/** Whether a stored value is in sealed form (anything else is plaintext or a reference). */
export function isSealed(value: string): boolean {
  return value.startsWith(SEALED_PREFIX);
}

function encrypt(key: Buffer, plaintext: Buffer, aad: string): string {
  const iv = randomBytes(IV);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(Buffer.from(aad, 'utf8'));
  const ct = Buffer.concat([c.update(plaintext), c.final()]);
  return Buffer.concat([iv, ct, c.getAuthTag()]).toString('base64url');
}

function decrypt(key: Buffer, packed: string, aad: string): Buffer {
  const b = Buffer.from(packed, 'base64url');
  if (b.length < IV + TAG) throw new Error('too short');
  const d = createDecipheriv('aes-256-gcm', key, b.subarray(0, IV));
  d.setAAD(Buffer.from(aad, 'utf8'));
  d.setAuthTag(b.subarray(b.length - TAG));
  return Buffer.concat([d.update(b.subarray(IV, b.length - TAG)), d.final()]);
}

const dekAad = (keyId: string) => `ftsec1 data key ${keyId}`;
const valueAad = (context: string) => `ftsec1 value ${context}`;

/** What callers need: seal a secret before it is stored, open it when it is used. */
export interface Sealer {
  /** The sealed form of `plaintext`, bound to `context` (default `default`). */
  seal(plaintext: string, context?: string): string;
  /** The plaintext of a sealed value; FT_ERR_SECRETS_UNKNOWN_KEY / FT_ERR_SECRETS_CORRUPT if it cannot be opened. */
  open(sealed: string, context?: string): string;
}

/**
 * A key ring: the active master key (seals) and any number of others (open only).
 *
 * @example
 *     const s = new Secrets(loadMasterKey('env:FLINKTRAIL_MASTER_KEY'));
 *     const stored = s.seal('my secret', 'rpc-access-key');   // 'ftsec1.…'
 *     s.open(stored, 'rpc-access-key');                       // 'my secret'
 */
export class Secrets implements Sealer {
  private readonly keys = new Map<string, MasterKey>();

  constructor(
    readonly active: MasterKey,
    others: readonly MasterKey[] = [],
  ) {
    for (const k of [active, ...others]) this.keys.set(k.id, k);
  }

  /** A ring that seals with `key` and still opens with every key of this one. */
  withActive(key: MasterKey): Secrets {
    return new Secrets(key, [...this.keys.values()].filter((k) => k.id !== key.id));
  }

  /** The ids of every key this ring can open with. */
  keyIds(): string[] {
    return [...this.keys.keys()];
  }

  seal(plaintext: string, context = 'default'): string {
    const dek = randomBytes(32);
    try {
      const wrapped = encrypt(this.active.key, dek, dekAad(this.active.id));
      return `${SEALED_PREFIX}${this.active.id}.${wrapped}.${encrypt(dek, Buffer.from(plaintext, 'utf8'), valueAad(context))}`;
    } finally {
      dek.fill(0);
    }
  }

  open(sealed: string, context = 'default'): string {
    const { dek, body } = this.unwrap(sealed);
    try {
      return decrypt(dek, body, valueAad(context)).toString('utf8');
    } catch {
      throw new FlinkTrailError('FT_ERR_SECRETS_CORRUPT', `it does not authenticate in context ${context}`);
    } finally {
      dek.fill(0);
    }
  }

  /** The id of the master key that wrapped a sealed value. */
  static keyIdOf(sealed: string): string | undefined {
    return SEALED.exec(sealed)?.[1];
  }

  /** The same value wrapped by the active key (unchanged if it already is); the value itself is not decrypted. */
  rewrap(sealed: string): string {
    const m = SEALED.exec(sealed);
    if (m?.[1] === this.active.id) return sealed;
    const { dek, body } = this.unwrap(sealed);
    try {
      return `${SEALED_PREFIX}${this.active.id}.${encrypt(this.active.key, dek, dekAad(this.active.id))}.${body}`;
    } finally {
      dek.fill(0);
    }
  }

  private unwrap(sealed: string): { dek: Buffer; body: string } {
    const m = SEALED.exec(sealed);
    if (!m) throw new FlinkTrailError('FT_ERR_SECRETS_CORRUPT', 'it is not in sealed form');
    const [, keyId = '', wrapped = '', body = ''] = m;
    const master = this.keys.get(keyId);
    if (!master) throw new FlinkTrailError('FT_ERR_SECRETS_UNKNOWN_KEY', keyId, this.keyIds().join(', '));
    try {
      return { dek: decrypt(master.key, wrapped, dekAad(keyId)), body };
    } catch {
      throw new FlinkTrailError('FT_ERR_SECRETS_CORRUPT', `its data key does not open with master key ${keyId}`);
    }
  }
}
