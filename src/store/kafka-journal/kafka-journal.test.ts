import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ActionTrailEvent } from '../../event/types.js';
import { createLogger } from '../../telemetry/logger.js';
import { newEvents } from '../../../test/helpers/events.js';
import type { EventStore } from '../types.js';
import { KafkaJournalEventStore, StoreWriter, type JournalProducer, type JournalRecord } from './index.js';
import { decodeRecord } from './kafka.js';

const log = createLogger('silent');
const outcome = (e: ActionTrailEvent, o: 'success' | 'failure'): ActionTrailEvent => ({ ...e, additionalEventData: { ...e.additionalEventData, outcome: o } });

/** A topic that can be made to fail or hang; `sends` are the batches as they arrived. */
class FakeTopic implements JournalProducer {
  down = false;
  hang = false;
  sends: JournalRecord[][] = [];
  private release: (() => void) | undefined;
  closed = false;
  async send(records: readonly JournalRecord[]) {
    if (this.hang) await new Promise<void>((r) => (this.release = r));
    if (this.down) throw new Error('Cannot connect to any broker');
    this.sends.push(records.map((r) => structuredClone(r)));
  }
  unhang() {
    this.hang = false;
    this.release?.();
  }
  get records() {
    return this.sends.flat();
  }
  async close() {
    this.closed = true;
  }
}

/**
 * The PostgreSQL store's write semantics, in memory: appendSerialized inserts an eventId only
 * once, complete replaces the row or inserts it. `down` makes every write fail.
 */
class FakeStore {
  down = false;
  rows = new Map<string, ActionTrailEvent>();
  inserts = 0;
  closed = false;
  async appendSerialized(json: string) {
    if (this.down) throw new Error('connect ECONNREFUSED');
    const dup: number[] = [];
    (JSON.parse(json) as ActionTrailEvent[]).forEach((e, i) => {
      if (this.rows.has(e.eventId)) dup.push(i);
      else {
        this.rows.set(e.eventId, e);
        this.inserts++;
      }
    });
    return dup;
  }
  async complete(e: ActionTrailEvent) {
    if (this.down) throw new Error('connect ECONNREFUSED');
    this.rows.set(e.eventId, structuredClone(e));
  }
  async lookup() {
    return { events: [...this.rows.values()] };
  }
  async close() {
    this.closed = true;
  }
}

function open(topic = new FakeTopic(), inner = new FakeStore(), journalTimeoutMs = 200) {
  const store = new KafkaJournalEventStore(inner as unknown as EventStore, topic, { journalTimeoutMs, log });
  return { store, topic, inner };
}

describe('KafkaJournalEventStore', () => {
  it('journals, completes and appends through the topic, in order, keyed by eventId, and resolves only once the topic has them', async () => {
    const { store, topic, inner } = open();
    const [w, r] = newEvents(2);
    await store.journal(w!);
    assert.deepEqual(topic.records.map((x) => [x.kind, x.event.eventId]), [['journal', w!.eventId]], 'acknowledged before journal resolved');
    await Promise.all([store.complete(outcome(w!, 'success')), store.append(r!)]);
    assert.deepEqual(topic.records.map((x) => x.kind), ['journal', 'complete', 'append']);
    assert.equal(topic.records[1]?.event.additionalEventData.outcome, 'success');
    assert.equal(inner.rows.size, 0, 'nothing is written to the store by the producing side');
  });

  it('gathers the calls made while a send is in flight into the next send', async () => {
    const { store, topic } = open();
    const es = newEvents(5);
    topic.hang = true;
    const first = store.append(es[0]!);
    const rest = es.slice(1).map((e) => store.append(e));
    await new Promise((r) => setImmediate(r));
    topic.unhang();
    await Promise.all([first, ...rest]);
    assert.deepEqual(topic.sends.map((s) => s.length), [1, 4]);
  });

  it('copies the event: a caller that reuses the object afterwards does not change the record', async () => {
    const { store, topic } = open();
    const [e] = newEvents(1);
    topic.hang = true;
    const p = store.append(e!);
    e!.eventName = 'Changed';
    topic.unhang();
    await p;
    assert.notEqual(topic.records[0]?.event.eventName, 'Changed');
  });

  it('refuses a journal entry the topic does not take or does not acknowledge in time (the write is not forwarded)', async () => {
    const { store, topic } = open();
    const [a, b] = newEvents(2);
    topic.down = true;
    await assert.rejects(store.journal(a!), /Cannot connect/);
    topic.down = false;
    topic.hang = true;
    await assert.rejects(store.journal(b!), /did not acknowledge the record within 200 ms/);
    topic.unhang();
  });

  it('sends a finished record again until the topic takes it, never dropping it', async () => {
    const { store, topic } = open();
    const [w] = newEvents(1);
    await store.journal(w!);
    topic.down = true;
    const done = store.complete(outcome(w!, 'failure'));
    await new Promise((r) => setTimeout(r, 250));
    topic.down = false;
    await done;
    assert.deepEqual(topic.records.map((x) => x.kind), ['journal', 'complete']);
  });

  it('reads and ingest batches go to the store; close sends what is queued, then stops the writer, the producer and the store', async () => {
    const { store, topic, inner } = open();
    const [e] = newEvents(1);
    assert.deepEqual(await store.appendSerialized(JSON.stringify([e])), []);
    assert.equal(inner.rows.size, 1);
    const order: string[] = [];
    store.writer = { close: async () => void order.push('writer') };
    topic.hang = true;
    const pending = store.append(newEvents(1)[0]!);
    setTimeout(() => topic.unhang(), 50);
    await store.close();
    await pending;
    order.push(topic.closed ? 'producer' : '', inner.closed ? 'store' : '');
    assert.deepEqual(order, ['writer', 'producer', 'store']);
    assert.equal(topic.records.length, 1, 'the queued record was sent before closing');
    await assert.rejects(store.journal(e!), /closed/);
  });
});

