/**
 * Integration-test helper: a real Flink session cluster started by scripts/flink/flink.sh.
 *
 * If FLINKTRAIL_TEST_FLINK_URL is set (e.g. CI started one shared cluster), that cluster is used
 * as-is: nothing is started, stop() is a no-op, and the job jar comes from
 * FLINKTRAIL_TEST_FLINK_JOB_JAR (and the SQL Gateway URL from FLINKTRAIL_TEST_FLINK_SQL_GATEWAY_URL).
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { register, starting } from './lifecycle.js';

const execFileAsync = promisify(execFile);

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const FLINK_SCRIPT = resolve(REPO_ROOT, 'scripts', 'flink', 'flink.sh');

export interface StartFlinkOptions {
  /** Flink version, e.g. "2.2.0" (default) or "1.20.3" / "1.20". */
  version?: string;
  /** Also start the SQL Gateway. Ports are bound by Flink itself (0) and read back by flink.sh. */
  withSqlGateway?: boolean;
  /** Startup timeout for the script's readiness wait (seconds, default 180). */
  timeoutSeconds?: number;
}

export interface FlinkCluster {
  /** e.g. "http://127.0.0.1:18081" (no trailing slash). */
  restUrl: string;
  sqlGatewayUrl?: string;
  /** Absolute path of the demo job jar (main class flinktrail.demo.DemoJob). */
  jobJar: string;
  /** Run dir (config, logs, checkpoints, savepoints); "" for an external cluster. */
  runDir: string;
  /** Flink version reported by the cluster. */
  version: string;
  /** True when the cluster came from FLINKTRAIL_TEST_FLINK_URL (stop() does nothing). */
  external: boolean;
  stop(): Promise<void>;
}

interface StartOutput {
  restUrl: string;
  sqlGatewayUrl: string | null;
  jobJar: string;
  pids: number[];
  runDir: string;
  version: string;
}

async function runScript(args: string[], timeoutMs: number): Promise<string> {
  try {
    const { stdout } = await execFileAsync('bash', [FLINK_SCRIPT, ...args], {
      cwd: REPO_ROOT,
      timeout: timeoutMs,
      maxBuffer: 16 * 1024 * 1024,
      env: process.env,
    });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`flink.sh ${args.join(' ')} failed: ${e.message}\n${e.stderr ?? ''}`);
  }
}

function parseStartOutput(stdout: string): StartOutput {
  const line = stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('{'))
    .pop();
  if (line === undefined) throw new Error(`flink.sh start printed no JSON line: ${stdout}`);
  const parsed = JSON.parse(line) as Partial<StartOutput>;
  if (typeof parsed.restUrl !== 'string' || typeof parsed.jobJar !== 'string' || typeof parsed.runDir !== 'string') {
    throw new Error(`unexpected flink.sh start output: ${line}`);
  }
  return {
    restUrl: parsed.restUrl,
    sqlGatewayUrl: typeof parsed.sqlGatewayUrl === 'string' ? parsed.sqlGatewayUrl : null,
    jobJar: parsed.jobJar,
    pids: Array.isArray(parsed.pids) ? parsed.pids : [],
    runDir: parsed.runDir,
    version: typeof parsed.version === 'string' ? parsed.version : '',
  };
}

async function externalCluster(url: string): Promise<FlinkCluster> {
  const restUrl = url.replace(/\/+$/, '');
  const jobJar = process.env['FLINKTRAIL_TEST_FLINK_JOB_JAR'] ?? '';
  const overview = await getJson<{ 'flink-version'?: string }>(`${restUrl}/overview`);
  const gw = process.env['FLINKTRAIL_TEST_FLINK_SQL_GATEWAY_URL'];
  return {
    restUrl,
    ...(gw ? { sqlGatewayUrl: gw.replace(/\/+$/, '') } : {}),
    jobJar,
    runDir: '',
    version: overview['flink-version'] ?? '',
    external: true,
    stop: async () => {},
  };
}

