/**
 * Redaction: secrets never reach a stored or delivered event.
 *
 * Rules are declared once (key-name patterns) and compiled at start-up. `redact` walks request
 * parameters, response elements and additional data and hides, with a constant marker:
 *
 *  - by key: the value of every key named like a secret — in objects, in Flink configuration
 *    lists (`[{key, value}]`) and Kubernetes env lists (`[{name, value}]`), and in argument lists
 *    (`["--password", "x"]`, `["-Dfs.s3a.secret.key=x"]`);
 *  - by shape, in every string whatever its key (defense in depth: a body FlinkTrail could not
 *    parse is recorded as text, SQL and program arguments are text): `key=value`, `key: value`,
 *    `"key": "value"`, `--flag value`, `--flag "quoted value"`, `--flag,value` (Flink's
 *    comma-separated `programArg`), URL userinfo (`s3://id:secret@bucket`, `jdbc:…://u:p@h`),
 *    Oracle's `jdbc:oracle:thin:user/password@`, and `Bearer`/`Basic` credentials. Text that is
 *    form-encoded (`a=1&password=x%20y`) is also scanned decoded, and recorded decoded when that
 *    found a secret the encoded form hid.
 *
 * Over-redaction is accepted: a value hidden by mistake loses detail, a secret kept loses trust.
 */
import type { ActionTrailEvent } from '../event/types.js';

export const REDACTED = '******';

/** Key names that hold secrets, in any case, as a whole word or part of a dotted/dashed key. */
export const DEFAULT_SECRET_KEY_PATTERNS: readonly string[] = [
  'password',
  'passwd',
  'passphrase',
  'pwd',
  // `--pass`, `db-pass`, `pass` — but not passive, bypass, compass.
  '(^|[^a-z])pass($|[^a-z])',
  'secret',
  'token',
  'credential',
  'credentials',
  'access[-_.]?key',
  'account[-_.]?key',
  'secret[-_.]?key',
  'private[-_.]?key',
  'api[-_.]?key',
  'authorization',
  'bearer',
  'cookie',
  'jaas',
  'ssl\\.(key|keystore|truststore)[-_.]?password',
];

export interface Redactor {
  isSecretKey(key: string): boolean;
  /** A redacted deep copy of `value`. */
  redact<T>(value: T): T;
  /** Redacts `k=v`, `--k v` and `-Dk=v` forms inside a list of program arguments. */
  redactArgs(args: readonly string[]): string[];
  /** Redacts secrets found by shape in free text (see the module comment). */
  redactText(text: string): string;
}

