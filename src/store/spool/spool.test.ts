import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { ActionTrailEvent } from '../../event/types.js';
import { createLogger } from '../../telemetry/logger.js';
import { newEvents } from '../../../test/helpers/events.js';
import type { EventStore } from '../types.js';
import { SpoolingEventStore } from './index.js';
import { SqliteSpool } from './sqlite.js';

/** A store that can be made to fail or hang, keeping what it was given (the PostgreSQL store's role here). */
class Flaky {
  down = false;
  hang = false;
  journaled: string[] = [];
  rows = new Map<string, ActionTrailEvent>();
  completes: string[] = [];
  private gate(): Promise<void> {
    if (this.hang) return new Promise(() => undefined);
    return this.down ? Promise.reject(new Error('connect ECONNREFUSED')) : Promise.resolve();
  }
  async journal(e: ActionTrailEvent) {
    await this.gate();
    this.journaled.push(e.eventId);
    this.rows.set(e.eventId, structuredClone(e));
  }
  async complete(e: ActionTrailEvent) {
    await this.gate();
    this.completes.push(e.eventId);
    this.rows.set(e.eventId, structuredClone(e));
  }
  async append(e: ActionTrailEvent) {
    await this.gate();
    this.rows.set(e.eventId, structuredClone(e));
  }
  async lastSeq() {
    await this.gate();
    return this.rows.size;
  }
  close() {
    return Promise.resolve();
  }
}

const log = createLogger('silent');
const write = (e: ActionTrailEvent, outcome: 'success' | 'failure'): ActionTrailEvent => ({ ...e, additionalEventData: { ...e.additionalEventData, outcome } });

function open(dir = mkdtempSync(join(tmpdir(), 'ft-spool-')), inner = new Flaky(), maxEvents = 1000) {
  const store = new SpoolingEventStore(inner as unknown as EventStore, new SqliteSpool(dir), { journalTimeoutMs: 200, maxEvents, drainIntervalMs: 3_600_000, log });
  return { store, inner, dir };
}

describe('SpoolingEventStore', () => {
  it('journals to the store while it answers, and to the spool from the first failure on, then drains everything once it is back', async () => {
    const { store, inner } = open();
    const [w1, w2, r1, w3] = newEvents(4);
    await store.journal(w1!);
    await store.complete(write(w1!, 'success'));
    assert.deepEqual(inner.journaled, [w1!.eventId], 'the store journals while it answers');
    inner.down = true;
    await store.journal(w2!); // refused by the store: kept in the spool, the write may go on
    assert.equal(store.isSpooling, true);
    await store.append(r1!);
    await store.journal(w3!);
    await store.complete(write(w2!, 'success'));
    assert.equal(inner.rows.has(w2!.eventId), false);
    await store.drain(); // still down: nothing lost, nothing moved
    assert.equal(store.isSpooling, true);
    inner.down = false;
    await store.drain();
    // w3 is still in flight: it waits in the spool for its outcome; the rest moved, in the order
    // they first came (w2 was journaled before r1 was read; its outcome took its place).
    assert.deepEqual(inner.completes.slice(1), [w2!.eventId, r1!.eventId]);
    assert.equal(store.isSpooling, true, 'a write in flight keeps the spool in use');
    await store.complete(write(w3!, 'failure'));
    await store.drain();
    assert.equal(store.isSpooling, false, 'empty and the store answers: writes go to it again');
    assert.equal((inner.rows.get(w3!.eventId)?.additionalEventData as { outcome: string }).outcome, 'failure');
    assert.equal(inner.rows.size, 4);
    const [w4] = newEvents(1);
    await store.journal(w4!);
    assert.ok(inner.journaled.includes(w4!.eventId));
    await store.close();
  });

  it('spools a journal entry the store does not confirm in time', async () => {
    const { store, inner } = open();
    inner.hang = true;
    const [w] = newEvents(1);
    await store.journal(w!); // resolves after the 200 ms timeout, from the spool
    assert.equal(store.isSpooling, true);
    await store.drain(); // nothing final yet: settles at once, and must not block the next drain
    inner.hang = false;
    await store.complete(write(w!, 'success'));
    await store.drain();
    assert.equal(store.isSpooling, false);
    assert.equal((inner.rows.get(w!.eventId)?.additionalEventData as { outcome: string }).outcome, 'success');
    await store.close();
  });

  it('keeps an outcome the store does not commit in time in the spool too (a crash would lose the store\'s in-memory retry)', async () => {
    const { store, inner, dir } = open();
    const [w] = newEvents(1);
    await store.journal(w!); // journaled in the store while it answers
    inner.hang = true; // then it stops answering: the outcome is only in its retry queue
    await store.complete(write(w!, 'success')); // resolves after the 200 ms timeout, from the spool
    assert.equal(store.isSpooling, true);
    // A process killed now: the spool file alone brings the outcome to the store at the next start.
    const again = open(dir);
    await again.store.drain();
    assert.equal((again.inner.rows.get(w!.eventId)?.additionalEventData as { outcome: string }).outcome, 'success');
    assert.equal(again.store.isSpooling, false);
    inner.hang = false;
  });

  it('after a crash: drains what was spooled, and records writes spooled without an outcome as unknown', async () => {
    const first = open();
    first.inner.down = true;
    const [w1, w2] = newEvents(2);
    await first.store.journal(w1!);
    await first.store.complete(write(w1!, 'success'));
    await first.store.journal(w2!); // the process dies before Flink answers this one
    // (no close: a SIGKILL; the spool file is all that is left)
    const again = open(first.dir);
    assert.equal(again.store.isSpooling, true, 'a non-empty spool at start: writes keep going to it until it drains');
    await again.store.drain();
    assert.equal(again.store.isSpooling, false);
    assert.equal((again.inner.rows.get(w1!.eventId)?.additionalEventData as { outcome: string }).outcome, 'success');
    const lost = again.inner.rows.get(w2!.eventId)!;
    assert.equal((lost.additionalEventData as { outcome: string }).outcome, 'unknown');
    assert.equal(lost.errorCode, 'OutcomeUnknown');
    // Drained twice (a crash between commit and removal) is the same rows: keyed by eventId.
    const third = open(first.dir, again.inner);
    await third.store.drain();
    assert.equal(again.inner.rows.size, 2);
    await third.store.close();
  });

  it('a full spool refuses new writes (fail closed) but keeps the outcomes and reads of calls already made', async () => {
    const { store, inner } = open(undefined, undefined, 1000);
    inner.down = true;
    const events = newEvents(1001);
    for (const e of events.slice(0, 1000)) await store.journal(e);
    await assert.rejects(store.journal(events[1000]!), /spool is full/);
    await store.complete(write(events[0]!, 'success'));
    const [read] = newEvents(1);
    await store.append(read!);
    inner.down = false;
    await store.drain();
    assert.ok(inner.rows.has(read!.eventId) && inner.rows.has(events[0]!.eventId));
    await store.close();
  });
});
