/**
 * Numbers for benchmark tables: percentiles over latency samples, formatting, markdown tables.
 *
 * Percentiles are nearest-rank on the sorted samples (no interpolation): p99 of 1000 samples is
 * the 990th value, a latency some request really had.
 */

export interface Summary {
  n: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** Nearest-rank percentile of already sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

export function summarize(values: readonly number[]): Summary {
  const s = [...values].sort((a, b) => a - b);
  const sum = s.reduce((a, b) => a + b, 0);
  return {
    n: s.length,
    mean: s.length ? sum / s.length : NaN,
    p50: percentile(s, 50),
    p90: percentile(s, 90),
    p99: percentile(s, 99),
    p999: percentile(s, 99.9),
    max: s.length ? (s[s.length - 1] as number) : NaN,
  };
}

export function median(values: readonly number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}

/** Milliseconds with a precision that suits the magnitude: 0.412 ms, 4.12 ms, 41.2 ms, 412 ms. */
export function ms(v: number): string {
  if (!Number.isFinite(v)) return '–';
  if (v < 1) return `${v.toFixed(3)} ms`;
  if (v < 10) return `${v.toFixed(2)} ms`;
  if (v < 100) return `${v.toFixed(1)} ms`;
  return `${v.toFixed(0)} ms`;
}

/** Signed milliseconds: +1.23 ms. */
export function msDelta(v: number): string {
  if (!Number.isFinite(v)) return '–';
  return `${v >= 0 ? '+' : '−'}${ms(Math.abs(v))}`;
}

export function ratio(v: number): string {
  if (!Number.isFinite(v)) return '–';
  return `${v.toFixed(v < 10 ? 2 : 1)}×`;
}

/** 12,345 */
export function int(v: number): string {
  if (!Number.isFinite(v)) return '–';
  return Math.round(v).toLocaleString('en-US');
}

export function bytes(v: number): string {
  if (!Number.isFinite(v)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let x = v;
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return `${x.toFixed(i === 0 ? 0 : x < 10 ? 2 : 1)} ${units[i] as string}`;
}

export function seconds(v: number): string {
  if (!Number.isFinite(v)) return '–';
  if (v < 120) return `${v.toFixed(1)} s`;
  return `${Math.floor(v / 60)} min ${Math.round(v % 60)} s`;
}

/** A GitHub-flavoured markdown table; cells are escaped for `|`. */
export function table(header: readonly string[], rows: readonly (readonly string[])[], align?: readonly ('l' | 'r')[]): string {
  const esc = (c: string) => c.replace(/\|/g, '\\|');
  const al = header.map((_, i) => (align?.[i] ?? (i === 0 ? 'l' : 'r')) === 'r' ? '---:' : ':---');
  return [
    `| ${header.map(esc).join(' | ')} |`,
    `| ${al.join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}
