/**
 * The embedded ObjectStates: table `k8s_objects` (sqlite/migrations.ts). A put reads the stored
 * resource version and writes in one IMMEDIATE transaction, so two processes never let an older
 * version overwrite a newer one.
 */
import type { Db } from '../../../store/sqlite/database.js';
import { parseDigest, serializeDigest } from '../diff.js';
import type { ObjectKey, ObjectState } from '../map.js';
import { isNewerVersion, type ObjectStates } from '../state.js';

export class SqliteObjectStates implements ObjectStates {
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

  async get(k: ObjectKey): Promise<ObjectState | undefined> {
    const row = this.getStmt.get(k.cluster, k.resource, k.namespace, k.name) as { uid: string | null; resource_version: string | null; spec: string } | undefined;
    if (!row) return undefined;
    const digest = parseDigest(row.spec);
    if (!digest) return undefined;
    return { ...(row.uid ? { uid: row.uid } : {}), ...(row.resource_version ? { resourceVersion: row.resource_version } : {}), digest };
  }

  async put(k: ObjectKey, s: ObjectState): Promise<void> {
    this.db
      .transaction(() => {
        const row = this.getStmt.get(k.cluster, k.resource, k.namespace, k.name) as { resource_version: string | null } | undefined;
        if (row && !isNewerVersion(s.resourceVersion, row.resource_version)) return;
        this.putStmt.run({ ...k, uid: s.uid ?? null, rv: s.resourceVersion ?? null, spec: serializeDigest(s.digest), now: Date.now() });
      })
      .immediate();
  }

  async delete(k: ObjectKey): Promise<void> {
    this.deleteStmt.run(k.cluster, k.resource, k.namespace, k.name);
  }
}
