/**
 * Who is calling: turns a request's credentials into a Principal, or a coded 401/429.
 *
 * Methods, tried in this order:
 *  1. a TLS client certificate on a listener that verifies them (`clientCertificate` method);
 *  2. identity headers (`X-Forwarded-User`, `X-Forwarded-Email`) — only when the TCP peer is a
 *     configured trusted proxy;
 *  3. `Authorization: Bearer <JWT>` from the configured OpenID provider (`bearer` method);
 *  4. `Authorization: Basic` with `AccessKeyId:AccessKeySecret` or `userName:password`;
 *  5. the console session cookie.
 * Failures carry what was attempted (key id or user name, never the secret) so the failed
 * sign-in can be recorded. A user name FlinkTrail does not know is carried as
 * HIDDEN_DUE_TO_SECURITY_REASONS, as CloudTrail does: people type passwords into the user-name
 * field. Guessable credentials (Basic passwords and AccessKey pairs, console passwords, static
 * bearer tokens through `attempt`) pass the sign-in throttle (rate-limit.ts); sessions, OIDC
 * tokens and client certificates cannot be guessed and never wait.
 */
import { createHash } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import { FlinkTrailError, type ErrorCode } from '../errors/index.js';
import type { IdentityType } from '../event/types.js';
import type { PolicyDocument } from '../policy/index.js';
import { memberOf, type Directory, type Role } from './directory.js';
import { SignInThrottle, type ThrottleNotice, type ThrottleOptions, type ThrottleSubject } from './rate-limit.js';
import type { ThrottleStore } from './throttle-store.js';
import { verifyKeySecret, verifyNothing, verifyPassword } from './secrets.js';
import { cookieValue, SESSION_COOKIE, type Sessions } from './sessions.js';

export type AuthMethod = 'access-key' | 'password' | 'session' | 'oidc' | 'client-certificate' | 'trusted-proxy' | 'anonymous';

export interface Principal {
  type: IdentityType;
  principalId: string;
  userName: string;
  role: Role | 'anonymous';
  /** The caller's account; absent: the management account (`Config.accountId`). */
  accountId?: string;
  accessKeyId?: string;
  /** How the caller proved who they are. */
  method: AuthMethod;
  mfaAuthenticated: boolean;
  /** For sessions and federated identities: when the session began (epoch ms). */
  sessionCreatedAt?: number;
  /** Custom policies attached to the user (role permissions come on top). */
  policies?: readonly PolicyDocument[];
  email?: string;
  /** Certificate subject, OIDC issuer/subject, ... — recorded in sessionContext. */
  attributes?: Record<string, string>;
}

export class AuthError extends FlinkTrailError {
  /** The AccessKey ID or user name the caller claimed, if any. */
  readonly attempted: { accessKeyId?: string; userName?: string };
  /** Why, for the record only (never told to the client): unknown-user, wrong-password, ... */
  readonly reason: string;
  constructor(code: ErrorCode, attempted: AuthError['attempted'], reason: string, ...args: unknown[]) {
    super(code, ...args);
    this.attempted = attempted;
    this.reason = reason;
  }
}

/** The user name recorded for a failed sign-in whose name is not a known user (CloudTrail's marker). */
export const HIDDEN_USER_NAME = 'HIDDEN_DUE_TO_SECURITY_REASONS';

export const ANONYMOUS: Principal = {
  type: 'anonymous',
  principalId: 'anonymous',
  userName: 'anonymous',
  role: 'anonymous',
  method: 'anonymous',
  mfaAuthenticated: false,
};

/** What a request offers to prove who it is. */
export interface AuthContext {
  authorization?: string | undefined;
  cookie?: string | undefined;
  /** The TCP peer (not X-Forwarded-For): trust decisions use this. */
  peerIp: string;
  /** The source IP recorded and rate-limited (X-Forwarded-For from trusted proxies). */
  sourceIp: string;
  headers: Record<string, string | string[] | undefined>;
  /** A client certificate the TLS layer verified against the configured CA. */
  peerCertificate?: PeerCertificate | undefined;
  /** A certificate the listener required but that was missing or failed verification. */
  certificateProblem?: { reason: string; subject?: string | undefined } | undefined;
}

