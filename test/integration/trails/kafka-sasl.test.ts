/**
 * Trails to an authenticated, encrypted Kafka: one real Kafka 4.x broker (KRaft) with a SASL_SSL
 * listener (certificate from scripts/it/pki.sh, SCRAM users made at format time, a PLAIN user in
 * the JAAS config). Trails authenticate with SCRAM-SHA-512 (password as an env: reference) and
 * PLAIN (inline password): events arrive, the password is never shown or recorded, a wrong
 * password or an untrusted certificate shows as the trail's delivery error; an inline password is
 * sealed at rest. Then the broker is stopped for FLINKTRAIL_TEST_OUTAGE_SECONDS (default 20; the
 * issue's 60 s with `FLINKTRAIL_TEST_OUTAGE_SECONDS=60`) under steady traffic and started again
 * on the same ports: every event is in the topic (at-least-once: counted by key = eventId,
 * duplicates reported).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ActionTrailEvent } from '../../../src/event/types.js';
import { isSealed } from '../../../src/secrets/index.js';
import type { TrailsModule } from '../../../src/trails/index.js';
import { lookup } from '../../helpers/flinktrail.js';
import { newEvents } from '../../helpers/events.js';
import { startKafka, type KafkaServer } from '../../helpers/kafka.js';
import { makePki, type Pki } from '../../helpers/pki.js';
import { sleep, startTrailApp, until, type TrailApp } from './common.js';

const OUTAGE_MS = Number(process.env['FLINKTRAIL_TEST_OUTAGE_SECONDS'] ?? 20) * 1000;
const SCRAM_PASSWORD = 'scram-Pa55-word';
const PLAIN_PASSWORD = 'plain-Pa55-word';

interface Status {
  LatestDeliveryError: string;
  Destinations: { Status: string; Position: number; PendingBatch: unknown }[];
}

describe('trails to Kafka over SASL_SSL', { timeout: 900_000 }, () => {
  let pki: Pki | undefined;
  let kafka: KafkaServer | undefined;
  let t: TrailApp | undefined;

  before(async () => {
    pki = await makePki({ java: false, key: 'ec' });
    kafka = await startKafka({ saslSsl: { cert: pki.serverCert, key: pki.serverKey, scramUsers: [`alice:${SCRAM_PASSWORD}`], plainUsers: [`bob:${PLAIN_PASSWORD}`] } });
    await kafka.createTopics(['ft-scram', 'ft-plain', 'ft-outage']);
    process.env['FT_TEST_KAFKA_PASSWORD'] = SCRAM_PASSWORD;
    t = await startTrailApp({ trails: { retry: { initialBackoffMs: 100, maxBackoffMs: 1000 } } });
  });
  after(async () => {
    await Promise.allSettled([t?.close()]);
    await kafka?.stop();
    pki?.remove();
  });

  const status = (name: string) => t!.call<Status>('GET', `/api/v1/trails/${name}/status`).then((r) => r.body);
  const caughtUp = (name: string, lastSeq: number) =>
    until(`${name} caught up`, async () => {
      const s = await status(name);
      return s.Destinations[0]!.Position >= lastSeq && s.Destinations[0]!.PendingBatch === null && s.LatestDeliveryError === '' ? s : undefined;
    }, 120_000, 200);

  it('delivers with SCRAM-SHA-512 and PLAIN, and never shows or records the password', async () => {
    const sasl = kafka!.saslSsl!;
    const scram = `kafka+sasl_ssl://${sasl}/ft-scram?mechanism=SCRAM-SHA-512&username=alice&password=env:FT_TEST_KAFKA_PASSWORD&ca=${pki!.ca}`;
    const plain = `kafka+sasl_ssl://${sasl}/ft-plain?mechanism=PLAIN&username=bob&password=${PLAIN_PASSWORD}&ca=${pki!.ca}`;
    for (const [name, url] of [['scram-trail', scram], ['plain-trail', plain]] as const) {
      const r = await t!.call('POST', '/api/v1/trails', { Name: name, EventRW: 'All', Destinations: [url] });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal((await t!.call('POST', `/api/v1/trails/${name}/start`)).status, 200);
    }
    const [scramTopic, plainTopic] = await Promise.all([kafka!.consume('ft-scram'), kafka!.consume('ft-plain')]);
    try {
      const events = newEvents(20, { start: Date.now(), stepMs: 0 });
      for (const e of events) await t!.app.store.append(e);
      const lastSeq = await t!.app.store.lastSeq();
      await Promise.all([caughtUp('scram-trail', lastSeq), caughtUp('plain-trail', lastSeq)]);
      for (const [what, topic] of [['SCRAM', scramTopic], ['PLAIN', plainTopic]] as const) {
        const got = await until(`${what} records`, () => {
          const keys = new Set(topic.records.map((r) => r.key));
          return events.every((e) => keys.has(e.eventId)) ? topic.records : undefined;
        });
        assert.ok(got.every((r) => (JSON.parse(r.value) as ActionTrailEvent).eventId === r.key), `${what}: key = eventId`);
      }
    } finally {
      await Promise.all([scramTopic.close(), plainTopic.close()]);
    }

    const described = await t!.call<{ TrailList: { Name: string; Destinations: string[] }[] }>('GET', '/api/v1/trails?NameList=scram-trail,plain-trail');
    const shown = JSON.stringify(described.body);
    assert.ok(!shown.includes(PLAIN_PASSWORD), 'the PLAIN password is not shown');
    assert.match(shown, /password=\*\*\*\*\*\*/, 'an inline password shows as ******');
    assert.match(shown, /password=env%3AFT_TEST_KAFKA_PASSWORD/, 'a password reference shows as the reference');
    // A described URL sent back keeps the stored password.
    const plainShown = described.body.TrailList.find((x) => x.Name === 'plain-trail')!.Destinations[0]!;
    assert.equal((await t!.call('PATCH', '/api/v1/trails/plain-trail', { Destinations: [plainShown] })).status, 200);
    const trails = t!.app.modules.find((m) => m.name === 'trails') as TrailsModule;
    assert.ok((await trails.service.get('plain-trail', {})).destinations[0]!.url.includes(PLAIN_PASSWORD), 'the stored URL kept the password');
    // At rest the inline password is sealed with the master key; a reference is no secret and stays readable.
    const stored = async (trail: string) => {
      const rows = await t!.trailRows<{ url: string }>('SELECT url FROM trail_destinations WHERE trail = ?', trail);
      assert.equal(rows.length, 1, `one destination of ${trail}`);
      return rows[0]!.url;
    };
    const plainStored = await stored('plain-trail');
    assert.ok(isSealed(plainStored) && !plainStored.includes(PLAIN_PASSWORD), 'the inline password is sealed at rest');
    assert.match(await stored('scram-trail'), /password=env%3AFT_TEST_KAFKA_PASSWORD/, 'a reference is stored as it is');

    const audit = await until('the trail management events', async () => {
      const r = await lookup(t!.info.apiUrl, t!.cred, { serviceName: 'Actiontrail', resourceName: 'plain-trail', maxResults: '200' });
      const names = new Set(r.Events.map((e) => e.eventName));
      return names.has('CreateTrail') && names.has('UpdateTrail') ? r.Events : undefined;
    });
    assert.ok(!JSON.stringify(audit).includes(PLAIN_PASSWORD), 'the audit of trail changes has no password');
    for (const n of ['scram-trail', 'plain-trail']) await t!.call('DELETE', `/api/v1/trails/${n}`);
  });

  it('shows a refused login and an untrusted certificate as the delivery error', async () => {
    const sasl = kafka!.saslSsl!;
    const cases = [
      ['wrong-password', `kafka+sasl_ssl://${sasl}/ft-scram?username=alice&password=not-${SCRAM_PASSWORD}&ca=${pki!.ca}`, /SASL authentication failed/],
      ['untrusted-ca', `kafka+sasl_ssl://${sasl}/ft-scram?username=alice&password=${SCRAM_PASSWORD}`, /certificate/i],
    ] as const;
    for (const [name, url] of cases) {
      assert.equal((await t!.call('POST', '/api/v1/trails', { Name: name, EventRW: 'All', Destinations: [url] })).status, 200);
      await t!.call('POST', `/api/v1/trails/${name}/start`);
    }
    await t!.app.store.append(newEvents(1, { start: Date.now(), stepMs: 0 })[0]!);
    for (const [name, , want] of cases) {
      const s = await until(`${name} failing`, async () => {
        const st = await status(name);
        return st.Destinations[0]?.Status === 'Failing' && st.LatestDeliveryError ? st : undefined;
      }, 60_000, 250);
      assert.match(s.LatestDeliveryError, want);
      assert.ok(!JSON.stringify(s).includes(SCRAM_PASSWORD), `${name}: no password in the status`);
      await t!.call('DELETE', `/api/v1/trails/${name}`);
    }
  });

  it('loses nothing when the broker is down for a while under steady traffic', async () => {
    const url = `kafka+sasl_ssl://${kafka!.saslSsl!}/ft-outage?username=alice&password=env:FT_TEST_KAFKA_PASSWORD&ca=${pki!.ca}`;
    assert.equal((await t!.call('POST', '/api/v1/trails', { Name: 'kafka-outage', EventRW: 'All', Destinations: [url] })).status, 200);
    await t!.call('POST', '/api/v1/trails/kafka-outage/start');
    let traffic = true;
    let down = false;
    let sentWhileDown = 0;
    const appended: string[] = [];
    const pump = (async () => {
      while (traffic) {
        const e = newEvents(1, { start: Date.now(), stepMs: 0 })[0]!;
        await t!.app.store.append(e);
        appended.push(e.eventId);
        if (down) sentWhileDown++;
        await sleep(25);
      }
    })();
    let sawFailing = false;
    let sawError = '';
    try {
      await sleep(3000);
      assert.equal((await status('kafka-outage')).LatestDeliveryError, '', 'delivering before the outage');
      await kafka!.pause();
      down = true;
      const outageStart = Date.now();
      while (Date.now() - outageStart < OUTAGE_MS) {
        const s = await status('kafka-outage');
        if (s.Destinations[0]?.Status === 'Failing') sawFailing = true;
        if (s.LatestDeliveryError) sawError = s.LatestDeliveryError;
        await sleep(1000);
      }
      await kafka!.resume();
      down = false;
      await sleep(2000);
    } finally {
      traffic = false;
      await pump;
    }
    assert.ok(sawFailing, 'GetTrailStatus showed the destination failing during the outage');
    assert.match(sawError, /^kafka\+sasl_ssl:\/\/.*: .+/);
    assert.ok(!sawError.includes(SCRAM_PASSWORD));

    const lastSeq = await t!.app.store.lastSeq();
    const t0 = Date.now();
    await caughtUp('kafka-outage', lastSeq);
    const catchUpMs = Date.now() - t0;
    // Every event appended after the trail started must be in the topic.
    const want = appended;
    // A fresh consumer reads the whole topic after the restart.
    const topic = await kafka!.consume('ft-outage');
    try {
      const wanted = new Set(want);
      const keys = await until('every event in the topic', () => {
        const k = new Set(topic.records.map((r) => r.key));
        return [...wanted].every((id) => k.has(id)) ? k : undefined;
      }, 60_000, 250).catch(() => new Set(topic.records.map((r) => r.key)));
      const missing = want.filter((id) => !keys.has(id));
      const duplicates = topic.records.length - new Set(topic.records.map((r) => r.key)).size;
      console.log(`kafka outage: ${OUTAGE_MS / 1000} s, ${want.length} events sent (${sentWhileDown} while the broker was down), ${keys.size} distinct delivered, ${duplicates} duplicates, caught up ${catchUpMs} ms after the last event`);
      assert.deepEqual(missing, [], 'no event missing');
      assert.ok(sentWhileDown >= OUTAGE_MS / 1000, `steady traffic during the outage (${sentWhileDown} events)`);
    } finally {
      await topic.close();
    }
  });
});
