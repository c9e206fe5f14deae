/**
 * The shared EventStore contract (test/contract/event-store.ts) against the PostgreSQL store on a
 * real PostgreSQL: the one at FLINKTRAIL_TEST_POSTGRES_URL (scripts/test-all.sh starts one per
 * run), else a throwaway cluster started here by scripts/it/postgres.sh and stopped in `after`
 * (also when `before` failed half-way: the lifecycle helper stops what was registered). Each
 * test gets a schema of its own, dropped afterwards.
 *
 * Then what only the PostgreSQL store has: migrations applied once under concurrent opens, day
 * partitions, the password never in an error, scan under concurrent writers.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { eventStoreContract } from '../../contract/event-store.js';
import { PostgresEventStore } from '../../../src/store/postgres/events.js';
import type { Cursor } from '../../../src/store/types.js';
import { startPostgres, type PostgresServer } from '../../helpers/postgres.js';
import { newEvents } from '../../helpers/events.js';

let server: PostgresServer | undefined;
let admin: pg.Pool | undefined;

before(async () => {
  server = await startPostgres();
  admin = new pg.Pool({ connectionString: server.url, max: 2 });
  // An idle admin connection the server ends (seen once while another suite shared the server)
  // is replaced by the pool; said, not thrown from nowhere.
  admin.on('error', (err) => process.stderr.write(`# admin connection: ${err.message}\n`));
});
after(async () => {
  await admin?.end();
  await server?.stop();
});

function url(): string {
  if (!server) throw new Error('PostgreSQL did not start');
  return server.url;
}

async function newSchema(): Promise<string> {
  const schema = `ft_test_${randomBytes(6).toString('hex')}`;
  await admin?.query(`CREATE SCHEMA ${schema}`);
  return schema;
}

eventStoreContract('PostgreSQL', {
  async space() {
    const schema = await newSchema();
    return {
      open: (opts = {}) => PostgresEventStore.open({ url: url(), schema, flushIntervalMs: 5, poolMax: 4, ...(opts.scanBudget ? { scanBudget: opts.scanBudget } : {}) }),
      dispose: async () => {
        await admin?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      },
    };
  },
});

describe('PostgresEventStore', () => {
  it('applies each migration once when several instances open at the same moment', async () => {
    const schema = await newSchema();
    const stores = await Promise.all([1, 2, 3, 4].map(() => PostgresEventStore.open({ url: url(), schema, poolMax: 2 })));
    try {
      const rows = (await admin?.query(`SELECT component, version FROM ${schema}.flinktrail_migrations ORDER BY version`))?.rows;
      assert.deepEqual(rows, [{ component: 'events', version: 1 }, { component: 'events', version: 2 }]);
    } finally {
      for (const s of stores) await s.close();
      await admin?.query(`DROP SCHEMA ${schema} CASCADE`);
    }
  });

  it('keeps events in one partition per day and drops whole partitions on purge', async () => {
    const schema = await newSchema();
    const store = await PostgresEventStore.open({ url: url(), schema, flushIntervalMs: 5 });
    try {
      const start = Date.parse('2026-02-01T12:00:00Z');
      await Promise.all(newEvents(30, { start, stepMs: 6 * 3600_000 }).map((e) => store.append(e)));
      const parts = async () =>
        ((await admin?.query(`SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND i.inhparent = '${schema}.events'::regclass ORDER BY 1`, [schema]))?.rows ?? []).map((r: { name: string }) => r.name).filter((n: string) => n.startsWith('events_p2026020'));
      assert.deepEqual(await parts(), ['events_p20260201', 'events_p20260202', 'events_p20260203', 'events_p20260204', 'events_p20260205', 'events_p20260206', 'events_p20260207', 'events_p20260208']);
      const n = await store.purge(Date.parse('2026-02-04T06:00:00Z'));
      assert.equal(n, 11, '2 on Feb 1, 4 each on Feb 2 and 3, 1 on Feb 4 before 06:00');
      assert.deepEqual(await parts(), ['events_p20260204', 'events_p20260205', 'events_p20260206', 'events_p20260207', 'events_p20260208']);
    } finally {
      await store.close();
      await admin?.query(`DROP SCHEMA ${schema} CASCADE`);
    }
  });

  it('keeps its own copy of what it is given (a caller may change the object at once)', async () => {
    const schema = await newSchema();
    const store = await PostgresEventStore.open({ url: url(), schema, flushIntervalMs: 5 });
    try {
      const [e] = newEvents(1, { start: Date.parse('2026-02-01T00:00:00Z') });
      if (!e) throw new Error('no event');
      const written = store.append(e);
      e.eventName = 'Changed';
      await written;
      assert.equal((await store.get(e.eventId))?.eventName, 'ListJobs');
    } finally {
      await store.close();
      await admin?.query(`DROP SCHEMA ${schema} CASCADE`);
    }
  });

  it('never puts the password of the URL in an error', async () => {
    await assert.rejects(
      PostgresEventStore.open({ url: 'postgres://postgres:s3cret-pw@/flinktrail?host=/nonexistent-dir' }),
      (err: Error) => {
        assert.equal((err as { code?: string }).code, 'FT_ERR_STORE_UNAVAILABLE');
        assert.match(err.message, /postgres:\*\*\*@/);
        assert.doesNotMatch(err.message, /s3cret-pw/);
        return true;
      },
    );
  });

  it('scan never skips an event that commits after a later position was seen (concurrent writers)', async () => {
    const schema = await newSchema();
    const writers = await Promise.all([1, 2, 3].map(() => PostgresEventStore.open({ url: url(), schema, flushIntervalMs: 1, poolMax: 3 })));
    const reader = await PostgresEventStore.open({ url: url(), schema, poolMax: 2 });
    try {
      const events = newEvents(600, { start: Date.parse('2026-02-10T00:00:00Z') });
      const seen: string[] = [];
      let after = 0;
      let done = false;
      const reading = (async () => {
        while (!done || after < (await reader.lastSeq())) {
          const got = await reader.scan(after, 50);
          for (const p of got) {
            assert.ok(p.seq > after);
            seen.push(p.event.eventId);
            after = p.seq;
          }
        }
      })();
      await Promise.all(events.map((e, i) => (i % 4 === 0 ? (writers[i % 3] as PostgresEventStore).journal(e) : (writers[i % 3] as PostgresEventStore).append(e))));
      done = true;
      await reading;
      assert.equal(seen.length, 600, 'every event seen exactly once');
      assert.equal(new Set(seen).size, 600);
    } finally {
      for (const s of [...writers, reader]) await s.close();
      await admin?.query(`DROP SCHEMA ${schema} CASCADE`);
    }
  });

  it('walks the day partitions page by page: every match once, in order, both directions, short pages at a spent budget', async () => {
    const schema = await newSchema();
    const store = await PostgresEventStore.open({ url: url(), schema, flushIntervalMs: 5, scanBudget: 4 });
    try {
      // 200 events over 20 days (10 a day); bob from 10.0.0.1 is every 15th: rare together, common alone.
      const events = newEvents(200, { start: Date.parse('2026-02-01T00:30:00Z'), stepMs: 2.4 * 3600_000 });
      await Promise.all(events.map((e) => store.append(e)));
      await store.flush();
      const filter = { startTime: 0, endTime: Date.parse('2030-01-01T00:00:00Z'), user: 'bob', sourceIpAddress: '10.0.0.1' };
      const want = events.filter((e) => e.userIdentity.userName === 'bob' && e.sourceIpAddress === '10.0.0.1').map((e) => e.eventId);
      assert.equal(want.length, 14);
      for (const direction of ['FORWARD', 'BACKWARD'] as const) {
        const ids: string[] = [];
        let short = 0;
        let after: Cursor | undefined;
        for (let pages = 0; pages < 200; pages++) {
          const page = await store.lookup({ filter, direction, limit: 3, ...(after ? { after } : {}) });
          ids.push(...page.events.map((e) => e.eventId));
          if (!page.next) break;
          if (page.events.length < 3) short++;
          after = page.next;
        }
        assert.deepEqual(ids, direction === 'FORWARD' ? want : [...want].reverse(), direction);
        assert.ok(short > 0, `${direction}: some pages came back short with a cursor`);
        // Unbounded (one indexed filter): a page fills across partitions in one call.
        const full = await store.lookup({ filter: { startTime: 0, endTime: filter.endTime, sourceIpAddress: '10.0.0.1' }, direction, limit: 30 });
        const ip = events.filter((e) => e.sourceIpAddress === '10.0.0.1').map((e) => e.eventId);
        assert.deepEqual(full.events.map((e) => e.eventId), direction === 'FORWARD' ? ip.slice(0, 30) : [...ip].reverse().slice(0, 30));
        assert.ok(full.next);
      }
    } finally {
      await store.close();
      await admin?.query(`DROP SCHEMA ${schema} CASCADE`);
    }
  });
});
