/** Runs a scripts/it/<name>.sh subcommand and returns its last JSON line (shared by server helpers). */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './flink.js';

const run = promisify(execFile);

export async function itScript<T>(name: string, args: string[], timeoutMs = 300_000): Promise<T> {
  try {
    const { stdout } = await run('bash', [resolve(REPO_ROOT, 'scripts', 'it', `${name}.sh`), ...args], {
      cwd: REPO_ROOT,
      timeout: timeoutMs,
      maxBuffer: 16 * 1024 * 1024,
    });
    const line = stdout
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.startsWith('{'))
      .pop();
    return (line ? JSON.parse(line) : {}) as T;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`scripts/it/${name}.sh ${args.join(' ')} failed: ${e.message}\n${e.stderr ?? ''}`);
  }
}
