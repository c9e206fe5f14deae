/**
 * Load: thirty minutes of a busy deployment's mixed traffic, compressed into as little time as
 * the machine allows (about a minute and a half on an idle 2-core machine), against FlinkTrail as a real child process in front of a real Flink; RSS and open file
 * descriptors sampled from /proc four times a second.
 *
 * "Thirty minutes" is 36,000 requests: 20 requests/s, what a few Web UI sessions polling every
 * few seconds plus scripts and auditors make on a small platform. The mix: gateway reads of five kinds, Web UI
 * assets, writes (cancels that Flink answers 404, savepoint triggers), LookupEvents with filters
 * and pagination, GetEvent, whoami, metrics, and failed sign-ins.
 *
 * After warm-up (the first half) RSS and descriptors must stay flat, and every answered
 * request that is recorded must have its event (nothing dropped under load). The rate is
 * printed, not asserted: a busy machine makes it slower, and the promise is about the 36,000
 * requests, not about how fast the test machine sends them.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startFlink, uploadAndRunJob, waitForJobState, type FlinkCluster } from '../../helpers/flink.js';
import { basic, makeKey, tempDir } from '../../helpers/flinktrail.js';
import { Client, fakeJobId, fdCount, metric, rssMb, serve, sleep, storedEvents } from './lib.js';

/** 30 minutes at RATE requests/s. */
const RATE = 20;
const REQUESTS = 30 * 60 * RATE;
const WORKERS = 12;
/** Only a guard against a hang: a machine this slow is not one to judge memory on. */
const MAX_SECONDS = 1200;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

