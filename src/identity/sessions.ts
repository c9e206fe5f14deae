/**
 * Console sessions: an opaque random id in an HttpOnly cookie, only its SHA-256 stored, with an
 * idle timeout and an absolute lifetime, and a per-session CSRF token that state-changing calls
 * must echo in `X-CSRF-Token`.
 */
import { fastifyCookie } from '@fastify/cookie';
import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../store/sqlite/database.js';
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

const hashId = (id: string) => createHash('sha256').update(id).digest('base64url');

export class Sessions {
  /** Prepared once: `get` runs on every console request. */
  private readonly stmts;

  constructor(
    db: Db,
    private readonly opts: SessionOptions,
  ) {
    this.stmts = {
      insert: db.prepare('INSERT INTO sessions (id_hash, user_id, principal, csrf_token, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      get: db.prepare('SELECT * FROM sessions WHERE id_hash = ?'),
      delete: db.prepare('DELETE FROM sessions WHERE id_hash = ?'),
      touch: db.prepare('UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?'),
      purge: db.prepare('DELETE FROM sessions WHERE expires_at < ? OR last_seen_at < ?'),
    };
  }

  /** Starts a session; returns the cookie value (shown once) and the session. */
  create(principal: Principal): { id: string; session: Session } {
    const id = randomBytes(32).toString('base64url');
    const now = Date.now();
    const session: Session = {
      principal: { ...principal, method: principal.method, sessionCreatedAt: now },
      csrfToken: randomBytes(24).toString('base64url'),
      createdAt: now,
      expiresAt: now + this.opts.absoluteMs,
    };
    this.stmts.insert.run(hashId(id), principal.principalId, JSON.stringify(session.principal), session.csrfToken, now, now, session.expiresAt);
    return { id, session };
  }

  /** The live session for a cookie value, refreshing its idle timer; undefined if expired or unknown. */
  get(id: string): Session | undefined {
    if (!/^[A-Za-z0-9_-]{43}$/.test(id)) return undefined;
    const idHash = hashId(id);
    const row = this.stmts.get.get(idHash) as
      | { principal: string; csrf_token: string; created_at: number; last_seen_at: number; expires_at: number }
      | undefined;
    if (!row) return undefined;
    const now = Date.now();
    if (now > row.expires_at || now - row.last_seen_at > this.opts.idleMs) {
      this.stmts.delete.run(idHash);
      return undefined;
    }
    // Refresh at most every 10 s: a write per request would cost an fsync each.
    if (now - row.last_seen_at > 10_000) this.stmts.touch.run(now, idHash);
    return { principal: JSON.parse(row.principal) as Principal, csrfToken: row.csrf_token, createdAt: row.created_at, expiresAt: row.expires_at };
  }

  destroy(id: string): void {
    this.stmts.delete.run(hashId(id));
  }

  purgeExpired(): number {
    return this.stmts.purge.run(Date.now(), Date.now() - this.opts.idleMs).changes;
  }
}

/**
 * Reads one cookie from a raw Cookie header, for code outside Fastify (the gateway and the
 * Authenticator it shares with the API), with the parser the API's @fastify/cookie uses.
 */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  return header ? fastifyCookie.parse(header)[name] : undefined;
}
