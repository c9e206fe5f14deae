/**
 * Runs the fixed-rate client (rate-client.ts) in its own process, so that its event loop
 * competes with the servers only as another process would, never inside them.
 */
import { join } from 'node:path';
import type { RateResult, RateSpec } from './rate-client.js';
import { run } from './procs.js';
import { REPO } from './report.js';

export type { RateRequest, RateResult, RateSpec } from './rate-client.js';

export async function rate(spec: RateSpec): Promise<RateResult> {
  const out = await run(process.execPath, ['--import', 'tsx', join(REPO, 'bench', 'lib', 'rate-client.ts'), JSON.stringify(spec)], {
    cwd: REPO,
    timeoutMs: (spec.seconds + 90) * 1000,
  });
  return JSON.parse(out.trim().split('\n').pop() as string) as RateResult;
}
