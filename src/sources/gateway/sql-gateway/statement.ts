/**
 * Flink SQL statements as the audit record needs them: what kind of statement it is, what it
 * touches, and its text with every secret replaced.
 *
 * Not a SQL parser: a lexer that knows Flink SQL's literals ('…' with '' escapes), quoted
 * identifiers (`…`), comments (--, /* … *\/, and hints /*+ … *\/), and a few keyword patterns.
 * That is enough to be exact where it matters for an audit trail — a secret in a `WITH (…)`
 * option list, a `SET 'k' = 'v'`, a table hint, a URL with `user:password@`, a JDBC URL's
 * `password=` — and it never throws: an unterminated literal or comment runs to the end of the
 * text (and is still redacted), and anything unrecognised is kind `unknown` (sensitive).
 *
 * Redaction keeps the text byte for byte except for the secret values, so the record shows
 * what was run. Keys are judged by the same rules as every other secret (pipeline/redact.ts).
 */
import { compileRedactor, REDACTED } from '../../../pipeline/redact.js';

/**
 * What a statement does (`additionalEventData.statementKind`).
 * - `query`: SELECT / WITH … SELECT / VALUES (runs a job, returns rows; changes nothing).
 * - `insert`: INSERT INTO/OVERWRITE, EXECUTE INSERT, (EXECUTE|BEGIN) STATEMENT SET, EXECUTE PLAN — submits a job that writes.
 * - `create-table-as`: CREATE/REPLACE TABLE … AS SELECT — creates a table and submits a job.
 * - `create-catalog`: CREATE CATALOG — often carries credentials for an external system.
 * - `create` / `drop` / `alter`: other DDL (table, view, database, function, model, materialized table, connection).
 * - `set` / `reset`: session configuration.
 * - `add-jar` / `remove-jar`: code added to or removed from the session's class path.
 * - `module`: LOAD / UNLOAD MODULE (adds or removes functions).
 * - `use`: USE CATALOG / USE [catalog.]database / USE MODULES.
 * - `show` / `describe` / `explain`: metadata reads.
 * - `stop-job`: STOP JOB '<id>' [WITH SAVEPOINT] — stops a running job.
 * - `truncate` / `delete` / `update`: row-level changes (batch mode).
 * - `analyze`: ANALYZE TABLE (runs a job, writes statistics).
 * - `call`: CALL a stored procedure.
 * - `compile-plan`: COMPILE PLAN (writes a plan file).
 * - `unknown`: not recognised — flagged sensitive, since nobody vetted it.
 * - `empty`: only whitespace and comments.
 */
export const STATEMENT_KINDS = [
  'query',
  'insert',
  'create-table-as',
  'create-catalog',
  'create',
  'drop',
  'alter',
  'set',
  'reset',
  'add-jar',
  'remove-jar',
  'module',
  'use',
  'show',
  'describe',
  'explain',
  'stop-job',
  'truncate',
  'delete',
  'update',
  'analyze',
  'call',
  'compile-plan',
  'unknown',
  'empty',
] as const;
export type StatementKind = (typeof STATEMENT_KINDS)[number];

/** Kinds that change nothing: not sensitive. Every other kind is. */
const HARMLESS: ReadonlySet<StatementKind> = new Set(['query', 'show', 'describe', 'explain', 'use', 'empty']);

/** Kinds that submit a Flink job that writes somewhere. */
const SUBMITS_JOB: ReadonlySet<StatementKind> = new Set(['insert', 'create-table-as', 'analyze']);

/** Object types of DDL, as resource types (`ACS::RealtimeCompute::<type>`). */
const OBJECT_TYPES: Readonly<Record<string, string>> = {
  TABLE: 'Table',
  VIEW: 'View',
  CATALOG: 'Catalog',
  DATABASE: 'Database',
  SCHEMA: 'Database',
  FUNCTION: 'Function',
  MODEL: 'Model',
  CONNECTION: 'Connection',
  'MATERIALIZED TABLE': 'MaterializedTable',
};

