import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { finishEvent, newEvent } from '../event/build.js';
import type { ActionTrailEvent } from '../event/types.js';
import { openDatabase, type Db } from '../store/sqlite/database.js';
import { SqliteEventStore } from '../store/sqlite/events.js';
import { createLogger } from '../telemetry/logger.js';
import { createMetrics, type Metrics } from '../telemetry/metrics.js';
import { gatewayCall } from '../../test/helpers/events.js';
import { compileAuditPolicy } from './audit-policy/index.js';
import { compileRedactor } from './redact.js';
import { createRecorder, type Recorder, type RecorderOptions } from './recorder.js';
import type { AuditRuleConfig } from '../config/index.js';

const QUIET: AuditRuleConfig[] = [
  { level: 'None', eventNames: ['GetClusterOverview'] },
  { level: 'Metadata', eventRW: 'Read' },
  { level: 'None' },
];

describe('recorder with an audit policy', () => {
  let db: Db;
  let store: SqliteEventStore;
  let metrics: Metrics;
  let now = 0;
  const make = (opts: RecorderOptions): Recorder => createRecorder(store, compileRedactor(), createLogger('silent'), metrics, opts);
  const policy = (rules: AuditRuleConfig[]) => compileAuditPolicy({ rules, coalesce: { enabled: false, windowSeconds: 60, maxKeys: 10 } });
  const omitted = async (reason: string) => (await metrics.registry.getSingleMetric('flinktrail_events_omitted_total')?.get())?.values.filter((v) => v.labels['reason'] === reason).reduce((n, v) => n + v.value, 0) ?? 0;
  const stored = async () => (await store.scan(0, 1000)).map((p) => p.event);

  beforeEach(() => {
    db = openDatabase(mkdtempSync(join(tmpdir(), 'ft-recorder-')));
    store = new SqliteEventStore(db, { flushIntervalMs: 1 });
    metrics = createMetrics();
    now = 0;
  });
  afterEach(async () => {
    await store.close();
    db.close();
  });

  it('drops reads the policy says None to, counts them, and keeps the rest at their level', async () => {
    const r = make({ policy: policy(QUIET) });
    await r.record(gatewayCall({ name: 'GetClusterOverview' }));
    await r.record(gatewayCall({ name: 'GetJobsOverview' }));
    await r.close();
    const events = await stored();
    assert.deepEqual(events.map((e) => e.eventName), ['GetJobsOverview']);
    assert.deepEqual(events[0]?.requestParameters, {});
    assert.deepEqual(events[0]?.responseElements, {});
    assert.equal(events[0]?.additionalEventData['auditLevel'], 'Metadata');
    assert.equal(await omitted('policy'), 1);
  });

  it('journals and completes a write the policy says None to, at Metadata, in place', async () => {
    const r = make({ policy: policy(QUIET) });
    const init = { ...gatewayCall({ name: 'CancelJob', rw: 'Write' }), time: new Date() };
    const pending = newEvent({ ...init, additionalEventData: { sensitive: true, cluster: 'prod' } });
    await r.journal(pending);
    const journaled = await store.get(pending.eventId);
    assert.equal(journaled?.additionalEventData.outcome, 'pending');
    assert.equal(journaled?.additionalEventData['auditLevel'], 'Metadata');
    assert.deepEqual(journaled?.requestParameters, {});
    await r.complete(finishEvent(pending, { outcome: 'success', httpStatus: 202, responseElements: { 'request-id': 'x' } }));
    const done = await store.get(pending.eventId);
    assert.equal(done?.additionalEventData.outcome, 'success');
    assert.equal(done?.additionalEventData.httpStatus, 202);
    assert.deepEqual(done?.responseElements, {});
    assert.equal(done?.additionalEventData['auditLevel'], 'Metadata');
    assert.equal((await stored()).length, 1, 'completed in place, not appended');
  });

  it('records refusals and failures the policy says None to, at Metadata, through record and recordOrThrow', async () => {
    const r = make({ policy: policy([{ level: 'None' }]) });
    await r.record(gatewayCall({ outcome: 'failure' }));
    await r.recordOrThrow(gatewayCall({ outcome: 'failure', source: 'kubernetes' }));
    await r.recordOrThrow(gatewayCall({ source: 'kubernetes' }));
    const events = await stored();
    assert.equal(events.length, 2);
    assert.ok(events.every((e) => e.errorCode === 'NoPermission' && e.additionalEventData['auditLevel'] === 'Metadata'));
  });

  it('redacts what a level keeps', async () => {
    const r = make({ policy: policy([{ level: 'Request' }]) });
    await r.record({ ...gatewayCall(), requestParameters: { password: 'hunter2', mode: 'x' } });
    const [e] = await stored();
    assert.notEqual(e?.requestParameters['password'], 'hunter2');
    assert.equal(e?.requestParameters['mode'], 'x');
  });

  it('coalesces repeated reads through record(), never writes, failures or recordOrThrow, and flushes on close', async () => {
    const r = make({ policy: policy([]), coalesce: { windowMs: 60_000, maxKeys: 100, now: () => now } });
    const read = (t: number, over: Partial<ActionTrailEvent> = {}) => ({ ...gatewayCall(), eventId: `00000000-0000-4000-8000-${String(t).padStart(12, '0')}`, requestId: `r${t}`, eventTime: new Date(t).toISOString(), ...over });
    for (let t = 0; t < 10; t++) {
      now = t * 1000;
      await r.record(read(t));
    }
    await r.record(read(20, { eventRW: 'Write', eventName: 'CancelJob' }));
    await r.record(read(21, { eventRW: 'Write', eventName: 'CancelJob' }));
    await r.record({ ...read(22), additionalEventData: { ...gatewayCall({ outcome: 'failure' }).additionalEventData } });
    await r.record({ ...read(23), additionalEventData: { ...gatewayCall({ outcome: 'failure' }).additionalEventData } });
    await r.recordOrThrow(read(30));
    await r.recordOrThrow(read(31));
    assert.equal((await stored()).length, 1 + 2 + 2 + 2, 'first read, both writes, both failures, both recordOrThrow');
    assert.equal(await omitted('coalesced'), 0, 'counted when the window ends');
    await r.close();
    assert.equal(await omitted('coalesced'), 8, 'nine repeats: one event, eight folded into it');
    const events = await stored();
    const coalesced = events.filter((e) => e.additionalEventData['coalesced']);
    assert.equal(coalesced.length, 1);
    assert.deepEqual(coalesced[0]?.additionalEventData['coalesced'], { count: 9, firstTime: new Date(1).toISOString(), lastTime: new Date(9).toISOString() });
  });
});

