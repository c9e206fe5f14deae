/**
 * Token introspection (RFC 7662) for opaque bearer tokens: what the answer of an issuer's
 * introspection endpoint must say for FlinkTrail to accept the token, and a small cache of
 * accepted answers so that a script making many calls does not cost one round trip each.
 *
 * - Accepted: `active: true`, `iss` (when present) the issuer, `aud` containing the configured
 *   audience (or, with no `aud`, `client_id` being FlinkTrail's own client when the audience is
 *   the client id), `token_type` (when present) an access token, `exp` (when present) not past.
 *   A refresh token introspects as active too: `token_type` and `aud` keep it out.
 * - Cache: keyed by SHA-256 of the token (the token itself is never kept), an entry lives
 *   `ttlSeconds` but never past the token's `exp`; bounded (oldest out first). Only accepted
 *   answers are cached: a refusal is asked again (a revoked token becomes inactive at the
 *   provider within the cache TTL — the documented trade-off of any introspection cache).
 */
import { createHash } from 'node:crypto';

/** Why an introspection answer is refused (the recorded `authFailureReason`). */
export type IntrospectionVerdict =
  | { ok: true; claims: Record<string, unknown> }
  | { ok: false; reason: 'inactive token' | 'foreign issuer' | 'wrong audience' | 'not an access token' | 'token expired' };

export interface IntrospectionExpectations {
  issuer: string;
  audience: string;
  clientId: string;
  clockSkewSeconds: number;
  nowMs: number;
}

const ACCESS_TOKEN_TYPES = new Set(['bearer', 'access_token', 'urn:ietf:params:oauth:token-type:access_token', 'dpop']);

/** Whether an introspection answer grants access (RFC 7662 §2.2; OAuth 2.0 Security BCP on audiences). */
export function judgeIntrospection(answer: Record<string, unknown>, e: IntrospectionExpectations): IntrospectionVerdict {
  if (answer['active'] !== true) return { ok: false, reason: 'inactive token' };
  if (answer['iss'] !== undefined && answer['iss'] !== e.issuer) return { ok: false, reason: 'foreign issuer' };
  const type = answer['token_type'];
  if (type !== undefined && !(typeof type === 'string' && ACCESS_TOKEN_TYPES.has(type.toLowerCase()))) return { ok: false, reason: 'not an access token' };
  const aud = answer['aud'];
  const auds = Array.isArray(aud) ? aud : aud === undefined ? [] : [aud];
  const audienceOk = auds.length > 0 ? auds.includes(e.audience) : e.audience === e.clientId && answer['client_id'] === e.clientId;
  if (!audienceOk) return { ok: false, reason: 'wrong audience' };
  const exp = answer['exp'];
  if (typeof exp === 'number' && exp * 1000 + e.clockSkewSeconds * 1000 < e.nowMs) return { ok: false, reason: 'token expired' };
  return { ok: true, claims: { ...answer, iss: e.issuer } };
}

export const tokenDigest = (token: string): string => createHash('sha256').update(token).digest('base64url');

/** Accepted introspection answers by token digest, bounded, each entry living at most until the token's `exp`. */
export class IntrospectionCache {
  private readonly entries = new Map<string, { claims: Record<string, unknown>; until: number }>();

  constructor(
    private readonly ttlSeconds: number,
    private readonly maxEntries = 10_000,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get(token: string, nowMs: number): Record<string, unknown> | undefined {
    const key = tokenDigest(token);
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    if (hit.until <= nowMs) {
      this.entries.delete(key);
      return undefined;
    }
    return hit.claims;
  }

  put(token: string, claims: Record<string, unknown>, nowMs: number): void {
    if (this.ttlSeconds <= 0 || this.maxEntries <= 0) return;
    const exp = typeof claims['exp'] === 'number' ? claims['exp'] * 1000 : Infinity;
    const until = Math.min(nowMs + this.ttlSeconds * 1000, exp);
    if (until <= nowMs) return;
    const key = tokenDigest(token);
    this.entries.delete(key);
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    this.entries.set(key, { claims, until });
  }
}
