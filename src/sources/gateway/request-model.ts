/**
 * The request model: one reading of a Flink call — query, path ids and body — that is the same
 * reading Flink's REST server will make, or a coded refusal where the gateway cannot be sure of
 * that. The gateway records and authorizes only what this module returns, so the audit record
 * names what Flink does, not what the URL looks like.
 *
 * What Flink does, and what follows here:
 * - Query strings are decoded by Netty's QueryStringDecoder (catalog/netty.ts): `;` separates
 *   parameters, at most 1024 are read, repeated values are joined with `,` and single-valued
 *   parameters take the first. The gateway refuses `;`, bad escapes and more than 1024 parameters
 *   everywhere, and on writes any repeated parameter (no write reads a list from its query).
 * - Ids are parsed leniently: JobID/JobVertexID/TriggerId/OperatorID/IntermediateDataSetID use
 *   StringUtils.hexStringToByte, i.e. Integer.parseInt(pair, 16) per byte, which takes a sign, any
 *   Unicode digit and ignores a 33rd character; numeric ids use Long/Integer.parseInt (Unicode
 *   digits, a sign); handles use UUID.fromString (short groups). Anything but the canonical
 *   spelling is refused; upper-case hex is lower-cased for the record.
 * - Bodies: Flink reads every non-multipart body as JSON whatever its Content-Type (Jackson, which
 *   accepts a UTF-8 byte order mark and ignores trailing content), and for multipart POSTs reads
 *   the attribute named `request` as the JSON body (FileUploadHandler). For writes (and sensitive
 *   reads) the gateway therefore reads the whole body (≤ 1 MiB) as one JSON object — BOM allowed,
 *   `application/json`, `application/x-www-form-urlencoded` (what `curl -d` sends) or no type —
 *   and refuses anything else: other types, encoded bodies, larger bodies, trailing content,
 *   multipart outside jar upload and job submission, and `request` parts it cannot read whole.
 * - Parameters that decide what a call does (ALWAYS_RECORDED) are kept in the record even when the
 *   body is too large to record whole; redaction runs later, in the recorder.
 */
import { decodeQuery } from '../../catalog/index.js';
import type { Classification, FlinkApi } from '../../catalog/types.js';
import { FlinkTrailError } from '../../errors/index.js';
import { MAX_BUFFERED_BODY, type PreparedBody } from './body.js';

/** Netty's QueryStringDecoder default `maxParams`: parameters past it are silently dropped. */
export const MAX_QUERY_PARAMS = 1024;

/** Body fields that change what Flink does: always recorded, whatever the body's size. */
export const ALWAYS_RECORDED = [
  'cancel-job',
  'drain',
  'allowNonRestoredState',
  'programArgs',
  'programArgsList',
  'entryClass',
  'savepointPath',
  'parallelism',
  'jobId',
  'target-directory',
  'formatType',
  'claimMode',
  'restoreMode',
  'flinkConfiguration',
  'statement',
  'executionConfig',
  'properties',
] as const;

/** Path parameters and the one spelling of them the gateway accepts. */
const HEX_ID_PARAMS = new Set(['jobid', 'vertexid', 'triggerid', 'operatorid', 'datasetid']);
const NUMERIC_PARAMS = new Set(['checkpointid', 'subtaskindex', 'attempt', 'token']);
const UUID_PARAMS = new Set(['session_handle', 'operation_handle']);
const HEX32 = /^[0-9a-f]{32}$/;
const DIGITS = /^[0-9]{1,18}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Endpoints that take multipart uploads (`POST` only, as FileUploadHandler decodes only POSTs). */
const UPLOAD_TEMPLATES: Readonly<Record<FlinkApi, readonly string[]>> = {
  dispatcher: ['/jars/upload', '/jobs'],
  sql_gateway: [],
  history_server: [],
};

/** Content types whose bytes Flink reads as JSON (it reads every non-multipart body so). */
const JSON_TYPES = new Set(['', 'application/json', 'application/x-www-form-urlencoded']);

export type ModelResult<T> = { ok: true; value: T } | { ok: false; error: FlinkTrailError };

const ok = <T>(value: T): ModelResult<T> => ({ ok: true, value });
const refused = <T>(error: FlinkTrailError): ModelResult<T> => ({ ok: false, error });

