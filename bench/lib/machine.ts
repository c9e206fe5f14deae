/**
 * What a benchmark ran on, for the "machine" line of docs/benchmarks.md: CPU, cores, memory,
 * OS, Node, SQLite, and how busy the box already was (a benchmark on a shared 2-core machine
 * says so next to its numbers instead of pretending to be alone).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import Database from 'better-sqlite3';

function osName(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]+)"?/m.exec(readFileSync('/etc/os-release', 'utf8'));
    return m?.[1] ?? 'Linux';
  } catch {
    return 'Linux';
  }
}

/** A tool's version from its output (several print it on stderr, some exit non-zero). */
function tool(cmd: string, args: string[], pattern: RegExp): string | undefined {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return pattern.exec(`${r.stdout ?? ''}${r.stderr ?? ''}`)?.[1];
}

function sqliteVersion(): string {
  const db = new Database(':memory:');
  try {
    return (db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
  } finally {
    db.close();
  }
}

/** One line: "2 × AMD EPYC (KVM), 23.5 GiB RAM, Debian GNU/Linux 12, Linux 6.1, Node v20.20.2, SQLite 3.53.2". */
export function machineLine(): string {
  const c = cpus();
  const model = (c[0]?.model ?? 'unknown CPU').replace(/\s+/g, ' ').trim();
  const ram = (totalmem() / 2 ** 30).toFixed(1);
  return `${c.length} × ${model}, ${ram} GiB RAM, ${osName()}, Linux ${release()}, Node ${process.version}, SQLite ${sqliteVersion()}`;
}

export function toolVersions(): string {
  const parts: string[] = [];
  const wrk = tool('wrk', ['-v'], /wrk (?:debian\/)?([\d.]+)/);
  if (wrk) parts.push(`wrk ${wrk}`);
  const nginx = tool('nginx', ['-v'], /nginx\/([\d.]+)/) ?? tool('/usr/sbin/nginx', ['-v'], /nginx\/([\d.]+)/);
  if (nginx) parts.push(`nginx ${nginx}`);
  const java = tool('java', ['-version'], /version "([^"]+)"/);
  if (java) parts.push(`Java ${java}`);
  return parts.join(', ');
}

/** Load average when the benchmark started: anything well above 0 means other work shared the CPUs. */
export function loadLine(): string {
  const [one, five] = loadavg();
  return `load average at start ${one?.toFixed(2)} (1 min) / ${five?.toFixed(2)} (5 min) on ${cpus().length} cores`;
}
