/**
 * Schema migrations on PostgreSQL: numbered, each applied once in its own transaction and
 * recorded in `flinktrail_migrations` (component, version). Several FlinkTrail instances may
 * start at the same moment against one database: a session advisory lock serialises them, so
 * exactly one applies a migration and the others find it recorded.
 *
 * Components (`events` today; the other features' repositories later) keep their own numbers,
 * so each can add migrations without coordinating with the others.
 */
import type { Pool, PoolClient } from 'pg';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** The advisory lock key of migrations: one per database (the schema of a test is in the name). */
const LOCK = 'flinktrail:migrations';

/** Applies the migrations of `component` not yet recorded; returns the versions applied now. */
export async function migrate(pool: Pool, component: string, migrations: readonly Migration[]): Promise<number[]> {
  const client = await pool.connect();
  const applied: number[] = [];
  try {
    const schema = ((await client.query('SELECT current_schema() AS s')).rows[0] as { s: string | null }).s ?? 'public';
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [`${LOCK}:${schema}`]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS flinktrail_migrations (
        component text NOT NULL, version integer NOT NULL, name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (component, version))`);
      const done = new Set(
        ((await client.query('SELECT version FROM flinktrail_migrations WHERE component = $1', [component])).rows as { version: number }[]).map((r) => r.version),
      );
      for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
        if (done.has(m.version)) continue;
        await inTransaction(client, async () => {
          await client.query(m.sql);
          await client.query('INSERT INTO flinktrail_migrations (component, version, name) VALUES ($1, $2, $3)', [component, m.version, m.name]);
        });
        applied.push(m.version);
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [`${LOCK}:${schema}`]);
    }
  } finally {
    client.release();
  }
  return applied;
}

/** Runs `fn` between BEGIN and COMMIT (ROLLBACK when it throws). */
export async function inTransaction<T>(client: PoolClient, fn: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const out = await fn();
    await client.query('COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
