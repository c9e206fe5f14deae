/**
 * The newcomer's path: `flinktrail demo --json` starts a real Flink with FlinkTrail in front of
 * it; the printed AccessKey works through the gateway; `flinktrail keys create` makes a key
 * while the server runs; `flinktrail lookup-events` finds the events; SIGTERM stops both.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { basic, REPO, tempDir } from '../../helpers/flinktrail.js';

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
}

describe('flinktrail demo and the CLI', { timeout: 300_000 }, () => {
  it('runs the demo, answers the CLI, and stops Flink on SIGTERM', async () => {
    const dataDir = tempDir();
    const proc = spawn(process.execPath, [BIN, 'demo', '--json', '--port', '0', '--data-dir', dataDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    const info = await new Promise<DemoInfo>((resolve, reject) => {
      let buf = '';
      const timer = setTimeout(() => reject(new Error(`demo not ready in 240 s:\n${stderr}`)), 240_000);
      proc.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        const line = buf.split('\n').find((l) => l.startsWith('{"consoleUrl"'));
        if (line) {
          clearTimeout(timer);
          resolve(JSON.parse(line) as DemoInfo);
        }
      });
      void exited.then((code) => reject(new Error(`demo exited with ${String(code)}:\n${stderr}`)));
    });
    try {
      for (const k of ['consoleUrl', 'apiUrl', 'gatewayUrl', 'flinkUrl', 'dataDir', 'user', 'password', 'accessKeyId', 'accessKeySecret'] as const) {
        assert.ok(info[k], `${k} is printed`);
      }
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
    } finally {
      proc.kill('SIGTERM');
      assert.equal(await exited, 0, stderr);
    }
    await assert.rejects(fetch(`${info.flinkUrl}/overview`), 'Flink was stopped with the demo');
  });
});
