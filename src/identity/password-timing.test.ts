/**
 * A refused password sign-in takes as long whether the user name exists or not: unknown,
 * disabled and password-less users cost one argon2id verification, as a wrong password does.
 * Measured against each other in the same run, interleaved (medians of 7), with a wide margin:
 * before the fix an unknown name answered about 100x faster than a wrong password.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { testSecrets } from '../../test/helpers/secrets.js';
import { openDatabase, type Db } from '../store/sqlite/database.js';
import { AuthError, Authenticator } from './authenticate.js';
import { sqliteDirectory } from './sqlite/directory.js';
import { hashPassword } from './secrets.js';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

describe('password sign-in timing', () => {
  let dir: string;
  let db: Db;
  let auth: Authenticator;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ft-pwtiming-'));
    db = openDatabase(dir);
    const directory = sqliteDirectory(db, testSecrets());
    await directory.createUser('alice', 'viewer', await hashPassword('correct horse'));
    await directory.createUser('dora', 'viewer', await hashPassword('battery staple'));
    await directory.updateUser('dora', { disabled: true });
    await directory.createUser('nopass', 'viewer');
    auth = new Authenticator(directory, { anonymous: false });
  });
  after(() => {
    db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function refusalMs(name: string, password: string): Promise<number> {
    const t = performance.now();
    await assert.rejects(auth.byPassword(name, password), AuthError);
    return performance.now() - t;
  }

  it('an unknown, disabled or password-less user is refused no faster than a wrong password', async () => {
    const times: Record<string, number[]> = { wrong: [], unknown: [], disabled: [], nopass: [] };
    await refusalMs('nobody', 'warm-up'); // makes the decoy hash once
    for (let i = 0; i < 7; i++) {
      // Distinct passwords: nothing is answered from the verified-password cache.
      times['wrong']!.push(await refusalMs('alice', `wrong-${i}`));
      times['unknown']!.push(await refusalMs(`nobody-${i}`, `guess-${i}`));
      times['disabled']!.push(await refusalMs('dora', `guess-${i}`));
      times['nopass']!.push(await refusalMs('nopass', `guess-${i}`));
    }
    const wrong = median(times['wrong']!);
    for (const k of ['unknown', 'disabled', 'nopass']) {
      const m = median(times[k]!);
      assert.ok(m >= wrong * 0.3, `${k}: median ${m.toFixed(2)} ms against ${wrong.toFixed(2)} ms for a wrong password`);
    }
  });
});
