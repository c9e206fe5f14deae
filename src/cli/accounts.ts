/**
 * `flinktrail accounts create|list|delete`: member accounts (docs/reference/accounts.md), on the
 * data directory or the store it names, like `keys` and `users` — also while the server runs.
 * Every change is recorded as the API's would be (CreateAccount, DeleteAccount).
 */
import type { Command, Option } from 'commander';
import { loadConfig, type Config } from '../config/index.js';
import type { Directory } from '../identity/directory.js';
import { secretsWhenUsed } from '../secrets/index.js';
import { openDatabase } from '../store/sqlite/database.js';
import { directoryOf, openFeatureStores } from '../stores.js';
import { openLocalAudit, type LocalAudit } from './local-audit.js';
import { table } from './table.js';

interface Common {
  dataDir: string;
  config?: string;
  output: string;
}

const ACCOUNT = 'ACS::Actiontrail::Account';

/** Runs `fn` with the directory and the local audit of the data directory (and its store). */
async function withDirectory<T>(o: Common, fn: (dir: Directory, audit: LocalAudit, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig({ ...(o.config ? { file: o.config } : {}), env: process.env, overrides: { dataDir: o.dataDir } });
  const db = openDatabase(o.dataDir);
  let audit: LocalAudit | undefined;
  try {
    audit = await openLocalAudit(db, o.dataDir, config.store.url, config.accountId);
    return await fn(directoryOf(await openFeatureStores(db, audit.events, secretsWhenUsed(() => config))), audit, config);
  } finally {
    await audit?.close();
    db.close();
  }
}

export function addAccountCommands(cli: Command, options: { dataDir: () => Option; output: () => Option }): void {
  const accounts = cli.command('accounts').description('Member accounts: each team sees only its own events, clusters, users and trails');
  const common = (c: Command) =>
    c
      .addOption(options.dataDir())
      .option('-c, --config <file>', 'YAML configuration file (accountId, store.url)')
      .addOption(options.output());

  common(accounts.command('create').description('Create a member account; prints its id').requiredOption('--name <name>', 'account name (unique)')).action(
    (o: Common & { name: string }) =>
      withDirectory(o, async (dir, audit, config) => {
        const a = await dir.createAccount(o.name, config.accountId);
        await audit.record('CreateAccount', { [ACCOUNT]: [a.id] }, { name: a.name });
        const out = { accountId: a.id, name: a.name };
        process.stdout.write(o.output === 'json' ? `${JSON.stringify(out)}\n` : `${table(['AccountId', 'Name'], [[out.accountId, out.name]])}\n`);
      }),
  );

  common(accounts.command('list').description('List the management account and the member accounts')).action((o: Common) =>
    withDirectory(o, async (dir, _audit, config) => {
      const list = [
        { accountId: config.accountId, name: 'management', management: true },
        ...(await dir.listAccounts()).map((a) => ({ accountId: a.id, name: a.name, management: false, createdAt: new Date(a.createdAt).toISOString() })),
      ];
      if (o.output === 'json') process.stdout.write(`${JSON.stringify(list)}\n`);
      else process.stdout.write(`${table(['AccountId', 'Name', 'Kind', 'Created'], list.map((a) => [a.accountId, a.name, a.management ? 'management' : 'member', 'createdAt' in a ? a.createdAt : '-']))}\n`);
    }),
  );

  common(accounts.command('delete').description('Delete a member account that owns nothing (no user, cluster or trail)').argument('<accountId>')).action(
    (accountId: string, o: Common) =>
      withDirectory(o, async (dir, audit, config) => {
        const clusters = config.clusters.filter((c) => c.account === accountId).map((c) => `cluster ${c.name}`);
        await dir.deleteAccount(accountId, clusters);
        await audit.record('DeleteAccount', { [ACCOUNT]: [accountId] }, {});
        process.stdout.write(o.output === 'json' ? `${JSON.stringify({ accountId, deleted: true })}\n` : `Deleted account ${accountId}.\n`);
      }),
  );
}
