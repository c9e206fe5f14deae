/**
 * The shared EventStore contract (test/contract/event-store.ts) against the PostgreSQL store on a
 * real PostgreSQL: the one at FLINKTRAIL_TEST_POSTGRES_URL (scripts/test-all.sh starts one per
 * run), else a throwaway cluster started here by scripts/it/postgres.sh and stopped in `after`
 * (also when `before` failed half-way: the lifecycle helper stops what was registered). Each
 * test gets a schema of its own, dropped afterwards.
 *
 * Then what only the PostgreSQL store has: migrations applied once under concurrent opens, day
 * partitions, the password never in an error, scan under concurrent writers, rows written with a
 * `body` text before events migration 2 read through every path after it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { eventStoreContract, MANAGEMENT } from '../../contract/event-store.js';
import type { ActionTrailEvent } from '../../../src/event/types.js';
import { PostgresEventStore } from '../../../src/store/postgres/events.js';
import { EVENTS_COMPONENT, EVENTS_MIGRATIONS } from '../../../src/store/postgres/events-schema.js';
import { pgText, resourceKeys } from '../../../src/store/postgres/filter.js';
import { migrate } from '../../../src/store/postgres/migrations.js';
import { Partitions } from '../../../src/store/postgres/partitions.js';
import { poolConfig } from '../../../src/store/postgres/url.js';
import type { Cursor } from '../../../src/store/types.js';
import { postgresForFile } from '../../helpers/postgres.js';
import { newEvents } from '../../helpers/events.js';

const postgres = postgresForFile();

function url(): string {
  return postgres.url;
}

/**
 * Writes `events` into `schema` as the store did at events migration 1 (the JSON record in
 * `body text`), applying only that migration first.
 */
