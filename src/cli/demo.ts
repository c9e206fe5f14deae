/**
 * `flinktrail demo`: the first five minutes. Fetches a real Flink from Maven Central (cached),
 * starts a local session cluster, puts FlinkTrail in front of it on embedded defaults, creates
 * an admin user with a password and an AccessKey pair, submits the example job through
 * FlinkTrail (so there is a running job to cancel, savepoint or rescale, and the first events
 * are already there), and prints where everything is.
 *
 * stdout carries only the banner — or with `--json` only one JSON line — so scripts can read
 * it; progress goes to stderr and FlinkTrail's logs to `<dataDir>/flinktrail.log`. SIGTERM
 * stops FlinkTrail and then Flink.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { loadConfig } from '../config/index.js';
import { hashPassword } from '../identity/secrets.js';
import { createLogger, logFile } from '../telemetry/logger.js';
import { serve, stopOnSignals } from '../main.js';

const run = promisify(execFile);

export const FLINK_SCRIPT = fileURLToPath(new URL('../../scripts/flink/flink.sh', import.meta.url));

/** Flink's own default REST port, tried first when `--flink-port` is not given. */
const FLINK_DEFAULT_PORT = 8081;
/** Ports tried before giving up when each one turns out to be taken at bind time. */
const PORT_ATTEMPTS = 5;
/** Program arguments of the example job (flinktrail.demo.DemoJob): a slow, checkpointed stream. */
const EXAMPLE_JOB_ARGS = ['--job-name', 'flinktrail-demo', '--rate', '5'];

export interface DemoOptions {
  json?: boolean;
  dataDir: string;
  /** store.url: events in PostgreSQL (postgres://…); absent: the embedded store. */
  store?: string;
  port: number;
  flinkVersion: string;
  /** Given: exactly this port. Absent: 8081, or a free port when 8081 is taken. */
  flinkPort?: number;
  user: string;
}

interface FlinkRun {
  restUrl: string;
  runDir: string;
  jobJar: string;
}

export async function demo(opts: DemoOptions): Promise<void> {
  const say = (msg: string) => {
    if (!opts.json) process.stderr.write(`${msg}\n`);
  };
  say(`Fetching Flink ${opts.flinkVersion} from Maven Central (cached after the first run)…`);
  await run('bash', [FLINK_SCRIPT, 'fetch', '--version', opts.flinkVersion], { maxBuffer: 64 * 1024 * 1024 });
  const flink = await startFlink(opts, say);
  const stopFlink = async () => {
    await run('bash', [FLINK_SCRIPT, 'stop', '--run-dir', flink.runDir]).catch(() => undefined);
  };

  let stopFlinkTrail: (() => Promise<void>) | undefined;
  try {
    const config = loadConfig({
      env: process.env,
      overrides: { dataDir: opts.dataDir, api: { port: opts.port }, clusters: [{ name: 'default', url: flink.restUrl }], ...(opts.store ? { store: { url: opts.store } } : {}) },
    });
    const logPath = resolve(config.dataDir, 'flinktrail.log');
    const running = await serve(config, { log: createLogger(config.log.level, logFile(logPath)) });
    stopFlinkTrail = () => running.stop();
    stopOnSignals(stopFlinkTrail, stopFlink);
    // Made on the running app's store: the data directory's, or PostgreSQL's with --store.
    const password = randomBytes(12).toString('base64url');
    await running.directory.createUser(opts.user, 'admin', await hashPassword(password), true);
    const key = await running.directory.createAccessKey(opts.user);
    const gatewayUrl = running.info.clusters['default']?.gatewayUrl ?? '';

    say('Submitting the example job through FlinkTrail…');
    const authorization = `Basic ${Buffer.from(`${key.accessKeyId}:${key.accessKeySecret}`).toString('base64')}`;
    const jobId = await submitExampleJob(gatewayUrl, authorization, flink);

    const info = {
      consoleUrl: `${running.info.apiUrl}/`,
      apiUrl: running.info.apiUrl,
      gatewayUrl,
      flinkUrl: flink.restUrl,
      dataDir: config.dataDir,
      logFile: logPath,
      user: opts.user,
      password,
      accessKeyId: key.accessKeyId,
      accessKeySecret: key.accessKeySecret,
      exampleJobJar: flink.jobJar,
      jobId,
    };
    if (opts.json) process.stdout.write(`${JSON.stringify(info)}\n`);
    else {
      const curl = `curl -u ${info.accessKeyId}:${info.accessKeySecret}`;
      process.stdout.write(
        [
          '',
          'FlinkTrail demo is running.',
          `  Console:                         ${info.consoleUrl}  (sign in as ${info.user} / ${info.password})`,
          `  Flink Web UI through FlinkTrail: ${info.gatewayUrl}`,
          `  API:                             ${info.apiUrl}`,
          `  Flink itself (unprotected):      ${info.flinkUrl}`,
          `  AccessKey:                       ${info.accessKeyId} / ${info.accessKeySecret}`,
          `  Example job (running):           ${info.jobId}`,
          `  Data directory:                  ${info.dataDir}  (log: ${info.logFile})`,
          '',
          'Try:',
          `  ${curl} ${info.gatewayUrl}jobs/overview`,
          `  ${curl} -X POST -H 'content-type: application/json' -d '{"cancel-job":false}' ${info.gatewayUrl}jobs/${jobId}/savepoints`,
          `  ${curl} -X PATCH '${info.gatewayUrl}jobs/${jobId}?mode=cancel'`,
          `  FLINKTRAIL_ENDPOINT=${info.apiUrl} FLINKTRAIL_ACCESS_KEY_ID=${info.accessKeyId} FLINKTRAIL_ACCESS_KEY_SECRET=${info.accessKeySecret} npx flinktrail lookup-events`,
          '',
          'Ctrl-C stops FlinkTrail and Flink.',
          '',
        ].join('\n'),
      );
    }
  } catch (err) {
    await stopFlinkTrail?.();
    await stopFlink();
    throw err;
  }
}

