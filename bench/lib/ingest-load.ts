/**
 * Runs the HTTP ingest clients (ingest-client.ts) in their own process. `prepareIngestLoad`
 * resolves once the bodies are built and the warm-up batches are answered; `start()` then sets
 * the clients going and resolves with their result, so that a probe can run beside them.
 */
import { join } from 'node:path';
import type { IngestLoadResult, IngestLoadSpec } from './ingest-client.js';
import { spawnTracked } from './procs.js';
import { REPO } from './report.js';

export type { IngestLoadResult, IngestLoadSpec } from './ingest-client.js';

export interface IngestLoad {
  start(): Promise<IngestLoadResult>;
}

export async function prepareIngestLoad(spec: IngestLoadSpec): Promise<IngestLoad> {
  const child = spawnTracked(process.execPath, ['--import', 'tsx', join(REPO, 'bench', 'lib', 'ingest-client.ts'), JSON.stringify(spec)], {
    cwd: REPO,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.startsWith('ready\n')) resolve();
    });
    void exited.then((code) => reject(new Error(`the ingest clients exited with ${code} before they were ready:\n${err.slice(-2000)}`)));
  });
  await ready;
  return {
    async start() {
      child.stdin?.write('go\n');
      const code = await exited;
      const last = out.trim().split('\n').pop() as string;
      if (code !== 0 || !last.startsWith('{')) throw new Error(`the ingest clients exited with ${code}:\n${err.slice(-2000)}`);
      return JSON.parse(last) as IngestLoadResult;
    },
  };
}
