/**
 * Memory: FlinkTrail's resident set size under sustained mixed load, sampled from /proc every
 * half second — reads through the gateway (wrk), savepoint triggers (journaled writes) and
 * LookupEvents queries at the same time. Baselines in the same run: FlinkTrail idle (after
 * start-up) and nginx (master + worker) carrying the same read load.
 */
import { readFileSync } from 'node:fs';
import { rate } from './lib/rate.js';
import { rssBytes, sample, sleep } from './lib/procs.js';
import type { Section } from './lib/report.js';
import { benchDir, benchFlink, startFlinkTrail, startNginx } from './lib/servers.js';
import { bytes, int, median, ratio, table } from './lib/stats.js';
import { wrk } from './lib/wrk.js';
import type { Bench, BenchOptions } from './types.js';

/** A process and its direct children (nginx: master and workers). */
function treeRss(pid: number): number {
  let total = rssBytes(pid);
  try {
    for (const child of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) total += rssBytes(Number(child));
  } catch {
    /* no children listed */
  }
  return total;
}

async function memoryBench(o: BenchOptions): Promise<Section> {
  const startedAt = new Date();
  const t0 = Date.now();
  const seconds = o.quick ? 20 : 60;
  const flink = await benchFlink();
  const nginx = await startNginx(flink.restUrl);
  const ft = await startFlinkTrail({ dataDir: benchDir('memory'), flinkUrl: flink.restUrl });
  await sleep(2000);
  const idle = rssBytes(ft.pid);
  const origin = new URL(ft.apiUrl).origin;
  const headers = { authorization: ft.authorization };
  const reads = (prefix: string) => ['/overview', '/jobs/overview', `/jobs/${flink.jobId}`].map((p) => ({ method: 'GET' as const, path: `${prefix}${p}` }));

  // nginx under the same read load, for scale.
  const nginxIdle = treeRss(nginx.pid);
  let nginxPeak = nginxIdle;
  const nginxTimer = setInterval(() => (nginxPeak = Math.max(nginxPeak, treeRss(nginx.pid))), 500);
  await wrk({ origin: nginx.url, requests: reads(''), headers, connections: 32, seconds: Math.min(20, seconds) });
  clearInterval(nginxTimer);

  process.stderr.write(`memory: FlinkTrail under mixed load for ${seconds} s…\n`);
  const s = sample(ft.pid, 500);
  const since = new Date(Date.now() - 3600_000).toISOString();
  const [w] = await Promise.all([
    wrk({ origin, requests: reads('/flink/default'), headers, connections: 32, seconds }),
    rate({ origin, headers, rate: 5, seconds, connections: 4, requests: [{ method: 'POST', path: `/flink/default/jobs/${flink.jobId}/savepoints`, body: '{"cancel-job":false}', kind: 'write' }] }),
    rate({
      origin,
      headers,
      rate: 20,
      seconds,
      connections: 4,
      requests: [
        { method: 'GET', path: `/api/v1/events?startTime=${since}`, kind: 'query' },
        { method: 'GET', path: `/api/v1/events?startTime=${since}&eventRW=Write&maxResults=200`, kind: 'query' },
        { method: 'GET', path: `/api/v1/events?startTime=${since}&eventName=GetJobDetails`, kind: 'query' },
      ],
    }),
  ]);
  s.stop();
  await sleep(5000);
  const after = rssBytes(ft.pid);
  await ft.stop();

  const rss = s.samples.map((x) => x.rss).filter(Number.isFinite);
  const warm = rss.slice(Math.floor(rss.length / 4));
  const peak = Math.max(...rss);
  const body = `
${table(
  ['process', 'RSS', '× FlinkTrail idle'],
  [
    ['FlinkTrail idle (2 s after start)', bytes(idle), ratio(1)],
    [`FlinkTrail under load: median after warm-up (first quarter dropped)`, bytes(median(warm)), ratio(median(warm) / idle)],
    ['FlinkTrail under load: peak', bytes(peak), ratio(peak / idle)],
    ['FlinkTrail 5 s after the load stopped', bytes(after), ratio(after / idle)],
    ['nginx (master + worker) idle → peak under the same read load', `${bytes(nginxIdle)} → ${bytes(nginxPeak)}`, ratio(nginxPeak / idle)],
  ],
  ['l', 'r', 'r'],
)}

Load on FlinkTrail for ${seconds} s: wrk, 32 connections of gateway reads (${int(w.rps)} requests/s), savepoint
triggers at 5/s (journaled writes), LookupEvents at 20/s; ${int(s.samples.length)} RSS samples. RSS growth from the
end of warm-up to the end of the load: ${bytes((warm[warm.length - 1] ?? NaN) - (warm[0] ?? NaN))}.
`;
  return {
    name: 'memory',
    title: '6. Memory',
    command: 'npm run bench -- memory',
    startedAt,
    seconds: (Date.now() - t0) / 1000,
    body,
    goals: [{ area: 'Memory', goal: 'RSS of FlinkTrail under load', measured: `${bytes(median(warm))} median, ${bytes(peak)} peak (idle ${bytes(idle)})`, met: 'info' }],
  };
}

export const memory: Bench = {
  name: 'memory',
  title: '6. Memory',
  summary: "FlinkTrail's RSS under mixed load (reads, journaled writes, queries) vs idle and vs nginx",
  run: memoryBench,
};
