import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { newEvents } from '../../../test/helpers/events.js';
import type { ActionTrailEvent } from '../../event/types.js';
import type { EventFilter } from '../types.js';
import type { BodyColumns } from '../body-codec.js';
import { BodyCodec } from './body-codec.js';
import { DB_FILE, openDatabase, type Db } from './database.js';
import { SqliteEventStore } from './events.js';
import { VALUE_KIND } from './values.js';

const all: EventFilter = { startTime: 0, endTime: Date.parse('2027-01-01T00:00:00Z') };

/** A data directory's whole schema at migration 9 (bodies as JSON text, resources by type and name). */
const SCHEMA_BEFORE_10 = readFileSync(new URL('../../../test/fixtures/schema-v9.sql', import.meta.url), 'utf8');

/** The INSERT of an events row before migration 16 (text columns; account_id from migration 12 on). */
const TEXT_COLUMNS = `event_id, event_time, region, event_rw, event_name, event_type, service_name, user_name,
  access_key_id, sensitive, outcome, error_code, source_ip, cluster, body`;

/** `e` as the text columns of TEXT_COLUMNS held it, with `body`. */
function textColumns(e: ActionTrailEvent, body: string | Buffer): unknown[] {
  const a = e.additionalEventData;
  return [e.eventId, Date.parse(e.eventTime), e.acsRegion, e.eventRW, e.eventName, e.eventType, e.serviceName, e.userIdentity.userName || null,
    e.userIdentity.accessKeyId ?? null, a.sensitive ? 1 : 0, a.outcome, e.errorCode ?? null, e.sourceIpAddress || null,
    typeof a.cluster === 'string' ? a.cluster : null, body];
}

/** Writes `events` as the store did before migration 10, and marks migrations 1–9 applied. */
function writeOldFormat(dir: string, events: ActionTrailEvent[]): void {
  const db = new Database(join(dir, DB_FILE));
  db.exec(SCHEMA_BEFORE_10);
  for (let v = 1; v <= 9; v++) db.prepare('INSERT INTO schema_migrations VALUES (?, 0)').run(v);
  const ins = db.prepare(`INSERT INTO events (${TEXT_COLUMNS}) VALUES (${Array(15).fill('?').join(', ')})`);
  const res = db.prepare('INSERT INTO event_resources (seq, type, name) VALUES (?, ?, ?)');
  db.transaction(() => {
    for (const e of events) {
      const seq = ins.run(...textColumns(e, JSON.stringify(e))).lastInsertRowid;
      for (const [type, names] of Object.entries(e.referencedResources)) for (const name of new Set(names)) res.run(seq, type, name);
    }
  })();
  db.close();
}

async function every(store: SqliteEventStore, filter: EventFilter): Promise<ActionTrailEvent[]> {
  const out: ActionTrailEvent[] = [];
  let after;
  for (;;) {
    const page = await store.lookup({ filter, direction: 'FORWARD', limit: 37, ...(after ? { after } : {}) });
    out.push(...page.events);
    if (!page.next) return out;
    after = page.next;
  }
}

describe('BodyCodec', () => {
  let dir: string;
  let db: Db;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ft-codec-'));
    db = openDatabase(dir);
  });
  after(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives back every record exactly, field order included, whatever it leaves out', () => {
    const codec = new BodyCodec(db);
    const [a, b, c] = newEvents(3, { start: Date.parse('2026-03-01T00:00:00Z') }) as [ActionTrailEvent, ActionTrailEvent, ActionTrailEvent];
    const odd: ActionTrailEvent[] = [
      a,
      // A time the column cannot reproduce character for character, an empty IP and user, no key.
      { ...b, eventTime: '2026-03-01T00:00:00Z', sourceIpAddress: '', userIdentity: { ...b.userIdentity, userName: '' } },
      { ...c, userIdentity: { ...c.userIdentity, accessKeyId: '' } },
    ];
    for (const e of odd) {
      const body = codec.encode(e);
      assert.ok(body.length < JSON.stringify(e).length / 2, `${body.length} bytes for ${JSON.stringify(e).length}`);
      const columns: BodyColumns = {
        event_id: e.eventId,
        event_time: Date.parse(e.eventTime),
        user_name: e.userIdentity.userName || null,
        access_key_id: e.userIdentity.accessKeyId ?? null,
        source_ip: e.sourceIpAddress || null,
        event_name: e.eventName,
      };
      assert.equal(JSON.stringify(codec.decodeColumns(columns, body)), JSON.stringify(e));
    }
  });

  it('keeps its dictionary in the database, so a reader decodes what a writer encoded', () => {
    const [e] = newEvents(1) as [ActionTrailEvent];
    const body = new BodyCodec(db).encode(e);
    const reader = new Database(join(dir, DB_FILE), { readonly: true });
    try {
      const columns = { event_id: e.eventId, event_time: Date.parse(e.eventTime), user_name: e.userIdentity.userName || null, access_key_id: e.userIdentity.accessKeyId ?? null, source_ip: e.sourceIpAddress || null, event_name: e.eventName };
      assert.deepEqual(new BodyCodec(reader).decodeColumns(columns, body), e);
      assert.throws(() => new BodyCodec(reader).decodeColumns(columns, Buffer.from([9, 0, 1, 0])), /format 9/);
    } finally {
      reader.close();
    }
  });
});

