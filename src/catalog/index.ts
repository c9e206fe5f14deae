/**
 * Classifies a Flink REST call — (api, method, path, query) — into what the audit record says
 * about it: event name, Read/Write, sensitivity, path parameters and referenced resources.
 *
 * This runs on every proxied request, so the catalog (flink-rest.ts) is compiled once, at module
 * load, into one segment trie per (api, method); a lookup walks the path's segments with a Map
 * lookup each and allocates only the result. Paths are split and decoded the way Flink's own
 * router does it (see `tokenize`), so that the record names the handler Flink will actually run:
 * a classifier that decoded differently could be walked around with `%2F` or `%3F`.
 *
 * Calls no catalog row matches still classify (`known: false`), as `METHOD /normalised/path` with
 * id-looking segments replaced by `:id`; the event is never dropped for want of a row.
 *
 * @example
 *   classify({ api: 'dispatcher', method: 'GET', path: '/v1/jobs/8c4e…/yarn-cancel', query })
 *   // → { eventName: 'CancelJob', eventRW: 'Write', sensitive: true, known: true,
 *   //     pathTemplate: '/jobs/:jobid/yarn-cancel', apiVersion: 'v1', params: { jobid: '8c4e…' },
 *   //     resources: { 'ACS::RealtimeCompute::Job': ['8c4e…'] } }
 */
import { RESOURCE_TYPE_PREFIX, type EventRW } from '../event/types.js';
import {
  BODY_VARIANTS,
  FLINK_REST_CATALOG,
  RESOURCE_PARAMS,
  WEB_UI_ASSET_TEMPLATE,
  type CatalogEntry,
  type ResourceType,
} from './flink-rest.js';
import { decodeComponent } from './netty.js';
import type { Classification, ClassifyInput, FlinkApi } from './types.js';

export type { Classification, ClassifyInput, FlinkApi } from './types.js';
export { decodeComponent, decodeQuery, type DecodedQuery } from './netty.js';
export {
  BODY_VARIANTS,
  CATALOG_METHODS,
  RESOURCE_PARAMS,
  RESOURCE_TYPES,
  WEB_UI_ASSET_TEMPLATE,
  type BodyVariant,
  type CatalogEntry,
  type CatalogMethod,
  type ResourceType,
} from './flink-rest.js';

/** The APIs the catalog covers. */
export const FLINK_APIS: readonly FlinkApi[] = Object.freeze(['dispatcher', 'sql_gateway', 'history_server']);

/** `Job` → `ACS::RealtimeCompute::Job`, the key used in `resources`. */
export function resourceTypeKey(type: ResourceType): string {
  return RESOURCE_TYPE_PREFIX + type;
}

/** The catalog rows, all or for one API, in documentation order (for docs and tests). */
export function catalogEntries(api?: FlinkApi): readonly CatalogEntry[] {
  return api === undefined ? FLINK_REST_CATALOG : (ENTRIES_BY_API.get(api) ?? []);
}

// ---------------------------------------------------------------------------------------------
// Compilation (module load)

/** A catalog row prepared for the hot path: everything classify() needs, precomputed. */
interface CompiledEntry {
  readonly entry: CatalogEntry;
  /** `[name, lower-case value]` pairs that must all hold; empty for the plain row. */
  readonly query: readonly (readonly [string, string])[];
  /** `[position of the path parameter, full resource type]`. */
  readonly resourceSlots: readonly (readonly [number, string])[];
}

class TrieNode {
  /** Children by literal segment; tried before the parameter child, as Flink orders routes. */
  literals: Map<string, TrieNode> | null = null;
  /** The child for a `:param` segment (names live in the entry: they can differ per template). */
  param: TrieNode | null = null;
  /** Rows ending here: query-conditioned variants first, the plain row last. */
  leaf: CompiledEntry[] | null = null;
}

const ENTRIES_BY_API = new Map<FlinkApi, readonly CatalogEntry[]>(
  FLINK_APIS.map((api) => [api, Object.freeze(FLINK_REST_CATALOG.filter((e) => e.api === api))]),
);

