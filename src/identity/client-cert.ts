/**
 * Mutual TLS: client certificates as a way to sign in, for clients that cannot send a password
 * or a key but can present a certificate — above all the real `flink` CLI with its
 * `security.ssl.rest.*` options. docs/reference/mtls.md is the user's view.
 *
 * Two halves. `listenerTls` + `secureClusterServer` make a cluster listener serve HTTPS and ask
 * for certificates signed by the configured CA; Node (OpenSSL) verifies chain and dates, and a
 * request whose certificate is missing (where required) or failed verification is answered with
 * a coded 401 before it reaches the gateway. `clientCertificatePlugin` is the Authenticator
 * plugin that turns a verified certificate into a Principal: the user is named by the
 * certificate (an explicit subject → user map, else CN or emailAddress), created on first sight
 * with the configured role, and the certificate's subject, issuer, serial number and SHA-256
 * fingerprint go into `sessionContext.attributes` of every event.
 *
 * `TlsReloader` keeps every TLS listener (the API's and the clusters') on the files as they are
 * now: certificate, key, CA and CRLs are read again when they change (or on SIGHUP) and handed to
 * `server.setSecureContext`, which applies to new handshakes only — open connections go on with
 * the context they were made with, nothing is dropped.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import type { IncomingMessage, ServerOptions, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import { createSecureContext, type TLSSocket, type PeerCertificate, type TlsOptions } from 'node:tls';
import type { ListenerTlsConfig } from '../config/schema.js';
import { FlinkTrailError } from '../errors/index.js';
import type { Logger } from '../telemetry/logger.js';
import { AuthError, type AuthMethodPlugin, type Principal } from './authenticate.js';
import { memberOf, type Directory, type Role } from './directory.js';

/** Where the user name comes from; `subject` accepts only subjects listed in `users`. */
export type UserFrom = 'CN' | 'emailAddress' | 'subject';

/** `auth.clientCertificates` */
export interface ClientCertificateOptions {
  enabled: boolean;
  userFrom: UserFrom;
  /** Role of users first seen through a certificate. */
  role: Role;
  /** Create unknown users on first sight; off: only existing (or mapped, existing) users sign in. */
  createUsers: boolean;
  /** Certificate subject (RFC 4514, as `openssl x509 -noout -subject -nameopt RFC2253` prints it) → user name. */
  users: Readonly<Record<string, string>>;
}

/** `api.tls`, `clusters[].listen.tls` */
export type { ListenerTlsConfig } from '../config/schema.js';

const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$/;

/** A listener's TLS material, read, and how it treats client certificates. */
export interface ListenerTls {
  options: TlsOptions;
  clientCertificates: ListenerTlsConfig['clientCertificates'];
  /** SHA-256 over every file read: tells a reload whether anything changed. */
  digest: string;
}

/**
 * Reads a listener's TLS files once, here (at build time), so a missing or unreadable file stops
 * startup with its key path rather than the first handshake. `where` is the config path of the
 * `tls` object, for messages.
 *
 * When client certificates are asked for, the CA goes into the CertificateRequest (clients such
 * as Java pick the matching certificate from their keystore by it) and Node verifies what comes
 * back. `rejectUnauthorized` stays off on purpose, for `required` too: Node would then drop
 * an unverified connection without a word (only a missing certificate gets a TLS alert).
 * Instead the connection completes and every request on it is answered with a coded 401 that
 * says what is wrong — expired, unknown CA, none — and is logged; nothing reaches the gateway.
 * nginx's `ssl_verify_client on` behaves the same way (HTTP 400 after the handshake).
 *
 * `crlFiles` (`auth.clientCertificates.crlFiles`) go into the context of listeners that ask for
 * certificates; OpenSSL then checks every client certificate against them (Node turns on
 * CRL_CHECK and CRL_CHECK_ALL), and a revoked one fails verification like an expired one.
 */
