/**
 * PostgreSQL for benchmarks: the server at FLINKTRAIL_TEST_POSTGRES_URL, or a throwaway cluster
 * from scripts/it/postgres.sh (stopped when the run ends), and a copy of a generated SQLite store's
 * events into a database of its own.
 *
 * The copy prepares data; it is not the ingest rate (bench/ingest.ts measures that through
 * `PostgresEventStore.appendSerialized` and `append`). It goes through the store's own bulk path,
 * `PostgresEventStore.importPositioned` (what `flinktrail migrate` uses: the store's row mapping,
 * body codec and SQL, every event at the position it had in SQLite), in batches of 20,000, with
 * the next batch read from SQLite while PostgreSQL writes the last. What makes it fast: the day
 * partitions are created first, and the secondary indexes of `events` and `event_ids` (those no
 * constraint needs) are dropped for the load and built again after it from their own definitions
 * (`pg_get_indexdef`, the partitioned parent's, so every partition gets the index it would have
 * had), two at a time (`indexesAfter: false` keeps them, maintained row by row as the store does:
 * the sizing bench, whose bytes must be a grown store's). The database then holds the same tables, rows and indexes as one the store
 * filled event by event; the indexes are freshly built (denser than after 90 days of inserts),
 * then `VACUUM ANALYZE`, as autovacuum would have done on a store that grew over 90 days.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { PostgresEventStore } from '../../src/store/postgres/events.js';
import { DAY_MS, partitionName } from '../../src/store/postgres/partitions.js';
import { openDatabase } from '../../src/store/sqlite/database.js';
import { SqliteEventStore } from '../../src/store/sqlite/events.js';
import { MANAGEMENT_ACCOUNT } from './generate.js';
import { execFileAsync, onCleanup } from './procs.js';
import { REPO } from './report.js';

const SCRIPT = join(REPO, 'scripts', 'it', 'postgres.sh');
/** Events per `importPositioned` call (one transaction). */
const LOAD_BATCH = 20_000;

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

/** `url` with its database replaced by `name`. */
export function databaseUrl(url: string, name: string): string {
  return url.replace(/^(postgres(?:ql)?:\/\/[^/]*\/)[^?]*/, `$1${name}`);
}

/** A new, empty database `name` on the server of `url` (dropped when the run ends unless `keep`); its URL. */
export async function freshDatabase(url: string, name: string, keep = false): Promise<string> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  if (!keep) {
    onCleanup(async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
      await c.end();
    });
  }
  return databaseUrl(url, name);
}

export interface PostgresCopy {
  url: string;
  /** The whole copy: load, index builds, VACUUM ANALYZE. */
  seconds: number;
  /** Of which building the indexes again. */
  indexSeconds: number;
  bytes: number;
}

/**
 * Copies every event of the SQLite store in `dataDir` (in append order, at its positions) into a
 * new database `name` on the server of `url`; returns its URL and how long the copy took. Each
 * event keeps its account (`recipientAccountId`), and the management account's events are stored
 * with none, as the app stores them (`managementAccountId`, by default the generated stores'
 * MANAGEMENT_ACCOUNT, which is how the generator's SQLite store holds them too). Storing them with
 * their account instead would put every event into every member index (events migration 4): a
 * third more database and a store no single-account installation has. With
 * FLINKTRAIL_BENCH_KEEP_PG set, the copy is kept, and a kept copy of that name made from the same
 * generated store (`sourceOf`) is used again (a 10M copy takes a while): the events recorded into
 * it since (every LookupEvents call of a run is one) are deleted first, so it holds the copy and
 * nothing else.
 */