/** Fetches (cached) and starts a Flink session cluster; resolves once 1 TM with free slots is up. */
export function startFlink(opts: StartFlinkOptions = {}): Promise<FlinkCluster> {
  const external = process.env['FLINKTRAIL_TEST_FLINK_URL'];
  if (external) return externalCluster(external);
  return starting(startOwnFlink(opts));
}

async function startOwnFlink(opts: StartFlinkOptions): Promise<FlinkCluster> {
  const versionArgs = opts.version ? ['--version', opts.version] : [];
  // A cold fetch resolves ~55 jars through Maven (seconds when ~/.m2 is warm, longer when not).
  await runScript(['fetch', ...versionArgs], 15 * 60_000);

  const args = ['start', ...versionArgs];
  if (opts.timeoutSeconds !== undefined) args.push('--timeout', String(opts.timeoutSeconds));
  if (opts.withSqlGateway) args.push('--with-sql-gateway');
  const out = parseStartOutput(await runScript(args, ((opts.timeoutSeconds ?? 180) + 60) * 1000));
  const log = (name: string) => [resolve(out.runDir, 'log', name, `flink-${name}.log`), resolve(out.runDir, 'log', name, `flink-${name}.out`)];
  const stop = register({
    name: `Flink ${out.version}`,
    stop: () => runScript(['stop', '--run-dir', out.runDir], 120_000).then(() => undefined),
    groups: out.pids,
    logs: [...log('jobmanager'), ...log('taskmanager'), ...(out.sqlGatewayUrl ? log('sql-gateway') : [])],
  });
  return {
    restUrl: out.restUrl,
    ...(out.sqlGatewayUrl ? { sqlGatewayUrl: out.sqlGatewayUrl } : {}),
    jobJar: out.jobJar,
    runDir: out.runDir,
    version: out.version,
    external: false,
    stop,
  };
}

/** Flink REST error bodies are {"errors":[...]} (often with full Java stack traces). */
export class FlinkRestError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    message: string,
  ) {
    super(message);
    this.name = 'FlinkRestError';
  }
}

async function checked(res: Response, what: string): Promise<string> {
  const text = await res.text();
  if (!res.ok) {
    throw new FlinkRestError(res.status, text, `${what} -> HTTP ${res.status}: ${text.slice(0, 500)}`);
  }
  return text;
}

export async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { headers: { accept: 'application/json' } });
  return JSON.parse(await checked(res, `GET ${url}`)) as T;
}

