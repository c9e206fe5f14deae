/**
 * Existing data directories open and upgrade unchanged now that each feature keeps its own SQL
 * (issue 15 item 0): a database made from the schema FlinkTrail had at migration 9
 * (test/fixtures/schema-v9.sql), with rows in the feature tables, opens without a migration
 * running twice, ends with the schema of a fresh database, and its rows read back through the
 * features' repositories. A fresh database still has every table and index that schema had.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteNonceStore } from '../../api/actiontrail/sqlite/nonces.js';
import { SqliteObjectStates } from '../../sources/k8s-audit/sqlite/state.js';
import { SqliteSessionStore } from '../../identity/sqlite/sessions.js';
import { SqliteDigestKeyStore } from '../../trails/sqlite/digest-keys.js';
import { DB_FILE, openDatabase, type Db } from './database.js';

const FIXTURE = new URL('../../../test/fixtures/schema-v9.sql', import.meta.url);
const V9_VERSIONS = 9;

type SchemaRow = { name: string; sql: string };

function schemaOf(db: Db): Map<string, string> {
  const rows = db.prepare("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'").all() as SchemaRow[];
  return new Map(rows.map((r) => [r.name, `${r.sql.replace(/\s+/g, ' ').trim()};`]));
}

function fixtureStatements(): string[] {
  return readFileSync(FIXTURE, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('--'));
}

/** A data directory as FlinkTrail left it at migration 9, with one row in each feature table. */
function v9DataDir(root: string): string {
  const dir = join(root, 'v9');
  mkdirSync(dir, { mode: 0o700 });
  const db = new Database(join(dir, DB_FILE));
  for (const sql of fixtureStatements()) db.exec(sql);
  const mark = db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)');
  for (let v = 1; v <= V9_VERSIONS; v++) mark.run(v, 1_700_000_000_000 + v);
  db.prepare('INSERT INTO rpc_nonces (access_key_id, nonce, expires_at) VALUES (?, ?, ?)').run('FTAKOLD', 'nonce-1', 9_999_999_999_999);
  db.prepare("INSERT INTO k8s_objects (cluster, resource, namespace, name, uid, resource_version, spec, updated_at) VALUES ('c', 'flinkdeployments', 'n', 'x', 'u-1', '20', ?, 1)").run(
    JSON.stringify([['spec.image', 'v:"flink:1.20"']]),
  );
  db.prepare("INSERT INTO sessions (id_hash, user_id, principal, csrf_token, created_at, last_seen_at, expires_at) VALUES ('h1', 'u1', '{}', 'csrf', 1, 2, 3)").run();
  db.prepare("INSERT INTO trail_digest_keys (fingerprint, public_key, valid_from, valid_to) VALUES ('f1', 'PEM1', 10, 20), ('f2', 'PEM2', 20, NULL)").run();
  db.close();
  return dir;
}

describe('upgrading a data directory made at migration 9', () => {
  const root = mkdtempSync(join(tmpdir(), 'ft-upgrade-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  it('opens without re-running a migration, ends with the schema of a fresh database, and reads its rows through the features', async () => {
    const old = openDatabase(v9DataDir(root));
    const fresh = openDatabase(join(root, 'fresh'));
    try {
      const applied = old.prepare('SELECT version, applied_at FROM schema_migrations WHERE version <= ? ORDER BY version').all(V9_VERSIONS) as { version: number; applied_at: number }[];
      assert.deepEqual(
        applied.map((r) => r.applied_at),
        Array.from({ length: V9_VERSIONS }, (_, i) => 1_700_000_000_001 + i),
        'migrations 1-9 are not applied again',
      );
      assert.deepEqual(schemaOf(old), schemaOf(fresh), 'an upgraded database and a fresh one have the same schema');
      // The nonce used before the upgrade is still used: a replay stays refused.
      assert.equal(await new SqliteNonceStore(old).use('FTAKOLD', 'nonce-1', 9_999_999_999_999, 1_800_000_000_000), false);
      assert.equal(await new SqliteNonceStore(old).use('FTAKOLD', 'nonce-2', 9_999_999_999_999, 1_800_000_000_000), true);
      const k8s = await new SqliteObjectStates(old).get({ cluster: 'c', resource: 'flinkdeployments', namespace: 'n', name: 'x' });
      assert.deepEqual([k8s?.uid, k8s?.resourceVersion, k8s?.digest.get('spec.image')], ['u-1', '20', 'v:"flink:1.20"']);
      assert.deepEqual(await new SqliteSessionStore(old).get('h1'), { idHash: 'h1', userId: 'u1', principal: '{}', csrfToken: 'csrf', createdAt: 1, lastSeenAt: 2, expiresAt: 3 });
      const keys = new SqliteDigestKeyStore(old);
      assert.equal(await keys.activeFingerprint(), 'f2');
      assert.deepEqual((await keys.list()).map((k) => [k.fingerprint, k.validTo]), [['f1', 20], ['f2', null]]);
    } finally {
      old.close();
      fresh.close();
    }
  });

  /** Tables a later migration added columns to, and which. */
  const ADDED_COLUMNS: Record<string, string> = {
    users: 'migration 12 adds account_id (accounts)',
    trails: 'migration 13 adds account_id and is_organization_trail (trails/sqlite/migrations.ts)',
    trail_history_jobs: 'migration 13 adds account_id (trails/sqlite/migrations.ts)',
  };

  it('a fresh database has every table and index of the migration-9 schema, as it was written', () => {
    const fresh = openDatabase(join(root, 'fresh-2'));
    try {
      const now = schemaOf(fresh);
      for (const sql of fixtureStatements()) {
        const name = /^CREATE (?:TABLE|INDEX|UNIQUE INDEX) (\w+)/.exec(sql)?.[1];
        assert.ok(name, sql);
        // The events store's own tables change in their own migrations (store/sqlite/); every
        // other feature's tables must be exactly what migration 9 left.
        if (/^events|^event_resources|^member_resources/.test(name)) continue;
        // Later migrations that only add columns: the table starts as it was written.
        if (name in ADDED_COLUMNS) {
          assert.ok(now.get(name)?.startsWith(sql.replace(/\);$/, '')), `${name}: ${ADDED_COLUMNS[name]}`);
          continue;
        }
        assert.equal(now.get(name), sql, name);
      }
    } finally {
      fresh.close();
    }
  });
});
