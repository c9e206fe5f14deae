/**
 * `flinktrail secrets rotate --new-key-file <file>`: re-wraps every sealed secret of a data
 * directory under a new master key (made if the file does not exist), then says which config to
 * set. The old key keeps working until then only for values not yet re-wrapped: none, once the
 * command succeeds — so restart the server with `secrets.masterKey` pointing at the new key
 * (docs/reference/secrets.md). Recorded as FlinkTrail's own event `RotateMasterKey`.
 *
 * With `store.url`, the sealed values kept in PostgreSQL (meta HMAC keys, AccessKey signing
 * secrets, trail digest private keys) are re-wrapped first, in one transaction there; then the data directory's (trail
 * destinations stay in its SQLite database), in one transaction; then its key files. PostgreSQL
 * goes first because it is the part likely to fail (unreachable, locked): a failure there changes
 * nothing anywhere. A failure after it leaves PostgreSQL under the new key and the directory under
 * the old one; the ring that rotates opens both, so running the same command again (same
 * --new-key-file) completes it — do that before restarting with the new key.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../config/index.js';
import { FlinkTrailError } from '../errors/index.js';
import { loadMasterKey, openSecrets, rotateSecrets } from '../secrets/index.js';
import { PostgresSealedValues } from '../secrets/postgres/sealed-values.js';
import { SqliteSealedValues } from '../secrets/sqlite/sealed-values.js';
import type { SealedValueStore } from '../secrets/rotate.js';
import { ensureKeyFile } from '../secrets/master-key.js';
import { openPool, redactUrl } from '../store/postgres/url.js';
import { openDatabase } from '../store/sqlite/database.js';
import { openLocalAudit, type LocalAudit } from './local-audit.js';

export function addSecretsCommands(cli: Command): void {
  const secrets = cli.command('secrets').description('Secrets at rest: the master key that seals stored credentials and keys');
  secrets
    .command('rotate')
    .description('Re-wrap every stored secret under a new master key (stop the server first; restart it with the new key)')
    .requiredOption('--new-key-file <file>', 'the new master key (32 bytes, base64 or hex); made if it does not exist')
    .option('-c, --config <file>', 'YAML configuration file (for secrets.* and dataDir)')
    .option('--data-dir <dir>', 'data directory (default: from the config)')
    .option('-o, --output <format>', 'output format: table or json', 'table')
    .action(async (o: { newKeyFile: string; config?: string; dataDir?: string; output: string }) => {
      const config = loadConfig({ ...(o.config ? { file: o.config } : {}), env: process.env, overrides: o.dataDir ? { dataDir: o.dataDir } : {} });
      const current = openSecrets(config);
      const file = isAbsolute(o.newKeyFile) ? o.newKeyFile : resolve(o.newKeyFile);
      const created = !existsSync(file);
      if (created) ensureKeyFile(file);
      const next = loadMasterKey(`file:${file}`, { dataDir: config.dataDir });
      if (next.id === current.active.id) throw new FlinkTrailError('FT_ERR_SECRETS_MASTER_KEY', `file:${file}`, 'it is already the active key');
      const db = openDatabase(config.dataDir);
      let audit: LocalAudit | undefined;
      const url = config.store.url;
      const pool = url ? openPool(url, { max: 1, applicationName: 'flinktrail-secrets-rotate' }) : undefined;
      try {
        audit = await openLocalAudit(db, config.dataDir, url, config.accountId);
        // PostgreSQL first: see the module comment.
        const stores: SealedValueStore[] = [...(pool ? [new PostgresSealedValues(pool)] : []), new SqliteSealedValues(db)];
        const result = await rotateSecrets(stores, config.dataDir, current.withActive(next));
        const inPostgres = pool ? (result.perStore[0] ?? 0) : undefined;
        await audit.record('RotateMasterKey', {}, { newKeyId: next.id, previousKeyId: current.active.id, values: result.values, files: result.files, ...(inPostgres === undefined ? {} : { postgresValues: inPostgres }) });
        const answer = {
          KeyId: next.id,
          PreviousKeyId: current.active.id,
          KeyFile: file,
          Created: created,
          RewrappedValues: result.values,
          ...(inPostgres === undefined ? {} : { RewrappedPostgresValues: inPostgres }),
          RewrappedFiles: result.files,
        };
        process.stdout.write(
          o.output === 'json'
            ? `${JSON.stringify(answer)}\n`
            : [
                `${created ? 'Made a new master key' : 'Using the master key'} ${next.id} (${file}).`,
                `Re-wrapped ${result.values} stored values${url ? ` (${inPostgres} in PostgreSQL ${redactUrl(url)}, the rest in the data directory)` : ''} and ${result.files} key files (previously under ${current.active.id}).`,
                `Now set secrets.masterKey: file:${file} (or FLINKTRAIL__SECRETS__MASTER_KEY=file:${file}) and restart FlinkTrail.`,
              ].join('\n') + '\n',
        );
      } finally {
        await audit?.close();
        await pool?.end();
        db.close();
      }
    });
}
