/**
 * Console sessions: an opaque random id in an HttpOnly cookie, only its SHA-256 stored, with an
 * idle timeout and an absolute lifetime, and a per-session CSRF token that state-changing calls
 * must echo in `X-CSRF-Token`.
 *
 * `Sessions` keeps those rules; where the rows live is the `SessionStore` contract below
 * (Promise-returning, so that a database server can stand behind it and a session made through
 * one instance works through another). The embedded store is sqlite/sessions.ts (table
 * `sessions`, sqlite/migrations.ts).
 */
import { fastifyCookie } from '@fastify/cookie';
import { createHash, randomBytes } from 'node:crypto';
import type { Principal } from './authenticate.js';

export const SESSION_COOKIE = 'ft_session';

export interface SessionOptions {
  idleMs: number;
  absoluteMs: number;
}

export interface Session {
  principal: Principal;
  csrfToken: string;
  createdAt: number;
  expiresAt: number;
}

/** A session as stored: the cookie value only as its hash. */
export interface SessionRecord {
  idHash: string;
  userId: string;
  /** The signed-in principal, JSON. */
  principal: string;
  csrfToken: string;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
}

/** Where sessions are kept. */
export interface SessionStore {
  insert(r: SessionRecord): Promise<void>;
  get(idHash: string): Promise<SessionRecord | undefined>;
  delete(idHash: string): Promise<void>;
  touch(idHash: string, lastSeenAt: number): Promise<void>;
  /** Deletes sessions past their absolute lifetime or idle since before `idleBefore`; how many. */
  purge(now: number, idleBefore: number): Promise<number>;
  /** Ends every session of a user (disabled, deleted, or a new password); how many. */
  deleteOfUser(userId: string): Promise<number>;
}

const hashId = (id: string) => createHash('sha256').update(id).digest('base64url');

export class Sessions {
  constructor(
    private readonly store: SessionStore,
    private readonly opts: SessionOptions,
  ) {}

  /** Starts a session; returns the cookie value (shown once) and the session. */
  async create(principal: Principal): Promise<{ id: string; session: Session }> {
    const id = randomBytes(32).toString('base64url');
    const now = Date.now();
    const session: Session = {
      principal: { ...principal, method: principal.method, sessionCreatedAt: now },
      csrfToken: randomBytes(24).toString('base64url'),
      createdAt: now,
      expiresAt: now + this.opts.absoluteMs,
    };
    await this.store.insert({
      idHash: hashId(id),
      userId: principal.principalId,
      principal: JSON.stringify(session.principal),
      csrfToken: session.csrfToken,
      createdAt: now,
      lastSeenAt: now,
      expiresAt: session.expiresAt,
    });
    return { id, session };
  }

  /** The live session for a cookie value, refreshing its idle timer; undefined if expired or unknown. */
  async get(id: string): Promise<Session | undefined> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(id)) return undefined;
    const idHash = hashId(id);
    const row = await this.store.get(idHash);
    if (!row) return undefined;
    const now = Date.now();
    if (now > row.expiresAt || now - row.lastSeenAt > this.opts.idleMs) {
      await this.store.delete(idHash);
      return undefined;
    }
    // Refresh at most every 10 s: a write per request would cost an fsync each.
    if (now - row.lastSeenAt > 10_000) await this.store.touch(idHash, now);
    return { principal: JSON.parse(row.principal) as Principal, csrfToken: row.csrfToken, createdAt: row.createdAt, expiresAt: row.expiresAt };
  }

  async destroy(id: string): Promise<void> {
    await this.store.delete(hashId(id));
  }

  async purgeExpired(): Promise<number> {
    const now = Date.now();
    return this.store.purge(now, now - this.opts.idleMs);
  }
}

/**
 * Reads one cookie from a raw Cookie header, for code outside Fastify (the gateway and the
 * Authenticator it shares with the API), with the parser the API's @fastify/cookie uses.
 */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  return header ? fastifyCookie.parse(header)[name] : undefined;
}