/** A key that may hold a secret, where it may start: after `--`, `-D`, a quote, or a word boundary. */
const KEY_CANDIDATE = /(?<![A-Za-z0-9_.-])(--?|-D)?(["']?)([A-Za-z_][A-Za-z0-9_.-]*)\2(\s*[=:]\s*|\s+|,)/g;
/** scheme://user:password@ — the password part, to the last @ of the word (a password may hold / or @). */
const URL_USERINFO = /([A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s/?#@:'"]*:)([^\s'"]*)@/g;
/** jdbc:oracle:thin:user/password@host */
const ORACLE_JDBC = /(jdbc:oracle:[A-Za-z0-9]+:[^\s/@'"]+\/)([^\s@'"]+)@/gi;
/** Authorization scheme credentials written out in text. */
const AUTH_SCHEME = /\b(Bearer|Basic)(\s+)(?=[A-Za-z0-9._~+/-]*[0-9._~+/-])[A-Za-z0-9._~+/-]{8,}=*/gi;
/** `a=1&b=2` with nothing else: a form body or query string, possibly percent-encoded. */
const FORM_ENCODED = /^[^\s=&]+=[^\s&]*(?:&[^\s=&]+=[^\s&]*)*$/;
/** Where an unquoted value after `=` or `:` ends. */
const VALUE_END = /[\s&;,)\]}"'<>]/;
/**
 * Every shape above needs one of these: a key's `=`/`:`, a flag's space or comma, a scheme's
 * `:` (URL userinfo, JDBC) or the space after `Bearer`/`Basic`, and a form body's `=`. Text
 * without any (a path, a method, an id, most keys) has nothing to hide and is not scanned.
 */
const SHAPE_CHARS = /[=:,\s]/;
/** Texts up to this length are remembered with their redacted form (keys, names and agents repeat on every event). */
const MEMO_MAX_LENGTH = 256;
/** Remembered texts at most; past it the memory starts again (a flood of distinct texts costs scans, not memory). */
const MEMO_ENTRIES = 4096;

/** `f` remembered for short inputs, in a bounded map: for pure functions of a string only. */
function memoized<T>(f: (text: string) => T): (text: string) => T {
  const memo = new Map<string, T>();
  return (text) => {
    if (text.length > MEMO_MAX_LENGTH) return f(text);
    const hit = memo.get(text);
    if (hit !== undefined) return hit;
    const out = f(text);
    if (memo.size >= MEMO_ENTRIES) memo.clear();
    memo.set(text, out);
    return out;
  };
}

export function compileRedactor(patterns: readonly string[] = DEFAULT_SECRET_KEY_PATTERNS): Redactor {
  for (const p of patterns) new RegExp(p); // invalid rules fail at start-up, not per request
  const keyRe = new RegExp(`(${patterns.join('|')})`, 'i');
  // Pure functions of their text, called for every key and field of every event: remembered.
  const isSecretKey = memoized((key: string) => keyRe.test(key));
  const isFlag = (arg: string) => /^--?[A-Za-z][A-Za-z0-9_.-]*$/.test(arg);

  /** The end (exclusive) of the value that starts at `i`, or -1 when there is none to hide. */
  const valueEnd = (text: string, i: number, flagForm: boolean): number => {
    const c = text[i];
    if (c === undefined) return -1;
    if (c === '{' || c === '[') return -1; // a nested structure: its own keys are scanned next
    if (text.startsWith('--', i)) return -1; // a flag without a value: the next flag is not a secret
    if (c === '"' || c === "'") {
      // Quoted; SQL doubles its quote, JSON and shells escape it.
      for (let j = i + 1; j < text.length; j++) {
        if (text[j] === '\\') j++;
        else if (text[j] === c) {
          if (text[j + 1] === c) j++;
          else return j + 1;
        }
      }
      return text.length;
    }
    if (c === '\\' && (text[i + 1] === '"' || text[i + 1] === "'")) {
      // A quoted value inside JSON text: \"a b\"
      const close = text.indexOf(`\\${text[i + 1]}`, i + 2);
      return close < 0 ? text.length : close + 2;
    }
    let j = i;
    while (j < text.length && !(flagForm ? /[\s,]/ : VALUE_END).test(text[j] as string)) j++;
    return j > i ? j : -1;
  };

  const hide = (quoted: string) => {
    const q = quoted[0];
    if ((q === '"' || q === "'") && quoted.endsWith(q) && quoted.length > 1) return `${q}${REDACTED}${q}`;
    if (q === '\\') return `${quoted.slice(0, 2)}${REDACTED}${quoted.slice(0, 2)}`;
    return REDACTED;
  };

  const scanKeys = (text: string): string => {
    let out = '';
    let from = 0;
    KEY_CANDIDATE.lastIndex = 0;
    for (let m = KEY_CANDIDATE.exec(text); m; m = KEY_CANDIDATE.exec(text)) {
      const [whole, dash, , key, sep] = m as unknown as [string, string | undefined, string, string, string];
      const flagForm = dash !== undefined && dash !== '-D' && !/[=:]/.test(sep);
      // A bare key followed by a space or comma is a word in a sentence, not an assignment.
      if ((!flagForm && !/[=:]/.test(sep)) || !isSecretKey(key)) {
        KEY_CANDIDATE.lastIndex = m.index + Math.max(1, whole.length - sep.length);
        continue;
      }
      const start = m.index + whole.length;
      const end = valueEnd(text, start, flagForm);
      if (end < 0) {
        KEY_CANDIDATE.lastIndex = start;
        continue;
      }
      out += text.slice(from, start) + hide(text.slice(start, end));
      from = end;
      KEY_CANDIDATE.lastIndex = end;
    }
    return out + text.slice(from);
  };

  const scan = (text: string): string =>
    scanKeys(
      text
        .replace(AUTH_SCHEME, `$1$2${REDACTED}`)
        .replace(URL_USERINFO, `$1${REDACTED}@`)
        .replace(ORACLE_JDBC, `$1${REDACTED}@`),
    );

  const redactTextOnce = (text: string): string => {
    if (!SHAPE_CHARS.test(text)) return text;
    const scanned = scan(text);
    if (!FORM_ENCODED.test(text) || !/[%+]/.test(text)) return scanned;
    let decoded: string;
    try {
      decoded = decodeURIComponent(text.replace(/\+/g, ' '));
    } catch {
      return scanned;
    }
    const redacted = scan(decoded);
    return redacted === decoded ? scanned : redacted;
  };
  const redactText = memoized(redactTextOnce);

  const redactArgs = (args: readonly string[]): string[] => {
    const out: string[] = [];
    let hideNext = false;
    for (const arg of args) {
      if (hideNext && !arg.startsWith('--')) {
        out.push(REDACTED);
        hideNext = false;
        continue;
      }
      hideNext = isFlag(arg) && isSecretKey(arg);
      out.push(hideNext ? arg : redactText(arg));
    }
    return out;
  };

  const walk = (value: unknown, depth: number): unknown => {
    if (depth > 32) return '[too deep]';
    if (typeof value === 'string') return redactText(value);
    if (Array.isArray(value)) {
      if (value.every((v) => typeof v === 'string')) return redactArgs(value);
      return value.map((v) => walk(v, depth + 1));
    }
    if (typeof value !== 'object' || value === null) return value;
    const obj = value as Record<string, unknown>;
    // Flink's configuration lists {key: "s3.secret-key", value} and Kubernetes env {name: "DB_PASSWORD", value}.
    const named = typeof obj['key'] === 'string' ? obj['key'] : typeof obj['name'] === 'string' ? obj['name'] : undefined;
    const hideValue = named !== undefined && 'value' in obj && isSecretKey(named);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) {
      const secret = (hideValue && k === 'value') || isSecretKey(k);
      out[redactText(k)] = secret && v !== null && v !== '' ? REDACTED : walk(v, depth + 1);
    }
    return out;
  };

  return {
    isSecretKey,
    redactArgs,
    redactText,
    redact: <T>(value: T) => walk(value, 0) as T,
  };
}

/**
 * The event with every field a caller or Flink can put text into redacted: a User-Agent can
 * carry `token=…`, and an error message can echo the request that failed.
 */
export function redactEvent(redactor: Redactor, e: ActionTrailEvent): ActionTrailEvent {
  return {
    ...e,
    userAgent: redactor.redactText(e.userAgent),
    ...(e.userIdentity.sessionContext ? { userIdentity: { ...e.userIdentity, sessionContext: redactor.redact(e.userIdentity.sessionContext) } } : {}),
    requestParameters: redactor.redact(e.requestParameters),
    responseElements: redactor.redact(e.responseElements),
    // Resource types are FlinkTrail's own names, not a caller's keys: `ACS::Actiontrail::AccessKey`
    // reads like a secret's key but lists AccessKey ids. Only the names are scanned, by shape, and
    // each type keeps its list (a console or trail reader expects arrays).
    referencedResources: Object.fromEntries(Object.entries(e.referencedResources).map(([type, names]) => [type, names.map((n) => redactor.redactText(n))])),
    additionalEventData: redactor.redact(e.additionalEventData),
    ...(e.errorMessage !== undefined ? { errorMessage: redactor.redactText(e.errorMessage) } : {}),
  };
}
