/**
 * Delivery: how soon trails get events to Kafka and syslog, and what delivered files cost.
 *
 * FlinkTrail (own process) in front of a real Flink, with three trails logging: a Kafka topic
 * (a real Kafka 4 broker, scripts/it/kafka.sh), syslog over TCP (a real rsyslog,
 * scripts/it/rsyslog.sh) and a local directory (ActionTrail's OSS layout, the same files an S3
 * bucket gets). Gateway reads at a fixed rate make the events.
 * - Event-to-Kafka / event-to-syslog latency: from the moment an event is complete (its
 *   `eventTime` + `latencyMs`: the answer has gone out) to the moment a Kafka consumer receives
 *   it / rsyslog has written it to its file (tailed every 5 ms).
 *   Baselines in the same run: the same records sent by a bare client the moment they exist —
 *   a plain @platformatic/kafka producer, a plain TCP socket with the same RFC 5424 framing —
 *   to the same broker and the same rsyslog, measured by the same consumer and tail.
 * - Files: files per delivery window, events per file, bytes per event delivered (gzip) next to
 *   bytes per event stored (SQLite) and per Kafka record / syslog message.
 */
import { closeSync, fstatSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Producer, stringSerializers } from '@platformatic/kafka';
import type { ActionTrailEvent } from '../src/event/types.js';
import { formatRfc5424, frame } from '../src/trails/sinks/syslog/index.js';
import { startKafka } from '../test/helpers/kafka.js';
import { itScript } from '../test/helpers/servers.js';
import { dirBytes, Generator, makeWorld } from './lib/generate.js';
import { onCleanup, sleep } from './lib/procs.js';
import { rate } from './lib/rate.js';
import type { Section } from './lib/report.js';
import { benchDir, benchFlink, startFlinkTrail } from './lib/servers.js';
import { int, ms, ratio, summarize, table, type Summary } from './lib/stats.js';
import type { Bench, BenchOptions } from './types.js';

const WINDOW_SECONDS = 10;

/** Follows a file that grows by lines; `onLine` gets each line with when it was first seen. */
function tail(file: string, onLine: (line: string, at: number) => void, fromEnd = false): () => void {
  let offset = 0;
  if (fromEnd) {
    try {
      offset = statSync(file).size;
    } catch {
      offset = 0;
    }
  }
  let rest = '';
  const timer = setInterval(() => {
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch {
      return;
    }
    try {
      const size = fstatSync(fd).size;
      if (size <= offset) return;
      const at = Date.now();
      const buf = Buffer.alloc(size - offset);
      readSync(fd, buf, 0, buf.length, offset);
      offset = size;
      const lines = (rest + buf.toString('utf8')).split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) if (l) onLine(l, at);
    } finally {
      closeSync(fd);
    }
  }, 5);
  return () => clearInterval(timer);
}

function eventOf(syslogLine: string): ActionTrailEvent | undefined {
  const i = syslogLine.indexOf('{"eventId"');
  if (i < 0) return undefined;
  try {
    return JSON.parse(syslogLine.slice(i)) as ActionTrailEvent;
  } catch {
    return undefined;
  }
}

const completedAt = (e: ActionTrailEvent) => Date.parse(e.eventTime) + Number(e.additionalEventData['latencyMs'] ?? 0);

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

