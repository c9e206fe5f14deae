/**
 * PostgreSQL for benchmarks: the server at FLINKTRAIL_TEST_POSTGRES_URL, or a throwaway cluster
 * from scripts/it/postgres.sh (stopped when the run ends), and a copy of a generated SQLite store's
 * events (read through `SqliteEventStore.scan`, which decodes its compressed bodies) into a database
 * of its own through `PostgresEventStore.append` (then VACUUM ANALYZE, as
 * autovacuum would have done on a store that grew over 90 days).
 */
import { join } from 'node:path';
import pg from 'pg';
import { PostgresEventStore } from '../../src/store/postgres/events.js';
import { openDatabase } from '../../src/store/sqlite/database.js';
import { SqliteEventStore } from '../../src/store/sqlite/events.js';
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
  // Read through the SQLite store: its bodies are compressed (body-codec.ts), `scan` decodes them in append order.
  const db = openDatabase(dataDir);
  const sqlite = new SqliteEventStore(db, { flushIntervalMs: 1000 });
  try {
    for (let after = 0; ; ) {
      const batch = await sqlite.scan(after, 5000);
      if (batch.length === 0) break;
      await Promise.all(batch.map((p) => store.append(p.event)));
      after = (batch[batch.length - 1] as { seq: number }).seq;
    }
  } finally {
    await sqlite.close();
    db.close();
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