async function writeBeforeMigration2(schema: string, events: readonly ActionTrailEvent[]): Promise<void> {
  const pool = new pg.Pool(poolConfig(url(), { max: 1, schema }));
  try {
    await migrate(pool, EVENTS_COMPONENT, EVENTS_MIGRATIONS.filter((m) => m.version === 1));
    const c = await pool.connect();
    try {
      await new Partitions().ensure(c, events.map((e) => Date.parse(e.eventTime)));
      for (const e of events) {
        const [{ seq }] = (await c.query("INSERT INTO event_ids (event_id, event_time, seq) VALUES ($1, $2, nextval('event_seq')) RETURNING seq", [e.eventId, Date.parse(e.eventTime)])).rows as [{ seq: number }];
        const a = e.additionalEventData;
        await c.query(
          `INSERT INTO events (seq, event_id, event_time, region, event_rw, event_name, event_type, service_name, user_name, access_key_id,
             sensitive, outcome, error_code, source_ip, cluster, resources, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
          [seq, e.eventId, Date.parse(e.eventTime), e.acsRegion, e.eventRW, pgText(e.eventName), e.eventType, e.serviceName, pgText(e.userIdentity.userName || null),
            e.userIdentity.accessKeyId ?? null, a.sensitive === true, a.outcome, e.errorCode ?? null, e.sourceIpAddress || null,
            typeof a.cluster === 'string' ? a.cluster : null, resourceKeys(e.referencedResources).map(pgText), JSON.stringify(e)],
        );
      }
    } finally {
      c.release();
    }
  } finally {
    await pool.end();
  }
}

async function newSchema(): Promise<string> {
  const schema = await postgres.newSchema();
  return schema;
}

eventStoreContract('PostgreSQL', {
  async space() {
    const schema = await newSchema();
    return {
      open: (opts = {}) => PostgresEventStore.open({ url: url(), schema, flushIntervalMs: 5, poolMax: 4, managementAccountId: MANAGEMENT, ...(opts.scanBudget ? { scanBudget: opts.scanBudget } : {}) }),
      dispose: async () => {
        await postgres.admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      },
    };
  },
});

describe('PostgresEventStore', () => {
  it('applies each migration once when several instances open at the same moment', async () => {
    const schema = await newSchema();
    const stores = await Promise.all([1, 2, 3, 4].map(() => PostgresEventStore.open({ url: url(), schema, poolMax: 2 })));
    try {
      const rows = (await postgres.admin.query(`SELECT component, version FROM ${schema}.flinktrail_migrations ORDER BY version`))?.rows;
      assert.deepEqual(rows, [{ component: 'events', version: 1 }, { component: 'events', version: 2 }, { component: 'events', version: 3 }]);
    } finally {
      for (const s of stores) await s.close();
      await postgres.admin.query(`DROP SCHEMA ${schema} CASCADE`);
    }
  });

  it('keeps events in one partition per day and drops whole partitions on purge', async () => {
    const schema = await newSchema();
    const store = await PostgresEventStore.open({ url: url(), schema, flushIntervalMs: 5 });
    try {
      const start = Date.parse('2026-02-01T12:00:00Z');
      await Promise.all(newEvents(30, { start, stepMs: 6 * 3600_000 }).map((e) => store.append(e)));
      const parts = async () =>
        ((await postgres.admin.query(`SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND i.inhparent = '${schema}.events'::regclass ORDER BY 1`, [schema]))?.rows ?? []).map((r: { name: string }) => r.name).filter((n: string) => n.startsWith('events_p2026020'));
      assert.deepEqual(await parts(), ['events_p20260201', 'events_p20260202', 'events_p20260203', 'events_p20260204', 'events_p20260205', 'events_p20260206', 'events_p20260207', 'events_p20260208']);
      const n = await store.purge(Date.parse('2026-02-04T06:00:00Z'));
      assert.equal(n, 11, '2 on Feb 1, 4 each on Feb 2 and 3, 1 on Feb 4 before 06:00');
      assert.deepEqual(await parts(), ['events_p20260204', 'events_p20260205', 'events_p20260206', 'events_p20260207', 'events_p20260208']);
    } finally {
      await store.close();
      await postgres.admin.query(`DROP SCHEMA ${schema} CASCADE`);
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
      await postgres.admin.query(`DROP SCHEMA ${schema} CASCADE`);
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
      await postgres.admin.query(`DROP SCHEMA ${schema} CASCADE`);
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
      await postgres.admin.query(`DROP SCHEMA ${schema} CASCADE`);
    }
  });

  it('reads rows written with a body text before events migration 2 everywhere, and writes new rows compressed', async () => {
    const schema = await newSchema();
    const events = newEvents(40, { start: Date.parse('2026-02-01T00:30:00Z'), stepMs: 1800_000 });
    const old = events.slice(0, 20);
    // Two old rows still pending: one is completed after the migration, one resolved as unknown.
    const pending = (e: ActionTrailEvent): ActionTrailEvent => ({ ...e, additionalEventData: { ...e.additionalEventData, outcome: 'pending' } });
    old[18] = pending(old[18] as ActionTrailEvent);
    old[19] = pending(old[19] as ActionTrailEvent);
    // An odd old record: U+0000 in its user (the column holds U+FFFD, the text body the original).
    old[3] = { ...(old[3] as ActionTrailEvent), userIdentity: { ...(old[3] as ActionTrailEvent).userIdentity, userName: 'b\u0000b' } };
    await writeBeforeMigration2(schema, old);
    const store = await PostgresEventStore.open({ url: url(), schema, flushIntervalMs: 5 });
    try {
      const fresh = events.slice(20);
      await Promise.all(fresh.map((e) => store.append(e)));
      await store.complete(events[18] as ActionTrailEvent);
      const want = [...old.slice(0, 18), events[18] as ActionTrailEvent, old[19], ...fresh];
      const kinds = (await postgres.admin.query(`SELECT event_id, body IS NOT NULL AS text, body_z IS NOT NULL AS z FROM ${schema}.events ORDER BY seq`))?.rows as { event_id: string; text: boolean; z: boolean }[];
      assert.deepEqual(kinds.map((k) => `${k.text ? 't' : ''}${k.z ? 'z' : ''}`).join(','), [...Array(18).fill('t'), 'z', 't', ...Array(20).fill('z')].join(','), 'old rows untouched, the completed one and new ones compressed');

      for (const e of want) assert.deepEqual(await store.get(e.eventId), e, e.eventId);
      const all = { startTime: 0, endTime: Date.parse('2030-01-01T00:00:00Z') };
      const page = await store.lookup({ filter: all, direction: 'FORWARD', limit: 100 });
      assert.deepEqual(page.events, want, 'a lookup page mixes both kinds in order');
      const bob = await store.lookup({ filter: { ...all, user: 'bob' }, direction: 'BACKWARD', limit: 100 });
      assert.deepEqual(bob.events, want.filter((e) => e.userIdentity.userName === 'bob').reverse(), 'filters on columns, old rows included');
      const job = await store.lookup({ filter: { ...all, resourceName: 'job-3' }, direction: 'FORWARD', limit: 100 });
      assert.deepEqual(job.events.map((e) => e.eventId), want.filter((e) => e.referencedResources['ACS::RealtimeCompute::Job']?.includes('job-3')).map((e) => e.eventId));
      assert.deepEqual((await store.copyRange(0, 100)).map((p) => p.event), want, 'copyRange (migrate verification) decodes both');
      assert.deepEqual((await store.scan(0, 100)).map((p) => p.event), want.slice(0, 19), 'scan stops at the old pending row');

      assert.equal(await store.resolvePending('restarted'), 1);
      const resolved = await store.get((old[19]).eventId);
      assert.equal(resolved?.additionalEventData.outcome, 'unknown');
      assert.deepEqual({ ...resolved, additionalEventData: { ...resolved?.additionalEventData, outcome: 'pending' }, errorCode: undefined, errorMessage: undefined }, { ...old[19], errorCode: undefined, errorMessage: undefined });
      assert.equal((await store.scan(0, 100)).length, 40, 'the scan goes on once it is resolved');
    } finally {
      await store.close();
      await postgres.admin.query(`DROP SCHEMA ${schema} CASCADE`);
    }
  });
});
