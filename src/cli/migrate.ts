/**
 * `flinktrail migrate --from DIR --to postgres://…`: moves a data directory's events into a
 * PostgreSQL event store, keeping their positions, verifies the copy and switches the directory
 * (src/store/migrate.ts), then its users, AccessKeys, policies, sessions, Kubernetes object state,
 * `meta` keys, trail digest keys and trails (src/store/migrate-tables.ts), counted on both sides,
 * before it switches. Run on a directory an older version switched (or served with `store.url`),
 * it copies what that version left in the directory — trails, digest keys, identities — into a
 * store that has none of it. The master key (`--config`, secrets.*) is opened only to seal a digest key file an
 * older version wrote in clear.
 * Resumable: run the same command again after an interruption. Recorded
 * as FlinkTrail's own event `MigrateEventStore`, in the store the directory moved to.
 */
import type { Command } from 'commander';
import { loadConfig } from '../config/index.js';
import { secretsWhenUsed } from '../secrets/index.js';
import { migrateEvents } from '../store/migrate.js';
import { redactUrl } from '../store/postgres/url.js';
import { localEvent } from './local-audit.js';

export function addMigrateCommand(cli: Command): void {
  cli
    .command('migrate')
    .description("Move a data directory's events, users, keys, policies, sessions, meta keys, trail digest keys and trails to PostgreSQL (positions kept, verified, resumable); then serve with --store")
    .requiredOption('--from <dir>', 'the data directory (stop FlinkTrail on it before the last run)')
    .requiredOption('--to <url>', 'the PostgreSQL event store, postgres://… (empty, or an interrupted copy of this directory)')
    .option('--batch <n>', 'events per copying transaction', '2000')
    .option('-c, --config <file>', 'YAML configuration file (for secrets.*: the master key that seals a digest key an older version wrote in clear)')
    .option('-o, --output <format>', 'output format: table or json', 'table')
    .action(async (o: { from: string; to: string; batch: string; config?: string; output: string }) => {
      const batch = Number(o.batch);
      if (!Number.isInteger(batch) || batch < 1 || batch > 100_000) throw new Error(`--batch must be a whole number from 1 to 100000, got '${o.batch}'`);
      // Opened only if a value must be sealed: a directory of sealed files migrates without it.
      const config = () => loadConfig({ ...(o.config ? { file: o.config } : {}), env: process.env, overrides: { dataDir: o.from } });
      const sealer = secretsWhenUsed(config);
      const tty = process.stderr.isTTY;
      let shown = 0;
      const result = await migrateEvents({
        dataDir: o.from,
        url: o.to,
        managementAccountId: config().accountId,
        batch,
        sealer,
        onProgress: ({ copied, total }) => {
          // A line per tenth (every batch on a terminal): progress, not a log.
          if (tty || copied - shown >= total / 10 || copied === total) {
            shown = copied;
            process.stderr.write(`${tty ? '\r' : ''}copied ${copied} of ${total} events${tty ? '' : '\n'}`);
          }
        },
        record: (m) =>
          localEvent('MigrateEventStore', {}, {
            from: o.from,
            to: redactUrl(o.to),
            store: m.store,
            events: m.events,
            lastSeq: m.lastSeq,
            sha256: m.sha256,
            ...(m.tables ? { tables: Object.fromEntries(Object.entries(m.tables).map(([t, c]) => [t, c.rows])) } : {}),
          }),
      });
      if (tty && shown) process.stderr.write('\n');
      const answer = {
        Store: result.store,
        Events: result.events,
        Copied: result.copied,
        ResumedAfter: result.resumedAfter,
        Updated: result.updated,
        LastPosition: result.lastSeq,
        Sha256: result.sha256,
        // Rows per table, equal in both stores; absent when the directory was switched by an earlier run and nothing was left to copy.
        ...(result.tables ? { Tables: Object.fromEntries(Object.entries(result.tables).map(([t, c]) => [t, { Rows: c.rows, Copied: c.copied }])) } : {}),
        // Switched by an older version: the features copied now, and those PostgreSQL holds its own of (not copied).
        ...(result.groups ? { CopiedAfterSwitch: result.groups } : {}),
        ...(result.kept ? { NotCopied: result.kept } : {}),
      };
      const tables = result.tables
        ? `Verified: ${Object.entries(result.tables)
            .map(([t, c]) => `${c.rows} ${t}`)
            .join(', ')} rows, the same in both stores (${Object.values(result.tables).reduce((n, c) => n + c.copied, 0)} copied by this run).`
        : 'Users, keys, policies, sessions, meta keys and trails were copied when the directory was switched; PostgreSQL holds them since (not copied again).';
      const late = [
        ...(result.groups ? [`The directory had been switched by an older version that left ${result.groups.join(', ')} in it; copied now.`] : []),
        ...(result.kept
          ? [`Not copied: ${result.kept.join(', ')} — PostgreSQL already holds its own (copied by the earlier switch, or made there since); the directory's stay in it, unused.`]
          : []),
      ];
      process.stdout.write(
        o.output === 'json'
          ? `${JSON.stringify(answer)}\n`
          : [
              `Copied ${result.copied} events${result.resumedAfter ? ` (continuing after position ${result.resumedAfter})` : ''}; ${result.updated} copied earlier while pending were brought up to date.`,
              `Verified: ${result.events} events up to position ${result.lastSeq}, SHA-256 ${result.sha256}, the same in both stores.`,
              tables,
              ...late,
              `The data directory now uses ${result.store}. Start FlinkTrail with --data-dir ${o.from} --store ${redactUrl(o.to)} (store.url).`,
            ].join('\n') + '\n',
      );
    });
}