/** An extra way to sign in (OIDC bearer tokens, client certificates), plugged in at build time. */
export interface AuthMethodPlugin {
  name: AuthMethod;
  /** Returns undefined when the request does not use this method; throws AuthError when it does and fails. */
  authenticate(ctx: AuthContext): Promise<Principal | undefined> | Principal | undefined;
}

export interface AuthenticatorOptions {
  anonymous: boolean;
  passwordCacheMs?: number;
  touchIntervalMs?: number;
  rateLimit?: ThrottleOptions;
  /** Where the throttle's counters live (default: this process's memory; PostgreSQL with `store.url`). */
  throttleStore?: ThrottleStore;
  /** Called when an address starts to wait; `userName` is recordable (hidden when unknown). */
  onThrottle?: (n: ThrottleNotice & { userName: string; accessKeyId?: string }) => void;
  sessions?: Sessions;
  trustedProxy?: { isTrusted: (ip: string) => boolean; userHeader: string; emailHeader: string; role: Role };
  plugins?: AuthMethodPlugin[];
}

export class Authenticator {
  private readonly passwordCache = new Map<string, number>();
  private readonly lastTouch = new Map<string, number>();
  readonly throttle: SignInThrottle;

  constructor(
    private readonly directory: Directory,
    private readonly opts: AuthenticatorOptions,
  ) {
    this.throttle = new SignInThrottle(
      opts.rateLimit ?? { maxFailures: 5, windowMs: 900_000, baseDelayMs: 1000, maxDelayMs: 300_000, perSourceFactor: 10 },
      (n) => {
        // The name is recorded only if it is known; when the directory cannot say, it is hidden.
        void this.attemptedOf(n.subject)
          .catch((): AuthError['attempted'] => (n.subject?.kind === 'key' ? { accessKeyId: n.subject.name.slice(0, 128) } : { userName: HIDDEN_USER_NAME }))
          .then((who) => opts.onThrottle?.({ ...n, userName: who.userName ?? '', ...(who.accessKeyId ? { accessKeyId: who.accessKeyId } : {}) }));
      },
      opts.throttleStore,
    );
  }

  /** Authenticates a request; attaches the user's policies. */
  async authenticate(ctx: AuthContext): Promise<Principal> {
    const p = await this.identify(ctx);
    return p.type === 'anonymous' ? p : { ...p, policies: await this.directory.policiesOf(p.principalId) };
  }

  /**
   * Runs one guessable credential check under the sign-in throttle: refused (429) without being
   * checked while `sourceIp` must wait for `subject`; the caller's own failures are counted
   * (a 5xx, e.g. a provider outage, is not the caller's), a success clears the pair.
   */
  async attempt<T>(sourceIp: string, subject: ThrottleSubject, check: () => T | Promise<T>): Promise<T> {
    const wait = await this.throttle.waitFor(sourceIp, subject);
    if (wait > 0) throw new AuthError('FT_ERR_AUTH_RATE_LIMITED', await this.attemptedOf(subject), 'rate-limited', Math.ceil(wait / 1000));
    try {
      const out = await check();
      await this.throttle.succeeded(sourceIp, subject);
      return out;
    } catch (err) {
      if (err instanceof AuthError && err.status < 500) await this.throttle.failed(sourceIp, subject);
      throw err;
    }
  }

  /** A user name as it may be recorded: itself when it names a user or AccessKey, else the hidden marker. */
  async recordableName(name: string): Promise<string> {
    return (await this.directory.userByName(name)) || (await this.directory.accessKey(name)) ? name.slice(0, 128) : HIDDEN_USER_NAME;
  }