/**
 * Starts Flink on `--flink-port`, else on 8081, else on a port the OS says is free. Flink binds
 * the port itself (a socket cannot be handed to it), so between asking and binding another
 * process may take the port: a start that fails because a port is in use is retried on a new one,
 * and the user is told which port Flink got.
 */
async function startFlink(opts: DemoOptions, say: (msg: string) => void): Promise<FlinkRun> {
  let port = opts.flinkPort ?? FLINK_DEFAULT_PORT;
  for (let attempt = 1; ; attempt++) {
    say(`Starting a local Flink session cluster on port ${port}…`);
    try {
      const { stdout } = await run('bash', [FLINK_SCRIPT, 'start', '--version', opts.flinkVersion, '--rest-port', String(port)], { maxBuffer: 16 * 1024 * 1024 });
      const line = stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
      if (!line) throw new Error(`The Flink start script printed no JSON line:\n${stdout}`);
      const flink = JSON.parse(line) as FlinkRun;
      if (port !== (opts.flinkPort ?? FLINK_DEFAULT_PORT)) say(`Flink is on port ${port}: port ${opts.flinkPort ?? FLINK_DEFAULT_PORT} was in use.`);
      return flink;
    } catch (err) {
      const stderr = (err as { stderr?: string }).stderr ?? '';
      const conflict = /already in use|BindException/.test(stderr);
      if (!conflict) throw err;
      if (opts.flinkPort !== undefined) throw new Error(`Flink REST port ${port} is already in use: pick another with --flink-port, or leave it out to use a free one.`);
      if (attempt >= PORT_ATTEMPTS) throw new Error(`Flink could not bind a free port in ${PORT_ATTEMPTS} attempts (each was taken by the time Flink started).`);
      const next = await portTheOsWouldGive();
      say(`Port ${port} is in use; trying ${next}.`);
      port = next;
    }
  }
}

/** A port that was free a moment ago (only a suggestion: startFlink retries if it is gone). */
async function portTheOsWouldGive(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolvePort(port));
    });
  });
}

/**
 * Uploads the example job jar and runs it through the gateway, as the demo admin — so the upload
 * and the start are the first events in the trail — and waits until every task runs (before that,
 * a savepoint would fail). Returns the job id.
 */
async function submitExampleJob(gatewayUrl: string, authorization: string, flink: FlinkRun): Promise<string> {
  const form = new FormData();
  form.append('jarfile', new Blob([await readFile(flink.jobJar)], { type: 'application/x-java-archive' }), basename(flink.jobJar));
  const uploaded = await json<{ filename?: string }>(await fetch(`${gatewayUrl}jars/upload`, { method: 'POST', headers: { authorization }, body: form }), 'uploading the example job');
  const jarId = uploaded.filename?.split('/').pop();
  if (!jarId) throw new Error(`Flink named no jar after the upload: ${JSON.stringify(uploaded)}`);
  const started = await json<{ jobid?: string }>(
    await fetch(`${gatewayUrl}jars/${encodeURIComponent(jarId)}/run`, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/json' },
      body: JSON.stringify({ programArgsList: EXAMPLE_JOB_ARGS }),
    }),
    'starting the example job',
  );
  const jobId = started.jobid;
  if (!jobId) throw new Error(`Flink returned no job id: ${JSON.stringify(started)}`);
  // Watched on Flink directly: polls through the gateway would fill the trail with reads.
  const deadline = Date.now() + 120_000;
  for (;;) {
    const job = await json<{ state?: string; vertices?: { status?: string }[] }>(await fetch(`${flink.restUrl}/jobs/${jobId}`), 'watching the example job');
    if (job.state === 'RUNNING' && (job.vertices ?? []).every((v) => v.status === 'RUNNING')) return jobId;
    if (job.state === 'FAILED' || job.state === 'CANCELED' || job.state === 'FINISHED') throw new Error(`The example job ${jobId} ended (${job.state}); see the logs in ${join(flink.runDir, 'log')}.`);
    if (Date.now() > deadline) throw new Error(`The example job ${jobId} was not running after 120 s (state ${job.state ?? 'unknown'}).`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function json<T>(res: Response, what: string): Promise<T> {
  const text = await res.text();
  if (!res.ok) throw new Error(`${what} failed: HTTP ${res.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text) as T;
}
