/**
 * Client certificates: real TLS handshakes between Node's HTTPS server and client with
 * certificates from scripts/it/pki.sh (a CA, a foreign CA, an expired certificate), and the
 * plugin's naming, mapping and refusal rules on real certificates.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PeerCertificate } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { makePki, type Pki } from '../../test/helpers/pki.js';
import { isFlinkTrailError } from '../errors/index.js';
import { sendGatewayError } from '../sources/gateway/gateway.js';
import { verifiedCertificate } from './caller.js';
import { openDatabase, type Db } from '../store/sqlite/database.js';
import { createLogger } from '../telemetry/logger.js';
import { AuthError, Authenticator, type AuthContext, type Principal } from './authenticate.js';
import { certificateSubject, clientCertificatePlugin, listenerTls, normalizeSubject, secureClusterServer, type ClientCertificateOptions } from './client-cert.js';
import { sqliteDirectory } from './sqlite/directory.js';
import type { Directory } from './directory.js';

const OPTS: ClientCertificateOptions = { enabled: true, userFrom: 'CN', role: 'operator', createUsers: true, users: {} };

let pki: Pki;
let db: Db;
let dataDir: string;
let directory: Directory;
const tempDir = (prefix = 'ft-test-') => mkdtempSync(join(tmpdir(), prefix));

before(async () => {
  pki = await makePki({ clients: ['alice', 'bob'], foreignClients: ['mallory'], expiredClients: ['old'], java: false, key: 'ec' });
  dataDir = tempDir();
  db = openDatabase(dataDir);
  directory = sqliteDirectory(db);
});
after(() => {
  db.close();
  rmSync(dataDir, { recursive: true, force: true });
  pki.remove();
});

/** The PeerCertificate Node would hand over for a client's certificate file. */
function peer(name: string): PeerCertificate {
  return new X509Certificate(readFileSync(pki.clients[name]!.cert)).toLegacyObject();
}

function ctx(cert: PeerCertificate | undefined): AuthContext {
  return { peerIp: '127.0.0.1', sourceIp: '127.0.0.1', headers: {}, peerCertificate: cert };
}

async function refused(fn: () => unknown): Promise<AuthError> {
  try {
    await fn();
  } catch (err) {
    assert.ok(err instanceof AuthError, String(err));
    assert.equal(err.code, 'FT_ERR_AUTH_CERTIFICATE');
    assert.equal(err.status, 401);
    return err;
  }
  assert.fail('expected FT_ERR_AUTH_CERTIFICATE');
}

