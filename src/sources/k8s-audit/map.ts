/**
 * One Kubernetes audit event → one ActionTrail event (or nothing).
 *
 * Only final stages are recorded: `ResponseComplete` (and `Panic`) carry the outcome;
 * `RequestReceived` and `ResponseStarted` of the same request are skipped, so a request is one
 * event. Only the Flink operator's resources are recorded (other API groups are skipped and
 * counted). The event id is derived from (auditID, stage), so a batch the API server delivers
 * twice lands on the same id and is stored once.
 *
 * The record keeps a summary, never the objects: which fields changed (values only for fields
 * that cannot hold secrets, see diff.ts), a short spec summary on create, the response code —
 * not `requestObject` or `responseObject` themselves.
 */
import { createHash } from 'node:crypto';
import { finishEvent, newEvent } from '../../event/build.js';
import { EVENT_SOURCES, RESOURCE_TYPE_PREFIX, type ActionTrailEvent, type IdentityType, type Outcome } from '../../event/types.js';
import { flinkCrdOf, type FlinkCrd } from './crd.js';
import {
  diffDigests,
  eventNameOf,
  flatten,
  intentsOf,
  isSafePath,
  shown,
  touchedFields,
  type Change,
  type Intent,
  type SpecDigest,
  type SpecDigester,
} from './diff.js';
import type { AuditEvent } from './parse.js';

/** Last known state of one resource (see state.ts). */
export interface ObjectState {
  uid?: string;
  resourceVersion?: string;
  digest: SpecDigest;
}

/** What the receiver should do with its object state after recording an event. */
export type StateChange = { op: 'put'; key: ObjectKey; state: ObjectState } | { op: 'delete'; key: ObjectKey };

export interface ObjectKey {
  cluster: string;
  resource: string;
  namespace: string;
  name: string;
}

export interface MapContext {
  /**
   * The account that owns the cluster the events come from (`clusters[].account` of the
   * configured cluster of that name, else the management account): the events'
   * `recipientAccountId`, and the account of the Kubernetes users in them.
   */
  accountId: string;
  serviceName: string;
  region: string;
  cluster: string;
  recordReads: boolean;
  isOperator(userName: string): boolean;
  digester: SpecDigester;
  previous(key: ObjectKey): ObjectState | undefined;
}

export type SkipReason = 'stage' | 'not-flink' | 'read';
export type MapResult = { skip: SkipReason } | { event: ActionTrailEvent; state?: StateChange };

const NAMESPACE_UUID = Buffer.from('b6f1c1d27a3e4f1e9c552f0e4a1d8b73', 'hex');

