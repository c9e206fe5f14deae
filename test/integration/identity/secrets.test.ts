/**
 * Secrets never reach a stored event or a log line. Twenty distinct secrets are planted through
 * every capture path the gateway and the API have — query parameters, JSON bodies, Flink
 * configuration lists, program arguments (list and string), headers (Authorization, Cookie,
 * custom), identity API bodies — then the database files and every log line (at trace level)
 * are searched for each of them.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { buildApp, type App } from '../../../src/app.js';
import { buildConfig } from '../../../src/config/index.js';
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
    cred = makeKey(dataDir, 'alice', 'admin');
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
    const redacted = all.filter((e) => JSON.stringify(e).includes('******'));
    assert.ok(redacted.length >= 5, 'secrets were replaced by the marker, not dropped with their requests');
  });
});
