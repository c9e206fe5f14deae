/**
 * The shared EventStore contract (test/contract/event-store.ts) against the PostgreSQL store on a
 * real PostgreSQL: the one at FLINKTRAIL_TEST_POSTGRES_URL (scripts/test-all.sh starts one per
 * run), else a throwaway cluster started here by scripts/it/postgres.sh and stopped in `after`
 * (also when `before` failed half-way: the lifecycle helper stops what was registered). Each
 * test gets a schema of its own, dropped afterwards.
 *
 * Then what only the PostgreSQL store has: migrations applied once under concurrent opens, day
 * partitions, the password never in an error, scan under concurrent writers, rows written with a
 * `body` text before events migration 2 read through every path after it, and the plans of
 * lookups: a member account's filter walks its member index (events migration 4).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { getPriority } from 'node:os';
import { describe, it } from 'node:test';
import pg from 'pg';
import { eventStoreContract, MANAGEMENT } from '../../contract/event-store.js';
import type { ActionTrailEvent } from '../../../src/event/types.js';
import { PostgresEventStore, READER_APPLICATION } from '../../../src/store/postgres/events.js';
import { EVENTS_COMPONENT, EVENTS_MIGRATIONS } from '../../../src/store/postgres/events-schema.js';
import { pgText, resourceKeys } from '../../../src/store/postgres/filter.js';
import { migrate } from '../../../src/store/postgres/migrations.js';
import { Partitions } from '../../../src/store/postgres/partitions.js';
import { poolConfig } from '../../../src/store/postgres/url.js';
import type { Cursor, EventFilter } from '../../../src/store/types.js';
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

/** A prepared statement a store ran (`prepared` in events.ts: named `ft_…`). */
interface Ran {
  text: string;
  values: unknown[];
}

/** Records the prepared statements `store` runs from now on (its pool's clients, each wrapped once). */
function recordStatements(store: PostgresEventStore): Ran[] {
  const ran: Ran[] = [];
  const wrapped = new WeakSet<object>();
  store.pool.on('acquire', (client) => {
    if (wrapped.has(client)) return;
    wrapped.add(client);
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      const q = args[0] as { name?: string; text?: string; values?: unknown[] };
      if (typeof q === 'object' && q.name?.startsWith('ft_') && q.text) ran.push({ text: q.text, values: q.values ?? [] });
      return query(...args);
    };
  });
  return ran;
}

/**
 * The indexes (their partitioned parents' names) that the generic plan of `ran` reads, planned as
 * the store plans a lookup (withGenericPlans' settings).
 */
async function indexesOf(schema: string, ran: Ran): Promise<string[]> {
  const c = await postgres.admin.connect();
  try {
    await c.query(`SET search_path TO ${schema}`);
    await c.query('SET plan_cache_mode = force_generic_plan; SET enable_sort = off; SET jit = off; SET max_parallel_workers_per_gather = 0');
    await c.query(`PREPARE plan_of AS ${ran.text}`);
    const args = ran.values.map((v) => (typeof v === 'number' ? String(v) : c.escapeLiteral(String(v))));
    const [row] = (await c.query(`EXPLAIN (FORMAT JSON) EXECUTE plan_of${args.length ? `(${args.join(', ')})` : ''}`)).rows as [{ 'QUERY PLAN': unknown }];
    const names = new Set<string>();
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node && typeof node === 'object') {
        const name = (node as Record<string, unknown>)['Index Name'];
        if (typeof name === 'string') names.add(name);
        Object.values(node).forEach(walk);
      }
    };
    walk(row['QUERY PLAN']);
    const parents = (await c.query(
      `SELECT DISTINCT coalesce(p.relname, c.relname) AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_inherits i ON i.inhrelid = c.oid LEFT JOIN pg_class p ON p.oid = i.inhparent
        WHERE n.nspname = $1 AND c.relname = ANY($2::text[]) ORDER BY 1`,
      [schema, [...names]],
    )).rows as { name: string }[];
    return parents.map((r) => r.name);
  } finally {
    await c.query('DEALLOCATE ALL').catch(() => undefined);
    c.release(true);
  }
}

