import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ActionTrailEvent } from '../../event/types.js';
import { gatewayCall } from '../../../test/helpers/events.js';
import { Coalescer } from './coalesce.js';

/** A poll at simulated time `t` (ms), with what differs on every request. */
function poll(t: number, over: Partial<ActionTrailEvent> = {}): ActionTrailEvent {
  const e = gatewayCall();
  return {
    ...e,
    eventId: `id-${t}`,
    requestId: `req-${t}`,
    eventTime: new Date(t).toISOString(),
    additionalEventData: { ...e.additionalEventData, latencyMs: t % 7, responseBytes: 100 + (t % 13) },
    ...over,
  };
}

function setup(windowMs = 10_000, maxKeys = 100) {
  let now = 0;
  const emitted: ActionTrailEvent[] = [];
  const c = new Coalescer({ windowMs, maxKeys, emit: (e) => emitted.push(e), now: () => now });
  /** Offers a poll at `t` the way the recorder does: absorbed, or recorded now. */
  const recorded: ActionTrailEvent[] = [];
  const offer = (t: number, over: Partial<ActionTrailEvent> = {}) => {
    now = t;
    const e = poll(t, over);
    if (!c.absorb(e)) recorded.push(e);
    c.sweep();
  };
  return { c, emitted, recorded, offer, at: (t: number) => ((now = t), c.sweep()) };
}

describe('coalescing repeated identical reads', () => {
  it('records the first read at once, counts repeats, and records one event for them when the window ends', () => {
    const s = setup(10_000);
    for (let t = 0; t < 30_000; t += 3000) s.offer(t); // polls at 0, 3, 6, 9 | 12, 15, 18, 21 | 24, 27 s
    // Windows: [0, 10 s) opened by 0 s; [12, 22) by 12 s; [24, 34) by 24 s.
    assert.deepEqual(s.recorded.map((e) => e.eventTime), [0, 12_000, 24_000].map((t) => new Date(t).toISOString()));
    assert.equal(s.emitted.length, 2, 'two windows ended');
    const [first, second] = s.emitted as [ActionTrailEvent, ActionTrailEvent];
    assert.deepEqual(first.additionalEventData['coalesced'], { count: 3, firstTime: new Date(3000).toISOString(), lastTime: new Date(9000).toISOString() });
    assert.equal(first.requestId, 'req-3000', 'the first repeat stands for the others');
    assert.equal(first.eventTime, new Date(3000).toISOString());
    assert.deepEqual(second.additionalEventData['coalesced'], { count: 3, firstTime: new Date(15_000).toISOString(), lastTime: new Date(21_000).toISOString() });
    assert.equal(s.c.open, 1, 'the third window is still open');
    s.at(34_000);
    assert.equal(s.emitted.length, 3);
    assert.equal(s.emitted[2]?.additionalEventData['coalesced'], undefined);
    assert.equal(s.emitted[2]?.requestId, 'req-27000', 'a lone repeat is recorded as it is');
    // Every poll is accounted for: recorded, or counted in a coalesced event.
    const counted = s.emitted.reduce((n, e) => n + ((e.additionalEventData['coalesced'] as { count: number } | undefined)?.count ?? 1), 0);
    assert.equal(s.recorded.length + counted, 10);
  });

  it('keeps apart reads a reader could tell apart: caller, resources, outcome, status, cluster, source IP, parameters', () => {
    const s = setup();
    s.offer(0);
    const base = gatewayCall();
    const variants: Partial<ActionTrailEvent>[] = [
      { userIdentity: { ...base.userIdentity, userName: 'bob', principalId: 'p-bob' } },
      { eventName: 'GetClusterOverview' },
      { referencedResources: { 'ACS::RealtimeCompute::Job': ['j2'] } },
      { sourceIpAddress: '10.0.0.8' },
      { requestParameters: { mode: 'other' } },
      { responseElements: { status: 'COMPLETED' } },
      { additionalEventData: { ...base.additionalEventData, cluster: 'staging' } },
      { additionalEventData: { ...base.additionalEventData, httpStatus: 204 } },
    ];
    variants.forEach((v, i) => s.offer(1 + i, v));
    assert.equal(s.recorded.length, 1 + variants.length, 'each variant opened a window of its own');
    s.offer(100);
    assert.equal(s.recorded.length, 1 + variants.length, 'the same read again was absorbed');
  });

  it('ignores what differs on every request: ids, time, latency, response size', () => {
    const s = setup();
    s.offer(0);
    s.offer(1);
    s.offer(2);
    assert.equal(s.recorded.length, 1);
  });

  it('bounds open windows: when full, a read that would open another is recorded as it is', () => {
    const s = setup(10_000, 2);
    s.offer(0, { eventName: 'A' });
    s.offer(1, { eventName: 'B' });
    s.offer(2, { eventName: 'C' });
    s.offer(3, { eventName: 'C' });
    assert.deepEqual(s.recorded.map((e) => e.eventName), ['A', 'B', 'C', 'C'], 'no room: C is never held');
    assert.equal(s.c.overflowed, 2);
    assert.equal(s.c.open, 2);
    s.offer(4, { eventName: 'A' });
    assert.equal(s.recorded.length, 4, 'A still coalesces');
  });

  it('flushes every counted repeat on close, before its window ends', () => {
    const s = setup(60_000);
    s.offer(0);
    s.offer(1000);
    s.offer(2000);
    s.offer(3000, { eventName: 'Other' });
    assert.equal(s.emitted.length, 0);
    s.c.flush();
    assert.equal(s.emitted.length, 1, 'only the window with repeats yields an event');
    assert.deepEqual(s.emitted[0]?.additionalEventData['coalesced'], { count: 2, firstTime: new Date(1000).toISOString(), lastTime: new Date(2000).toISOString() });
    assert.equal(s.c.open, 0);
  });

  it('ends a window that is due on the next read even before the sweep', () => {
    let now = 0;
    const emitted: ActionTrailEvent[] = [];
    const c = new Coalescer({ windowMs: 1000, maxKeys: 10, emit: (e) => emitted.push(e), now: () => now });
    assert.equal(c.absorb(poll(0)), false);
    now = 500;
    assert.equal(c.absorb(poll(500)), true);
    now = 1500;
    assert.equal(c.absorb(poll(1500)), false, 'a new window, recorded at once');
    assert.equal(emitted.length, 1, 'the old window was closed first');
  });
});
