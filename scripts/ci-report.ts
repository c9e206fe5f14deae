/**
 * Writes docs/ci-flakes.md (to stdout) from the runs scripts/ci-repeat.sh left in a directory:
 * run-<i>/{rc,seconds,commit,leftovers,log,junit/*.xml}. Per-test results come from the JUnit
 * XML of Node's test runner (suite path › test name); a run that ended before writing it is
 * still counted, with the failure lines of its log.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';

interface Case {
  name: string;
  status: 'pass' | 'fail' | 'skip';
}

const [dir = '.', ref = 'main'] = process.argv.slice(2);
const read = (f: string, fallback = ''): string => (existsSync(f) ? readFileSync(f, 'utf8').trim() : fallback);
const unescape = (s: string): string => s.replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** testcases of one JUnit file: { name: "suite › test", status: "pass" | "fail" | "skip" }. */
function testcases(xml: string): Case[] {
  const out: Case[] = [];
  const suites: string[] = [];
  const tag = /<(\/?)(testsuite|testcase)\b([^>]*?)(\/?)>|<(failure|skipped)\b/g;
  let open: Case | null = null;
  for (let m; (m = tag.exec(xml)); ) {
    if (m[5]) {
      if (open) open.status = m[5] === 'failure' ? 'fail' : 'skip';
      continue;
    }
    const [, close, kind, attrs, selfClose] = m;
    const name = unescape(/\bname="([^"]*)"/.exec(attrs ?? '')?.[1] ?? '?');
    if (kind === 'testsuite') {
      if (close) suites.pop();
      else if (!selfClose) suites.push(name);
    } else if (close) {
      open = null;
    } else {
      const tc: Case = { name: [...suites, name].join(' › '), status: 'pass' };
      out.push(tc);
      open = selfClose ? null : tc;
    }
  }
  return out;
}

const runs = readdirSync(dir)
  .filter((d) => /^run-\d+$/.test(d))
  .sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)))
  .map((d) => {
    const p = join(dir, d);
    const junitDir = join(p, 'junit');
    const cases = existsSync(junitDir) ? readdirSync(junitDir).filter((f) => f.endsWith('.xml')).flatMap((f) => testcases(readFileSync(join(junitDir, f), 'utf8')).map((t) => ({ ...t, name: `${f.replace(/\.xml$/, '')}: ${t.name}` }))) : [];
    const log = read(join(p, 'log'));
    const lastStep = [...log.matchAll(/^== (.+) \(\d\d:\d\d:\d\d\)$/gm)].pop()?.[1] ?? 'before the first step';
    return { n: Number(d.slice(4)), rc: Number(read(join(p, 'rc'), '-1')), seconds: Number(read(join(p, 'seconds'), '0')), commit: read(join(p, 'commit')).slice(0, 10), leftovers: read(join(p, 'leftovers')), cases, lastStep, dir: p };
  });

const fmt = (s: number): string => `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
const green = runs.filter((r) => r.rc === 0);
const lines = [];
lines.push('# CI flakes', '');
lines.push(`Written by \`scripts/ci-repeat.sh\` on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC: the whole CI (\`CI=true bash .ci/run\`, no stdin) run ${runs.length} time(s), each in a fresh clone of \`${ref}\`.`);
lines.push(`Machine: ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(1)).join(' / ')} at the end (other work shares it; durations include that).`, '');
lines.push(`**${green.length} of ${runs.length} green.**`, '');
lines.push('| run | commit | result | duration | failed tests | processes left running |', '| --- | --- | --- | --- | --- | --- |');
for (const r of runs) {
  const failed = r.cases.filter((c) => c.status === 'fail').length;
  const result = r.rc === 0 ? 'green' : r.rc === 124 || r.rc === 137 ? `red (time limit, in "${r.lastStep}")` : `red (rc ${r.rc}, in "${r.lastStep}")`;
  lines.push(`| ${r.n} | ${r.commit} | ${result} | ${fmt(r.seconds)} | ${failed} of ${r.cases.length} | ${r.leftovers ? r.leftovers.split('\n').length : 0} |`);
}
const byTest = new Map<string, { runs: number; fail: number; skip: number }>();
for (const r of runs) for (const c of r.cases) {
  const t = byTest.get(c.name) ?? { runs: 0, fail: 0, skip: 0 };
  t.runs++;
  if (c.status === 'fail') t.fail++;
  if (c.status === 'skip') t.skip++;
  byTest.set(c.name, t);
}
const flaky = [...byTest].filter(([, t]) => t.fail > 0).sort((a, b) => b[1].fail / b[1].runs - a[1].fail / a[1].runs);
lines.push('', `## Per-test failure rates`, '', `${byTest.size} tests seen (JUnit reports of the unit, integration and Flink 1.20 steps); ${[...byTest.values()].filter((t) => t.skip > 0).length} ever skipped.`, '');
if (flaky.length === 0) lines.push('No test failed in any run.');
else {
  lines.push('| test | failed | of runs |', '| --- | --- | --- |');
  for (const [name, t] of flaky) lines.push(`| ${name.replace(/\|/g, '\\|')} | ${t.fail} | ${t.runs} |`);
}
lines.push('', '## Processes left running after a run', '');
const left = runs.filter((r) => r.leftovers);
if (left.length === 0) lines.push('None: after every run, no process carrying its run id was still running.');
else for (const r of left) lines.push(`Run ${r.n} (pid, process group, command):`, '', '```', r.leftovers, '```', '');
lines.push('', '## Failures, as the logs tell them', '');
const red = runs.filter((r) => r.rc !== 0);
if (red.length === 0) lines.push('None.');
for (const r of red) {
  const log = read(join(r.dir, 'log'));
  const fails = [...new Set(log.split('\n').filter((l) => /^\s*✖ |AssertionError|Error: /.test(l)).map((l) => l.trim()))].slice(0, 12);
  lines.push(`Run ${r.n}:`, '', '```', ...(fails.length ? fails : log.split('\n').slice(-15)), '```', '');
}
console.log(lines.join('\n'));
