/**
 * Sign-in throttling slows attackers and never locks the owner out (the lockout-as-denial-of-
 * service finding): an attacker's failures for `admin` and for admin's AccessKey id make only the
 * attacker's address wait; a spraying address waits for new names but not for an identity that
 * signed in from it before, nor for AccessKeys; console sessions are never held back; an admin
 * ends a wait with `flinktrail auth unlock`; throttles and unlocks are recorded.
 *
 * Addresses are told apart with X-Forwarded-For from a trusted proxy (the loopback), as behind a
 * load balancer. Real Flink answers the requests that get through.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { ActionTrailEvent } from '../../../src/event/types.js';
import { startFlink, type FlinkCluster } from '../../helpers/flink.js';
import { basic, makeKey, REPO, startInProcess, tempDir, type Credentials, type InProcess } from '../../helpers/flinktrail.js';

const exec = promisify(execFile);
const BIN = join(REPO, 'bin/flinktrail.mjs');
const HIDDEN = 'HIDDEN_DUE_TO_SECURITY_REASONS';
const OWNER_IP = '198.51.100.5';
const ATTACKER_IP = '203.0.113.66';
const NAT_IP = '192.0.2.10';

describe('sign-in throttling never locks the owner out', { timeout: 180_000 }, () => {
  let flink: FlinkCluster | undefined;
  let ft: InProcess | undefined;
  let admin: Credentials;
  let gw: string;
  let api: string;
  const password = 'correct horse battery staple';

  before(async () => {
    flink = await startFlink();
    const dataDir = tempDir();
    admin = await makeKey(dataDir, 'admin', 'admin');
    await makeKey(dataDir, 'carol', 'viewer');
    // A long first wait, so that what is throttled stays throttled however slow the machine is.
    ft = await startInProcess(
      flink.restUrl,
      { gateway: { trustedProxies: ['127.0.0.1/32', '::1/128'] }, auth: { rateLimit: { maxFailures: 5, baseDelaySeconds: 600, maxDelaySeconds: 600, perSourceFactor: 10 } } },
      dataDir,
    );
    // Passwords through the API, as an admin would set them (argon2id).
    for (const user of ['admin', 'carol']) {
      const res = await fetch(`${ft.info.apiUrl}/api/v1/users/${user}`, {
        method: 'PATCH',
        headers: { authorization: basic(admin), 'content-type': 'application/json' },
        body: JSON.stringify({ password }),
      });
      assert.equal(res.status, 200);
    }
    gw = ft.info.clusters['default']!.gatewayUrl;
    api = ft.info.apiUrl;
  });
  after(async () => {
    await ft?.close();
    await flink?.stop();
  });

  const from = (ip: string, authorization?: string, extra: Record<string, string> = {}) => ({
    headers: { 'x-forwarded-for': ip, ...(authorization ? { authorization } : {}), ...extra },
  });
  const status = async (url: string, init: RequestInit) => {
    const res = await fetch(url, init);
    await res.arrayBuffer();
    return res.status;
  };
  /** Events in the store matching `pred`, once there are at least `n` (events are written in batches). */
  const events = async (pred: (e: ActionTrailEvent) => boolean, n: number): Promise<ActionTrailEvent[]> => {
    for (let i = 0; ; i++) {
      const page = await ft!.app.store.lookup({ filter: { startTime: 0, endTime: Date.now() + 1000 }, direction: 'BACKWARD', limit: 200 });
      const hits = page.events.filter(pred);
      if (hits.length >= n || i === 100) return hits;
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const cli = async (...args: string[]) => {
    const { stdout } = await exec(process.execPath, [BIN, ...args, '--endpoint', api, '--output', 'json'], {
      env: { ...process.env, FLINKTRAIL_ACCESS_KEY_ID: admin.accessKeyId, FLINKTRAIL_ACCESS_KEY_SECRET: admin.accessKeySecret, FLINKTRAIL_PROFILES: '/nonexistent' },
    });
    return JSON.parse(stdout) as Record<string, unknown>;
  };

  it('an attacker guessing admin and admin’s key waits; the owner, the key and the session do not', async () => {
    // The owner signs in to the console before the attack.
    const login = await fetch(`${api}/api/v1/auth/login`, { method: 'POST', ...from(OWNER_IP, undefined, { 'content-type': 'application/json' }), body: JSON.stringify({ userName: 'admin', password }) });
    assert.equal(login.status, 200);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string;

    const attack: number[] = [];
    for (let i = 0; i < 10; i++) attack.push(await status(`${gw}overview`, from(ATTACKER_IP, basic({ user: 'admin', password: `guess-${i}` }))));
    for (let i = 0; i < 10; i++) attack.push(await status(`${gw}overview`, from(ATTACKER_IP, basic({ accessKeyId: admin.accessKeyId, accessKeySecret: `guess-${i}` }))));
    assert.deepEqual(attack, [...[401, 401, 401, 401, 401, 401, 429, 429, 429, 429], ...[401, 401, 401, 401, 401, 401, 429, 429, 429, 429]]);

    assert.equal(await status(`${gw}overview`, from(OWNER_IP, basic({ user: 'admin', password }))), 200, 'the password from the owner’s address');
    assert.equal(await status(`${gw}overview`, from(OWNER_IP, basic(admin))), 200, 'the key from the owner’s address');
    assert.equal(await status(`${api}/api/v1/whoami`, from(ATTACKER_IP, undefined, { cookie })), 200, 'a console session, even from the throttled address');
    assert.equal(await status(`${gw}overview`, from(ATTACKER_IP, basic({ user: 'carol', password }))), 200, 'another identity from the attacker’s address');

    const throttled = await events((e) => e.eventName === 'ThrottleSignIn' && e.sourceIpAddress === ATTACKER_IP, 2);
    assert.deepEqual(throttled.map((e) => `${e.userIdentity.userName || e.userIdentity.accessKeyId} ${String(e.requestParameters['method'])}`).sort(), [
      `${admin.accessKeyId} access-key`,
      'admin password',
    ].sort());
    const refused = await events((e) => e.errorCode === 'FT_ERR_AUTH_RATE_LIMITED' && e.sourceIpAddress === ATTACKER_IP, 8);
    assert.equal(refused.length, 8, 'every refused attempt is recorded');
  });

  it('a spraying address waits for new names, not for identities that signed in from it, nor for keys', async () => {
    // The owner works from behind the same NAT as the sprayer.
    assert.equal(await status(`${gw}overview`, from(NAT_IP, basic({ user: 'admin', password }))), 200);
    const spray: number[] = [];
    for (let i = 0; i < 52; i++) spray.push(await status(`${gw}overview`, from(NAT_IP, basic({ user: `ghost-${i}`, password: `p-${i}` }))));
    assert.deepEqual(spray.slice(0, 50), Array(50).fill(401), 'below the per-address bound (5 × 10)');
    assert.deepEqual(spray.slice(50), [401, 429], 'the 51st failure starts the wait');

    assert.equal(await status(`${gw}overview`, from(NAT_IP, basic({ user: 'carol', password }))), 429, 'a name new to this address waits');
    assert.equal(await status(`${gw}overview`, from(NAT_IP, basic({ user: 'admin', password }))), 200, 'the owner who signed in from here does not');
    assert.equal(await status(`${gw}overview`, from(NAT_IP, basic(admin))), 200, 'AccessKeys are not held back by spraying');
    assert.equal(await status(`${gw}overview`, from(OWNER_IP, basic({ user: 'carol', password }))), 200, 'other addresses are not affected');

    const [source] = await events((e) => e.eventName === 'ThrottleSignIn' && e.sourceIpAddress === NAT_IP, 1);
    assert.equal(source?.requestParameters['scope'], 'source');
    const ghosts = await events((e) => e.sourceIpAddress === NAT_IP && e.errorCode === 'FT_ERR_AUTH_INVALID', 51);
    assert.equal(ghosts.length, 51);
    assert.ok(ghosts.every((e) => e.userIdentity.userName === HIDDEN), 'unknown names are never recorded');
  });

  it('an admin lists and ends waits with the CLI; both are recorded; non-admins may not', async () => {
    const list = (await cli('auth', 'throttles')) as { Throttles: { scope: string; sourceIp: string; identity?: string }[] };
    assert.ok(list.Throttles.some((t) => t.scope === 'source' && t.sourceIp === NAT_IP));
    assert.ok(list.Throttles.some((t) => t.scope === 'pair' && t.sourceIp === ATTACKER_IP && t.identity === 'admin'));

    const carol = basic({ user: 'carol', password });
    const refused = await fetch(`${api}/api/v1/auth/unlock`, { method: 'POST', headers: { authorization: carol, 'content-type': 'application/json' }, body: JSON.stringify({ sourceIp: NAT_IP }) });
    assert.equal(refused.status, 403);

    assert.deepEqual(await cli('auth', 'unlock', '--source', NAT_IP), { cleared: 1 + 51 }, 'the address and the pair of every name it failed (the 52nd was refused unchecked)');
    assert.equal(await status(`${gw}overview`, from(NAT_IP, basic({ user: 'carol', password }))), 200);
    assert.deepEqual(await cli('auth', 'unlock', '--identity', 'admin'), { cleared: 1 });
    assert.equal(await status(`${gw}overview`, from(ATTACKER_IP, basic({ user: 'admin', password }))), 200);
    assert.ok((await status(`${gw}overview`, from(ATTACKER_IP, basic(admin)))) === 429, 'the key pair was not cleared by the name');

    const unlocks = await events((e) => e.eventName === 'UnlockSignIn', 3);
    assert.deepEqual(unlocks.map((e) => [e.additionalEventData['outcome'], e.userIdentity.userName, e.requestParameters['sourceIp'] ?? e.requestParameters['identity'] ?? null]).sort(), [
      ['failure', 'carol', null],
      ['success', 'admin', NAT_IP],
      ['success', 'admin', 'admin'],
    ]);
  });
});
