/**
 * From a request to a caller: what a request offers to prove who it is (`authContextOf`), and
 * the `userIdentity` recorded for the caller it proved to be — or failed to be.
 *
 * One capture path: the gateway, the API's hooks and the Kubernetes audit webhook all build the
 * Authenticator's input and the recorded identity here, so that a certificate problem, a peer
 * address or a failed sign-in is read and recorded the same way whichever door was knocked on.
 */
import type { IncomingMessage } from 'node:http';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { UserIdentity } from '../event/types.js';
import type { AuthContext, AuthError, Principal } from './authenticate.js';
import type { CertificateProblem } from './client-cert.js';

/** The TCP peer address, IPv4-mapped addresses unwrapped. */
export function peerAddress(req: IncomingMessage): string {
  const ip = req.socket.remoteAddress ?? '';
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

/** The verified client certificate of a TLS request, if the listener asked for one. */
export function verifiedCertificate(req: IncomingMessage): PeerCertificate | undefined {
  const sock = req.socket as TLSSocket;
  if (!sock.encrypted || !sock.authorized) return undefined;
  const cert = sock.getPeerCertificate();
  return cert && Object.keys(cert).length ? cert : undefined;
}

/**
 * What `req` offers to prove who it is. `sourceIp` is the address recorded and rate-limited
 * (the right-most untrusted `X-Forwarded-For` hop, see identity/source-ip.ts); trust
 * decisions use the TCP peer. A certificate problem is set by a TLS listener that asks for
 * certificates (`secureClusterServer` in client-cert.ts) and is refused by the Authenticator.
 */
export function authContextOf(req: IncomingMessage, sourceIp: string): AuthContext {
  return {
    authorization: req.headers.authorization,
    cookie: req.headers.cookie,
    peerIp: peerAddress(req),
    sourceIp,
    headers: req.headers,
    peerCertificate: verifiedCertificate(req),
    certificateProblem: (req as IncomingMessage & { certificateProblem?: CertificateProblem }).certificateProblem,
  };
}

/** The identity recorded for an authenticated caller (ActionTrail's `userIdentity`). */
export function userIdentityOf(p: Principal, accountId: string): UserIdentity {
  const id: UserIdentity = {
    type: p.type,
    principalId: p.principalId,
    accountId,
    userName: p.userName,
  };
  if (p.accessKeyId) id.accessKeyId = p.accessKeyId;
  // Sessions (console, single sign-on, certificates) carry ActionTrail's sessionContext.
  if (p.method !== 'access-key' && p.method !== 'anonymous') {
    id.sessionContext = {
      attributes: {
        mfaAuthenticated: String(p.mfaAuthenticated),
        ...(p.sessionCreatedAt ? { creationDate: new Date(p.sessionCreatedAt).toISOString() } : {}),
        authMethod: p.method,
        ...(p.email ? { email: p.email } : {}),
        ...p.attributes,
      },
    };
  }
  return id;
}

/** The identity recorded for a failed sign-in: who was claimed, never the secret. */
export function failedIdentity(err: AuthError, accountId: string): UserIdentity {
  return {
    type: 'anonymous',
    principalId: 'anonymous',
    accountId,
    userName: err.attempted.userName ?? '',
    ...(err.attempted.accessKeyId ? { accessKeyId: err.attempted.accessKeyId.slice(0, 128) } : {}),
  };
}

/**
 * The identity recorded for a call: the caller's when authentication succeeded, the claimed one
 * when it failed, else an anonymous caller who never got as far as offering credentials.
 */
export function recordedIdentity(accountId: string, principal: Principal | undefined, authError: AuthError | undefined): UserIdentity {
  if (principal) return userIdentityOf(principal, accountId);
  if (authError) return failedIdentity(authError, accountId);
  return { type: 'anonymous', principalId: 'anonymous', accountId, userName: '' };
}
