/**
 * PostgreSQL for benchmarks: the server at FLINKTRAIL_TEST_POSTGRES_URL, or a throwaway cluster
 * from scripts/it/postgres.sh (stopped when the run ends), and a copy of a generated SQLite store's
 * events into a database of its own through `PostgresEventStore.append` (then VACUUM ANALYZE, as
 * autovacuum would have done on a store that grew over 90 days).
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { ActionTrailEvent } from '../../src/event/types.js';
import { PostgresEventStore } from '../../src/store/postgres/events.js';
import { execFileAsync, onCleanup } from './procs.js';
import { REPO } from './report.js';

const SCRIPT = join(REPO, 'scripts', 'it', 'postgres.sh');

/** The URL of a running PostgreSQL (its database `flinktrail`). */
export async function benchPostgres(): Promise<string> {
  const env = process.env['FLINKTRAIL_TEST_POSTGRES_URL'];
  if (env) return env;
  const { stdout } = await execFileAsync('bash', [SCRIPT, 'start'], { cwd: REPO, timeout: 120_000 });
  const info = JSON.parse(stdout.trim().split('\n').pop() as string) as { url: string; runDir: string };
  onCleanup(async () => {
    await execFileAsync('bash', [SCRIPT, 'stop', '--run-dir', info.runDir], { cwd: REPO, timeout: 60_000 });
  });
  return info.url;
}

/**
 * Copies every event of the SQLite store in `dataDir` (in append order) into a new database
 * `name` on the server of `url`; returns its URL and how long the copy took.
 */
export async function copyToPostgres(url: string, dataDir: string, name: string): Promise<{ url: string; seconds: number; bytes: number }> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name}`);
  await admin.query(`CREATE DATABASE ${name}`);
  const dbUrl = url.replace(/^(postgres(?:ql)?:\/\/[^/]*\/)[^?]*/, `$1${name}`);
  onCleanup(async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  });
  const t0 = Date.now();
  const store = await PostgresEventStore.open({ url: dbUrl, flushIntervalMs: 20 });
  const sqlite = new Database(join(dataDir, 'flinktrail.db'), { readonly: true });
  try {
    let batch: Promise<void>[] = [];
    for (const row of sqlite.prepare('SELECT body FROM events ORDER BY seq').iterate() as Iterable<{ body: string }>) {
      batch.push(store.append(JSON.parse(row.body) as ActionTrailEvent));
      if (batch.length >= 5000) {
        await Promise.all(batch);
        batch = [];
      }
    }
    await Promise.all(batch);
  } finally {
    sqlite.close();
    await store.close();
  }
  const client = new pg.Client({ connectionString: dbUrl });
  await client.connect();
  try {
    await client.query('VACUUM ANALYZE');
    const [size] = (await client.query('SELECT pg_database_size(current_database()) AS b')).rows as { b: string }[];
    const bytes = Number(size?.b ?? 0);
    return { url: dbUrl, seconds: (Date.now() - t0) / 1000, bytes };
  } finally {
    await client.end();
  }
}
