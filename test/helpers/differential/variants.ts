/**
 * The differential harness's request generator: for every write row of the Flink catalog
 * (src/catalog/flink-rest.ts, dispatcher), the canonical request and its variants — the spellings
 * under which Flink may read a request differently from a naive proxy.
 *
 * Flink reads requests with Netty's QueryStringDecoder (`;` separates parameters like `&`, at
 * most 1024 of them, `+` is a space), its own router (the path is percent-decoded, then split on
 * `/`; `/v1` is optional), `JobID.fromHexString` (Integer.parseInt(…, 16) on pairs: upper case,
 * signs, any Unicode digit; a 33rd character is ignored), Jackson (BOM, UTF-16, trailing garbage,
 * `1` and `"true"` as booleans, last duplicate key wins) and FileUploadHandler (the multipart part
 * named `request` is the JSON body). Each variant exercises one of those differences, so that the
 * harness (harness.ts) can check that FlinkTrail either refuses it or records what Flink did.
 *
 * A variant knows only how to build its bytes; what Flink did with them is observed on Flink.
 */
import { catalogEntries, type CatalogEntry } from '../../../src/catalog/index.js';

/** What a variant changes about the canonical request. */
export const DIMENSIONS = ['canonical', 'path', 'id', 'query', 'body', 'content-type'] as const;
export type Dimension = (typeof DIMENSIONS)[number];

/** The resources a request names, canonical spelling (filled by the harness at send time). */
export interface Ids {
  /** 32 lower-case hex digits. */
  job: string;
  /** `<uuid>_<name>.jar`, as /jars/upload answered. */
  jar: string;
  taskmanager: string;
  /** Job names the run uses (RunJar variants start jobs named so). */
  runName: string;
}

/** Bytes on the wire: the request target is sent as is (no normalisation by a client library). */
export interface RawRequest {
  method: string;
  /** Path and query exactly as sent in the request line. */
  target: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** Send the body with `Transfer-Encoding: chunked` (no Content-Length). */
  chunked?: boolean;
}

export interface Variant {
  /** Stable, unique: `<eventName> <METHOD> <template>[?query] · <dimension>: <detail>`. */
  name: string;
  /** The catalog row of the canonical request this is a variant of. */
  row: CatalogEntry;
  dimension: Dimension;
  detail: string;
  /** Sent by the allowed user in the bounded CI sample (ALLOWED_SAMPLE, or canonical). */
  sample: boolean;
  /** Sent by denied users in the CI sample (they all aim at one job: more of them fit). */
  deniedSample: boolean;
  /** What the request is about on Flink, to pick a target and observe it. */
  target: 'job' | 'jar' | 'upload' | 'cluster';
  build(ids: Ids): RawRequest;
}

// ---------------------------------------------------------------------------------------------
// Spellings

/**
 * Spellings of a job id that `JobID.fromHexString` parses back to the same id, by kind. A kind
 * answers undefined when the id has no pair it applies to (jobIdForVariants makes ids that have).
 */
