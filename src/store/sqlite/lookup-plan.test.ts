/**
 * The lookup planner chooses which index drives a query (by how sparse each filter's matches
 * are); whatever it chooses, the pages must be exactly what the filters select. Checked with
 * fast-check against a plain in-memory filter over a skewed store, every filter combination,
 * both directions, paging all the way through — with a tiny plan probe so that the "common"
 * and "rare" branches are both taken on a small store.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { finishEvent, newEvent } from '../../event/build.js';
import type { ActionTrailEvent } from '../../event/types.js';
import type { Cursor, Direction, EventFilter } from '../types.js';
import { openDatabase, type Db } from './database.js';
import { SqliteEventStore } from './events.js';

const USERS = ['ann', 'bob', 'cy', 'dee', 'eve', 'fay', 'gus', 'hal'];
const NAMES = ['GetJobDetails', 'GetJobsOverview', 'CancelJob', 'TriggerSavepoint', 'UploadJar', 'RunJar'];
const IPS = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.9.9.9'];
const CLUSTERS = ['c1', 'c2', 'c3'];
const JOBS = ['j1', 'j2', 'j3', 'j4', 'j5', 'j6', 'j7', 'j8', 'j9'];
const T0 = Date.parse('2026-03-01T00:00:00Z');

/** Skewed picks: index 0 most of the time, the tail rarely (as in real audit logs). */
function skewed<T>(list: readonly T[], u: number): T {
  return list[Math.min(list.length - 1, Math.floor(list.length * u ** 3))] as T;
}

const MANAGEMENT = '1000000000000001';

function makeEvents(n: number): ActionTrailEvent[] {
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const out: ActionTrailEvent[] = [];
  for (let i = 0; i < n; i++) {
    const name = skewed(NAMES, rnd());
    const rw = name.startsWith('Get') ? 'Read' : 'Write';
    const cluster = skewed(CLUSTERS, rnd());
    const job = skewed(JOBS, rnd());
    const e = newEvent({
      eventName: name,
      eventRW: rw,
      eventType: rnd() < 0.3 ? 'ConsoleOperation' : 'ApiCall',
      eventSource: 'flink-jobmanager',
      serviceName: rnd() < 0.1 ? 'Actiontrail' : 'RealtimeCompute',
      acsRegion: rnd() < 0.5 ? 'r1' : 'r2',
      sourceIpAddress: skewed(IPS, rnd()),
      userAgent: 'test',
      userIdentity: { type: 'ram-user', principalId: 'p', accountId: '1', userName: skewed(USERS, rnd()), accessKeyId: `AK${skewed(USERS, rnd())}` },
      requestId: `r${i}`,
      // Several events share a millisecond, so the seq tie-break is exercised too.
      time: new Date(T0 + Math.floor(i / 3) * 1000),
      referencedResources: { 'ACS::RealtimeCompute::Cluster': [cluster], ...(rnd() < 0.7 ? { 'ACS::RealtimeCompute::Job': [job] } : {}) },
      additionalEventData: { sensitive: rw === 'Write', cluster },
    });
    // FlinkTrail's own events are global here: stored once, matched by every region filter.
    if (e.serviceName === 'Actiontrail') e.isGlobal = true;
    // Accounts: the management account (stored without one) and two members, one of them small.
    const a = rnd();
    e.recipientAccountId = a < 0.6 ? MANAGEMENT : a < 0.9 ? 'm-big' : 'm-small';
    const fail = rnd() < 0.1;
    out.push(finishEvent(e, fail ? { outcome: 'failure', errorCode: skewed(['Flink.NotFound', 'Flink.BadRequest'], rnd()), errorMessage: 'x' } : { outcome: 'success' }));
  }
  return out;
}

