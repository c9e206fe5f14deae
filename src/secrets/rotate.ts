/**
 * `flinktrail secrets rotate`: re-wraps every sealed value under a new master key.
 *
 * Sealed values live in database columns (behind `SealedValueStore`) and in the digest signing
 * key files. Only the data keys are
 * re-wrapped (envelope.ts): the database part is one transaction, so a failure leaves every
 * value under the old key; each key file is replaced atomically (write, fsync, rename).
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

/** Directory (under the data directory) of files whose whole content may be sealed. */
export const SEALED_FILE_DIRS: readonly string[] = ['trail-digest-keys'];

export interface RotationResult {
  /** Database values re-wrapped. */
  values: number;
  /** Files re-wrapped. */
  files: number;
  /** Database values and files that were not sealed (left as they are). */
  plaintext: number;
}

/** Re-wraps everything `ring` can open under `ring.active`. Throws (and changes nothing in the database) if a value cannot be opened. */
export async function rotateSecrets(values: SealedValueStore, dataDir: string, ring: Secrets): Promise<RotationResult> {
  const inDb = await values.rewrapAll((v) => ring.rewrap(v));
  const result: RotationResult = { values: inDb.values, files: 0, plaintext: inDb.plaintext };
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
