import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DB_FILES, DEFAULT_CACHE_MB, openDatabase } from './database.js';

const mode = (p: string) => statSync(p).mode & 0o777;

describe('data directory permissions', () => {
  it('creates the directory 0700 and the database files 0600 under umask 022', () => {
    const old = process.umask(0o022);
    try {
      const dataDir = join(mkdtempSync(join(tmpdir(), 'ft-perm-')), 'data');
      const db = openDatabase(dataDir);
      db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('k', 'v'); // makes the WAL grow
      assert.equal(mode(dataDir), 0o700);
      for (const f of DB_FILES) assert.equal(mode(join(dataDir, f)), 0o600, f);
      db.close();
    } finally {
      process.umask(old);
    }
  });

  it('tightens a data directory and database an older version left world-readable', () => {
    const old = process.umask(0o022);
    try {
      const dataDir = join(mkdtempSync(join(tmpdir(), 'ft-perm-')), 'data');
      mkdirSync(dataDir, { mode: 0o755 });
      openDatabase(dataDir).close();
      chmodSync(dataDir, 0o755);
      chmodSync(join(dataDir, 'flinktrail.db'), 0o644);
      const db = openDatabase(dataDir);
      assert.equal(mode(dataDir), 0o700);
      assert.equal(mode(join(dataDir, 'flinktrail.db')), 0o600);
      db.close();
    } finally {
      process.umask(old);
    }
  });
});

describe('page cache', () => {
  it("states each connection's cache instead of inheriting the driver's 16 MiB, and takes store.cacheMb", () => {
    const dir = mkdtempSync(join(tmpdir(), 'ft-cache-'));
    const kib = (db: ReturnType<typeof openDatabase>) => -(db.pragma('cache_size', { simple: true }) as number);
    const plain = openDatabase(dir);
    const sized = openDatabase(dir, { cacheMb: 32 });
    const reader = openDatabase(dir, { readonly: true, cacheMb: 2 });
    try {
      assert.equal(kib(plain), DEFAULT_CACHE_MB * 1024);
      assert.equal(kib(sized), 32 * 1024);
      assert.equal(kib(reader), 2 * 1024);
    } finally {
      for (const db of [plain, sized, reader]) db.close();
    }
  });
});
