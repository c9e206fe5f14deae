/**
 * What an edit of a Flink custom resource changed, and what the user meant by it.
 *
 * The operator is driven entirely by spec fields: `job.state: suspended` suspends, a new
 * `job.savepointTriggerNonce` takes a savepoint, a new `image` upgrades (operator.md). So the
 * intent of an update or patch is read from *which fields changed*:
 *  - previous spec (our own digest of the last spec seen, or the operator's
 *    `status.reconciliationStatus.lastReconciledSpec`) against the new spec when both are known;
 *  - otherwise the fields a partial patch touches (JSON merge / strategic merge patch, JSON Patch).
 * A full object (update, server-side apply) without a previous spec tells nothing about what
 * changed, and is reported as such rather than guessed.
 *
 * Specs are kept and compared as digests, one per leaf field: the value itself for a short list
 * of fields that never hold secrets (image, parallelism, nonces, job state, ...), an HMAC for
 * everything else. So the record can say `job.state: running → suspended`, and that
 * `flinkConfiguration.s3.secret-key` changed, without any secret ever being stored.
 */
import { createHmac } from 'node:crypto';
import type { FlinkCrd } from './crd.js';

/** path (dotted) → digest token: `v:<json>` (a safe value) or `h:<hmac>`. */
export type SpecDigest = Map<string, string>;

/** Fields (relative to a spec root) whose values are shown in records and kept in digests. */
const SAFE_FIELDS: ReadonlySet<string> = new Set([
  'image',
  'imagePullPolicy',
  'flinkVersion',
  'serviceAccount',
  'mode',
  'restartNonce',
  'deploymentName',
  'job.jarURI',
  'job.entryClass',
  'job.parallelism',
  'job.state',
  'job.upgradeMode',
  'job.allowNonRestoredState',
  'job.initialSavepointPath',
  'job.savepointTriggerNonce',
  'job.checkpointTriggerNonce',
  'job.savepointRedeployNonce',
  'job.autoscalerResetNonce',
  'jobManager.replicas',
  'taskManager.replicas',
  'jobManager.resource.cpu',
  'jobManager.resource.memory',
  'taskManager.resource.cpu',
  'taskManager.resource.memory',
  'jobReference.kind',
  'jobReference.name',
  'savepoint.path',
  'savepoint.formatType',
  'savepoint.disposeOnDelete',
  'savepoint.alreadyExists',
  'checkpoint',
  'backoffLimit',
  'replicas',
]);

const MAX_PATHS = 5000;
const MAX_DEPTH = 32;
const MAX_SAFE_VALUE = 512;

/** The field a dotted path names relative to `spec` or `spec.template.spec`, if any. */
function relative(path: string): string | undefined {
  if (path.startsWith('spec.template.spec.')) return path.slice('spec.template.spec.'.length);
  if (path.startsWith('spec.')) return path.slice('spec.'.length);
  return undefined;
}

export function isSafePath(path: string): boolean {
  const rel = relative(path);
  return rel !== undefined && SAFE_FIELDS.has(rel);
}