export const JOB_ID_SPELLINGS: readonly { kind: string; spell(id: string): string | undefined }[] = [
  { kind: 'upper-case id', spell: (id) => id.toUpperCase() },
  { kind: 'mixed-case id', spell: (id) => [...id].map((c, i) => (i % 2 ? c.toUpperCase() : c)).join('') },
  { kind: '33rd character appended', spell: (id) => `${id}z` },
  { kind: 'fullwidth digits and letters (%EF%BC%90…)', spell: (id) => [...id].map(fullwidth).join('') },
  { kind: 'Arabic-Indic digits (%D9%A0…)', spell: (id) => [...id].map((c) => (/[0-9]/.test(c) ? encodeURIComponent(String.fromCharCode(0x660 + Number(c))) : c)).join('') },
  { kind: 'every character percent-encoded', spell: (id) => [...id].map((c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).join('') },
  // Integer.parseInt("+b", 16) = 0x0b; a raw `+` in a path is a space to Netty, so both spellings.
  { kind: 'plus sign in a 0x pair (%2B)', spell: (id) => signed(id, (p) => (p.startsWith('0') ? `%2B${p[1]}` : undefined)) },
  { kind: 'raw plus sign in a 0x pair', spell: (id) => signed(id, (p) => (p.startsWith('0') ? `+${p[1]}` : undefined)) },
  // Integer.parseInt("-d", 16) = -13, 0xf3 as a byte.
  { kind: 'minus sign for a pair >= f1', spell: (id) => signed(id, (p) => (parseInt(p, 16) >= 0xf1 ? `-${(256 - parseInt(p, 16)).toString(16)}` : undefined)) },
];

/** The id with its first pair that `respell` applies to respelled. */
function signed(id: string, respell: (pair: string) => string | undefined): string | undefined {
  const pairs = id.match(/../g) ?? [];
  const i = pairs.findIndex((p) => respell(p) !== undefined);
  return i < 0 ? undefined : pairs.map((p, j) => (j === i ? (respell(p) as string) : p)).join('');
}

/** Fullwidth forms (U+FF10…, U+FF41…) percent-encoded as UTF-8: Character.digit accepts them. */
function fullwidth(c: string): string {
  const code = c.charCodeAt(0);
  if (c >= '0' && c <= '9') return encodeURIComponent(String.fromCharCode(0xff10 + code - 48));
  if (c >= 'a' && c <= 'f') return encodeURIComponent(String.fromCharCode(0xff41 + code - 97));
  return c;
}

/**
 * A job id for the harness to start jobs under (RunJar takes `jobId`): random, but with a
 * `0x` byte and a byte ≥ 0xf1, so the signed spellings exist for every job.
 */
export function jobIdForVariants(random: () => number = Math.random): string {
  const bytes = Array.from({ length: 16 }, () => Math.floor(random() * 256));
  bytes[3] = Math.floor(random() * 16);
  bytes[9] = 0xf1 + Math.floor(random() * 15);
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join('');
}

// ---------------------------------------------------------------------------------------------
// Rows: how to build each write row's canonical request

type Template = (ids: Ids) => string;

interface RowSpec {
  target: Variant['target'];
  /** The canonical query, without `?` (e.g. `mode=cancel`); '' for none. */
  query: string;
  /** JSON body of the canonical request, if it has one. */
  body?: (ids: Ids) => Record<string, unknown>;
  /** The boolean body field that decides what Flink does (`cancel-job`, `drain`). */
  decisive?: string;
  /** A multipart body instead of JSON (uploads, job submission). */
  multipart?: (ids: Ids) => { contentType: string; body: Buffer };
  /** The denied-user run only: never sent for an allowed user (it would end the shared cluster). */
  deniedOnly?: boolean;
}

/** Set by the harness: the demo job jar's bytes and the file name its uploads carry. */
let demoJar: Buffer = Buffer.alloc(0);
let DEMO_JAR_NAME = 'flinktrail-demo-job.jar';
export function setDemoJar(bytes: Buffer, fileName: string): void {
  demoJar = bytes;
  DEMO_JAR_NAME = fileName;
}

export function multipart(parts: { name: string; filename?: string; type?: string; data: Buffer | string }[], boundary = `----ftdiff${Math.random().toString(16).slice(2)}`): { contentType: string; body: Buffer } {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disp = `form-data; name="${p.name}"${p.filename !== undefined ? `; filename="${p.filename}"` : ''}`;
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disp}\r\n${p.type ? `Content-Type: ${p.type}\r\n` : ''}\r\n`));
    chunks.push(typeof p.data === 'string' ? Buffer.from(p.data) : p.data);
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { contentType: `multipart/form-data; boundary=${boundary}`, body: Buffer.concat(chunks) };
}

const runBody = (ids: Ids) => ({ programArgsList: ['--job-name', ids.runName, '--checkpoint-interval', '0', '--rate', '5'], parallelism: 1 });

/** Keyed by `METHOD template[?query]` of the catalog row. */
const ROWS: Record<string, RowSpec> = {
  'DELETE /cluster': { target: 'cluster', query: '', deniedOnly: true },
  'DELETE /datasets/:datasetid': { target: 'cluster', query: '' },
  'POST /jars/upload': { target: 'upload', query: '', multipart: () => multipart([{ name: 'jarfile', filename: DEMO_JAR_NAME, type: 'application/x-java-archive', data: demoJar }]) },
  'DELETE /jars/:jarid': { target: 'jar', query: '' },
  'POST /jars/:jarid/run': { target: 'jar', query: '', body: runBody },
  'POST /jobmanager/profiler': { target: 'cluster', query: '', body: () => ({ mode: 'ITIMER', duration: 1 }) },
  'POST /jobs': { target: 'cluster', query: '', multipart: () => multipart([{ name: 'request', data: '{"jobGraphFileName":"missing.bin"}' }]) },
  'PATCH /jobs/:jobid': { target: 'job', query: '' },
  'PATCH /jobs/:jobid?mode=stop': { target: 'job', query: 'mode=stop' },
  'POST /jobs/:jobid/checkpoints': { target: 'job', query: '', body: () => ({}) },
  'PATCH /jobs/:jobid/clientHeartbeat': { target: 'job', query: '', body: () => ({ expiredTimestamp: Date.now() + 60_000 }) },
  'POST /jobs/:jobid/coordinators/:operatorid': { target: 'job', query: '', body: () => ({ serializedCoordinationRequest: '' }) },
  'PATCH /jobs/:jobid/rescaling': { target: 'job', query: 'parallelism=2' },
  'PUT /jobs/:jobid/resource-requirements': { target: 'job', query: '', body: () => ({}) },
  'POST /jobs/:jobid/savepoints': { target: 'job', query: '', body: () => ({ 'cancel-job': false }), decisive: 'cancel-job' },
  'POST /jobs/:jobid/stop': { target: 'job', query: '', body: () => ({ drain: false }), decisive: 'drain' },
  'GET /jobs/:jobid/yarn-cancel': { target: 'job', query: '' },
  'GET /jobs/:jobid/yarn-cancel?mode=stop': { target: 'job', query: 'mode=stop' },
  'GET /jobs/:jobid/yarn-stop': { target: 'job', query: '' },
  'GET /jobs/:jobid/yarn-stop?mode=cancel': { target: 'job', query: 'mode=cancel' },
  'POST /savepoint-disposal': { target: 'cluster', query: '', body: () => ({ 'savepoint-path': 'file:///nonexistent/ftdiff-savepoint' }) },
  'POST /taskmanagers/:taskmanagerid/profiler': { target: 'cluster', query: '', body: () => ({ mode: 'ITIMER', duration: 1 }) },
};

export function rowKey(row: CatalogEntry): string {
  const q = Object.entries(row.query ?? {}).map(([k, v]) => `${k}=${v}`).join('&');
  return `${row.method} ${row.template}${q ? `?${q}` : ''}`;
}

/** The write rows of the dispatcher catalog, each with how to build it (throws on an unknown row). */
export function writeRows(): { row: CatalogEntry; spec: RowSpec }[] {
  return catalogEntries('dispatcher')
    .filter((row) => row.eventRW === 'Write')
    .map((row) => {
      const spec = ROWS[rowKey(row)];
      if (!spec) throw new Error(`differential: no request builder for the catalog write row ${rowKey(row)}; add one to ROWS`);
      return { row, spec };
    });
}

/** Fills a template's parameters; `spell` may respell the job id. */
function pathOf(row: CatalogEntry, ids: Ids, spell: (param: string, value: string) => string = (_p, v) => v): string {
  return row.template
    .split('/')
    .map((seg) => {
      if (!seg.startsWith(':')) return seg;
      const param = seg.slice(1);
      const value =
        param === 'jobid' ? ids.job : param === 'jarid' ? encodeURIComponent(ids.jar) : param === 'taskmanagerid' ? encodeURIComponent(ids.taskmanager) : param === 'operatorid' ? 'f'.repeat(32) : param === 'datasetid' ? 'a'.repeat(32) : param;
      return spell(param, value);
    })
    .join('/');
}

// ---------------------------------------------------------------------------------------------
// Variants

function jsonHeaders(body: Buffer, type = 'application/json'): Record<string, string> {
  return { 'content-type': type, 'content-length': String(body.length) };
}

interface Piece {
  dimension: Dimension;
  detail: string;
  /** Defaults: the canonical path, query, body. */
  path?: (ids: Ids) => string;
  query?: string;
  body?: (ids: Ids) => { headers: Record<string, string>; body?: Buffer; chunked?: boolean };
}

/** Path spellings of the literal segments (Flink percent-decodes the path before routing). */
function pathPieces(row: CatalogEntry): Piece[] {
  const base: Template = (ids) => pathOf(row, ids);
  const firstLiteral = row.template.split('/')[1] ?? '';
  return [
    { dimension: 'path', detail: '/v1 prefix', path: (ids) => `/v1${base(ids)}` },
    { dimension: 'path', detail: 'trailing slash', path: (ids) => `${base(ids)}/` },
    { dimension: 'path', detail: `first letter of /${firstLiteral} percent-encoded`, path: (ids) => base(ids).replace(/^\/(.)/, (_m, c: string) => `/%${c.charCodeAt(0).toString(16)}`) },
    { dimension: 'path', detail: '%2F for a slash', path: (ids) => base(ids).replace(/^(\/[^/]+)\//, '$1%2F') },
    { dimension: 'path', detail: 'dot segment /./', path: (ids) => base(ids).replace(/^\//, '/./') },
    { dimension: 'path', detail: 'double slash', path: (ids) => base(ids).replace(/^\//, '//') },
    { dimension: 'path', detail: ';param in the last segment', path: (ids) => `${base(ids)};x=1` },
  ];
}

function idPieces(row: CatalogEntry): Piece[] {
  if (!row.params.includes('jobid')) {
    if (!row.params.includes('jarid')) return [];
    return [
      { dimension: 'id', detail: 'jar id fully percent-encoded', path: (ids) => pathOf(row, ids, (p, v) => (p === 'jarid' ? [...decodeURIComponent(v)].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join('') : v)) },
    ];
  }
  return JOB_ID_SPELLINGS.map((k) => ({
    dimension: 'id' as const,
    detail: k.kind,
    path: (ids: Ids) => pathOf(row, ids, (p, v) => (p === 'jobid' ? (k.spell(ids.job) ?? v) : v)),
  }));
}

/** Query spellings: `;` separators, repetition, case, lists, encodings, Netty's 1024-parameter cap. */
function queryPieces(row: CatalogEntry, spec: RowSpec): Piece[] {
  const pieces: Piece[] = [];
  const q = spec.query;
  const join = (...parts: string[]) => parts.filter(Boolean).join('&');
  if (row.params.includes('jobid')) {
    // Every job row: could a `;` smuggle a mode past the classifier?
    pieces.push(
      { dimension: 'query', detail: '`;mode=cancel` after a parameter', query: join(q, 'x=;mode=cancel') },
      { dimension: 'query', detail: '`;mode=stop` after a parameter', query: join(q, 'x=;mode=stop') },
    );
  }
  if (row.template === '/jobs/:jobid' || row.template.includes('/yarn-')) {
    const mode = (row.query?.['mode'] ?? (row.template.endsWith('yarn-stop') ? 'stop' : 'cancel'));
    const other = mode === 'cancel' ? 'stop' : 'cancel';
    pieces.push(
      { dimension: 'query', detail: `x=;mode=${other}&mode=${mode} (the reported attack)`, query: `x=;mode=${other}&mode=${mode}` },
      { dimension: 'query', detail: `mode=${mode};mode=${other}`, query: `mode=${mode};mode=${other}` },
      { dimension: 'query', detail: `;mode=${other} first`, query: `;mode=${other}&mode=${mode}` },
      { dimension: 'query', detail: `mode repeated: ${mode} then ${other}`, query: `mode=${mode}&mode=${other}` },
      { dimension: 'query', detail: `mode repeated: ${other} then ${mode}`, query: `mode=${other}&mode=${mode}` },
      { dimension: 'query', detail: `mode list ${other},${mode}`, query: `mode=${other},${mode}` },
      { dimension: 'query', detail: `mode upper case`, query: `mode=${mode.toUpperCase()}` },
      { dimension: 'query', detail: `mode value percent-encoded`, query: `mode=%${mode.charCodeAt(0).toString(16)}${mode.slice(1)}` },
      { dimension: 'query', detail: `mode name percent-encoded`, query: `m%6Fde=${mode}` },
      { dimension: 'query', detail: `mode name upper case`, query: `MODE=${other}` },
      { dimension: 'query', detail: `mode with a leading plus (a space to Netty)`, query: `mode=+${other}` },
      { dimension: 'query', detail: `1024 parameters, then mode=${other}`, query: `${Array.from({ length: 1024 }, (_, i) => `p${i}=1`).join('&')}&mode=${other}` },
      { dimension: 'query', detail: `empty mode, then mode=${other}`, query: `mode=&mode=${other}` },
      { dimension: 'query', detail: `invalid escape after mode=${other}`, query: `mode=${other}&x=%zz` },
      { dimension: 'query', detail: `fragment then mode=${other}`, query: `mode=${mode}#&mode=${other}` },
    );
  }
  return pieces;
}