export function listenerTls(tls: ListenerTlsConfig, where: string, crlFiles: readonly string[] = []): ListenerTls {
  const hash = createHash('sha256');
  const readPath = (file: string, key: string): Buffer => {
    try {
      const bytes = readFileSync(file);
      hash.update(key).update(bytes);
      return bytes;
    } catch (err) {
      throw new FlinkTrailError('FT_ERR_CONFIG_INVALID', `${key}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  const read = (key: 'certFile' | 'keyFile' | 'caFile'): Buffer => {
    const file = tls[key];
    if (!file) throw new FlinkTrailError('FT_ERR_CONFIG_INVALID', `${where}.${key}: required when clientCertificates is '${tls.clientCertificates}'`);
    return readPath(file, `${where}.${key}`);
  };
  const options: TlsOptions = {
    cert: read('certFile'),
    key: read('keyFile'),
    // TLS 1.2 stays allowed: the flink CLI defaults to it (security.ssl.protocol).
    minVersion: 'TLSv1.2',
  };
  if (tls.clientCertificates !== 'none') {
    options.ca = read('caFile');
    options.requestCert = true;
    options.rejectUnauthorized = false;
    if (crlFiles.length) options.crl = crlFiles.map((f, i) => readPath(f, `auth.clientCertificates.crlFiles.${i}`));
  }
  try {
    // Refuse a key that does not match the certificate, or PEM that does not parse, now.
    createSecureContext(options);
  } catch (err) {
    throw new FlinkTrailError('FT_ERR_CONFIG_INVALID', `${where}: the certificate, key or CA cannot be used: ${(err as Error).message}`);
  }
  return { options, clientCertificates: tls.clientCertificates, digest: hash.digest('hex') };
}

/** OpenSSL's verification codes, told in words (the code follows in parentheses). */
const VERIFY_ERRORS: Record<string, string> = {
  CERT_HAS_EXPIRED: 'the certificate has expired',
  CERT_NOT_YET_VALID: 'the certificate is not valid yet',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the certificate is not signed by a CA this listener trusts',
  UNABLE_TO_GET_ISSUER_CERT: 'the certificate is not signed by a CA this listener trusts',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the certificate is not signed by a CA this listener trusts',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the certificate is self-signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'the certificate chain ends in a CA this listener does not trust',
  CERT_SIGNATURE_FAILURE: 'the certificate signature is invalid',
  INVALID_PURPOSE: 'the certificate may not be used for client authentication',
  CERT_REVOKED: 'the certificate has been revoked',
  UNABLE_TO_GET_CRL: 'no revocation list of its CA is configured (auth.clientCertificates.crlFiles)',
  CRL_HAS_EXPIRED: 'the revocation list of its CA has expired; the operator must renew it',
  CRL_NOT_YET_VALID: 'the revocation list of its CA is not valid yet',
  CRL_SIGNATURE_FAILURE: 'the revocation list of its CA has an invalid signature',
};

export interface CertificateProblem {
  /** Told to the client and logged, e.g. "the certificate has expired (CERT_HAS_EXPIRED)". */
  reason: string;
  subject?: string;
  fingerprint256?: string;
}

/**
 * Why a request on a TLS listener may not go on: a certificate that failed verification (any
 * mode), or none where one is `required`. Undefined when the request may proceed.
 */
export function certificateProblem(req: IncomingMessage, mode: ListenerTls['clientCertificates']): CertificateProblem | undefined {
  const sock = req.socket as TLSSocket;
  if (mode === 'none' || !sock.encrypted || sock.authorized) return undefined;
  const cert = sock.getPeerCertificate();
  if (!cert?.raw) return mode === 'required' ? { reason: 'this listener requires a client certificate signed by its CA, and none was sent' } : undefined;
  const err = sock.authorizationError as Error | string | null | undefined;
  const code = typeof err === 'string' ? err : (err?.message ?? 'verification failed');
  return {
    reason: `${VERIFY_ERRORS[code] ?? 'verification failed'} (${code})`,
    subject: certificateSubject(cert),
    fingerprint256: cert.fingerprint256,
  };
}

/**
 * The HTTPS server of a listener (a cluster's, or the API's). A request with a certificate problem
 * (`certificateProblem`) is answered 401 `FT_ERR_AUTH_CERTIFICATE` here, before the gateway —
 * the Authenticator only ever sees verified certificates — in Flink's error shape
 * (`{"errors": ["FT_ERR_AUTH_CERTIFICATE: …"]}`, request id in `X-Request-Id`), and logged. Failed handshakes (the
 * client does not trust the server certificate, no common protocol) are logged too. Logging is
 * capped at 20 lines a minute per listener, then a count, so a scanner cannot flood the log.
 */
export function secureClusterServer(
  serverOptions: ServerOptions,
  tls: ListenerTls,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  log: Logger,
): Server {
  let windowStart = 0;
  let logged = 0;
  let suppressed = 0;
  const warn = (fields: Record<string, unknown>, msg: string) => {
    const now = Date.now();
    if (now - windowStart > 60_000) {
      if (suppressed > 0) log.warn({ suppressed }, 'More client certificate and TLS failures happened in the last minute than were logged.');
      windowStart = now;
      logged = 0;
      suppressed = 0;
    }
    if (++logged > 20) suppressed++;
    else log.warn(fields, msg);
  };

  const server = createServer({ ...serverOptions, ...tls.options }, (req, res) => {
    const problem = certificateProblem(req, tls.clientCertificates);
    if (!problem) {
      handler(req, res);
      return;
    }
    warn({ peer: req.socket.remoteAddress, method: req.method, ...problem }, 'A request was refused because of its client certificate.');
    // The gateway refuses it (401 FT_ERR_AUTH_CERTIFICATE, in Flink's error shape for the flink
    // CLI) and records it like every failed sign-in: the Authenticator sees the problem.
    (req as IncomingMessage & { certificateProblem?: CertificateProblem }).certificateProblem = problem;
    handler(req, res);
  });
  server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
    // A connection reset before the handshake is a port check, not a client being refused.
    if (err.code === 'ECONNRESET') return;
    warn({ peer: socket.remoteAddress, code: err.code, reason: err.message.split('\n')[0]?.slice(0, 300) }, 'A TLS handshake failed; the client was refused.');
  });
  return server;
}

/** A listener whose TLS material `TlsReloader` keeps current. */
interface ReloadedListener {
  server: Server;
  config: ListenerTlsConfig;
  where: string;
  digest: string;
}

/**
 * Keeps the TLS listeners on their files. `watch()` follows the directories the files are in
 * (so a file replaced by rename — certbot, a Kubernetes secret's `..data` swap — is seen too),
 * waits for writes to settle, and reloads; `reload()` does it at once (SIGHUP). A listener whose
 * files did not change is left alone; files that cannot be used (a key that does not match the
 * new certificate because only one of them was written yet) are logged and the listener keeps
 * what it has, until the next change makes them whole.
 */
export class TlsReloader {
  private readonly listeners: ReloadedListener[] = [];
  private readonly watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly crlFiles: readonly string[],
    private readonly log: Logger,
    /** How long after the last change in a watched directory to reload. */
    private readonly settleMs = 250,
  ) {}

  add(server: Server, config: ListenerTlsConfig, where: string, current: ListenerTls): void {
    this.listeners.push({ server, config, where, digest: current.digest });
  }

  /** Reads every listener's files again; returns how many listeners took new material and what failed. */
  reload(reason: string): { reloaded: string[]; failed: string[] } {
    const reloaded: string[] = [];
    const failed: string[] = [];
    for (const l of this.listeners) {
      let tls: ListenerTls;
      try {
        tls = listenerTls(l.config, l.where, this.crlFiles);
      } catch (err) {
        failed.push(l.where);
        this.log.error({ listener: l.where, reason, err: (err as Error).message }, 'New TLS files could not be used; the listener keeps its current certificate.');
        continue;
      }
      if (tls.digest === l.digest) continue;
      l.server.setSecureContext(tls.options);
      l.digest = tls.digest;
      reloaded.push(l.where);
      this.log.info({ listener: l.where, reason }, 'TLS certificate, key, CA or CRL reloaded; new connections use them, open ones go on.');
    }
    return { reloaded, failed };
  }

  /** Starts following the files' directories. */
  watch(): void {
    const dirs = new Set<string>();
    for (const l of this.listeners) {
      for (const f of [l.config.certFile, l.config.keyFile, l.config.caFile]) if (f) dirs.add(dirname(f));
      if (l.config.clientCertificates !== 'none') for (const f of this.crlFiles) dirs.add(dirname(f));
    }
    for (const dir of dirs) {
      try {
        const w = watch(dir, { persistent: false }, () => this.changed());
        w.on('error', (err) => this.log.warn({ dir, err: err.message }, 'A directory of TLS files can no longer be watched; send SIGHUP after changing them.'));
        this.watchers.push(w);
      } catch (err) {
        this.log.warn({ dir, err: (err as Error).message }, 'A directory of TLS files cannot be watched; send SIGHUP after changing them.');
      }
    }
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const w of this.watchers.splice(0)) w.close();
  }

  private changed(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.reload('files changed');
    }, this.settleMs);
    this.timer.unref();
  }
}

/**
 * The subject as RFC 4514 text, most specific RDN first — the form `openssl x509 -noout -subject
 * -nameopt RFC2253` prints, so operators can copy it into `auth.clientCertificates.users`.
 * Node gives the subject in DER order, one RDN per line, values already RFC 2253-escaped, and
 * the parts of a multi-valued RDN joined by " + ".
 */
export function certificateSubject(cert: PeerCertificate): string {
  return rfc4514(new X509Certificate(cert.raw).subject);
}

function rfc4514(nodeName: string): string {
  return nodeName
    .split('\n')
    .filter((line) => line.length > 0)
    .reverse()
    .map((rdn) => rdn.split(' + ').reverse().join('+'))
    .join(',');
}

/**
 * A subject written by hand, made comparable: spaces around unescaped `,` `+` `=` dropped and
 * attribute types lower-cased (`CN = a, O = b` and `cn=a,o=b` are the same subject).
 */
export function normalizeSubject(subject: string): string {
  const out: string[] = [];
  let token = '';
  let inValue = false;
  const flush = (sep: string) => {
    out.push(inValue ? trimValue(token) : token.trim().toLowerCase(), sep);
    token = '';
  };
  for (let i = 0; i < subject.length; i++) {
    const ch = subject[i] as string;
    if (ch === '\\' && i + 1 < subject.length) {
      token += ch + (subject[++i] as string);
      continue;
    }
    if (!inValue && ch === '=') {
      flush('=');
      inValue = true;
    } else if (inValue && (ch === ',' || ch === '+' || ch === ';')) {
      flush(ch === ';' ? ',' : ch);
      inValue = false;
    } else {
      token += ch;
    }
  }
  flush('');
  return out.join('');
}

/** Trims a value, except a trailing space escaped as `\ ` (it belongs to the value). */
function trimValue(v: string): string {
  let end = v.length;
  while (end > 0 && /\s/.test(v[end - 1] as string) && v[end - 2] !== '\\') end--;
  return v.slice(0, end).trimStart();
}

/** The single value of a subject attribute, or undefined when absent or given more than once. */
function single(cert: PeerCertificate, attr: 'CN' | 'emailAddress'): string | undefined {
  const v = (cert.subject as unknown as Record<string, string | string[] | undefined> | undefined)?.[attr];
  return typeof v === 'string' ? v : undefined;
}

/**
 * The Authenticator plugin. Answers only requests whose TLS layer verified a client certificate
 * (`ctx.peerCertificate`); everything else goes on to the other methods. Failures are
 * `FT_ERR_AUTH_CERTIFICATE` (401), recorded as failed sign-ins with the reason.
 *
 * @example
 *   new Authenticator(directory, { ..., plugins: [clientCertificatePlugin(directory, config.auth.clientCertificates)] })
 */
export function clientCertificatePlugin(directory: Directory, opts: ClientCertificateOptions, now: () => number = Date.now): AuthMethodPlugin {
  const mapped = new Map(Object.entries(opts.users).map(([subject, user]) => [normalizeSubject(subject), user]));
  return {
    name: 'client-certificate',
    async authenticate(ctx): Promise<Principal | undefined> {
      const cert = ctx.peerCertificate;
      if (!cert?.raw) return undefined;
      // OpenSSL checked the dates during the handshake; checked again here because a long-lived
      // keep-alive connection outlives the moment of the handshake.
      const t = now();
      if (t < Date.parse(cert.valid_from) || t > Date.parse(cert.valid_to)) refuse(single(cert, 'CN'), `certificate not valid now (valid ${cert.valid_from} to ${cert.valid_to})`);

      const subject = certificateSubject(cert);
      let name = mapped.get(normalizeSubject(subject));
      if (name === undefined) {
        if (opts.userFrom === 'subject') refuse(undefined, `subject ${subject.slice(0, 200)} is not mapped to a user (auth.clientCertificates.users)`);
        name = single(cert, opts.userFrom === 'CN' ? 'CN' : 'emailAddress');
        if (name === undefined) refuse(undefined, `the certificate subject has no single ${opts.userFrom}`);
      }
      const userName = name;
      if (!USER_NAME.test(userName)) refuse(undefined, `${opts.userFrom} '${userName.slice(0, 64)}' is not a valid user name; map the subject in auth.clientCertificates.users`);

      const email = single(cert, 'emailAddress');
      // createUser returns the user another FlinkTrail sharing the store made a moment ago, if it did.
      const user =
        (await directory.userByName(userName)) ??
        (opts.createUsers
          ? await directory.createUser(userName, opts.role, undefined, false, { source: 'certificate', ...(email ? { email } : {}) })
          : refuse(userName, 'no such user and auth.clientCertificates.createUsers is off'));
      if (user.disabled) refuse(userName, 'user disabled');
      return {
        type: 'ram-user',
        principalId: user.id,
        userName: user.name,
        role: user.role,
        ...memberOf(user),
        method: 'client-certificate',
        mfaAuthenticated: false,
        ...(email ? { email } : {}),
        attributes: {
          certificateSubject: subject,
          certificateIssuer: rfc4514(new X509Certificate(cert.raw).issuer),
          certificateSerialNumber: cert.serialNumber,
          certificateFingerprintSha256: cert.fingerprint256,
        },
      };
    },
  };
}

/** A failed certificate sign-in; the reason is both recorded and told (it holds no secret). */
function refuse(userName: string | undefined, reason: string): never {
  throw new AuthError('FT_ERR_AUTH_CERTIFICATE', userName ? { userName: userName.slice(0, 128) } : {}, reason, reason);
}