// ---------------------------------------------------------------------------------------------
// Query

export interface ModelQuery {
  /** Netty's reading, for the catalog (first value of each name is what Flink's handlers use). */
  search: URLSearchParams;
  /** For the record: one value as a string, repeated values as a list. */
  recorded: Record<string, unknown>;
}

/** Reads `?…` (the request target's query, as forwarded) as Flink does. */
export function readQuery(rawSearch: string): ModelResult<{ query: ModelQuery; repeated: string[] }> {
  if (rawSearch.includes(';')) return refused(new FlinkTrailError('FT_ERR_GATEWAY_QUERY_AMBIGUOUS', '`;` separates parameters for Flink; encode it as %3B'));
  const decoded = decodeQuery(rawSearch);
  if (decoded === null) return refused(new FlinkTrailError('FT_ERR_GATEWAY_QUERY_AMBIGUOUS', 'a `%` escape is not followed by two hex digits'));
  let count = 0;
  const search = new URLSearchParams();
  const recorded: Record<string, unknown> = {};
  const repeated: string[] = [];
  for (const [name, values] of decoded.params) {
    count += values.length;
    for (const v of values) search.append(name, v);
    recorded[name] = values.length === 1 ? values[0] : values;
    if (values.length > 1) repeated.push(name);
  }
  if (count > MAX_QUERY_PARAMS) return refused(new FlinkTrailError('FT_ERR_GATEWAY_QUERY_AMBIGUOUS', `Flink reads only the first ${MAX_QUERY_PARAMS} parameters`));
  return ok({ query: { search, recorded }, repeated });
}

/** A write reads every query parameter once: a repeated one could be read differently. */
export function checkRepeated(cls: Classification, repeated: readonly string[]): FlinkTrailError | undefined {
  if (cls.eventRW !== 'Write' || repeated.length === 0) return undefined;
  return new FlinkTrailError('FT_ERR_GATEWAY_QUERY_AMBIGUOUS', `the parameter ${repeated.join(', ')} is given more than once`);
}

// ---------------------------------------------------------------------------------------------
// Path ids

/**
 * The classification with every id parameter in its canonical spelling (upper-case hex lowered),
 * or a refusal naming the first parameter Flink would parse to an id the gateway cannot name.
 */
export function canonicalIds(cls: Classification): ModelResult<Classification> {
  if (!cls.known) return ok(cls);
  const renamed = new Map<string, string>();
  const params: Record<string, string> = {};
  for (const [name, raw] of Object.entries(cls.params)) {
    let value = raw;
    if (HEX_ID_PARAMS.has(name)) {
      value = raw.toLowerCase();
      if (!HEX32.test(value)) return refused(new FlinkTrailError('FT_ERR_GATEWAY_ID_NOT_CANONICAL', name, JSON.stringify(raw.slice(0, 80)), '32 hex digits'));
    } else if (UUID_PARAMS.has(name)) {
      value = raw.toLowerCase();
      if (!UUID.test(value)) return refused(new FlinkTrailError('FT_ERR_GATEWAY_ID_NOT_CANONICAL', name, JSON.stringify(raw.slice(0, 80)), 'a UUID'));
    } else if (NUMERIC_PARAMS.has(name) && !DIGITS.test(raw)) {
      return refused(new FlinkTrailError('FT_ERR_GATEWAY_ID_NOT_CANONICAL', name, JSON.stringify(raw.slice(0, 80)), 'plain ASCII digits'));
    }
    params[name] = value;
    if (value !== raw) renamed.set(raw, value);
  }
  if (renamed.size === 0) return ok(cls);
  const resources: Record<string, string[]> = {};
  for (const [type, ids] of Object.entries(cls.resources)) resources[type] = ids.map((id) => renamed.get(id) ?? id);
  return ok({ ...cls, params, resources });
}

// ---------------------------------------------------------------------------------------------
// Body

export interface ModelBody {
  /** What goes into `requestParameters` (merged over the query's). */
  recorded: Record<string, unknown>;
  /** The JSON object Flink will read as the request body, when there is one. */
  object?: Record<string, unknown>;
}

