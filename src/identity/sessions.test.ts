import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { openDatabase } from '../store/sqlite/database.js';
import type { Principal } from './authenticate.js';
import { Sessions } from './sessions.js';
import { SqliteSessionStore } from './sqlite/sessions.js';

const alice: Principal = { type: 'ram-user', principalId: 'u-1', userName: 'alice', role: 'admin', method: 'password', mfaAuthenticated: false };

describe('console sessions (over the SQLite store)', () => {
  it('keeps only the hash of the cookie value; a session reads back until destroyed, from another connection too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ft-sessions-'));
    const db = openDatabase(dir);
    const other = openDatabase(dir);
    try {
      const sessions = new Sessions(new SqliteSessionStore(db), { idleMs: 60_000, absoluteMs: 3600_000 });
      const { id, session } = await sessions.create(alice);
      assert.equal((db.prepare('SELECT COUNT(*) AS n FROM sessions WHERE id_hash = ?').get(id) as { n: number }).n, 0, 'the cookie value itself is not stored');
      const elsewhere = new Sessions(new SqliteSessionStore(other), { idleMs: 60_000, absoluteMs: 3600_000 });
      const got = await elsewhere.get(id);
      assert.equal(got?.principal.userName, 'alice');
      assert.equal(got?.csrfToken, session.csrfToken);
      assert.equal(await sessions.get('x'.repeat(43)), undefined);
      await sessions.destroy(id);
      assert.equal(await elsewhere.get(id), undefined);
    } finally {
      db.close();
      other.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ends an idle session on its next use, and purges idle ones', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ft-sessions-'));
    const db = openDatabase(dir);
    try {
      const sessions = new Sessions(new SqliteSessionStore(db), { idleMs: 20, absoluteMs: 3600_000 });
      const a = await sessions.create(alice);
      await sessions.create(alice);
      await sleep(40);
      assert.equal(await sessions.get(a.id), undefined, 'idle past the timeout');
      assert.equal(await sessions.purgeExpired(), 1, 'the other idle one is purged');
      assert.equal((db.prepare('SELECT COUNT(*) AS n FROM sessions').get() as { n: number }).n, 0);
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
