/**
 * The newcomer's path: `flinktrail demo --json` starts a real Flink with FlinkTrail in front of
 * it — on another port when something already listens on Flink's 8081 — with the example job
 * running, and prints exactly one JSON line on stdout; the printed AccessKey works through the
 * gateway; `flinktrail keys create` makes a key while the server runs; `flinktrail
 * lookup-events` finds the events; `trails create --digest-interval 2m` takes a duration;
 * SIGTERM stops both.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { openDatabase } from '../../../src/store/sqlite/database.js';
import { basic, REPO, tempDir } from '../../helpers/flinktrail.js';
import { ownDatabase } from '../../helpers/postgres.js';

const exec = promisify(execFile);
const BIN = join(REPO, 'bin/flinktrail.mjs');

interface DemoInfo {
  consoleUrl: string;
  apiUrl: string;
  gatewayUrl: string;
  flinkUrl: string;
  dataDir: string;
  user: string;
  password: string;
  accessKeyId: string;
  accessKeySecret: string;
  logFile: string;
  jobId: string;
}

/**
 * Keeps 127.0.0.1:8081 taken for the test. If something else already holds it, it is taken all
 * the same (undefined: nothing of ours to close).
 */
async function occupy8081(): Promise<Server | undefined> {
  const srv = createServer((sock) => sock.destroy());
  return new Promise((resolve, reject) => {
    srv.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' ? resolve(undefined) : reject(err)));
    srv.listen(8081, '127.0.0.1', () => resolve(srv));
  });
}

/** The fields of the demo's JSON line, whichever store it runs on. */
const DEMO_KEYS = ['accessKeyId', 'accessKeySecret', 'apiUrl', 'consoleUrl', 'dataDir', 'exampleJobJar', 'flinkUrl', 'gatewayUrl', 'jobId', 'logFile', 'password', 'user'];

interface Demo {
  proc: ChildProcess;
  info: DemoInfo;
  exited: Promise<number | null>;
  readonly stdout: string;
  readonly stderr: string;
}

/** `flinktrail demo --json --port 0` with `args`, once it printed its JSON line; stopped again if it never does. */
async function startDemo(args: string[]): Promise<Demo> {
  const proc = spawn(process.execPath, [BIN, 'demo', '--json', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  proc.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()));
  proc.stdout.on('data', (d: Buffer) => (out.stdout += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  // If the demo never becomes ready it must still go, or this test file (and the CI run) never ends.
  const ready = new Promise<DemoInfo>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`demo not ready in 240 s:\n${out.stderr}`)), 240_000);
    proc.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const line = buf.split('\n').find((l) => l.startsWith('{'));
      if (line && buf.includes('\n')) {
        clearTimeout(timer);
        resolve(JSON.parse(line) as DemoInfo);
      }
    });
    void exited.then((code) => reject(new Error(`demo exited with ${String(code)}:\n${out.stderr}`)));
  });
  const info = await ready.catch(async (err: unknown) => {
    proc.kill('SIGTERM');
    await exited;
    throw err;
  });
  return {
    proc,
    info,
    exited,
    get stdout() {
      return out.stdout;
    },
    get stderr() {
      return out.stderr;
    },
  };
}

