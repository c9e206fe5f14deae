/**
 * Integration-test helper: a real PostgreSQL — the one at FLINKTRAIL_TEST_POSTGRES_URL
 * (scripts/test-all.sh starts one per run), or a throwaway cluster started by
 * scripts/it/postgres.sh (unix socket only) and registered with the lifecycle helper, so it is
 * stopped even when the suite's `before` fails.
 */
import { randomBytes } from 'node:crypto';
import { after, before } from 'node:test';
import pg from 'pg';
import { openPool } from '../../src/store/postgres/url.js';
import { register, starting } from './lifecycle.js';
import { itScript } from './servers.js';

export interface PostgresServer {
  /** postgres://postgres@/flinktrail?host=<socket dir> */
  url: string;
  stop(): Promise<void>;
}

export function startPostgres(): Promise<PostgresServer> {
  return starting(start());
}

async function start(): Promise<PostgresServer> {
  const env = process.env['FLINKTRAIL_TEST_POSTGRES_URL'];
  if (env) return { url: env, stop: () => Promise.resolve() };
  const info = await itScript<{ url: string; runDir: string; pid: number; log: string }>('postgres', ['start'], 120_000);
  const stop = register({
    name: 'PostgreSQL',
    stop: () => itScript('postgres', ['stop', '--run-dir', info.runDir]).then(() => undefined),
    groups: [info.pid],
    logs: [info.log],
  });
  return { url: info.url, stop };
}

export interface OwnPostgresServer extends PostgresServer {
  /** Stops the server keeping its data: clients see it gone (outage tests). */
  pause(): Promise<void>;
  /** Starts it again on the same data and socket. */
  resume(): Promise<void>;
}

/** A throwaway cluster of the caller's own, even when FLINKTRAIL_TEST_POSTGRES_URL is set: for tests that stop it. */
export function startOwnPostgres(): Promise<OwnPostgresServer> {
  return starting(
    (async () => {
      const info = await itScript<{ url: string; runDir: string; pid: number; log: string }>('postgres', ['start'], 120_000);
      const stop = register({
        name: 'PostgreSQL (own)',
        stop: () => itScript('postgres', ['stop', '--run-dir', info.runDir]).then(() => undefined),
        groups: [info.pid],
        logs: [info.log],
      });
      return {
        url: info.url,
        stop,
        pause: () => itScript('postgres', ['pause', '--run-dir', info.runDir]).then(() => undefined),
        resume: () => itScript('postgres', ['resume', '--run-dir', info.runDir], 120_000).then(() => undefined),
      };
    })(),
  );
}

export interface PostgresForFile {
  /** The server's URL (its `flinktrail` database). */
  readonly url: string;
  /** A small pool for the test's own statements (creating and dropping schemas, looking at rows). */
  readonly admin: pg.Pool;
  /** A new empty schema, named for no other test; drop it with `DROP SCHEMA … CASCADE`. */
  newSchema(): Promise<string>;
}

/**
 * PostgreSQL for one test file: registers the file's `before` (start or reuse the server, open the
 * admin pool) and `after` (close both); the getters throw if the server did not start.
 */
export function postgresForFile(): PostgresForFile {
  let server: PostgresServer | undefined;
  let admin: pg.Pool | undefined;
  before(async () => {
    server = await startPostgres();
    admin = new pg.Pool({ connectionString: server.url, max: 2 });
    // An idle admin connection the server ends (seen once while another suite shared the server)
    // is replaced by the pool; said, not thrown from nowhere.
    admin.on('error', (err) => process.stderr.write(`# admin connection: ${err.message}\n`));
  });
  after(async () => {
    await admin?.end();
    await server?.stop();
  });
  const started = () => {
    if (!server || !admin) throw new Error('PostgreSQL did not start');
    return { server, admin };
  };
  return {
    get url() {
      return started().server.url;
    },
    get admin() {
      return started().admin;
    },
    async newSchema() {
      const schema = `ft_test_${randomBytes(6).toString('hex')}`;
      await started().admin.query(`CREATE SCHEMA ${schema}`);
      return schema;
    },
  };
}

export interface OwnDatabase {
  /** Its URL: the test server's with the database name replaced. */
  readonly url: string;
  /**
   * A one-connection pool on it made by the product's `openPool`, so bigint (COUNT, MAX, a seq)
   * comes back as a number, as from SQLite.
   */
  readonly pool: pg.Pool;
  /** Ends the pool, drops the database (FORCE: whatever is still connected) and releases the server. */
  drop(): Promise<void>;
}

/**
 * A database of its own on the test PostgreSQL (FLINKTRAIL_TEST_POSTGRES_URL or a throwaway
 * cluster): what an app under test with `store: { url }` keeps its events, identities and trails
 * in, so apps of one run never see each other's rows. `prefix` names it in `\l` (`ft_trails`, …).
 */
export async function ownDatabase(prefix = 'ft_test'): Promise<OwnDatabase> {
  const server = await startPostgres();
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  // One short connection per statement: nothing idles on the server for the whole suite.
  const onServer = async (sql: string) => {
    const admin = new pg.Client({ connectionString: server.url });
    admin.on('error', () => undefined);
    try {
      await admin.connect();
      await admin.query(sql);
    } finally {
      await admin.end().catch(() => undefined);
    }
  };
  try {
    await onServer(`CREATE DATABASE ${name}`);
  } catch (err) {
    await server.stop();
    throw err;
  }
  const url = server.url.replace(/^postgres:\/\/postgres@\/[^?]+/, `postgres://postgres@/${name}`);
  if (url === server.url) {
    await server.stop();
    throw new Error(`cannot name a database in ${server.url}`);
  }
  let dropping = false;
  const pool = openPool(url, { max: 1, applicationName: 'flinktrail-test' }, (err) => {
    // pg's pool.end() resolves before its connection has gone; DROP … FORCE may end that one.
    if (!dropping) process.stderr.write(`# ${name} test connection: ${err.message}\n`);
  });
  let dropped: Promise<void> | undefined;
  return {
    url,
    pool,
    drop: () =>
      (dropped ??= (async () => {
        dropping = true;
        await pool.end().catch(() => undefined);
        // FORCE: a connection the app failed to close must not keep the database (PostgreSQL 13+).
        await onServer(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch((err: Error) => process.stderr.write(`# dropping ${name}: ${err.message}\n`));
        await server.stop();
      })()),
  };
}
