/**
 * The trail repository's contract (test/contract/trail-repository.ts) on PostgreSQL, each
 * instance its own pool on one schema as FlinkTrail processes sharing one database; then what
 * only a database server shows: two instances taking one lease at the same moment, and a takeover
 * that waits for the old holder's fenced write in flight, after which the old holder's writes fail.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { FlinkTrailError } from '../../../src/errors/index.js';
import { poolConfig } from '../../../src/store/postgres/url.js';
import { parseDestination } from '../../../src/trails/destination.js';
import { PostgresTrailRepository } from '../../../src/trails/postgres/repository.js';
import { trailRepositoryContract, type TrailSpace } from '../../contract/trail-repository.js';
import { postgresForFile } from '../../helpers/postgres.js';
import { testSecrets } from '../../helpers/secrets.js';

const postgres = postgresForFile();
const LOCAL = '/var/lib/flinktrail/trails';

interface PgSpace extends TrailSpace {
  /** An instance whose connections carry `applicationName` (to find them in pg_stat_activity). */
  named(applicationName: string): Promise<PostgresTrailRepository>;
  schema: string;
}

async function space(): Promise<PgSpace> {
  const url = postgres.url;
  const schema = await postgres.newSchema();
  const secrets = testSecrets();
  const pools: pg.Pool[] = [];
  const named = async (applicationName = 'flinktrail') => {
    const pool = new pg.Pool(poolConfig(url, { max: 4, schema, applicationName }));
    pools.push(pool);
    return PostgresTrailRepository.open(pool, LOCAL, secrets);
  };
  return {
    schema,
    named,
    instance: () => named(),
    async storedUrl(destId) {
      const r = await postgres.admin.query<{ url: string }>(`SELECT url FROM ${schema}.trail_destinations WHERE id = $1`, [destId]);
      return r.rows[0]?.url ?? assert.fail(`no destination ${destId}`);
    },
    async dispose() {
      for (const p of pools) await p.end();
      await postgres.admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    },
  };
}

trailRepositoryContract('PostgreSQL', { space });

/** Waits until `n` connections of `app` wait for a lock (a statement blocked behind another transaction). */
async function waitingForLock(app: string, n: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = await postgres.admin.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'", [app]);
    if ((r.rows[0]?.n ?? 0) >= n) return;
    if (Date.now() > deadline) assert.fail(`${app}: ${n} connection(s) never waited for a lock`);
    await new Promise((res) => setTimeout(res, 20));
  }
}

describe('trail leases on PostgreSQL: instances at the same moment', () => {
  it('two instances taking one free lease at once: exactly one gets it', async () => {
    const s = await space();
    try {
      const [a, b] = [await s.instance(), await s.instance()];
      for (let i = 0; i < 20; i++) {
        const trail = `race-trail-${i}`;
        const got = await Promise.all([a.acquireLease(trail, 'instance-a', 60_000), b.acquireLease(trail, 'instance-b', 60_000)]);
        const holders = got.filter((l) => l !== undefined);
        assert.equal(holders.length, 1, `round ${i}: ${JSON.stringify(got)}`);
        assert.equal(holders[0]?.token, 1);
      }
    } finally {
      await s.dispose();
    }
  });

  it('a takeover waits for the fenced write in flight; that write commits, every later one of the old holder fails', async () => {
    const s = await space();
    const blocker = new pg.Client({ ...poolConfig(postgres.url, { schema: s.schema, applicationName: 'ft-test-blocker' }) });
    try {
      const app = `ft-old-holder-${s.schema}`;
      const old = await s.named(app);
      const next = await s.named(`ft-new-holder-${s.schema}`);
      const t = await old.create(
        { name: 'audit-trail', eventRW: 'All', trailRegion: 'All', digestInterval: 3600, destinations: [parseDestination('file:///srv/audit/a', { localDir: LOCAL })] },
        'local',
        1,
        100,
      );
      const [cursor] = await old.cursorsOf(t.destinations[0]!.id);
      const lease = (await old.acquireLease(t.name, 'instance-a', 300))!;
      const fence = { trail: t.name, token: lease.token };

      // Hold the cursor's row so the old holder's fenced write stops after its lease check, in flight.
      await blocker.connect();
      await blocker.query('BEGIN');
      await blocker.query('SELECT 1 FROM trail_cursors WHERE id = $1 FOR UPDATE', [cursor!.id]);
      const inFlight = old.advance(cursor!.id, 150, fence);
      await waitingForLock(app, 1);

      await new Promise((res) => setTimeout(res, 400)); // the lease runs out while the write is in flight
      const takeover = next.acquireLease(t.name, 'instance-b', 60_000);
      let tookOver = false;
      void takeover.then(() => (tookOver = true));
      await waitingForLock(`ft-new-holder-${s.schema}`, 1);
      assert.equal(tookOver, false, 'the takeover waits for the fenced write');

      await blocker.query('COMMIT');
      await inFlight;
      const b = await takeover;
      assert.deepEqual([b?.holder, b?.token], ['instance-b', lease.token + 1]);
      assert.equal((await old.cursor(cursor!.id))?.position, 150, 'the write in flight committed before the takeover');

      await assert.rejects(old.advance(cursor!.id, 200, fence), (err: unknown) => err instanceof FlinkTrailError && err.code === 'FT_ERR_TRAIL_LEASE_LOST');
      assert.equal((await old.cursor(cursor!.id))?.position, 150);
      await next.advance(cursor!.id, 200, { trail: t.name, token: b!.token });
      assert.equal((await next.cursor(cursor!.id))?.position, 200);
    } finally {
      await blocker.end().catch(() => undefined);
      await s.dispose();
    }
  });
});
