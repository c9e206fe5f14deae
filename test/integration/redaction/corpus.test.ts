/**
 * The redaction corpus, end to end: every entry of test/fixtures/secrets-corpus.json carries one
 * freshly generated secret and is planted through FlinkTrail against real servers — the gateway in
 * front of a real Flink JobManager and SQL Gateway, the Kubernetes audit webhook, the ingest API,
 * console and Basic sign-ins, the identity API. Then every secret is searched for, byte for byte,
 * in every file of the data directory (flinktrail.db, -wal, -shm: read while running and after
 * close), in what trails delivered (a file:// destination, Kafka and syslog), in FlinkTrail's log
 * file at trace level and in whatever the process wrote to stdout and stderr. None may be found.
 *
 * Each planted request must have been recorded (so its secret had its chance to leak), with the
 * marker `******` or HIDDEN_DUE_TO_SECURITY_REASONS where the secret was — redacted, not dropped —
 * or, for a body the gateway refuses to forward (a form body on a write endpoint), as that coded
 * refusal. The counts are printed: entries planted per source, bytes searched per place, secrets
 * found (zero).
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { buildApp, type App, type ListenInfo } from '../../../src/app.js';
import { buildConfig } from '../../../src/config/index.js';
import type { ActionTrailEvent } from '../../../src/event/types.js';
import { createLogger, logFile } from '../../../src/telemetry/logger.js';
import { newEvents } from '../../helpers/events.js';
import { startFlink, type FlinkCluster } from '../../helpers/flink.js';
import { startKafka, type KafkaServer } from '../../helpers/kafka.js';
import { basic, makeKey, tempDir, type Credentials } from '../../helpers/flinktrail.js';
import { startRsyslog, type RsyslogServer } from '../../helpers/rsyslog.js';

interface Entry {
  id: string;
  source: 'gateway' | 'sql-gateway' | 'k8s-audit' | 'ingest' | 'sign-in' | 'api';
  form: string;
  words?: number;
  recorded?: boolean;
  /** false: recorded, but the secret is in no recorded field (credentials). */
  marker?: boolean;
  /** The coded error FlinkTrail refuses the request with (a body it will not forward): recorded as that refusal, without the body. */
  refused?: string;
  request: Record<string, unknown>;
}

const CORPUS = JSON.parse(readFileSync(new URL('../../fixtures/secrets-corpus.json', import.meta.url), 'utf8')) as { entries: Entry[] };
const K8S_SAMPLE = JSON.parse(readFileSync(new URL('../k8s-audit/samples/SYNTHETIC-flinkdeployment-eventlist.json', import.meta.url), 'utf8')) as { items: Record<string, unknown>[] };
const K8S_TOKEN = 'corpus-k8s-token-0123456789abcdef';
const MARKERS = ['******', 'HIDDEN_DUE_TO_SECURITY_REASONS'];

/** The secret of each entry: unique per entry and per run; two words where the entry asks. */
const SECRETS = new Map(
  CORPUS.entries.map((e, i) => {
    const base = `PLANTED-${String(i).padStart(2, '0')}-${randomBytes(6).toString('hex')}`;
    return [e.id, e.words === 2 ? `${base}a ${base}b` : base];
  }),
);
/** Replaces @SECRET@ everywhere in a JSON-like value. */
const plant = <T>(value: T, secret: string): T => JSON.parse(JSON.stringify(value).replaceAll('@SECRET@', secret.replaceAll('"', '\\"'))) as T;