describe('flinktrail demo and the CLI', { timeout: 300_000 }, () => {
  it('refuses a --flink-port that is taken, saying so', async () => {
    const blocker = await occupy8081();
    try {
      const failed = await exec(process.execPath, [BIN, 'demo', '--json', '--port', '0', '--data-dir', tempDir(), '--flink-port', '8081']).catch((e: { code: number; stdout: string; stderr: string }) => e);
      assert.equal((failed as { code: number }).code, 1);
      assert.match((failed as { stderr: string }).stderr, /Flink REST port 8081 is already in use: pick another with --flink-port/);
      assert.equal((failed as { stdout: string }).stdout, '', 'nothing on stdout when the demo does not start');
    } finally {
      blocker?.close();
    }
  });

  it('runs the demo beside a busy 8081 with the example job running, answers the CLI, and stops Flink on SIGTERM', async () => {
    const dataDir = tempDir();
    const blocker = await occupy8081();
    const demo = await startDemo(['--data-dir', dataDir]).catch((err: unknown) => {
      blocker?.close();
      throw err;
    });
    const { proc, info, exited } = demo;
    const stderr = () => demo.stderr;
    try {
      for (const k of ['consoleUrl', 'apiUrl', 'gatewayUrl', 'flinkUrl', 'dataDir', 'logFile', 'user', 'password', 'accessKeyId', 'accessKeySecret', 'jobId'] as const) {
        assert.ok(info[k], `${k} is printed`);
      }
      assert.deepEqual(Object.keys(info).sort(), DEMO_KEYS);
      assert.notEqual(new URL(info.flinkUrl).port, '8081', 'Flink went to another port because 8081 was taken');
      // The example job was submitted through FlinkTrail and runs: there is something to cancel.
      const job = await fetch(`${info.gatewayUrl}jobs/${info.jobId}`, { headers: { authorization: basic(info) } });
      assert.equal(job.status, 200);
      assert.equal(((await job.json()) as { state: string }).state, 'RUNNING');
      const submitted = await fetch(`${info.apiUrl}/api/v1/events?eventName=RunJar`, { headers: { authorization: basic(info) } });
      const runJar = ((await submitted.json()) as { Events: { userIdentity: { userName: string }; referencedResources: Record<string, string[]> }[] }).Events;
      assert.equal(runJar.length, 1, 'the job start is recorded');
      assert.equal(runJar[0]?.userIdentity.userName, info.user);
      assert.ok(Object.values(runJar[0]?.referencedResources ?? {}).flat().includes(info.jobId), JSON.stringify(runJar[0]?.referencedResources));
      // The demo key and the demo user's password both work through the gateway.
      const viaKey = await fetch(`${info.gatewayUrl}overview`, { headers: { authorization: basic(info) } });
      assert.equal(viaKey.status, 200);
      assert.equal(((await viaKey.json()) as { taskmanagers: number }).taskmanagers, 1);
      const viaPassword = await fetch(`${info.gatewayUrl}jobs/overview`, { headers: { authorization: basic({ user: info.user, password: info.password }) } });
      assert.equal(viaPassword.status, 200);

      // A key made by the CLI while the server runs works at once.
      const created = await exec(process.execPath, [BIN, 'keys', 'create', '--user', 'bob', '--role', 'viewer', '--data-dir', info.dataDir, '--output', 'json']);
      const bob = JSON.parse(created.stdout) as { accessKeyId: string; accessKeySecret: string };
      assert.match(bob.accessKeyId, /^FTAK[A-Z2-7]{20}$/);
      assert.equal(bob.accessKeySecret.length, 40);
      const asBob = await fetch(`${info.gatewayUrl}jobs/overview`, { headers: { authorization: basic(bob) } });
      assert.equal(asBob.status, 200);
      const listed = await exec(process.execPath, [BIN, 'keys', 'list', '--data-dir', info.dataDir, '--output', 'json']);
      assert.ok(!listed.stdout.includes(bob.accessKeySecret), 'keys list never shows secrets');
      assert.ok((JSON.parse(listed.stdout) as { accessKeyId: string }[]).some((k) => k.accessKeyId === bob.accessKeyId));

      const cliEvents = await fetch(`${info.apiUrl}/api/v1/events?eventName=CreateAccessKey&serviceName=Actiontrail`, { headers: { authorization: basic(info) } });
      const made = ((await cliEvents.json()) as { Events: { userIdentity: { type: string; userName: string }; referencedResources: Record<string, string[]>; isGlobal: boolean }[] }).Events;
      const mine = made.find((e) => e.referencedResources['ACS::Actiontrail::AccessKey']?.includes(bob.accessKeyId));
      assert.ok(mine, 'a key made by the CLI on the data directory is recorded');
      assert.equal(mine.userIdentity.type, 'root-account');
      assert.match(mine.userIdentity.userName, /^local:/);
      assert.equal(mine.isGlobal, true);

      const env = { ...process.env, FLINKTRAIL_ENDPOINT: info.apiUrl, FLINKTRAIL_ACCESS_KEY_ID: info.accessKeyId, FLINKTRAIL_ACCESS_KEY_SECRET: info.accessKeySecret };
      let events: { eventName: string; userIdentity: { userName: string } }[] = [];
      for (let i = 0; i < 40 && !events.some((e) => e.userIdentity.userName === 'bob'); i++) {
        const out = await exec(process.execPath, [BIN, 'lookup-events', '--event-name', 'GetJobsOverview', '--user', 'bob', '--output', 'json'], { env });
        events = (JSON.parse(out.stdout) as { Events: typeof events }).Events;
        if (!events.length) await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(events.length, 1);
      const tableOut = await exec(process.execPath, [BIN, 'lookup-events', '--service-name', 'RealtimeCompute', '--all'], { env });
      assert.match(tableOut.stdout, /GetJobsOverview/);
      assert.match(tableOut.stdout.split('\n')[0] ?? '', /Time\s+User\s+Event/);
      const bad = await exec(process.execPath, [BIN, 'lookup-events', '--start-time', 'nonsense'], { env }).catch((e: { code: number; stderr: string }) => e);
      assert.equal((bad as { code: number }).code, 2);
      assert.match((bad as { stderr: string }).stderr, /FT_ERR_QUERY_TIME_RANGE/);
      const unauth = await exec(process.execPath, [BIN, 'lookup-events'], { env: { ...env, FLINKTRAIL_ACCESS_KEY_SECRET: 'wrong' } }).catch((e: { code: number }) => e);
      assert.equal((unauth as { code: number }).code, 3);

      // Durations: `2m` where whole seconds were the only spelling before; a non-duration is refused.
      const trail = await exec(process.execPath, [BIN, 'trails', 'create', '--name', 'demo-trail', '--destination', 'local', '--digest-interval', '2m', '--output', 'json'], { env });
      assert.equal((JSON.parse(trail.stdout) as { DigestInterval: number }).DigestInterval, 120);
      const badDuration = await exec(process.execPath, [BIN, 'trails', 'create', '--name', 'demo-trail2', '--destination', 'local', '--digest-interval', 'soon'], { env }).catch((e: { code: number; stderr: string }) => e);
      assert.notEqual((badDuration as { code: number }).code, 0);
      assert.match((badDuration as { stderr: string }).stderr, /'soon' is not a duration/);
    } finally {
      proc.kill('SIGTERM');
      assert.equal(await exited, 0, stderr());
      blocker?.close();
    }
    assert.equal(demo.stdout, `${JSON.stringify(info)}\n`, 'stdout is exactly the one JSON line, also after shutdown');
    assert.match(readFileSync(info.logFile, 'utf8'), /FlinkTrail stopped; every accepted event was flushed/, 'logs went to the log file');
    await assert.rejects(fetch(`${info.flinkUrl}/overview`), 'Flink was stopped with the demo');
  });

  it('demo --store postgres://… prints the same JSON line and keeps events, users and trails in PostgreSQL', async () => {
    const database = await ownDatabase('ft_demo');
    let demo: Demo | undefined;
    try {
      const storeUrl = database.url;
      const dataDir = tempDir();
      demo = await startDemo(['--data-dir', dataDir, '--store', storeUrl]);
      const { info } = demo;
      assert.deepEqual(Object.keys(info).sort(), DEMO_KEYS, 'the same JSON line as the embedded demo');
      const job = await fetch(`${info.gatewayUrl}jobs/${info.jobId}`, { headers: { authorization: basic(info) } });
      assert.equal(((await job.json()) as { state: string }).state, 'RUNNING');
      const env = { ...process.env, FLINKTRAIL_ENDPOINT: info.apiUrl, FLINKTRAIL_ACCESS_KEY_ID: info.accessKeyId, FLINKTRAIL_ACCESS_KEY_SECRET: info.accessKeySecret };
      await exec(process.execPath, [BIN, 'trails', 'create', '--name', 'pg-demo-trail', '--destination', 'local', '--output', 'json'], { env });

      // Where it all went: PostgreSQL, not the data directory.
      {
        const one = async (sql: string, ...params: unknown[]) => Number(((await database.pool.query(sql, params)).rows[0] as { n: string }).n);
        assert.ok((await one("SELECT count(*) AS n FROM events WHERE event_name = 'RunJar'")) >= 1, 'the job start is an event in PostgreSQL');
        assert.equal(await one('SELECT count(*) AS n FROM users WHERE name = $1', info.user), 1, 'the demo user is in PostgreSQL');
        assert.equal(await one('SELECT count(*) AS n FROM access_keys WHERE id = $1', info.accessKeyId), 1);
        assert.equal(await one("SELECT count(*) AS n FROM trails WHERE name = 'pg-demo-trail'"), 1, 'the trail is in PostgreSQL');
      }
      const local = openDatabase(dataDir, { readonly: true });
      try {
        assert.equal((local.prepare('SELECT count(*) AS n FROM users').get() as { n: number }).n, 0, 'no user in the data directory');
        assert.equal((local.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n, 0, 'no event in the data directory');
        assert.equal((local.prepare('SELECT count(*) AS n FROM trails').get() as { n: number }).n, 0, 'no trail in the data directory');
      } finally {
        local.close();
      }
    } finally {
      if (demo) {
        demo.proc.kill('SIGTERM');
        assert.equal(await demo.exited, 0, demo.stderr);
      }
      await database.drop();
    }
    assert.equal(demo.stdout, `${JSON.stringify(demo.info)}\n`, 'stdout is exactly the one JSON line');
  });
});
