/**
 * Integration-test helper: a real PostgreSQL — the one at FLINKTRAIL_TEST_POSTGRES_URL
 * (scripts/test-all.sh starts one per run), or a throwaway cluster started by
 * scripts/it/postgres.sh (unix socket only) and registered with the lifecycle helper, so it is
 * stopped even when the suite's `before` fails.
 */
import { randomBytes } from 'node:crypto';
import { after, before } from 'node:test';
import pg from 'pg';
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