/** api → method → trie root. */
const ROOTS = new Map<FlinkApi, Map<string, TrieNode>>();
/** api → the static-file catch-all row, for APIs that serve a Web UI. */
const ASSET_ENTRIES = new Map<FlinkApi, CompiledEntry>();

function compile(entry: CatalogEntry): CompiledEntry {
  const resourceSlots: (readonly [number, string])[] = [];
  entry.params.forEach((name, position) => {
    const type = RESOURCE_PARAMS[name];
    if (type !== undefined) resourceSlots.push([position, resourceTypeKey(type)]);
  });
  const query = Object.entries(entry.query ?? {}).map(([k, v]) => [k, v.toLowerCase()] as const);
  return { entry, query, resourceSlots };
}

function addToTrie(compiled: CompiledEntry): void {
  const { entry } = compiled;
  let byMethod = ROOTS.get(entry.api);
  if (byMethod === undefined) ROOTS.set(entry.api, (byMethod = new Map<string, TrieNode>()));
  let node = byMethod.get(entry.method);
  if (node === undefined) byMethod.set(entry.method, (node = new TrieNode()));
  for (const segment of entry.template.split('/').slice(1)) {
    if (segment.startsWith(':')) {
      node = node.param ??= new TrieNode();
    } else {
      node.literals ??= new Map();
      let child = node.literals.get(segment);
      if (child === undefined) node.literals.set(segment, (child = new TrieNode()));
      node = child;
    }
  }
  const leaf = (node.leaf ??= []);
  const key = queryKey(entry);
  if (leaf.some((other) => queryKey(other.entry) === key)) {
    // Fail at load, not at request time: two rows for one route would make the record ambiguous.
    throw new Error(`Flink catalog: duplicate route ${entry.api} ${entry.method} ${entry.template}${key}`);
  }
  leaf.push(compiled);
  // Variants first, so the plain row is the fallback.
  leaf.sort((a, b) => b.query.length - a.query.length);
}

function queryKey(entry: CatalogEntry): string {
  return entry.query ? '?' + new URLSearchParams(entry.query as Record<string, string>).toString() : '';
}

for (const entry of FLINK_REST_CATALOG) {
  const compiled = compile(entry);
  if (entry.template === WEB_UI_ASSET_TEMPLATE) ASSET_ENTRIES.set(entry.api, compiled);
  else addToTrie(compiled);
}
for (const [api, byMethod] of ROOTS) {
  for (const [method, root] of byMethod) assertPlainRows(root, `${api} ${method}`);
}

/** Every route with query variants must also have its plain row, or some calls would not match. */
function assertPlainRows(node: TrieNode, where: string): void {
  if (node.leaf && node.leaf[node.leaf.length - 1]!.query.length > 0) {
    throw new Error(`Flink catalog: ${where} ${node.leaf[0]!.entry.template} has query variants but no plain row`);
  }
  if (node.param) assertPlainRows(node.param, where);
  for (const child of node.literals?.values() ?? []) assertPlainRows(child, where);
}

// ---------------------------------------------------------------------------------------------
// Classification (hot path)

