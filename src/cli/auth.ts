/**
 * CLI: `flinktrail auth throttles` lists the addresses the sign-in throttle makes wait, and
 * `flinktrail auth unlock --source IP | --identity NAME` ends their waits — through a running
 * server's API (the throttle lives in the server's memory), as an admin. Both calls are recorded
 * (`ListSignInThrottles`, `UnlockSignIn`).
 */
import { Option, type Command } from 'commander';
import { FlinkTrailError } from '../errors/index.js';
import { client, withClient, type ClientFlags } from './client.js';
import { table } from './table.js';

const output = () => new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table');

interface ThrottleOut {
  scope: string;
  sourceIp: string;
  method?: string;
  identity?: string;
  failures: number;
  retryAfterSeconds: number;
}

/** Adds `auth throttles` and `auth unlock` to the `flinktrail` program. */
export function addAuthCommands(cli: Command): void {
  const auth = cli.command('auth').description('Sign-in throttling (through the API, as an admin)');

  withClient(auth.command('throttles').description('List source addresses that must wait before signing in again').addOption(output())).action(
    async (o: ClientFlags & { output: string }) => {
      const out = (await client(o).get('/api/v1/auth/throttles')) as { Throttles: ThrottleOut[] };
      if (o.output === 'json') return void process.stdout.write(`${JSON.stringify(out)}\n`);
      const rows = out.Throttles.map((t) => [t.scope, t.sourceIp, t.method ?? '-', t.identity ?? '-', String(t.failures), String(t.retryAfterSeconds)]);
      process.stdout.write(`${table(['Scope', 'SourceIp', 'Method', 'Identity', 'Failures', 'RetryAfter(s)'], rows)}\n`);
    },
  );

  withClient(
    auth
      .command('unlock')
      .description('End the waits of a source address (all its identities), of an identity (from every address), or of one pair')
      .option('--source <ip>', 'the source address')
      .option('--identity <name>', 'the user name or AccessKey ID')
      .addOption(output()),
  ).action(async (o: ClientFlags & { source?: string; identity?: string; output: string }) => {
    if (o.source === undefined && o.identity === undefined) throw new FlinkTrailError('FT_ERR_REQUEST_INVALID', 'give --source, --identity or both');
    const out = (await client(o).post('/api/v1/auth/unlock', { ...(o.source ? { sourceIp: o.source } : {}), ...(o.identity ? { identity: o.identity } : {}) })) as { cleared: number };
    process.stdout.write(o.output === 'json' ? `${JSON.stringify(out)}\n` : `Cleared ${out.cleared} throttle${out.cleared === 1 ? '' : 's'}.\n`);
  });
}