describe('30-minute-equivalent mixed load', { timeout: (MAX_SECONDS + 120) * 1000 }, () => {
  let flink: FlinkCluster;
  let jobId: string;
  before(async () => {
    flink = await startFlink();
    ({ jobId } = await uploadAndRunJob(flink.restUrl, flink.jobJar, { programArgs: ['--job-name', 'load-test'] }));
    await waitForJobState(flink.restUrl, jobId, 'RUNNING', 90_000);
  });
  after(async () => {
    if (jobId) await fetch(`${flink.restUrl}/jobs/${jobId}?mode=cancel`, { method: 'PATCH' }).catch(() => undefined);
    await flink?.stop();
  });

  it('keeps RSS and file descriptors flat after warm-up, and records every request', async () => {
    const dataDir = tempDir('ft-load-');
    const cred = await makeKey(dataDir);
    const auth = basic(cred);
    const server = await serve(flink.restUrl, dataDir, ['--set', 'auth.rateLimit.maxFailures=1000000']);
    const pid = server.proc.pid!;
    const client = new Client(server.origin, auth, WORKERS);
    const badClient = new Client(server.origin, basic({ accessKeyId: cred.accessKeyId, accessKeySecret: 'wrong-secret' }), 2);
    const g = server.prefix;
    const samples: { t: number; done: number; rss: number; fds: number }[] = [];
    const recorded = new Set<string>();
    const statuses = new Map<number, number>();
    const unexpected: string[] = [];
    let done = 0;
    let token: URLSearchParams | undefined;
    let lastEventId: string | undefined;
    let lastSavepoint = 0;

    const one = async (i: number) => {
      const slot = i % 100;
      const since = new Date(Date.now() - 3600_000).toISOString();
      let seen;
      let record = true;
      if (slot < 60) {
        const reads = ['/overview', '/jobs/overview', `/jobs/${jobId}`, '/taskmanagers', `/jobs/${jobId}/checkpoints`];
        seen = await client.send('GET', `${g}${reads[slot % reads.length]}`);
      } else if (slot < 65) {
        // Web UI files: proxied, not recorded (gateway.recordAssets is off).
        seen = await client.send('GET', `${g}/`);
        record = false;
      } else if (slot < 70) {
        if (Date.now() - lastSavepoint > 2000) {
          lastSavepoint = Date.now();
          seen = await client.send('POST', `${g}/jobs/${jobId}/savepoints`, '{"cancel-job":false}');
        } else {
          seen = await client.send('PATCH', `${g}/jobs/${fakeJobId()}?mode=cancel`);
        }
      } else if (slot < 85) {
        const filters: Record<string, string>[] = [{}, { eventRW: 'Write' }, { eventName: 'GetJobDetails' }, { resourceName: jobId }, { user: 'alice', maxResults: '200' }];
        // Every fifteenth lookup follows the NextToken of the one before it (same filters).
        const q = slot === 84 && token ? token : new URLSearchParams({ startTime: since, ...filters[slot % filters.length] });
        seen = await client.send('GET', `/api/v1/events?${q.toString()}`);
        if (seen.status === 200) {
          const body = JSON.parse(seen.body) as { NextToken?: string; Events: { eventId: string }[] };
          if (slot === 70 && body.NextToken) token = new URLSearchParams({ startTime: q.get('startTime') as string, nextToken: body.NextToken });
          lastEventId = body.Events[0]?.eventId ?? lastEventId;
        }
      } else if (slot < 90) {
        seen = await client.send('GET', `/api/v1/events/${lastEventId ?? 'none'}`);
      } else if (slot < 95) {
        seen = await client.send('GET', '/api/v1/whoami');
      } else if (slot < 97) {
        seen = await client.send('GET', '/metrics');
        record = false;
      } else {
        seen = await badClient.send('GET', slot % 2 ? `${g}/overview` : '/api/v1/whoami');
      }
      statuses.set(seen.status, (statuses.get(seen.status) ?? 0) + 1);
      // What an unexpected answer was, kept for the failure message: the status alone says too little.
      if (![200, 202, 401, 404].includes(seen.status) && unexpected.length < 5) unexpected.push(`${seen.status} ${seen.requestId ?? '-'} (slot ${slot}): ${seen.body.slice(0, 300)}`);
      if (record && seen.requestId && seen.status !== 0) recorded.add(seen.requestId);
      done++;
    };

    const t0 = Date.now();
    // Four times a second: a fast run's second half (about 10 s on an idle machine) still gives
    // the 20 samples the flatness check needs (at twice a second a fast run once gave 19).
    const sampler = setInterval(() => samples.push({ t: Date.now() - t0, done, rss: rssMb(pid), fds: fdCount(pid) }), 250);
    let next = 0;
    const worker = async () => {
      while (next < REQUESTS && Date.now() - t0 < MAX_SECONDS * 1000) await one(next++);
    };
    try {
      await Promise.all(Array.from({ length: WORKERS }, worker));
    } finally {
      clearInterval(sampler);
    }
    const seconds = (Date.now() - t0) / 1000;
    await sleep(2000);
    const idleFds = fdCount(pid);
    const idleRss = rssMb(pid);

    try {
      const dropped = await metric(server.apiUrl, auth, 'flinktrail_events_dropped_total');
      process.stdout.write(
        `# ${done} requests in ${seconds.toFixed(1)} s (${(done / seconds).toFixed(0)}/s, ${(done / RATE / 60).toFixed(1)} minutes at ${RATE}/s); statuses ${JSON.stringify(Object.fromEntries(statuses))}\n`,
      );
      assert.ok(done >= REQUESTS, `only ${done} of ${REQUESTS} requests in ${MAX_SECONDS} s`);
      for (const s of statuses.keys()) assert.ok([200, 202, 401, 404].includes(s), `unexpected status ${s} (${statuses.get(s)}×): ${unexpected.join(' | ')}\nFlinkTrail's error log lines:\n${server.errorLines().join('\n')}`);

      // Warm-up is the first half: measured per thread (v8 heap statistics every 2 s), the main
      // thread's heap grows from ~80 to ~140 MB over the first ~20,000 requests as V8 sizes its
      // old generation to the allocation rate, then stays there (in a 108,000-request run its
      // size after each major GC stayed between 47 and 78 MB with no trend); a quarter-way start
      // measured that sizing (+39 to +64 MB), not a leak.
      const warm = samples.filter((s) => s.done >= REQUESTS / 2);
      // Medians of the first and last quarter: wide enough that where each falls in the
      // collector's saw-tooth (±25 MB on the main thread alone) does not decide the difference.
      const quarter = Math.max(5, Math.floor(warm.length / 4));
      const rssStart = median(warm.slice(0, quarter).map((s) => s.rss));
      const rssEnd = median(warm.slice(-quarter).map((s) => s.rss));
      const rssMax = Math.max(...warm.map((s) => s.rss));
      const fds = warm.map((s) => s.fds);
      process.stdout.write(
        `# after warm-up (${warm.length} samples): RSS ${rssStart.toFixed(0)} → ${rssEnd.toFixed(0)} MB (max ${rssMax.toFixed(0)}, idle after ${idleRss.toFixed(0)}); fds ${Math.min(...fds)}–${Math.max(...fds)} (idle after ${idleFds})\n`,
      );
      assert.ok(warm.length >= 20, 'enough samples after warm-up');
      // V8 grows the old generation lazily and collects it in one go (a 60,000-request run here
      // climbed ~60 MB, then dropped back to its warm-up size at the first major GC), so "flat"
      // is a bound, not a slope: a leak of a few KB per request would break it.
      assert.ok(rssEnd - rssStart < 48, `RSS grew ${(rssEnd - rssStart).toFixed(0)} MB after warm-up`);
      assert.ok(rssMax < 600, `RSS peaked at ${rssMax.toFixed(0)} MB`);
      assert.ok(Math.max(...fds) - Math.min(...fds) <= 24, `descriptors varied ${Math.min(...fds)}–${Math.max(...fds)} after warm-up`);
      assert.ok(idleFds <= Math.max(...fds), 'no descriptors left behind once the load stops');

      // Nothing dropped under load: every recorded request has its event.
      assert.equal(dropped, 0);
      const have = new Set(storedEvents(dataDir).map((e) => e.requestId));
      const missing = [...recorded].filter((rid) => !have.has(rid));
      assert.deepEqual(missing.slice(0, 5), [], `${missing.length} of ${recorded.size} answered requests have no event`);
    } finally {
      await client.close();
      await badClient.close();
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
