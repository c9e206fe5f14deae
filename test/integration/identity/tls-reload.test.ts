/**
 * TLS certificates replaced while FlinkTrail runs, with the real `flink` CLI: the cluster
 * listener (client certificates required, CRL on) and the API listener (HTTPS with HSTS) take a
 * new server certificate when its files change — a connection opened before goes on, new ones
 * get the new certificate, the CLI keeps working — and a revoked client certificate is refused
 * with a coded 401 and recorded, also one revoked while FlinkTrail runs (the CRL is reloaded).
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { Agent, getGlobalDispatcher, setGlobalDispatcher, type Dispatcher } from 'undici';
import { flinkCli, flinkLib, type FlinkCli } from '../../helpers/flink-cli.js';
import { startFlink, type FlinkCluster } from '../../helpers/flink.js';
import { makeKey, startInProcess, tempDir, waitForEvents, type Credentials, type InProcess } from '../../helpers/flinktrail.js';
import { makePki, type Pki } from '../../helpers/pki.js';
import { replaceFile, servedCertificate, until } from '../../helpers/tls.js';

/** A TLS connection to 127.0.0.1:port as `client` (cert + key files), trusting `ca`. */
function tlsConnect(port: number, ca: string, client?: { cert: string; key: string }): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port, ca: readFileSync(ca), ...(client ? { cert: readFileSync(client.cert), key: readFileSync(client.key) } : {}) }, () => resolve(sock));
    sock.once('error', reject);
  });
}

