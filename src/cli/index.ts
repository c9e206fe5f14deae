/**
 * The `flinktrail` command: serve, demo, keys, users, lookup-events, auth, trails, regions, secrets, migrate.
 * Human tables by default, `--output json` for scripts. Exit codes: 0 ok, 1 unexpected,
 * 2 bad input or server error, 3 authentication failed.
 */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { parse as parseYaml } from 'yaml';
import { loadConfig, setPath } from '../config/index.js';
import { isFlinkTrailError } from '../errors/index.js';
import { ROLES, type Role } from '../identity/directory.js';
import { directoryOf, openFeatureStores } from '../stores.js';
import { LOOKUP_PARAMETERS } from '../query/lookup.js';
import { ALL_REGIONS } from '../regions/index.js';
import { addRegionCommands } from './regions.js';
import { openSecrets, secretsWhenUsed } from '../secrets/index.js';
import { openDatabase } from '../store/sqlite/database.js';
import { hashPassword } from '../identity/secrets.js';
import type { ActionTrailEvent } from '../event/types.js';
import { serve, stopOnSignals } from '../main.js';
import { resolveClient } from './client.js';
import { demo } from './demo.js';
import { openLocalAudit, type LocalAudit } from './local-audit.js';
import { table } from './table.js';
import { addTrailCommands } from './trails.js';
import { addAuthCommands } from './auth.js';
import { addSecretsCommands } from './secrets.js';
import { addMigrateCommand } from './migrate.js';
import { addAccountCommands } from './accounts.js';

const collect = (v: string, prev: string[]) => [...prev, v];
const output = () => new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table');
const dataDirOption = () =>
  new Option('--data-dir <dir>', 'data directory of the embedded store').env('FLINKTRAIL_DATA_DIR').default('./flinktrail-data');

function version(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

function serveOverrides(o: { flink: string[]; dataDir?: string; store?: string; port?: string; host?: string; region?: string; set: string[] }) {
  const over: Record<string, unknown> = {};
  if (o.flink.length) {
    over['clusters'] = o.flink.map((spec, i) => {
      const eq = spec.indexOf('=');
      const named = eq > 0 && !spec.slice(0, eq).includes('/');
      return { name: named ? spec.slice(0, eq) : i === 0 ? 'default' : `cluster-${i + 1}`, url: named ? spec.slice(eq + 1) : spec };
    });
  }
  if (o.dataDir) over['dataDir'] = o.dataDir;
  if (o.store) setPath(over, ['store', 'url'], o.store);
  if (o.port) setPath(over, ['api', 'port'], Number(o.port));
  if (o.host) setPath(over, ['api', 'host'], o.host);
  if (o.region) over['region'] = o.region;
  for (const kv of o.set) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new Error(`--set expects key.path=value, got '${kv}'`);
    setPath(over, kv.slice(0, eq).split('.'), parseYaml(kv.slice(eq + 1)) as unknown);
  }
  return over;
}

