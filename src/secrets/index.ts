/**
 * Secrets at rest: trail destination credentials, the HMAC keys in the database's `meta` table
 * (page tokens, OIDC state, Kubernetes spec digests) and the digest signing keys are stored
 * sealed with a master key that never lives in the data directory (envelope.ts, master-key.ts),
 * or, for destination credentials, given as references (`env:NAME`, `file:/path`) that are
 * read when used and stored as they are.
 *
 * `openSecrets(config)` builds the key ring from `secrets.*`; feature code receives it as a
 * `Sealer` (`seal(plaintext, context)` / `open(sealed, context)`). `flinktrail secrets rotate`
 * re-wraps everything under a new key (rotate.ts).
 */
import type { Config } from '../config/index.js';
import { FlinkTrailError } from '../errors/index.js';
import { Secrets, type Sealer } from './envelope.js';
import { defaultKeyFile, ensureKeyFile, loadMasterKey, readReference } from './master-key.js';

export { Secrets, isSealed, SEALED_PREFIX, type Sealer } from './envelope.js';
export { defaultKeyFile, keyIdOf, loadMasterKey, newKeyText, type MasterKey } from './master-key.js';
export { rotateSecrets, type RotationResult, type SealedValueStore } from './rotate.js';

/** A value that names where a secret is rather than holding it. */
export const REFERENCE = /^(env:[A-Za-z_][A-Za-z0-9_]*|file:\/[^\s]*)$/;

export function isReference(value: string): boolean {
  return REFERENCE.test(value);
}

/** The secret a reference points at (trailing newline dropped), or the value itself if it is not a reference. */
export function resolveSecret(value: string, env: NodeJS.ProcessEnv = process.env): string {
  if (!isReference(value)) return value;
  return readReference(value, env).toString('utf8').replace(/\r?\n$/, '');
}

export interface OpenSecretsOptions {
  env?: NodeJS.ProcessEnv;
}

/**
 * The key ring of a configuration: `secrets.masterKey` (or the per-user default key file,
 * made if missing) seals; `secrets.previousKeys` only open.
 */
export function openSecrets(config: Pick<Readonly<Config>, 'dataDir' | 'secrets'>, opts: OpenSecretsOptions = {}): Secrets {
  const env = opts.env ?? process.env;
  let ref = config.secrets.masterKey;
  if (ref === undefined) {
    const file = defaultKeyFile(env);
    ensureKeyFile(file);
    ref = `file:${file}`;
  }
  const active = loadMasterKey(ref, { env, dataDir: config.dataDir });
  const others = config.secrets.previousKeys.map((r) => loadMasterKey(r, { env, dataDir: config.dataDir }));
  if (others.some((k) => k.id === active.id)) {
    throw new FlinkTrailError('FT_ERR_SECRETS_MASTER_KEY', ref, 'secrets.previousKeys lists the active key again');
  }
  return new Secrets(active, others);
}

/**
 * The key ring of a configuration, opened only if something is sealed or opened: listing keys
 * and making users need none, and keep working where the CLI's user cannot read the master key.
 */
export function secretsWhenUsed(config: () => Pick<Readonly<Config>, 'dataDir' | 'secrets'>): Sealer {
  let ring: Sealer | undefined;
  const get = () => (ring ??= openSecrets(config()));
  return { seal: (plaintext, context) => get().seal(plaintext, context), open: (sealed, context) => get().open(sealed, context) };
}