function isPlain(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Leaves of `value` under `prefix`: objects are walked, arrays and scalars are leaves (an empty
 * object is a leaf too: `checkpoint: {}` means something). Bounded in depth and count.
 */
export function flatten(value: unknown, prefix: string, out = new Map<string, unknown>(), skipDirectives = false, depth = 0): Map<string, unknown> {
  if (isPlain(value) && Object.keys(value).length > 0 && depth < MAX_DEPTH) {
    for (const [k, v] of Object.entries(value)) {
      if (out.size >= MAX_PATHS) break;
      // Strategic merge patch directives ($patch, $setElementOrder/..., $retainKeys) are not fields.
      if (skipDirectives && k.startsWith('$')) continue;
      flatten(v, prefix ? `${prefix}.${k}` : k, out, skipDirectives, depth + 1);
    }
    return out;
  }
  if (out.size < MAX_PATHS) out.set(prefix, value);
  return out;
}

/** URL credentials never reach a record, even in a "safe" field (`jarURI: https://u:p@…`). */
function scrub(v: unknown): unknown {
  return typeof v === 'string' ? v.replace(/(\b[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/\s:@]*):[^/\s@]+@/g, '$1:******@') : v;
}

export class SpecDigester {
  constructor(private readonly key: string) {}

  token(path: string, value: unknown): string {
    const json = JSON.stringify(value === undefined ? null : value) ?? 'null';
    if (isSafePath(path) && json.length <= MAX_SAFE_VALUE) return `v:${JSON.stringify(scrub(value) ?? null)}`;
    return `h:${createHmac('sha256', this.key).update(path).update('\0').update(json).digest('base64url').slice(0, 22)}`;
  }

  /** Digest of a whole object (e.g. a resource) under `prefix` (usually `spec`). */
  digest(spec: unknown, prefix = 'spec'): SpecDigest {
    const out: SpecDigest = new Map();
    for (const [path, v] of flatten(spec, prefix)) out.set(path, this.token(path, v));
    return out;
  }
}

/** The shown value of a digest token: the value for safe fields, nothing for the rest. */
export function shown(token: string | undefined): { value: unknown } | undefined {
  if (token === undefined || !token.startsWith('v:')) return undefined;
  try {
    return { value: JSON.parse(token.slice(2)) as unknown };
  } catch {
    return undefined;
  }
}

export function serializeDigest(d: SpecDigest): string {
  return JSON.stringify([...d]);
}

export function parseDigest(text: string): SpecDigest | undefined {
  try {
    const pairs = JSON.parse(text) as unknown;
    if (!Array.isArray(pairs)) return undefined;
    return new Map(pairs.filter((p): p is [string, string] => Array.isArray(p) && typeof p[0] === 'string' && typeof p[1] === 'string'));
  } catch {
    return undefined;
  }
}

/** One changed field as recorded: path, and before/after for safe fields. */
export interface Change {
  path: string;
  from?: unknown;
  to?: unknown;
  removed?: true;
}

/** Fields that differ between two digests (added, removed or changed), in path order. */
export function diffDigests(prev: SpecDigest, next: SpecDigest): Change[] {
  const out: Change[] = [];
  const paths = new Set([...prev.keys(), ...next.keys()]);
  for (const path of [...paths].sort()) {
    const a = prev.get(path);
    const b = next.get(path);
    if (a === b) continue;
    const c: Change = { path };
    const from = shown(a);
    const to = shown(b);
    if (from) c.from = from.value;
    if (to) c.to = to.value;
    if (b === undefined) c.removed = true;
    out.push(c);
  }
  return out;
}

/** JSON Pointer `/spec/job/state` → `spec.job.state`. */
function pointerPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
}

export interface Touched {
  /** Path → value the patch sets (undefined if it removes the field or the value is unknown). */
  fields: Map<string, { value?: unknown; removed?: true }>;
  /** Whether the patch is a whole object (update, server-side apply), not a partial change. */
  whole: boolean;
}

/**
 * The fields a request body touches. JSON Patch (an array of ops), merge or strategic merge
 * patches (objects; `null` removes), or a whole object (has apiVersion and kind).
 */
export function touchedFields(body: unknown): Touched {
  const fields: Touched['fields'] = new Map();
  if (Array.isArray(body)) {
    for (const op of body.slice(0, MAX_PATHS)) {
      if (!isPlain(op) || typeof op['path'] !== 'string') continue;
      const path = pointerPath(op['path']);
      switch (op['op']) {
        case 'remove':
          fields.set(path, { removed: true });
          break;
        case 'add':
        case 'replace':
          for (const [p, v] of flatten(op['value'], path)) fields.set(p, { value: v });
          break;
        case 'move':
          if (typeof op['from'] === 'string') fields.set(pointerPath(op['from']), { removed: true });
          fields.set(path, {});
          break;
        case 'copy':
          fields.set(path, {});
          break;
        default:
          break;
      }
    }
    return { fields, whole: false };
  }
  if (!isPlain(body)) return { fields, whole: false };
  for (const [p, v] of flatten(body, '', new Map(), true)) fields.set(p, v === null ? { removed: true } : { value: v });
  return { fields, whole: typeof body['apiVersion'] === 'string' && typeof body['kind'] === 'string' };
}

