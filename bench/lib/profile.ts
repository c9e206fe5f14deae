/**
 * Reads a V8 CPU profile (`node --cpu-prof`) and lists the functions that spent the most time
 * themselves (self time), so a benchmark can say where a proxied request's CPU goes.
 *
 * Self time per function = samples whose leaf frame is that function × the sampling interval.
 * Frames are keyed by function, file and line, so the same function reached through different
 * callers is one row. `(idle)`, `(program)` and `(garbage collector)` are kept: GC is cost too.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPO } from './report.js';
import { ms, table } from './stats.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface Frame {
  name: string;
  where: string;
  selfMs: number;
  /** Share of the busy (non-idle) time. */
  share: number;
}

function where(url: string, line: number): string {
  if (!url) return '';
  const path = url.startsWith('file://') ? relative(REPO, new URL(url).pathname) : url;
  return `${path.replace(/^node_modules\//, '')}:${line + 1}`;
}

/** The `n` functions with the most self time in one profile, idle time left out of the shares. */
export function topFrames(file: string, n = 15): { frames: Frame[]; busyMs: number; wallMs: number } {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((x) => [x.id, x]));
  const self = new Map<string, { name: string; where: string; us: number }>();
  p.samples.forEach((id, i) => {
    const node = byId.get(id);
    if (!node) return;
    const { functionName, url, lineNumber } = node.callFrame;
    const key = `${functionName}\0${url}\0${lineNumber}`;
    const row = self.get(key) ?? { name: functionName || '(anonymous)', where: where(url, lineNumber), us: 0 };
    row.us += p.timeDeltas[i] ?? 0;
    self.set(key, row);
  });
  const rows = [...self.values()].filter((r) => r.name !== '(idle)');
  const busyUs = rows.reduce((s, r) => s + r.us, 0);
  rows.sort((a, b) => b.us - a.us);
  return {
    busyMs: busyUs / 1000,
    wallMs: (p.endTime - p.startTime) / 1000,
    frames: rows.slice(0, n).map((r) => ({ name: r.name, where: r.where, selfMs: r.us / 1000, share: r.us / Math.max(1, busyUs) })),
  };
}

/** The newest `.cpuprofile` in `dir`. */
export function newestProfile(dir: string): string | undefined {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort();
  const last = files.pop();
  return last && join(dir, last);
}

/** Node names a profile `CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile`; the main thread is thread 0. */
const PROFILE_NAME = /^CPU\.\d+\.\d+\.(\d+)\.(\d+)\.\d+\.cpuprofile$/;

/**
 * The profiles of one process in `dir`: its main thread's (the newest process's thread 0) and
 * its worker threads'. `node --cpu-prof` writes one file per thread, and a worker thread that
 * ends last would otherwise pass for the process (the store's and ingest's threads do).
 */
export function processProfiles(dir: string): { main: string | undefined; workers: string[] } {
  const named = readdirSync(dir)
    .map((f) => ({ f, m: PROFILE_NAME.exec(f) }))
    .filter((x): x is { f: string; m: RegExpExecArray } => x.m !== null);
  const mains = named.filter((x) => x.m[2] === '0').sort((a, b) => (a.f < b.f ? -1 : 1));
  const main = mains.pop();
  if (!main) return { main: newestProfile(dir), workers: [] };
  const pid = main.m[1];
  return { main: join(dir, main.f), workers: named.filter((x) => x.m[1] === pid && x.m[2] !== '0').map((x) => join(dir, x.f)) };
}

/** A Markdown table of the top frames. */
export function framesTable(frames: Frame[]): string {
  return table(
    ['function', 'where', 'self', 'share of busy time'],
    frames.map((f) => [`\`${f.name}\``, f.where ? `\`${f.where}\`` : '', ms(f.selfMs), `${(f.share * 100).toFixed(1)} %`]),
  );
}

// `node --import tsx bench/lib/profile.ts <file.cpuprofile> [n]` prints the table.
if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, '/'))) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node --import tsx bench/lib/profile.ts <file.cpuprofile> [n]\n');
    process.exit(2);
  }
  const { frames, busyMs } = topFrames(file, Number(process.argv[3] ?? 20));
  process.stdout.write(`busy ${ms(busyMs)}\n\n${framesTable(frames)}\n`);
}
