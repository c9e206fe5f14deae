/**
 * Master keys: where they come from and what they are called.
 *
 * A master key is 32 random bytes (AES-256), written as base64 or hex in a file or an
 * environment variable, named by a reference: `file:/etc/flinktrail/master.key` or
 * `env:FLINKTRAIL_MASTER_KEY`. Its id is derived from the key itself (a hash), so every sealed
 * value can say which key wrapped it and several keys can be configured at once (the active
 * one seals; the others only open, e.g. during a rotation).
 *
 * With no key configured, the per-user file `$XDG_CONFIG_HOME/flinktrail/master.key`
 * (`~/.config/flinktrail/master.key`) is used and made on first use (0600, directory 0700):
 * outside the data directory, so a copied database, backup or world-readable data directory
 * does not carry the key that opens its secrets. A key inside the data directory is refused.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { FlinkTrailError } from '../errors/index.js';

export interface MasterKey {
  /** 16 hex digits, derived from the key: stored next to every value it wraps. */
  id: string;
  key: Buffer;
  /** Where it came from (`file:…`, `env:…`), for messages; never the key. */
  source: string;
}

export const KEY_BYTES = 32;

/** The id of a key: a truncated SHA-256 of it (does not reveal the key, tells keys apart). */
export function keyIdOf(key: Buffer): string {
  return createHash('sha256').update('flinktrail master key id\0').update(key).digest('hex').slice(0, 16);
}

/** Key bytes from their written form: base64 (44 characters), hex (64) or the raw 32 bytes. */
export function parseKeyMaterial(raw: Buffer, source: string): Buffer {
  if (raw.length === KEY_BYTES) return Buffer.from(raw);
  const text = raw.toString('utf8').trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(text)) {
    const b = Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (b.length === KEY_BYTES) return b;
  }
  throw new FlinkTrailError('FT_ERR_SECRETS_MASTER_KEY', source, `expected ${KEY_BYTES} bytes as base64 or hex (make one with: openssl rand -base64 32)`);
}

/** A new key in its written form (base64 and a newline). */
export function newKeyText(): string {
  return `${randomBytes(KEY_BYTES).toString('base64')}\n`;
}

/** `~/.config/flinktrail/master.key` (or under $XDG_CONFIG_HOME). */
export function defaultKeyFile(env: NodeJS.ProcessEnv = process.env): string {
  const base = env['XDG_CONFIG_HOME'] && isAbsolute(env['XDG_CONFIG_HOME']) ? env['XDG_CONFIG_HOME'] : join(homedir(), '.config');
  return join(base, 'flinktrail', 'master.key');
}

/** Creates a key file if there is none (exclusively: two processes starting at once agree on one key). */
export function ensureKeyFile(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  try {
    writeFileSync(path, newKeyText(), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new FlinkTrailError('FT_ERR_SECRETS_MASTER_KEY', `file:${path}`, `cannot create it: ${(err as Error).message}`);
    }
  }
}

function real(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return resolve(p);
  }
}

/** Whether `path` is `dir` or inside it (after resolving links). */
export function isInside(path: string, dir: string): boolean {
  const rel = relative(real(dir), real(path));
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** Reads the value a `env:NAME` or `file:/path` reference points at. */
export function readReference(ref: string, env: NodeJS.ProcessEnv = process.env): Buffer {
  const m = /^(env|file):(.+)$/.exec(ref);
  if (!m) throw new FlinkTrailError('FT_ERR_SECRETS_REFERENCE', ref.slice(0, 80), 'expected env:NAME or file:/absolute/path');
  const [, kind, target = ''] = m;
  if (kind === 'env') {
    const v = env[target];
    if (v === undefined || v === '') throw new FlinkTrailError('FT_ERR_SECRETS_REFERENCE', ref, `environment variable ${target} is not set`);
    return Buffer.from(v, 'utf8');
  }
  if (!isAbsolute(target)) throw new FlinkTrailError('FT_ERR_SECRETS_REFERENCE', ref, 'the file path must be absolute');
  try {
    return readFileSync(target);
  } catch (err) {
    throw new FlinkTrailError('FT_ERR_SECRETS_REFERENCE', ref, (err as NodeJS.ErrnoException).code ?? (err as Error).message);
  }
}

export interface LoadKeyOptions {
  env?: NodeJS.ProcessEnv;
  /** The data directory: a key file inside it is refused. */
  dataDir?: string;
}

/** Loads the master key a reference names. */
export function loadMasterKey(ref: string, opts: LoadKeyOptions = {}): MasterKey {
  if (ref.startsWith('file:') && opts.dataDir !== undefined && isInside(ref.slice(5), opts.dataDir)) {
    throw new FlinkTrailError('FT_ERR_SECRETS_MASTER_KEY', ref, 'it is inside the data directory; keep the key apart from the data it protects');
  }
  let raw: Buffer;
  try {
    raw = readReference(ref, opts.env);
  } catch (err) {
    throw new FlinkTrailError('FT_ERR_SECRETS_MASTER_KEY', ref, (err as Error).message);
  }
  const key = parseKeyMaterial(raw, ref);
  return { id: keyIdOf(key), key, source: ref };
}
