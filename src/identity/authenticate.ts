/**
 * Who is calling: turns a request's credentials into a Principal, or a coded 401.
 *
 * Accepted: HTTP Basic with `AccessKeyId:AccessKeySecret`, or `userName:password` for local
 * users. (OIDC, mTLS and trusted proxy identities join here as further methods.) The result
 * carries what the event's `userIdentity` needs. Failures carry what was attempted (the key id
 * or user name, never the secret) so the failed sign-in can be recorded.
 */
import { createHash } from 'node:crypto';
import { FlinkTrailError, type ErrorCode } from '../errors/index.js';
import type { IdentityType } from '../event/types.js';
import type { Directory, Role } from './directory.js';
import { verifyKeySecret, verifyPassword } from './secrets.js';

export interface Principal {
  type: IdentityType;
  principalId: string;
  userName: string;
  role: Role | 'anonymous';
  accessKeyId?: string;
  /** How the caller proved who they are. */
  method: 'access-key' | 'password' | 'anonymous';
  mfaAuthenticated: boolean;
}

export class AuthError extends FlinkTrailError {
  /** The AccessKey ID or user name the caller claimed, if any. */
  readonly attempted: { accessKeyId?: string; userName?: string };
  constructor(code: ErrorCode, attempted: AuthError['attempted'], ...args: unknown[]) {
    super(code, ...args);
    this.attempted = attempted;
  }
}

export const ANONYMOUS: Principal = {
  type: 'anonymous',
  principalId: 'anonymous',
  userName: 'anonymous',
  role: 'anonymous',
  method: 'anonymous',
  mfaAuthenticated: false,
};

export interface AuthenticatorOptions {
  anonymous: boolean;
  /** How long a verified password is remembered, so scrypt does not run on every request. */
  passwordCacheMs?: number;
  /** How often a key's last-used time is written at most. */
  touchIntervalMs?: number;
}

export class Authenticator {
  private readonly passwordCache = new Map<string, number>();
  private readonly lastTouch = new Map<string, number>();

  constructor(
    private readonly directory: Directory,
    private readonly opts: AuthenticatorOptions,
  ) {}

  /** Authenticates from an Authorization header value; `sourceIp` is for last-used tracking. */
  authenticate(authorization: string | undefined, sourceIp: string): Principal {
    if (!authorization) {
      if (this.opts.anonymous) return ANONYMOUS;
      throw new AuthError('FT_ERR_AUTH_MISSING', {});
    }
    const space = authorization.indexOf(' ');
    const scheme = space > 0 ? authorization.slice(0, space).toLowerCase() : authorization.toLowerCase();
    if (scheme !== 'basic') throw new AuthError('FT_ERR_AUTH_MALFORMED', {}, `scheme '${scheme.slice(0, 20)}' is not supported`);
    const encoded = authorization.slice(space + 1).trim();
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || encoded.length > 4096) {
      throw new AuthError('FT_ERR_AUTH_MALFORMED', {}, 'credentials are not base64');
    }
    const decoded = Buffer.from(encoded, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) throw new AuthError('FT_ERR_AUTH_MALFORMED', {}, 'expected id:secret');
    const id = decoded.slice(0, colon);
    const secret = decoded.slice(colon + 1);
    const key = this.directory.accessKey(id);
    if (key) return this.byKey(key.id, secret, sourceIp);
    return this.byPassword(id, secret);
  }

  private byKey(id: string, secret: string, sourceIp: string): Principal {
    const key = this.directory.accessKey(id);
    const attempted = { accessKeyId: id };
    if (!key || key.status !== 'Active' || !verifyKeySecret(secret, key.secretHash)) {
      throw new AuthError('FT_ERR_AUTH_INVALID', attempted);
    }
    const user = this.directory.userById(key.userId);
    if (!user || user.disabled) throw new AuthError('FT_ERR_AUTH_INVALID', attempted);
    const now = Date.now();
    if (now - (this.lastTouch.get(id) ?? 0) > (this.opts.touchIntervalMs ?? 60_000)) {
      this.lastTouch.set(id, now);
      try {
        this.directory.touchAccessKey(id, now, sourceIp);
      } catch {
        // Last-used tracking is best effort; it must never refuse a valid caller.
      }
    }
    return {
      type: 'ram-user',
      principalId: user.id,
      userName: user.name,
      role: user.role,
      accessKeyId: id,
      method: 'access-key',
      mfaAuthenticated: false,
    };
  }

  private byPassword(name: string, password: string): Principal {
    const attempted = { userName: name.slice(0, 128) };
    const user = this.directory.userByName(name);
    if (!user || user.disabled || !user.passwordHash) throw new AuthError('FT_ERR_AUTH_INVALID', attempted);
    const cacheKey = createHash('sha256').update(user.id).update('\0').update(user.passwordHash).update('\0').update(password).digest('base64');
    const until = this.passwordCache.get(cacheKey);
    if (!(until && until > Date.now())) {
      if (!verifyPassword(password, user.passwordHash)) throw new AuthError('FT_ERR_AUTH_INVALID', attempted);
      if (this.passwordCache.size > 10_000) this.passwordCache.clear();
      this.passwordCache.set(cacheKey, Date.now() + (this.opts.passwordCacheMs ?? 60_000));
    }
    return {
      type: 'ram-user',
      principalId: user.id,
      userName: user.name,
      role: user.role,
      method: 'password',
      mfaAuthenticated: false,
    };
  }
}