export interface StatementInfo {
  kind: StatementKind;
  sensitive: boolean;
  /** Whether the statement submits a job that writes (INSERT, CTAS, ANALYZE). */
  submitsJob: boolean;
  /** DDL / INSERT target type (`Table`, `Catalog`, ...), if any. */
  objectType?: string;
  /** Its identifier as written, quotes removed (`cat.db.orders`). */
  objectName?: string;
  /** STOP JOB's job id. */
  jobId?: string;
  /** ADD JAR / REMOVE JAR path, with URL credentials removed. */
  jarPath?: string;
}

export interface RedactedText {
  text: string;
  /** How many values were replaced. */
  redacted: number;
}

// ---------------------------------------------------------------------------------------------
// Lexer

type TokenType = 'ws' | 'comment' | 'string' | 'quoted' | 'word' | 'number' | 'punct';

interface Token {
  type: TokenType;
  start: number;
  end: number;
  /** Unquoted text of strings and quoted identifiers; upper-cased words; the character of punct. */
  value: string;
  /** Words as written (object names keep their case). */
  raw?: string;
  /** For comments: where the inner text starts and ends (hints and bodies are redacted too). */
  innerStart?: number;
  innerEnd?: number;
  /** A literal or comment that reached the end of the text without closing. */
  open?: boolean;
}

const WORD_START = /[\p{L}_$]/u;
const WORD_PART = /[\p{L}\p{N}_$]/u;

/** Splits `text` into tokens. Never throws; unterminated literals and comments run to the end. */
export function tokenize(text: string): Token[] {
  const out: Token[] = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text[i] as string;
    const start = i;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f') {
      while (i < n && /\s/.test(text[i] as string)) i++;
      out.push({ type: 'ws', start, end: i, value: ' ' });
    } else if (c === '-' && text[i + 1] === '-') {
      const nl = text.indexOf('\n', i);
      i = nl < 0 ? n : nl;
      out.push({ type: 'comment', start, end: i, value: '', innerStart: start + 2, innerEnd: i });
    } else if (c === '/' && text[i + 1] === '*') {
      const close = text.indexOf('*/', i + 2);
      const open = close < 0;
      i = open ? n : close + 2;
      out.push({ type: 'comment', start, end: i, value: '', innerStart: start + 2, innerEnd: open ? n : close, ...(open ? { open } : {}) });
    } else if (c === "'" || c === '`' || c === '"') {
      // '' (or `` / "") inside is an escaped quote.
      let value = '';
      let open = true;
      i++;
      while (i < n) {
        const d = text[i] as string;
        if (d === c) {
          if (text[i + 1] === c) {
            value += c;
            i += 2;
            continue;
          }
          i++;
          open = false;
          break;
        }
        value += d;
        i++;
      }
      out.push({ type: c === "'" ? 'string' : 'quoted', start, end: i, value, ...(open ? { open } : {}) });
    } else if (WORD_START.test(c)) {
      while (i < n && WORD_PART.test(text[i] as string)) i++;
      const raw = text.slice(start, i);
      out.push({ type: 'word', start, end: i, value: raw.toUpperCase(), raw });
    } else if (c >= '0' && c <= '9') {
      while (i < n && /[0-9.eE]/.test(text[i] as string)) i++;
      out.push({ type: 'number', start, end: i, value: text.slice(start, i) });
    } else {
      i++;
      out.push({ type: 'punct', start, end: i, value: c });
    }
  }
  return out;
}

/** Tokens that carry meaning (no whitespace or comments). */
function significant(tokens: readonly Token[]): Token[] {
  return tokens.filter((t) => t.type !== 'ws' && t.type !== 'comment');
}

// ---------------------------------------------------------------------------------------------
// Redaction

const redactor = compileRedactor();

