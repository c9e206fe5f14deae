/**
 * The last spec seen of each Flink custom resource (table `k8s_objects`, migration 5), as
 * per-field digests (diff.ts): what the next update is compared against.
 *
 * Audit batches may arrive late and out of order (the API server retries with backoff), so a
 * state is replaced only by a newer resource version; a stale event is still recorded, compared
 * against the operator's own `lastReconciledSpec` instead.
 */
import type { Db } from '../../store/sqlite/database.js';
import { parseDigest, serializeDigest } from './diff.js';
import type { ObjectKey, ObjectState } from './map.js';

function newer(a: string | undefined, b: string | null): boolean {
  if (a === undefined || b === null || !/^\d{1,30}$/.test(a) || !/^\d{1,30}$/.test(b)) return true;
  return BigInt(a) > BigInt(b);
}

export class ObjectStates {
  private readonly getStmt;
  private readonly putStmt;
  private readonly deleteStmt;

  constructor(private readonly db: Db) {
    this.getStmt = db.prepare('SELECT uid, resource_version, spec FROM k8s_objects WHERE cluster = ? AND resource = ? AND namespace = ? AND name = ?');
    this.putStmt = db.prepare(`INSERT INTO k8s_objects (cluster, resource, namespace, name, uid, resource_version, spec, updated_at)
      VALUES (@cluster, @resource, @namespace, @name, @uid, @rv, @spec, @now)
      ON CONFLICT (cluster, resource, namespace, name) DO UPDATE SET uid = COALESCE(excluded.uid, uid),
        resource_version = excluded.resource_version, spec = excluded.spec, updated_at = excluded.updated_at`);
    this.deleteStmt = db.prepare('DELETE FROM k8s_objects WHERE cluster = ? AND resource = ? AND namespace = ? AND name = ?');
  }

  get(k: ObjectKey): ObjectState | undefined {
    const row = this.getStmt.get(k.cluster, k.resource, k.namespace, k.name) as { uid: string | null; resource_version: string | null; spec: string } | undefined;
    if (!row) return undefined;
    const digest = parseDigest(row.spec);
    if (!digest) return undefined;
    return { ...(row.uid ? { uid: row.uid } : {}), ...(row.resource_version ? { resourceVersion: row.resource_version } : {}), digest };
  }

  /** Stores `s` unless a newer resource version is already stored. */
  put(k: ObjectKey, s: ObjectState): void {
    this.db
      .transaction(() => {
        const row = this.getStmt.get(k.cluster, k.resource, k.namespace, k.name) as { resource_version: string | null } | undefined;
        if (row && !newer(s.resourceVersion, row.resource_version)) return;
        this.putStmt.run({ ...k, uid: s.uid ?? null, rv: s.resourceVersion ?? null, spec: serializeDigest(s.digest), now: Date.now() });
      })
      .immediate();
  }

  delete(k: ObjectKey): void {
    this.deleteStmt.run(k.cluster, k.resource, k.namespace, k.name);
  }
}
