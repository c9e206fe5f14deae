/**
 * The ingest API end to end over HTTP against a real FlinkTrail (in process, SQLite on disk):
 * schema validation per record, idempotence on eventId, coded errors for bad bodies and callers,
 * the IngestEvents record of the call itself, and a 10,000-record batch at store speed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { ActionTrailEvent } from '../../../src/event/types.js';
import { newEvents } from '../../helpers/events.js';
import { basic, foundIn, lookup, makeKey, startInProcess, storedContents, tempDir, waitForEvents, type Credentials, type InProcess } from '../../helpers/flinktrail.js';

let ft: InProcess;
let dataDir: string;
let admin: Awaited<ReturnType<typeof makeKey>>;
let viewer: Credentials;
let api: string;

before(async () => {
  dataDir = tempDir('ft-ingest-');
  admin = await makeKey(dataDir, 'ci-bot', 'admin');
  viewer = await makeKey(dataDir, 'vic', 'viewer');
  ft = await startInProcess('http://127.0.0.1:9', { clusters: [], ingest: { maxEvents: 10_000, maxBodyBytes: 32 * 1024 * 1024 } }, dataDir);
  api = ft.info.apiUrl;
});
after(async () => {
  await ft?.close();
});

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

async function post(body: string, opts: { type?: string; auth?: Credentials | null; query?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const headers: Record<string, string> = { 'content-type': opts.type ?? 'application/json', ...opts.headers };
  if (opts.auth !== null) headers['authorization'] = basic(opts.auth ?? admin);
  const res = await fetch(`${api}/api/v1/events${opts.query ? `?${opts.query}` : ''}`, { method: 'POST', headers, body });
  return { status: res.status, body: JSON.parse(await res.text()) as Record<string, unknown> };
}

/** Records as another tool would send them: a CI/CD system's own events. */
function records(n: number, tag: string): ActionTrailEvent[] {
  return newEvents(n, { start: Date.now() - 600_000, stepMs: 1 }).map((e) => ({
    ...e,
    eventSource: 'ci-pipeline',
    requestParameters: { pipeline: tag },
    additionalEventData: { ...e.additionalEventData, cluster: tag },
  }));
}

