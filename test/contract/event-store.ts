/**
 * The EventStore contract as tests, shared by every store: `eventStoreContract(name, backend)`
 * registers node:test cases that run against a fresh store per test. The SQLite store runs it as
 * a unit test (src/store/sqlite/events.contract.test.ts), the PostgreSQL store in an integration
 * test against a real server (test/integration/store/postgres-events.test.ts). What one store
 * does and the other does not is a contract bug, found here.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { finishEvent, newEvent } from '../../src/event/build.js';
import type { ActionTrailEvent } from '../../src/event/types.js';
import type { Cursor, Direction, EventFilter, EventStore, LookupRequest } from '../../src/store/types.js';
import { newEvents } from '../helpers/events.js';

export interface StoreOptions {
  /** Most index entries one lookup page walks (small, to force short pages). */
  scanBudget?: number;
  /** The flush timer of appends (default: a few ms). */
  flushIntervalMs?: number;
}

/** The management account every store of the contract is opened with (`managementAccountId`). */
export const MANAGEMENT = '1000000000000001';
const MEMBER_A = '5000000000000005';
const MEMBER_B = '6000000000000006';

/** Where one test's stores live: `open` may be called again after `close` and sees the same data. */
export interface StoreSpace {
  open(opts?: StoreOptions): Promise<EventStore>;
  /** Removes what the space holds (after the test's stores are closed). */
  dispose(): Promise<void>;
}

export interface StoreBackend {
  /** A new, empty, independent space for one test. */
  space(): Promise<StoreSpace>;
}

const DAY = 86_400_000;
const T0 = Date.parse('2026-03-01T00:00:00Z');
const ALL: EventFilter = { startTime: 0, endTime: Date.parse('2030-01-01T00:00:00Z') };
const JOB = 'ACS::RealtimeCompute::Job';

/** 120 events over three days with failures, a second cluster, service events, global events and a resource of another type. */
function dataset(): ActionTrailEvent[] {
  const events = newEvents(120, { start: T0, stepMs: 36 * 60_000 + 7, users: ['alice', 'bob', 'carol', 'dave'] });
  return events.map((e, i) => {
    let out = e;
    if (i % 9 === 4) out = finishEvent(out, { outcome: 'failure', httpStatus: 403, errorCode: i % 2 ? 'NoPermission' : 'NotFound', errorMessage: 'no' });
    if (i % 10 === 3) out = { ...out, additionalEventData: { ...out.additionalEventData, cluster: 'staging' } };
    if (i % 15 === 7) out = { ...out, eventType: 'AliyunServiceEvent', serviceName: 'Kubernetes' };
    if (i % 12 === 5) out = { ...out, referencedResources: { ...out.referencedResources, 'ACS::RealtimeCompute::Savepoint': [`sp-${i % 3}`] } };
    if (i % 13 === 6) out = { ...out, userIdentity: { ...out.userIdentity, accessKeyId: 'FTAKROTATED' } };
    // Accounts: two members, the management account named, and events from before accounts (none).
    if (i % 7 === 2) out = { ...out, recipientAccountId: MEMBER_A };
    else if (i % 7 === 5) out = { ...out, recipientAccountId: MEMBER_B };
    else if (i % 11 === 1) {
      out = { ...out };
      delete out.recipientAccountId;
    } else out = { ...out, recipientAccountId: MANAGEMENT };
    // Global (stored once, seen from every region), in either region of the dataset.
    if (i % 11 === 2) out = { ...out, isGlobal: true };
    return out;
  });
}

