/**
 * The API's cookies, written and read through @fastify/cookie (registered in buildApi): the
 * console session cookie `ft_session` is set in one place with one set of attributes, so the
 * password sign-in, OIDC sign-in and sign-out cannot drift apart (a cookie set with other
 * attributes than the one that clears it would survive sign-out).
 *
 * Outside Fastify — the gateway and the Authenticator it shares with the API read the raw
 * Cookie header — `cookieValue` (src/identity/sessions.ts) uses the same parser.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config/index.js';
import { SESSION_COOKIE } from '../identity/sessions.js';

/** Secure when this listener is TLS, or when TLS ends at a proxy in front (`auth.session.secureCookie`). */
export function secureRequest(config: Readonly<Config>, req: FastifyRequest): boolean {
  return config.auth.session.secureCookie || (req.raw.socket as { encrypted?: boolean }).encrypted === true;
}

/** Sets (or with `maxAgeSeconds` 0 clears) `ft_session`: HttpOnly, SameSite=Strict, whole site. */
export function setSessionCookie(config: Readonly<Config>, req: FastifyRequest, reply: FastifyReply, value: string, maxAgeSeconds: number): void {
  void reply.setCookie(SESSION_COOKIE, value, { path: '/', httpOnly: true, sameSite: 'strict', maxAge: maxAgeSeconds, secure: secureRequest(config, req) });
}
