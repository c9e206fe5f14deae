/**
 * The last spec seen of each Flink custom resource, as per-field digests (diff.ts): what the
 * next update is compared against. The contract of its store.
 *
 * Audit batches may arrive late and out of order (the API server retries with backoff), so a
 * state is replaced only by a newer resource version (`isNewerVersion`); a stale event is still
 * recorded, compared against the operator's own `lastReconciledSpec` instead.
 *
 * Promise-returning, so that a database server can stand behind it; the embedded store is
 * sqlite/state.ts (table `k8s_objects`, sqlite/migrations.ts).
 */
import type { ObjectKey, ObjectState } from './map.js';

export interface ObjectStates {
  get(k: ObjectKey): Promise<ObjectState | undefined>;
  /** Stores `s` unless a newer resource version is already stored (checked and written atomically). */
  put(k: ObjectKey, s: ObjectState): Promise<void>;
  delete(k: ObjectKey): Promise<void>;
}

/**
 * Is resource version `a` (the incoming one) newer than `b` (the stored one)? Opaque strings,
 * numeric in practice (etcd revisions); anything else counts as newer.
 */
export function isNewerVersion(a: string | undefined, b: string | null): boolean {
  if (a === undefined || b === null || !/^\d{1,30}$/.test(a) || !/^\d{1,30}$/.test(b)) return true;
  return BigInt(a) > BigInt(b);
}
