/** The shape every benchmark in bench/ has, so the runner can run one or all of them. */
import type { Section } from './lib/report.js';

export interface BenchOptions {
  /** `--key value` options given after the benchmark names. */
  opts: ReadonlyMap<string, string>;
  /** `--quick`: shorter phases, for trying a change (numbers are noisier; still written). */
  quick: boolean;
}

export interface Bench {
  name: string;
  title: string;
  /** One line for `npm run bench -- --help`. */
  summary: string;
  run(o: BenchOptions): Promise<Section>;
}

/** `1M` → 1_000_000, `300k` → 300_000. */
export function count(v: string): number {
  const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(v.trim());
  if (!m) throw new Error(`not a count: ${v}`);
  const mult = m[2]?.toLowerCase() === 'm' ? 1e6 : m[2]?.toLowerCase() === 'k' ? 1e3 : 1;
  return Math.round(Number(m[1]) * mult);
}

/** 1000000 → "1M" */
export function countLabel(n: number): string {
  if (n >= 1e6 && n % 1e5 === 0) return `${n / 1e6}M`;
  if (n >= 1e3 && n % 100 === 0) return `${n / 1e3}k`;
  return String(n);
}