  private async attemptedOf(subject: ThrottleSubject | undefined): Promise<AuthError['attempted']> {
    if (!subject) return {};
    if (subject.kind === 'key') return { accessKeyId: subject.name.slice(0, 128) };
    return { userName: subject.kind === 'user' ? await this.recordableName(subject.name) : subject.name.slice(0, 128) };
  }

  private async identify(ctx: AuthContext): Promise<Principal> {
    if (ctx.certificateProblem) {
      const { reason, subject } = ctx.certificateProblem;
      throw new AuthError('FT_ERR_AUTH_CERTIFICATE', subject ? { userName: subject.slice(0, 128) } : {}, reason, reason);
    }
    for (const plugin of this.opts.plugins ?? []) {
      const p = await plugin.authenticate(ctx);
      if (p) return p;
    }
    const tp = this.opts.trustedProxy;
    const forwardedUser = header(ctx.headers, tp?.userHeader ?? 'x-forwarded-user');
    if (tp && forwardedUser !== undefined) {
      if (!tp.isTrusted(ctx.peerIp)) throw new AuthError('FT_ERR_AUTH_INVALID', { userName: await this.recordableName(forwardedUser) }, 'identity header from an untrusted peer');
      return this.fromProxy(forwardedUser, header(ctx.headers, tp.emailHeader), tp.role);
    }
    const auth = ctx.authorization;
    if (auth) return this.fromAuthorization(auth, ctx.sourceIp);
    const sid = cookieValue(ctx.cookie, SESSION_COOKIE);
    if (sid && this.opts.sessions) {
      const s = await this.opts.sessions.get(sid);
      if (!s) throw new AuthError('FT_ERR_AUTH_INVALID', {}, 'expired or unknown session');
      const user = await this.directory.userById(s.principal.principalId);
      if (!user || user.disabled) throw new AuthError('FT_ERR_AUTH_INVALID', { userName: s.principal.userName }, 'user disabled or deleted');
      // The account is the user's now, not what the session recorded (never a stale one).
      const principal: Principal = { ...s.principal, role: user.role, method: 'session' };
      delete principal.accountId;
      return { ...principal, ...memberOf(user) };
    }
    if (this.opts.anonymous) return ANONYMOUS;
    throw new AuthError('FT_ERR_AUTH_MISSING', {}, 'no credentials');
  }

  private async fromProxy(userName: string, email: string | undefined, role: Role): Promise<Principal> {
    if (!/^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$/.test(userName)) throw new AuthError('FT_ERR_AUTH_INVALID', {}, 'malformed X-Forwarded-User');
    const user = (await this.directory.userByName(userName)) ?? (await this.directory.createUser(userName, role, undefined, false, { source: 'proxy', ...(email ? { email } : {}) }));
    if (user.disabled) throw new AuthError('FT_ERR_AUTH_INVALID', { userName }, 'user disabled');
    return {
      type: 'assumed-role',
      principalId: user.id,
      userName: user.name,
      role: user.role,
      ...memberOf(user),
      method: 'trusted-proxy',
      mfaAuthenticated: false,
      ...(email ? { email } : {}),
    };
  }