describe('clientCertificatePlugin', () => {
  it('signs in the CN as a ram-user, creates it on first sight with the role, records subject and fingerprint', async () => {
    const plugin = clientCertificatePlugin(directory, OPTS);
    const p = (await plugin.authenticate(ctx(peer('alice')))) as Principal;
    assert.equal(p.type, 'ram-user');
    assert.equal(p.userName, 'alice');
    assert.equal(p.method, 'client-certificate');
    assert.equal(p.role, 'operator');
    assert.equal(p.email, 'alice@example.test');
    assert.deepEqual(p.attributes, {
      certificateSubject: pki.clients['alice']!.subject,
      certificateIssuer: 'CN=FlinkTrail Test CA,O=FlinkTrail Test',
      certificateSerialNumber: peer('alice').serialNumber,
      certificateFingerprintSha256: pki.clients['alice']!.fingerprint256,
    });
    const user = await directory.userByName('alice');
    assert.equal(user?.source, 'certificate');
    assert.equal(user?.id, p.principalId);
    const again = (await plugin.authenticate(ctx(peer('alice')))) as Principal;
    assert.equal(again.principalId, p.principalId, 'the same user on the second sight');
  });

  it('is not its method without a certificate', async () => {
    assert.equal(await clientCertificatePlugin(directory, OPTS).authenticate(ctx(undefined)), undefined);
  });

  it('keeps the role of an existing user', async () => {
    await directory.createUser('bob', 'admin');
    const p = (await clientCertificatePlugin(directory, OPTS).authenticate(ctx(peer('bob')))) as Principal;
    assert.equal(p.role, 'admin');
  });

  it('maps a subject to a user, whatever the spacing and attribute case of the configured subject', async () => {
    const spaced = 'emailAddress = bob@example.test, cn = bob, O = FlinkTrail Test';
    const plugin = clientCertificatePlugin(directory, { ...OPTS, users: { [spaced]: 'ci-bot' } });
    const p = (await plugin.authenticate(ctx(peer('bob')))) as Principal;
    assert.equal(p.userName, 'ci-bot');
    assert.equal(p.attributes?.['certificateSubject'], pki.clients['bob']!.subject);
  });

  it('userFrom emailAddress names the user by the address', async () => {
    const p = (await clientCertificatePlugin(directory, { ...OPTS, userFrom: 'emailAddress' }).authenticate(ctx(peer('alice')))) as Principal;
    assert.equal(p.userName, 'alice@example.test');
  });

  it('userFrom subject refuses subjects that are not mapped', async () => {
    const plugin = clientCertificatePlugin(directory, { ...OPTS, userFrom: 'subject', users: { [pki.clients['bob']!.subject]: 'bob' } });
    assert.equal(((await plugin.authenticate(ctx(peer('bob')))) as Principal).userName, 'bob');
    const err = await refused(() => plugin.authenticate(ctx(peer('alice'))));
    assert.match(err.message, /not mapped/);
  });

  it('refuses unknown users when createUsers is off, and disabled users', async () => {
    const err = await refused(() => clientCertificatePlugin(directory, { ...OPTS, createUsers: false }).authenticate(ctx(peer('mallory'))));
    assert.deepEqual(err.attempted, { userName: 'mallory' });
    assert.equal((await directory.userByName('mallory')), undefined);
    await directory.createUser('dora', 'viewer');
    await directory.updateUser('dora', { disabled: true });
    await refused(() => clientCertificatePlugin(directory, { ...OPTS, users: { [pki.clients['alice']!.subject]: 'dora' } }).authenticate(ctx(peer('alice'))));
  });

  it('refuses a certificate outside its validity period even if the handshake let it through', async () => {
    const expired = await refused(() => clientCertificatePlugin(directory, OPTS).authenticate(ctx(peer('old'))));
    assert.match(expired.message, /not valid now/);
    const later = Date.parse(peer('alice').valid_to) + 1000;
    await refused(() => clientCertificatePlugin(directory, OPTS, () => later).authenticate(ctx(peer('alice'))));
  });

  it('refuses a CN that is not a valid user name, and says to map it', async () => {
    const dir = tempDir('ft-cert-');
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'k'), '-subj', '/CN=Alice Smith', '-days', '1', '-out', join(dir, 'c')], { stdio: 'ignore' });
      const cert = new X509Certificate(readFileSync(join(dir, 'c'))).toLegacyObject();
      const err = await refused(() => clientCertificatePlugin(directory, OPTS).authenticate(ctx(cert)));
      assert.match(err.message, /not a valid user name; map the subject/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('certificateSubject and normalizeSubject', () => {
  it('print what openssl -nameopt RFC2253 prints, escapes and multi-valued RDNs included', () => {
    const dir = tempDir('ft-cert-');
    try {
      const subjects = ['/O=A, Inc.\\/x=y/OU=q;r"s/CN=bob+UID=7/CN=#lead ', '/C=DE/O=Example/OU=Platform/CN=ci-bot', '/CN=a=b\\+c'];
      for (const subj of subjects) {
        const pem = join(dir, 'c.pem');
        execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'k'), '-subj', subj, '-multivalue-rdn', '-days', '1', '-out', pem], { stdio: 'ignore' });
        const expected = execFileSync('openssl', ['x509', '-in', pem, '-noout', '-subject', '-nameopt', 'RFC2253'], { encoding: 'utf8' }).trim().replace(/^subject=/, '');
        const cert = new X509Certificate(readFileSync(pem)).toLegacyObject();
        assert.equal(certificateSubject(cert), expected, subj);
        assert.equal(normalizeSubject(expected), normalizeSubject(certificateSubject(cert)));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('normalizes spacing and attribute case, keeps escaped characters', () => {
    assert.equal(normalizeSubject(' CN = alice ,  o=Example\\, Inc. '), 'cn=alice,o=Example\\, Inc.');
    assert.equal(normalizeSubject('CN=\\#lead\\ ,UID=7+CN=bob'), 'cn=\\#lead\\ ,uid=7+cn=bob');
    assert.notEqual(normalizeSubject('CN=alice'), normalizeSubject('CN=Alice'));
  });
});

describe('listenerTls', () => {
  it('requires caFile when client certificates are asked for, and names the key', () => {
    for (const mode of ['optional', 'required'] as const) {
      assert.throws(
        () => listenerTls({ certFile: pki.serverCert, keyFile: pki.serverKey, clientCertificates: mode }, 'clusters.0.listen.tls'),
        (e: unknown) => isFlinkTrailError(e) && e.code === 'FT_ERR_CONFIG_INVALID' && e.message.includes('clusters.0.listen.tls.caFile'),
      );
    }
    const none = listenerTls({ certFile: pki.serverCert, keyFile: pki.serverKey, clientCertificates: 'none' }, 'x');
    assert.equal(none.options.requestCert, undefined);
  });

  it('refuses a key that does not belong to the certificate', () => {
    assert.throws(
      () => listenerTls({ certFile: pki.serverCert, keyFile: pki.clients['alice']!.key, clientCertificates: 'none' }, 'clusters.2.listen.tls'),
      (e: unknown) => isFlinkTrailError(e) && e.code === 'FT_ERR_CONFIG_INVALID' && e.message.includes('clusters.2.listen.tls: the certificate, key or CA cannot be used'),
    );
  });

  it('reports an unreadable file with its key path', () => {
    assert.throws(
      () => listenerTls({ certFile: '/nonexistent/server.crt', keyFile: pki.serverKey, clientCertificates: 'none' }, 'clusters.1.listen.tls'),
      (e: unknown) => isFlinkTrailError(e) && /clusters\.1\.listen\.tls\.certFile: cannot read \/nonexistent\/server\.crt: ENOENT/.test(e.message),
    );
  });
});

describe('secureClusterServer: real handshakes', () => {
  interface Answer {
    status?: number;
    body?: string;
    requestId?: string;
    error?: string;
  }
  type Seen = { principal?: Principal; error?: string };

  async function serve(mode: 'optional' | 'required', fn: (seen: Seen[], warnings: string[], url: string) => Promise<void>): Promise<void> {
    const seen: Seen[] = [];
    const warnings: string[] = [];
    const log = createLogger('warn');
    log.warn = ((obj: unknown, msg?: string) => {
      warnings.push(`${msg ?? ''} ${JSON.stringify(obj)}`);
    });
    const plugin = clientCertificatePlugin(directory, OPTS);
    const tls = listenerTls({ certFile: pki.serverCert, keyFile: pki.serverKey, caFile: pki.ca, clientCertificates: mode }, 'tls');
    // As the gateway does: certificate problems reach the Authenticator, which refuses them.
    const server = secureClusterServer({}, tls, (req, res) => {
      void (async () => {
        const problem = (req as typeof req & { certificateProblem?: AuthContext['certificateProblem'] }).certificateProblem;
        if (problem) {
          try {
            await new Authenticator(directory, { anonymous: true, plugins: [plugin] }).authenticate({ ...ctx(undefined), certificateProblem: problem });
          } catch (err) {
            if (err instanceof AuthError) {
              sendGatewayError(req, res, randomUUID().toUpperCase(), err);
              return;
            }
          }
        }
        try {
          const p = await plugin.authenticate(ctx(verifiedCertificate(req)));
          seen.push(p ? { principal: p } : {});
        } catch (err) {
          seen.push({ error: (err as Error).message });
        }
        res.end('ok');
      })();
    }, log);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      await fn(seen, warnings, `https://127.0.0.1:${(server.address() as AddressInfo).port}/jobs/overview`);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  }

  function get(url: string, client?: string): Promise<Answer> {
    const files = client ? pki.clients[client]! : undefined;
    return new Promise((resolve) => {
      const req = request(url, { ca: readFileSync(pki.ca), agent: false, ...(files ? { cert: readFileSync(files.cert), key: readFileSync(files.key) } : {}) }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, requestId: String(res.headers['x-request-id'] ?? '') }));
      });
      req.on('error', (err) => resolve({ error: err.message }));
      req.setTimeout(5000, () => req.destroy(new Error('timeout')));
      req.end();
    });
  }

  /** Refused in Flink's error shape, which the flink CLI prints. */
  function refusedWith(a: Answer, reason: RegExp): void {
    assert.equal(a.status, 401, JSON.stringify(a));
    const body = JSON.parse(a.body ?? '{}') as { errors?: string[] };
    assert.deepEqual(Object.keys(body), ['errors'], 'Flink clients parse error bodies strictly');
    assert.equal(body.errors?.length, 1);
    assert.match(body.errors?.[0] ?? '', /^FT_ERR_AUTH_CERTIFICATE: The client certificate is not accepted: /);
    assert.match(body.errors?.[0] ?? '', reason);
    assert.ok(a.requestId && body.errors?.[0]?.includes(a.requestId), 'the request id is in the header and the message');
  }

  const FOREIGN = /not signed by a CA this listener trusts \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/;
  const EXPIRED = /has expired \(CERT_HAS_EXPIRED\)/;

  it('required: a certificate from the CA signs in; none, a foreign CA and an expired one get a coded 401 and a log line', async () => {
    await serve('required', async (seen, warnings, url) => {
      const ok = await get(url, 'alice');
      assert.equal(ok.status, 200, JSON.stringify(ok));
      assert.equal(seen[0]?.principal?.userName, 'alice');
      assert.equal(seen[0]?.principal?.attributes?.['certificateFingerprintSha256'], pki.clients['alice']!.fingerprint256);
      refusedWith(await get(url), /requires a client certificate/);
      refusedWith(await get(url, 'mallory'), FOREIGN);
      refusedWith(await get(url, 'old'), EXPIRED);
      assert.equal(seen.length, 1, 'no refused client reached the handler');
      assert.equal(warnings.length, 3, warnings.join('\n'));
      assert.ok(warnings.every((w) => w.startsWith('A request was refused because of its client certificate.')));
      assert.match(warnings[1] ?? '', new RegExp(pki.clients['mallory']!.fingerprint256));
    });
  });

  it('optional: no certificate goes on to other methods; a foreign or expired one is a coded 401', async () => {
    await serve('optional', async (seen, warnings, url) => {
      assert.equal((await get(url)).status, 200);
      assert.deepEqual(seen, [{}], 'no certificate: the plugin steps aside');
      assert.equal((await get(url, 'alice')).status, 200);
      assert.equal(seen[1]?.principal?.userName, 'alice');
      refusedWith(await get(url, 'mallory'), FOREIGN);
      refusedWith(await get(url, 'old'), EXPIRED);
      assert.equal(seen.length, 2, 'refused certificates never reach the handler');
      assert.equal(warnings.length, 2, warnings.join('\n'));
    });
  });

  it('logs a failed handshake (plain HTTP on the TLS port)', async () => {
    await serve('required', async (seen, warnings, url) => {
      const a = await new Promise<Answer>((resolve) => {
        const req = httpRequest(url.replace('https:', 'http:'), { agent: false }, (res) => {
          res.resume();
          resolve({ status: res.statusCode ?? 0 });
        });
        req.on('error', (err) => resolve({ error: err.message }));
        req.end();
      });
      assert.notEqual(a.status, 200, JSON.stringify(a));
      for (let i = 0; i < 100 && warnings.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(seen.length, 0);
      assert.match(warnings[0] ?? '', /^A TLS handshake failed/);
    });
  });
});