function matches(e: ActionTrailEvent, f: EventFilter): boolean {
  const t = Date.parse(e.eventTime);
  if (t < f.startTime || t > f.endTime) return false;
  const res = Object.entries(e.referencedResources);
  const checks: [unknown, unknown][] = [
    [f.eventRW, e.eventRW],
    [f.user, e.userIdentity.userName],
    [f.serviceName, e.serviceName],
    [f.eventName, e.eventName],
    [f.eventType, e.eventType],
    [f.accessKeyId, e.userIdentity.accessKeyId],
    [f.eventId, e.eventId],
    // A global event is stored once and seen from every region.
    [f.region, e.isGlobal && f.region !== undefined ? f.region : e.acsRegion],
    [f.errorCode, e.errorCode],
    [f.sourceIpAddress, e.sourceIpAddress],
    [f.cluster, e.additionalEventData.cluster],
    [f.sensitive, e.additionalEventData.sensitive === true],
  ];
  if (checks.some(([want, got]) => want !== undefined && want !== got)) return false;
  if (f.accountId != null && (e.recipientAccountId ?? MANAGEMENT) !== f.accountId) return false;
  if (f.resourceType !== undefined || f.resourceName !== undefined) {
    return res.some(([type, names]) => (f.resourceType === undefined || type === f.resourceType) && (f.resourceName === undefined || names.includes(f.resourceName)));
  }
  return true;
}

/** In the stores' sort order: event time, then append order (= dataset order here). */
function expected(events: ActionTrailEvent[], f: EventFilter, direction: Direction): string[] {
  const ids = events.filter((e) => matches(e, f)).map((e) => e.eventId);
  return direction === 'BACKWARD' ? ids.reverse() : ids;
}

/** Every page of a lookup, following cursors; also how many pages came back short with a cursor. */
async function allPages(store: EventStore, req: Omit<LookupRequest, 'after'>): Promise<{ ids: string[]; pages: number; short: number }> {
  const ids: string[] = [];
  let after: Cursor | undefined;
  let pages = 0;
  let short = 0;
  for (;;) {
    const page = await store.lookup({ ...req, ...(after ? { after } : {}) });
    pages++;
    ids.push(...page.events.map((e) => e.eventId));
    if (!page.next) break;
    if (page.events.length < req.limit) short++;
    after = page.next;
    assert.ok(pages < 10_000, 'lookup pages never end');
  }
  return { ids, pages, short };
}

/** A pending (journaled) form of an event. */
function pendingOf(e: ActionTrailEvent): ActionTrailEvent {
  const p = structuredClone(e);
  p.additionalEventData = { ...p.additionalEventData, outcome: 'pending' };
  delete p.errorCode;
  delete p.errorMessage;
  return p;
}

function oneEvent(name: string, time: number, user = 'erin'): ActionTrailEvent {
  const e = newEvent({
    eventName: name,
    eventRW: 'Write',
    eventType: 'ApiCall',
    eventSource: 'flink-jobmanager',
    serviceName: 'RealtimeCompute',
    acsRegion: 'local',
    sourceIpAddress: '10.1.1.1',
    userAgent: 'test',
    userIdentity: { type: 'ram-user', principalId: `p-${user}`, accountId: MANAGEMENT, userName: user },
    requestId: `req-${name}`,
    time: new Date(time),
    referencedResources: { [JOB]: ['job-x'] },
    additionalEventData: { sensitive: true, cluster: 'default' },
  });
  return finishEvent(e, { outcome: 'success', httpStatus: 200 });
}

/** Every filter, alone and combined (eventId: one of the dataset's, added by the test). */
const FILTERS: Omit<EventFilter, 'startTime' | 'endTime'>[] = [
  {},
  { eventRW: 'Write' },
  { eventRW: 'Read' },
  { user: 'carol' },
  { serviceName: 'Kubernetes' },
  { eventName: 'CancelJob' },
  { eventType: 'AliyunServiceEvent' },
  { resourceType: 'ACS::RealtimeCompute::Savepoint' },
  { resourceName: 'job-3' },
  { resourceType: JOB, resourceName: 'job-3' },
  { resourceType: 'ACS::RealtimeCompute::Savepoint', resourceName: 'job-3' },
  { accessKeyId: 'FTAKROTATED' },
  { accessKeyId: 'FTAKBOB' },
  { sensitive: true },
  { sensitive: false },
  { eventId: 'no-such-event' },
  { region: 'cn-hangzhou' },
  { errorCode: 'NoPermission' },
  { sourceIpAddress: '10.0.0.3' },
  { cluster: 'staging' },
  { eventName: 'CancelJob', user: 'carol', resourceName: 'job-2' },
  { eventRW: 'Write', cluster: 'staging', sensitive: true },
  { user: 'alice', region: 'local', eventType: 'ApiCall' },
  { errorCode: 'NotFound', sourceIpAddress: '10.0.0.4' },
  { eventRW: 'Read', user: 'bob' },
  { resourceName: 'job-3', user: 'dave' },
  { user: 'nobody' },
  { accountId: MEMBER_A },
  { accountId: MEMBER_B, eventRW: 'Write' },
  { accountId: MANAGEMENT },
  { accountId: MANAGEMENT, user: 'carol', cluster: 'staging' },
  { accountId: MEMBER_A, user: 'bob' },
  { accountId: '7000000000000007' },
];

