/**
 * Redaction: secrets never reach a stored or delivered event.
 *
 * Rules are declared once (key-name patterns) and compiled at start-up into one regular
 * expression. `redact` walks request parameters and response elements and replaces the value
 * of every matching key — in objects, in Flink configuration lists (`[{key, value}]`) and in
 * `key=value` / `--key value` program arguments — with a constant marker.
 */

export const REDACTED = '******';

/** Key names that hold secrets, in any case, as a whole word or part of a dotted/dashed key. */
export const DEFAULT_SECRET_KEY_PATTERNS: readonly string[] = [
  'password',
  'passwd',
  'pwd',
  'secret',
  'token',
  'credential',
  'credentials',
  'access[-_.]?key',
  'secret[-_.]?key',
  'private[-_.]?key',
  'api[-_.]?key',
  'authorization',
  'cookie',
  'sasl\\.jaas\\.config',
  'ssl\\.(key|keystore|truststore)[-_.]?password',
];

export interface Redactor {
  isSecretKey(key: string): boolean;
  /** A redacted deep copy of `value`. */
  redact<T>(value: T): T;
  /** Redacts `k=v`, `--k v` and `-Dk=v` forms inside a list of program arguments. */
  redactArgs(args: readonly string[]): string[];
}

export function compileRedactor(patterns: readonly string[] = DEFAULT_SECRET_KEY_PATTERNS): Redactor {
  for (const p of patterns) new RegExp(p); // invalid rules fail at start-up, not per request
  const keyRe = new RegExp(`(${patterns.join('|')})`, 'i');
  const isSecretKey = (key: string) => keyRe.test(key);

  const redactArgs = (args: readonly string[]): string[] => {
    const out: string[] = [];
    let hideNext = false;
    for (const arg of args) {
      if (hideNext) {
        out.push(REDACTED);
        hideNext = false;
        continue;
      }
      const eq = arg.indexOf('=');
      if (eq > 0 && isSecretKey(arg.slice(0, eq))) {
        // Keep the value's quotes and trailing punctuation: 'password'='x', → 'password'='******',
        const m = /^(['"]?)[\s\S]*?\1([,;)]*)$/.exec(arg.slice(eq + 1));
        out.push(`${arg.slice(0, eq + 1)}${m?.[1] ?? ''}${REDACTED}${m?.[1] ?? ''}${m?.[2] ?? ''}`);
      } else if (/^--?[A-Za-z]/.test(arg) && eq < 0 && isSecretKey(arg)) {
        out.push(arg);
        hideNext = true;
      } else {
        out.push(arg);
      }
    }
    return out;
  };

  const walk = (value: unknown, depth: number): unknown => {
    if (depth > 32) return '[too deep]';
    if (Array.isArray(value)) {
      if (value.every((v) => typeof v === 'string')) return redactArgs(value);
      return value.map((v) => walk(v, depth + 1));
    }
    if (typeof value === 'string') {
      // A whole argument line, e.g. programArgs "--password x --in y".
      if (/(^|\s)-/.test(value) || value.includes('=')) {
        const parts = value.split(/(\s+)/);
        const words = parts.filter((_, i) => i % 2 === 0);
        const redacted = redactArgs(words);
        if (redacted.some((w, i) => w !== words[i])) {
          return parts.map((p, i) => (i % 2 === 0 ? redacted[i / 2] : p)).join('');
        }
      }
      return value;
    }
    if (typeof value !== 'object' || value === null) return value;
    const obj = value as Record<string, unknown>;
    // Flink's configuration lists: {key: "s3.secret-key", value: "..."}
    if (typeof obj['key'] === 'string' && 'value' in obj && isSecretKey(obj['key'])) {
      return { ...obj, value: REDACTED };
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) {
      out[k] = isSecretKey(k) && v !== null && v !== '' ? REDACTED : walk(v, depth + 1);
    }
    return out;
  };

  return {
    isSecretKey,
    redactArgs,
    redact: <T>(value: T) => walk(value, 0) as T,
  };
}
