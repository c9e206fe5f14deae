/**
 * The audit policy's rules: which level an event is recorded at, and what that level keeps.
 *
 * As in Kubernetes audit (`pkg/audit/policy/checker.go`): ordered rules, the first whose every
 * given field matches decides; no match means `RequestResponse` (everything, FlinkTrail's
 * behaviour without a policy). Unlike Kubernetes, a policy cannot hide what changes things:
 * writes, refusals and failures are raised to at least `Metadata` whatever the rule said (the
 * floor), so a quiet policy never costs the record of who did what. Rules are compiled once at
 * start-up (patterns to anchored regular expressions) and checked for what cannot be meant —
 * a rule no event can reach, `None` for writes only — with every problem listed at once.
 */
import { createHash } from 'node:crypto';
import type { AuditPolicyConfig, AuditRuleConfig } from '../../config/index.js';
import { FlinkTrailError } from '../../errors/index.js';
import { EVENT_SOURCES, type ActionTrailEvent, type AuditLevel, type AuditSource } from '../../event/types.js';

/** Which audit source an event belongs to (see `AUDIT_SOURCES`). */
export function sourceOf(e: ActionTrailEvent): AuditSource {
  // Ingested records name their own eventSource; the ingest API's stamp is what cannot be forged.
  if (e.additionalEventData['ingestedBy'] !== undefined) return 'ingest';
  switch (e.eventSource) {
    case EVENT_SOURCES.kubernetes:
      return 'kubernetes';
    case EVENT_SOURCES.sqlGateway:
      return 'sql-gateway';
    case EVENT_SOURCES.flinkTrail:
      return 'flinktrail';
    default:
      return 'gateway';
  }
}

/** The least an event must keep: writes and anything that did not simply succeed are never dropped. */
export function floorOf(e: ActionTrailEvent): AuditLevel {
  return e.eventRW === 'Write' || e.additionalEventData.outcome !== 'success' ? 'Metadata' : 'None';
}

/**
 * The event as kept at `level` (`None` is the caller's to drop). Below `RequestResponse` the
 * level is written into `additionalEventData.auditLevel`, so a reader knows empty fields were
 * left out by policy, not empty in the call.
 */
export function applyLevel(e: ActionTrailEvent, level: AuditLevel): ActionTrailEvent {
  if (level === 'RequestResponse') return e;
  return {
    ...e,
    ...(level === 'Request' ? {} : { requestParameters: {} }),
    responseElements: {},
    additionalEventData: { ...e.additionalEventData, auditLevel: level },
  };
}

/** `*` matches any run of characters; everything else is literal. */
function globToRegExp(pattern: string): RegExp {
  return new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 's');
}

function anyOf(patterns: readonly string[] | undefined): ((v: string | undefined) => boolean) | undefined {
  if (!patterns) return undefined;
  if (patterns.includes('*')) return (v) => v !== undefined;
  const exact = new Set(patterns.filter((p) => !p.includes('*')));
  const globs = patterns.filter((p) => p.includes('*')).map(globToRegExp);
  return (v) => v !== undefined && (exact.has(v) || globs.some((g) => g.test(v)));
}

const MATCH_FIELDS = ['users', 'identityTypes', 'roles', 'clusters', 'eventNames', 'eventRW', 'sources'] as const;

/** The rule's match fields in one order, so that equal rules compare (and hash) equal however the YAML was written. */
function normalRule(r: AuditRuleConfig): Record<string, unknown> {
  const out: Record<string, unknown> = { level: r.level };
  for (const f of MATCH_FIELDS) if (r[f] !== undefined) out[f] = r[f];
  return out;
}

/** The effective policy as one canonical JSON text: what the hash is taken of. */
export function canonicalPolicy(cfg: AuditPolicyConfig): string {
  return JSON.stringify({
    rules: cfg.rules.map(normalRule),
    // Window and bound mean nothing while coalescing is off.
    coalesce: cfg.coalesce.enabled ? { enabled: true, windowSeconds: cfg.coalesce.windowSeconds, maxKeys: cfg.coalesce.maxKeys } : { enabled: false },
  });
}

/** SHA-256 (hex) of the canonical policy; equal for every spelling of the same policy. */
export function policyHash(cfg: AuditPolicyConfig): string {
  return createHash('sha256').update(canonicalPolicy(cfg)).digest('hex');
}

