/**
 * Kubernetes audit bodies → validated audit events.
 *
 * Two shapes arrive: the webhook backend's `EventList` (`audit.k8s.io/v1`, or `v1beta1` from
 * older API servers) and the log backend's JSON lines, one `Event` per line (imports of
 * `--audit-log-path` files or of a managed control plane's log export). The list as a whole must
 * be right (kind, apiVersion, `items` a list) or the body is refused with a coded 400; each event
 * is then checked on its own (schema compiled once, below) and a bad one is reported in
 * `rejected` while the good ones are kept — refusing the whole batch would make the API server
 * retry it five times and then drop the good events with the bad.
 *
 * Field reference: kubernetes/apiserver `pkg/apis/audit/v1/types.go` (shared/reference/k8s-audit).
 */
import AjvModule from 'ajv';
import addFormatsModule from 'ajv-formats';
import { FlinkTrailError } from '../../errors/index.js';
import type { JsonLine, Rejected } from '../../http/body.js';

export const AUDIT_API_VERSIONS = ['audit.k8s.io/v1', 'audit.k8s.io/v1beta1'] as const;

/** The audit stages (`stage`). */
export const STAGES = ['RequestReceived', 'ResponseStarted', 'ResponseComplete', 'Panic'] as const;
export type Stage = (typeof STAGES)[number];

