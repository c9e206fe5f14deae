import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newEvents } from '../../../test/helpers/events.js';
import { buildConfig } from '../../config/index.js';
import type { ActionTrailEvent } from '../../event/types.js';
import { compileAuditPolicy } from '../../pipeline/audit-policy/index.js';
import { compileRedactor, REDACTED } from '../../pipeline/redact.js';
import { PreparePool } from './pool.js';
import { CHUNK, prepareBatch, type IngestAccount, type PreparedChunk, type PrepareRequest } from './prepare.js';

const ingestedBy = { principalId: 'p-ci', userName: 'ci', accountId: '1000000000000001', keyId: 'FTAKCI', requestId: 'r-1' };
const quietReads = buildConfig({ clusters: [], auditPolicy: { rules: [{ level: 'None', sources: ['ingest'], eventRW: 'Read' }] } }).auditPolicy;

const MGMT = '1000000000000001';
const MEMBER = '2000000000000001';
const OTHER = '3000000000000001';
const management: IngestAccount = { accountId: MGMT, anyAccount: true };
const member: IngestAccount = { accountId: MEMBER, anyAccount: false };

function request(records: unknown, format: 'json' | 'jsonl' = 'json', maxEvents = 100, account = management): PrepareRequest {
  const text = format === 'json' ? JSON.stringify(records) : (records as unknown[]).map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n');
  return { body: Buffer.from(text), format, ingestedBy, account, maxEvents };
}

/** `n` records in `account` (`recipientAccountId`), or naming none. */
function inAccount(n: number, account: string | undefined): ActionTrailEvent[] {
  return newEvents(n).map((e) => {
    const out = { ...e };
    delete out.recipientAccountId;
    return account === undefined ? out : { ...out, recipientAccountId: account };
  });
}

describe('prepareBatch', () => {
  const redactor = compileRedactor();

  it('checks, stamps, levels and redacts each record, and serializes what is kept', () => {
    const events = newEvents(6);
    (events[2] as ActionTrailEvent).requestParameters = { password: 'hunter2', jobName: 'orders' };
    const bad = { ...events[4], acsRegion: '..' };
    const out = prepareBatch(request([...events.slice(0, 4), bad, events[5], 'not a record']), compileAuditPolicy(quietReads), redactor);
    assert.ok(out.ok);
    assert.equal(out.records, 7);
    assert.deepEqual(
      out.rejected.map((r) => [r.index, r.code]),
      [
        [4, 'FT_ERR_INGEST_INVALID_NAME'],
        [6, 'FT_ERR_INGEST_INVALID_EVENT'],
      ],
    );
    const kept = JSON.parse(out.json) as ActionTrailEvent[];
    // newEvents cycles ListJobs, GetJobDetails (reads: None for ingest) and four writes.
    assert.equal(out.omitted, 2);
    assert.deepEqual(
      kept.map((e) => e.eventName),
      ['CancelJob', 'TriggerSavepoint', 'RunJar'],
    );
    assert.deepEqual(out.sources, ['flink-jobmanager', 'flink-jobmanager', 'flink-jobmanager']);
    for (const e of kept) {
      assert.deepEqual(e.additionalEventData['ingestedBy'], ingestedBy);
      assert.equal(e.eventCategory, 'Management');
    }
    assert.equal(kept[0]!.requestParameters['password'], REDACTED);
    assert.equal(kept[0]!.requestParameters['jobName'], 'orders');
  });

  it('answers a body it cannot read with the coded error to raise, and keeps nothing', () => {
    const policy = compileAuditPolicy(buildConfig({ clusters: [] }).auditPolicy);
    const cases: [PrepareRequest, string][] = [
      [{ ...request([]), body: Buffer.from('{"a":') }, 'FT_ERR_INGEST_INVALID_BODY'],
      [{ ...request([]), body: Buffer.from('   ') }, 'FT_ERR_INGEST_INVALID_BODY'],
      [request([], 'jsonl'), 'FT_ERR_INGEST_INVALID_BODY'],
      [{ ...request([]), body: Buffer.from('42') }, 'FT_ERR_INGEST_INVALID_BODY'],
      [request(newEvents(3), 'json', 2), 'FT_ERR_INGEST_TOO_MANY_EVENTS'],
    ];
    for (const [req, code] of cases) {
      const out = prepareBatch(req, policy, redactor);
      assert.ok(!out.ok, code);
      assert.equal(out.code, code);
    }
  });

  it('reads JSON lines, skipping blank lines and naming lines that are not JSON', () => {
    const events = newEvents(2);
    const out = prepareBatch(request([events[0], '', '{oops', events[1]], 'jsonl'), compileAuditPolicy(buildConfig({ clusters: [] }).auditPolicy), redactor);
    assert.ok(out.ok);
    assert.equal(out.records, 3);
    assert.deepEqual(
      out.rejected.map((r) => r.index),
      [1],
    );
    assert.equal((JSON.parse(out.json) as unknown[]).length, 2);
  });
});