/** Every problem of the rules, with its key path (empty: fine). */
export function policyProblems(cfg: AuditPolicyConfig): string[] {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  cfg.rules.forEach((r, i) => {
    const at = `auditPolicy.rules.${i}`;
    const matchOnly = JSON.stringify({ ...normalRule(r), level: undefined });
    const earlier = seen.get(matchOnly);
    const catchAll = cfg.rules.findIndex((x, j) => j < i && MATCH_FIELDS.every((f) => x[f] === undefined));
    if (catchAll >= 0) problems.push(`${at}: never applies, rule ${catchAll} before it matches every event`);
    else if (earlier !== undefined) problems.push(`${at}: never applies, rule ${earlier} before it matches the same events`);
    if (earlier === undefined) seen.set(matchOnly, i);
    if (r.level === 'None' && r.eventRW === 'Write') {
      problems.push(`${at}: level None for writes cannot apply (writes are always recorded, at least at Metadata); say Metadata`);
    }
    for (const f of ['users', 'clusters', 'eventNames'] as const) {
      r[f]?.forEach((p, k) => {
        // eslint-disable-next-line no-control-regex
        if (/[\u0000-\u001f\u007f]/.test(p)) problems.push(`${at}.${f}.${k}: a pattern cannot hold control characters`);
      });
    }
    for (const f of ['users', 'identityTypes', 'roles', 'clusters', 'eventNames', 'sources'] as const) {
      const list: readonly string[] | undefined = r[f];
      list?.forEach((v, k) => {
        if (list.indexOf(v) !== k) problems.push(`${at}.${f}.${k}: '${v}' is listed twice`);
      });
    }
  });
  return problems;
}

export interface PolicyOptions {
  /** The FlinkTrail role of a principal (`userIdentity.principalId`), if it is a user. Needed only by rules with `roles`. */
  roleOf?: (principalId: string) => string | undefined;
  /** How long a looked-up role is believed (default 30 s). */
  roleTtlMs?: number;
  now?: () => number;
}

/** A compiled policy. */
export interface AuditPolicy {
  /** The level an event is recorded at: its first matching rule's (or `RequestResponse`), raised to the floor. */
  levelOf(e: ActionTrailEvent): AuditLevel;
  /** Whether any rule can lower a level (false: every event is kept whole, as without a policy). */
  readonly active: boolean;
  readonly ruleCount: number;
  readonly hash: string;
}

const RANK: Record<AuditLevel, number> = { None: 0, Metadata: 1, Request: 2, RequestResponse: 3 };

/** Checks and compiles the policy; throws FT_ERR_AUDIT_POLICY_INVALID listing every problem. */
export function compileAuditPolicy(cfg: AuditPolicyConfig, opts: PolicyOptions = {}): AuditPolicy {
  const problems = policyProblems(cfg);
  if (problems.length) throw new FlinkTrailError('FT_ERR_AUDIT_POLICY_INVALID', problems.join('; '));
  const now = opts.now ?? Date.now;
  const ttl = opts.roleTtlMs ?? 30_000;
  // Roles change rarely and a rule with `roles` would otherwise ask the database on every event.
  const roles = new Map<string, { role: string | undefined; until: number }>();
  const roleOf = (principalId: string): string | undefined => {
    const hit = roles.get(principalId);
    if (hit && hit.until > now()) return hit.role;
    const role = opts.roleOf?.(principalId);
    if (roles.size >= 10_000) roles.clear();
    roles.set(principalId, { role, until: now() + ttl });
    return role;
  };
  const rules = cfg.rules.map((r) => {
    const checks: ((e: ActionTrailEvent, source: AuditSource) => boolean)[] = [];
    const users = anyOf(r.users);
    const clusters = anyOf(r.clusters);
    const names = anyOf(r.eventNames);
    if (r.eventRW) checks.push((e) => e.eventRW === r.eventRW);
    if (r.sources) checks.push((_, s) => (r.sources as readonly string[]).includes(s));
    if (names) checks.push((e) => names(e.eventName));
    if (r.identityTypes) checks.push((e) => (r.identityTypes as readonly string[]).includes(e.userIdentity.type));
    if (users) checks.push((e) => users(e.userIdentity.userName));
    if (clusters) checks.push((e) => clusters(typeof e.additionalEventData.cluster === 'string' ? e.additionalEventData.cluster : undefined));
    // Last: the only check that may cost a lookup.
    if (r.roles) {
      const wanted = r.roles as readonly string[];
      checks.push((e) => e.userIdentity.type !== 'anonymous' && wanted.includes(roleOf(e.userIdentity.principalId) ?? ''));
    }
    return { level: r.level, matches: (e: ActionTrailEvent, s: AuditSource) => checks.every((c) => c(e, s)) };
  });
  const active = rules.some((r) => r.level !== 'RequestResponse');
  return {
    active,
    ruleCount: rules.length,
    hash: policyHash(cfg),
    levelOf(e) {
      if (!active) return 'RequestResponse';
      const source = sourceOf(e);
      const level = rules.find((r) => r.matches(e, source))?.level ?? 'RequestResponse';
      const floor = floorOf(e);
      return RANK[level] < RANK[floor] ? floor : level;
    },
  };
}