/** A cluster with a SQL Gateway: the shared one if CI gave one, else our own. */
async function flinkWithGateway(): Promise<FlinkCluster> {
  const shared = await startFlink({ withSqlGateway: true });
  if (shared.sqlGatewayUrl) return shared;
  const saved = process.env['FLINKTRAIL_TEST_FLINK_URL'];
  delete process.env['FLINKTRAIL_TEST_FLINK_URL'];
  try {
    return await startFlink({ withSqlGateway: true });
  } finally {
    if (saved !== undefined) process.env['FLINKTRAIL_TEST_FLINK_URL'] = saved;
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('redaction corpus through FlinkTrail (real Flink, SQL Gateway, Kafka, rsyslog)', { timeout: 600_000 }, () => {
  let flink: FlinkCluster | undefined;
  let kafka: KafkaServer | undefined;
  let syslog: RsyslogServer | undefined;
  let topic: { records: { key: string; value: string }[]; close(): Promise<void> } | undefined;
  let app: App | undefined;
  let info: ListenInfo;
  let dataDir: string;
  let trailDir: string;
  let admin: Credentials;
  let logPath = '';
  /** What this process wrote to its stdout and stderr while FlinkTrail ran (console output, library warnings). */
  let output = '';
  const restore: (() => void)[] = [];
  /** Copies every stdout/stderr write into `output`, still writing it through. */
  function teeOutput(): void {
    for (const stream of [process.stdout, process.stderr]) {
      const write = stream.write.bind(stream) as (...a: unknown[]) => boolean;
      stream.write = ((chunk: unknown, ...rest: unknown[]) => {
        output += typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
        return write(chunk, ...rest);
      });
      restore.push(() => {
        stream.write = write;
      });
    }
  }
  const requestIds = new Map<string, string>();

  before(async () => {
    [flink, kafka, syslog] = await Promise.all([flinkWithGateway(), startKafka(), startRsyslog()]);
    await kafka.createTopics(['ft-corpus']);
    topic = await kafka.consume('ft-corpus');
    dataDir = tempDir('ft-corpus-');
    trailDir = tempDir('ft-corpus-trail-');
    admin = await makeKey(dataDir, 'corpus-admin', 'admin');
    await makeKey(dataDir, 'alice', 'viewer', 'alice-password-1');
    logPath = join(tempDir('ft-corpus-log-'), 'flinktrail.log');
    teeOutput();
    const config = buildConfig({
      dataDir,
      api: { port: 0 },
      clusters: [
        { name: 'jm', url: flink.restUrl },
        { name: 'sql', url: flink.sqlGatewayUrl, kind: 'sql-gateway' },
      ],
      k8sAudit: { bearerTokens: [{ name: 'kube-apiserver', token: K8S_TOKEN }] },
      auth: { rateLimit: { maxFailures: 1000 } },
      trails: { windowSeconds: 1, pollIntervalMs: 50, minDigestIntervalSeconds: 1 },
      log: { level: 'trace' },
    });
    // Logged as `flinktrail demo` logs: pino, synchronously, to a file (the server's stdout is the same stream).
    app = await buildApp(config, { log: createLogger('trace', logFile(logPath)) });
    info = await app.listen();
    const [syslogHost, syslogPort] = syslog.tcp.split(':');
    const trail = await adminCall('POST', '/api/v1/trails', {
      Name: 'corpus-trail',
      EventRW: 'All',
      Destinations: [`file://${trailDir}`, `kafka://${kafka.bootstrap}/ft-corpus`, `syslog+tcp://${syslogHost}:${syslogPort}`],
    });
    assert.equal(trail.status, 200, JSON.stringify(trail.body));
    assert.equal((await adminCall('POST', '/api/v1/trails/corpus-trail/start')).status, 200);
  });
  after(async () => {
    for (const r of restore.splice(0)) r();
    await topic?.close().catch(() => undefined);
    await app?.close();
    await Promise.allSettled([flink?.stop(), kafka?.stop(), syslog?.stop()]);
  });

  async function adminCall(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${info.apiUrl}${path}`, {
      method,
      headers: { authorization: basic(admin), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  }

  /** Sends one request; returns the request id FlinkTrail answered with. */
  async function send(url: string, init: RequestInit): Promise<string> {
    const res = await fetch(url, init);
    await res.arrayBuffer();
    return res.headers.get('x-request-id') ?? '';
  }

  async function plantGateway(r: Record<string, unknown>): Promise<string> {
    const url = new URL(`${info.apiUrl}/flink/jm/${String(r['path'])}`);
    for (const [k, v] of Object.entries((r['query'] ?? {}) as Record<string, string | string[]>)) for (const one of [v].flat()) url.searchParams.append(k, one);
    const headers: Record<string, string> = { authorization: basic(admin), ...((r['headers'] ?? {}) as Record<string, string>) };
    let body: RequestInit['body'];
    if (r['json'] !== undefined) {
      headers['content-type'] = 'application/json';
      body = `${r['bom'] ? '\uFEFF' : ''}${JSON.stringify(r['json'])}`;
    } else if (r['form'] !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(r['form'] as Record<string, string>).toString();
    } else if (r['multipart'] !== undefined) {
      const m = r['multipart'] as { field: { name: string; value: string }; file: { name: string; filename: string } };
      const form = new FormData();
      form.append(m.field.name, m.field.value);
      form.append(m.file.name, new Blob([Buffer.from('PK\u0003\u0004 not really a jar')]), m.file.filename);
      body = form;
    }
    return send(url.toString(), { method: String(r['method']), headers, ...(body !== undefined ? { body } : {}) });
  }

  let sqlSession = '';
  /** A call to the SQL Gateway through FlinkTrail: JSON by default, or as the entry shapes it (BOM, form, headers). */
  async function sqlCall(method: string, path: string, body?: unknown, shape: Record<string, unknown> = {}): Promise<{ id: string; body: Record<string, unknown> }> {
    const headers: Record<string, string> = { authorization: basic(admin), ...((shape['headers'] ?? {}) as Record<string, string>) };
    let raw: string | undefined;
    if (body !== undefined && shape['form']) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      raw = new URLSearchParams(body as Record<string, string>).toString();
    } else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      raw = `${shape['bom'] ? '\uFEFF' : ''}${JSON.stringify(body)}`;
    }
    const res = await fetch(`${info.apiUrl}/flink/sql${path}`, { method, headers, ...(raw !== undefined ? { body: raw } : {}) });
    const text = await res.text();
    let answer: Record<string, unknown> = {};
    try {
      answer = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      answer = { text };
    }
    return { id: res.headers.get('x-request-id') ?? '', body: answer };
  }
  async function plantSql(r: Record<string, unknown>): Promise<string> {
    if (r['sessionProperties']) {
      const open = await sqlCall('POST', '/v1/sessions', { properties: r['sessionProperties'] }, r);
      sqlSession = typeof open.body['sessionHandle'] === 'string' ? open.body['sessionHandle'] : '';
      assert.ok(sqlSession, `a session was opened: ${JSON.stringify(open.body)}`);
      return open.id;
    }
    if (!sqlSession) sqlSession = String((await sqlCall('POST', '/v1/sessions', {})).body['sessionHandle']);
    if (r['configure']) return (await sqlCall('POST', `/v1/sessions/${sqlSession}/configure-session`, { statement: r['configure'] }, r)).id;
    return (await sqlCall('POST', `/v1/sessions/${sqlSession}/statements`, { statement: r['statement'] }, r)).id;
  }

  async function plantK8s(r: Record<string, unknown>, n: number): Promise<string> {
    const base = structuredClone(K8S_SAMPLE.items[0]) as Record<string, unknown> & { objectRef: Record<string, string>; responseObject: Record<string, Record<string, unknown>> };
    const name = `corpus-${n}`;
    const auditID = randomUUID();
    const spec = r['spec'] as Record<string, unknown>;
    // Stamped now: a trail delivers only what happened after its StartLogging (as ActionTrail
    // does), so the sample's own 2025 time would keep the event out of every destination.
    const now = Date.now();
    const ev = {
      ...base,
      auditID,
      requestReceivedTimestamp: new Date(now).toISOString(),
      stageTimestamp: new Date(now + 15).toISOString(),
      requestURI: `/apis/flink.apache.org/v1beta1/namespaces/flink/flinkdeployments/${name}`,
      objectRef: { ...base.objectRef, name },
      requestObject: { spec },
      responseObject: { ...base.responseObject, metadata: { ...base.responseObject['metadata'], name, uid: randomUUID(), resourceVersion: String(1000 + n) }, spec: { ...base.responseObject['spec'], ...spec } },
      ...(r['userAgent'] ? { userAgent: r['userAgent'] } : {}),
    };
    const res = await fetch(`${info.apiUrl}/k8s-audit`, {
      method: 'POST',
      headers: { authorization: `Bearer ${K8S_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', metadata: {}, items: [ev] }),
    });
    assert.ok(res.status < 300, `the webhook took the event (${res.status}: ${await res.text()})`);
    return auditID;
  }

  async function plantIngest(r: Record<string, unknown>, refused: string | undefined): Promise<string> {
    // Stamped now, after the trail's StartLogging, so that the trail delivers it.
    const e = newEvents(1, { start: Date.now() })[0] as ActionTrailEvent;
    const given = r['record'] as Partial<ActionTrailEvent>;
    const requestId = randomUUID();
    const record = { ...e, ...given, eventId: randomUUID(), requestId, eventSource: 'ci-pipeline', additionalEventData: { ...e.additionalEventData, ...given.additionalEventData } };
    const res = await fetch(`${info.apiUrl}/api/v1/events`, { method: 'POST', headers: { authorization: basic(admin), 'content-type': 'application/json' }, body: `${r['bom'] ? '\uFEFF' : ''}${JSON.stringify([record])}` });
    const answer = (await res.json()) as { accepted?: number; Code?: string; RequestId?: string };
    if (refused !== undefined) {
      // A batch refused whole is not stored: its secret can only leak into logs or the answer.
      assert.equal(answer.Code, refused, JSON.stringify(answer));
      return answer.RequestId ?? '';
    }
    assert.equal(answer.accepted, 1, JSON.stringify(answer));
    return requestId;
  }

  async function plantSignIn(r: Record<string, string>): Promise<string> {
    switch (r['via'] as 'console' | 'basic' | 'basic-key' | 'k8s-bearer') {
      case 'console':
        return send(`${info.apiUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', ...(r['userAgent'] ? { 'user-agent': r['userAgent'] } : {}) }, body: JSON.stringify({ userName: r['userName'], password: r['password'] }) });
      case 'basic':
        return send(`${info.apiUrl}/flink/jm/overview`, { headers: { authorization: basic({ user: r['userName'] as string, password: r['password'] as string }) } });
      case 'basic-key':
        return send(`${info.apiUrl}/flink/jm/overview`, { headers: { authorization: basic({ accessKeyId: admin.accessKeyId, accessKeySecret: r['password'] as string }) } });
      case 'k8s-bearer':
        return send(`${info.apiUrl}/k8s-audit`, { method: 'POST', headers: { authorization: `Bearer ${r['password']}`, 'content-type': 'application/json' }, body: '{}' });
    }
  }

  it(`plants ${CORPUS.entries.length} secrets through every source and finds none stored, delivered or logged`, async () => {
    for (const [n, entry] of CORPUS.entries.entries()) {
      const r = plant(entry.request, SECRETS.get(entry.id) as string);
      const id =
        entry.source === 'gateway'
          ? await plantGateway(r)
          : entry.source === 'sql-gateway'
            ? await plantSql(r)
            : entry.source === 'k8s-audit'
              ? await plantK8s(r, n)
              : entry.source === 'ingest'
                ? await plantIngest(r, entry.refused)
                : entry.source === 'sign-in'
                  ? await plantSignIn(r as Record<string, string>)
                  : await send(`${info.apiUrl}${String(r['path'])}`, { method: String(r['method']), headers: { authorization: basic(admin), 'content-type': 'application/json' }, body: JSON.stringify(r['json']) });
      assert.ok(id, `${entry.id}: a request id`);
      requestIds.set(entry.id, id);
    }

    // Every planted request was recorded (a secret dropped with its request would prove nothing).
    const store = app!.store;
    let events: ActionTrailEvent[] = [];
    for (let i = 0; i < 200; i++) {
      events = (await store.scan(0, 100_000)).map((p) => p.event);
      if (CORPUS.entries.every((e) => e.recorded === false || events.some((x) => x.requestId === requestIds.get(e.id)))) break;
      await sleep(100);
    }
    const unmarked: string[] = [];
    for (const e of CORPUS.entries) {
      if (e.recorded === false) continue;
      const mine = events.filter((x) => x.requestId === requestIds.get(e.id));
      assert.ok(mine.length > 0, `${e.id} was recorded`);
      if (e.refused !== undefined) assert.ok(mine.some((x) => x.errorCode === e.refused), `${e.id} was refused with ${e.refused}: ${JSON.stringify(mine.map((x) => x.errorCode))}`);
      if (e.refused === undefined && e.marker !== false && !mine.some((x) => MARKERS.some((m) => JSON.stringify(x).includes(m)))) unmarked.push(e.id);
    }
    // The Kubernetes mapping keeps only a summary of a spec (and digests), so a secret there may
    // simply not be carried; everywhere else it must have been replaced.
    const unmarkedOutsideK8s = unmarked.filter((id) => !id.startsWith('k8s-'));
    assert.deepEqual(
      unmarkedOutsideK8s,
      [],
      `secrets were replaced by a marker, not dropped with their requests; recorded: ${unmarkedOutsideK8s.map((id) => JSON.stringify(events.filter((x) => x.requestId === requestIds.get(id)).map((x) => [x.eventName, x.errorCode, x.requestParameters]))).join('; ')}`,
    );

    // Trails: wait until the destination has handled everything stored, then let consumers settle.
    const lastSeq = await store.lastSeq();
    for (let i = 0; ; i++) {
      const s = await adminCall('GET', '/api/v1/trails/corpus-trail/status');
      const dests = (s.body['Destinations'] ?? []) as { Position: number; PendingBatch: unknown }[];
      if (dests.length === 3 && dests.every((d) => d.Position >= lastSeq && d.PendingBatch === null)) break;
      assert.ok(i < 600, `the trail caught up: ${JSON.stringify(s.body).slice(0, 500)}`);
      await sleep(100);
    }
    await sleep(1500);

    // The places searched, as raw bytes (latin1 keeps every byte as one character). The data
    // directory is read while FlinkTrail still runs (the write-ahead log holds recent pages then)
    // and again after it closed (the log checkpointed into the database file).
    const places = new Map<string, string>();
    const walk = (dir: string): string[] => readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : [join(dir, n)]));
    const readDataDir = (when: string) => {
      for (const f of walk(dataDir)) places.set(`data dir ${when}: ${f.slice(dataDir.length + 1)}`, readFileSync(f).toString('latin1'));
    };
    readDataDir('running');
    assert.ok([...places.keys()].some((k) => k.endsWith('flinktrail.db-wal')), `the write-ahead log was read: ${[...places.keys()].join(', ')}`);
    await app!.close();
    app = undefined;
    readDataDir('closed');
    const trailFiles = walk(trailDir);
    for (const f of trailFiles) {
      const raw = readFileSync(f);
      places.set(`trail file ${f.slice(trailDir.length + 1)}`, (f.endsWith('.gz') ? gunzipSync(raw) : raw).toString('latin1'));
    }
    const utf8 = (text: string) => Buffer.from(text, 'utf8').toString('latin1');
    places.set('Kafka topic ft-corpus', utf8(topic!.records.map((r) => `${r.key}\t${r.value}`).join('\n')));
    places.set('syslog (tcp)', utf8(syslog!.messages('tcp').join('\n')));
    const logs = readFileSync(logPath).toString('latin1');
    places.set('log file (trace)', logs);
    places.set('stdout and stderr', utf8(output));

    // What was delivered is what was stored: every planted request reached each destination.
    for (const e of CORPUS.entries.filter((x) => x.recorded !== false)) {
      const rid = requestIds.get(e.id) as string;
      for (const where of ['Kafka topic ft-corpus', 'syslog (tcp)']) assert.ok(places.get(where)?.includes(rid), `${e.id} delivered to ${where}`);
      assert.ok([...places].some(([k, v]) => k.startsWith('trail file') && v.includes(rid)), `${e.id} delivered to the file destination`);
    }
    // FlinkTrail logs no line per request; the trace level shows in its debug lines (deliveries).
    const logLines = logs.split('\n').filter(Boolean);
    assert.ok(logLines.some((l) => (JSON.parse(l) as { level: number }).level <= 20), `the log file was written at trace level: ${logLines.length} lines`);

    const found: string[] = [];
    let words = 0;
    for (const [id, secret] of SECRETS) {
      for (const word of secret.split(' ')) {
        words++;
        for (const [where, text] of places) if (text.includes(word)) found.push(`${id} (${word}) in ${where}`);
      }
    }
    const bySource = new Map<string, number>();
    for (const e of CORPUS.entries) bySource.set(e.source, (bySource.get(e.source) ?? 0) + 1);
    console.log(`# planted ${SECRETS.size} secrets (${words} words) from ${CORPUS.entries.length} corpus entries: ${[...bySource].map(([k, n]) => `${k} ${n}`).join(', ')}`);
    for (const [where, text] of places) console.log(`# searched ${where}: ${text.length} bytes`);
    console.log(`# ${places.size} places, ${[...places.values()].reduce((n, t) => n + t.length, 0)} bytes, ${logLines.length} log lines; secrets found: ${found.length}; recorded without a marker (Kubernetes summaries, refusals, credentials): ${unmarked.join(', ') || 'none'}`);
    assert.deepEqual(found, []);
  });
});