/** Body shapes and content types for rows whose body decides what Flink does. */
function bodyPieces(row: CatalogEntry, spec: RowSpec): Piece[] {
  const make = spec.body;
  if (!make) return [];
  const pieces: Piece[] = [];
  const raw =
    (build: (ids: Ids) => Buffer, type: string | undefined, chunked = false): Piece['body'] =>
    (ids) => {
      const b = build(ids);
      const headers: Record<string, string> = {};
      if (type) headers['content-type'] = type;
      if (!chunked) headers['content-length'] = String(b.length);
      return { headers, body: b, chunked };
    };
  const key = spec.decisive;
  const values: unknown[] = key ? [true, false] : [undefined];
  for (const v of values) {
    const obj = (ids: Ids) => (key ? { ...make(ids), [key]: v } : make(ids));
    const text = (ids: Ids) => JSON.stringify(obj(ids));
    const tag = key ? ` ${key}=${String(v)}` : '';
    const add = (detail: string, body: Piece['body'], dimension: Dimension = 'body') => pieces.push({ dimension, detail: `${detail}${tag}`, body });
    add('plain JSON', raw((ids) => Buffer.from(text(ids)), 'application/json'));
    add('100 spaces of padding', raw((ids) => Buffer.from(text(ids).replace('{', `{${' '.repeat(100)}`)), 'application/json'));
    add('17,000 spaces of padding (the reported attack)', raw((ids) => Buffer.from(`${' '.repeat(17_000)}${text(ids)}`), 'application/json'));
    add('1.1 MB of padding (streamed by the gateway)', raw((ids) => Buffer.from(`${' '.repeat(1_100_000)}${text(ids)}`), 'application/json'));
    add('UTF-8 byte order mark', raw((ids) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text(ids))]), 'application/json'));
    add('UTF-16LE with byte order mark', raw((ids) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text(ids), 'utf16le')]), 'application/json'));
    add('trailing garbage after the object', raw((ids) => Buffer.from(`${text(ids)} trailing`), 'application/json'));
    add('a second object after the first', raw((ids) => Buffer.from(`${text(ids)}${JSON.stringify({ [key ?? 'x']: !v })}`), 'application/json'));
    add('nested extra field', raw((ids) => Buffer.from(JSON.stringify({ x: { y: [1, { z: null }] }, ...obj(ids) })), 'application/json'));
    add('block comment before the object', raw((ids) => Buffer.from(`/* c */${text(ids)}`), 'application/json'));
    add('chunked transfer encoding', raw((ids) => Buffer.from(text(ids)), 'application/json', true));
    if (key) {
      const other = JSON.stringify(!v);
      add(`duplicate key, last ${String(v)}`, raw((ids) => Buffer.from(text(ids).replace(/^\{/, `{"${key}":${other},`)), 'application/json'));
      add(`duplicate key, first ${String(v)}`, raw((ids) => Buffer.from(text(ids).replace(/\}$/, `,"${key}":${other}}`)), 'application/json'));
      add('number instead of boolean', raw((ids) => Buffer.from(text(ids).replace(String(v), v ? '1' : '0')), 'application/json'));
      add('string instead of boolean', raw((ids) => Buffer.from(text(ids).replace(String(v), `"${String(v)}"`)), 'application/json'));
      add('upper-case string boolean', raw((ids) => Buffer.from(text(ids).replace(String(v), `"${String(v).toUpperCase()}"`)), 'application/json'));
      add('key with a unicode escape', raw((ids) => Buffer.from(text(ids).replace(`"${key}"`, `"${key.replace('-', '\\u002d').replace(/^d/, '\\u0064')}"`)), 'application/json'));
      add('key in another case', raw((ids) => Buffer.from(text(ids).replace(`"${key}"`, `"${key.toUpperCase()}"`)), 'application/json'));
    }
    // Content types: Flink reads the body as JSON whatever the type, except multipart.
    add('no content type', raw((ids) => Buffer.from(text(ids)), undefined), 'content-type');
    add('text/plain', raw((ids) => Buffer.from(text(ids)), 'text/plain'), 'content-type');
    add('form content type, JSON body', raw((ids) => Buffer.from(text(ids)), 'application/x-www-form-urlencoded'), 'content-type');
    if (key) add('form-encoded field', raw(() => Buffer.from(`${key}=${String(v)}`), 'application/x-www-form-urlencoded'), 'content-type');
    const part = (name: string, pad = '', filename?: string) => (ids: Ids) => {
      const m = multipart([{ name, ...(filename ? { filename } : {}), type: 'application/json', data: `${pad}${text(ids)}` }]);
      return { headers: { 'content-type': m.contentType, 'content-length': String(m.body.length) }, body: m.body };
    };
    pieces.push({ dimension: 'content-type', detail: `multipart part named request (the reported attack)${tag}`, body: part('request') });
    pieces.push({ dimension: 'content-type', detail: `multipart request part with 17,000 spaces${tag}`, body: part('request', ' '.repeat(17_000)) });
    pieces.push({ dimension: 'content-type', detail: `multipart request part as a file${tag}`, body: part('request', '', 'request.json') });
    pieces.push({ dimension: 'content-type', detail: `multipart part named Request${tag}`, body: part('Request') });
  }
  return pieces;
}