/** One HTTP/1.1 GET on an open socket (keep-alive); resolves with the status line and body. */
function getOn(sock: TLSSocket, path: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      const head = buf.indexOf('\r\n\r\n');
      if (head < 0) return;
      const len = /content-length: (\d+)/i.exec(buf.slice(0, head));
      const body = buf.slice(head + 4);
      if (len && Buffer.byteLength(body) < Number(len[1])) return;
      sock.off('data', onData);
      resolve({ status: Number(buf.slice(9, 12)), text: buf });
    };
    sock.on('data', onData);
    sock.once('error', reject);
    sock.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n`);
  });
}

/** The SHA-256 fingerprint of the certificate a fresh connection to `port` is served. */
const servedFingerprint = async (port: number, ca: string, client?: { cert: string; key: string }) => (await servedCertificate(port, ca, client)).fingerprint256;

describe('TLS certificate reload and revocation, with the real flink CLI', { timeout: 300_000 }, () => {
  let flink: FlinkCluster;
  let ft: InProcess;
  let pki: Pki;
  let admin: Credentials;
  let cli: FlinkCli | undefined;
  let port = 0;
  let apiPort = 0;
  let live = '';
  const started = new Date(Date.now() - 1000).toISOString();
  const plainDispatcher: Dispatcher = getGlobalDispatcher();

  before(async () => {
    [flink, pki] = await Promise.all([startFlink(), makePki({ clients: ['alice', 'bob'], revokedClients: ['eve'], servers: ['server2'] })]);
    // The helpers' fetch calls (event lookups) go to the HTTPS API: trust the test CA there.
    setGlobalDispatcher(new Agent({ connect: { ca: readFileSync(pki.ca) } }));
    const lib = await flinkLib(flink.version || '2.2.0');
    // The files FlinkTrail is configured with; the test replaces them as an operator would.
    live = join(pki.dir, 'live');
    mkdirSync(live);
    copyFileSync(pki.serverCert, join(live, 'server.crt'));
    copyFileSync(pki.serverKey, join(live, 'server.key'));
    const tls = { certFile: join(live, 'server.crt'), keyFile: join(live, 'server.key'), caFile: pki.ca };
    const dataDir = tempDir();
    admin = await makeKey(dataDir, 'auditor', 'admin');
    ft = await startInProcess(
      flink.restUrl,
      {
        api: { port: 0, tls: { ...tls, clientCertificates: 'none' } },
        clusters: [{ name: 'default', url: flink.restUrl, listen: { port: 0, tls: { ...tls, clientCertificates: 'required' } } }],
        auth: { clientCertificates: { enabled: true, userFrom: 'CN', role: 'operator', crlFiles: [pki.crl] } },
      },
      dataDir,
    );
    port = Number(new URL(ft.info.clusters['default']!.gatewayUrl).port);
    apiPort = Number(new URL(ft.info.apiUrl).port);
    cli = flinkCli(lib, pki, () => port);
  });
  after(async () => {
    setGlobalDispatcher(plainDispatcher);
    await ft?.close();
    await flink?.stop();
    cli?.remove();
    pki?.remove();
  });

  const alice = () => pki.clients['alice']!;
  const serverFp = () => pki.servers['server2']!.fingerprint256;

  it('serves the API over HTTPS with HSTS', async () => {
    assert.match(ft.info.apiUrl, /^https:\/\/127\.0\.0\.1:\d+$/);
    const res = await new Promise<{ status: number; hsts: string | undefined }>((resolve, reject) => {
      const req = httpsRequest(`${ft.info.apiUrl}/health`, { ca: readFileSync(pki.ca) }, (r) => {
        r.resume();
        resolve({ status: r.statusCode ?? 0, hsts: r.headers['strict-transport-security'] });
      });
      req.once('error', reject);
      req.end();
    });
    assert.equal(res.status, 200);
    assert.equal(res.hsts, 'max-age=31536000');
  });

  it('takes a new server certificate without dropping a connection; the flink CLI keeps working', async (t) => {
    const before = await cli!.run(['list'], 'alice');
    assert.equal(before.code, 0, before.out);
    const oldFp = await servedFingerprint(port, pki.ca, alice());
    assert.notEqual(oldFp, serverFp());

    // A connection opened before the reload, with a request answered on it.
    const kept = await tlsConnect(port, pki.ca, alice());
    assert.equal((await getOn(kept, '/overview')).status, 200);

    const t0 = Date.now();
    replaceFile(pki.servers['server2']!.key, join(live, 'server.key'));
    replaceFile(pki.servers['server2']!.cert, join(live, 'server.crt'));
    await until('the cluster listener serves the new certificate', async () => (await servedFingerprint(port, pki.ca, alice())) === serverFp());
    t.diagnostic(`new certificate served ${Date.now() - t0} ms after the files were replaced`);
    await until('the API listener serves the new certificate', async () => (await servedFingerprint(apiPort, pki.ca)) === serverFp());

    // The old connection goes on, still with the certificate it was made with.
    const again = await getOn(kept, '/overview');
    assert.equal(again.status, 200, again.text.slice(0, 300));
    assert.equal(kept.getPeerCertificate().fingerprint256, oldFp);
    kept.destroy();

    const after = await cli!.run(['list'], 'alice');
    t.diagnostic(`flink list after the reload: exit ${String(after.code)} in ${after.ms} ms`);
    assert.equal(after.code, 0, after.out);
    const events = await waitForEvents(ft.info.apiUrl, admin, { user: 'alice', startTime: started, eventName: 'GetJobsOverview' }, (es) => es.length >= 2);
    assert.ok(events.every((e) => e.additionalEventData.outcome === 'success'));
  });

  it('refuses a revoked client certificate with a coded 401 and records it', async (t) => {
    const eve = await cli!.run(['list'], 'eve');
    t.diagnostic(`flink list with a revoked certificate: exit ${String(eve.code)} in ${eve.ms} ms`);
    assert.notEqual(eve.code, 0, eve.out);
    assert.match(eve.out, /FT_ERR_AUTH_CERTIFICATE: The client certificate is not accepted: the certificate has been revoked \(CERT_REVOKED\)/, eve.out);
    const refused = await waitForEvents(ft.info.apiUrl, admin, { startTime: started, errorCode: 'FT_ERR_AUTH_CERTIFICATE' }, (es) => es.some((e) => /CERT_REVOKED/.test(String(e.additionalEventData['authFailureReason']))));
    const e = refused.find((x) => /CERT_REVOKED/.test(String(x.additionalEventData['authFailureReason'])))!;
    assert.equal(e.additionalEventData.outcome, 'failure');
    assert.equal(e.additionalEventData['authFailure'], true);
    assert.equal(await ft.app.directory.userByName('eve'), undefined, 'a revoked certificate creates no user');
  });

  it('refuses a certificate revoked while running, once the CRL file changes', async () => {
    const bob = pki.clients['bob']!;
    const status = async () => {
      const sock = await tlsConnect(port, pki.ca, bob);
      try {
        return await getOn(sock, '/overview');
      } finally {
        sock.destroy();
      }
    };
    assert.equal((await status()).status, 200);
    await pki.revoke('bob');
    await until('the new CRL is in force', async () => (await status()).status === 401);
    const refused = await status();
    assert.match(refused.text, /FT_ERR_AUTH_CERTIFICATE: The client certificate is not accepted: the certificate has been revoked/);
    // alice is still fine.
    const sock = await tlsConnect(port, pki.ca, alice());
    assert.equal((await getOn(sock, '/overview')).status, 200);
    sock.destroy();
  });
});
