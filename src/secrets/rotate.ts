/**
 * `flinktrail secrets rotate`: re-wraps every sealed value under a new master key.
 *
 * Sealed values live in database columns (behind `SealedValueStore`: the data directory's SQLite
 * database, and PostgreSQL with `store.url`) and in the digest signing key files. Only the data
 * keys are re-wrapped (envelope.ts). Each database is one transaction, so a failure leaves its
 * values under the old key; each key file is replaced atomically (write, fsync, rename).
 *
 * Databases are re-wrapped in the order given, then the files. Nothing spans two databases, so a
 * failure after the first committed leaves values under both keys — all openable by the ring
 * that rotates (it holds the old key and the new one): running the same command again with the
 * same new key re-wraps what is left (a value already under the new key is left as it is).
 */
import { openSync, closeSync, fsyncSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isSealed, type Secrets } from './envelope.js';

/**
 * The sealed values a database holds, re-wrapped all at once: the contract, Promise-returning so
 * that a database server can stand behind it. The embedded one is sqlite/sealed-values.ts, which
 * lists the columns (add yours there when a feature stores a sealed secret).
 */
export interface SealedValueStore {
  /**
   * Replaces every sealed value by `rewrap(value)` in one transaction (all or nothing: a throw
   * changes nothing). Counts the values changed and those not sealed (left as they are).
   */
  rewrapAll(rewrap: (sealed: string) => string): Promise<{ values: number; plaintext: number }>;
}

/**
 * One stored value under rotation: the value to write instead, or undefined to leave it (none,
 * not sealed — counted as plaintext —, or already under the active key). Counts into `result`.
 */
export function rewrapped(value: string | null, rewrap: (sealed: string) => string, result: { values: number; plaintext: number }): string | undefined {
  if (value === null) return undefined;
  if (!isSealed(value)) {
    result.plaintext++;
    return undefined;
  }
  const next = rewrap(value);
  if (next === value) return undefined;
  result.values++;
  return next;
}

/** Directory (under the data directory) of files whose whole content may be sealed. */
export const SEALED_FILE_DIRS: readonly string[] = ['trail-digest-keys'];

export interface RotationResult {
  /** Database values re-wrapped, all databases together. */
  values: number;
  /** Database values re-wrapped, per database in the order given. */
  perStore: number[];
  /** Files re-wrapped. */
  files: number;
  /** Database values and files that were not sealed (left as they are). */
  plaintext: number;
}

/**
 * Re-wraps everything `ring` can open under `ring.active`: each of `stores` in turn, then the key
 * files. Throws if a value cannot be opened; the database being re-wrapped then changes nothing
 * (those before it stay committed: see the module comment).
 */
export async function rotateSecrets(stores: SealedValueStore | readonly SealedValueStore[], dataDir: string, ring: Secrets): Promise<RotationResult> {
  const result: RotationResult = { values: 0, perStore: [], files: 0, plaintext: 0 };
  for (const store of Array.isArray(stores) ? (stores as readonly SealedValueStore[]) : [stores as SealedValueStore]) {
    const inDb = await store.rewrapAll((v) => ring.rewrap(v));
    result.values += inDb.values;
    result.perStore.push(inDb.values);
    result.plaintext += inDb.plaintext;
  }
  for (const dir of SEALED_FILE_DIRS) {
    let names: string[];
    try {
      names = readdirSync(join(dataDir, dir));
    } catch {
      continue;
    }
    for (const name of names) {
      if (name.endsWith('.tmp')) continue;
      const path = join(dataDir, dir, name);
      const text = readFileSync(path, 'utf8').trim();
      if (!isSealed(text)) {
        result.plaintext++;
        continue;
      }
      const next = ring.rewrap(text);
      if (next === text) continue;
      const tmp = `${path}.tmp`;
      writeFileSync(tmp, `${next}\n`, { mode: 0o600 });
      const fd = openSync(tmp, 'r');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, path);
      result.files++;
    }
  }
  return result;
}
