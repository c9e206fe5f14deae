/**
 * Integration-test helper: a real PostgreSQL — the one at FLINKTRAIL_TEST_POSTGRES_URL
 * (scripts/test-all.sh starts one per run), or a throwaway cluster started by
 * scripts/it/postgres.sh (unix socket only) and registered with the lifecycle helper, so it is
 * stopped even when the suite's `before` fails.
 */
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
