/**
 * Secrets never reach a stored event or a log line. Twenty distinct secrets are planted through
 * every capture path the gateway and the API have — query parameters, JSON bodies, Flink
 * configuration lists, program arguments (list and string), headers (Authorization, Cookie,
 * custom), identity API bodies — then the database files and every log line (at trace level)
 * are searched for each of them.
 *
 * Secrets FlinkTrail must keep — trail destination credentials, the HMAC keys of page tokens
 * and the Kubernetes spec digests, the digest signing key, AccessKey secrets for request
 * signatures — are at rest only sealed with the master key: every file of the data directory (database, WAL, shared memory, key files) is
 * searched for them, also after an upgrade from a version that stored them in clear, and after
 * `flinktrail secrets rotate` the data opens with the new key only.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { buildApp, type App } from '../../../src/app.js';
import { buildConfig } from '../../../src/config/index.js';
import RPCClient from '@alicloud/pop-core';
import { signingContext } from '../../../src/identity/signing-secrets.js';
import { isSealed, openSecrets } from '../../../src/secrets/index.js';
import { openDatabase } from '../../../src/store/sqlite/database.js';
import { cli } from '../trails/common.js';
import { createLogger } from '../../../src/telemetry/logger.js';
import { startFlink, type FlinkCluster } from '../../helpers/flink.js';
import { basic, makeKey, tempDir, waitForEvents, type Credentials } from '../../helpers/flinktrail.js';

const SECRETS = Array.from({ length: 20 }, (_, i) => `s3cr3t-${i.toString().padStart(2, '0')}-${Math.random().toString(36).slice(2, 10)}`);
const S = (i: number) => SECRETS[i] as string;

describe('secrets stay out of the record and the logs', { timeout: 120_000 }, () => {
  let flink: FlinkCluster;
  let app: App;
  let dataDir: string;
  let cred: Credentials;
  let gw: string;
  let api: string;
  let logs = '';

  before(async () => {
    flink = await startFlink();
    dataDir = tempDir();
    cred = await makeKey(dataDir, 'alice', 'admin');
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        logs += chunk.toString();
        cb();
      },
    });
    const config = buildConfig({ dataDir, api: { port: 0 }, clusters: [{ name: 'default', url: flink.restUrl, listen: { port: 0 } }], log: { level: 'trace' } });
    app = await buildApp(config, { log: createLogger('trace', sink) });
    const info = await app.listen();
    gw = info.clusters['default']!.gatewayUrl;
    api = info.apiUrl;
  });
  after(async () => {
    await app?.close();
    await flink?.stop();
  });

  it('plants 20 secrets through every path and finds none stored or logged', async () => {
    const auth = { authorization: basic(cred) };
    const json = { ...auth, 'content-type': 'application/json' };
    const requests: [string, RequestInit][] = [
      // 0-2: query parameters named like secrets
      [`${gw}jobs/overview?password=${S(0)}&token=${S(1)}&access_key=${S(2)}`, { headers: auth }],
      // 3-6: JSON body keys, nested, and Flink's [{key, value}] configuration lists
      [
        `${gw}jars/does-not-exist.jar/run`,
        {
          method: 'POST',
          headers: json,
          body: JSON.stringify({
            password: S(3),
            nested: { 'fs.s3a.secret.key': S(4) },
            flinkConfiguration: [{ key: 's3.access-key', value: S(5) }, { key: 'sasl.jaas.config', value: `org.apache.kafka.common.security.plain.PlainLoginModule required password="${S(6)}";` }],
          }),
        },
      ],
      // 7-9: program arguments as a list and as one string
      [`${gw}jars/does-not-exist.jar/run`, { method: 'POST', headers: json, body: JSON.stringify({ programArgsList: ['--db-password', S(7), `--api-key=${S(8)}`], programArgs: `--token ${S(9)} --in x` }) }],
      // 10-11: the Web UI's query-string form of program arguments
      [`${gw}jars/does-not-exist.jar/run?program-args=${encodeURIComponent(`--secret ${S(10)}`)}&savepointPath=${encodeURIComponent(`--password=${S(11)}`)}`, { method: 'POST', headers: auth }],
      // 12-13: headers never recorded or forwarded
      [`${gw}overview`, { headers: { ...auth, cookie: `other=${S(12)}`, 'x-api-token': S(13) } }],
      // 14: a wrong secret for a real key (failed sign-in)
      [`${gw}overview`, { headers: { authorization: basic({ accessKeyId: cred.accessKeyId, accessKeySecret: S(14) }) } }],
      // 15: a wrong password for a real user
      [`${gw}overview`, { headers: { authorization: basic({ user: 'alice', password: S(15) }) } }],
      // 16-17: identity API bodies: a new user's password, a password change
      [`${api}/api/v1/users`, { method: 'POST', headers: json, body: JSON.stringify({ userName: 'bob', role: 'viewer', password: S(16) }) }],
      [`${api}/api/v1/users/bob`, { method: 'PATCH', headers: json, body: JSON.stringify({ password: S(17) }) }],
      // 18: console sign-in with a wrong password
      [`${api}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userName: 'bob', password: S(18) }) }],
      // 19: a bearer token (not configured: refused, must not be recorded)
      [`${api}/api/v1/events`, { headers: { authorization: `Bearer ${S(19)}` } }],
    ];
    const ids: string[] = [];
    for (const [url, init] of requests) {
      const res = await fetch(url, init);
      await res.arrayBuffer();
      ids.push(res.headers.get('x-request-id') ?? '');
    }
    // Every request was recorded (so the secrets had their chance to leak).
    const all = await waitForEvents(api, cred, { maxResults: '200' }, (es) => ids.every((id) => es.some((e) => e.requestId === id)));
    assert.ok(all.length >= requests.length);
    await app.store.close().catch(() => undefined);
    const files = readdirSync(dataDir).filter((f) => f.startsWith('flinktrail.db'));
    const stored = files.map((f) => readFileSync(join(dataDir, f)).toString('latin1')).join('\n');
    assert.ok(logs.length > 0, 'trace logs were captured');
    for (const [i, secret] of SECRETS.entries()) {
      assert.ok(!stored.includes(secret), `secret ${i} is in the database`);
      assert.ok(!logs.includes(secret), `secret ${i} is in the logs`);
    }
    // The AccessKey's own secret is kept (sealed) for request signatures: never in clear.
    assert.ok(!stored.includes(cred.accessKeySecret) && !logs.includes(cred.accessKeySecret), 'the AccessKey secret is in the database or the logs');
    const redacted = all.filter((e) => JSON.stringify(e).includes('******'));
    assert.ok(redacted.length >= 5, 'secrets were replaced by the marker, not dropped with their requests');
  });
});

/** Every file under a directory, as one latin1 string per file. */
function everyFile(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(p, readFileSync(p).toString('latin1'));
    }
  };
  walk(dir);
  return out;
}

