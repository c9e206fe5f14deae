/**
 * `npm run bench` — runs every benchmark, or the ones named, and writes their tables into
 * docs/benchmarks.md (machine, command, table, goals). Each benchmark measures its baseline in
 * the same run and prints ratios against it.
 *
 *   npm run bench                              all of them (about an hour on 2 cores)
 *   npm run bench -- gateway                   one
 *   npm run bench -- query --events 3M         options after the names
 *   npm run bench -- accounts --events 1M      the query cases as a member account vs the management account
 *   npm run bench -- scaling --sizes 1M,3M,10M
 *   npm run bench -- ingest --quick            shorter phases (noisier; still written)
 *   npm run bench -- ingest --postgres --clients 2,4 --seconds 20   HTTP ingest, SQLite and PostgreSQL
 *   npm run bench -- gateway --cpu-prof        also where FlinkTrail's CPU goes (V8 profile)
 *   npm run bench -- gateway --cpu-prof-dir d  the same, and every thread's profile kept in d
 *   npm run bench -- differential              the full differential run against real Flink
 *   npm run bench -- policy --hours 8          audit policy: stored bytes of one Web UI tab (simulated clock)
 *   npm run bench -- sizing --sizes 100k,400k  PostgreSQL bytes per event by part, vs SQLite
 *
 * Real servers come from the repo's own scripts (Flink from Maven jars, nginx and wrk from
 * Debian); everything started is stopped when the run ends, also on Ctrl-C.
 */
import { accounts } from './accounts.js';
import { delivery } from './delivery.js';
import { differential } from './differential.js';
import { gateway } from './gateway.js';
import { ingest } from './ingest.js';
import { loop } from './loop.js';
import { memory } from './memory.js';
import { policy } from './policy.js';
import { query } from './query.js';
import { cleanupAll } from './lib/procs.js';
import { loadLine } from './lib/machine.js';
import { renderSection, writeSection } from './lib/report.js';
import { scaling } from './scaling.js';
import { sizing } from './sizing.js';
import type { Bench } from './types.js';

const ALL: Bench[] = [gateway, ingest, delivery, memory, scaling, query, accounts, policy, differential, loop, sizing];

function usage(): string {
  return [
    'usage: npm run bench [-- <name>... [--quick] [--key value]...]',
    '',
    ...ALL.map((b) => `  ${b.name.padEnd(8)} ${b.summary}`),
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const names: string[] = [];
  const opts = new Map<string, string>();
  let quick = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--help' || a === '-h') {
      process.stdout.write(`${usage()}\n`);
      return 0;
    }
    if (a === '--quick') quick = true;
    else if (a.startsWith('--')) {
      // `--key value`, or a bare `--flag` (followed by nothing or by another option): value ''.
      const next = argv[i + 1];
      opts.set(a.slice(2), next === undefined || next.startsWith('--') ? '' : (argv[++i] as string));
    }
    else names.push(a);
  }
  const unknown = names.filter((n) => !ALL.some((b) => b.name === n));
  if (unknown.length) {
    process.stderr.write(`unknown benchmark: ${unknown.join(', ')}\n${usage()}\n`);
    return 2;
  }
  const chosen = names.length ? ALL.filter((b) => names.includes(b.name)) : ALL;
  let failed = 0;
  for (const b of chosen) {
    process.stderr.write(`\n== ${b.title} (${new Date().toISOString()})\n`);
    try {
      const load = loadLine();
      const section = await b.run({ opts, quick });
      section.load = load;
      // Record exactly what was run, options included.
      const extra = [...opts].map(([k, v]) => ` --${k}${v ? ` ${v}` : ''}`).join('') + (quick ? ' --quick' : '');
      section.command = `npm run bench -- ${b.name}${extra}`;
      process.stdout.write(`\n## ${section.title}\n\n${renderSection(section)}\n`);
      writeSection(section);
    } catch (err) {
      failed++;
      process.stderr.write(`${b.name} failed: ${(err as Error).stack ?? String(err)}\n`);
    }
  }
  return failed ? 1 : 0;
}

let code = 1;
const interrupted = () => {
  process.stderr.write('\ninterrupted: stopping what the benchmark started…\n');
  void cleanupAll().finally(() => process.exit(130));
};
process.once('SIGINT', interrupted);
process.once('SIGTERM', interrupted);
try {
  code = await main(process.argv.slice(2));
} finally {
  await cleanupAll();
}
process.exit(code);