function matches(e: ActionTrailEvent, f: EventFilter): boolean {
  const t = Date.parse(e.eventTime);
  const res = Object.entries(e.referencedResources);
  return (
    t >= f.startTime &&
    t <= f.endTime &&
    (f.user === undefined || e.userIdentity.userName === f.user) &&
    (f.eventName === undefined || e.eventName === f.eventName) &&
    (f.eventRW === undefined || e.eventRW === f.eventRW) &&
    (f.eventType === undefined || e.eventType === f.eventType) &&
    (f.serviceName === undefined || e.serviceName === f.serviceName) &&
    (f.accessKeyId === undefined || e.userIdentity.accessKeyId === f.accessKeyId) &&
    (f.sourceIpAddress === undefined || e.sourceIpAddress === f.sourceIpAddress) &&
    (f.region === undefined || e.isGlobal || e.acsRegion === f.region) &&
    (f.cluster === undefined || e.additionalEventData['cluster'] === f.cluster) &&
    (f.errorCode === undefined || e.errorCode === f.errorCode) &&
    (f.accountId === undefined || e.recipientAccountId === f.accountId) &&
    (f.sensitive === undefined || e.additionalEventData.sensitive === f.sensitive) &&
    (f.resourceName === undefined && f.resourceType === undefined
      ? true
      : res.some(([type, names]) => (f.resourceType === undefined || type === f.resourceType) && (f.resourceName === undefined || names.includes(f.resourceName))))
  );
}

describe('lookup planner', () => {
  let dir: string;
  let db: Db;
  let store: SqliteEventStore;
  const events = makeEvents(1500);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ft-plan-'));
    db = openDatabase(dir);
    store = new SqliteEventStore(db, { flushIntervalMs: 5, planProbe: 40, scanBudget: 25, managementAccountId: MANAGEMENT });
    await Promise.all(events.map((e) => store.append(e)));
  });
  after(async () => {
    await store.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const opt = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 2 });
  const filterArb = fc
    .record({
      user: opt(fc.constantFrom(...USERS, 'nobody')),
      eventName: opt(fc.constantFrom(...NAMES)),
      eventRW: opt(fc.constantFrom('Read' as const, 'Write' as const)),
      eventType: opt(fc.constantFrom('ApiCall' as const, 'ConsoleOperation' as const)),
      serviceName: opt(fc.constantFrom('RealtimeCompute', 'Actiontrail')),
      accessKeyId: opt(fc.constantFrom(...USERS.map((u) => `AK${u}`))),
      sourceIpAddress: opt(fc.constantFrom(...IPS)),
      region: opt(fc.constantFrom('r1', 'r2')),
      cluster: opt(fc.constantFrom(...CLUSTERS)),
      errorCode: opt(fc.constantFrom('Flink.NotFound', 'Flink.BadRequest')),
      accountId: opt(fc.constantFrom(MANAGEMENT, 'm-big', 'm-small', 'm-none')),
      sensitive: opt(fc.boolean()),
      resourceName: opt(fc.constantFrom(...JOBS, ...CLUSTERS)),
      resourceType: opt(fc.constantFrom('ACS::RealtimeCompute::Job', 'ACS::RealtimeCompute::Cluster')),
      from: fc.integer({ min: 0, max: 400 }),
      length: fc.integer({ min: 0, max: 600 }),
    })
    .map(({ from, length, ...rest }) => {
      const f: EventFilter = { startTime: T0 + from * 1000, endTime: T0 + (from + length) * 1000 };
      for (const [k, v] of Object.entries(rest)) if (v !== undefined) (f as unknown as Record<string, unknown>)[k] = v;
      return f;
    });

  it('returns exactly the matching events, in order, page by page, whichever index drives', async () => {
    await fc.assert(
      fc.asyncProperty(filterArb, fc.constantFrom<Direction>('FORWARD', 'BACKWARD'), fc.integer({ min: 1, max: 60 }), async (filter, direction, limit) => {
        const expected = events.filter((e) => matches(e, filter)).map((e) => e.eventId);
        if (direction === 'BACKWARD') expected.reverse();
        const got: string[] = [];
        let after: Cursor | undefined;
        for (let pages = 0; pages < 2000; pages++) {
          const page = await store.lookup({ filter, direction, limit, ...(after ? { after } : {}) });
          got.push(...page.events.map((e) => e.eventId));
          if (!page.next) break;
          after = page.next;
        }
        assert.deepEqual(got, expected);
      }),
      { numRuns: 150 },
    );
  });
});