/** Classify one Flink REST call. Never throws for any input path. */
export function classify(input: ClassifyInput): Classification {
  const { api } = input;
  // Node's HTTP parser only lets upper-case methods through; upper-case anything else (tests, other
  // callers) once, rather than on every comparison.
  const method = CANONICAL_METHODS.has(input.method) ? input.method : String(input.method).toUpperCase();
  const decoded = tokenize(input.path);
  // A bad escape: not routed by Flink, so unknown, named from the raw segments.
  const tokens = decoded ?? splitSegments(input.path);

  // Flink serves every route also under a version prefix (`/v1` for the JobManager, `/v1`…`/v4`
  // for the SQL Gateway). Keep a lone `/v1` as a path: no route is registered for it.
  let apiVersion: string | undefined;
  let start = 0;
  if (tokens.length > 1 && isVersionSegment(tokens[0]!)) {
    apiVersion = tokens[0];
    start = 1;
  }

  if (decoded !== null) {
    const root = ROOTS.get(api)?.get(method);
    if (root !== undefined) {
      const values: string[] = [];
      // The History Server answers from files: `/jobs/overview` is `jobs/overview.json` on disk and
      // may be asked for by either name, so both classify the same.
      const node = match(root, api === 'history_server' ? withoutJsonSuffix(tokens, start) : tokens, start, values);
      if (node !== null) return known(pickVariant(node.leaf!, input.query), values, apiVersion);
    }

    const asset = ASSET_ENTRIES.get(api);
    if (asset !== undefined && method === 'GET' && isWebUiAsset(tokens, start)) {
      // Flink's catch-all names the rest of the path `*` (no leading slash; here, no version either).
      return known(asset, [start === 0 ? tokens.join('/') : tokens.slice(start).join('/')], apiVersion);
    }
  }

  return unknown(method, tokens, start, apiVersion);
}

/**
 * The operation a call runs once its body is known: a body variant (BODY_VARIANTS) whose field
 * is set replaces the classification's name, Read/Write and sensitivity; path parameters and
 * resources stay. `body` is the parsed JSON body (or the multipart `request` part).
 *
 * @example
 *   refineByBody(classify({ api: 'dispatcher', method: 'POST', path: '/jobs/<id>/savepoints', query }),
 *     'dispatcher', 'POST', { 'cancel-job': true })   // → eventName 'CancelJobWithSavepoint'
 */
export function refineByBody(cls: Classification, api: FlinkApi, method: string, body: Readonly<Record<string, unknown>>): Classification {
  if (!cls.known) return cls;
  for (const v of BODY_VARIANTS) {
    if (v.api !== api || v.method !== method || v.template !== cls.pathTemplate) continue;
    if (!isSet(body[v.field])) continue;
    return { ...cls, eventName: v.eventName, eventRW: v.eventRW, sensitive: v.sensitive };
  }
  return cls;
}

/**
 * Whether Jackson could read a boolean field as true. Absent, null, false, "false" and 0 are
 * false; everything else counts as set — a value Flink would refuse is treated as the stricter
 * reading, since the gateway authorizes before Flink parses.
 */
function isSet(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === 0) return false;
  if (typeof value === 'string' && value.trim().toLowerCase() === 'false') return false;
  return true;
}

/**
 * Depth-first over the trie, literal child before parameter child, backtracking on a dead end.
 * This picks the same route as Flink's router, which tries routes in the order of
 * RestHandlerUrlComparator (a `:param` segment sorts after every literal) and takes the first match:
 * `/jobs/overview` is GetJobsOverview, `/jobs/overview/config` is GetJobConfig of job "overview".
 */
function match(node: TrieNode, tokens: readonly string[], i: number, values: string[]): TrieNode | null {
  if (i === tokens.length) return node.leaf !== null ? node : null;
  const token = tokens[i]!;
  if (node.literals !== null) {
    const child = node.literals.get(token);
    if (child !== undefined) {
      const found = match(child, tokens, i + 1, values);
      if (found !== null) return found;
    }
  }
  if (node.param !== null) {
    values.push(token);
    const found = match(node.param, tokens, i + 1, values);
    if (found !== null) return found;
    values.pop();
  }
  return null;
}

function pickVariant(leaf: readonly CompiledEntry[], query: URLSearchParams | undefined): CompiledEntry {
  for (let i = 0; i < leaf.length - 1; i++) {
    const variant = leaf[i]!;
    if (query !== undefined && variant.query.every(([name, value]) => firstQueryValue(query, name) === value)) {
      return variant;
    }
  }
  return leaf[leaf.length - 1]!;
}

/**
 * A query parameter as Flink's handlers read it: all values joined with `,`, split on `,`, first
 * item taken — i.e. the first value's first comma-separated item. Case-insensitive because
 * Flink's enum parameters upper-case the value (`mode=STOP` is `stop`).
 */
