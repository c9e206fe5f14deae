/**
 * `npm run bench -- differential` — the full differential run: every variant of every write
 * request in the catalog (test/helpers/differential/) through FlinkTrail to a real Flink cluster,
 * as the allowed user and as each denied user. Not a speed measurement: it is here because the
 * runner already starts and stops real servers and writes results into docs; its "goals" are
 * zero mismatches and zero state changes by denied users.
 *
 *   npm run bench -- differential            all variants (about half an hour on 2 cores)
 *   npm run bench -- differential --quick    the CI sample only
 *
 * Uses the cluster of FLINKTRAIL_TEST_FLINK_URL (+ _JOB_JAR) when set, else starts one.
 */
import { startFlink } from '../test/helpers/flink.js';
import { startInProcess } from '../test/helpers/flinktrail.js';
import { createHarness, createHarnessUsers, summaryLines, type Finding } from '../test/helpers/differential/harness.js';
import { onCleanup } from './lib/procs.js';
import type { Section } from './lib/report.js';
import { benchDir } from './lib/servers.js';
import { table } from './lib/stats.js';
import type { Bench, BenchOptions } from './types.js';

function findingsText(title: string, list: Finding[]): string {
  if (!list.length) return '';
  return [`**${title}**`, '', ...list.map((f) => `- \`${f.variant}\` (${f.user}): ${f.problem}\n  - request: \`${f.request}\`\n  - HTTP ${f.status}; Flink did: ${f.flinkDid}; recorded: ${f.recorded}`), ''].join('\n');
}

async function differentialRun(o: BenchOptions): Promise<Section> {
  const startedAt = new Date();
  const t0 = Date.now();
  const flink = await startFlink();
  onCleanup(() => flink.stop());
  if (!flink.jobJar) throw new Error('no demo job jar: set FLINKTRAIL_TEST_FLINK_JOB_JAR with FLINKTRAIL_TEST_FLINK_URL');
  const dataDir = benchDir('differential');
  const creds = await createHarnessUsers(dataDir);
  const ft = await startInProcess(flink.restUrl, {}, dataDir);
  onCleanup(() => ft.close());
  const gatewayUrl = ft.info.clusters['default']?.gatewayUrl as string;
  const h = createHarness({ flinkUrl: flink.restUrl, gatewayUrl, apiUrl: ft.info.apiUrl, dataDir, jobJar: flink.jobJar, sample: o.quick, log: (l) => process.stderr.write(`${l}\n`) }, creds);
  let c;
  try {
    c = await h.run();
  } finally {
    await h.cleanup();
  }
  for (const line of summaryLines(c)) process.stderr.write(`${line}\n`);
  const dims = Object.entries(c.byDimension).map(([d, n]) => `${d} ${n}`).join(', ');
  const body = [
    table(
      ['variants tried', 'refused by FlinkTrail', 'recorded and matching', 'mismatches', 'denied-user requests', 'refused', 'denied-user state changes', 'jobs started'],
      [[String(c.tried), String(c.refused), String(c.matched), String(c.mismatches.length), String(c.denied.tried), String(c.denied.refused), String(c.denied.stateChanges.length), String(c.jobsStarted)]],
    ),
    '',
    `Variants generated, by what they change: ${dims} (${h.variants.length} in all, ${h.allowedVariants.length} sent by the allowed user). Flink ${flink.version}.`,
    '',
    findingsText('Mismatches', c.mismatches),
    findingsText('Denied-user state changes', c.denied.stateChanges),
  ].join('\n');
  return {
    name: 'differential',
    title: 'Differential test against real Flink',
    command: '',
    startedAt,
    seconds: (Date.now() - t0) / 1000,
    body,
    goals: [
      { area: 'Differential', goal: 'mismatches between the record and what Flink did: 0', measured: `${c.mismatches.length} of ${c.tried + c.denied.refused}`, met: c.mismatches.length === 0 },
      { area: 'Differential', goal: 'state changes by denied users: 0', measured: `${c.denied.stateChanges.length} of ${c.denied.tried}`, met: c.denied.stateChanges.length === 0 },
    ],
  };
}

export const differential: Bench = {
  name: 'differential',
  title: 'Differential test against real Flink',
  summary: 'every write-request variant through FlinkTrail vs what Flink did (mismatches, denied-user changes)',
  run: differentialRun,
};
