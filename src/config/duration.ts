/**
 * Durations as people write them: `90` (in the unit the key or option is counted in), `60s`,
 * `5m`, `1h`, `250ms`, `7d`, or parts added up (`1h30m`). One parser for every place that takes
 * a duration — config keys marked with a `unit` in the schema, and CLI options such as
 * `trails create --digest-interval 5m` — so they all accept the same spellings.
 *
 * The result is a whole number of the target unit: `1500ms` for a key counted in seconds is
 * refused rather than rounded, so what runs is what was written.
 */

/** Units a duration is written or counted in, with their length in milliseconds. */
export const DURATION_UNITS = {
  /** milliseconds */
  ms: 1,
  /** seconds */
  s: 1000,
  /** minutes */
  m: 60_000,
  /** hours */
  h: 3_600_000,
  /** days */
  d: 86_400_000,
} as const;
export type DurationUnit = keyof typeof DURATION_UNITS;

/** Each unit spelled out, for messages and docs. */
export const DURATION_UNIT_NAMES: Readonly<Record<DurationUnit, string>> = { ms: 'milliseconds', s: 'seconds', m: 'minutes', h: 'hours', d: 'days' };
const WHOLE = /^\d{1,15}$/;
const PARTS = /^(?:\d{1,15}(?:ms|s|m|h|d))+$/;
const PART = /(\d{1,15})(ms|s|m|h|d)/g;

/**
 * `input` as a whole number of `unit`s. A plain number (or a string of digits) is already in
 * `unit`. Throws a RangeError whose message says what is wrong and how to write it.
 *
 * @example
 *   parseDuration('5m', 's')   // 300
 *   parseDuration(90, 's')     // 90
 *   parseDuration('1h30m', 'm') // 90
 */
export function parseDuration(input: string | number, unit: DurationUnit): number {
  if (typeof input === 'number') {
    if (Number.isSafeInteger(input) && input >= 0) return input;
    throw new RangeError(`${String(input)} is not a whole number of ${DURATION_UNIT_NAMES[unit]}`);
  }
  const text = input.trim();
  if (WHOLE.test(text)) return Number(text);
  if (!PARTS.test(text)) throw new RangeError(`'${text.slice(0, 40)}' is not a duration: write whole ${DURATION_UNIT_NAMES[unit]} or e.g. 60s, 5m, 1h, 1h30m`);
  let ms = 0;
  for (const [, n, u] of text.matchAll(PART)) ms += Number(n) * DURATION_UNITS[u as DurationUnit];
  const value = ms / DURATION_UNITS[unit];
  if (!Number.isSafeInteger(value)) throw new RangeError(`'${text}' is not a whole number of ${DURATION_UNIT_NAMES[unit]}`);
  return value;
}
