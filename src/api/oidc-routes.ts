/**
 * Console single sign-on over HTTP (registered only when `auth.oidc.enabled`):
 *
 * - `GET /api/v1/auth/oidc/login[?returnTo=/path]` (public) redirects the browser to the provider
 *   (authorization code, PKCE S256, state, nonce) and sets the state cookie `ft_oidc`.
 * - `GET /api/v1/auth/oidc/callback` (public) finishes the sign-in, starts a console session
 *   (cookie `ft_session`, as the password sign-in does) and redirects (303) to the console path.
 *   Every call is recorded as `ConsoleSignin` (eventType `ConsoleSignin`), failures with the reason.
 *
 * Cookies and SameSite: the provider sends the browser back with a cross-site top-level GET, so
 * the state cookie is `SameSite=Lax` (a `Strict` one would not come back with it) and is scoped to
 * `/api/v1/auth/oidc`, HttpOnly, 10 minutes, cleared when used. The session cookie stays
 * `SameSite=Strict`: it is stored from this cross-site response but not sent on the redirect
 * that ends this navigation — the console shell at `/` is public and its own API calls (same
 * site) carry it. The authorization code and state are never recorded.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config/index.js';
import { FlinkTrailError, isFlinkTrailError } from '../errors/index.js';
import { AuthError } from '../identity/authenticate.js';
import { safeReturnTo, STATE_COOKIE, STATE_TTL_MS, type OidcIdentity } from '../identity/oidc.js';
import type { Sessions } from '../identity/sessions.js';
import { REDACTED } from '../pipeline/redact.js';
import { secureRequest, setSessionCookie } from './cookies.js';

export const OIDC_LOGIN_PATH = '/api/v1/auth/oidc/login';
export const OIDC_CALLBACK_PATH = '/api/v1/auth/oidc/callback';
const STATE_COOKIE_PATH = '/api/v1/auth/oidc';

export interface OidcRouteDeps {
  config: Readonly<Config>;
  oidc: OidcIdentity;
  sessions: Sessions;
}

const HOST = /^[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]{2,45}\](:[0-9]{1,5})?$/;

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function errorPage(err: FlinkTrailError, requestId: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>FlinkTrail sign-in failed</title></head>
<body><h1>Sign-in failed</h1>
<p>${escapeHtml(err.message)}</p>
<p><code>${escapeHtml(err.apiCode)}</code> · request ${escapeHtml(requestId)}</p>
<p><a href="${OIDC_LOGIN_PATH}">Try again</a> · <a href="/">Back to FlinkTrail</a></p>
</body></html>
`;
}

export function oidcRoutes(deps: OidcRouteDeps) {
  const { config, oidc, sessions } = deps;
  const secure = (req: FastifyRequest) => secureRequest(config, req);
  const setStateCookie = (req: FastifyRequest, reply: FastifyReply, value: string, maxAgeSeconds: number) =>
    void reply.setCookie(STATE_COOKIE, value, { path: STATE_COOKIE_PATH, httpOnly: true, sameSite: 'lax', maxAge: maxAgeSeconds, secure: secure(req) });

  /** The configured redirect URI, else scheme + Host of this request (the provider checks it against its registration). */
  const redirectUriOf = (req: FastifyRequest): string => {
    if (config.auth.oidc.redirectUri) return config.auth.oidc.redirectUri;
    const host = req.headers.host ?? '';
    if (!HOST.test(host)) throw new FlinkTrailError('FT_ERR_REQUEST_INVALID', 'the Host header is missing or malformed; set auth.oidc.redirectUri');
    // secureCookie means TLS ends at a proxy in front: the public scheme is https then.
    return `${secure(req) ? 'https' : 'http'}://${host}${OIDC_CALLBACK_PATH}`;
  };

  /** Browsers get a page with a way back; API clients the usual JSON error. */
  const answerError = (req: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply => {
    if (err instanceof AuthError) req.authError = err;
    if (!isFlinkTrailError(err) || !String(req.headers.accept ?? '').includes('text/html')) throw err;
    req.ftErrorCode = err.apiCode;
    req.ftErrorMessage = err.message;
    return reply.code(err.status).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(errorPage(err, req.id));
  };

  const queryOf = (req: FastifyRequest): URLSearchParams => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries((req.query ?? {}) as Record<string, unknown>)) if (typeof v === 'string') q.append(k, v);
    return q;
  };

  return (api: FastifyInstance): void => {
    api.get(OIDC_LOGIN_PATH, { config: { public: true } }, async (req, reply) => {
      try {
        const { url, cookie } = await oidc.startLogin(redirectUriOf(req), safeReturnTo(queryOf(req).get('returnTo')));
        setStateCookie(req, reply, cookie, STATE_TTL_MS / 1000);
        void reply.header('cache-control', 'no-store');
        return reply.redirect(url.href, 302);
      } catch (err) {
        return answerError(req, reply, err);
      }
    });

    api.get(
      OIDC_CALLBACK_PATH,
      { config: { public: true, audit: { eventName: 'ConsoleSignin', eventRW: 'Write', eventType: 'ConsoleSignin', isGlobal: true } } },
      async (req, reply) => {
        const query = queryOf(req);
        // The code is a credential until used and the state a CSRF secret: neither is recorded.
        req.auditParameters = {
          signInMethod: 'oidc',
          issuer: oidc.settings.issuer,
          ...(query.has('code') ? { code: REDACTED } : {}),
          ...(query.has('state') ? { state: REDACTED } : {}),
        };
        // The state is single-use: cleared whatever the outcome.
        setStateCookie(req, reply, '', 0);
        try {
          const { principal, returnTo } = await oidc.finishLogin(query, req.cookies[STATE_COOKIE]);
          const { id, session } = sessions.create(principal);
          req.principal = { ...principal, sessionCreatedAt: session.createdAt };
          req.auditParameters = { ...req.auditParameters, userName: principal.userName };
          setSessionCookie(config, req, reply, id, Math.floor((session.expiresAt - Date.now()) / 1000));
          void reply.header('cache-control', 'no-store');
          return reply.redirect(returnTo, 303);
        } catch (err) {
          return answerError(req, reply, err);
        }
      },
    );
  };
}
