/**
 * Auditing the audit policy: a change of the effective policy is itself an event.
 *
 * The hash of the policy last in force is kept where `PolicyHashState` keeps it (the embedded
 * store: the database's `meta` table, `audit-policy-hash`, sqlite/state.ts). At start-up, when the configured policy hashes differently, one
 * `UpdateAuditPolicy` event (a Write, so no policy can hide it) is recorded with the old and new
 * hashes and the rule count, and only once it is stored is the new hash kept — a crash in
 * between records the change again rather than never. A database that never had a policy counts
 * as having had the default one (no rules, no coalescing: what FlinkTrail did before policies),
 * so a first start without a policy records nothing.
 *
 * The policy is read only at start-up: FlinkTrail reloads no configuration at run time (SIGHUP
 * re-reads TLS files only), so start-up is the one moment a policy can change.
 */
import { hostname, userInfo } from 'node:os';
import type { AuditPolicyConfig } from '../../config/index.js';
import { FlinkTrailError } from '../../errors/index.js';
import { serviceEvent } from '../../event/build.js';
import type { ActionTrailEvent } from '../../event/types.js';
import { canonicalPolicy, policyHash } from './rules.js';

export const POLICY_CHANGE_EVENT = 'UpdateAuditPolicy';

/** The hash of the policy FlinkTrail recorded with before any policy existed. */
export const DEFAULT_POLICY_HASH = policyHash({ rules: [], coalesce: { enabled: false, windowSeconds: 60, maxKeys: 10_000 } });

/**
 * Where the hash of the policy last in force is kept: the contract, Promise-returning so that a
 * database server can stand behind it.
 */
export interface PolicyHashState {
  get(): Promise<string | undefined>;
  set(hash: string): Promise<void>;
}

/** The `UpdateAuditPolicy` event: FlinkTrail's own, made at start-up by whoever started it. */
export function policyChangeEvent(cfg: AuditPolicyConfig, previousHash: string, where: { accountId: string; region: string }): ActionTrailEvent {
  const hash = policyHash(cfg);
  return serviceEvent({
    eventName: POLICY_CHANGE_EVENT,
    acsRegion: where.region,
    sourceIpAddress: '',
    userAgent: 'flinktrail',
    userIdentity: { type: 'assumed-role', principalId: 'flinktrail/config', accountId: where.accountId, userName: 'flinktrail-config' },
    requestParameters: JSON.parse(canonicalPolicy(cfg)) as Record<string, unknown>,
    referencedResources: { 'ACS::ActionTrail::AuditPolicy': [hash] },
    // The hashes and the count are metadata: they survive any level, the rules themselves need `Request`.
    additionalEventData: {
      sensitive: true,
      previousPolicyHash: previousHash,
      policyHash: hash,
      ruleCount: cfg.rules.length,
      coalesce: cfg.coalesce.enabled,
      startedBy: { osUser: safeUser(), host: hostname() },
    },
  });
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return '';
  }
}

/**
 * Records the policy change if the effective policy differs from the last one in force, then
 * keeps its hash. Returns whether it changed. Throws FT_ERR_AUDIT_POLICY_UNRECORDED when the
 * event could not be stored (start-up stops: a change must not go unaudited).
 */
export async function auditPolicyChange(
  cfg: AuditPolicyConfig,
  state: PolicyHashState,
  record: (e: ActionTrailEvent) => Promise<void>,
  where: { accountId: string; region: string },
): Promise<boolean> {
  const previous = (await state.get()) ?? DEFAULT_POLICY_HASH;
  const hash = policyHash(cfg);
  if (previous === hash) return false;
  try {
    await record(policyChangeEvent(cfg, previous, where));
  } catch (err) {
    throw new FlinkTrailError('FT_ERR_AUDIT_POLICY_UNRECORDED', previous.slice(0, 12), hash.slice(0, 12), (err as Error).message);
  }
  await state.set(hash);
  return true;
}