function firstQueryValue(query: URLSearchParams, name: string): string | null {
  const value = query.get(name);
  if (value === null) return null;
  const comma = value.indexOf(',');
  return (comma < 0 ? value : value.slice(0, comma)).toLowerCase();
}

function known(compiled: CompiledEntry, values: readonly string[], apiVersion: string | undefined): Classification {
  const { entry } = compiled;
  const params: Record<string, string> = {};
  const names = entry.params;
  for (let i = 0; i < names.length; i++) params[names[i]!] = values[i]!;
  const resources: Record<string, string[]> = {};
  for (const [position, type] of compiled.resourceSlots) {
    const value = values[position]!;
    // `/jobs//status` routes in Flink with an empty job id (and fails); it names no resource.
    if (value === '') continue;
    const list = resources[type];
    if (list === undefined) resources[type] = [value];
    else list.push(value);
  }
  const result: Classification = {
    eventName: entry.eventName,
    eventRW: entry.eventRW,
    sensitive: entry.sensitive,
    pathTemplate: entry.template,
    known: true,
    params,
    resources,
  };
  if (apiVersion !== undefined) result.apiVersion = apiVersion;
  return result;
}

const CANONICAL_METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']);
const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function unknown(method: string, tokens: readonly string[], start: number, apiVersion: string | undefined): Classification {
  const template = unknownTemplate(tokens, start);
  const eventRW: EventRW = READ_METHODS.has(method) ? 'Read' : 'Write';
  const result: Classification = {
    eventName: `${method} ${template}`,
    eventRW,
    // Nobody has vetted an uncatalogued write: flag it rather than let it pass unnoticed.
    sensitive: eventRW === 'Write',
    pathTemplate: template,
    known: false,
    params: {},
    resources: {},
  };
  if (apiVersion !== undefined) result.apiVersion = apiVersion;
  return result;
}

// ---------------------------------------------------------------------------------------------
// Paths: tokenising like Flink, version prefixes, static files, unknown-path templates

/**
 * Split a request path into decoded segments exactly as Flink's router does
 * (RouterHandler → QueryStringDecoder.path() → Router.decodePathTokens):
 * 1. the whole path is percent-decoded (`+` stays `+`) — so `%2F` becomes a separator;
 * 2. it is cut at the first `?` — so `%3F` ends the path;
 * 3. slashes at both ends are removed and the rest split on `/` (empty inner segments stay);
 * 4. each segment is percent-decoded again, this time with `+` as space.
 * E.g. `GET /jobs/<id>%2Fyarn-cancel` reaches Flink's cancel handler, and so must classify as
 * CancelJob, not as GetJobDetails of a job called `<id>/yarn-cancel`.
 *
 * Returns null for a bad `%` escape: Flink fails such a request before routing it.
 */
function tokenize(raw: string): string[] | null {
  // The common case: nothing to decode.
  if (raw.indexOf('%') < 0 && raw.indexOf('+') < 0) return splitSegments(raw);
  let path = raw;
  if (path.indexOf('%') >= 0) {
    const decoded = decodeComponent(path, false);
    if (decoded === null) return null;
    path = decoded;
  }
  const tokens = splitSegments(path);
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token.indexOf('%') >= 0 || token.indexOf('+') >= 0) {
      const decoded = decodeComponent(token, true);
      if (decoded === null) return null;
      tokens[i] = decoded;
    }
  }
  return tokens;
}

/**
 * Cut at `?`, then PathPattern.removeSlashesAtBothEnds + split('/'); the root is no segments.
 * (A hand-rolled split: about 2.5x faster than slice + String#split on these short paths.)
 */