/**
 * Upload variants. FileUploadHandler keeps every file part whatever its name (a file is a part
 * with a file name) and reads the attribute `request` as the JSON body; JarUploadHandler then
 * wants exactly one file, named `*.jar`. The parts are built at send time: the demo jar's bytes
 * and name are set by the harness after the variants are generated.
 */
function uploadPieces(): Piece[] {
  const m = (parts: () => Parameters<typeof multipart>[0]) => () => {
    const r = multipart(parts());
    return { headers: { 'content-type': r.contentType, 'content-length': String(r.body.length) }, body: r.body };
  };
  return [
    { dimension: 'body', detail: 'file part named other', body: m(() => [{ name: 'other', filename: DEMO_JAR_NAME, data: demoJar }]) },
    { dimension: 'body', detail: 'two jar file parts', body: m(() => [{ name: 'jarfile', filename: DEMO_JAR_NAME, data: demoJar }, { name: 'jarfile', filename: `second_${DEMO_JAR_NAME}`, data: demoJar }]) },
    { dimension: 'body', detail: 'two file parts with one file name', body: m(() => [{ name: 'jarfile', filename: DEMO_JAR_NAME, data: demoJar }, { name: 'other', filename: DEMO_JAR_NAME, data: demoJar }]) },
    { dimension: 'body', detail: 'an attribute other than request', body: m(() => [{ name: 'note', data: 'x' }, { name: 'jarfile', filename: DEMO_JAR_NAME, data: demoJar }]) },
    { dimension: 'body', detail: 'file name not ending in .jar', body: m(() => [{ name: 'jarfile', filename: `${DEMO_JAR_NAME}.txt`, data: demoJar }]) },
    { dimension: 'body', detail: 'request part before the jar', body: m(() => [{ name: 'request', data: '{}' }, { name: 'jarfile', filename: DEMO_JAR_NAME, data: demoJar }]) },
    { dimension: 'content-type', detail: 'multipart type in upper case', body: () => {
      const r = multipart([{ name: 'jarfile', filename: DEMO_JAR_NAME, data: demoJar }]);
      return { headers: { 'content-type': r.contentType.replace('multipart/form-data', 'MULTIPART/FORM-DATA'), 'content-length': String(r.body.length) }, body: r.body };
    } },
  ];
}