export async function copyToPostgres(
  url: string,
  dataDir: string,
  name: string,
  o: { events?: number; indexesAfter?: boolean; managementAccountId?: string } = {},
): Promise<PostgresCopy> {
  const { events } = o;
  const keep = process.env['FLINKTRAIL_BENCH_KEEP_PG'] !== undefined;
  if (keep && events !== undefined) {
    const reused = await existingCopy(url, name, dataDir, events);
    if (reused) return reused;
  }
  const dbUrl = await freshDatabase(url, name, keep);
  const t0 = Date.now();
  // With the management account named, its events are stored with no account_id, as the app stores them.
  const store = await PostgresEventStore.open({ url: dbUrl, flushIntervalMs: 20, managementAccountId: o.managementAccountId ?? MANAGEMENT_ACCOUNT });
  const db = openDatabase(dataDir);
  const sqlite = new SqliteEventStore(db, { flushIntervalMs: 1000 });
  const client = new pg.Client({ connectionString: dbUrl });
  await client.connect();
  let indexSeconds = 0;
  try {
    // Every day partition the events need, first (the store would create them as days come).
    const span = db.prepare('SELECT min(event_time) AS lo, max(event_time) AS hi FROM events').get() as { lo: number; hi: number };
    for (let day = Math.floor(span.lo / DAY_MS) * DAY_MS; day <= span.hi; day += DAY_MS) {
      await client.query(`CREATE TABLE IF NOT EXISTS ${partitionName(day)} PARTITION OF events FOR VALUES FROM (${day}) TO (${day + DAY_MS})`);
    }
    const indexes = o.indexesAfter === false ? [] : await dropSecondaryIndexes(client);
    // Read the next batch while PostgreSQL writes this one (better-sqlite3 is synchronous: read between awaits).
    let after = 0;
    let batch = sqlite.copyRange(after, LOAD_BATCH);
    while (batch.length > 0) {
      const last = (batch[batch.length - 1] as { seq: number }).seq;
      const writing = store.importPositioned(batch, after);
      await new Promise((r) => setImmediate(r));
      const next = sqlite.copyRange(last, LOAD_BATCH);
      await writing;
      after = last;
      batch = next;
    }
    const ti = Date.now();
    await buildIndexes(dbUrl, indexes);
    indexSeconds = (Date.now() - ti) / 1000;
  } finally {
    await sqlite.close();
    db.close();
    await store.close();
  }
  try {
    await client.query('VACUUM ANALYZE');
    // What existingCopy checks and restores: the generated store copied and the last position copied.
    if (keep) await client.query('CREATE TABLE bench_copy AS SELECT $1::text AS source, max(seq) AS last_seq FROM event_ids', [sourceOf(dataDir)]);
    return { url: dbUrl, seconds: (Date.now() - t0) / 1000, indexSeconds, bytes: await databaseBytes(client) };
  } finally {
    await client.end();
  }
}

async function databaseBytes(client: pg.Client): Promise<number> {
  const [size] = (await client.query('SELECT pg_database_size(current_database()) AS b')).rows as { b: string }[];
  return Number(size?.b ?? 0);
}

/**
 * Which generated store a copy was made from: its directory and when it was generated (its
 * bench-meta.json). Not its event count: a run records its own LookupEvents calls into the cached
 * SQLite store too, so the count moves from run to run.
 */
function sourceOf(dataDir: string): string {
  try {
    return `${dataDir} ${(JSON.parse(readFileSync(join(dataDir, 'bench-meta.json'), 'utf8')) as { generatedAt?: string }).generatedAt ?? ''}`;
  } catch {
    return dataDir;
  }
}

/** A kept copy of the generated store in `dataDir` of `events` events (FLINKTRAIL_BENCH_KEEP_PG), or undefined. */
async function existingCopy(url: string, name: string, dataDir: string, events: number): Promise<PostgresCopy | undefined> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    if ((await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 0) return undefined;
  } finally {
    await admin.end();
  }
  const dbUrl = databaseUrl(url, name);
  const client = new pg.Client({ connectionString: dbUrl });
  await client.connect();
  try {
    const [mark] = (await client.query('SELECT source, last_seq FROM bench_copy').catch(() => ({ rows: [] }))).rows as { source: string; last_seq: string }[];
    if (!mark || mark.source !== sourceOf(dataDir)) return undefined;
    const recorded = (await client.query('DELETE FROM events WHERE seq > $1', [mark.last_seq])).rowCount ?? 0;
    await client.query('DELETE FROM event_ids WHERE seq > $1', [mark.last_seq]);
    await client.query('VACUUM events, event_ids');
    process.stderr.write(`using the kept PostgreSQL copy ${name} (${events} events; ${recorded} recorded since deleted)\n`);
    return { url: dbUrl, seconds: NaN, indexSeconds: NaN, bytes: await databaseBytes(client) };
  } finally {
    await client.end();
  }
}

/**
 * Drops the indexes of `events` (the partitioned parent's; each partition's goes with it) and of
 * `event_ids` that no constraint owns; returns their definitions.
 */
async function dropSecondaryIndexes(client: pg.Client): Promise<string[]> {
  const rows = (await client.query(
    `SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def FROM pg_index i
      WHERE i.indrelid IN ('events'::regclass, 'event_ids'::regclass)
        AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)`,
  )).rows as { name: string; def: string }[];
  for (const r of rows) await client.query(`DROP INDEX ${r.name}`);
  // A partitioned table's definition reads `ON ONLY events`, which would make an empty parent index.
  return rows.map((r) => r.def.replace(' ON ONLY ', ' ON '));
}

/** Runs the index definitions, two connections at a time (the machine's two cores). */
async function buildIndexes(url: string, defs: readonly string[]): Promise<void> {
  const queue = [...defs];
  await Promise.all(
    [0, 1].map(async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        await c.query("SET maintenance_work_mem = '512MB'");
        for (let def = queue.shift(); def !== undefined; def = queue.shift()) await c.query(def);
      } finally {
        await c.end();
      }
    }),
  );
}
