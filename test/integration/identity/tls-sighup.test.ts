/**
 * SIGHUP reloads the TLS files of `flinktrail serve` (src/main.ts; documented with api.tls in
 * docs/reference/config.md): the built CLI runs as a child process with its certificate behind
 * symlinks into another directory — where the file watcher cannot see a change, as with files
 * managed elsewhere — so only the signal can make it take the new certificate. The process goes
 * on running (SIGHUP's default would end it), says why it reloaded, and files that do not fit
 * together are refused with an error while the listener keeps the certificate it has.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startChild, tempDir, type ChildServer } from '../../helpers/flinktrail.js';
import { makePki, type Pki } from '../../helpers/pki.js';
import { servedCertificate, until } from '../../helpers/tls.js';

const serialOf = (pem: string) => new X509Certificate(readFileSync(pem)).serialNumber;

const servedSerial = async (port: number, ca: string) => (await servedCertificate(port, ca)).serialNumber.toUpperCase();

function health(url: string, ca: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(`${url}/health`, { ca: readFileSync(ca) }, (r) => {
      r.resume();
      resolve(r.statusCode ?? 0);
    });
    req.once('error', reject);
    req.end();
  });
}

describe('SIGHUP reloads the TLS files of flinktrail serve', { timeout: 180_000 }, () => {
  let pki: Pki;
  let child: ChildServer | undefined;
  let store = '';
  let port = 0;
  const logs: Record<string, unknown>[] = [];

  /** Replaces `store/<name>` by `from`: written beside and renamed over, in the directory nobody watches. */
  const put = (from: string, name: string) => {
    copyFileSync(from, join(store, `${name}.new`));
    renameSync(join(store, `${name}.new`), join(store, name));
  };
  const tlsLogs = () => logs.filter((l) => l['listener'] === 'api.tls');

  before(async () => {
    pki = await makePki({ servers: ['server2'], java: false, key: 'ec' });
    store = join(pki.dir, 'store');
    const live = join(pki.dir, 'live');
    mkdirSync(store);
    mkdirSync(live);
    copyFileSync(pki.serverCert, join(store, 'server.crt'));
    copyFileSync(pki.serverKey, join(store, 'server.key'));
    symlinkSync(join(store, 'server.crt'), join(live, 'server.crt'));
    symlinkSync(join(store, 'server.key'), join(live, 'server.key'));
    const dir = tempDir('ft-sighup-');
    const config = join(dir, 'flinktrail.yaml');
    // JSON is YAML; nothing here talks to Flink, so an address where nothing listens is enough.
    writeFileSync(
      config,
      JSON.stringify({
        clusters: [{ name: 'default', url: 'http://127.0.0.1:9' }],
        api: { tls: { certFile: join(live, 'server.crt'), keyFile: join(live, 'server.key') } },
      }),
    );
    child = await startChild(null, join(dir, 'data'), ['--config', config]);
    let buf = '';
    child.proc.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const line of lines) {
        try {
          logs.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          // not a log line
        }
      }
    });
    port = Number(new URL(child.apiUrl).port);
  });
  after(async () => {
    await child?.stop();
    pki?.remove();
  });

  it('takes the new certificate on SIGHUP, says so, and keeps running', async () => {
    const oldSerial = serialOf(pki.serverCert);
    const newSerial = serialOf(pki.servers['server2']!.cert);
    assert.match(child!.apiUrl, /^https:/);
    assert.equal(await servedSerial(port, pki.ca), oldSerial);

    put(pki.servers['server2']!.key, 'server.key');
    put(pki.servers['server2']!.cert, 'server.crt');
    child!.proc.kill('SIGHUP');
    await until('the new certificate is served', async () => (await servedSerial(port, pki.ca)) === newSerial);
    await until('the reload is logged', () => tlsLogs().length > 0);
    assert.deepEqual(
      tlsLogs().map((l) => l['reason']),
      ['asked (SIGHUP)'],
      'reloaded by the signal, not by the file watcher (which cannot see this directory)',
    );
    assert.equal(child!.proc.exitCode, null, 'SIGHUP did not end the process');
    assert.equal(await health(child!.apiUrl, pki.ca), 200);
  });

  it('refuses files that do not fit together with an error and keeps the current certificate', async () => {
    const current = serialOf(pki.servers['server2']!.cert);
    const logged = tlsLogs().length;
    // The old certificate with the new key: a half-finished rotation.
    put(pki.serverCert, 'server.crt');
    child!.proc.kill('SIGHUP');
    await until('the refusal is logged', () => tlsLogs().length > logged);
    const refusal = tlsLogs()[logged]!;
    assert.equal(refusal['reason'], 'asked (SIGHUP)');
    assert.match(String(refusal['msg']), /could not be used; the listener keeps its current certificate/);
    assert.equal(await servedSerial(port, pki.ca), current);
    assert.equal(await health(child!.apiUrl, pki.ca), 200);
    assert.equal(child!.proc.exitCode, null);
  });
});
