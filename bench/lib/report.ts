/**
 * Writes benchmark results into docs/benchmarks.md.
 *
 * Each benchmark owns the text between `<!-- bench:<name>:start -->` and `<!-- bench:<name>:end -->`
 * and replaces it whole on every run, so numbers in the document are only ever written by a
 * run (never by hand). Each section carries its goals as a JSON comment; the summary table at
 * the top is rebuilt from those comments, so running one benchmark refreshes its goals without
 * forgetting the others'.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadLine, machineLine, toolVersions } from './machine.js';
import { table } from './stats.js';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const DOC = join(REPO, 'docs', 'benchmarks.md');

export interface Goal {
  /** Which benchmark, e.g. "Gateway". */
  area: string;
  goal: string;
  measured: string;
  /** undefined: not measured in this run (stated as a gap); 'info': measured, no numeric goal. */
  met: boolean | 'info' | undefined;
}

export interface Section {
  name: string;
  title: string;
  command: string;
  startedAt: Date;
  seconds: number;
  /** Markdown: tables and the notes that explain them. */
  body: string;
  goals: Goal[];
  /** The load average just before the benchmark started its servers (set by the runner). */
  load?: string;
}

/** Captured at process start; the runner records each benchmark's own start as well. */
const START_LOAD = loadLine();

export function renderSection(s: Section): string {
  return [
    `**Command:** \`${s.command}\` · **ran** ${s.startedAt.toISOString().replace(/\.\d+Z$/, 'Z')} for ${Math.round(s.seconds)} s`,
    '',
    `**Machine:** ${[machineLine(), toolVersions(), s.load ?? START_LOAD].filter(Boolean).join('; ')}.`,
    '',
    s.body.trim(),
    '',
    `<!-- goals: ${JSON.stringify(s.goals)} -->`,
  ].join('\n');
}

function markers(name: string): [string, string] {
  return [`<!-- bench:${name}:start -->`, `<!-- bench:${name}:end -->`];
}

function replaceBetween(doc: string, name: string, content: string, titleIfMissing: string): string {
  const [start, end] = markers(name);
  const i = doc.indexOf(start);
  const j = doc.indexOf(end);
  if (i < 0 || j < i) return `${doc.trimEnd()}\n\n## ${titleIfMissing}\n\n${start}\n${content}\n${end}\n`;
  return `${doc.slice(0, i + start.length)}\n${content}\n${doc.slice(j)}`;
}

function goalsIn(doc: string): Goal[] {
  const out: Goal[] = [];
  for (const m of doc.matchAll(/<!-- goals: (\[.*?\]) -->/g)) {
    try {
      out.push(...(JSON.parse(m[1] as string) as Goal[]));
    } catch {
      /* a damaged comment only loses its row in the summary */
    }
  }
  return out;
}

function summary(goals: Goal[]): string {
  if (goals.length === 0) return '_No benchmark has been run yet: `npm run bench`._';
  const mark = (g: Goal) => (g.met === undefined ? '**not measured**' : g.met === 'info' ? '(no goal)' : g.met ? 'met' : '**not met**');
  return table(
    ['area', 'goal', 'measured', 'status'],
    goals.map((g) => [g.area, g.goal, g.measured, mark(g)]),
    ['l', 'l', 'l', 'l'],
  );
}

/** Replaces the section of `s.name` and rebuilds the summary. */
export function writeSection(s: Section): void {
  let doc = readFileSync(DOC, 'utf8');
  doc = replaceBetween(doc, s.name, renderSection(s), s.title);
  doc = replaceBetween(doc, 'summary', summary(goalsIn(doc)), 'Goals');
  writeFileSync(DOC, doc);
}