/**
 * The CI sample for the allowed user, besides every row's canonical request: the reported
 * attacks and one variant of each kind, few of which may end a job (each needs a fresh one).
 */
const ALLOWED_SAMPLE: ReadonlySet<string> = new Set([
  'PATCH /jobs/:jobid · query: x=;mode=stop&mode=cancel (the reported attack)',
  'PATCH /jobs/:jobid?mode=stop · query: x=;mode=cancel&mode=stop (the reported attack)',
  'PATCH /jobs/:jobid?mode=stop · query: 1024 parameters, then mode=cancel',
  'POST /jobs/:jobid/checkpoints · id: upper-case id',
  'POST /jobs/:jobid/checkpoints · id: fullwidth digits and letters (%EF%BC%90…)',
  'POST /jobs/:jobid/checkpoints · id: minus sign for a pair >= f1',
  'POST /jobs/:jobid/checkpoints · path: first letter of /jobs percent-encoded',
  'POST /jobs/:jobid/savepoints · body: 17,000 spaces of padding (the reported attack) cancel-job=true',
  'POST /jobs/:jobid/savepoints · content-type: multipart part named request (the reported attack) cancel-job=true',
  'POST /jobs/:jobid/savepoints · body: UTF-8 byte order mark cancel-job=true',
  'POST /jobs/:jobid/savepoints · body: trailing garbage after the object cancel-job=true',
  'POST /jobs/:jobid/savepoints · body: string instead of boolean cancel-job=true',
  'POST /jobs/:jobid/savepoints · body: duplicate key, first false cancel-job=false',
  // Uploads change no job: all of them fit.
  'POST /jars/upload · body: file part named other',
  'POST /jars/upload · body: two jar file parts',
  'POST /jars/upload · body: two file parts with one file name',
  'POST /jars/upload · body: an attribute other than request',
  'POST /jars/upload · body: file name not ending in .jar',
  'POST /jars/upload · body: request part before the jar',
]);