export interface BodyContext {
  api: FlinkApi;
  method: string;
  cls: Classification;
  contentType: string;
  contentEncoding: string | undefined;
  maxParameterBytes: number;
}

/** Writes and sensitive reads (GetJarPlan runs the jar's main()) must be read exactly. */
export function isStrict(cls: Classification): boolean {
  return cls.eventRW === 'Write' || cls.sensitive;
}

/** Reads the prepared body as Flink will, or refuses (for strict calls) what cannot be. */
export function readBody(body: PreparedBody, ctx: BodyContext): ModelResult<ModelBody> {
  const strict = isStrict(ctx.cls);
  if (body.kind === 'none') return ok({ recorded: {} });
  const mediaType = (ctx.contentType.split(';')[0] ?? '').trim().toLowerCase();
  const multipart = mediaType.startsWith('multipart/');
  if (strict && ctx.contentEncoding !== undefined && ctx.contentEncoding.trim().toLowerCase() !== 'identity') {
    return refused(new FlinkTrailError('FT_ERR_GATEWAY_BODY_TYPE', `Content-Encoding ${ctx.contentEncoding.slice(0, 40)}`));
  }
  if (multipart) {
    const uploads = ctx.method === 'POST' && ctx.cls.known && UPLOAD_TEMPLATES[ctx.api].includes(ctx.cls.pathTemplate);
    if (strict && !uploads) return refused(new FlinkTrailError('FT_ERR_GATEWAY_BODY_TYPE', `${mediaType} (this endpoint takes no files)`));
    const head = body.kind === 'stream' ? body.peek : body.data;
    const parsed = multipartHead(head, ctx.contentType, body.kind === 'buffered');
    if (!strict) return ok({ recorded: parsed.parts.length ? { multipart: parsed.parts } : { body: '[streamed, not recorded]' } });
    if (parsed.problem) return refused(new FlinkTrailError('FT_ERR_GATEWAY_BODY_UNREADABLE', parsed.problem));
    const recorded: Record<string, unknown> = { multipart: parsed.parts };
    if (parsed.request === undefined) return ok({ recorded });
    const object = jsonObject(parsed.request);
    if (object === undefined) return refused(new FlinkTrailError('FT_ERR_GATEWAY_BODY_UNREADABLE', 'the multipart `request` part is not one JSON object'));
    recorded['request'] = recordable(object, parsed.request.length, ctx.maxParameterBytes);
    return ok({ recorded, object });
  }
  if (strict && !JSON_TYPES.has(mediaType)) return refused(new FlinkTrailError('FT_ERR_GATEWAY_BODY_TYPE', mediaType.slice(0, 80)));
  if (body.kind === 'stream') {
    if (strict) return refused(new FlinkTrailError('FT_ERR_GATEWAY_BODY_TOO_LARGE', MAX_BUFFERED_BODY));
    return ok({ recorded: { body: '[streamed, not recorded]' } });
  }
  if (body.data.length === 0) return ok({ recorded: {} });
  const object = jsonObject(body.data);
  if (object === undefined) {
    if (strict) return refused(new FlinkTrailError('FT_ERR_GATEWAY_BODY_UNREADABLE', 'the body is not one JSON object'));
    // A read's body changes nothing Flink does: recorded as text (capped), as before.
    const text = body.data.toString('utf8');
    return ok({ recorded: text.length > ctx.maxParameterBytes ? { body: '[truncated]', bodyBytes: body.data.length, truncated: true } : { body: text } });
  }
  return ok({ recorded: recordable(object, body.data.length, ctx.maxParameterBytes), object });
}