/** `scheme://user:password@host` → `scheme://user:******@host`. */
const URL_USERINFO = /(\b[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/\s:@'"`]*):([^/\s@'"`]+)@/g;
/** `…?password=x&…`, `…;password=x`, `password=x` inside a value (JDBC URLs, JAAS configs). */
const KEY_VALUE = /(^|[?&;,\s(])([A-Za-z0-9_.-]+)(\s*=\s*)("[^"]*"|'[^']*'|[^&;,\s)]*)/g;

/** Secrets inside a literal's text: URL credentials and `key=value` pairs with secret keys. */
export function redactInValue(value: string): RedactedText {
  let redacted = 0;
  let text = value.replace(URL_USERINFO, (_, head: string) => {
    redacted++;
    return `${head}:${REDACTED}@`;
  });
  text = text.replace(KEY_VALUE, (whole, lead: string, key: string, eq: string, v: string) => {
    if (!redactor.isSecretKey(key) || v === '' || v === REDACTED) return whole;
    redacted++;
    const quote = v.startsWith('"') ? '"' : v.startsWith("'") ? "'" : '';
    return `${lead}${key}${eq}${quote}${REDACTED}${quote}`;
  });
  return { text, redacted };
}

function quoteLike(token: Token, text: string): string {
  const q = text[token.start] as string;
  return token.open ? `${q}${REDACTED}` : `${q}${REDACTED}${q}`;
}

/** Key text of the tokens in [from, to): `'k'`, `` `k` ``, `k`, or dotted/dashed `a.b-c`. */
function keyText(sig: readonly Token[], from: number, to: number, text: string): string {
  if (to - from === 1) {
    const t = sig[from] as Token;
    if (t.type === 'string' || t.type === 'quoted') return t.value;
  }
  return text.slice((sig[from] as Token).start, (sig[to - 1] as Token).end);
}

/**
 * The statement with every secret value replaced by `******`:
 * - `'key' = 'value'` pairs anywhere (WITH options, ALTER … SET (…), table hints in comments,
 *   `SET 'k' = 'v'`) whose key is a secret key;
 * - `SET k = v` without quotes (everything after `=`);
 * - URL credentials and secret `key=value` pairs inside any other string literal;
 * - the same inside comments (a commented-out option line is still a secret).
 */
export function redactStatement(text: string): RedactedText {
  const tokens = tokenize(text);
  const sig = significant(tokens);
  /** start offset → replacement, for tokens to replace. */
  const replace = new Map<number, { end: number; with: string }>();
  let redacted = 0;

  // `SET key = value` in any quoting: the value is everything up to the end (or `;`).
  const first = sig[0];
  if (first?.type === 'word' && first.value === 'SET') {
    const eq = sig.findIndex((t, i) => i > 0 && t.type === 'punct' && t.value === '=');
    if (eq > 1 && redactor.isSecretKey(keyText(sig, 1, eq, text))) {
      let last = sig.length - 1;
      while (last > eq && sig[last]?.type === 'punct' && sig[last]?.value === ';') last--;
      if (last > eq) {
        const from = sig[eq + 1] as Token;
        const to = sig[last] as Token;
        const single = from === to && (from.type === 'string' || from.type === 'quoted');
        const key = sig[1] as Token;
        replace.set(key.start, { end: to.end, with: `${text.slice(key.start, (sig[eq - 1] as Token).end)} = ${single ? quoteLike(from, text) : REDACTED}` });
        redacted++;
      }
    }
  }

  // `'key' = 'value'` pairs (and `key = 'value'`, `` `key` = value``).
  for (let i = 0; i + 2 < sig.length; i++) {
    const key = sig[i] as Token;
    const eq = sig[i + 1] as Token;
    const value = sig[i + 2] as Token;
    if (eq.type !== 'punct' || eq.value !== '=') continue;
    if (key.type !== 'string' && key.type !== 'quoted' && key.type !== 'word') continue;
    if (value.type !== 'string' && value.type !== 'quoted' && value.type !== 'word' && value.type !== 'number') continue;
    if (isInside(replace, value)) continue;
    if (!redactor.isSecretKey(key.type === 'word' ? text.slice(key.start, key.end) : key.value)) continue;
    const hidden = value.type === 'string' || value.type === 'quoted' ? quoteLike(value, text) : REDACTED;
    // Spaces around `=`, so that the recorder's generic `k=v` pass sees nothing left to hide (it
    // would cut the closing quote and the punctuation glued to it).
    replace.set(key.start, { end: value.end, with: `${text.slice(key.start, key.end)} = ${hidden}` });
    redacted++;
  }

  // Everything else that may hide a secret: other literals and comments.
  for (const t of tokens) {
    if (replace.has(t.start) || isInside(replace, t)) continue;
    if (t.type === 'string') {
      const r = redactInValue(t.value);
      if (r.redacted > 0) {
        replace.set(t.start, { end: t.end, with: `'${r.text.replace(/'/g, "''")}${t.open ? '' : "'"}` });
        redacted += r.redacted;
      }
    } else if (t.type === 'comment' && t.innerStart !== undefined && t.innerEnd !== undefined) {
      const inner = text.slice(t.innerStart, t.innerEnd);
      const r = redactStatementBody(inner);
      if (r.redacted > 0) {
        replace.set(t.start, { end: t.end, with: text.slice(t.start, t.innerStart) + r.text + text.slice(t.innerEnd, t.end) });
        redacted += r.redacted;
      }
    }
  }

  if (redacted === 0) return { text, redacted: 0 };
  let out = '';
  let pos = 0;
  for (const start of [...replace.keys()].sort((a, b) => a - b)) {
    const r = replace.get(start) as { end: number; with: string };
    if (start < pos) {
      // Overlaps the previous replacement (`'k'='v'='w'`): hide the rest as well.
      if (r.end > pos) {
        out += REDACTED;
        pos = r.end;
      }
      continue;
    }
    out += text.slice(pos, start) + r.with;
    pos = r.end;
  }
  return { text: out + text.slice(pos), redacted };
}

function isInside(replace: ReadonlyMap<number, { end: number }>, t: Token): boolean {
  for (const [start, r] of replace) if (t.start >= start && t.end <= r.end) return true;
  return false;
}

/** Comment bodies (hints) are statements' fragments: the same rules, and `k=v` text. */
function redactStatementBody(inner: string): RedactedText {
  const a = redactStatement(inner);
  const b = redactInValue(a.text);
  return { text: b.text, redacted: a.redacted + b.redacted };
}

// ---------------------------------------------------------------------------------------------
// Classification

function words(sig: readonly Token[], from: number, count: number): string[] {
  const out: string[] = [];
  for (let i = from; i < sig.length && out.length < count; i++) {
    const t = sig[i] as Token;
    if (t.type !== 'word') break;
    out.push(t.value);
  }
  return out;
}

/** An identifier `a`, `` `a` ``, `a.b.c` starting at `i`; returns the name and the next index. */
function identifier(sig: readonly Token[], i: number): { name: string; next: number } | undefined {
  const parts: string[] = [];
  let j = i;
  for (;;) {
    const t = sig[j];
    if (!t || (t.type !== 'word' && t.type !== 'quoted')) break;
    parts.push(t.type === 'quoted' ? t.value : (t.raw ?? t.value));
    j++;
    const dot = sig[j];
    if (dot?.type === 'punct' && dot.value === '.') j++;
    else break;
  }
  return parts.length ? { name: parts.join('.').slice(0, 512), next: j } : undefined;
}

/** Whether a top-level (parenthesis depth 0) `AS` is followed by a query: CTAS. */
function hasTopLevelAsQuery(sig: readonly Token[], from: number): boolean {
  let depth = 0;
  for (let i = from; i < sig.length; i++) {
    const t = sig[i] as Token;
    if (t.type === 'punct') {
      if (t.value === '(') depth++;
      else if (t.value === ')') depth--;
      continue;
    }
    if (depth === 0 && t.type === 'word' && t.value === 'AS') {
      let k = i + 1;
      while (sig[k]?.type === 'punct' && sig[k]?.value === '(') k++;
      const next = sig[k];
      if (next?.type === 'word' && ['SELECT', 'WITH', 'VALUES', 'TABLE'].includes(next.value)) return true;
    }
  }
  return false;
}

function hasTopLevelWord(sig: readonly Token[], from: number, word: string): boolean {
  let depth = 0;
  for (let i = from; i < sig.length; i++) {
    const t = sig[i] as Token;
    if (t.type === 'punct') {
      if (t.value === '(') depth++;
      else if (t.value === ')') depth--;
    } else if (depth === 0 && t.type === 'word' && t.value === word) return true;
  }
  return false;
}

function info(kind: StatementKind, extra: Omit<StatementInfo, 'kind' | 'sensitive' | 'submitsJob'> = {}): StatementInfo {
  return { kind, sensitive: !HARMLESS.has(kind), submitsJob: SUBMITS_JOB.has(kind), ...extra };
}

/** DDL: `CREATE [OR REPLACE] [TEMPORARY [SYSTEM]] <type> [IF [NOT] EXISTS] <name>`. */
function ddl(sig: readonly Token[], verb: 'create' | 'drop' | 'alter'): StatementInfo {
  let i = 1;
  const skip = new Set(['OR', 'REPLACE', 'TEMPORARY', 'SYSTEM']);
  while (sig[i]?.type === 'word' && skip.has((sig[i] as Token).value)) i++;
  let typeWord = sig[i]?.type === 'word' ? (sig[i] as Token).value : '';
  if (typeWord === 'MATERIALIZED' && sig[i + 1]?.value === 'TABLE') {
    typeWord = 'MATERIALIZED TABLE';
    i++;
  }
  const objectType = OBJECT_TYPES[typeWord];
  if (!objectType) return info(verb);
  i++;
  while (sig[i]?.type === 'word' && ['IF', 'NOT', 'EXISTS'].includes((sig[i] as Token).value)) i++;
  const id = identifier(sig, i);
  const extra = { objectType, ...(id ? { objectName: id.name } : {}) };
  if (verb === 'create' && objectType === 'Catalog') return info('create-catalog', extra);
  if (verb === 'create' && objectType === 'Table' && hasTopLevelAsQuery(sig, i)) return info('create-table-as', extra);
  return info(verb, extra);
}

function insertTarget(sig: readonly Token[], from: number): Pick<StatementInfo, 'objectType' | 'objectName'> {
  let i = from;
  while (sig[i]?.type === 'word' && ['INSERT', 'INTO', 'OVERWRITE', 'TABLE', 'EXECUTE'].includes((sig[i] as Token).value)) i++;
  const id = identifier(sig, i);
  return id ? { objectType: 'Table', objectName: id.name } : {};
}

/** What one statement is. Never throws. */
export function classifyStatement(text: string): StatementInfo {
  const sig = significant(tokenize(text)).filter((t, i, all) => !(t.type === 'punct' && t.value === ';' && i === all.length - 1));
  let start = 0;
  while (sig[start]?.type === 'punct' && sig[start]?.value === '(') start++;
  const body = sig.slice(start);
  if (body.length === 0) return info(sig.length ? 'unknown' : 'empty');
  const head = body[0] as Token;
  if (head.type !== 'word') return info('unknown');
  const [w0 = '', w1 = '', w2 = ''] = words(body, 0, 3);
  switch (w0) {
    case 'SELECT':
    case 'VALUES':
    case 'TABLE':
      return info('query');
    case 'WITH':
      return hasTopLevelWord(body, 1, 'INSERT') ? info('insert', insertTarget(body, body.findIndex((t) => t.value === 'INSERT'))) : info('query');
    case 'INSERT':
    case 'UPSERT':
      return info('insert', insertTarget(body, 0));
    case 'EXECUTE':
      if (w1 === 'STATEMENT' || w1 === 'PLAN') return info('insert');
      if (w1 === 'INSERT') return info('insert', insertTarget(body, 1));
      if (w1 === 'SELECT' || w1 === 'WITH') return info('query');
      return info('unknown');
    case 'BEGIN':
    case 'STATEMENT':
      return w1 === 'STATEMENT' || w0 === 'STATEMENT' ? info('insert') : info('unknown');
    case 'CREATE':
      return ddl(body, 'create');
    case 'REPLACE':
      return w1 === 'TABLE' ? { ...ddl([head, ...body], 'create'), kind: 'create-table-as', sensitive: true, submitsJob: true } : info('unknown');
    case 'DROP':
      return ddl(body, 'drop');
    case 'ALTER':
      return ddl(body, 'alter');
    case 'SET':
      return info('set');
    case 'RESET':
      return info('reset');
    case 'ADD':
    case 'REMOVE':
      if (w1 === 'JAR') {
        const path = body[2]?.type === 'string' ? redactInValue((body[2]).value).text.slice(0, 2048) : undefined;
        return info(w0 === 'ADD' ? 'add-jar' : 'remove-jar', path !== undefined ? { jarPath: path } : {});
      }
      return info('unknown');
    case 'LOAD':
    case 'UNLOAD':
      return w1 === 'MODULE' ? info('module') : info('unknown');
    case 'USE':
      return info('use');
    case 'SHOW':
      return info('show');
    case 'DESCRIBE':
    case 'DESC':
      return info('describe');
    case 'EXPLAIN':
      return info('explain');
    case 'STOP':
      if (w1 === 'JOB') {
        const id = body[2]?.type === 'string' ? (body[2]).value : undefined;
        return info('stop-job', id !== undefined && /^[0-9a-fA-F]{32}$/.test(id) ? { jobId: id.toLowerCase() } : {});
      }
      return info('unknown');
    case 'TRUNCATE':
      return info('truncate', w1 === 'TABLE' ? tableAfter(body, 2) : {});
    case 'DELETE':
      return info('delete', w1 === 'FROM' ? tableAfter(body, 2) : {});
    case 'UPDATE':
      return info('update', tableAfter(body, 1));
    case 'ANALYZE':
      return info('analyze', w1 === 'TABLE' ? tableAfter(body, 2) : {});
    case 'CALL':
      return info('call');
    case 'COMPILE':
      return w1 === 'PLAN' || w2 === 'PLAN' ? info('compile-plan') : info('unknown');
    default:
      return info('unknown');
  }
}

function tableAfter(sig: readonly Token[], i: number): Pick<StatementInfo, 'objectType' | 'objectName'> {
  const id = identifier(sig, i);
  return id ? { objectType: 'Table', objectName: id.name } : {};
}

/**
 * Splits a script into statements at top-level `;` (not inside literals, comments, or
 * `BEGIN STATEMENT SET … END`), dropping empty ones.
 */
export function splitStatements(script: string): string[] {
  const tokens = tokenize(script);
  const out: string[] = [];
  let from = 0;
  let inSet = false;
  let prev: Token | undefined;
  for (const t of tokens) {
    if (t.type === 'word') {
      if (t.value === 'SET' && prev?.value === 'STATEMENT') inSet = true;
      if (t.value === 'END' && inSet) inSet = false;
    }
    if (t.type === 'punct' && t.value === ';' && !inSet) {
      out.push(script.slice(from, t.end));
      from = t.end;
    }
    if (t.type !== 'ws' && t.type !== 'comment') prev = t;
  }
  out.push(script.slice(from));
  return out.filter((s) => significant(tokenize(s)).some((t) => !(t.type === 'punct' && t.value === ';')));
}
