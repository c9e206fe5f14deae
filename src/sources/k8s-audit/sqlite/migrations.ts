/**
 * The Kubernetes audit webhook's table in the embedded database. The SQL is this feature's;
 * store/sqlite/database.ts keeps the one numbered list (this is migration 5), so the version an
 * existing data directory recorded still means the same table.
 */

/**
 * Migration 5: the last spec seen of each Flink custom resource, as per-field digests (never
 * values of fields that may hold secrets), to tell what an update changed.
 */
export const K8S_OBJECTS_V5 = `
  CREATE TABLE k8s_objects (
    cluster TEXT NOT NULL,
    resource TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    uid TEXT,
    resource_version TEXT,
    spec TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (cluster, resource, namespace, name)
  );
`;
