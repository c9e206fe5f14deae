/**
 * Option builders shared by the `flinktrail` subcommands, so the same kind of value is read the
 * same way everywhere.
 */
import { InvalidArgumentError, Option } from 'commander';
import { DURATION_UNIT_NAMES, parseDuration, type DurationUnit } from '../config/duration.js';

/**
 * An option that takes a duration — whole `unit`s or `60s`, `5m`, `1h` (src/config/duration.ts,
 * the parser config keys use too) — and hands the action a number of `unit`s.
 *
 * @example
 *   cmd.addOption(durationOption('--digest-interval <duration>', 'between signed digest files', 's'))
 */
export function durationOption(flags: string, description: string, unit: DurationUnit): Option {
  return new Option(flags, `${description} (whole ${DURATION_UNIT_NAMES[unit]}, or e.g. 60s, 5m, 1h)`).argParser((v: string) => {
    try {
      return parseDuration(v, unit);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  });
}