export function program(): Command {
  const cli = new Command('flinktrail').description('Audit trail for Apache Flink').version(version());

  cli
    .command('serve')
    .description('Run the gateway, the API and the embedded store')
    .option('-c, --config <file>', 'YAML configuration file')
    .option('--flink <url>', 'a Flink cluster to stand in front of: URL or name=URL (repeatable)', collect, [])
    .option('--data-dir <dir>', 'data directory')
    .option('--store <url>', 'keep events in PostgreSQL (postgres://…; store.url); the rest stays in the data directory')
    .option('--port <port>', 'API port')
    .option('--host <host>', 'API address')
    .option('--region <region>', 'default region of events')
    .option('--set <key=value>', 'override any config key, e.g. --set gateway.failClosed=false (repeatable)', collect, [])
    .action(async (o: { config?: string; flink: string[]; dataDir?: string; store?: string; port?: string; host?: string; region?: string; set: string[] }) => {
      const config = loadConfig({ ...(o.config ? { file: o.config } : {}), env: process.env, overrides: serveOverrides(o) });
      const running = await serve(config);
      stopOnSignals(() => running.stop());
      const lines = [`FlinkTrail API: ${running.info.apiUrl}`];
      for (const [name, c] of Object.entries(running.info.clusters)) lines.push(`Flink cluster '${name}' through FlinkTrail: ${c.gatewayUrl}`);
      if (!config.clusters.length) lines.push('No Flink cluster configured: add --flink http://127.0.0.1:8081 or a config file.');
      process.stderr.write(`${lines.join('\n')}\n`);
    });

  cli
    .command('demo')
    .description('Start a local Flink from Maven Central with FlinkTrail in front of it, a demo admin, an AccessKey and a running example job')
    .option('--json', 'print only one JSON line (on stdout) when ready')
    .addOption(dataDirOption().default('./flinktrail-demo-data'))
    .option('--port <port>', 'API port', '8470')
    .option('--flink-version <version>', 'Flink version', '2.2.0')
    .option('--flink-port <port>', 'Flink REST port (default: 8081, or a free port when 8081 is taken)')
    .option('--user <name>', 'demo admin user', 'admin')
    .option('--store <url>', 'keep events in PostgreSQL (postgres://…; store.url); the rest stays in the data directory')
    .action(async (o: { json?: boolean; dataDir: string; store?: string; port: string; flinkVersion: string; flinkPort?: string; user: string }) => {
      await demo({
        json: o.json ?? false,
        dataDir: o.dataDir,
        ...(o.store ? { store: o.store } : {}),
        port: Number(o.port),
        flinkVersion: o.flinkVersion,
        ...(o.flinkPort ? { flinkPort: Number(o.flinkPort) } : {}),
        user: o.user,
      });
    });

  const keys = cli.command('keys').description('AccessKey pairs (works on the data directory, also while the server runs)');
  keys
    .command('create')
    .description('Create an AccessKey pair; the secret is printed once')
    .requiredOption('--user <name>', 'owner; created if missing')
    .addOption(new Option('--role <role>', 'role of a user created now').choices([...ROLES]).default('viewer'))
    .option('--account <accountId>', 'member account of a user created now (default: the management account)')
    .addOption(dataDirOption())
    .option('-c, --config <file>', 'YAML configuration file (for secrets.*: the master key that seals the secret for request signatures)')
    .addOption(output())
    .action(async (o: { user: string; role: Role; account?: string; dataDir: string; config?: string; output: string }) => {
      // The same master key and event store as the server's (config file, FLINKTRAIL__* or the defaults).
      const config = loadConfig({ ...(o.config ? { file: o.config } : {}), env: process.env, overrides: { dataDir: o.dataDir } });
      const secrets = openSecrets(config);
      const db = openDatabase(o.dataDir);
      let audit: LocalAudit | undefined;
      try {
        audit = await openLocalAudit(db, o.dataDir, config.store.url, config.accountId);
        const dir = directoryOf(await openFeatureStores(db, audit.events, secrets), secrets);
        const existing = await dir.userByName(o.user);
        const accountId = o.account === undefined || o.account === config.accountId ? null : o.account;
        if (existing && o.account !== undefined && existing.accountId !== accountId) {
          throw new Error(`user ${o.user} exists in account ${existing.accountId ?? config.accountId}, not ${o.account}`);
        }
        await dir.createUser(o.user, o.role, undefined, false, { accountId });
        if (!existing) await audit.record('CreateUser', { 'ACS::Actiontrail::User': [o.user] }, { userName: o.user, role: o.role, ...(accountId ? { accountId } : {}) });
        const k = await dir.createAccessKey(o.user);
        await audit.record('CreateAccessKey', { 'ACS::Actiontrail::User': [o.user], 'ACS::Actiontrail::AccessKey': [k.accessKeyId] }, { userName: o.user });
        if (o.output === 'json') process.stdout.write(`${JSON.stringify({ accessKeyId: k.accessKeyId, accessKeySecret: k.accessKeySecret, userName: k.user.name, role: k.user.role, accountId: k.user.accountId ?? config.accountId })}\n`);
        else process.stdout.write(`${table(['AccessKeyId', 'AccessKeySecret', 'User', 'Role'], [[k.accessKeyId, k.accessKeySecret, k.user.name, k.user.role]])}\nThe secret is shown only now; store it safely.\n`);
      } finally {
        await audit?.close();
        db.close();
      }
    });
  keys
    .command('list')
    .description('List AccessKeys (never their secrets)')
    .addOption(dataDirOption())
    .option('-c, --config <file>', 'YAML configuration file (for store.url: where the keys are kept)')
    .addOption(output())
    .action(async (o: { dataDir: string; config?: string; output: string }) => {
      const config = loadConfig({ ...(o.config ? { file: o.config } : {}), env: process.env, overrides: { dataDir: o.dataDir } });
      const db = openDatabase(o.dataDir);
      let audit: LocalAudit | undefined;
      try {
        audit = await openLocalAudit(db, o.dataDir, config.store.url, config.accountId);
        const keys = await directoryOf(await openFeatureStores(db, audit.events, secretsWhenUsed(() => config))).listAccessKeys();
        const list = keys.map((k) => ({
          accessKeyId: k.id,
          userName: k.userName,
          status: k.status,
          createdAt: new Date(k.createdAt).toISOString(),
          lastUsedAt: k.lastUsedAt ? new Date(k.lastUsedAt).toISOString() : null,
          lastUsedIp: k.lastUsedIp,
        }));
        if (o.output === 'json') process.stdout.write(`${JSON.stringify(list)}\n`);
        else process.stdout.write(`${table(['AccessKeyId', 'User', 'Status', 'Created', 'LastUsed', 'LastUsedIp'], list.map((k) => [k.accessKeyId, k.userName, k.status, k.createdAt, k.lastUsedAt ?? '-', k.lastUsedIp ?? '-']))}\n`);
      } finally {
        await audit?.close();
        db.close();
      }
    });

  const users = cli.command('users').description('Local users');
  users
    .command('create')
    .description('Create a user (or update role and password with --update)')
    .requiredOption('--name <name>', 'user name')
    .addOption(new Option('--role <role>', 'role').choices([...ROLES]).default('viewer'))
    .addOption(new Option('--password <password>', 'password (or FLINKTRAIL_PASSWORD)').env('FLINKTRAIL_PASSWORD'))
    .option('--update', 'update an existing user')
    .option('--account <accountId>', 'member account of a new user (default: the management account)')
    .addOption(dataDirOption())
    .option('-c, --config <file>', 'YAML configuration file (for store.url: where the change is recorded)')
    .addOption(output())
    .action(async (o: { name: string; role: Role; password?: string; update?: boolean; account?: string; dataDir: string; config?: string; output: string }) => {
      const config = loadConfig({ ...(o.config ? { file: o.config } : {}), env: process.env, overrides: { dataDir: o.dataDir } });
      const db = openDatabase(o.dataDir);
      let audit: LocalAudit | undefined;
      try {
        audit = await openLocalAudit(db, o.dataDir, config.store.url, config.accountId);
        const accountId = o.account === undefined || o.account === config.accountId ? null : o.account;
        const u = await directoryOf(await openFeatureStores(db, audit.events, secretsWhenUsed(() => config))).createUser(o.name, o.role, o.password ? await hashPassword(o.password) : undefined, o.update ?? false, { accountId });
        await audit.record(o.update ? 'UpdateUser' : 'CreateUser', { 'ACS::Actiontrail::User': [o.name] }, { userName: o.name, role: o.role, passwordSet: o.password !== undefined });
        const out = { principalId: u.id, userName: u.name, role: u.role, hasPassword: u.passwordHash !== null, accountId: u.accountId ?? config.accountId };
        process.stdout.write(o.output === 'json' ? `${JSON.stringify(out)}\n` : `${table(['PrincipalId', 'User', 'Role', 'Password'], [[out.principalId, out.userName, out.role, out.hasPassword ? 'set' : '-']])}\n`);
      } finally {
        await audit?.close();
        db.close();
      }
    });

  const lookup = cli
    .command('lookup-events')
    .description('Query events; every filter may be combined with the others')
    .option('--event-rw <rw>', 'Read or Write')
    .option('--user <name>', 'operator (user name)')
    .option('--service-name <name>', 'service name, e.g. RealtimeCompute')
    .option('--event-name <name>', 'event name, e.g. CancelJob')
    .option('--event-type <type>', 'ApiCall, ConsoleOperation, ConsoleSignin, ...')
    .option('--resource-type <type>', 'e.g. ACS::RealtimeCompute::Job')
    .option('--resource-name <name>', 'a resource id or name, e.g. a job id')
    .option('--access-key-id <id>', 'the AccessKey ID used by the caller (filter)')
    .option('--sensitive <bool>', 'true or false')
    .option('--event-id <id>', 'one event')
    .option('--region <region>', 'the region asked (default: the home region; global events are in every region); * for every region')
    .addOption(new Option('--all-regions', 'every region (region=*)').conflicts('region'))
    .option('--error-code <code>', 'error code')
    .option('--source-ip-address <ip>', 'source IP')
    .option('--cluster <name>', 'cluster')
    .option('--start-time <time>', 'ISO 8601, default 7 days ago')
    .option('--end-time <time>', 'ISO 8601, default now')
    .option('--max-results <n>', 'page size (1-200)')
    .option('--direction <dir>', 'BACKWARD (newest first) or FORWARD')
    .option('--next-token <token>', 'continue a previous query')
    .option('--all', 'follow nextToken to the end')
    .option('--endpoint <url>', 'FlinkTrail API (or FLINKTRAIL_ENDPOINT)')
    .option('--key-id <id>', 'your AccessKey ID (or FLINKTRAIL_ACCESS_KEY_ID)')
    .option('--key-secret <secret>', 'your AccessKey secret (or FLINKTRAIL_ACCESS_KEY_SECRET)')
    .option('--profile <name>', 'profile in ~/.flinktrail/profiles.yaml')
    .addOption(output());
  lookup.action(async (o: Record<string, string | boolean | undefined>) => {
    const client = resolveClient({
      ...(typeof o['endpoint'] === 'string' ? { endpoint: o['endpoint'] } : {}),
      ...(typeof o['keyId'] === 'string' ? { accessKeyId: o['keyId'] } : {}),
      ...(typeof o['keySecret'] === 'string' ? { accessKeySecret: o['keySecret'] } : {}),
      ...(typeof o['profile'] === 'string' ? { profile: o['profile'] } : {}),
    });
    const query = new URLSearchParams();
    for (const p of LOOKUP_PARAMETERS) {
      const v = o[p];
      if (typeof v === 'string') query.set(p, v);
    }
    if (o['allRegions']) query.set('region', ALL_REGIONS);
    const events: ActionTrailEvent[] = [];
    let nextToken: string | undefined;
    for (;;) {
      const page = (await client.get('/api/v1/events', query)) as { Events: ActionTrailEvent[]; NextToken?: string };
      events.push(...page.Events);
      nextToken = page.NextToken;
      if (!o['all'] || !nextToken) break;
      query.set('nextToken', nextToken);
    }
    if (o['output'] === 'json') {
      process.stdout.write(`${JSON.stringify({ Events: events, ...(nextToken && !o['all'] ? { NextToken: nextToken } : {}) })}\n`);
      return;
    }
    const rows = events.map((e) => [
      e.eventTime,
      e.userIdentity.userName || '-',
      e.eventName,
      e.eventRW,
      Object.values(e.referencedResources).flat().slice(0, 2).join(' ') || '-',
      e.sourceIpAddress,
      e.errorCode ?? e.additionalEventData.outcome,
      e.isGlobal ? `${e.acsRegion} (global)` : e.acsRegion,
    ]);
    process.stdout.write(`${table(['Time', 'User', 'Event', 'RW', 'Resource', 'SourceIp', 'Outcome', 'Region'], rows)}\n`);
    if (nextToken && !o['all']) process.stdout.write(`More events: --next-token ${nextToken}\n`);
  });

  addTrailCommands(cli);
  addRegionCommands(cli);
  addAuthCommands(cli);
  addSecretsCommands(cli);
  addAccountCommands(cli, { dataDir: dataDirOption, output });
  addMigrateCommand(cli);
  return cli;
}

export async function run(argv: string[]): Promise<void> {
  try {
    await program().parseAsync(argv);
  } catch (err) {
    const e = err as Error & { exitCode?: number };
    process.stderr.write(`flinktrail: ${isFlinkTrailError(err) ? `${err.code}: ${err.message}` : e.message}\n`);
    process.exitCode = e.exitCode ?? (isFlinkTrailError(err) ? 2 : 1);
  }
}