export function eventStoreContract(name: string, backend: StoreBackend): void {
  /** Runs `fn` with a store in a fresh space; closes and disposes whatever happens. */
  const withStore = async (fn: (store: EventStore, space: StoreSpace) => Promise<void>, opts?: StoreOptions) => {
    const space = await backend.space();
    const opened: EventStore[] = [];
    try {
      const store = await space.open(opts);
      opened.push(store);
      await fn(store, {
        open: async (o) => {
          const s = await space.open(o);
          opened.push(s);
          return s;
        },
        dispose: () => space.dispose(),
      });
    } finally {
      for (const s of opened) await s.close().catch(() => undefined);
      await space.dispose();
    }
  };
  const filled = async (fn: (store: EventStore, events: ActionTrailEvent[]) => Promise<void>, opts?: StoreOptions) =>
    withStore(async (store) => {
      const events = dataset();
      // Called in order, so that append order (seq) follows event time, as the expected order assumes.
      await Promise.all(events.map((e) => store.append(e)));
      await fn(store, events);
    }, opts);

  describe(`EventStore contract: ${name}`, () => {
    it('journal is durable and pending at once; complete replaces it with its final form', () =>
      withStore(async (store) => {
        const final = oneEvent('CancelJob', T0);
        await store.journal(pendingOf(final));
        assert.equal((await store.get(final.eventId))?.additionalEventData.outcome, 'pending');
        assert.equal((await store.lookup({ filter: ALL, direction: 'FORWARD', limit: 10 })).events.length, 1);
        const failed = finishEvent(final, { outcome: 'failure', httpStatus: 409, errorCode: 'Conflict', errorMessage: 'busy' });
        await store.complete(failed);
        const got = await store.get(final.eventId);
        assert.equal(got?.additionalEventData.outcome, 'failure');
        assert.equal(got?.errorCode, 'Conflict');
        const page = await store.lookup({ filter: { ...ALL, errorCode: 'Conflict' }, direction: 'FORWARD', limit: 10 });
        assert.deepEqual(page.events.map((e) => e.eventId), [final.eventId], 'the completed columns are queryable');
        assert.equal((await store.lookup({ filter: ALL, direction: 'FORWARD', limit: 10 })).events.length, 1, 'complete replaces, never adds');
      }));

    it('complete without a journal entry keeps the event', () =>
      withStore(async (store) => {
        const e = oneEvent('RunJar', T0);
        await store.complete(e);
        assert.equal((await store.get(e.eventId))?.eventName, 'RunJar');
      }));

    it('append batches many concurrent calls and commits each exactly once', () =>
      withStore(async (store) => {
        const events = newEvents(300, { start: T0, stepMs: 1000 });
        await Promise.all(events.map((e) => store.append(e)));
        const found = await store.existing(events.map((e) => e.eventId).concat('no-such-id'));
        assert.equal(found.size, 300);
        assert.equal(found.has('no-such-id'), false);
        const scanned = await store.scan(0, 1000);
        assert.deepEqual(scanned.map((p) => p.event.eventId), events.map((e) => e.eventId), 'append order');
        assert.equal(await store.lastSeq(), scanned[scanned.length - 1]?.seq);
        assert.ok(scanned.every((p, i) => i === 0 || p.seq > (scanned[i - 1] as { seq: number }).seq), 'positions grow');
      }));

    it('a pending event stops the scan until it is completed; readers never skip it', () =>
      withStore(async (store) => {
        const a = oneEvent('A', T0);
        const b = oneEvent('B', T0 + 1);
        const c = oneEvent('C', T0 + 2);
        await store.append(a);
        await store.journal(pendingOf(b));
        await store.append(c);
        const first = await store.scan(0, 10);
        assert.deepEqual(first.map((p) => p.event.eventName), ['A']);
        assert.deepEqual(await store.scan(first[0]?.seq ?? 0, 10), []);
        await store.complete(b);
        const all = await store.scan(0, 10);
        assert.deepEqual(all.map((p) => p.event.eventName), ['A', 'B', 'C']);
        assert.deepEqual((await store.scan(all[0]?.seq ?? 0, 1)).map((p) => p.event.eventName), ['B'], 'limit');
      }));

    it('every filter, alone and combined (AND), in both directions', () =>
      filled(async (store, events) => {
        const some = events[17] as ActionTrailEvent;
        const filters = [...FILTERS, { eventId: some.eventId }];
        for (const f of filters) {
          for (const direction of ['FORWARD', 'BACKWARD'] as const) {
            const filter = { ...ALL, ...f };
            const want = expected(events, filter, direction);
            const { ids } = await allPages(store, { filter, direction, limit: 7 });
            assert.deepEqual(ids, want, `${JSON.stringify(f)} ${direction}`);
          }
        }
        assert.ok(expected(events, { ...ALL, errorCode: 'NoPermission' }, 'FORWARD').length > 0, 'the dataset has every kind');
        assert.ok(expected(events, { ...ALL, resourceType: 'ACS::RealtimeCompute::Savepoint' }, 'FORWARD').length > 0);
        assert.ok(events.some((e) => e.recipientAccountId === undefined) && expected(events, { ...ALL, accountId: MEMBER_A, user: 'bob' }, 'FORWARD').length > 0, 'every kind of account');
      }));

    // A member account's lookups are always scoped to it (query/lookup.ts, QueryScope): the
    // stores drive "filter AND the account" from indexes of their own (member indexes).
    for (const scanBudget of [undefined, 8]) {
      it(`every filter ANDed with each account, as a scan of that account's events finds${scanBudget ? ' (bounded walks)' : ''}`, () =>
        filled(
          async (store, events) => {
            let found = 0;
            for (const accountId of [MEMBER_A, MEMBER_B, MANAGEMENT]) {
              for (const f of [...FILTERS.filter((x) => x.accountId === undefined), { eventId: (events[2] as ActionTrailEvent).eventId }]) {
                for (const direction of ['FORWARD', 'BACKWARD'] as const) {
                  const filter = { ...ALL, ...f, accountId };
                  const want = expected(events, filter, direction);
                  const { ids } = await allPages(store, { filter, direction, limit: 3 });
                  assert.deepEqual(ids, want, `${JSON.stringify(f)} of ${accountId} ${direction}`);
                  if (want.length > 0) found++;
                }
              }
            }
            assert.ok(found > 60, `most combinations have matches (${found})`);
          },
          scanBudget ? { scanBudget } : undefined,
        ));
    }

    it('regions: a global event is in the lookup of every region, a regional one only in its own and in the all-regions lookup', () =>
      withStore(async (store) => {
        const at = (i: number) => T0 + i * 1000;
        const inA = { ...oneEvent('CancelJob', at(1)), acsRegion: 'region-a' };
        const inB = { ...oneEvent('CancelJob', at(2)), acsRegion: 'region-b' };
        // Recorded in the global events storage region (region-a), visible from region-b and any other.
        const signIn = { ...oneEvent('ConsoleSignin', at(3)), acsRegion: 'region-a', isGlobal: true };
        for (const e of [inA, inB]) await store.append(e);
        await store.journal({ ...signIn, additionalEventData: { ...signIn.additionalEventData, outcome: 'pending' } });
        await store.complete(signIn);
        const ids = async (region?: string) =>
          (await store.lookup({ filter: { ...ALL, ...(region ? { region } : {}) }, direction: 'FORWARD', limit: 50 })).events.map((e) => e.eventName + '@' + e.acsRegion);
        assert.deepEqual(await ids('region-a'), ['CancelJob@region-a', 'ConsoleSignin@region-a']);
        assert.deepEqual(await ids('region-b'), ['CancelJob@region-b', 'ConsoleSignin@region-a'], 'the record keeps the real acsRegion');
        assert.deepEqual(await ids('region-c'), ['ConsoleSignin@region-a']);
        assert.deepEqual(await ids(), ['CancelJob@region-a', 'CancelJob@region-b', 'ConsoleSignin@region-a'], 'stored once');
        // Appended through the serialized path as well (ingest).
        const ingested = { ...oneEvent('CreateAccessKey', at(4)), acsRegion: 'region-b', isGlobal: true };
        assert.deepEqual(await store.appendSerialized(JSON.stringify([ingested])), []);
        assert.deepEqual(await ids('region-c'), ['ConsoleSignin@region-a', 'CreateAccessKey@region-b']);
        const h = await store.histogram({ filter: { ...ALL, region: 'region-b' }, buckets: 1, groupBy: 'eventRW' });
        assert.equal(h.total, 3, 'the histogram counts what the lookup finds');
        assert.equal((await store.get(signIn.eventId))?.acsRegion, 'region-a');
      }));

    it('time range bounds are inclusive; a page says when more follow', () =>
      filled(async (store, events) => {
        const t = (i: number) => Date.parse((events[i] as ActionTrailEvent).eventTime);
        const filter = { startTime: t(10), endTime: t(20) };
        const page = await store.lookup({ filter, direction: 'FORWARD', limit: 11 });
        assert.deepEqual(page.events.map((e) => e.eventId), events.slice(10, 21).map((e) => e.eventId));
        assert.equal(page.next, undefined, 'nothing follows a page that holds the rest');
        const first = await store.lookup({ filter, direction: 'BACKWARD', limit: 4 });
        assert.deepEqual(first.events.map((e) => e.eventId), events.slice(17, 21).reverse().map((e) => e.eventId));
        assert.ok(first.next);
      }));

    it('bounded walks: short pages with cursors still yield every event in order', () =>
      filled(
        async (store, events) => {
          // Common alone, rare together: the walk hits its budget long before a page is full.
          let short = 0;
          for (const f of [{ eventName: 'CancelJob', user: 'bob' }, { eventRW: 'Write' as const, cluster: 'staging' }, { region: 'local', errorCode: 'NotFound' }, { resourceType: JOB, user: 'carol', eventName: 'ListJobs' }]) {
            for (const direction of ['FORWARD', 'BACKWARD'] as const) {
              const filter = { ...ALL, ...f };
              const want = expected(events, filter, direction);
              const got = await allPages(store, { filter, direction, limit: 5 });
              assert.deepEqual(got.ids, want, `${JSON.stringify(f)} ${direction}`);
              short += got.short;
            }
          }
          assert.ok(short > 0, 'some pages came back short with a cursor');
        },
        { scanBudget: 8 },
      ));

    it('histogram: counts per bucket split by Read/Write and by event name', () =>
      filled(async (store, events) => {
        const filter = { startTime: T0, endTime: T0 + 3 * DAY - 1, user: 'alice' };
        const h = await store.histogram({ filter, buckets: 6, groupBy: 'eventRW' });
        const want = events.filter((e) => matches(e, filter));
        assert.equal(h.total, want.length);
        assert.equal(h.buckets.length, 6);
        assert.equal(h.bucketMs, DAY / 2);
        h.buckets.forEach((b, i) => {
          const inB = want.filter((e) => Math.floor((Date.parse(e.eventTime) - T0) / (DAY / 2)) === i);
          assert.equal(b.Read, inB.filter((e) => e.eventRW === 'Read').length, `bucket ${i} Read`);
          assert.equal(b.Write, inB.filter((e) => e.eventRW === 'Write').length, `bucket ${i} Write`);
        });
        const byName = await store.histogram({ filter: { ...ALL, startTime: T0, endTime: T0 + 3 * DAY - 1 }, buckets: 3, groupBy: 'eventName' });
        assert.equal(byName.total, 120);
        assert.deepEqual([...(byName.series ?? [])].sort(), ['CancelJob', 'GetJobDetails', 'ListJobs', 'RunJar', 'TriggerSavepoint', 'UploadJar']);
        const cancel = byName.buckets.reduce((n, b) => n + (b.names?.['CancelJob'] ?? 0), 0);
        assert.equal(cancel, events.filter((e) => e.eventName === 'CancelJob').length);
        for (const accountId of [MEMBER_A, MANAGEMENT]) {
          const own = await store.histogram({ filter: { ...ALL, accountId, startTime: T0, endTime: T0 + 3 * DAY - 1 }, buckets: 3, groupBy: 'eventRW' });
          assert.equal(own.total, events.filter((e) => matches(e, { ...ALL, accountId })).length, `histogram of account ${accountId}`);
        }
        const none = await store.histogram({ filter: { ...ALL, eventId: 'no-such-event', startTime: T0, endTime: T0 + DAY }, buckets: 2, groupBy: 'eventRW' });
        assert.equal(none.total, 0);
      }));

    it('a duplicate eventId is stored once (same batch, later batch, after a journal)', () =>
      withStore(async (store) => {
        const e = oneEvent('CancelJob', T0);
        await Promise.all([store.append(e), store.append(structuredClone(e))]);
        await store.append(structuredClone(e));
        const j = oneEvent('RunJar', T0 + 5);
        await store.journal(pendingOf(j));
        await store.journal(pendingOf(j));
        await store.append(j);
        const page = await store.lookup({ filter: ALL, direction: 'FORWARD', limit: 10 });
        assert.deepEqual(page.events.map((x) => x.eventName), ['CancelJob', 'RunJar']);
        assert.equal((await store.scan(0, 10)).length + 0, 1, 'the journaled one is still pending and stops the scan');
        assert.equal((await store.existing([e.eventId, j.eventId])).size, 2);
      }));

    it('appendSerialized inserts unless stored and names the duplicates by position, across its transactions', () =>
      withStore(async (store) => {
        const stored = oneEvent('CancelJob', T0);
        await store.append(stored);
        // More events than one transaction of either store takes (500 SQLite, 2,000 PostgreSQL),
        // one already stored, one repeated at the end (the second occurrence is the duplicate).
        const batch = newEvents(2100, { start: T0 + DAY, stepMs: 1000 });
        const all = [...batch.slice(0, 10), stored, ...batch.slice(10), batch[3] as ActionTrailEvent];
        assert.deepEqual(await store.appendSerialized(JSON.stringify(all)), [10, all.length - 1]);
        assert.deepEqual(await store.appendSerialized(JSON.stringify(batch.slice(0, 2))), [0, 1], 'a resend is all duplicates');
        const ids = (await allPages(store, { filter: ALL, direction: 'FORWARD', limit: 1000 })).ids;
        assert.deepEqual(ids, [stored.eventId, ...batch.map((e) => e.eventId)]);
        assert.deepEqual(await store.get((batch[2000] as ActionTrailEvent).eventId), batch[2000]);
        assert.equal((await store.scan(0, 5000)).length, 2101, 'final events: trails see them');
      }));

    it("an append made while an ingest batch is written is committed before the batch's next transaction, not at the flush timer", () =>
      withStore(
        async (store) => {
          // More events than two transactions of either store take (500 SQLite, 2,000 PostgreSQL).
          const batch = newEvents(4100, { start: T0 + DAY, stepMs: 1000 });
          const gatewayEvent = oneEvent('CancelJob', T0);
          const order: string[] = [];
          const ingest = store.appendSerialized(JSON.stringify(batch)).then(() => order.push('ingest'));
          const append = store.append(gatewayEvent).then(() => order.push('append'));
          await Promise.all([ingest, append]);
          assert.deepEqual(order, ['append', 'ingest']);
          assert.deepEqual(await store.get(gatewayEvent.eventId), gatewayEvent);
        },
        // Far longer than the test: only the ingest's own turns can commit the append in time.
        { flushIntervalMs: 600_000 },
      ));

    it('purge deletes exactly what is older, across days, and keeps the rest whole', () =>
      filled(async (store, events) => {
        const before = T0 + DAY + 6 * 3600_000; // mid second day
        const old = events.filter((e) => Date.parse(e.eventTime) < before);
        assert.ok(old.length > 40 && old.length < 120);
        assert.equal(await store.purge(before), old.length);
        assert.equal(await store.get((old[0] as ActionTrailEvent).eventId), undefined);
        assert.equal((await store.existing(old.map((e) => e.eventId))).size, 0);
        const rest = events.slice(old.length).map((e) => e.eventId);
        assert.deepEqual((await allPages(store, { filter: ALL, direction: 'FORWARD', limit: 50 })).ids, rest);
        assert.deepEqual((await store.scan(0, 1000)).map((p) => p.event.eventId), rest);
        assert.equal(await store.purge(before), 0, 'nothing left to purge');
        // A purged day can be written again (a late event for it).
        const late = oneEvent('Late', T0 + 3600_000);
        await store.append(late);
        assert.equal((await store.get(late.eventId))?.eventName, 'Late');
        assert.equal(await store.purge(T0 + 10 * DAY), rest.length + 1);
      }));

    it('resolvePending marks journaled events without an outcome as unknown', () =>
      withStore(async (store) => {
        const a = oneEvent('A', T0);
        const b = oneEvent('B', T0 + 1);
        await store.journal(pendingOf(a));
        await store.journal(pendingOf(b));
        await store.complete(b);
        assert.equal(await store.resolvePending('stopped'), 1);
        const got = await store.get(a.eventId);
        assert.equal(got?.additionalEventData.outcome, 'unknown');
        assert.equal(got?.errorCode, 'OutcomeUnknown');
        assert.equal(got?.errorMessage, 'stopped');
        assert.equal((await store.scan(0, 10)).length, 2, 'nothing pending stops the scan any more');
        assert.equal(await store.resolvePending('again'), 0);
      }));

    it('resolvePending with a time resolves only what happened before it (a younger one may be in flight on another instance)', () =>
      withStore(async (store) => {
        const old = oneEvent('Old', T0);
        const young = oneEvent('Young', T0 + 60_000);
        await store.journal(pendingOf(old));
        await store.journal(pendingOf(young));
        assert.equal(await store.resolvePending('lost', T0 + 30_000), 1);
        assert.equal((await store.get(old.eventId))?.additionalEventData.outcome, 'unknown');
        assert.equal((await store.get(young.eventId))?.additionalEventData.outcome, 'pending', 'the younger write keeps waiting for its outcome');
        await store.complete(young);
        assert.equal((await store.get(young.eventId))?.additionalEventData.outcome, young.additionalEventData.outcome);
      }));

    it('close flushes every accepted event; a closed store refuses more', () =>
      withStore(async (store, space) => {
        const events = newEvents(50, { start: T0 });
        const accepted = events.map((e) => store.append(e));
        await store.close();
        await Promise.all(accepted);
        await assert.rejects(store.append(oneEvent('X', T0)));
        await assert.rejects(store.journal(oneEvent('Y', T0)));
        const again = await space.open();
        assert.equal((await again.existing(events.map((e) => e.eventId))).size, 50);
        assert.equal((await again.scan(0, 100)).length, 50);
      }));

    it('strings with U+0000 and other odd characters are stored whole and filterable', () =>
      withStore(async (store) => {
        const e = oneEvent('Odd\u0000Name', T0, 'us\u0000er \u{1F600} \'"\\');
        e.referencedResources = { [JOB]: ['job\u0000nul'] };
        e.requestParameters = { text: 'a\u0000b' };
        await store.append(e);
        const got = await store.get(e.eventId);
        assert.deepEqual(got, e, 'the body round-trips exactly');
        for (const f of [{ user: e.userIdentity.userName }, { eventName: e.eventName }, { resourceName: 'job\u0000nul' }]) {
          const page = await store.lookup({ filter: { ...ALL, ...f }, direction: 'BACKWARD', limit: 5 });
          assert.deepEqual(page.events.map((x) => x.eventId), [e.eventId], JSON.stringify(f));
        }
      }));

    it('get and existing of unknown ids; lastSeq of an empty store', () =>
      withStore(async (store) => {
        assert.equal(await store.get('nope'), undefined);
        assert.equal((await store.existing([])).size, 0);
        assert.equal(await store.lastSeq(), 0);
        assert.deepEqual(await store.scan(0, 10), []);
      }));
  });
}