async function newSchema(): Promise<string> {
  const schema = await postgres.newSchema();
  return schema;
}

// Lookups on a reader thread, as `serve` runs them (store.readers); the plan tests below run them
// on the calling thread (readers 0), the same code.
eventStoreContract('PostgreSQL', {
  async space() {
    const schema = await newSchema();
    return {
      open: (opts = {}) =>
        PostgresEventStore.open({ url: url(), schema, flushIntervalMs: opts.flushIntervalMs ?? 5, poolMax: 4, readers: 1, managementAccountId: MANAGEMENT, ...(opts.scanBudget ? { scanBudget: opts.scanBudget } : {}) }),
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
      assert.deepEqual(rows, EVENTS_MIGRATIONS.map((m) => ({ component: 'events', version: m.version })));
      assert.deepEqual(EVENTS_MIGRATIONS.map((m) => m.version), [1, 2, 3, 4, 5]);
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

  it('answers lookups, gets, scans and histograms and prepares ingest batches on its reader threads (below the calling thread with readerNice) as the calling thread would', async () => {
    const schema = await newSchema();
    const poolErrors: string[] = [];
    const store = await PostgresEventStore.open({ url: url(), schema, flushIntervalMs: 5, readers: 2, readerNice: 5, onPoolError: (err) => poolErrors.push(err.message) });
    const here = await PostgresEventStore.open({ url: url(), schema, flushIntervalMs: 5 });
    try {
      const events = newEvents(120, { start: Date.parse('2026-02-01T00:30:00Z'), stepMs: 3600_000 });
      await Promise.all(events.map((e) => store.append(e)));
      const ran = recordStatements(store);
      const filter = { startTime: 0, endTime: Date.parse('2030-01-01T00:00:00Z') };
      const cases = [filter, { ...filter, user: 'bob' }, { ...filter, user: 'bob', sourceIpAddress: '10.0.0.1' }, { ...filter, eventRW: 'Write' as const }];
      for (const f of cases) {
        for (const direction of ['FORWARD', 'BACKWARD'] as const) {
          const [threaded, local] = await Promise.all([store.lookup({ filter: f, direction, limit: 7 }), here.lookup({ filter: f, direction, limit: 7 })]);
          assert.ok(threaded.events.length > 0, JSON.stringify(f));
          assert.deepEqual(threaded, local, `${JSON.stringify(f)} ${direction}`);
          if (threaded.next) assert.deepEqual(await store.lookup({ filter: f, direction, limit: 7, after: threaded.next }), await here.lookup({ filter: f, direction, limit: 7, after: threaded.next }));
        }
      }
      // Several at once spread over both threads; none ran a lookup statement on the calling thread's pool.
      const many = await Promise.all(Array.from({ length: 8 }, () => store.lookup({ filter, direction: 'FORWARD', limit: 50 })));
      assert.ok(many.every((p) => p.events.length === 50));
      assert.deepEqual(ran, [], "the store's own pool ran no lookup statement");
      // Gets, trail scans and histograms too: the store's own pool is not even asked for a connection.
      let acquired = 0;
      store.pool.on('acquire', () => acquired++);
      const target = events[17] as ActionTrailEvent;
      assert.deepEqual(await store.get(target.eventId), await here.get(target.eventId));
      assert.deepEqual(await store.scan(10, 25), await here.scan(10, 25));
      const hq = { filter: { startTime: Date.parse('2026-02-01T00:00:00Z'), endTime: Date.parse('2026-02-07T00:00:00Z') }, buckets: 24, groupBy: 'eventName' as const };
      assert.deepEqual(await store.histogram(hq), await here.histogram(hq));
      assert.equal(acquired, 0);
      // Ingest batches are prepared (parsed, compressed, serialized) on a reader thread: this
      // thread's prepareSerialized is never called; the transactions are this store's.
      store.prepareSerialized = () => {
        throw new Error('prepared on the calling thread');
      };
      const more = newEvents(30, { start: Date.parse('2026-03-01T00:00:00Z'), stepMs: 60_000 });
      assert.deepEqual(await store.appendSerialized(JSON.stringify([...more, more[0]])), [30]);
      assert.deepEqual(await here.get((more[29] as ActionTrailEvent).eventId), more[29]);
      // An idle reader connection that fails reaches the store's onPoolError (the instance logs
      // it); the thread's pool replaces it and lookups go on.
      assert.equal(poolErrors.length, 0);
      const killed = (await postgres.admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()`, [READER_APPLICATION]))?.rowCount ?? 0;
      assert.ok(killed > 0, 'the reader threads hold connections of their own');
      for (const until = Date.now() + 30_000; poolErrors.length === 0 && Date.now() < until; ) await new Promise((r) => setTimeout(r, 50));
      assert.ok(poolErrors.length > 0, 'a failed reader connection was reported');
      assert.ok(poolErrors.every((m) => !m.includes('postgres://')), 'no URL in the message');
      assert.equal((await store.lookup({ filter, direction: 'FORWARD', limit: 5 })).events.length, 5);
      if (process.platform === 'linux' && getPriority() <= 14) {
        const lowered = readdirSync('/proc/self/task').filter((tid) => {
          try {
            const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
            return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]) === getPriority() + 5;
          } catch {
            return false; // the thread ended between the listing and the read
          }
        });
        assert.equal(lowered.length, 2, 'two reader threads, 5 nice steps below');
      }
    } finally {
      await here.close();
      await store.close();
      await postgres.admin.query(`DROP SCHEMA ${schema} CASCADE`);
    }
    await assert.rejects(store.lookup({ filter: { startTime: 0, endTime: 1 }, direction: 'FORWARD', limit: 1 }), /closed/);
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
  it("walks a member account's lookup on the member index of its filter; the management account's and all accounts' on the plain ones", async () => {
    const schema = await newSchema();
    const MEMBERS = Array.from({ length: 20 }, (_, k) => String(3000000000000000 + k));
    const store = await PostgresEventStore.open({ url: url(), schema, flushIntervalMs: 5, managementAccountId: MANAGEMENT });
    try {
      // 6,300 events over 3 days, each drawn (seeded) into one of 20 member accounts or the
      // management account, one of 10 users, 5 IPs and 4 clusters; some failures and service events.
      let seed = 17;
      const draw = (n: number) => {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        return Math.floor(seed / 65536) % n;
      };
      const events = newEvents(6300, { start: Date.parse('2026-02-01T00:00:00Z'), stepMs: 41_000 }).map((e, i): ActionTrailEvent => {
        const a = draw(21);
        const user = `u${draw(10)}`;
        let out: ActionTrailEvent = {
          ...e,
          recipientAccountId: a === 0 ? MANAGEMENT : MEMBERS[a - 1],
          userIdentity: { ...e.userIdentity, userName: user, principalId: `p-${user}`, accessKeyId: `FTAK${user.toUpperCase()}` },
          sourceIpAddress: `10.0.0.${draw(5)}`,
          additionalEventData: { ...e.additionalEventData, cluster: `c${draw(4)}` },
        };
        if (i % 9 === 4) out = { ...out, errorCode: 'NotFound' };
        if (i % 15 === 7) out = { ...out, eventType: 'AliyunServiceEvent', serviceName: 'Kubernetes' };
        return out;
      });
      for (let i = 0; i < events.length; i += 1000) await store.appendSerialized(JSON.stringify(events.slice(i, i + 1000)));
      // The statistics autovacuum would have gathered on a store that grew.
      await postgres.admin.query(`ANALYZE ${schema}.events`);
      const ran = recordStatements(store);
      const all = { startTime: Date.parse('2026-02-01T00:00:00Z'), endTime: Date.parse('2026-02-04T00:00:00Z') };
      const member = MEMBERS[3] as string;
      const cases: [Omit<EventFilter, 'startTime' | 'endTime'>, string[]][] = [
        [{ accountId: member, user: 'u7' }, ['events_acct_user_time']],
        [{ accountId: member, eventName: 'CancelJob' }, ['events_acct_name_time']],
        [{ accountId: member, accessKeyId: 'FTAKU7' }, ['events_acct_ak_time']],
        [{ accountId: member, sourceIpAddress: '10.0.0.3' }, ['events_acct_ip_time']],
        [{ accountId: member, errorCode: 'NotFound' }, ['events_acct_error_time']],
        [{ accountId: member, cluster: 'c2' }, ['events_acct_cluster_time']],
        [{ accountId: member, serviceName: 'Kubernetes' }, ['events_acct_service_time']],
        [{ accountId: member, eventRW: 'Write' }, ['events_acct_write_time']],
        [{ accountId: member, sensitive: true }, ['events_acct_sensitive_time']],
        // Several filters: one of their member indexes drives (the probes pick which).
        [{ accountId: member, user: 'u7', eventName: 'CancelJob' }, ['events_acct_name_time', 'events_acct_user_time']],
        [{ accountId: member, eventRW: 'Write', cluster: 'c2', region: 'local' }, ['events_acct_cluster_time', 'events_acct_write_time']],
        // Read has no member index: the account's own does.
        [{ accountId: member, eventRW: 'Read' }, ['events_account_only_time']],
        // The management account (stored with no account) and every account: the plain indexes, as before.
        [{ accountId: MANAGEMENT, user: 'u7' }, ['events_user_time']],
        [{ user: 'u7' }, ['events_user_time']],
        [{ accountId: MANAGEMENT, eventRW: 'Write', cluster: 'c2' }, ['events_cluster_time', 'events_rw_time']],
      ];
      for (const [f, allowed] of cases) {
        for (const direction of ['FORWARD', 'BACKWARD'] as const) {
          ran.length = 0;
          const filter = { ...all, ...f };
          const page = await store.lookup({ filter, direction, limit: 10 });
          const want = events.filter((e) => {
            const t = Date.parse(e.eventTime);
            return (
              t >= filter.startTime && t <= filter.endTime &&
              (f.accountId === undefined || e.recipientAccountId === f.accountId) &&
              (f.user === undefined || e.userIdentity.userName === f.user) &&
              (f.eventName === undefined || e.eventName === f.eventName) &&
              (f.accessKeyId === undefined || e.userIdentity.accessKeyId === f.accessKeyId) &&
              (f.sourceIpAddress === undefined || e.sourceIpAddress === f.sourceIpAddress) &&
              (f.errorCode === undefined || e.errorCode === f.errorCode) &&
              (f.cluster === undefined || e.additionalEventData.cluster === f.cluster) &&
              (f.serviceName === undefined || e.serviceName === f.serviceName) &&
              (f.eventRW === undefined || e.eventRW === f.eventRW) &&
              (f.region === undefined || e.acsRegion === f.region) &&
              (f.sensitive === undefined || (e.additionalEventData.sensitive === true) === f.sensitive)
            );
          });
          const label = `${JSON.stringify(f)} ${direction}`;
          assert.ok(want.length > 0, `${label}: the dataset has matches`);
          assert.deepEqual(page.events.map((e) => e.eventId), (direction === 'FORWARD' ? want : [...want].reverse()).slice(0, 10).map((e) => e.eventId), label);
          const pageStatement = ran.filter((r) => r.text.startsWith('SELECT e.seq')).pop();
          assert.ok(pageStatement, `${label}: the page statement was seen`);
          const used = await indexesOf(schema, pageStatement);
          assert.equal(used.length, 1, `${label}: one index drives the page (${used.join(', ')})`);
          assert.ok(allowed.includes(used[0] as string), `${label}: walks ${used.join(', ')}, not ${allowed.join(' or ')}`);
        }
      }
    } finally {
      await store.close();
      await postgres.admin.query(`DROP SCHEMA ${schema} CASCADE`);
    }
  });
});
