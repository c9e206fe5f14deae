import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { newEvents } from '../../test/helpers/events.js';
import type { ActionTrailEvent } from '../event/types.js';
import { isFlinkTrailError } from '../errors/index.js';
import { openDatabase, type Db } from '../store/sqlite/database.js';
import { SqliteEventStore } from '../store/sqlite/events.js';
import { CSV_COLUMNS, csvCell, csvValues, EXPORT_PAGE_SIZE, exportChunks, parseExport, resourcesCell } from './export.js';

/** RFC 4180 reader (the test's own, not the code under test). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += c;
  }
  if (cell !== '' || row.length) rows.push([...row, cell]);
  return rows;
}

async function collect(gen: AsyncGenerator<string>): Promise<string> {
  let s = '';
  for await (const c of gen) s += c;
  return s;
}

describe('event export', () => {
  const start = Date.parse('2026-04-01T00:00:00Z');
  // More than two store pages, so the walk crosses page boundaries.
  const events = newEvents(2 * EXPORT_PAGE_SIZE + 37, { start, stepMs: 100 });
  let dir: string;
  let db: Db;
  let store: SqliteEventStore;
  const range = { startTime: new Date(start).toISOString(), endTime: new Date(start + 3600_000).toISOString() };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ft-export-'));
    db = openDatabase(dir);
    store = new SqliteEventStore(db, { flushIntervalMs: 5 });
    await Promise.all(events.map((e) => store.append(e)));
  });
  after(async () => {
    await store.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('exports every matching event as CSV, newest first, with no row cap', async () => {
    const csv = await collect(exportChunks(store, parseExport({ ...range, format: 'csv' })));
    const rows = parseCsv(csv);
    assert.deepEqual(rows[0], [...CSV_COLUMNS]);
    assert.equal(rows.length - 1, events.length);
    const newestFirst = [...events].reverse();
    for (const [i, e] of newestFirst.entries()) {
      const r = rows[i + 1] as string[];
      assert.equal(r[0], e.eventTime);
      assert.equal(r[1], e.eventId);
      assert.equal(r[2], e.eventName);
      assert.equal(r[5], e.userIdentity.userName);
      assert.equal(r[8], `ACS::RealtimeCompute::Job=${e.referencedResources['ACS::RealtimeCompute::Job']?.join('; ACS::RealtimeCompute::Job=') ?? ''}`);
      assert.equal(r[12], 'default');
    }
  });

  it('exports the same filters as LookupEvents, and JSON as an array of full records', async () => {
    const json = await collect(exportChunks(store, parseExport({ ...range, format: 'json', user: 'carol', eventRW: 'Write', direction: 'FORWARD' })));
    const got = JSON.parse(json) as ActionTrailEvent[];
    const expected = events.filter((e) => e.userIdentity.userName === 'carol' && e.eventRW === 'Write');
    assert.ok(expected.length > 0);
    assert.deepEqual(got, expected);
    assert.deepEqual(JSON.parse(await collect(exportChunks(store, parseExport({ ...range, format: 'json', user: 'nobody' })))), []);
  });

  it('neutralises spreadsheet formulas and quotes per RFC 4180', () => {
    assert.equal(csvCell('=HYPERLINK("http://x","y")'), `"'=HYPERLINK(""http://x"",""y"")"`);
    assert.equal(csvCell('+1'), "'+1");
    assert.equal(csvCell('-1'), "'-1");
    assert.equal(csvCell('@SUM(A1)'), "'@SUM(A1)");
    assert.equal(csvCell('a,b'), '"a,b"');
    assert.equal(csvCell('line\nbreak'), '"line\nbreak"');
    assert.equal(csvCell('plain'), 'plain');
    const e = { ...(events[0] as ActionTrailEvent), userIdentity: { ...(events[0] as ActionTrailEvent).userIdentity, userName: '=cmd|calc' } };
    assert.equal(csvValues(e)[5], '=cmd|calc');
    assert.equal(resourcesCell({ ...e, referencedResources: { 'ACS::RealtimeCompute::Cluster': [] } }), 'ACS::RealtimeCompute::Cluster=');
  });

  it('refuses paging parameters and unknown formats with coded errors', () => {
    for (const bad of [{ nextToken: 'x' }, { maxResults: '10' }, { format: 'xml' }, { eventRW: 'Both' }, { bogus: '1' }]) {
      assert.throws(
        () => parseExport({ ...range, ...bad }),
        (err: unknown) => isFlinkTrailError(err) && err.status === 400,
        JSON.stringify(bad),
      );
    }
  });
});