/** Rows whose every variant the denied users send in the CI sample. */
const DENIED_SAMPLE_ROWS: ReadonlySet<string> = new Set(['DELETE /cluster', 'PATCH /jobs/:jobid', 'POST /jobs/:jobid/savepoints']);

/** Every variant of every write row, in a stable order. */
export function generateVariants(): Variant[] {
  const out: Variant[] = [];
  for (const { row, spec } of writeRows()) {
    const canonicalBody = (ids: Ids): { headers: Record<string, string>; body?: Buffer } => {
      if (spec.multipart) {
        const m = spec.multipart(ids);
        return { headers: { 'content-type': m.contentType, 'content-length': String(m.body.length) }, body: m.body };
      }
      if (spec.body) {
        const b = Buffer.from(JSON.stringify(spec.body(ids)));
        return { headers: jsonHeaders(b), body: b };
      }
      return { headers: {} };
    };
    const pieces: Piece[] = [
      { dimension: 'canonical', detail: 'as documented' },
      ...pathPieces(row),
      ...idPieces(row),
      ...queryPieces(row, spec),
      ...(row.eventName === 'UploadJar' ? uploadPieces() : bodyPieces(row, spec)),
    ];
    for (const p of pieces) {
      const name = `${rowKey(row)} · ${p.dimension}: ${p.detail}`;
      out.push({
        name,
        row,
        dimension: p.dimension,
        detail: p.detail,
        sample: p.dimension === 'canonical' || ALLOWED_SAMPLE.has(name),
        deniedSample: p.dimension === 'canonical' || ALLOWED_SAMPLE.has(name) || DENIED_SAMPLE_ROWS.has(rowKey(row)),
        target: spec.target,
        build(ids) {
          const path = (p.path ?? ((x: Ids) => pathOf(row, x)))(ids);
          const query = p.query ?? spec.query;
          const b = (p.body ?? canonicalBody)(ids);
          return {
            method: row.method,
            target: query ? `${path}?${query}` : path,
            headers: b.headers,
            ...(b.body ? { body: b.body } : {}),
            ...('chunked' in b && b.chunked ? { chunked: true } : {}),
          };
        },
      });
    }
  }
  const names = new Set<string>();
  for (const v of out) {
    if (names.has(v.name)) throw new Error(`differential: duplicate variant name ${v.name}`);
    names.add(v.name);
  }
  for (const n of ALLOWED_SAMPLE) if (!names.has(n)) throw new Error(`differential: the sample names a variant that does not exist: ${n}`);
  return out;
}

/** Rows sent only by denied users (never allowed against the shared cluster). */
export function isDeniedOnly(v: Variant): boolean {
  return ROWS[rowKey(v.row)]?.deniedOnly === true;
}
