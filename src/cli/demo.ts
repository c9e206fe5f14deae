/**
 * `flinktrail demo`: the first five minutes. Fetches a real Flink from Maven Central (cached),
 * starts a local session cluster, puts FlinkTrail in front of it on embedded defaults, creates
 * an admin user with a password and an AccessKey pair, and prints where everything is. With
 * `--json`, one JSON line when ready. SIGTERM stops FlinkTrail and then Flink.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { loadConfig } from '../config/index.js';
import { openDatabase } from '../store/sqlite/database.js';
import { Directory } from '../identity/directory.js';
import { hashPassword } from '../identity/secrets.js';
import { serve, stopOnSignals } from '../main.js';

const run = promisify(execFile);

export const FLINK_SCRIPT = fileURLToPath(new URL('../../scripts/flink/flink.sh', import.meta.url));

export interface DemoOptions {
  json?: boolean;
  dataDir: string;
  port: number;
  flinkVersion: string;
  flinkPort?: number;
  user: string;
}

export async function demo(opts: DemoOptions): Promise<void> {
  const say = (msg: string) => {
    if (!opts.json) process.stderr.write(`${msg}\n`);
  };
  say(`Fetching Flink ${opts.flinkVersion} from Maven Central (cached after the first run)…`);
  await run('bash', [FLINK_SCRIPT, 'fetch', '--version', opts.flinkVersion], { maxBuffer: 64 * 1024 * 1024 });
  say('Starting a local Flink session cluster…');
  const startArgs = [FLINK_SCRIPT, 'start', '--version', opts.flinkVersion, ...(opts.flinkPort ? ['--rest-port', String(opts.flinkPort)] : [])];
  const { stdout } = await run('bash', startArgs, { maxBuffer: 16 * 1024 * 1024 });
  const line = stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (!line) throw new Error(`The Flink start script printed no JSON line:\n${stdout}`);
  const flink = JSON.parse(line) as { restUrl: string; runDir: string; jobJar?: string };
  const stopFlink = async () => {
    await run('bash', [FLINK_SCRIPT, 'stop', '--run-dir', flink.runDir]).catch(() => undefined);
  };

  try {
    const config = loadConfig({
      env: process.env,
      overrides: { dataDir: opts.dataDir, api: { port: opts.port }, clusters: [{ name: 'default', url: flink.restUrl }] },
    });
    const db = openDatabase(config.dataDir);
    const dir = new Directory(db);
    const password = randomBytes(12).toString('base64url');
    dir.createUser(opts.user, 'admin', await hashPassword(password), true);
    const key = dir.createAccessKey(opts.user);
    db.close();

    const running = await serve(config);
    stopOnSignals(() => running.stop(), stopFlink);
    const info = {
      consoleUrl: `${running.info.apiUrl}/`,
      apiUrl: running.info.apiUrl,
      gatewayUrl: running.info.clusters['default']?.gatewayUrl ?? '',
      flinkUrl: flink.restUrl,
      dataDir: config.dataDir,
      user: opts.user,
      password,
      accessKeyId: key.accessKeyId,
      accessKeySecret: key.accessKeySecret,
      ...(flink.jobJar ? { exampleJobJar: flink.jobJar } : {}),
    };
    if (opts.json) process.stdout.write(`${JSON.stringify(info)}\n`);
    else {
      process.stdout.write(
        [
          '',
          'FlinkTrail demo is running.',
          `  Flink Web UI through FlinkTrail: ${info.gatewayUrl}  (sign in as ${info.user} / ${info.password})`,
          `  API:                             ${info.apiUrl}`,
          `  Flink itself (unprotected):      ${info.flinkUrl}`,
          `  AccessKey:                       ${info.accessKeyId} / ${info.accessKeySecret}`,
          `  Data directory:                  ${info.dataDir}`,
          '',
          'Try:',
          `  curl -u ${info.accessKeyId}:${info.accessKeySecret} ${info.gatewayUrl}jobs/overview`,
          `  FLINKTRAIL_ENDPOINT=${info.apiUrl} FLINKTRAIL_ACCESS_KEY_ID=${info.accessKeyId} FLINKTRAIL_ACCESS_KEY_SECRET=${info.accessKeySecret} npx flinktrail lookup-events`,
          '',
          'Ctrl-C stops FlinkTrail and Flink.',
          '',
        ].join('\n'),
      );
    }
  } catch (err) {
    await stopFlink();
    throw err;
  }
}