describe('StoreWriter', () => {
  const rec = (kind: JournalRecord['kind'], event: ActionTrailEvent): JournalRecord => ({ kind, event });

  it('writes a batch idempotently: a final replaces its pending, a redelivered pending never overwrites the final, a redelivered batch doubles nothing', async () => {
    const inner = new FakeStore();
    const writer = new StoreWriter(inner as unknown as EventStore, { log });
    const [w1, w2, r1] = newEvents(3);
    const batch = [rec('journal', w1!), rec('journal', w2!), rec('complete', outcome(w1!, 'success')), rec('append', r1!)];
    assert.equal(await writer.write(batch), true);
    assert.equal(inner.rows.get(w1!.eventId)?.additionalEventData.outcome, 'success');
    assert.equal(inner.rows.get(w2!.eventId)?.additionalEventData.outcome, w2!.additionalEventData.outcome);
    // Redelivered (a writer killed before committing the offsets), also split differently.
    assert.equal(await writer.write(batch.slice(0, 2)), true);
    assert.equal(await writer.write(batch), true);
    assert.equal(inner.rows.get(w1!.eventId)?.additionalEventData.outcome, 'success', 'the pending did not overwrite the final');
    assert.equal(inner.rows.size, 3);
    assert.equal(inner.inserts, 2, 'w2 and r1 inserted once each (w1 by its completion), never again on redelivery');
  });

  it('retries while the store fails and reports the batch written only once it is; a closed writer reports it unwritten', async () => {
    const inner = new FakeStore();
    let errors = 0;
    const writer = new StoreWriter(inner as unknown as EventStore, { log, backoffMs: () => 20, onWriteError: () => errors++ });
    const [w] = newEvents(1);
    inner.down = true;
    const p = writer.write([rec('journal', w!), rec('complete', outcome(w!, 'success'))]);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(inner.rows.size, 0);
    inner.down = false;
    assert.equal(await p, true);
    assert.ok(errors >= 2);
    assert.equal(inner.rows.get(w!.eventId)?.additionalEventData.outcome, 'success');

    inner.down = true;
    const q = writer.write([rec('append', newEvents(1)[0]!)]);
    await new Promise((r) => setTimeout(r, 50));
    writer.close();
    assert.equal(await q, false, 'not written: the offsets stay uncommitted');
  });
});

describe('decodeRecord', () => {
  it('reads the records the producer writes and refuses others', () => {
    const [e] = newEvents(1);
    const value = JSON.stringify(e);
    assert.deepEqual(decodeRecord({ key: e!.eventId, value, headers: new Map([['kind', 'complete']]) }), { kind: 'complete', event: e });
    assert.equal(decodeRecord({ key: e!.eventId, value, headers: new Map([['kind', 'other']]) }), undefined);
    assert.equal(decodeRecord({ key: 'another-id', value, headers: new Map([['kind', 'append']]) }), undefined);
    assert.equal(decodeRecord({ key: e!.eventId, value: '{', headers: new Map([['kind', 'append']]) }), undefined);
  });
});