/** RFC 4122 name-based (v5) UUID: the same (auditID, stage) always gives the same event id. */
export function auditEventId(auditID: string, stage: string): string {
  const h = createHash('sha1').update(NAMESPACE_UUID).update(`${auditID}\0${stage}`).digest();
  h[6] = ((h[6] as number) & 0x0f) | 0x50;
  h[8] = ((h[8] as number) & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

const READ_VERBS = new Set(['get', 'list', 'watch']);
const MAX_CHANGES = 50;
const HEX32 = /^[0-9a-fA-F]{32}$/;

const STATUS_REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  410: 'Gone',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

function isPlain(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function get(v: unknown, ...path: string[]): unknown {
  let cur = v;
  for (const k of path) {
    if (!isPlain(cur)) return undefined;
    cur = cur[k];
  }
  return cur;
}

function str(v: unknown, max = 512): string | undefined {
  return typeof v === 'string' && v !== '' ? v.slice(0, max) : undefined;
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function identityType(userName: string): IdentityType {
  if (userName === 'system:anonymous') return 'anonymous';
  // A workload identity: the closest ActionTrail type is a role session.
  if (userName.startsWith('system:serviceaccount:')) return 'assumed-role';
  return 'ram-user';
}

/** A resource version newer than another? Opaque strings, numeric in practice (etcd revisions). */
function newer(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined || !/^\d{1,30}$/.test(a) || !/^\d{1,30}$/.test(b)) return true;
  return BigInt(a) > BigInt(b);
}

/** The operator's `lastReconciledSpec` (a JSON string, `{spec, resource_metadata}` or the bare spec). */
function lastReconciledSpec(obj: unknown): unknown {
  const text = get(obj, 'status', 'reconciliationStatus', 'lastReconciledSpec');
  if (typeof text !== 'string' || text.length > 4 * 1024 * 1024) return undefined;
  try {
    const parsed = JSON.parse(text) as unknown;
    if (isPlain(parsed) && isPlain(parsed['spec'])) return parsed['spec'];
    return isPlain(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** The full object of this kind in a body (responseObject of a write, requestObject of an update). */
function objectOf(crd: FlinkCrd, body: unknown): Record<string, unknown> | undefined {
  if (!isPlain(body)) return undefined;
  const kind = body['kind'];
  if (kind !== undefined && kind !== crd.kind) return undefined;
  return isPlain(body['metadata']) || isPlain(body['spec']) ? body : undefined;
}

/** Safe fields of a spec, for the record of a create. */
function specSummary(spec: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [path, v] of flatten(spec, 'spec')) {
    if (!isSafePath(path)) continue;
    const s = shown(`v:${JSON.stringify(v ?? null)}`);
    if (s && JSON.stringify(v ?? null).length <= 512) out[path] = s.value;
  }
  return out;
}

/** Applies a partial patch's touched fields to a digest (for the next diff). */
function patchDigest(prev: SpecDigest, touched: ReturnType<typeof touchedFields>, digester: SpecDigester): SpecDigest {
  const next = new Map(prev);
  for (const [path, t] of touched.fields) {
    if (!path.startsWith('spec.') && path !== 'spec') continue;
    for (const p of [...next.keys()]) if (p === path || p.startsWith(`${path}.`)) next.delete(p);
    if (!t.removed && 'value' in t) next.set(path, digester.token(path, t.value));
  }
  return next;
}

interface Changes {
  changes: Change[];
  /** Nothing to compare against and a whole object: what changed is unknown. */
  unknown: boolean;
  next?: SpecDigest;
}

function changesOf(crd: FlinkCrd, ev: AuditEvent, prevState: ObjectState | undefined, ctx: MapContext): Changes {
  const response = objectOf(crd, ev.responseObject);
  const request = objectOf(crd, ev.requestObject);
  const whole = response ?? (ev.verb === 'update' ? request : undefined);
  const newRv = str(get(whole, 'metadata', 'resourceVersion'), 64);
  const next = whole && isPlain(whole['spec']) ? ctx.digester.digest(whole['spec']) : undefined;

  let prev: SpecDigest | undefined;
  if (prevState && newer(newRv, prevState.resourceVersion)) prev = prevState.digest;
  else {
    const reconciled = lastReconciledSpec(response ?? request);
    if (reconciled !== undefined) prev = ctx.digester.digest(reconciled);
  }

  const touched = ev.requestObject !== undefined ? touchedFields(ev.requestObject) : undefined;
  if (prev && next) return { changes: diffDigests(prev, next), unknown: false, next };
  if (touched && !touched.whole && ev.verb === 'patch') {
    const changes: Change[] = [];
    for (const [path, t] of touched.fields) {
      if (path.startsWith('status') || path.startsWith('metadata.managedFields') || path === 'metadata.resourceVersion') continue;
      const before = prev?.get(path);
      if (prev && !t.removed && 'value' in t && before === ctx.digester.token(path, t.value)) continue;
      if (prev && t.removed && before === undefined) continue;
      const c: Change = { path };
      const from = shown(before);
      if (from) c.from = from.value;
      if (t.removed) c.removed = true;
      else if ('value' in t && isSafePath(path)) c.to = shown(ctx.digester.token(path, t.value))?.value;
      changes.push(c);
    }
    return { changes, unknown: false, ...(next ? { next } : prev ? { next: patchDigest(prev, touched, ctx.digester) } : {}) };
  }
  return { changes: [], unknown: true, ...(next ? { next } : {}) };
}

/**
 * The Flink custom resource an audit event is about, or undefined (not a Flink resource, or no
 * name anywhere in it): what the receiver reads the previous state of before mapping.
 */
export function objectKeyOf(ev: AuditEvent, cluster: string): ObjectKey | undefined {
  const ref = ev.objectRef ?? {};
  const crd = flinkCrdOf(ref.apiGroup, ref.resource);
  if (!crd) return undefined;
  const response = objectOf(crd, ev.responseObject);
  const request = objectOf(crd, ev.requestObject);
  const name =
    str(ref.name, 253) ?? str(get(response, 'metadata', 'name'), 253) ?? str(get(request, 'metadata', 'name'), 253) ?? str(get(ev.responseObject, 'details', 'name'), 253);
  const namespace = str(ref.namespace, 253) ?? str(get(response, 'metadata', 'namespace'), 253) ?? '';
  return name ? { cluster, resource: crd.plural, namespace, name } : undefined;
}

/**
 * Maps one audit event. Pure apart from `ctx.previous` (the object state, read by the caller
 * beforehand for `objectKeyOf(ev)`).
 */
export function mapAuditEvent(ev: AuditEvent, ctx: MapContext): MapResult {
  if (ev.stage !== 'ResponseComplete' && ev.stage !== 'Panic') return { skip: 'stage' };
  const ref = ev.objectRef ?? {};
  const crd = flinkCrdOf(ref.apiGroup, ref.resource);
  if (!crd) return { skip: 'not-flink' };
  const verb = ev.verb.toLowerCase();
  const read = READ_VERBS.has(verb);
  if (read && !ctx.recordReads) return { skip: 'read' };

  const sub = ref.subresource ?? '';
  const response = objectOf(crd, ev.responseObject);
  const request = objectOf(crd, ev.requestObject);
  const key = objectKeyOf(ev, ctx.cluster);
  const name = key?.name;
  const namespace = key?.namespace ?? str(ref.namespace, 253) ?? str(get(response, 'metadata', 'namespace'), 253) ?? '';
  const prevState = key ? ctx.previous(key) : undefined;
  const uid =
    str(get(response, 'metadata', 'uid'), 128) ??
    str(get(ev.responseObject, 'details', 'uid'), 128) ??
    str(ref.uid, 128) ??
    str(get(request, 'metadata', 'uid'), 128) ??
    prevState?.uid;

  const code = ev.responseStatus?.code;
  const ok = ev.stage === 'ResponseComplete' && code !== undefined && code >= 200 && code < 300;
  const data: Record<string, unknown> = {
    cluster: ctx.cluster,
    namespace,
    auditId: ev.auditID,
    auditStage: ev.stage,
    ...(ev.level ? { auditLevel: ev.level } : {}),
    userGroups: (ev.user.groups ?? []).slice(0, 64),
    sourceIPs: (ev.sourceIPs ?? []).slice(0, 16),
  };
  if (ev.impersonatedUser) data['impersonatedUser'] = { userName: ev.impersonatedUser.username, groups: (ev.impersonatedUser.groups ?? []).slice(0, 64) };
  const decision = ev.annotations?.['authorization.k8s.io/decision'];
  const reason = ev.annotations?.['authorization.k8s.io/reason'];
  if (decision) data['authzDecision'] = decision.slice(0, 32);
  if (reason) data['authzReason'] = reason.slice(0, 1024);
  if (ev.annotations?.['audit.k8s.io/truncated'] === 'true') data['auditTruncated'] = true;
  const query = (ev.requestURI ?? '').split('?')[1] ?? '';
  if (/(^|&)dryRun=/.test(query)) data['dryRun'] = true;

  const params: Record<string, unknown> = {
    verb,
    ...(ev.requestURI ? { requestURI: ev.requestURI.slice(0, 2048) } : {}),
    apiVersion: `${ref.apiGroup ?? ''}/${ref.apiVersion ?? ''}`,
    resource: sub ? `${crd.plural}/${sub}` : crd.plural,
    ...(namespace ? { namespace } : {}),
    ...(name ? { name } : {}),
  };
  const resources: Record<string, string[]> = { [RESOURCE_TYPE_PREFIX + crd.noun]: [uid, name].filter((x): x is string => !!x) };
  const addResource = (type: string, id: string | undefined) => {
    if (!id) return;
    const list = (resources[RESOURCE_TYPE_PREFIX + type] ??= []);
    if (!list.includes(id)) list.push(id);
  };

  // The resources this one points at: a session job's cluster, a snapshot's job, the Flink job.
  const spec = get(response, 'spec') ?? get(request, 'spec');
  if (crd.kind === 'FlinkSessionJob') addResource('Deployment', str(get(spec, 'deploymentName'), 253));
  if (crd.kind === 'FlinkStateSnapshot') {
    const refKind = get(spec, 'jobReference', 'kind');
    addResource(refKind === 'FlinkSessionJob' ? 'SessionJob' : 'Deployment', str(get(spec, 'jobReference', 'name'), 253));
  }
  const jobStatus = get(response, 'status', 'jobStatus') ?? get(ev.requestObject, 'status', 'jobStatus');
  const jobId = str(get(jobStatus, 'jobId'), 64);
  if (jobId && HEX32.test(jobId)) {
    addResource('Job', jobId.toLowerCase());
    addResource('Job', str(get(jobStatus, 'jobName'), 256));
  }

  let eventName: string;
  let sensitive: boolean;
  let intents: Intent[] = [];
  let state: StateChange | undefined;
  if (sub === 'status') {
    eventName = read ? `Get${crd.noun}Status` : `Update${crd.noun}Status`;
    sensitive = false;
    const status = get(response, 'status') ?? get(ev.requestObject, 'status');
    const lifecycle = str(get(status, 'lifecycleState'), 64);
    const jobState = str(get(status, 'jobStatus', 'state'), 64);
    if (lifecycle) data['lifecycleState'] = lifecycle;
    if (jobState) data['jobState'] = jobState;
  } else if (sub === 'scale') {
    eventName = read ? `Get${crd.noun}Scale` : `Scale${crd.noun}`;
    sensitive = !read;
    if (!read) {
      intents = ['Scale'];
      const replicas = get(ev.requestObject, 'spec', 'replicas') ?? get(ev.responseObject, 'spec', 'replicas');
      const before = prevState ? shown(prevState.digest.get('spec.taskManager.replicas')) : undefined;
      const c: Change = { path: 'spec.taskManager.replicas' };
      if (before) c.from = before.value;
      if (typeof replicas === 'number') c.to = replicas;
      params['changes'] = [c];
      if (ok && key && prevState && typeof replicas === 'number') {
        const digest = new Map(prevState.digest);
        digest.set('spec.taskManager.replicas', ctx.digester.token('spec.taskManager.replicas', replicas));
        const rv = str(get(ev.responseObject, 'metadata', 'resourceVersion'), 64);
        state = { op: 'put', key, state: { ...(prevState.uid ? { uid: prevState.uid } : {}), ...(rv ? { resourceVersion: rv } : {}), digest } };
      }
    }
  } else if (sub !== '') {
    eventName = `${cap(verb)}${crd.noun}${cap(sub)}`;
    sensitive = !read;
  } else {
    switch (verb) {
      case 'get':
        eventName = `Get${crd.noun}`;
        sensitive = false;
        break;
      case 'list':
      case 'watch':
        eventName = `${cap(verb)}${crd.noun}s`;
        sensitive = false;
        break;
      case 'create': {
        eventName = `Create${crd.noun}`;
        // Asking for a snapshot is an ordinary write; deploying or changing a cluster is not.
        sensitive = crd.kind !== 'FlinkStateSnapshot';
        const summary = specSummary(spec);
        if (Object.keys(summary).length) params['specSummary'] = summary;
        if (crd.kind === 'FlinkDeployment') data['deploymentMode'] = isPlain(get(spec, 'job')) ? 'application' : 'session';
        if (crd.kind === 'FlinkStateSnapshot') {
          const type = get(spec, 'savepoint') !== undefined ? 'savepoint' : get(spec, 'checkpoint') !== undefined ? 'checkpoint' : undefined;
          if (type) data['snapshotType'] = type;
          if (type === 'savepoint' && get(spec, 'savepoint', 'alreadyExists') !== true) intents = ['TriggerSavepoint'];
          if (type === 'checkpoint') intents = ['TriggerCheckpoint'];
        }
        if (ok && key && isPlain(spec)) {
          const rv = str(get(response, 'metadata', 'resourceVersion'), 64);
          state = { op: 'put', key, state: { ...(uid ? { uid } : {}), ...(rv ? { resourceVersion: rv } : {}), digest: ctx.digester.digest(spec) } };
        }
        break;
      }
      case 'delete':
      case 'deletecollection':
        eventName = `Delete${crd.noun}`;
        sensitive = true;
        if (verb === 'deletecollection') data['deleteCollection'] = true;
        if (ok && key && verb === 'delete' && !data['dryRun']) state = { op: 'delete', key };
        break;
      case 'update':
      case 'patch': {
        const found = changesOf(crd, ev, prevState, ctx);
        intents = intentsOf(crd, found.changes);
        eventName = eventNameOf(crd, intents);
        sensitive = !(intents.length > 0 && intents.every((i) => i === 'TriggerSavepoint' || i === 'TriggerCheckpoint' || i === 'ResetAutoscaler'));
        if (found.changes.length) {
          params['changes'] = found.changes.slice(0, MAX_CHANGES);
          if (found.changes.length > MAX_CHANGES) params['changesTruncated'] = found.changes.length - MAX_CHANGES;
        }
        if (found.unknown) data['previousStateUnknown'] = true;
        if (ok && key && found.next && !data['dryRun']) {
          const rv = str(get(response, 'metadata', 'resourceVersion'), 64);
          state = { op: 'put', key, state: { ...(uid ? { uid } : {}), ...(rv ? { resourceVersion: rv } : {}), digest: found.next } };
        }
        break;
      }
      default:
        eventName = `${cap(verb.replace(/[^a-z]/g, ''))}${crd.noun}`;
        sensitive = true;
    }
  }
  if (intents.length) data['intents'] = intents;
  if (data['dryRun'] && state?.op === 'put') state = undefined;

  const time = new Date(ev.requestReceivedTimestamp ?? ev.timestamp ?? Date.now());
  const end = ev.stageTimestamp ? Date.parse(ev.stageTimestamp) : NaN;
  const userName = ev.user.username;
  const e = newEvent({
    eventId: auditEventId(ev.auditID, ev.stage),
    eventName,
    eventRW: read ? 'Read' : 'Write',
    eventType: ctx.isOperator(userName) ? 'AliyunServiceEvent' : 'ApiCall',
    eventSource: EVENT_SOURCES.kubernetes,
    serviceName: ctx.serviceName,
    acsRegion: ctx.region,
    recipientAccountId: ctx.accountId,
    sourceIpAddress: ev.sourceIPs?.[0] ?? '',
    userAgent: (ev.userAgent ?? '').slice(0, 1024),
    userIdentity: {
      type: identityType(userName),
      principalId: (ev.user.uid || userName).slice(0, 256),
      accountId: ctx.accountId,
      userName: userName.slice(0, 256),
    },
    requestId: ev.auditID,
    time,
    requestParameters: params,
    referencedResources: resources,
    additionalEventData: { ...data, sensitive },
  });

  let outcome: Exclude<Outcome, 'pending'>;
  let errorCode: string | undefined;
  let errorMessage: string | undefined;
  if (ev.stage === 'Panic') {
    // The API server crashed handling the request; the change may or may not have been stored.
    outcome = 'unknown';
    errorCode = 'Kubernetes.Panic';
    errorMessage = (ev.responseStatus?.message ?? 'The API server panicked while handling the request.').slice(0, 2048);
  } else if (code === undefined) {
    outcome = 'unknown';
  } else if (ok) {
    outcome = 'success';
  } else {
    outcome = 'failure';
    errorCode = `Kubernetes.${str(ev.responseStatus?.reason, 64) ?? STATUS_REASONS[code] ?? `Http${code}`}`;
    errorMessage = (ev.responseStatus?.message ?? '').slice(0, 2048);
  }
  const responseElements: Record<string, unknown> = {};
  if (code !== undefined) responseElements['code'] = code;
  const rv = str(get(response, 'metadata', 'resourceVersion'), 64);
  const generation = get(response, 'metadata', 'generation');
  if (rv && !read) responseElements['resourceVersion'] = rv;
  if (typeof generation === 'number' && !read) responseElements['generation'] = generation;

  const event = finishEvent(e, {
    outcome,
    ...(code !== undefined ? { httpStatus: code } : {}),
    ...(Number.isFinite(end) && end >= time.getTime() ? { latencyMs: end - time.getTime() } : {}),
    responseElements,
    ...(errorCode ? { errorCode, errorMessage: errorMessage ?? '' } : {}),
  });
  return state ? { event, state } : { event };
}