export async function sendJson<T>(method: string, url: string, body?: unknown): Promise<T> {
  const res = await fetch(url, {
    method,
    headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await checked(res, `${method} ${url}`);
  return (text ? JSON.parse(text) : {}) as T;
}

/**
 * POST /jars/upload (multipart field "jarfile"); returns the jar id (last path segment of
 * "filename"). `fileName` (default: the jar's own) ends the id Flink gives it: `<uuid>_<fileName>`.
 */
export async function uploadJar(restUrl: string, jobJar: string, fileName = basename(jobJar)): Promise<string> {
  const bytes = await readFile(jobJar);
  const form = new FormData();
  form.append('jarfile', new Blob([bytes], { type: 'application/x-java-archive' }), fileName);
  const res = await fetch(`${restUrl}/jars/upload`, { method: 'POST', body: form });
  const body = JSON.parse(await checked(res, `POST ${restUrl}/jars/upload`)) as {
    filename?: string;
    status?: string;
  };
  if (body.status !== 'success' || typeof body.filename !== 'string') {
    throw new Error(`unexpected /jars/upload response: ${JSON.stringify(body)}`);
  }
  const jarId = body.filename.split('/').pop();
  if (!jarId) throw new Error(`no jar id in ${body.filename}`);
  return jarId;
}

export interface RunJobOptions {
  /** Program args for flinktrail.demo.DemoJob, e.g. ["--job-name","x","--rate","5"]. */
  programArgs?: string[];
  parallelism?: number;
  entryClass?: string;
  savepointPath?: string;
}

/** POST /jars/{jarId}/run; returns the job id. */
export async function runJar(restUrl: string, jarId: string, opts: RunJobOptions = {}): Promise<string> {
  const body: Record<string, unknown> = { programArgsList: opts.programArgs ?? [] };
  if (opts.parallelism !== undefined) body['parallelism'] = opts.parallelism;
  if (opts.entryClass !== undefined) body['entryClass'] = opts.entryClass;
  if (opts.savepointPath !== undefined) body['savepointPath'] = opts.savepointPath;
  const res = await sendJson<{ jobid?: string }>('POST', `${restUrl}/jars/${encodeURIComponent(jarId)}/run`, body);
  if (typeof res.jobid !== 'string') throw new Error(`unexpected /jars/run response: ${JSON.stringify(res)}`);
  return res.jobid;
}

export async function uploadAndRunJob(
  restUrl: string,
  jobJar: string,
  opts: RunJobOptions = {},
): Promise<{ jarId: string; jobId: string }> {
  const jarId = await uploadJar(restUrl, jobJar);
  const jobId = await runJar(restUrl, jarId, opts);
  return { jarId, jobId };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Polls GET /jobs/{jobId} until its state equals `state` (e.g. "RUNNING", "CANCELED", "FINISHED").
 * For "RUNNING" it also waits until every vertex is RUNNING: the job state flips to RUNNING while
 * tasks are still CREATED/DEPLOYING, and a savepoint triggered then fails ("Checkpoint triggering
 * task ... is not being executed at the moment"). Throws on timeout or when the job reaches a
 * different terminal state.
 */
export async function waitForJobState(
  restUrl: string,
  jobId: string,
  state: string,
  timeoutMs = 60_000,
): Promise<void> {
  const terminal = new Set(['FINISHED', 'CANCELED', 'FAILED']);
  const deadline = Date.now() + timeoutMs;
  let last = 'unknown';
  for (;;) {
    try {
      const job = await getJson<{ state?: string; vertices?: { status?: string }[] }>(`${restUrl}/jobs/${jobId}`);
      last = job.state ?? 'unknown';
      const tasksReady = state !== 'RUNNING' || (job.vertices ?? []).every((v) => v.status === 'RUNNING');
      if (last === state && tasksReady) return;
      if (terminal.has(last) && last !== state) {
        throw new Error(`job ${jobId} reached ${last} while waiting for ${state}`);
      }
    } catch (err) {
      if (!(err instanceof FlinkRestError && err.status === 404)) throw err;
    }
    if (Date.now() > deadline) throw new Error(`job ${jobId} not ${state} after ${timeoutMs} ms (last: ${last})`);
    await sleep(250);
  }
}

export interface AsyncOperationResult {
  status: { id: string };
  operation?: { location?: string; checkpointId?: number; 'failure-cause'?: { class?: string; 'stack-trace'?: string } };
}

/**
 * Polls an async-operation status URL (savepoint: /jobs/{id}/savepoints/{triggerId}, checkpoint:
 * /jobs/{id}/checkpoints/{triggerId}) until status.id is COMPLETED. Note: Flink reports a FAILED
 * operation as status COMPLETED with operation["failure-cause"]; that is turned into an error here.
 */
export async function waitForOperation(url: string, timeoutMs = 60_000): Promise<AsyncOperationResult> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await getJson<AsyncOperationResult>(url);
    if (res.status.id === 'COMPLETED') {
      const cause = res.operation?.['failure-cause'];
      if (cause) throw new Error(`operation failed: ${cause['stack-trace']?.split('\n')[0] ?? cause.class ?? 'unknown'}`);
      return res;
    }
    if (Date.now() > deadline) throw new Error(`operation ${url} still ${res.status.id} after ${timeoutMs} ms`);
    await sleep(250);
  }
}