describe('prepareBatch keeps each record to an account the caller may ingest into', () => {
  const policy = compileAuditPolicy(buildConfig({ clusters: [] }).auditPolicy);
  const redactor = compileRedactor();

  it("refuses a member's record naming another account, per record, and stamps one naming none with the member's", () => {
    const [own, foreign, none, mgmt] = [inAccount(1, MEMBER), inAccount(1, OTHER), inAccount(1, undefined), inAccount(1, MGMT)];
    const out = prepareBatch(request([...own, ...foreign, ...none, ...mgmt], 'json', 100, member), policy, redactor);
    assert.ok(out.ok);
    assert.deepEqual(
      out.rejected.map((r) => [r.index, r.code, r.message]),
      [
        [1, 'FT_ERR_INGEST_FOREIGN_ACCOUNT', `Record 1 is refused: it names account ${OTHER}, and your key may ingest only into account ${MEMBER}.`],
        [3, 'FT_ERR_INGEST_FOREIGN_ACCOUNT', `Record 3 is refused: it names account ${MGMT}, and your key may ingest only into account ${MEMBER}.`],
      ],
    );
    const kept = JSON.parse(out.json) as ActionTrailEvent[];
    assert.deepEqual(
      kept.map((e) => [e.eventId, e.recipientAccountId]),
      [
        [own[0]!.eventId, MEMBER],
        [none[0]!.eventId, MEMBER],
      ],
    );
  });

  it("lets the management account ingest into any account, and stamps a record naming none with the management account's", () => {
    const [a, b, none] = [inAccount(1, MEMBER), inAccount(1, OTHER), inAccount(1, undefined)];
    const out = prepareBatch(request([...a, ...b, ...none], 'json', 100, management), policy, redactor);
    assert.ok(out.ok);
    assert.deepEqual(out.rejected, []);
    assert.deepEqual(
      (JSON.parse(out.json) as ActionTrailEvent[]).map((e) => e.recipientAccountId),
      [MEMBER, OTHER, MGMT],
    );
  });

  it('refuses a recipientAccountId that is no account id as an invalid record', () => {
    const out = prepareBatch(request([{ ...inAccount(1, undefined)[0], recipientAccountId: '../x' }], 'json', 100, management), policy, redactor);
    assert.ok(out.ok);
    assert.deepEqual(
      out.rejected.map((r) => r.code),
      ['FT_ERR_INGEST_INVALID_EVENT'],
    );
  });
});

describe('prepareBatch in chunks', () => {
  it('hands over every CHUNK prepared records as they are ready, and answers with the rest', () => {
    const events = newEvents(CHUNK * 2 + 10);
    const chunks: PreparedChunk[] = [];
    const out = prepareBatch(request(events, 'json', 10_000), compileAuditPolicy(buildConfig({ clusters: [] }).auditPolicy), compileRedactor(), (c) => chunks.push(c));
    assert.ok(out.ok);
    assert.deepEqual(
      chunks.map((c) => c.sources.length),
      [CHUNK, CHUNK],
    );
    const ids = [...chunks.map((c) => c.json), out.json].flatMap((j) => (JSON.parse(j) as ActionTrailEvent[]).map((e) => e.eventId));
    assert.deepEqual(
      ids,
      events.map((e) => e.eventId),
    );
  });
});

describe('PreparePool', () => {
  it('prepares in its threads what prepareBatch prepares here, and refuses work once closed', async () => {
    const pool = new PreparePool({ threads: 2, auditPolicy: quietReads });
    try {
      const req = request(newEvents(50));
      const [a, b] = await Promise.all([pool.prepare(req), pool.prepare(req)]);
      // The policy keeps the writes only.
      const many = newEvents(CHUNK * 2);
      const big = request(many, 'json', 10_000);
      const chunks: PreparedChunk[] = [];
      const rest = await pool.prepare(big, (c) => chunks.push(c));
      assert.ok(rest.ok);
      assert.deepEqual([...chunks.map((c) => c.sources.length), rest.sources.length], [CHUNK, many.filter((e) => e.eventRW === 'Write').length - CHUNK]);
      const here = prepareBatch(req, compileAuditPolicy(quietReads), compileRedactor());
      assert.deepEqual(a, here);
      assert.deepEqual(b, here);
      // The caller's account crosses into the thread: a member's foreign record is refused there.
      const foreign = await pool.prepare(request(inAccount(3, OTHER), 'json', 100, member));
      assert.ok(foreign.ok);
      assert.deepEqual(
        foreign.rejected.map((r) => r.code),
        Array(3).fill('FT_ERR_INGEST_FOREIGN_ACCOUNT'),
      );
    } finally {
      await pool.close();
    }
    await assert.rejects(pool.prepare(request(newEvents(1))), /closed/);
  });
});
