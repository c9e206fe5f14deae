/**
 * Gateway overhead: what standing FlinkTrail in front of Flink costs, against two baselines
 * measured in the same run — Flink's REST API directly, and nginx as a plain reverse proxy.
 *
 * Every path gets the same request mix: the three reads a Flink Web UI and monitoring scripts
 * poll (`/overview`, `/jobs/overview`, the details of a running job) and a savepoint trigger on
 * that job as the write. FlinkTrail runs as users run it (`node bin/flinktrail.mjs serve`, its
 * own process), with authentication (HTTP Basic AccessKey on every request) and the durable
 * audit on (defaults: writes journaled with fsync before forwarding, `synchronous: full`).
 *
 * A third baseline, for information: a bare Node proxy (bench/lib/node-proxy.ts: `http` server,
 * the gateway's undici pool, no auth, no audit), the floor any proxy written in Node stands on —
 * as one process and as two sharing the listener (`node:cluster`).
 *
 * 1. Throughput: wrk, 32 connections, reads back to back, while a second client triggers a
 *    savepoint twice a second; three interleaved rounds per path, the median reported.
 * 2. Added latency: an open-loop client at a fixed 500 requests/s (1 % of them savepoint
 *    triggers), per-request latency with hrtime; p99 compared with direct Flink.
 *
 * `--cpu-prof` runs the measured FlinkTrail under `node --cpu-prof` and adds the functions with
 * the most self time to the section (profiling costs a few per cent of throughput).
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { rate, type RateRequest, type RateResult } from './lib/rate.js';
import { cpuSeconds, sample } from './lib/procs.js';
import type { Section } from './lib/report.js';
import { framesTable, processProfiles, topFrames } from './lib/profile.js';
import { benchDir, benchFlink, startFlinkTrail, startNginx, startNodeProxy } from './lib/servers.js';
import { bytes, int, median, ms, msDelta, ratio, table } from './lib/stats.js';
import { wrk, type HttpRequestSpec, type WrkResult } from './lib/wrk.js';
import type { Bench, BenchOptions } from './types.js';
import { VALUE_KIND } from '../src/store/sqlite/values.js';

interface Target {
  name: string;
  origin: string;
  prefix: string;
}

interface Round {
  wrk: WrkResult;
  writes: RateResult;
}

async function gatewayBench(o: BenchOptions): Promise<Section> {
  const startedAt = new Date();
  const t0 = Date.now();
  const rounds = o.quick ? 1 : 3;
  const loadSeconds = o.quick ? 5 : 10;
  const fixedSeconds = o.quick ? 8 : 20;
  const fixedRate = Number(o.opts.get('rate') ?? 500);

  const flink = await benchFlink();
  const nginx = await startNginx(flink.restUrl);
  const nodeProxy = await startNodeProxy(flink.restUrl);
  const nodeProxy2 = await startNodeProxy(flink.restUrl, 2);
  // `--cpu-prof-dir <dir>` keeps the profiles there (to read them further); `--cpu-prof` alone in a temporary one.
  const keptProfiles = o.opts.get('cpu-prof-dir');
  const profileDir = keptProfiles || (o.opts.has('cpu-prof') ? benchDir('gateway-profile') : undefined);
  const ft = await startFlinkTrail({
    dataDir: benchDir('gateway'),
    flinkUrl: flink.restUrl,
    ...(profileDir ? { nodeArgs: ['--cpu-prof', '--cpu-prof-dir', profileDir] } : {}),
  });
  // For information, not a goal: the same FlinkTrail with commits not fsynced (survives a
  // process crash, not a power loss), to show what fsync on the event loop costs.
  const ftNormal = await startFlinkTrail({ dataDir: benchDir('gateway-normal'), flinkUrl: flink.restUrl, set: ['store.synchronous=normal'] });
  // The same key on both servers, so that one Authorization header serves every path.
  const targets: Target[] = [
    { name: 'Flink directly', origin: flink.restUrl, prefix: '' },
    { name: 'nginx (plain reverse proxy)', origin: nginx.url, prefix: '' },
    { name: 'FlinkTrail (auth + durable audit)', origin: new URL(ft.apiUrl).origin, prefix: '/flink/default' },
    { name: 'FlinkTrail, store.synchronous=normal', origin: new URL(ftNormal.apiUrl).origin, prefix: '/flink/default' },
    { name: 'bare Node proxy (http + undici, no auth, no audit)', origin: nodeProxy.url, prefix: '' },
    { name: 'bare Node proxy, 2 processes (node:cluster)', origin: nodeProxy2.url, prefix: '' },
  ];
  const authFor = (t: Target) => (t.origin === new URL(ftNormal.apiUrl).origin ? ftNormal.authorization : ft.authorization);
  // An Authorization header everywhere: Flink and nginx ignore it, FlinkTrail checks it.
  const headersFor = (t: Target) => ({ authorization: authFor(t) });
  const jid = flink.jobId;
  const reads = (t: Target): HttpRequestSpec[] => [
    { method: 'GET', path: `${t.prefix}/overview` },
    { method: 'GET', path: `${t.prefix}/jobs/overview` },
    { method: 'GET', path: `${t.prefix}/jobs/${jid}` },
  ];
  const write = (t: Target): RateRequest => ({ method: 'POST', path: `${t.prefix}/jobs/${jid}/savepoints`, body: '{"cancel-job":false}', kind: 'write' });

  const ftSampler = sample(ft.pid, 500);
  process.stderr.write('gateway: warm-up (JIT of Flink, nginx and FlinkTrail)…\n');
  for (const t of targets) await wrk({ origin: t.origin, requests: reads(t), headers: headersFor(t), connections: 32, seconds: o.quick ? 3 : 6 });

  const results = new Map<string, Round[]>();
  let ftCpu = 0;
  let ftRequests = 0;
  for (let r = 0; r < rounds; r++) {
    // Rotate the order so that drift on a shared machine does not always favour the same path.
    const order = targets.map((_, i) => targets[(i + r) % targets.length] as Target);
    for (const t of order) {
      process.stderr.write(`gateway: round ${r + 1}/${rounds}, ${t.name}…\n`);
      const cpu0 = cpuSeconds(ft.pid);
      const [w, writes] = await Promise.all([
        wrk({ origin: t.origin, requests: reads(t), headers: headersFor(t), connections: 32, seconds: loadSeconds }),
        rate({ origin: t.origin, headers: headersFor(t), rate: 2, seconds: loadSeconds, requests: [write(t)], connections: 2 }),
      ]);
      if (t.origin === new URL(ft.apiUrl).origin) {
        ftCpu += cpuSeconds(ft.pid) - cpu0;
        ftRequests += w.requests + writes.completed;
      }
      results.set(t.name, [...(results.get(t.name) ?? []), { wrk: w, writes }]);
    }
  }

  const fixed = new Map<string, RateResult>();
  for (const t of targets) {
    process.stderr.write(`gateway: ${fixedRate} requests/s for ${fixedSeconds} s, ${t.name}…\n`);
    const mix: RateRequest[] = [];
    for (let i = 0; i < 99; i++) mix.push({ ...(reads(t)[i % 3] as HttpRequestSpec), kind: 'read' });
    mix.push(write(t));
    fixed.set(t.name, await rate({ origin: t.origin, headers: headersFor(t), rate: fixedRate, seconds: fixedSeconds, requests: mix, connections: 64 }));
  }
  ftSampler.stop();
  await ft.stop();
  await ftNormal.stop();
  const db = new Database(join(ft.dataDir, 'flinktrail.db'), { readonly: true });
  // Event names and services are stored by id (store/sqlite/values.ts).
  const id = (kind: number, value: string) => `(SELECT id FROM event_values WHERE kind = ${kind} AND value = '${value}')`;
  const recorded = db
    .prepare(`SELECT COUNT(*) AS n, SUM(name_id = ${id(VALUE_KIND.eventName, 'TriggerSavepoint')}) AS w FROM events WHERE service_id = ${id(VALUE_KIND.serviceName, 'RealtimeCompute')}`)
    .get() as { n: number; w: number };
  db.close();
  // The main thread's profile: the request thread (the store's and ingest's threads write their own).
  const profiles = profileDir ? processProfiles(profileDir) : undefined;
  const top = profiles?.main ? topFrames(profiles.main, 15) : undefined;
  const workersBusyMs = (profiles?.workers ?? []).reduce((s, f) => s + topFrames(f, 0).busyMs, 0);

  // Throughput table.
  const med = (name: string, f: (r: Round) => number) => median((results.get(name) ?? []).map(f));
  const rps = (name: string) => med(name, (r) => r.wrk.rps);
  const [direct, proxy, trail, , bare, bare2] = targets.map((t) => t.name) as [string, string, string, string, string, string];
  const tputRows = targets.map((t) => [
    t.name,
    int(rps(t.name)),
    ms(med(t.name, (r) => r.wrk.p50)),
    ms(med(t.name, (r) => r.wrk.p99)),
    ms(med(t.name, (r) => r.writes.byKind['write']?.p50 ?? NaN)),
    ms(med(t.name, (r) => r.writes.byKind['write']?.p99 ?? NaN)),
    ratio(rps(t.name) / rps(proxy)),
    ratio(rps(t.name) / rps(direct)),
    (results.get(t.name) ?? []).map((r) => int(r.wrk.rps)).join(' / '),
  ]);
  const errors = [...results.values()].flat().reduce((n, r) => n + r.wrk.non2xx + r.wrk.socketErrors + r.writes.errors, 0);

  // Fixed-rate table.
  const p = (name: string, kind: string, f: 'p50' | 'p99' | 'p999') => fixed.get(name)?.byKind[kind]?.[f] ?? NaN;
  const fixedRows = targets.map((t) => [
    t.name,
    int(fixed.get(t.name)?.achievedRate ?? NaN),
    ms(p(t.name, 'read', 'p50')),
    ms(p(t.name, 'read', 'p99')),
    ms(p(t.name, 'read', 'p999')),
    msDelta(p(t.name, 'read', 'p99') - p(direct, 'read', 'p99')),
    msDelta(p(t.name, 'read', 'p99') - p(proxy, 'read', 'p99')),
    ms(p(t.name, 'write', 'p50')),
    ms(p(t.name, 'write', 'p99')),
  ]);
  const statusNote = targets
    .map((t) => `${t.name}: ${Object.entries(fixed.get(t.name)?.statuses ?? {}).map(([s, n]) => `${n}× ${s}`).join(', ')}${fixed.get(t.name)?.errors ? `, ${fixed.get(t.name)?.errors} errors` : ''}`)
    .join('; ');

  const tputRatio = rps(trail) / rps(proxy);
  const addedP99 = p(trail, 'read', 'p99') - p(direct, 'read', 'p99');
  const rssPeak = Math.max(...ftSampler.samples.map((s) => s.rss).filter(Number.isFinite));
  const lag = fixed.get(trail)?.sendLag;

  const body = `
### Throughput (closed loop: wrk, 32 connections, ${loadSeconds} s × ${rounds} interleaved rounds, median)

Reads: \`/overview\`, \`/jobs/overview\`, \`/jobs/<running job>\` in turn. Writes: a savepoint
trigger (\`POST /jobs/<id>/savepoints\`) twice a second from a second client during each round.

${table(['path', 'reads/s', 'p50', 'p99', 'write p50', 'write p99', '× nginx', '× direct', 'reads/s per round'], tputRows)}

### Added latency at a fixed ${fixedRate} requests/s (open loop, ${fixedSeconds} s, 1 % savepoint triggers)

${table(['path', 'achieved req/s', 'read p50', 'read p99', 'read p99.9', 'p99 added vs direct', 'p99 added vs nginx', 'write p50', 'write p99'], fixedRows)}

### FlinkTrail's own cost

${table(
  ['measure', 'value'],
  [
    ['CPU per proxied request (user + system, throughput rounds)', `${((ftCpu / Math.max(1, ftRequests)) * 1e6).toFixed(0)} µs`],
    ['RSS at start → peak during the run', `${bytes(ftSampler.samples[0]?.rss ?? NaN)} → ${bytes(rssPeak)}`],
    ['events recorded (Flink operations) / of them savepoint triggers', `${int(recorded.n)} / ${int(recorded.w)}`],
  ],
  ['l', 'r'],
)}

${
  top
    ? `### Where FlinkTrail's CPU goes (\`--cpu-prof\`, the measured FlinkTrail's request thread over the whole run, ${ms(top.busyMs)} busy)

Functions by self time on the main (request) thread (time in the function itself, not in what
it calls); this run was profiled, which costs a few per cent of throughput. Its
${profiles?.workers.length ?? 0} worker threads (store, ingest) were busy ${ms(workersBusyMs)} in all.

${framesTable(top.frames)}

`
    : ''
}Notes:
- One 2-core machine runs everything: the load generator (wrk, or the fixed-rate client), the
  proxy under test, and Flink's JobManager and TaskManager (the demo job running). A proxy's
  CPU is taken from Flink's, so the closed-loop ratios understate what a proxy on its own
  cores would reach; the numbers compare the paths under identical conditions, not absolute
  capacity.
- The last three rows are for information, not goals. The same FlinkTrail with
  \`store.synchronous: normal\` (commits not fsynced: survives a process crash, not a power
  loss): commits and their fsyncs run in the store's writer thread, not on the request
  thread, so a journaled write waits for its fsync, a read does not wait for any. Both FlinkTrail
  processes run during the whole benchmark (one idle while the other is measured). And a bare
  Node proxy (\`bench/lib/node-proxy.ts\`: Node's \`http\` server and the gateway's undici pool,
  streaming answers, no authentication, no audit): the floor a proxy written in Node stands on,
  at ${ratio(rps(bare) / rps(proxy))} nginx; FlinkTrail reaches ${ratio(rps(trail) / rps(bare))} of it. The same proxy as two
  processes sharing the listener (\`node:cluster\`) reaches ${ratio(rps(bare2) / rps(proxy))} nginx (${ratio(rps(bare2) / rps(bare))} of one
  process): what spreading a Node proxy over processes buys on this machine, where Flink and
  the load generator need the same two cores.
- Non-2xx answers and socket errors over all throughput rounds: ${int(errors)}. Fixed-rate
  statuses: ${statusNote}.
- The fixed-rate client's own scheduling jitter on the FlinkTrail run: p99
  ${ms(lag?.p99 ?? NaN)} late (requests are timed from when they are sent, so this jitter does
  not inflate latency, but it does bunch requests).
`;
  return {
    name: 'gateway',
    title: '1. Gateway overhead',
    command: 'npm run bench -- gateway',
    startedAt,
    seconds: (Date.now() - t0) / 1000,
    body,
    goals: [
      { area: 'Gateway', goal: 'throughput ≥ 0.7 × nginx', measured: `${ratio(tputRatio)} nginx (${int(rps(trail))} vs ${int(rps(proxy))} reads/s)`, met: tputRatio >= 0.7 },
      { area: 'Gateway', goal: `added p99 ≤ 2 ms at ${fixedRate} req/s`, measured: `${msDelta(addedP99)} vs direct Flink (p99 ${ms(p(trail, 'read', 'p99'))} vs ${ms(p(direct, 'read', 'p99'))})`, met: addedP99 <= 2 },
    ],
  };
}

export const gateway: Bench = {
  name: 'gateway',
  title: '1. Gateway overhead',
  summary: 'FlinkTrail vs nginx vs Flink directly: throughput (wrk) and added p99 at 500 req/s',
  run: gatewayBench,
};
