/**
 * Audit policy: stored bytes for one Flink Web UI tab left open 8 hours, with and without the
 * policy and coalescing.
 *
 * The Web UI asks its endpoints again every `web.refresh-interval` (3 s by default) for as long
 * as a tab is open (flink-runtime-web: `StatusService.refresh$` drives the overview page's
 * `/overview`, `/jobs/overview`, `/taskmanagers`; a job's page polls `/jobs/<id>` and, per
 * vertex, the aggregated subtask metrics and the watermarks). Eight hours of that are replayed
 * through the real recorder (policy, redaction, coalescing) into the real SQLite store, with a
 * simulated clock instead of eight hours of waiting: event times advance by the refresh interval,
 * and the coalescer reads the same clock. The events are shaped as the gateway records these
 * calls (fields, resources, identity of a browser signed in with a password). Bytes are the
 * database's used pages after a checkpoint, minus those of an empty database; the baseline is
 * today's behaviour (no policy) in the same run.
 */
import { randomUUID } from 'node:crypto';
import { finishEvent, newEvent } from '../src/event/build.js';
import type { ActionTrailEvent, ReferencedResources } from '../src/event/types.js';
import { buildConfig } from '../src/config/index.js';
import { compileAuditPolicy } from '../src/pipeline/audit-policy/index.js';
import { compileRedactor } from '../src/pipeline/redact.js';
import { createRecorder } from '../src/pipeline/recorder.js';
import { openDatabase, type Db } from '../src/store/sqlite/database.js';
import { SqliteEventStore } from '../src/store/sqlite/events.js';
import { createLogger } from '../src/telemetry/logger.js';
import { createMetrics } from '../src/telemetry/metrics.js';
import { quietWebUiPolicy } from '../test/helpers/audit-policy.js';
import type { Section } from './lib/report.js';
import { benchDir } from './lib/servers.js';
import { bytes, int, ratio, table } from './lib/stats.js';
import type { Bench, BenchOptions } from './types.js';

const REFRESH_MS = 3000;
const JOB = '6b1f5c2e9d0a4f7c8e3b2a1d0c9f8e7d';
const JOB_NAME = 'orders-enrichment';
const VERTICES = ['cbc357ccb763df2852fee8c4fc7d55f2', '90bea66de1c231edf33913ecd54406c1'];
const BROWSER = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

interface Call {
  eventName: string;
  path: string;
  resources: ReferencedResources;
  query?: Record<string, string>;
  responseBytes: number;
}

const cluster = { 'ACS::RealtimeCompute::Cluster': ['default'] };
const PAGES: Record<string, Call[]> = {
  overview: [
    { eventName: 'GetClusterOverview', path: '/overview', resources: cluster, responseBytes: 173 },
    { eventName: 'GetJobsOverview', path: '/jobs/overview', resources: cluster, responseBytes: 412 },
    { eventName: 'ListTaskManagers', path: '/taskmanagers', resources: cluster, responseBytes: 871 },
  ],
  'job (2 vertices)': [
    { eventName: 'GetJobDetails', path: `/jobs/${JOB}`, resources: { ...cluster, 'ACS::RealtimeCompute::Job': [JOB, JOB_NAME] }, responseBytes: 3900 },
    ...VERTICES.flatMap((v) => [
      {
        eventName: 'GetAggregatedSubtaskMetrics',
        path: `/jobs/${JOB}/vertices/${v}/subtasks/metrics`,
        query: { get: 'backPressuredTimeMsPerSecond,busyTimeMsPerSecond,numRecordsInPerSecond', agg: 'min,max,avg,skew' },
        resources: { ...cluster, 'ACS::RealtimeCompute::Job': [JOB, JOB_NAME], 'ACS::RealtimeCompute::Vertex': [v] },
        responseBytes: 330,
      },
      { eventName: 'GetJobVertexWatermarks', path: `/jobs/${JOB}/vertices/${v}/watermarks`, resources: { ...cluster, 'ACS::RealtimeCompute::Job': [JOB, JOB_NAME], 'ACS::RealtimeCompute::Vertex': [v] }, responseBytes: 96 },
    ]),
  ],
};

/** One poll as the gateway records it, at simulated time `t`. */
function pollEvent(c: Call, t: number, i: number): ActionTrailEvent {
  const e = newEvent({
    eventName: c.eventName,
    eventRW: 'Read',
    eventType: 'ApiCall',
    eventSource: 'flink-jobmanager',
    serviceName: 'RealtimeCompute',
    acsRegion: 'eu-central-1',
    sourceIpAddress: '10.20.30.40',
    userAgent: BROWSER,
    userIdentity: {
      type: 'ram-user',
      principalId: '5318203746113842',
      accountId: '1000000000000001',
      userName: 'alice',
      sessionContext: { attributes: { mfaAuthenticated: 'false', authMethod: 'password' } },
    },
    requestId: randomUUID().toUpperCase(),
    time: new Date(t),
    requestParameters: c.query ?? {},
    referencedResources: c.resources,
    additionalEventData: { cluster: 'default', sensitive: false, httpMethod: 'GET', path: c.path },
  });
  // Sizes and latencies move a little from poll to poll, as they do.
  return finishEvent(e, { outcome: 'success', httpStatus: 200, latencyMs: 3 + ((i * 7919) % 1700) / 100, additionalEventData: { responseBytes: c.responseBytes + ((i * 31) % 40) } });
}

function usedBytes(db: Db): number {
  db.pragma('wal_checkpoint(TRUNCATE)');
  const pages = Number(db.pragma('page_count', { simple: true })) - Number(db.pragma('freelist_count', { simple: true }));
  return pages * Number(db.pragma('page_size', { simple: true }));
}

