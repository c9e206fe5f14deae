/**
 * The one rule for every identifier that becomes part of a path, an object key, a topic or a
 * file name: regions (`acsRegion`, the OSS layout's `<region>` directory and file name), account
 * ids, cluster names (`/flink/<cluster>/`, Kubernetes object keys).
 *
 * Checked where a value enters — config (the schema uses these patterns), the ingest API, the
 * Kubernetes audit webhook — so that nothing downstream ever meets a `..`, a `/`, an upper-case
 * letter or an `_` that would break a key or make validate-logs miss a file. The trail
 * delivery engine checks again before it builds a key (events stored before the rule existed),
 * and sets aside what fails instead of retrying it forever. A leaf module: imports nothing.
 */

/**
 * The kinds of identifier, each with its pattern (as a string, for JSON schemas) and a phrase
 * for error messages.
 * - `region`: `cn-hangzhou`, `us-east-1`, `local` — lowercase letter first, then lowercase
 *   letters, digits and `-`, 2-41 characters (ActionTrail's region ids). No `_`: it separates
 *   the parts of a log file name.
 * - `accountId`: 1-20 digits, as ActionTrail's account ids.
 * - `cluster`: lowercase letter or digit first, then lowercase letters, digits, `_` and `-`,
 *   at most 63 characters (a DNS label plus `_`).
 */
export const NAME_RULES = {
  region: { pattern: '^[a-z][a-z0-9-]{1,40}$', what: 'a lowercase letter, then 1-40 lowercase letters, digits or -' },
  accountId: { pattern: '^[0-9]{1,20}$', what: '1-20 digits' },
  cluster: { pattern: '^[a-z0-9][a-z0-9_-]{0,62}$', what: 'a lowercase letter or digit, then up to 62 lowercase letters, digits, _ or -' },
} as const;
export type NameKind = keyof typeof NAME_RULES;

const COMPILED: Record<NameKind, RegExp> = {
  region: new RegExp(NAME_RULES.region.pattern),
  accountId: new RegExp(NAME_RULES.accountId.pattern),
  cluster: new RegExp(NAME_RULES.cluster.pattern),
};

/** The pattern without its anchors, to embed in a larger one (e.g. a file name). */
export function namePatternBody(kind: NameKind): string {
  return NAME_RULES[kind].pattern.slice(1, -1);
}

/** Whether `value` is a valid identifier of this kind. */
export function isValidName(kind: NameKind, value: unknown): value is string {
  return typeof value === 'string' && COMPILED[kind].test(value);
}

/** Why `value` is not a valid identifier of this kind (for error messages), or undefined if it is. */
export function nameProblem(kind: NameKind, value: unknown): string | undefined {
  if (isValidName(kind, value)) return undefined;
  const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 64)) : typeof value;
  return `${shown} is not a valid ${kind === 'accountId' ? 'account id' : kind}: expected ${NAME_RULES[kind].what}`;
}