describe('migration 10 (compact events)', () => {
  let dir: string;
  let db: Db;
  let store: SqliteEventStore;
  /** Every fifth event also names a jar, so that a resource type matches some events only. */
  const withJars = (es: ActionTrailEvent[], prefix: string) =>
    es.map((e, i) => (i % 5 ? e : { ...e, referencedResources: { ...e.referencedResources, 'ACS::RealtimeCompute::Jar': [`${prefix}-${i % 3}.jar`] } }));
  const old = withJars(newEvents(200, { start: Date.parse('2026-01-01T00:00:00Z') }), 'old');
  const fresh = withJars(newEvents(200, { start: Date.parse('2026-02-01T00:00:00Z') }), 'new');
  const both = [...old, ...fresh];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ft-migrate10-'));
    writeOldFormat(dir, old);
    db = openDatabase(dir);
    store = new SqliteEventStore(db, { flushIntervalMs: 5 });
    await Promise.all(fresh.map((e) => store.append(e)));
  });
  after(async () => {
    await store.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps rows written before it readable beside compressed ones', async () => {
    const kinds = db.prepare('SELECT typeof(body) AS t, COUNT(*) AS n FROM events GROUP BY t ORDER BY t').all();
    assert.deepEqual(kinds, [
      { t: 'blob', n: fresh.length },
      { t: 'text', n: old.length },
    ]);
    assert.deepEqual(await store.get((old[7] as ActionTrailEvent).eventId), old[7]);
    assert.deepEqual(await store.get((fresh[7] as ActionTrailEvent).eventId), fresh[7]);
    assert.deepEqual((await store.scan(0, 1000)).map((p) => p.event), both);
    assert.deepEqual(await every(store, all), both);
  });

  it('moves resource references over, so resource filters find old and new events alike', async () => {
    const named = (e: ActionTrailEvent) => Object.values(e.referencedResources).some((ns) => ns.includes('job-2'));
    const typed = (e: ActionTrailEvent) => 'ACS::RealtimeCompute::Jar' in e.referencedResources;
    const byName = both.filter(named);
    const byType = both.filter(typed);
    assert.ok(byName.some((e) => old.includes(e)) && byName.some((e) => fresh.includes(e)));
    assert.ok(byType.length > 0);
    assert.deepEqual(await every(store, { ...all, resourceName: 'job-2' }), byName);
    assert.deepEqual(await every(store, { ...all, resourceType: 'ACS::RealtimeCompute::Jar' }), byType);
    assert.deepEqual(await every(store, { ...all, resourceName: 'job-2', eventRW: 'Write' }), byName.filter((e) => e.eventRW === 'Write'));
    const h = await store.histogram({ filter: { ...all, resourceName: 'job-2' }, buckets: 4, groupBy: 'eventRW' });
    assert.equal(h.total, byName.length);
  });

  it('forgets resource names no event references once purged', async () => {
    const names = () => (db.prepare('SELECT COUNT(*) AS n FROM resource_names').pluck().get() as number);
    const before = names();
    await store.purge(Date.parse('2026-02-01T00:00:00Z'));
    assert.equal(names(), before - 3, 'the three jars only old events named');
    const orphans = db.prepare('SELECT COUNT(*) FROM resource_names n WHERE NOT EXISTS (SELECT 1 FROM event_resources r WHERE r.rid = n.id)').pluck().get();
    assert.equal(orphans, 0);
    assert.deepEqual(await every(store, all), fresh);
  });
});


