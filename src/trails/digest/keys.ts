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
 *
 * The public halves and their validity are kept behind `DigestKeyStore` (Promise-returning, so
 * that a database server can stand behind it); the embedded store is trails/sqlite/digest-keys.ts.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isSealed, type Sealer } from '../../secrets/index.js';

const KEY_CONTEXT = 'trail-digest-key';

export interface PublicKeyInfo {
  Fingerprint: string;
  /** SPKI PEM. */
  PublicKey: string;
  ValidityStartTime: string;
  /** Absent while the key is active. */
  ValidityEndTime?: string;
}

/** A public key as stored: SPKI PEM, valid from/to (ms; `validTo` null while active). */
export interface DigestKeyRecord {
  fingerprint: string;
  publicKey: string;
  validFrom: number;
  validTo: number | null;
}

/** Where the public halves of the digest keys and their validity are kept. */
export interface DigestKeyStore {
  /** The key valid now (the newest without an end of validity), if any. */
  activeFingerprint(): Promise<string | undefined>;
  /** Ends the validity of the active key at `now` and makes this one active, in one transaction. */
  activate(key: { fingerprint: string; publicKey: string }, now: number): Promise<void>;
  /** Every key, oldest first. */
  list(): Promise<DigestKeyRecord[]>;
}

export function fingerprintOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 32);
}

export class DigestKeys {
  private readonly dir: string;
  private cache: { fingerprint: string; key: KeyObject } | undefined;
  /** `active` and `rotate` one at a time: two first uses must not both make a key. */
  private turn: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: DigestKeyStore,
    dataDir: string,
    private readonly secrets: Sealer,
  ) {
    this.dir = join(dataDir, 'trail-digest-keys');
  }

  private serial<T>(f: () => Promise<T>): Promise<T> {
    const next = this.turn.then(f, f);
    this.turn = next.catch(() => undefined);
    return next;
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
  active(now = Date.now()): Promise<{ fingerprint: string; privateKey: KeyObject }> {
    return this.serial(async () => {
      const fingerprint = await this.store.activeFingerprint();
      if (fingerprint === undefined) return this.make(now);
      if (this.cache?.fingerprint !== fingerprint) this.cache = { fingerprint, key: this.read(fingerprint) };
      return { fingerprint: this.cache.fingerprint, privateKey: this.cache.key };
    });
  }

  /** Makes a new active key; the previous one stays published with its end of validity. */
  rotate(now = Date.now()): Promise<{ fingerprint: string; privateKey: KeyObject }> {
    return this.serial(() => this.make(now));
  }

  private async make(now: number): Promise<{ fingerprint: string; privateKey: KeyObject }> {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const fingerprint = fingerprintOf(publicKey);
    this.write(fingerprint, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 'new');
    await this.store.activate({ fingerprint, publicKey: publicKey.export({ type: 'spki', format: 'pem' }) as string }, now);
    this.cache = { fingerprint, key: privateKey };
    return { fingerprint, privateKey };
  }

  async publicKeys(): Promise<PublicKeyInfo[]> {
    return (await this.store.list()).map((r) => ({
      Fingerprint: r.fingerprint,
      PublicKey: r.publicKey,
      ValidityStartTime: new Date(r.validFrom).toISOString(),
      ...(r.validTo !== null ? { ValidityEndTime: new Date(r.validTo).toISOString() } : {}),
    }));
  }
}

/** A public key from its published form (checks that the fingerprint matches the key). */
export function importPublicKey(info: PublicKeyInfo): KeyObject {
  const key = createPublicKey(info.PublicKey);
  if (fingerprintOf(key) !== info.Fingerprint) throw new Error(`Public key ${info.Fingerprint} does not match its fingerprint.`);
  return key;
}