/**
 * What a user means by an edit (`intents`), most significant first. The event is named after
 * the first of SuspendX, ResumeX, UpgradeX, ScaleX, RestartX, TriggerSavepoint, TriggerCheckpoint;
 * the others (and ChangeUpgradeMode, AllowNonRestoredState, ResetAutoscaler,
 * SetInitialSavepointPath, RedeployFromSavepoint) are listed in `additionalEventData.intents`.
 */
export const INTENT_ORDER = [
  'Suspend',
  'Resume',
  'Upgrade',
  'Scale',
  'Restart',
  'RedeployFromSavepoint',
  'TriggerSavepoint',
  'TriggerCheckpoint',
  'ChangeUpgradeMode',
  'AllowNonRestoredState',
  'SetInitialSavepointPath',
  'ResetAutoscaler',
] as const;
export type Intent = (typeof INTENT_ORDER)[number];

const FIELD_INTENTS: Readonly<Record<string, Intent>> = {
  image: 'Upgrade',
  flinkVersion: 'Upgrade',
  'job.jarURI': 'Upgrade',
  'job.parallelism': 'Scale',
  'taskManager.replicas': 'Scale',
  restartNonce: 'Restart',
  'job.savepointRedeployNonce': 'RedeployFromSavepoint',
  'job.savepointTriggerNonce': 'TriggerSavepoint',
  'job.checkpointTriggerNonce': 'TriggerCheckpoint',
  'job.upgradeMode': 'ChangeUpgradeMode',
  'job.allowNonRestoredState': 'AllowNonRestoredState',
  'job.initialSavepointPath': 'SetInitialSavepointPath',
  'job.autoscalerResetNonce': 'ResetAutoscaler',
};

/** Intents of a set of changes to a resource of `crd`. */
export function intentsOf(crd: FlinkCrd, changes: readonly Change[]): Intent[] {
  if (crd.kind === 'FlinkStateSnapshot') return [];
  const found = new Set<Intent>();
  const root = `${crd.specRoot}.`;
  for (const c of changes) {
    if (!c.path.startsWith(root)) continue;
    const rel = c.path.slice(root.length);
    if (rel === 'job.state') {
      if (c.to === 'suspended') found.add('Suspend');
      else if (c.to === 'running' || (c.removed && c.from === 'suspended')) found.add('Resume');
      continue;
    }
    const intent = FIELD_INTENTS[rel];
    if (intent && !(c.removed && intent !== 'Upgrade' && intent !== 'Scale')) found.add(intent);
  }
  return INTENT_ORDER.filter((i) => found.has(i));
}

/** Event name for the main intent (`SuspendDeployment`, `TriggerSavepoint`) or `Update<noun>`. */
export function eventNameOf(crd: FlinkCrd, intents: readonly Intent[]): string {
  const first = intents.find((i) => i !== 'ChangeUpgradeMode' && i !== 'AllowNonRestoredState' && i !== 'SetInitialSavepointPath' && i !== 'ResetAutoscaler');
  switch (first) {
    case undefined:
      return `Update${crd.noun}`;
    case 'TriggerSavepoint':
    case 'TriggerCheckpoint':
      return first;
    case 'RedeployFromSavepoint':
      return `Restart${crd.noun}`;
    case 'Suspend':
    case 'Resume':
    case 'Upgrade':
    case 'Scale':
    case 'Restart':
      return `${first}${crd.noun}`;
    default:
      return `Update${crd.noun}`;
  }
}