describe('migration 16 (values by id, 16-byte eventIds)', () => {
  let dir: string;
  let db: Db;
  let store: SqliteEventStore;
  const events = newEvents(300, { start: Date.parse('2026-01-01T00:00:00Z') }).map((e, i) =>
    // eventIds not in canonical UUID form stay text: an upper-case UUID and an ingested record's own.
    i === 10 ? { ...e, eventId: e.eventId.toUpperCase() } : i === 11 ? { ...e, eventId: 'ingested-0011' } : e,
  );
  const kept = events.slice(0, -1);
  let highWater = 0;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ft-migrate16-'));
    // The data directory as migration 15 left it, written through that schema's columns.
    const v15 = openDatabase(dir, { migrateTo: 15 });
    const codec = new BodyCodec(v15);
    const ins = v15.prepare(`INSERT INTO events (${TEXT_COLUMNS}) VALUES (${Array(15).fill('?').join(', ')})`);
    const name = v15.prepare('INSERT OR IGNORE INTO resource_names (type, name) VALUES (?, ?)');
    const ref = v15.prepare('INSERT OR IGNORE INTO event_resources (rid, seq) SELECT id, ? FROM resource_names WHERE type = ? AND name = ?');
    v15.transaction(() => {
      for (const e of events) {
        const seq = ins.run(...textColumns(e, codec.encode(e))).lastInsertRowid;
        for (const [type, names] of Object.entries(e.referencedResources)) {
          for (const n of new Set(names)) {
            name.run(type, n);
            ref.run(seq, type, n);
          }
        }
      }
    })();
    highWater = v15.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'events'").pluck().get() as number;
    // The newest event purged: AUTOINCREMENT must not hand its seq out again after the rebuild.
    v15.prepare('DELETE FROM events WHERE seq = ?').run(highWater);
    v15.close();
    db = openDatabase(dir);
    store = new SqliteEventStore(db, { flushIntervalMs: 5 });
  });
  after(async () => {
    await store.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives back every event exactly, by scan, lookup and eventId', async () => {
    assert.deepEqual((await store.scan(0, 1000)).map((p) => p.event), kept);
    assert.deepEqual(await every(store, all), kept);
    for (const e of [kept[0], kept[10], kept[11], kept[200]] as ActionTrailEvent[]) {
      assert.deepEqual(await store.get(e.eventId), e);
      assert.deepEqual(await every(store, { ...all, eventId: e.eventId }), [e]);
    }
    assert.deepEqual([...(await store.existing([kept[10]!.eventId, kept[11]!.eventId, kept[12]!.eventId, 'nope']))].sort(), [kept[10]!.eventId, kept[11]!.eventId, kept[12]!.eventId].sort());
    const forms = db.prepare('SELECT typeof(event_id) AS t, COUNT(*) AS n FROM events GROUP BY t ORDER BY t').all();
    assert.deepEqual(forms, [{ t: 'blob', n: kept.length - 2 }, { t: 'text', n: 2 }]);
  });

  it('finds by every coded value what a scan of the records finds, and nothing for a value never stored', async () => {
    const e = kept[42] as ActionTrailEvent;
    const cases: [EventFilter, (x: ActionTrailEvent) => boolean][] = [
      [{ ...all, user: e.userIdentity.userName }, (x) => x.userIdentity.userName === e.userIdentity.userName],
      [{ ...all, eventName: e.eventName }, (x) => x.eventName === e.eventName],
      [{ ...all, eventType: e.eventType }, (x) => x.eventType === e.eventType],
      [{ ...all, serviceName: e.serviceName }, (x) => x.serviceName === e.serviceName],
      [{ ...all, region: e.acsRegion }, (x) => x.acsRegion === e.acsRegion],
      [{ ...all, sourceIpAddress: e.sourceIpAddress }, (x) => x.sourceIpAddress === e.sourceIpAddress],
      [{ ...all, cluster: e.additionalEventData.cluster }, (x) => x.additionalEventData.cluster === e.additionalEventData.cluster],
      [{ ...all, user: e.userIdentity.userName, eventRW: 'Write' }, (x) => x.userIdentity.userName === e.userIdentity.userName && x.eventRW === 'Write'],
    ];
    for (const [f, match] of cases) {
      const want = kept.filter(match);
      assert.ok(want.length > 0, JSON.stringify(f));
      assert.deepEqual(await every(store, f), want, JSON.stringify(f));
    }
    assert.deepEqual(await every(store, { ...all, user: 'nobody-at-all' }), []);
    const h = await store.histogram({ filter: all, buckets: 4, groupBy: 'eventName' });
    assert.equal(h.total, kept.length);
  });

  it('keeps resource references and the AUTOINCREMENT high-water mark', async () => {
    assert.deepEqual(db.pragma('foreign_key_check'), []);
    const job = Object.values(kept[5]!.referencedResources).flat()[0] as string;
    assert.deepEqual(await every(store, { ...all, resourceName: job }), kept.filter((x) => Object.values(x.referencedResources).some((ns) => ns.includes(job))));
    const [next] = newEvents(1, { start: Date.parse('2026-06-01T00:00:00Z') }) as [ActionTrailEvent];
    await store.append(next);
    assert.equal(await store.lastSeq(), highWater + 1);
  });

  it('forgets values no event holds once purged', async () => {
    const values = () => db.prepare('SELECT COUNT(*) FROM event_values WHERE kind = ?').pluck().get(VALUE_KIND.eventName) as number;
    const [gone] = newEvents(1, { start: Date.parse('2025-06-01T00:00:00Z') }) as [ActionTrailEvent];
    await store.append({ ...gone, eventName: 'AnEventNameUsedOnce' });
    const before = values();
    await store.purge(Date.parse('2025-12-01T00:00:00Z'));
    assert.equal(values(), before - 1);
    assert.equal(db.prepare("SELECT COUNT(*) FROM event_values WHERE value = 'AnEventNameUsedOnce'").pluck().get(), 0);
  });
});
