/**
 * Digest signing keys: Ed25519 key pairs. The private key's PEM is sealed with the master key
 * (src/secrets/, context `trail-digest-key`), so a copy of the store cannot sign digests; the
 * public keys, with the time each was valid from and to, are published through the API
 * (`GET /api/v1/trails/:name/digest-public-keys`) for validate-logs.
 *
 * Rotation makes a new key active and closes the old one's validity; digests name the key that
 * signed them by fingerprint and carry their signing time, so validation across a rotation
 * needs no time buffer (cf. aws-cli #10072).
 *
 * The keys are kept behind `DigestKeyStore` (Promise-returning, so that a database server can
 * stand behind it). Where the sealed private halves live is the store's to say
 * (`privateKeys`): the embedded store (trails/sqlite/digest-keys.ts) leaves them as files in the
 * data directory (`<dataDir>/trail-digest-keys/<fingerprint>.pem`, 0600; a file an older
 * version wrote in clear is sealed on first use), as it always has; the PostgreSQL store
 * (trails/postgres/digest-keys.ts) keeps them beside the public halves, so an instance that takes
 * over a trail from another signs with the key that instance signed with.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isSealed, type Sealer } from '../../secrets/index.js';

/** The sealing context of a private half, wherever it is kept. */
export const DIGEST_KEY_CONTEXT = 'trail-digest-key';
/** Where, under the data directory, the files of `privateKeys: 'files'` are. */
export const DIGEST_KEY_DIR = 'trail-digest-keys';

/** The file of a private half kept as a file (`privateKeys: 'files'`). */
export function digestKeyFile(dataDir: string, fingerprint: string): string {
  return join(dataDir, DIGEST_KEY_DIR, `${fingerprint}.pem`);
}

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

/** A key to activate. */
export interface NewDigestKey {
  fingerprint: string;
  /** SPKI PEM. */
  publicKey: string;
  /** The PKCS#8 PEM sealed (context `trail-digest-key`); given exactly when the store's `privateKeys` is `store`. */
  sealedPrivateKey?: string;
}

/** Where a DigestKeyStore's private halves are kept. */
export type PrivateKeyCustody =
  /** Sealed files in `<dataDir>/trail-digest-keys/`, written and read by `DigestKeys`: only the instance on that data directory can sign. */
  | 'files'
  /** Sealed, in the store beside the public half (`activate` takes it, `sealedPrivateKey` returns it): every instance on the store signs with the active key. */
  | 'store';

/**
 * Where the digest keys and their validity are kept. Several instances may share one store: at
 * most one key is active, and `activate` is a compare-and-set on it, so two instances making a
 * key at the same moment (the first one, or a rotation) end up signing with one key.
 */
export interface DigestKeyStore {
  readonly privateKeys: PrivateKeyCustody;
  /** The key valid now (the newest without an end of validity), if any. */
  activeFingerprint(): Promise<string | undefined>;
  /**
   * In one transaction, if the active key is still `replaces` (the one the caller saw active;
   * undefined: none yet): ends its validity at `now` and makes `key` active from `now`.
   * Otherwise another instance activated a key meanwhile and nothing changes. Resolves to the
   * key active afterwards — `key.fingerprint`, or the other instance's, which the caller should
   * sign with instead of its own.
   */
  activate(key: NewDigestKey, now: number, replaces: string | undefined): Promise<string>;
  /** The sealed private half of a key, as stored; undefined when unknown, or `privateKeys` is `files`. */
  sealedPrivateKey(fingerprint: string): Promise<string | undefined>;
  /** Every key, oldest first. */
  list(): Promise<DigestKeyRecord[]>;
}

export function fingerprintOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 32);
}

type Signer = { fingerprint: string; privateKey: KeyObject };

export class DigestKeys {
  private cache: { fingerprint: string; key: KeyObject } | undefined;
  /** `active` and `rotate` one at a time: two first uses in this process must not both make a key (across processes: `activate`). */
  private turn: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: DigestKeyStore,
    private readonly dataDir: string,
    private readonly secrets: Sealer,
  ) {}

  private serial<T>(f: () => Promise<T>): Promise<T> {
    const next = this.turn.then(f, f);
    this.turn = next.catch(() => undefined);
    return next;
  }

  /** New key files are written exclusively; a sealed copy replaces a clear one by rename (never half a key). */
  private writeFile(fingerprint: string, sealed: string, how: 'new' | 'replace'): void {
    mkdirSync(join(this.dataDir, DIGEST_KEY_DIR), { recursive: true, mode: 0o700 });
    const path = digestKeyFile(this.dataDir, fingerprint);
    if (how === 'new') return writeFileSync(path, `${sealed}\n`, { mode: 0o600, flag: 'wx' });
    writeFileSync(`${path}.tmp`, `${sealed}\n`, { mode: 0o600 });
    renameSync(`${path}.tmp`, path);
  }

  private async read(fingerprint: string): Promise<KeyObject> {
    if (this.store.privateKeys === 'store') {
      const sealed = await this.store.sealedPrivateKey(fingerprint);
      // The store only ever receives sealed values: anything else was not written by FlinkTrail.
      if (sealed === undefined || !isSealed(sealed)) throw new Error(`The store holds no sealed private key for the active digest key ${fingerprint}.`);
      return createPrivateKey(this.secrets.open(sealed, DIGEST_KEY_CONTEXT));
    }
    const text = readFileSync(digestKeyFile(this.dataDir, fingerprint), 'utf8').trim();
    if (isSealed(text)) return createPrivateKey(this.secrets.open(text, DIGEST_KEY_CONTEXT));
    this.writeFile(fingerprint, this.secrets.seal(text, DIGEST_KEY_CONTEXT), 'replace'); // written in clear by an earlier version
    return createPrivateKey(text);
  }

  /** The active signing key (another instance's, if it made or rotated one); made on first use. */
  active(now = Date.now()): Promise<Signer> {
    return this.serial(async () => {
      const fingerprint = await this.store.activeFingerprint();
      if (fingerprint === undefined) return this.make(now, undefined);
      return this.signer(fingerprint);
    });
  }

  /**
   * Makes a new active key; the previous one stays published with its end of validity. If
   * another instance rotated at the same moment, its new key is the one returned (one rotation
   * for both requests, not two keys signing side by side).
   */
  rotate(now = Date.now()): Promise<Signer> {
    return this.serial(async () => this.make(now, await this.store.activeFingerprint()));
  }

  private async signer(fingerprint: string): Promise<Signer> {
    if (this.cache?.fingerprint !== fingerprint) this.cache = { fingerprint, key: await this.read(fingerprint) };
    return { fingerprint: this.cache.fingerprint, privateKey: this.cache.key };
  }

  private async make(now: number, replaces: string | undefined): Promise<Signer> {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const fingerprint = fingerprintOf(publicKey);
    const sealed = this.secrets.seal(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, DIGEST_KEY_CONTEXT);
    const inFile = this.store.privateKeys === 'files';
    // A file is written before the key is activated: an active key always has its private half.
    if (inFile) this.writeFile(fingerprint, sealed, 'new');
    const key: NewDigestKey = { fingerprint, publicKey: publicKey.export({ type: 'spki', format: 'pem' }) as string, ...(inFile ? {} : { sealedPrivateKey: sealed }) };
    const active = await this.store.activate(key, now, replaces);
    if (active !== fingerprint) {
      // Another instance got there first: sign with its key; ours was never published.
      if (inFile) rmSync(digestKeyFile(this.dataDir, fingerprint), { force: true });
      return this.signer(active);
    }
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