interface Variant {
  name: string;
  auditPolicy: Record<string, unknown>;
}

interface Outcome {
  events: number;
  bytes: number;
  seconds: number;
}

/** Replays `hours` of one tab on `page` through the recorder into a fresh store. */
async function replay(page: Call[], hours: number, v: Variant): Promise<Outcome> {
  const t0 = performance.now();
  const db = openDatabase(benchDir('policy'));
  const empty = usedBytes(db);
  const store = new SqliteEventStore(db, { flushIntervalMs: 20, maxQueue: 1_000_000 });
  const cfg = buildConfig({ auditPolicy: v.auditPolicy }).auditPolicy;
  const start = Date.parse('2026-12-01T09:00:00Z');
  let now = start;
  const recorder = createRecorder(store, compileRedactor(), createLogger('silent'), createMetrics(), {
    policy: compileAuditPolicy(cfg),
    ...(cfg.coalesce.enabled ? { coalesce: { windowMs: cfg.coalesce.windowSeconds * 1000, maxKeys: cfg.coalesce.maxKeys, now: () => now } } : {}),
  });
  const pending: Promise<void>[] = [];
  const ticks = Math.round((hours * 3600_000) / REFRESH_MS);
  for (let k = 0; k < ticks; k++) {
    page.forEach((c, j) => {
      now = start + k * REFRESH_MS + j * 15; // the page's calls a few ms apart
      pending.push(recorder.record(pollEvent(c, now, k * page.length + j)));
    });
    // Let the store's flush timer run, as it does between requests.
    if (k % 200 === 0) await new Promise((r) => setImmediate(r));
  }
  await recorder.close(); // the tab is closed and FlinkTrail shut down: open windows are recorded
  await Promise.all(pending);
  await store.close();
  const events = Number((db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n);
  const used = usedBytes(db) - empty;
  db.close();
  return { events, bytes: used, seconds: (performance.now() - t0) / 1000 };
}

async function policyBench(o: BenchOptions): Promise<Section> {
  const startedAt = new Date();
  const t0 = Date.now();
  const hours = Number(o.opts.get('hours') ?? (o.quick ? 1 : 8));
  const quiet = quietWebUiPolicy();
  const variants: Variant[] = [
    { name: 'no policy (today; baseline)', auditPolicy: {} },
    { name: 'coalescing only, 60 s window (the default window)', auditPolicy: { coalesce: { enabled: true } } },
    { name: 'coalescing only, 300 s window', auditPolicy: { coalesce: { enabled: true, windowSeconds: 300 } } },
    { name: 'quiet Web UI policy, without its coalescing', auditPolicy: { ...quiet, coalesce: { enabled: false } } },
    { name: '**quiet Web UI policy** (docs/reference/audit-policy.md)', auditPolicy: quiet },
  ];
  const rows: string[][] = [];
  let headline = '';
  for (const [pageName, page] of Object.entries(PAGES)) {
    let base: Outcome | undefined;
    for (const v of variants) {
      process.stderr.write(`policy: ${pageName} page, ${v.name}…\n`);
      const r = await replay(page, hours, v);
      base ??= r;
      rows.push([pageName, v.name, int(r.events), bytes(r.bytes), r.events ? int(r.bytes / r.events) : '–', r.bytes ? ratio(base.bytes / r.bytes) : '∞', r.seconds.toFixed(1)]);
      if (v.auditPolicy === quiet) headline += `${headline ? '; ' : ''}${pageName} page: ${bytes(base.bytes)} → ${bytes(r.bytes)} (${r.bytes ? ratio(base.bytes / r.bytes) : '∞'} less)`;
    }
  }
  const polls = Object.fromEntries(Object.entries(PAGES).map(([n, p]) => [n, Math.round((hours * 3600_000) / REFRESH_MS) * p.length]));
  const body = `
### One Web UI tab open ${hours} h (refresh every ${REFRESH_MS / 1000} s: ${Object.entries(polls).map(([n, c]) => `${n} page ${int(c)} polls`).join(', ')})

${table(['page', 'policy', 'events stored', 'stored bytes', 'bytes/event', '× less than no policy', 'replay s'], rows)}

Notes:
- Replayed through the real recorder (policy → redaction → coalescing) into the real SQLite store
  (indexes included) with a simulated clock; stored bytes are used database pages after a WAL
  checkpoint, minus an empty database's. The recorder is closed at the end, so windows still
  open are recorded (as at shutdown).
- Coalescing alone turns ~${int(Math.round(300_000 / REFRESH_MS))} polls of one endpoint in a 300 s window into 2 events (the
  first, and one with \`coalesced.count\`); the quiet policy drops the cluster-wide and per-vertex
  metric polls altogether and keeps \`GetJobDetails\` at \`Metadata\`, coalesced — one trace of which
  job was open, every 5 minutes.
- Writes, failures and refusals are not part of this replay; no policy changes how they are
  recorded (always at least \`Metadata\`, never coalesced).
`;
  return {
    name: 'policy',
    title: '7. Audit policy',
    command: 'npm run bench -- policy',
    startedAt,
    seconds: (Date.now() - t0) / 1000,
    body,
    goals: [{ area: 'Audit policy', goal: `stored bytes of one Web UI tab open ${hours} h, quiet policy vs none`, measured: headline, met: 'info' }],
  };
}

export const policy: Bench = {
  name: 'policy',
  title: '7. Audit policy',
  summary: 'stored bytes of one Web UI tab open 8 h (simulated clock), with and without the audit policy and coalescing',
  run: policyBench,
};
