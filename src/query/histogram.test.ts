import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { newEvents } from '../../test/helpers/events.js';
import { isFlinkTrailError } from '../errors/index.js';
import { openDatabase, type Db } from '../store/sqlite/database.js';
import { SqliteEventStore } from '../store/sqlite/events.js';
import { eventHistogram } from '../store/sqlite/histogram.js';
import { parseHistogram, TOP_NAMES } from './histogram.js';

describe('event histogram', () => {
  const start = Date.parse('2026-03-01T00:00:00Z');
  // 600 events, one per second: 10 minutes.
  const events = newEvents(600, { start, stepMs: 1000 });
  let dir: string;
  let db: Db;
  let store: SqliteEventStore;
  const range = { startTime: new Date(start).toISOString(), endTime: new Date(start + 600_000 - 1).toISOString() };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ft-hist-'));
    db = openDatabase(dir);
    store = new SqliteEventStore(db, { flushIntervalMs: 5 });
    await Promise.all(events.map((e) => store.append(e)));
  });
  after(async () => {
    await store.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('counts every matching event once, in the bucket of its time, split by Read/Write', () => {
    const h = eventHistogram(db, parseHistogram({ ...range, buckets: '10' }));
    assert.equal(h.buckets.length, 10);
    assert.equal(h.bucketMs, 60_000);
    assert.equal(h.total, 600);
    for (const [i, b] of h.buckets.entries()) {
      const inside = events.filter((e) => Date.parse(e.eventTime) >= start + i * 60_000 && Date.parse(e.eventTime) < start + (i + 1) * 60_000);
      assert.equal(b.total, inside.length, `bucket ${i}`);
      assert.equal(b.Read, inside.filter((e) => e.eventRW === 'Read').length);
      assert.equal(b.Write, inside.filter((e) => e.eventRW === 'Write').length);
      assert.equal(b.start, new Date(start + i * 60_000).toISOString());
    }
  });

  it('applies the same filters as LookupEvents, any number at once', () => {
    const h = eventHistogram(db, parseHistogram({ ...range, user: 'bob', eventRW: 'Write', resourceName: 'job-3', region: 'local' }));
    const expected = events.filter(
      (e) =>
        e.userIdentity.userName === 'bob' &&
        e.eventRW === 'Write' &&
        e.acsRegion === 'local' &&
        (e.referencedResources['ACS::RealtimeCompute::Job'] ?? []).includes('job-3'),
    );
    assert.ok(expected.length > 0);
    assert.equal(h.total, expected.length);
    assert.equal(
      h.buckets.reduce((n, b) => n + b.Read, 0),
      0,
    );
  });

  it('keeps empty buckets, so the chart has a bar slot for every span of the range', () => {
    const later = { startTime: new Date(start + 3600_000).toISOString(), endTime: new Date(start + 7200_000).toISOString() };
    const h = eventHistogram(db, parseHistogram({ ...later, buckets: '30' }));
    assert.equal(h.total, 0);
    assert.ok(h.buckets.length >= 30 && h.buckets.length <= 31);
    assert.ok(h.buckets.every((b) => b.total === 0));
  });

  it('stacks by event name with the most frequent names and Other', () => {
    const h = eventHistogram(db, parseHistogram({ ...range, buckets: '5', groupBy: 'eventName' }));
    // newEvents cycles six names: all fit under TOP_NAMES, no Other.
    assert.ok(TOP_NAMES >= 6);
    assert.deepEqual([...(h.series ?? [])].sort(), ['CancelJob', 'GetJobDetails', 'ListJobs', 'RunJar', 'TriggerSavepoint', 'UploadJar']);
    for (const b of h.buckets) {
      assert.equal(Object.values(b.names ?? {}).reduce((n, v) => n + v, 0), b.total);
    }
  });

  it('refuses paging parameters and bad buckets/groupBy with coded errors', () => {
    for (const bad of [{ nextToken: 'x' }, { maxResults: '10' }, { buckets: '0' }, { buckets: '501' }, { buckets: 'ten' }, { groupBy: 'user' }, { bogus: '1' }]) {
      assert.throws(
        () => parseHistogram({ ...range, ...bad }),
        (err: unknown) => isFlinkTrailError(err) && err.status === 400,
        JSON.stringify(bad),
      );
    }
  });
});
