/**
 * Kubernetes object state on PostgreSQL (with `store.url`): table `k8s_objects` on the event
 * store's pool, its own migrations component (`k8s-objects`). "Unless a newer resource version is
 * stored" is decided by the one upsert's WHERE, so instances receiving the same object's audit
 * events never write an older version over a newer one.
 */
import type { Pool } from 'pg';
import { migrate, type Migration } from '../../../store/postgres/migrations.js';
import { parseDigest, serializeDigest } from '../diff.js';
import type { ObjectKey, ObjectState } from '../map.js';
import type { ObjectStates } from '../state.js';

export const K8S_OBJECT_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'k8s_objects',
    sql: `CREATE TABLE k8s_objects (
      cluster text NOT NULL, resource text NOT NULL, namespace text NOT NULL, name text NOT NULL,
      uid text, resource_version text, spec text NOT NULL, updated_at bigint NOT NULL,
      PRIMARY KEY (cluster, resource, namespace, name));`,
  },
];

/** isNewerVersion (state.ts) in SQL: only numeric versions on both sides are compared; $6 is the incoming one when numeric. */
const PUT = `INSERT INTO k8s_objects (cluster, resource, namespace, name, uid, resource_version, spec, updated_at)
  VALUES ($1, $2, $3, $4, $5, $7, $8, $9)
  ON CONFLICT (cluster, resource, namespace, name) DO UPDATE SET uid = COALESCE(excluded.uid, k8s_objects.uid),
    resource_version = excluded.resource_version, spec = excluded.spec, updated_at = excluded.updated_at
  WHERE $6::numeric IS NULL OR k8s_objects.resource_version IS NULL OR k8s_objects.resource_version !~ '^[0-9]{1,30}$'
    OR $6::numeric > (CASE WHEN k8s_objects.resource_version ~ '^[0-9]{1,30}$' THEN k8s_objects.resource_version::numeric END)`;

export class PostgresObjectStates implements ObjectStates {
  private constructor(private readonly pool: Pool) {}

  static async open(pool: Pool): Promise<PostgresObjectStates> {
    await migrate(pool, 'k8s-objects', K8S_OBJECT_MIGRATIONS);
    return new PostgresObjectStates(pool);
  }

  async get(k: ObjectKey): Promise<ObjectState | undefined> {
    const row = (
      await this.pool.query('SELECT uid, resource_version, spec FROM k8s_objects WHERE cluster = $1 AND resource = $2 AND namespace = $3 AND name = $4', [k.cluster, k.resource, k.namespace, k.name])
    ).rows[0] as { uid: string | null; resource_version: string | null; spec: string } | undefined;
    if (!row) return undefined;
    const digest = parseDigest(row.spec);
    if (!digest) return undefined;
    return { ...(row.uid ? { uid: row.uid } : {}), ...(row.resource_version ? { resourceVersion: row.resource_version } : {}), digest };
  }

  async put(k: ObjectKey, s: ObjectState): Promise<void> {
    const rv = s.resourceVersion;
    const numeric = rv !== undefined && /^\d{1,30}$/.test(rv) ? rv : null;
    await this.pool.query(PUT, [k.cluster, k.resource, k.namespace, k.name, s.uid ?? null, numeric, rv ?? null, serializeDigest(s.digest), Date.now()]);
  }

  async delete(k: ObjectKey): Promise<void> {
    await this.pool.query('DELETE FROM k8s_objects WHERE cluster = $1 AND resource = $2 AND namespace = $3 AND name = $4', [k.cluster, k.resource, k.namespace, k.name]);
  }
}
