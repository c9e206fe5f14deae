/**
 * Digest signing keys: Ed25519 key pairs. The private key is a file in the data directory
 * (`<dataDir>/trail-digest-keys/<fingerprint>.pem`, mode 0600), its PEM sealed with the master
 * key (src/secrets/; a file an older version wrote in clear is sealed on first use), so a copy
 * of the data directory cannot sign digests; the public keys, with the time
 * each was valid from and to, are in the database and published through the API
 * (`GET /api/v1/trails/:name/digest-public-keys`) for validate-logs.
 *
 * Rotation makes a new key active and closes the old one's validity; digests name the key that
 * signed them by fingerprint and carry their signing time, so validation across a rotation
 * needs no time buffer (cf. aws-cli #10072).
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isSealed, type Sealer } from '../../secrets/index.js';
import type { Db } from '../../store/sqlite/database.js';

const KEY_CONTEXT = 'trail-digest-key';

export interface PublicKeyInfo {
  Fingerprint: string;
  /** SPKI PEM. */
  PublicKey: string;
  ValidityStartTime: string;
  /** Absent while the key is active. */
  ValidityEndTime?: string;
}

export function fingerprintOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 32);
}

export class DigestKeys {
  private readonly dir: string;
  private cache: { fingerprint: string; key: KeyObject } | undefined;

  constructor(
    private readonly db: Db,
    dataDir: string,
    private readonly secrets: Sealer,
  ) {
    this.dir = join(dataDir, 'trail-digest-keys');
  }

  /** New keys are written exclusively; a sealed copy replaces a clear one by rename (never half a key). */
  private write(fingerprint: string, pem: string, how: 'new' | 'replace'): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const path = join(this.dir, `${fingerprint}.pem`);
    const sealed = `${this.secrets.seal(pem, KEY_CONTEXT)}\n`;
    if (how === 'new') return writeFileSync(path, sealed, { mode: 0o600, flag: 'wx' });
    writeFileSync(`${path}.tmp`, sealed, { mode: 0o600 });
    renameSync(`${path}.tmp`, path);
  }

  private read(fingerprint: string): KeyObject {
    const text = readFileSync(join(this.dir, `${fingerprint}.pem`), 'utf8').trim();
    if (isSealed(text)) return createPrivateKey(this.secrets.open(text, KEY_CONTEXT));
    this.write(fingerprint, text, 'replace'); // written in clear by an earlier version
    return createPrivateKey(text);
  }

  /** The active signing key; made on first use. */
  active(now = Date.now()): { fingerprint: string; privateKey: KeyObject } {
    const row = this.db.prepare('SELECT fingerprint FROM trail_digest_keys WHERE valid_to IS NULL ORDER BY valid_from DESC LIMIT 1').get() as
      | { fingerprint: string }
      | undefined;
    if (!row) return this.rotate(now);
    if (this.cache?.fingerprint !== row.fingerprint) {
      this.cache = { fingerprint: row.fingerprint, key: this.read(row.fingerprint) };
    }
    return { fingerprint: this.cache.fingerprint, privateKey: this.cache.key };
  }

  /** Makes a new active key; the previous one stays published with its end of validity. */
  rotate(now = Date.now()): { fingerprint: string; privateKey: KeyObject } {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const fingerprint = fingerprintOf(publicKey);
    this.write(fingerprint, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 'new');
    this.db
      .transaction(() => {
        this.db.prepare('UPDATE trail_digest_keys SET valid_to = ? WHERE valid_to IS NULL').run(now);
        this.db
          .prepare('INSERT INTO trail_digest_keys (fingerprint, public_key, valid_from, valid_to) VALUES (?, ?, ?, NULL)')
          .run(fingerprint, publicKey.export({ type: 'spki', format: 'pem' }), now);
      })
      .immediate();
    this.cache = { fingerprint, key: privateKey };
    return { fingerprint, privateKey };
  }

  publicKeys(): PublicKeyInfo[] {
    const rows = this.db.prepare('SELECT fingerprint, public_key, valid_from, valid_to FROM trail_digest_keys ORDER BY valid_from').all() as {
      fingerprint: string;
      public_key: string;
      valid_from: number;
      valid_to: number | null;
    }[];
    return rows.map((r) => ({
      Fingerprint: r.fingerprint,
      PublicKey: r.public_key,
      ValidityStartTime: new Date(r.valid_from).toISOString(),
      ...(r.valid_to !== null ? { ValidityEndTime: new Date(r.valid_to).toISOString() } : {}),
    }));
  }
}

/** A public key from its published form (checks that the fingerprint matches the key). */
export function importPublicKey(info: PublicKeyInfo): KeyObject {
  const key = createPublicKey(info.PublicKey);
  if (fingerprintOf(key) !== info.Fingerprint) throw new Error(`Public key ${info.Fingerprint} does not match its fingerprint.`);
  return key;
}