export interface UserInfo {
  username: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

export interface ObjectReference {
  resource?: string;
  namespace?: string;
  name?: string;
  uid?: string;
  apiGroup?: string;
  apiVersion?: string;
  resourceVersion?: string;
  subresource?: string;
}

/** One audit event (the fields FlinkTrail reads). */
export interface AuditEvent {
  apiVersion?: string;
  kind?: string;
  level?: 'None' | 'Metadata' | 'Request' | 'RequestResponse';
  auditID: string;
  stage: Stage;
  requestURI?: string;
  verb: string;
  user: UserInfo;
  impersonatedUser?: UserInfo;
  sourceIPs?: string[];
  userAgent?: string;
  objectRef?: ObjectReference;
  responseStatus?: { code?: number; status?: string; message?: string; reason?: string };
  requestObject?: unknown;
  responseObject?: unknown;
  requestReceivedTimestamp?: string;
  stageTimestamp?: string;
  /** v1beta1 only. */
  timestamp?: string;
  annotations?: Record<string, string>;
}

const userInfo = {
  type: 'object',
  required: ['username'],
  properties: {
    username: { type: 'string', maxLength: 1024 },
    uid: { type: 'string', maxLength: 256 },
    groups: { type: 'array', maxItems: 256, items: { type: 'string', maxLength: 1024 } },
    extra: { type: 'object' },
  },
} as const;

const str = (max: number) => ({ type: 'string', maxLength: max }) as const;

const eventSchema = {
  type: 'object',
  required: ['auditID', 'stage', 'verb', 'user'],
  anyOf: [{ required: ['requestReceivedTimestamp'] }, { required: ['timestamp'] }],
  properties: {
    apiVersion: { enum: AUDIT_API_VERSIONS },
    kind: { const: 'Event' },
    level: { enum: ['None', 'Metadata', 'Request', 'RequestResponse'] },
    auditID: { type: 'string', minLength: 1, maxLength: 128 },
    stage: { enum: STAGES },
    requestURI: str(16384),
    verb: { type: 'string', minLength: 1, maxLength: 64 },
    user: userInfo,
    impersonatedUser: userInfo,
    sourceIPs: { type: 'array', maxItems: 64, items: str(64) },
    userAgent: str(4096),
    objectRef: {
      type: 'object',
      properties: {
        resource: str(256),
        namespace: str(256),
        name: str(512),
        uid: str(128),
        apiGroup: str(256),
        apiVersion: str(128),
        resourceVersion: str(128),
        subresource: str(256),
      },
    },
    responseStatus: {
      type: 'object',
      properties: { code: { type: 'integer', minimum: 0, maximum: 999 }, status: { type: 'string' }, message: { type: 'string' }, reason: { type: 'string' } },
    },
    requestReceivedTimestamp: { type: 'string', format: 'date-time' },
    stageTimestamp: { type: 'string', format: 'date-time' },
    timestamp: { type: 'string', format: 'date-time' },
    annotations: { type: 'object', additionalProperties: { type: 'string' } },
  },
} as const;

// ajv and ajv-formats are CommonJS; under NodeNext their default export is the module object.
const Ajv = AjvModule.default;
const addFormats = addFormatsModule.default;
const ajv = new Ajv({ allErrors: false, strict: false });
addFormats(ajv, ['date-time']);
const validateEvent = ajv.compile<AuditEvent>(eventSchema);

export interface ParsedBatch {
  /** Valid events with their position in the body. */
  events: { index: number; event: AuditEvent }[];
  rejected: Rejected[];
}

function reject(index: number, code: 'FT_ERR_KUBERNETES_INVALID_EVENT' | 'FT_ERR_KUBERNETES_UNSUPPORTED_VERSION', ...args: unknown[]): Rejected {
  const e = new FlinkTrailError(code, ...args);
  return { index, code: e.code, message: e.message };
}

/** Checks one event; returns it or why not. */
export function checkEvent(value: unknown, index: number): { event: AuditEvent } | { rejected: Rejected } {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const v = (value as { apiVersion?: unknown }).apiVersion;
    if (v !== undefined && !(AUDIT_API_VERSIONS as readonly unknown[]).includes(v)) {
      return { rejected: reject(index, 'FT_ERR_KUBERNETES_UNSUPPORTED_VERSION', JSON.stringify(v).slice(0, 80)) };
    }
  }
  if (validateEvent(value)) return { event: value };
  const err = validateEvent.errors?.[0];
  const where = err?.instancePath ? err.instancePath.slice(1).replace(/\//g, '.') : 'event';
  return { rejected: reject(index, 'FT_ERR_KUBERNETES_INVALID_EVENT', index, `${where} ${err?.message ?? 'is invalid'}`) };
}

/** Most events per body: the webhook sends at most `--audit-webhook-batch-max-size` (400 by default). */
export const MAX_EVENTS = 100_000;

/** An `EventList` as the webhook backend sends it. Structural problems throw a coded 400. */
export function parseEventList(body: unknown): ParsedBatch {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new FlinkTrailError('FT_ERR_KUBERNETES_INVALID_BODY', `expected a JSON object, got ${Array.isArray(body) ? 'an array' : typeof body}`);
  }
  const list = body as { kind?: unknown; apiVersion?: unknown; items?: unknown };
  if (list.apiVersion !== undefined && !(AUDIT_API_VERSIONS as readonly unknown[]).includes(list.apiVersion)) {
    throw new FlinkTrailError('FT_ERR_KUBERNETES_UNSUPPORTED_VERSION', JSON.stringify(list.apiVersion).slice(0, 80));
  }
  if (list.kind !== 'EventList') {
    throw new FlinkTrailError('FT_ERR_KUBERNETES_INVALID_BODY', `kind must be "EventList", got ${JSON.stringify(list.kind ?? null).slice(0, 80)}`);
  }
  if (list.apiVersion === undefined) throw new FlinkTrailError('FT_ERR_KUBERNETES_UNSUPPORTED_VERSION', '(missing)');
  if (!Array.isArray(list.items)) throw new FlinkTrailError('FT_ERR_KUBERNETES_INVALID_BODY', 'items must be a list');
  if (list.items.length > MAX_EVENTS) throw new FlinkTrailError('FT_ERR_KUBERNETES_INVALID_BODY', `more than ${MAX_EVENTS} items`);
  const out: ParsedBatch = { events: [], rejected: [] };
  (list.items as unknown[]).forEach((item, index) => {
    const r = checkEvent(item, index);
    if ('event' in r) out.events.push({ index, event: r.event });
    else out.rejected.push(r.rejected);
  });
  return out;
}

/** JSON lines of single events, as the log backend writes them. */
export function parseEventLines(lines: readonly JsonLine[]): ParsedBatch {
  if (lines.length === 0) throw new FlinkTrailError('FT_ERR_KUBERNETES_INVALID_BODY', 'no events in the JSON lines');
  if (lines.length > MAX_EVENTS) throw new FlinkTrailError('FT_ERR_KUBERNETES_INVALID_BODY', `more than ${MAX_EVENTS} lines`);
  const out: ParsedBatch = { events: [], rejected: [] };
  for (const line of lines) {
    if ('error' in line) {
      out.rejected.push(reject(line.index, 'FT_ERR_KUBERNETES_INVALID_EVENT', line.index, line.error));
      continue;
    }
    const r = checkEvent(line.value, line.index);
    if ('event' in r) out.events.push({ index: line.index, event: r.event });
    else out.rejected.push(r.rejected);
  }
  return out;
}