function splitSegments(path: string): string[] {
  const q = path.indexOf('?');
  let begin = 0;
  let end = q < 0 ? path.length : q;
  while (begin < end && path.charCodeAt(begin) === 47 /* / */) begin++;
  while (end > begin && path.charCodeAt(end - 1) === 47) end--;
  const tokens: string[] = [];
  if (begin === end) return tokens;
  for (;;) {
    const slash = path.indexOf('/', begin);
    if (slash < 0 || slash >= end) {
      tokens.push(path.slice(begin, end));
      return tokens;
    }
    tokens.push(path.slice(begin, slash));
    begin = slash + 1;
  }
}

function withoutJsonSuffix(tokens: string[], start: number): string[] {
  if (tokens.length === start) return tokens;
  const last = tokens[tokens.length - 1]!;
  if (last.length <= 5 || !last.endsWith('.json')) return tokens;
  const stripped = tokens.slice();
  stripped[stripped.length - 1] = last.slice(0, -5);
  return stripped;
}

function isVersionSegment(token: string): boolean {
  // `v1`…`v4`: the JobManager's only version is v1, the SQL Gateway's are v1–v4.
  return token.length === 2 && token.charCodeAt(0) === 118 /* v */ && token.charCodeAt(1) >= 49 && token.charCodeAt(1) <= 52;
}

/** File types the Flink dashboard is built from. */
const ASSET_EXTENSIONS = new Set([
  'html', 'htm', 'js', 'mjs', 'css', 'map', 'ico', 'png', 'jpg', 'jpeg', 'gif', 'svg', 'webp',
  'woff', 'woff2', 'ttf', 'eot', 'otf', 'txt', 'webmanifest',
]);

/**
 * Whether an unmatched GET is for a static Web UI file: the root (index.html), anything under
 * `/assets/`, or a file with a static extension. Other unmatched GETs (which Flink also hands to
 * its static handler, to answer 404) stay unknown, so a new API route is not hidden as an asset.
 */
function isWebUiAsset(tokens: readonly string[], start: number): boolean {
  if (tokens.length === start) return true;
  if (tokens[start] === 'assets') return true;
  const last = tokens[tokens.length - 1]!;
  const dot = last.lastIndexOf('.');
  return dot > 0 && ASSET_EXTENSIONS.has(last.slice(dot + 1).toLowerCase());
}

const HEX32 = /^[0-9a-fA-F]{32}$/;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const JAR_ID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}_.*\.jar$/;
const NUMBER = /^[0-9]+$/;
/** TaskManager resource ids: `<host>:<port>-<hex>` (standalone / YARN). */
const TASK_MANAGER_ID = /^[\w.-]+:[0-9]+-[0-9a-fA-F]+$/;

function looksLikeId(token: string): boolean {
  return HEX32.test(token) || UUID.test(token) || JAR_ID.test(token) || NUMBER.test(token) || TASK_MANAGER_ID.test(token);
}

/** Bounds the event names that arbitrary unknown paths (scanners, typos) can create. */
const MAX_UNKNOWN_TEMPLATE = 256;
/** Printable ASCII without the characters that break logs, CSV, URLs or shells when quoted. */
const UNSAFE_CHAR = /[^\x21-\x7e]|["<>\\^`{|}]/;

/**
 * `/jobs/:id/frobnicate` for `/jobs/<32 hex>/frobnicate`: ids collapse so that unknown calls
 * group under one name; characters outside printable ASCII are percent-encoded so the name is
 * safe in every sink.
 */
function unknownTemplate(tokens: readonly string[], start: number): string {
  let template = '';
  for (let i = start; i < tokens.length; i++) {
    const token = tokens[i]!;
    template += '/' + (looksLikeId(token) ? ':id' : UNSAFE_CHAR.test(token) ? escapeToken(token) : token);
    if (template.length > MAX_UNKNOWN_TEMPLATE) return template.slice(0, MAX_UNKNOWN_TEMPLATE) + '...';
  }
  return template === '' ? '/' : template;
}

function escapeToken(token: string): string {
  let out = '';
  for (const ch of token) {
    if (!UNSAFE_CHAR.test(ch)) {
      out += ch;
      continue;
    }
    for (const byte of Buffer.from(ch, 'utf8')) out += '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}