async function deliveryBench(o: BenchOptions): Promise<Section> {
  const startedAt = new Date();
  const t0 = Date.now();
  const seconds = o.quick ? 15 : 40;
  const eventsPerSecond = 100;

  process.stderr.write('delivery: starting Kafka and rsyslog (scripts/it)…\n');
  const kafka = await startKafka();
  onCleanup(() => kafka.stop());
  await itScript('rsyslog', ['install'], 300_000);
  const rs = await itScript<{ tcp: string; tcpLog: string; runDir: string }>('rsyslog', ['start'], 60_000);
  onCleanup(() => itScript('rsyslog', ['stop', '--run-dir', rs.runDir]).then(() => undefined));
  await kafka.createTopics(['ft-bench-trail', 'ft-bench-bare']);

  const flink = await benchFlink();
  const filesDir = benchDir('delivery-files');
  const ft = await startFlinkTrail({ dataDir: benchDir('delivery'), flinkUrl: flink.restUrl, set: [`trails.windowSeconds=${WINDOW_SECONDS}`] });
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${ft.apiUrl}${path}`, {
      method,
      headers: { authorization: ft.authorization, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${await res.text()}`);
  };
  const trails = {
    'bench-kafka': `kafka://${kafka.bootstrap}/ft-bench-trail`,
    'bench-syslog': `syslog+tcp://${rs.tcp}`,
    'bench-files': `file://${filesDir}`,
  };
  for (const [Name, dest] of Object.entries(trails)) {
    await api('POST', '/api/v1/trails', { Name, EventRW: 'All', Destinations: [dest] });
    await api('POST', `/api/v1/trails/${Name}/start`);
  }

  // The trail path: gateway reads at a fixed rate; everything recorded is delivered.
  const trailTopic = await kafka.consume('ft-bench-trail');
  const syslogSeen = new Map<string, number>();
  const stopTail = tail(rs.tcpLog, (line, at) => {
    const e = eventOf(line);
    if (e) syslogSeen.set(e.eventId, at);
  });
  process.stderr.write(`delivery: ${eventsPerSecond} gateway reads/s for ${seconds} s through FlinkTrail with three trails…\n`);
  const reads = ['/overview', '/jobs/overview', `/jobs/${flink.jobId}`].map((p) => ({ method: 'GET' as const, path: `/flink/default${p}`, kind: 'read' }));
  await rate({ origin: new URL(ft.apiUrl).origin, headers: { authorization: ft.authorization }, rate: eventsPerSecond, seconds, requests: reads, connections: 8 });
  // Let the last window close and every destination catch up.
  await sleep((WINDOW_SECONDS + 5) * 1000);
  await ft.stop();
  const storedBytes = dirBytes(ft.dataDir);
  await trailTopic.close();

  const kafkaEvents = trailTopic.records.map((r) => ({ e: JSON.parse(r.value) as ActionTrailEvent, at: r.receivedAt, size: Buffer.byteLength(r.value) }));
  const kafkaLat = summarize(kafkaEvents.filter((x) => x.e.serviceName === 'RealtimeCompute').map((x) => x.at - completedAt(x.e)));
  const syslogLines = readFileSync(rs.tcpLog, 'utf8').split('\n').filter(Boolean);
  const syslogEvents = syslogLines.map(eventOf).filter((e): e is ActionTrailEvent => e !== undefined);
  const syslogLat = summarize(syslogEvents.filter((e) => e.serviceName === 'RealtimeCompute' && syslogSeen.has(e.eventId)).map((e) => (syslogSeen.get(e.eventId) as number) - completedAt(e)));

  // Files: everything under the directory except digests.
  const files = walk(filesDir).filter((f) => f.endsWith('.gz') && !f.includes('Actiontrail-Digest'));
  let fileEvents = 0;
  let fileBytes = 0;
  let rawBytes = 0;
  const inFiles = new Set<string>();
  for (const f of files) {
    const gz = readFileSync(f);
    fileBytes += gz.length;
    const text = gunzipSync(gz).toString('utf8');
    rawBytes += text.length;
    const list = JSON.parse(text) as ActionTrailEvent[];
    fileEvents += list.length;
    for (const e of list) if (e.serviceName === 'RealtimeCompute') inFiles.add(e.eventId);
  }
  const digests = walk(filesDir).filter((f) => f.includes('Actiontrail-Digest')).length;

  // Baselines: the same records, each sent by a bare client the moment it exists.
  const sample = kafkaEvents.map((x) => x.e);
  const spacing = 1000 / eventsPerSecond;
  process.stderr.write(`delivery: baselines — ${sample.length} records from a bare Kafka producer and a bare syslog socket…\n`);
  const bareTopic = await kafka.consume('ft-bench-bare');
  const producer = new Producer({ clientId: 'ft-bench-bare', bootstrapBrokers: [kafka.bootstrap], serializers: stringSerializers });
  // Connected and metadata known before timing starts, as the trail's producer is.
  await producer.send({ messages: [{ topic: 'ft-bench-bare', key: 'warm-up', value: '{}' }] });
  const sentAt = new Map<string, number>();
  const sends: Promise<unknown>[] = [];
  const tBase = Date.now();
  for (let i = 0; i < sample.length; i++) {
    const e = sample[i] as ActionTrailEvent;
    const wait = tBase + i * spacing - Date.now();
    if (wait > 1) await sleep(wait);
    sentAt.set(e.eventId, Date.now());
    sends.push(producer.send({ messages: [{ topic: 'ft-bench-bare', key: e.eventId, value: JSON.stringify(e) }] }));
  }
  await Promise.allSettled(sends);
  await sleep(2000);
  await bareTopic.close();
  await new Promise<void>((r) => producer.close(true, () => r()));
  const bareKafka = summarize(bareTopic.records.filter((r) => sentAt.has(r.key)).map((r) => r.receivedAt - (sentAt.get(r.key) as number)));

  const bareSeen = new Map<string, number>();
  const before = new Set(syslogSeen.keys());
  stopTail();
  const stopBareTail = tail(
    rs.tcpLog,
    (line, at) => {
      const e = eventOf(line);
      if (e && before.has(e.eventId) && !bareSeen.has(e.eventId)) bareSeen.set(e.eventId, at);
    },
    true,
  );
  const [host, port] = rs.tcp.split(':') as [string, string];
  const socket = connect(Number(port), host);
  await new Promise<void>((r) => socket.once('connect', () => r()));
  const bareSent = new Map<string, number>();
  const sTail = syslogEvents.slice(0, sample.length);
  const tSys = Date.now();
  for (let i = 0; i < sTail.length; i++) {
    const e = sTail[i] as ActionTrailEvent;
    const wait = tSys + i * spacing - Date.now();
    if (wait > 1) await sleep(wait);
    bareSent.set(e.eventId, Date.now());
    socket.write(frame(formatRfc5424(e, { facility: 13, appName: 'flinktrail' })));
  }
  await sleep(2000);
  socket.destroy();
  stopBareTail();
  const bareSyslog = summarize([...bareSeen].filter(([id]) => bareSent.has(id)).map(([id, at]) => at - (bareSent.get(id) as number)));

  const row = (name: string, s: Summary, base: Summary) => [name, int(s.n), ms(s.p50), ms(s.p99), ms(s.max), ratio(s.p99 / base.p99)];
  const kafkaSize = kafkaEvents.reduce((n, x) => n + x.size, 0) / Math.max(1, kafkaEvents.length);
  const syslogSize = syslogLines.reduce((n, l) => n + Buffer.byteLength(l), 0) / Math.max(1, syslogLines.length);
  // Windows the events span (the engine opens a window with its first event).
  const times = sample.filter((e) => e.serviceName === 'RealtimeCompute').map((e) => Date.parse(e.eventTime));
  const windows = Math.max(1, Math.ceil((Math.max(...times) - Math.min(...times)) / (WINDOW_SECONDS * 1000)));
  // Compression depends on how alike events are: the benchmark's three endpoints compress far
  // better than a real mix, so the realistic generator's events are gzipped too.
  const gen = new Generator(makeWorld(3), 3);
  const varied = Array.from({ length: 5000 }, (_, i) => gen.event(Date.now() - 5000_000 + i * 1000, i));
  const variedGz = gzipSync(Buffer.from(`[${varied.map((e) => JSON.stringify(e)).join(',\n')}]`)).length / varied.length;
  const body = `
${int(eventsPerSecond)} gateway reads/s for ${seconds} s through FlinkTrail; trails on all events: Kafka topic, syslog over TCP, local directory (\`trails.windowSeconds=${WINDOW_SECONDS}\` so that a short run spans several windows; the default is 60 s; \`trails.pollIntervalMs\` default 100 ms).

### Event-to-destination latency (from the answer to the client to the record at the destination)

${table(
  ['path', 'events', 'p50', 'p99', 'max', 'p99 × baseline'],
  [
    row('FlinkTrail trail → Kafka', kafkaLat, bareKafka),
    row('baseline: bare producer → Kafka (same records, same broker)', bareKafka, bareKafka),
    row('FlinkTrail trail → rsyslog (TCP, RFC 5424)', syslogLat, bareSyslog),
    row('baseline: bare TCP socket → rsyslog (same messages)', bareSyslog, bareSyslog),
  ],
)}

### Files and bytes

${table(
  ['measure', 'value'],
  [
    ['log files delivered (directory trail) / digest files', `${int(files.length)} / ${int(digests)}`],
    [`files per ${WINDOW_SECONDS} s window`, (files.length / windows).toFixed(1)],
    ['events in files / per file', `${int(fileEvents)} / ${int(fileEvents / Math.max(1, files.length))}`],
    ['bytes per event delivered in files (gzip JSON; this run\'s three endpoints)', int(fileBytes / Math.max(1, fileEvents))],
    ['bytes per event, gzip JSON of 5,000 varied realistic events (bench/lib/generate.ts)', int(variedGz)],
    ['bytes per event, uncompressed JSON in files', int(rawBytes / Math.max(1, fileEvents))],
    ['bytes per Kafka record value / per syslog message', `${int(kafkaSize)} / ${int(syslogSize)}`],
    ['bytes per event stored (SQLite, whole data directory / events delivered)', int(storedBytes / Math.max(1, kafkaEvents.length))],
    ['events delivered: Kafka / syslog / files', `${int(kafkaEvents.length)} / ${int(syslogEvents.length)} / ${int(fileEvents)}`],
  ],
  ['l', 'r'],
)}

Notes:
- Trail latency is dominated by the delivery poll (\`trails.pollIntervalMs\`, 100 ms) and the
  store's flush (\`store.flushIntervalMs\`, 20 ms): an event is delivered only once committed.
- The bare baselines send each record the moment it exists, one by one; trails send batches.
  A single-record Kafka send's tail varies widely from run to run on this shared machine:
  compare the p50s too.
- The store's bytes per event here are for a small, young store (fixed overhead included);
  see Scaling for large stores. Digest files are written every \`trails.digestIntervalSeconds\`
  (longer than this run).
`;
  const p99 = Math.max(kafkaLat.p99, syslogLat.p99);
  // Completeness: the same gateway events reached every destination (the API's own events
  // differ by when each trail started logging).
  const ids = (list: ActionTrailEvent[]) => new Set(list.filter((e) => e.serviceName === 'RealtimeCompute').map((e) => e.eventId));
  const inKafka = ids(kafkaEvents.map((x) => x.e));
  const inSyslog = ids(syslogEvents);
  const same = (a: Set<string>, b: Set<string>) => a.size === b.size && [...a].every((x) => b.has(x));
  const complete = inKafka.size > 0 && same(inKafka, inSyslog) && same(inKafka, inFiles);
  return {
    name: 'delivery',
    title: '4. Delivery (trails)',
    command: 'npm run bench -- delivery',
    startedAt,
    seconds: (Date.now() - t0) / 1000,
    body,
    goals: [
      { area: 'Delivery', goal: 'event-to-Kafka / syslog latency p99 (no numeric goal)', measured: `Kafka ${ms(kafkaLat.p99)} (bare ${ms(bareKafka.p99)}), syslog ${ms(syslogLat.p99)} (bare ${ms(bareSyslog.p99)})`, met: Number.isFinite(p99) ? 'info' : undefined },
      { area: 'Delivery', goal: 'the same gateway events at every destination', measured: `Kafka ${int(inKafka.size)}, syslog ${int(inSyslog.size)}, files ${int(inFiles.size)}`, met: complete },
    ],
  };
}

export const delivery: Bench = {
  name: 'delivery',
  title: '4. Delivery (trails)',
  summary: 'event-to-Kafka / event-to-syslog latency vs bare clients; files per window, bytes per event',
  run: deliveryBench,
};