  /** Parses `Authorization: Basic …` (Bearer is handled by a plugin when OIDC is configured). */
  async fromAuthorization(authorization: string, sourceIp: string): Promise<Principal> {
    const space = authorization.indexOf(' ');
    const scheme = space > 0 ? authorization.slice(0, space).toLowerCase() : authorization.toLowerCase();
    if (scheme !== 'basic') throw new AuthError('FT_ERR_AUTH_MALFORMED', {}, 'unsupported scheme', `scheme '${scheme.slice(0, 20)}' is not supported here`);
    const encoded = authorization.slice(space + 1).trim();
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || encoded.length > 4096) {
      throw new AuthError('FT_ERR_AUTH_MALFORMED', {}, 'bad base64', 'credentials are not base64');
    }
    const decoded = Buffer.from(encoded, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) throw new AuthError('FT_ERR_AUTH_MALFORMED', {}, 'no colon', 'expected id:secret');
    const id = decoded.slice(0, colon);
    const secret = decoded.slice(colon + 1);
    if (await this.directory.accessKey(id)) return this.attempt(sourceIp, { kind: 'key', name: id }, () => this.byKey(id, secret, sourceIp));
    return this.attempt(sourceIp, { kind: 'user', name: id }, () => this.byPassword(id, secret));
  }

  private async byKey(id: string, secret: string, sourceIp: string): Promise<Principal> {
    const key = await this.directory.accessKey(id);
    const attempted = { accessKeyId: id };
    if (!key) throw new AuthError('FT_ERR_AUTH_INVALID', attempted, 'unknown key');
    if (key.status !== 'Active') throw new AuthError('FT_ERR_AUTH_INVALID', attempted, 'key inactive');
    if (!verifyKeySecret(secret, key.secretHash)) throw new AuthError('FT_ERR_AUTH_INVALID', attempted, 'wrong secret');
    const user = await this.directory.userById(key.userId);
    if (!user || user.disabled) throw new AuthError('FT_ERR_AUTH_INVALID', attempted, 'user disabled');
    const now = Date.now();
    if (now - (this.lastTouch.get(id) ?? 0) > (this.opts.touchIntervalMs ?? 60_000)) {
      this.lastTouch.set(id, now);
      // Last-used tracking is best effort; it must never refuse or hold up a valid caller.
      this.directory.touchAccessKey(id, now, sourceIp).catch(() => undefined);
    }
    return { type: 'ram-user', principalId: user.id, userName: user.name, role: user.role, ...memberOf(user), accessKeyId: id, method: 'access-key', mfaAuthenticated: false };
  }

  /** The console sign-in: a password check under the sign-in throttle. */
  async signIn(name: string, password: string, sourceIp: string): Promise<Principal> {
    const p = await this.attempt(sourceIp, { kind: 'user', name }, () => this.byPassword(name, password));
    return { ...p, policies: await this.directory.policiesOf(p.principalId) };
  }

  /** Verifies a password (argon2id); used by Basic auth and the console sign-in. */
  async byPassword(name: string, password: string): Promise<Principal> {
    const user = await this.directory.userByName(name);
    // Refusals without a password to check cost what a wrong password costs (one argon2id
    // verification), so that the time of a 401 does not tell which user names exist.
    if (!user) {
      await verifyNothing(password);
      throw new AuthError('FT_ERR_AUTH_INVALID', { userName: HIDDEN_USER_NAME }, 'unknown user');
    }
    const attempted = { userName: name.slice(0, 128) };
    if (user.disabled || !user.passwordHash) {
      await verifyNothing(password);
      throw new AuthError('FT_ERR_AUTH_INVALID', attempted, user.disabled ? 'user disabled' : 'no password set');
    }
    const cacheKey = createHash('sha256').update(user.id).update('\0').update(user.passwordHash).update('\0').update(password).digest('base64');
    const until = this.passwordCache.get(cacheKey);
    if (!(until && until > Date.now())) {
      if (!(await verifyPassword(password, user.passwordHash))) throw new AuthError('FT_ERR_AUTH_INVALID', attempted, 'wrong password');
      if (this.passwordCache.size > 10_000) this.passwordCache.clear();
      this.passwordCache.set(cacheKey, Date.now() + (this.opts.passwordCacheMs ?? 60_000));
    }
    return { type: 'ram-user', principalId: user.id, userName: user.name, role: user.role, ...memberOf(user), method: 'password', mfaAuthenticated: false };
  }
}

/** The challenge for a 401: Bearer (RFC 6750) when a bearer token was refused, else Basic. */
export function challengeFor(authorization: string | undefined): string {
  return /^bearer\s/i.test(authorization ?? '') ? 'Bearer realm="FlinkTrail", error="invalid_token"' : 'Basic realm="FlinkTrail", charset="UTF-8"';
}

function header(headers: AuthContext['headers'], name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}
