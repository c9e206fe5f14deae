/**
 * Who may: built-in roles and custom policies, one decision function.
 *
 * An action is `<service>:<eventName>` — `RealtimeCompute:CancelJob` for Flink operations,
 * `Actiontrail:LookupEvents` for FlinkTrail's own API. A resource is `cluster/<name>` or
 * `cluster/<name>/job/<job id or name>`. Policies are documents of statements
 * `{Effect: Allow|Deny, Action: [...], Resource: [...]}` with `*` wildcards, attached to users
 * on top of their role. **Deny wins**: any matching Deny refuses; otherwise the role or any
 * matching Allow permits; otherwise the call is refused.
 *
 * Job names: a statement may name a job by id or by name. A caller whose subject has such
 * statements (`needsJobNames`) must pass the job's name too, looked up from Flink before deciding;
 * when the name cannot be found it passes `jobNamesUnknown`, and every job-naming Deny applies.
 */
import { LEVELS, levelOf, type FlinkAction, type Level } from './levels.js';

export { levelOf, LEVELS, type FlinkAction, type Level } from './levels.js';

export const ROLE_NAMES = ['viewer', 'operator', 'developer', 'admin', 'auditor'] as const;
export type RoleName = (typeof ROLE_NAMES)[number];

/** The highest Flink level each role reaches (`auditor`: none). */
export const ROLE_FLINK_LEVEL: Record<RoleName, Level | null> = {
  viewer: 'read',
  operator: 'operate',
  developer: 'develop',
  admin: 'admin',
  auditor: null,
};

/** FlinkTrail's own API actions, by who may call them. */
export const FLINKTRAIL_ACTIONS = {
  /** Anyone signed in. */
  self: ['GetCallerIdentity', 'ConsoleSignout', 'GetDigestPublicKeys', 'DescribeRegions', 'GetGlobalEventsStorageRegion'],
  /**
   * Reading the audit trail: auditor and admin. `ListAccounts` too: the accounts are what an
   * auditor of the management account picks between (its answer is scoped to the caller's
   * account: a member's auditor or admin gets its own account only); creating and deleting
   * accounts stay admin only.
   */
  audit: ['LookupEvents', 'GetEvent', 'GetEventHistogram', 'ExportEvents', 'DescribeTrails', 'GetTrailStatus', 'ListDeliveryHistoryJobs', 'GetMetrics', 'ListAccounts'],
  /** Everything else (keys, users, policies, trails, ingest, Kubernetes audit): admin only. */
} as const;

/**
 * FlinkTrail's management actions (keys, users, policies, trails, ingest): admin only. Listed here
 * for the console's event-name list and the access-control reference.
 */
export const MANAGEMENT_ACTIONS = [
  'ListUsers', 'CreateUser', 'UpdateUser', 'DeleteUser', 'ListAccessKeys', 'CreateAccessKey', 'UpdateAccessKey', 'DeleteAccessKey', 'RotateAccessKey',
  'ListPolicies', 'CreatePolicy', 'DeletePolicy', 'AttachPolicyToUser', 'DetachPolicyFromUser', 'ListSignInThrottles', 'UnlockSignIn',
  'CreateTrail', 'UpdateTrail', 'DeleteTrail', 'StartLogging', 'StopLogging', 'CreateDeliveryHistoryJob', 'IngestEvents',
  'CreateAccount', 'DeleteAccount',
  'UpdateGlobalEventsStorageRegion',
] as const;

export interface PolicyStatement {
  Effect: 'Allow' | 'Deny';
  Action: string[];
  Resource?: string[];
}

export interface PolicyDocument {
  Version?: string;
  Statement: PolicyStatement[];
}

export interface Subject {
  role: RoleName | 'anonymous';
  policies: readonly PolicyDocument[];
}

export type Request =
  | {
      service: 'RealtimeCompute';
      action: FlinkAction;
      cluster: string;
      /** The job ids the call names, and the names of those jobs. */
      jobs: readonly string[];
      /**
       * The call names a job whose name could not be found (Flink did not say). Every Deny
       * statement with a job resource then applies, since it might name that job (fail closed).
       */
      jobNamesUnknown?: boolean;
    }
  | { service: 'Actiontrail'; eventName: string };

export interface Decision {
  allowed: boolean;
  /** Why, for the error message and the record. */
  reason: string;
}

