/**
 * End to end on PostgreSQL: `flinktrail serve --store postgres://…` (the built CLI, a child
 * process) in front of a real Flink, with the events in a real PostgreSQL (scripts/it/postgres.sh
 * or FLINKTRAIL_TEST_POSTGRES_URL). A read and a journaled write through the gateway land as rows
 * in PostgreSQL — not in the data directory's SQLite — and are answered by LookupEvents; the
 * data directory then refuses to start on the embedded event store (its trail positions are
 * PostgreSQL's). The URL carries a password (ignored by trust authentication) that must appear
 * in no answer and no error.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { startFlink, type FlinkCluster } from '../../helpers/flink.js';
import { basic, makeKey, startChild, tempDir, waitForEvents, type ChildServer, type Credentials } from '../../helpers/flinktrail.js';
import { startPostgres, type PostgresServer } from '../../helpers/postgres.js';
import { PostgresEventStore } from '../../../src/store/postgres/events.js';
import { openDatabase } from '../../../src/store/sqlite/database.js';

describe('serve --store postgres://… (events in PostgreSQL)', () => {
  let flink: FlinkCluster | undefined;
  let postgres: PostgresServer | undefined;
  let server: ChildServer | undefined;
  let admin: pg.Client | undefined;
  let db: pg.Client | undefined;
  const database = `ft_e2e_${randomBytes(5).toString('hex')}`;
  let storeUrl = '';
  const dataDir = tempDir();
  let cred: Credentials;

  before(async () => {
    [flink, postgres] = await Promise.all([startFlink(), startPostgres()]);
    admin = new pg.Client({ connectionString: postgres.url });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    // The same server, a database of this test's own; a password that trust authentication ignores
    // (it must still never be logged).
    storeUrl = postgres.url.replace(/^postgres:\/\/postgres@\/[^?]+/, `postgres://postgres:never-logged-pw@/${database}`);
    assert.notEqual(storeUrl, postgres.url);
    cred = await makeKey(dataDir, 'alice', 'admin', undefined, undefined, { storeUrl });
    server = await startChild(flink.restUrl, dataDir, ['--store', storeUrl]);
    db = new pg.Client({ connectionString: storeUrl });
    await db.connect();
  });
  after(async () => {
    await server?.stop();
    await db?.end();
    await admin?.query(`DROP DATABASE IF EXISTS ${database}`).catch(() => undefined);
    await admin?.end();
    await postgres?.stop();
    await flink?.stop();
  });

  it('records a read and a journaled write through the gateway in PostgreSQL and answers LookupEvents from there', async () => {
    const gw = server?.gatewayUrl ?? '';
    const read = await fetch(`${gw}jobs/overview`, { headers: { authorization: basic(cred) } });
    assert.equal(read.status, 200);
    await read.arrayBuffer();
    const write = await fetch(`${gw}jobs/00000000000000000000000000000000?mode=cancel`, { method: 'PATCH', headers: { authorization: basic(cred) } });
    assert.ok(write.status >= 400, `cancelling a job that does not exist fails (${write.status})`);
    await write.arrayBuffer();

    const apiUrl = server?.apiUrl ?? '';
    const writes = await waitForEvents(apiUrl, cred, { eventRW: 'Write', eventName: 'CancelJob' }, (es) => es.some((e) => e.additionalEventData.outcome === 'failure'), 15_000);
    const reads = await waitForEvents(apiUrl, cred, { eventName: 'GetJobsOverview' }, (es) => es.some((e) => e.eventName === 'GetJobsOverview'), 15_000);
    const ids = [...writes, ...reads.filter((e) => e.eventName === 'GetJobsOverview')].map((e) => e.eventId);
    const rows = (await db?.query('SELECT event_id, outcome FROM events WHERE event_id = ANY($1::text[])', [ids]))?.rows as { event_id: string; outcome: string }[];
    assert.equal(rows.length, ids.length, 'every event LookupEvents answered is a row in PostgreSQL');
    assert.ok(rows.every((r) => r.outcome !== 'pending'));
    // Bodies are stored compressed (body_z): read every record back through the store, decoded.
    const reader = await PostgresEventStore.open({ url: storeUrl, poolMax: 1 });
    try {
      const stored = await reader.copyRange(0, 100_000);
      assert.ok(stored.length >= ids.length, 'every event read back');
      assert.deepEqual(stored.filter((p) => JSON.stringify(p.event).includes('never-logged-pw')).map((p) => p.event.eventName), [], 'the store URL password is in no event');
    } finally {
      await reader.close();
    }

    const local = openDatabase(dataDir);
    try {
      assert.equal((local.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n, 0, 'nothing went to the embedded store');
    } finally {
      local.close();
    }
  });

  it('the data directory then refuses the embedded event store (its trail positions count PostgreSQL events)', async () => {
    const code = await server?.stop();
    assert.equal(code, 0);
    server = undefined;
    const other = await startChild(flink?.restUrl ?? '', dataDir).then(
      () => 'started',
      (err: Error) => err.message,
    );
    assert.match(other, /FT_ERR_STORE_MISMATCH|was used with the event store postgres:/);
    assert.doesNotMatch(other, /never-logged-pw/, 'not in the refusal either');
  });
});
