/**
 * One bad event never blocks a trail: events whose region cannot be part of an object key
 * (stored before the naming rule was enforced at ingest — planted straight into the store
 * here) are set aside as dead letters, and every event behind them is delivered to a real
 * directory destination. The dead letters show in GetTrailStatus, the dead-letters API and CLI,
 * and an event says so.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ActionTrailEvent } from '../../../src/event/types.js';
import { newEvents } from '../../helpers/events.js';
import { lookup, tempDir } from '../../helpers/flinktrail.js';
import { cli, countIds, readLogFiles, startTrailApp, until, type TrailApp } from './common.js';

describe('trail dead letters', { timeout: 120_000 }, () => {
  let t: TrailApp;
  const dir = tempDir('ft-dl-');
  let events: ActionTrailEvent[] = [];
  const poison = new Map([
    [5, '..'],
    [20, 'CN-Hangzhou'],
    [41, 'x/../../etc'],
  ]);

  before(async () => {
    t = await startTrailApp({ trails: { knownRegions: ['cn-hangzhou'] } });
    const created = await t.call('POST', '/api/v1/trails', { Name: 'dl-trail', EventRW: 'All', Destinations: [`file://${dir}`], DigestInterval: 60 });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    assert.equal((await t.call('POST', '/api/v1/trails/dl-trail/start')).status, 200);
    // Happened after the trail started logging, so all are selected.
    events = newEvents(60, { start: Date.now() + 50, stepMs: 1 });
    for (const [i, region] of poison) (events[i] as { acsRegion: string }).acsRegion = region;
    for (const e of events) await t.app.store.append(e);
  });
  after(async () => {
    await t?.close();
  });

  it('delivers every event behind the bad ones, exactly once', async () => {
    const good = events.filter((_, i) => !poison.has(i)).map((e) => e.eventId);
    const delivered = await until('the good events in the directory', () => {
      const ids = countIds([...readLogFiles(dir).values()].flat());
      return good.every((id) => ids.has(id)) ? ids : undefined;
    });
    for (const id of good) assert.equal(delivered.get(id), 1);
    for (const i of poison.keys()) assert.equal(delivered.has(events[i]!.eventId), false, 'a dead letter is not delivered');
  });

  it('GetTrailStatus counts them and shows no delivery error: the trail is not stuck', async () => {
    const status = await until('dead letters in the status', async () => {
      const r = await t.call<{ DeadLetterCount: number; LatestDeadLetterTime: string | null; LatestDeliveryError: string; Destinations: { DeadLetters: number; Status: string }[] }>('GET', '/api/v1/trails/dl-trail/status');
      return r.body.DeadLetterCount === poison.size ? r.body : undefined;
    });
    assert.ok(status.LatestDeadLetterTime);
    assert.equal(status.LatestDeliveryError, '');
    assert.deepEqual(status.Destinations.map((d) => [d.DeadLetters, d.Status]), [[poison.size, 'OK']]);
  });

  it('the dead-letters API and CLI list each with its reason and a copy of the event', async () => {
    const r = await t.call<{ DeadLetters: { EventId: string; Code: string; Reason: string; Destination: string; Event: ActionTrailEvent }[] }>('GET', '/api/v1/trails/dl-trail/dead-letters');
    assert.equal(r.status, 200);
    const byId = new Map(r.body.DeadLetters.map((l) => [l.EventId, l]));
    for (const [i, region] of poison) {
      const l = byId.get(events[i]!.eventId);
      assert.ok(l, `dead letter for event ${i}`);
      assert.equal(l.Code, 'FT_ERR_TRAIL_UNDELIVERABLE');
      assert.match(l.Reason, /acsRegion .* is not a valid region/);
      assert.equal(l.Event.acsRegion, region);
      assert.equal(l.Destination, `file://${dir}`);
    }
    const page = await t.call<{ DeadLetters: unknown[]; NextToken?: string }>('GET', '/api/v1/trails/dl-trail/dead-letters?MaxResults=2');
    assert.equal(page.body.DeadLetters.length, 2);
    const rest = await t.call<{ DeadLetters: unknown[] }>('GET', `/api/v1/trails/dl-trail/dead-letters?MaxResults=2&NextToken=${page.body.NextToken ?? ''}`);
    assert.equal(rest.body.DeadLetters.length, 1);
    assert.equal((await t.call('GET', '/api/v1/trails/dl-trail/dead-letters?Bogus=1')).status, 400);

    const out = await cli(['trails', 'dead-letters', 'dl-trail', '--endpoint', t.info.apiUrl, '--key-id', t.cred.accessKeyId, '--key-secret', t.cred.accessKeySecret, '-o', 'json']);
    assert.equal(out.code, 0, out.stderr);
    const listed = (JSON.parse(out.stdout) as { DeadLetters: { EventId: string }[] }).DeadLetters.map((l) => l.EventId).sort();
    assert.deepEqual(listed, [...poison.keys()].map((i) => events[i]!.eventId).sort());
    const status = await cli(['trails', 'status', 'dl-trail', '--endpoint', t.info.apiUrl, '--key-id', t.cred.accessKeyId, '--key-secret', t.cred.accessKeySecret]);
    assert.match(status.stdout, new RegExp(`DeadLetters: ${poison.size} `));
  });

  it('an event records that they were set aside', async () => {
    const found = await until('TrailEventsDeadLettered events', async () => {
      const r = await lookup(t.info.apiUrl, t.cred, { eventName: 'TrailEventsDeadLettered', maxResults: '50' });
      const ids = r.Events.flatMap((e) => (e.responseElements as { eventIds: string[] }).eventIds);
      return ids.length >= poison.size ? r.Events : undefined;
    });
    const e = found[0]!;
    assert.equal(e.serviceName, 'Actiontrail');
    assert.equal(e.eventType, 'AliyunServiceEvent');
    assert.equal(e.requestParameters['trail'], 'dl-trail');
    assert.deepEqual(e.referencedResources, { 'ACS::ActionTrail::Trail': ['dl-trail'] });
  });
});