describe('secrets at rest are sealed with a master key kept outside the data directory', { timeout: 300_000 }, () => {
  const keyDir = tempDir('ft-keys-');
  const keyFile = join(keyDir, 'master.key');
  const newKeyFile = join(keyDir, 'next.key');
  const dataDir = tempDir('ft-sealed-');
  const S3_KEY_ID = `AKID${randomBytes(8).toString('hex').toUpperCase()}`;
  const S3_SECRET = `s3secret-${randomBytes(12).toString('hex')}`;
  const S3_TOKEN = `s3token-${randomBytes(12).toString('hex')}`;
  const LEGACY_SECRET = `legacy-${randomBytes(12).toString('hex')}`;
  const LEGACY_HMAC = randomBytes(32).toString('base64url');
  let cred: Credentials;
  let logs = '';
  const config = (key: string) =>
    buildConfig({ dataDir, api: { port: 0 }, log: { level: 'trace' }, secrets: { masterKey: `file:${key}` }, trails: { retry: { initialBackoffMs: 100, maxBackoffMs: 500 } } });
  const start = async (key: string) => {
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        logs += chunk.toString();
        cb();
      },
    });
    const app = await buildApp(config(key), { log: createLogger('trace', sink) });
    const info = await app.listen();
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${info.apiUrl}${path}`, {
        method,
        headers: { authorization: basic(cred), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    return { app, info, call };
  };
  let running: Awaited<ReturnType<typeof start>> | undefined;

  before(async () => {
    writeFileSync(keyFile, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
    cred = await makeKey(dataDir, 'alice', 'admin', undefined, openSecrets(config(keyFile)));
    // What an older version left: a destination with credentials and an HMAC key, in clear.
    const db = openDatabase(dataDir);
    db.prepare("INSERT INTO trails (name, event_rw, trail_region, home_region, status, digest_interval, created_at, updated_at) VALUES ('old-trail', 'All', 'All', 'local', 'Fresh', 3600, 0, 0)").run();
    db.prepare("INSERT INTO trail_destinations (trail, ord, url, kind) VALUES ('old-trail', 0, ?, 's3')").run(
      `s3://old-bucket?accessKeyId=AKIDLEGACY&endpoint=http%3A%2F%2F127.0.0.1%3A9&region=us-east-1&secretAccessKey=${LEGACY_SECRET}`,
    );
    db.prepare("INSERT INTO meta (key, value) VALUES ('pagination-token-key', ?)").run(LEGACY_HMAC);
    db.close();
  });
  after(async () => {
    await running?.app.close();
  });

  it('stores destination credentials, HMAC keys, AccessKey signing secrets and the digest signing key sealed, and nowhere in clear', async () => {
    running = await start(keyFile);
    const url = `s3://new-bucket/audit?endpoint=http://127.0.0.1:9&accessKeyId=${S3_KEY_ID}&secretAccessKey=${S3_SECRET}&sessionToken=${S3_TOKEN}`;
    const created = await running.call('POST', '/api/v1/trails', { Name: 'sealed-trail', EventRW: 'All', Destinations: [url, 'file:///tmp/ft-sealed-dir'], DigestInterval: 60 });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    assert.ok(!JSON.stringify(created.body).includes(S3_SECRET));
    // Logging on: delivery to the (unreachable) bucket is attempted and fails, with credentials in hand.
    assert.equal((await running.call('POST', '/api/v1/trails/sealed-trail/start')).status, 200);
    const keys = await running.call('GET', '/api/v1/trails/sealed-trail/digest-public-keys');
    assert.equal((keys.body['PublicKeyList'] as unknown[]).length, 1);
    await new Promise((r) => setTimeout(r, 1500));
    // The legacy destination still works (opened from its sealed form).
    const old = await running.call('GET', '/api/v1/trails/old-trail');
    assert.match(JSON.stringify(old.body), /secretAccessKey=\*{6}/);
    // The WAL and shared-memory files exist only while the database is open: read them now.
    const whileOpen = everyFile(dataDir);
    await running.app.close();
    running = undefined;

    const ring = openSecrets(config(keyFile));
    const db = openDatabase(dataDir);
    const meta = db.prepare("SELECT key, value FROM meta WHERE key LIKE '%-key'").all() as { key: string; value: string }[];
    const urls = db.prepare('SELECT url FROM trail_destinations').all() as { url: string }[];
    const signing = db.prepare('SELECT key_id, sealed FROM access_key_signing').all() as { key_id: string; sealed: string }[];
    db.close();
    assert.equal(signing.length, 1);
    assert.ok(isSealed(signing[0]!.sealed), 'the AccessKey signing secret is sealed');
    assert.equal(ring.open(signing[0]!.sealed, signingContext(cred.accessKeyId)), cred.accessKeySecret);
    assert.ok(meta.length >= 2, 'pagination and Kubernetes digest keys');
    assert.ok(meta.every((m) => isSealed(m.value)), 'every meta key is sealed');
    const hmacs = meta.map((m) => ring.open(m.value, `meta:${m.key}`));
    assert.ok(hmacs.includes(LEGACY_HMAC), 'the clear key of the older version was kept, now sealed');
    assert.equal(urls.filter((u) => isSealed(u.url)).length, 2, 'both URLs with credentials are sealed; the file URL is not');
    const keyFiles = readdirSync(join(dataDir, 'trail-digest-keys'));
    const pems = keyFiles.map((f) => readFileSync(join(dataDir, 'trail-digest-keys', f), 'utf8').trim());
    assert.ok(pems.length === 1 && pems.every(isSealed));
    const pemBody = ring.open(pems[0]!, 'trail-digest-key').split('\n')[1]!;

    const files: [string, string][] = [...[...whileOpen.entries()].map(([f, text]): [string, string] => [`${f} (while open)`, text]), ...everyFile(dataDir).entries()];
    assert.ok(files.some(([f]) => f.includes('flinktrail.db-wal')), 'the WAL is among the files searched');
    const planted = { S3_KEY_ID, S3_SECRET, S3_TOKEN, LEGACY_SECRET, pemBody, accessKeySecret: cred.accessKeySecret, ...Object.fromEntries(hmacs.map((h, i) => [`hmac${i}`, h])) };
    for (const [name, secret] of Object.entries(planted)) {
      for (const [file, text] of files) assert.ok(!text.includes(secret), `${name} is in ${file}`);
      assert.ok(!logs.includes(secret), `${name} is in the logs`);
    }
    assert.ok(files.every(([f]) => !f.endsWith('.key')), 'no key file in the data directory');
  });

  it('flinktrail secrets rotate re-wraps everything; the data then opens with the new key only', async () => {
    const out = await cli(['secrets', 'rotate', '--new-key-file', newKeyFile, '--data-dir', dataDir, '-o', 'json'], { FLINKTRAIL__SECRETS__MASTER_KEY: `file:${keyFile}` });
    assert.equal(out.code, 0, out.stderr);
    const answer = JSON.parse(out.stdout) as { KeyId: string; PreviousKeyId: string; Created: boolean; RewrappedValues: number; RewrappedFiles: number };
    assert.equal(answer.Created, true);
    // Two meta keys, two destination URLs, one AccessKey signing secret.
    assert.ok(answer.RewrappedValues >= 5 && answer.RewrappedFiles === 1, out.stdout);
    assert.equal(statSync(newKeyFile).mode & 0o777, 0o600);

    await assert.rejects(start(keyFile), (err: { code?: string }) => err.code === 'FT_ERR_SECRETS_UNKNOWN_KEY');
    running = await start(newKeyFile);
    const t = await running.call('GET', '/api/v1/trails/sealed-trail');
    assert.equal(t.status, 200);
    assert.match(JSON.stringify(t.body), /secretAccessKey=\*{6}/);
    const rotated = await waitForEvents(running.info.apiUrl, cred, { eventName: 'RotateMasterKey' }, (es) => es.length === 1);
    assert.equal(rotated[0]!.requestParameters['newKeyId'], answer.KeyId);
    // The AccessKey's signing secret was re-wrapped too: a signed RPC call verifies under the new key.
    const rpc = new RPCClient({ endpoint: running.info.apiUrl, apiVersion: '2020-07-06', accessKeyId: cred.accessKeyId, accessKeySecret: cred.accessKeySecret });
    const trails = await rpc.request<{ TrailList: { Name: string }[] }>('DescribeTrails', { NameList: 'sealed-trail' }, { method: 'GET', timeout: 20_000 });
    assert.deepEqual(trails.TrailList.map((t) => t.Name), ['sealed-trail']);
  });
});
