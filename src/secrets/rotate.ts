/**
 * `flinktrail secrets rotate`: re-wraps every sealed value under a new master key.
 *
 * Sealed values live in the columns listed in `SEALED_COLUMNS` (add yours when a feature
 * stores a sealed secret) and in the digest signing key files. Only the data keys are
 * re-wrapped (envelope.ts): the database part is one transaction, so a failure leaves every
 * value under the old key; each key file is replaced atomically (write, fsync, rename).
 */
import { openSync, closeSync, fsyncSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Db } from '../store/sqlite/database.js';
import { isSealed, type Secrets } from './envelope.js';

/** Where sealed values are stored: table, column, and a key column that identifies the row. */
export const SEALED_COLUMNS: readonly { table: string; column: string; key: string }[] = [
  { table: 'meta', column: 'value', key: 'key' },
  { table: 'trail_destinations', column: 'url', key: 'id' },
  // AccessKey secrets kept for request signatures (identity/signing-secrets.ts)
  { table: 'access_key_signing', column: 'sealed', key: 'key_id' },
];

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
export function rotateSecrets(db: Db, dataDir: string, ring: Secrets): RotationResult {
  const result: RotationResult = { values: 0, files: 0, plaintext: 0 };
  db.transaction(() => {
    for (const { table, column, key } of SEALED_COLUMNS) {
      const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table);
      if (!exists) continue;
      const rows = db.prepare(`SELECT ${key} AS k, ${column} AS v FROM ${table}`).all() as { k: string | number; v: string | null }[];
      const update = db.prepare(`UPDATE ${table} SET ${column} = ? WHERE ${key} = ?`);
      for (const r of rows) {
        if (r.v === null) continue;
        if (!isSealed(r.v)) {
          result.plaintext++;
          continue;
        }
        const next = ring.rewrap(r.v);
        if (next !== r.v) {
          update.run(next, r.k);
          result.values++;
        }
      }
    }
  }).immediate();
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