describe('recorder: global events in the global events storage region', () => {
  it('records a global event with the storage region as acsRegion, a regional one as it is', async () => {
    const db = openDatabase(mkdtempSync(join(tmpdir(), 'ft-recorder-')));
    const store = new SqliteEventStore(db, { flushIntervalMs: 1 });
    try {
      let region = 'ap-southeast-1';
      const r = createRecorder(store, compileRedactor(), createLogger('silent'), createMetrics(), { globalRegion: () => region });
      const signIn = { ...gatewayCall({ name: 'ConsoleSignin', rw: 'Write' }), acsRegion: 'eu-west-1', isGlobal: true };
      await r.record(signIn);
      await r.record({ ...gatewayCall({ name: 'CancelJob', rw: 'Write' }), acsRegion: 'eu-west-1' });
      const pending = { ...signIn, eventId: 'journaled', additionalEventData: { ...signIn.additionalEventData, outcome: 'pending' as const } };
      await r.journal(pending);
      await r.complete(finishEvent(pending, { outcome: 'success' }));
      region = 'cn-hangzhou';
      await r.recordOrThrow({ ...signIn, eventId: 'later' });
      await r.close();
      const got = (await store.scan(0, 10)).map((p) => `${p.event.eventName}@${p.event.acsRegion}`);
      assert.deepEqual(got, ['ConsoleSignin@ap-southeast-1', 'CancelJob@eu-west-1', 'ConsoleSignin@ap-southeast-1', 'ConsoleSignin@cn-hangzhou']);
      assert.equal(signIn.acsRegion, 'eu-west-1', "the caller's event is not changed");
    } finally {
      await store.close();
      db.close();
    }
  });
});