function glob(pattern: string): RegExp {
  return new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`, 'i');
}

interface Compiled {
  effect: 'Allow' | 'Deny';
  actions: RegExp[];
  resources: { cluster: RegExp; job?: RegExp }[] | null;
}

const cache = new WeakMap<PolicyDocument, Compiled[]>();

/** Validates and compiles a policy; throws a message naming the first problem. */
export function compilePolicy(doc: PolicyDocument): Compiled[] {
  const hit = cache.get(doc);
  if (hit) return hit;
  if (!doc || !Array.isArray(doc.Statement) || doc.Statement.length === 0) throw new Error('Statement must be a non-empty list');
  const out = doc.Statement.map((s, i) => {
    if (s.Effect !== 'Allow' && s.Effect !== 'Deny') throw new Error(`Statement[${i}].Effect must be Allow or Deny`);
    if (!Array.isArray(s.Action) || s.Action.length === 0 || !s.Action.every((a) => typeof a === 'string' && /^[A-Za-z*]+:[A-Za-z*]+$/.test(a))) {
      throw new Error(`Statement[${i}].Action must be a list like ["RealtimeCompute:CancelJob", "Actiontrail:*"]`);
    }
    let resources: Compiled['resources'] = null;
    if (s.Resource !== undefined) {
      if (!Array.isArray(s.Resource) || !s.Resource.every((r) => typeof r === 'string')) throw new Error(`Statement[${i}].Resource must be a list of strings`);
      resources = s.Resource.map((r) => {
        if (r === '*') return { cluster: /.*/ };
        const m = /^cluster\/([^/]+)(?:\/job\/(.+))?$/.exec(r);
        if (!m) throw new Error(`Statement[${i}].Resource '${r}' must be '*', 'cluster/<name>' or 'cluster/<name>/job/<id or name>'`);
        return m[2] ? { cluster: glob(m[1] as string), job: glob(m[2]) } : { cluster: glob(m[1] as string) };
      });
    }
    return { effect: s.Effect, actions: s.Action.map(glob), resources };
  });
  cache.set(doc, out);
  return out;
}

function matches(st: Compiled, req: Request): boolean {
  const name = req.service === 'RealtimeCompute' ? req.action.eventName : req.eventName;
  const action = `${req.service}:${name}`;
  if (!st.actions.some((a) => a.test(action))) return false;
  if (st.resources === null) return true;
  if (req.service !== 'RealtimeCompute') return st.resources.some((r) => r.cluster.source === '.*' && !r.job);
  return st.resources.some(
    (r) => r.cluster.test(req.cluster) && (!r.job || req.jobs.some((j) => r.job?.test(j)) || (st.effect === 'Deny' && req.jobNamesUnknown === true)),
  );
}

/**
 * Whether a statement that names jobs (`cluster/<c>/job/<pattern>`) could apply to this call: then
 * the decision needs the job's name, which the caller must look up (from Flink) before deciding.
 */
export function needsJobNames(subject: Subject, req: Request): boolean {
  if (req.service !== 'RealtimeCompute' || req.jobs.length === 0) return false;
  const action = `${req.service}:${req.action.eventName}`;
  return subject.policies
    .flatMap((p) => compilePolicy(p))
    .some((st) => st.actions.some((a) => a.test(action)) && (st.resources ?? []).some((r) => r.job !== undefined && r.cluster.test(req.cluster)));
}

function roleAllows(role: Subject['role'], req: Request): boolean {
  if (role === 'anonymous') return false;
  if (req.service === 'RealtimeCompute') {
    const top = ROLE_FLINK_LEVEL[role];
    return top !== null && LEVELS.indexOf(levelOf(req.action)) <= LEVELS.indexOf(top);
  }
  if ((FLINKTRAIL_ACTIONS.self as readonly string[]).includes(req.eventName)) return true;
  if ((FLINKTRAIL_ACTIONS.audit as readonly string[]).includes(req.eventName)) return role === 'auditor' || role === 'admin';
  return role === 'admin';
}

export function decide(subject: Subject, req: Request): Decision {
  const compiled = subject.policies.flatMap((p) => compilePolicy(p));
  const name = req.service === 'RealtimeCompute' ? req.action.eventName : req.eventName;
  if (compiled.some((s) => s.effect === 'Deny' && matches(s, req))) {
    return { allowed: false, reason: `An attached policy denies ${req.service}:${name}.` };
  }
  if (roleAllows(subject.role, req)) return { allowed: true, reason: `role ${subject.role}` };
  if (compiled.some((s) => s.effect === 'Allow' && matches(s, req))) return { allowed: true, reason: 'an attached policy' };
  return { allowed: false, reason: `Role ${subject.role} may not call ${req.service}:${name}.` };
}