/** UTF-8 JSON, optionally after a byte order mark (as Jackson reads it), that is one object. */
function jsonObject(data: Buffer): Record<string, unknown> | undefined {
  let bytes = data;
  if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
  const text = bytes.toString('utf8');
  if (text.trim() === '') return {}; // Flink reads an empty body as `{}`
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The whole object when small; otherwise the fields that decide the call, and a marker. */
function recordable(object: Record<string, unknown>, bodyBytes: number, maxBytes: number): Record<string, unknown> {
  if (JSON.stringify(object).length <= maxBytes) return { ...object };
  const kept: Record<string, unknown> = {};
  for (const key of ALWAYS_RECORDED) if (key in object) kept[key] = object[key];
  return { ...kept, body: '[truncated]', bodyBytes, truncated: true };
}

// ---------------------------------------------------------------------------------------------
// Multipart

export interface MultipartHead {
  /** Part names and file names, in order. */
  parts: { name: string; filename?: string }[];
  /** The bytes of the `request` attribute, when there is one and it is whole. */
  request?: Buffer;
  /** Why the head cannot be read as Flink reads it. */
  problem?: string;
}

function boundaryOf(contentType: string): string | undefined {
  for (const param of contentType.split(';').slice(1)) {
    const eq = param.indexOf('=');
    if (eq < 0 || param.slice(0, eq).trim().toLowerCase() !== 'boundary') continue;
    let value = param.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    return value || undefined;
  }
  return undefined;
}

/** `name="x"`, `name=x` and `filename*=…` from a Content-Disposition header, keys lower-cased. */
function dispositionParams(header: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const piece of header.split(';').slice(1)) {
    const eq = piece.indexOf('=');
    if (eq < 0) continue;
    let value = piece.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    out.set(piece.slice(0, eq).trim().toLowerCase(), value);
  }
  return out;
}

/**
 * The parts of a multipart body whose head (or whole, if `complete`) is `head`, as Netty's
 * HttpPostMultipartRequestDecoder delimits them (a delimiter starts a line; part headers end at an
 * empty line, CRLF or LF). A part named `request` without a file name is the JSON body for Flink:
 * it must be whole within `head`, and there must be only one (Flink keeps the last).
 */
export function multipartHead(head: Buffer, contentType: string, complete: boolean): MultipartHead {
  const boundary = boundaryOf(contentType);
  if (boundary === undefined) return { parts: [], problem: 'the multipart Content-Type has no boundary' };
  const text = head.toString('latin1');
  const delimiter = `--${boundary}`;
  // Delimiter positions: at the very start, or after a line break.
  const starts: number[] = [];
  if (text.startsWith(delimiter)) starts.push(0);
  for (let at = text.indexOf(`\n${delimiter}`); at >= 0; at = text.indexOf(`\n${delimiter}`, at + 1)) starts.push(at + 1);
  const parts: MultipartHead['parts'] = [];
  let request: Buffer | undefined;
  for (let i = 0; i < starts.length; i++) {
    const begin = starts[i]! + delimiter.length;
    if (text.startsWith('--', begin)) break; // the closing delimiter
    const next = starts[i + 1];
    const end = next === undefined ? text.length : next;
    const section = text.slice(begin, end);
    const crlf = section.indexOf('\r\n\r\n');
    const lf = section.indexOf('\n\n');
    const headerEnd = crlf >= 0 && (lf < 0 || crlf < lf) ? crlf + 4 : lf >= 0 ? lf + 2 : -1;
    if (headerEnd < 0) {
      if (next === undefined && !complete) return { parts, problem: 'a part begins too late in the body to be checked' };
      return { parts, problem: 'a multipart part has no header end' };
    }
    const headers = section.slice(0, headerEnd);
    const disposition = /^content-disposition[ \t]*:(.*)$/im.exec(headers)?.[1] ?? '';
    const params = dispositionParams(disposition);
    const name = params.get('name');
    const filename = params.get('filename') ?? params.get('filename*');
    if (name === undefined) return { parts, problem: 'a multipart part has no name' };
    parts.push(filename !== undefined ? { name, filename: Buffer.from(filename, 'latin1').toString('utf8') } : { name });
    if (filename !== undefined || name.toLowerCase() !== 'request') continue;
    if (request !== undefined) return { parts, problem: 'the multipart `request` part is given more than once' };
    if (next === undefined) return { parts, problem: 'the multipart `request` part is not whole within the first bytes the gateway reads' };
    // The part's content ends before the line break that precedes the next delimiter.
    let contentEnd = end - 1;
    if (text.charCodeAt(contentEnd - 1) === 13) contentEnd--;
    request = head.subarray(begin + headerEnd, Math.max(begin + headerEnd, contentEnd));
  }
  return request !== undefined ? { parts, request } : { parts };
}
