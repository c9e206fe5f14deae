/**
 * The real servers a benchmark measures: a Flink session cluster with a running job (the
 * repo's scripts/flink/flink.sh), nginx as a plain reverse proxy (scripts/it/nginx.sh), and
 * FlinkTrail itself as a separate process — the built CLI, `node bin/flinktrail.mjs serve`,
 * exactly as users run it, so the load generator never shares its event loop.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFlink, uploadAndRunJob, waitForJobState, type FlinkCluster } from '../../test/helpers/flink.js';
import { basic, makeKey, type Credentials } from '../../test/helpers/flinktrail.js';
import { onCleanup, run, sleep, spawnTracked } from './procs.js';
import { REPO } from './report.js';

/** A scratch directory, removed when the run ends (stores of a few hundred MB each). */
export function benchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `ft-bench-${prefix}-`));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

let built: Promise<void> | undefined;

/** Compiles dist/ once per run (the CLI runs from dist). Type errors elsewhere only warn. */
export function ensureBuilt(): Promise<void> {
  built ??= (async () => {
    try {
      await run('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: REPO, timeoutMs: 300_000 });
    } catch (err) {
      process.stderr.write(`warning: the build reported errors; using what it emitted.\n${(err as Error).message.slice(0, 1500)}\n`);
    }
    if (!existsSync(join(REPO, 'dist', 'cli', 'index.js'))) throw new Error('dist/cli/index.js is missing after the build');
  })();
  return built;
}

export interface BenchFlink {
  cluster: FlinkCluster;
  restUrl: string;
  jobId: string;
}

let flinkOnce: Promise<BenchFlink> | undefined;

/** One Flink per benchmark run (shared by the benchmarks that need it), with the demo job running. */
export function benchFlink(): Promise<BenchFlink> {
  flinkOnce ??= (async () => {
    process.stderr.write('starting Flink (scripts/flink/flink.sh)…\n');
    // The free port flink.sh is given can be taken by another process before Flink binds it
    // (a shared machine): try again on a fresh one.
    let cluster: FlinkCluster | undefined;
    for (let attempt = 1; !cluster; attempt++) {
      try {
        cluster = await startFlink();
      } catch (err) {
        if (attempt >= 3) throw err;
        process.stderr.write(`Flink did not start (${(err as Error).message.split('\n')[0]}); trying again…\n`);
      }
    }
    onCleanup(() => cluster.stop());
    const { jobId } = await uploadAndRunJob(cluster.restUrl, cluster.jobJar, { programArgs: ['--job-name', 'bench-job', '--rate', '20'] });
    await waitForJobState(cluster.restUrl, jobId, 'RUNNING', 120_000);
    onCleanup(async () => {
      await fetch(`${cluster.restUrl}/jobs/${jobId}?mode=cancel`, { method: 'PATCH' }).catch(() => undefined);
    });
    return { cluster, restUrl: cluster.restUrl, jobId };
  })();
  return flinkOnce;
}

export interface Nginx {
  url: string;
  pid: number;
}

/** nginx as a plain keep-alive reverse proxy in front of `upstream` (apt-installed if missing). */
export async function startNginx(upstream: string): Promise<Nginx> {
  const script = join(REPO, 'scripts', 'it', 'nginx.sh');
  await run('bash', [script, 'install'], { timeoutMs: 600_000 });
  const out = await run('bash', [script, 'start', '--upstream', upstream, '--run-dir', benchDir('nginx')]);
  const info = JSON.parse(out.trim().split('\n').pop() as string) as { url: string; pid: number; runDir: string };
  onCleanup(() => run('bash', [script, 'stop', '--run-dir', info.runDir]).then(() => undefined));
  return { url: info.url, pid: info.pid };
}

/** The Node proxy floor (node-proxy.ts) in its own process (or `processes` sharing its listener), forwarding to `upstream`. */
export async function startNodeProxy(upstream: string, processes = 1): Promise<Nginx> {
  const child = spawnTracked(process.execPath, ['--import', 'tsx', join(REPO, 'bench', 'lib', 'node-proxy.ts'), upstream, String(processes)], { cwd: REPO });
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`The Node proxy did not start within 30 s:\n${stderr}`)), 30_000);
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
      const line = stdout.split('\n').find((l) => l.startsWith('{'));
      if (line) {
        clearTimeout(t);
        resolve((JSON.parse(line) as { url: string }).url);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`The Node proxy exited with ${code}:\n${stderr}`));
    });
  });
  return { url, pid: child.pid as number };
}

export interface FlinkTrailChild {
  pid: number;
  apiUrl: string;
  /** `<api>/flink/default/` when started with a Flink URL. */
  gatewayUrl: string;
  dataDir: string;
  cred: Credentials;
  authorization: string;
  stop(): Promise<void>;
}

export interface StartFlinkTrailOptions {
  dataDir: string;
  flinkUrl?: string;
  /** `--set key=value` overrides. */
  set?: string[];
  /** PostgreSQL store (`--store`): the bench user and its key are made there. */
  storeUrl?: string;
  user?: string;
  /** Extra options for node itself (e.g. `--cpu-prof`), before the script. */
  nodeArgs?: string[];
}

/** Runs `node bin/flinktrail.mjs serve` in its own process group and waits until it is ready. */
export async function startFlinkTrail(opts: StartFlinkTrailOptions): Promise<FlinkTrailChild> {
  await ensureBuilt();
  const cred = await makeKey(opts.dataDir, opts.user ?? 'bench', 'admin', undefined, undefined, opts.storeUrl ? { storeUrl: opts.storeUrl } : {});
  const args = [...(opts.nodeArgs ?? []), join(REPO, 'bin', 'flinktrail.mjs'), 'serve', '--data-dir', opts.dataDir, '--port', '0', '--set', 'log.level=warn'];
  if (opts.storeUrl) args.push('--store', opts.storeUrl);
  if (opts.flinkUrl) args.push('--flink', opts.flinkUrl);
  for (const s of opts.set ?? []) args.push('--set', s);
  const child = spawnTracked(process.execPath, args, { cwd: REPO });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout?.on('data', () => undefined);
  const deadline = Date.now() + 30_000;
  let apiUrl: string | undefined;
  while (!apiUrl) {
    apiUrl = /FlinkTrail API: (http:\/\/\S+)/.exec(stderr)?.[1];
    if (child.exitCode !== null) throw new Error(`FlinkTrail exited with ${child.exitCode}:\n${stderr}`);
    if (Date.now() > deadline) throw new Error(`FlinkTrail did not start within 30 s:\n${stderr}`);
    if (!apiUrl) await sleep(50);
  }
  for (;;) {
    const ok = await fetch(`${apiUrl}/ready`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`FlinkTrail never became ready:\n${stderr}`);
    await sleep(50);
  }
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    pid: child.pid as number,
    apiUrl,
    gatewayUrl: `${apiUrl}/flink/default/`,
    dataDir: opts.dataDir,
    cred,
    authorization: basic(cred),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