describe('ingest API', () => {
  it('accepts a JSON array, records it as given (plus who delivered it), and is idempotent on eventId', async () => {
    const batch = records(500, 'array');
    batch[0]!.requestParameters = { pipeline: 'array', deployToken: 'tok-PLANTED-ingest', password: 'PLANTED-pw' };
    const first = await post(JSON.stringify(batch));
    assert.deepEqual(first, { status: 200, body: { accepted: 500, duplicates: 0, rejected: [] } });
    const again = await post(JSON.stringify(batch));
    assert.deepEqual(again.body, { accepted: 0, duplicates: 500, rejected: [] });
    const asLines = await post(batch.map((e) => JSON.stringify(e)).join('\n'), { type: 'application/x-ndjson' });
    assert.deepEqual(asLines.body, { accepted: 0, duplicates: 500, rejected: [] });

    const stored = await lookup(api, admin, { cluster: 'array', maxResults: '200', startTime: new Date(Date.now() - 3600_000).toISOString() });
    assert.equal(stored.Events.length, 200);
    const one = (await ft.app.store.get(batch[0]!.eventId))!;
    assert.equal(one.eventSource, 'ci-pipeline');
    assert.equal(one.eventName, batch[0]!.eventName);
    assert.equal(one.eventTime, batch[0]!.eventTime);
    assert.deepEqual(one.userIdentity, batch[0]!.userIdentity);
    assert.deepEqual(one.additionalEventData['ingestedBy'], { principalId: admin.principalId, userName: 'ci-bot', accountId: '1000000000000001', keyId: admin.accessKeyId, requestId: one.additionalEventData['ingestedBy'] && (one.additionalEventData['ingestedBy'] as { requestId: string }).requestId });
    assert.equal(one.requestParameters['password'], '******');
    assert.equal(one.requestParameters['deployToken'], '******');
  });

  it('concurrent batches carrying the same records store each once, and their counts add up', async () => {
    // Overlapping batches at once (and a record repeated inside one): the store decides at insert
    // time, so whichever batch commits a record first counts it accepted and every other one duplicate.
    const shared = records(3000, 'concurrent');
    const batches = [shared, [...shared.slice(1500), ...shared.slice(0, 10)], [...shared.slice(0, 2000), shared[5]!]];
    const answers = await Promise.all(batches.map((b) => post(JSON.stringify(b))));
    for (const a of answers) assert.equal(a.status, 200, JSON.stringify(a.body).slice(0, 300));
    const accepted = answers.reduce((n, a) => n + (a.body['accepted'] as number), 0);
    const duplicates = answers.reduce((n, a) => n + (a.body['duplicates'] as number), 0);
    assert.equal(accepted, 3000);
    assert.equal(accepted + duplicates, batches.reduce((n, b) => n + b.length, 0));
    const found = await ft.app.store.existing(shared.map((e) => e.eventId));
    assert.equal(found.size, 3000);
  });

  it('reports bad records one by one and records the rest', async () => {
    const [a, b, c, d] = records(4, 'mixed');
    const bad = { ...b!, eventRW: 'Sideways' };
    const pending = { ...c!, additionalEventData: { ...c!.additionalEventData, outcome: 'pending' } };
    const extra = { ...d!, notAField: 1 };
    const lines = [JSON.stringify(a), JSON.stringify(bad), '{not json', JSON.stringify(pending), JSON.stringify(a), JSON.stringify(extra), JSON.stringify({ ...a, eventId: 'not-a-uuid' })].join('\n');
    const r = await post(lines, { type: 'application/jsonl' });
    assert.equal(r.status, 200);
    assert.equal(r.body['accepted'], 1);
    assert.equal(r.body['duplicates'], 1);
    const rejected = r.body['rejected'] as { index: number; code: string; message: string }[];
    assert.deepEqual(rejected.map((x) => x.index), [1, 2, 3, 5, 6]);
    assert.ok(rejected.every((x) => x.code === 'FT_ERR_INGEST_INVALID_EVENT'));
    assert.match(rejected[0]!.message, /eventRW/);
    assert.match(rejected[2]!.message, /pending/);
    assert.match(rejected[3]!.message, /notAField/);
  });

  it('refuses regions, account ids and clusters that could become bad paths, with a coded reason per record', async () => {
    const [ok, dots, upper, slash, account] = records(5, 'names');
    const batch = [
      ok,
      { ...dots!, acsRegion: '..' },
      { ...upper!, acsRegion: 'CN-Hangzhou' },
      { ...slash!, additionalEventData: { ...slash!.additionalEventData, cluster: '../etc' } },
      { ...account!, userIdentity: { ...account!.userIdentity, accountId: 'acme/1' } },
    ];
    const r = await post(JSON.stringify(batch));
    assert.equal(r.status, 200);
    assert.equal(r.body['accepted'], 1);
    const rejected = r.body['rejected'] as { index: number; code: string; message: string }[];
    assert.deepEqual(rejected.map((x) => [x.index, x.code]), [1, 2, 3, 4].map((i) => [i, 'FT_ERR_INGEST_INVALID_NAME']));
    assert.match(rejected[0]!.message, /^Record 1 is invalid: acsRegion "\.\." is not a valid region/);
    assert.match(rejected[2]!.message, /additionalEventData\.cluster/);
    assert.match(rejected[3]!.message, /userIdentity\.accountId .* expected 1-20 digits/);
    for (const e of batch.slice(1)) assert.equal((await lookup(api, admin, { eventId: e!.eventId })).Events.length, 0, 'nothing of a refused record is stored');
  });

  it('takes empty strings in optional fields as absent (errorCode "", as many exporters write)', async () => {
    const [a] = records(1, 'empty-optional');
    const r = await post(JSON.stringify([{ ...a!, errorCode: '', errorMessage: '', userIdentity: { ...a!.userIdentity, accessKeyId: '' } }]));
    assert.deepEqual(r.body, { accepted: 1, duplicates: 0, rejected: [] });
    const [stored] = (await waitForEvents(api, admin, { eventId: a!.eventId }, (es) => es.length === 1)) as (ActionTrailEvent & { errorCode?: string })[];
    assert.equal(stored!.errorCode, undefined);
    assert.equal(stored!.userIdentity.accessKeyId, undefined);
  });

  it('the call itself is recorded as IngestEvents, with its counts and caller', async () => {
    const events = await waitForEvents(api, admin, { eventName: 'IngestEvents', maxResults: '200' }, (es) => es.length >= 4);
    // The first test's first call: 500 records, all new. (The concurrent batches may also count 500
    // accepted in one call — which one depends on which commits first — but never out of 500 records.)
    const first = events.find((e) => e.requestParameters['records'] === 500 && e.requestParameters['accepted'] === 500)!;
    assert.equal(first.serviceName, 'Actiontrail');
    assert.equal(first.userIdentity.userName, 'ci-bot');
    assert.equal(first.additionalEventData.sensitive, true);
    assert.deepEqual({ ...first.requestParameters }, { format: 'json', records: 500, accepted: 500, duplicates: 0, rejected: 0 });
  });

  it('a 10,000-record batch is stored whole, at store speed', async () => {
    const batch = records(10_000, 'big');
    const body = JSON.stringify(batch);
    const before = await ft.app.store.lastSeq();
    const t0 = performance.now();
    const r = await post(body);
    const ms = performance.now() - t0;
    assert.deepEqual(r.body, { accepted: 10_000, duplicates: 0, rejected: [] });
    assert.ok((await ft.app.store.lastSeq()) - before >= 10_000);
    for (const e of [batch[0]!, batch[4999]!, batch[9999]!]) assert.equal((await ft.app.store.get(e.eventId))?.eventId, e.eventId);
    console.log(`ingest: 10,000 records (${(body.length / 1048576).toFixed(1)} MiB) in ${ms.toFixed(0)} ms = ${Math.round(10_000 / (ms / 1000))} events/s (see src/sources/ingest/ingest.bench.ts)`);
    assert.ok(ms < 30_000, `${ms} ms`);
  });

  it('coded errors: too many records, too large, not JSON, wrong type, unknown parameter, no or weak credentials', async () => {
    const cases: [string, Promise<Answer>, number, string][] = [
      ['too many', post(JSON.stringify(Array.from({ length: 10_001 }, () => ({})))), 413, 'FT_ERR_INGEST_TOO_MANY_EVENTS'],
      ['too large', post(`[${'"x",'.repeat(9 * 1024 * 1024)}"x"]`), 413, 'FT_ERR_INGEST_TOO_LARGE'],
      ['not JSON', post('[{'), 400, 'FT_ERR_INGEST_INVALID_BODY'],
      ['a string', post('"hello"'), 400, 'FT_ERR_INGEST_INVALID_BODY'],
      ['empty lines', post('\n\n', { type: 'application/x-ndjson' }), 400, 'FT_ERR_INGEST_INVALID_BODY'],
      ['XML', post('<e/>', { type: 'application/xml' }), 415, 'FT_ERR_INGEST_UNSUPPORTED_MEDIA_TYPE'],
      ['unknown parameter', post('[]', { query: 'dryRun=1' }), 400, 'FT_ERR_REQUEST_INVALID'],
      ['no credentials', post('[]', { auth: null }), 401, 'FT_ERR_AUTH_MISSING'],
      ['a viewer', post('[]', { auth: viewer }), 403, 'NoPermission'],
    ];
    for (const [title, p, status, code] of cases) {
      const r = await p;
      assert.equal(r.status, status, `${title}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body['Code'], code, title);
    }
  });

  it('fuzzed bodies: 200 or a coded 4xx, never a crash', async () => {
    const valid = records(1, 'fuzz')[0]!;
    const mutated = fc.tuple(fc.constantFrom(...Object.keys(valid)), fc.jsonValue()).map(([k, v]) => ({ ...valid, eventId: crypto.randomUUID(), [k]: v }));
    const bodies = fc.oneof(
      fc.jsonValue().map((v) => JSON.stringify(v) ?? 'null'),
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc.array(mutated, { maxLength: 5 }).map((a) => JSON.stringify(a)),
    );
    await fc.assert(
      fc.asyncProperty(bodies, fc.constantFrom('application/json', 'application/x-ndjson'), async (body, type) => {
        const r = await ft.app.api.inject({ method: 'POST', url: '/api/v1/events', headers: { authorization: basic(admin), 'content-type': type }, payload: body });
        assert.ok(r.statusCode === 200 || (r.statusCode >= 400 && r.statusCode < 500), `${r.statusCode}: ${r.body}`);
        if (r.statusCode >= 400) assert.match(String((JSON.parse(r.body) as { Code: string }).Code), /^FT_ERR_/);
      }),
      { numRuns: 600 },
    );
    assert.equal((await fetch(`${api}/health`)).status, 200);
  });

  it('no planted secret reached the store (the data directory, and its PostgreSQL database when it has one)', async () => {
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(foundIn(await storedContents(dataDir), ['PLANTED-']), []);
  });
});
