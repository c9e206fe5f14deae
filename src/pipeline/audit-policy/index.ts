/**
 * The audit policy (`auditPolicy.*`, docs/reference/audit-policy.md): which events are kept and
 * how much of each (rules.ts), coalescing of repeated identical reads (coalesce.ts), and the
 * `UpdateAuditPolicy` event when the policy changes (change.ts). Applied by pipeline/recorder.ts,
 * the one way events reach the store.
 */
export { applyLevel, compileAuditPolicy, floorOf, policyHash, sourceOf, type AuditPolicy, type PolicyOptions } from './rules.js';
export { Coalescer, type CoalescerOptions } from './coalesce.js';
export { auditPolicyChange, DEFAULT_POLICY_HASH, POLICY_CHANGE_EVENT, policyChangeEvent, type PolicyHashState } from './change.js';
