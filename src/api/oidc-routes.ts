/**
 * Console single sign-on over HTTP (registered only when `auth.oidc.enabled`):
 *
 * - `GET /api/v1/auth/oidc/login[?provider=name][&returnTo=/path]` (public) redirects the browser
 *   to the provider (authorization code, PKCE S256, state, nonce) and sets the state cookie
 *   `ft_oidc`, which names the provider. With several providers and none named, it answers a
 *   small page to pick one (the console's sign-in page offers the same choice).
 * - `GET /api/v1/auth/oidc/callback` (public) finishes the sign-in, starts a console session
 *   (cookie `ft_session`, as the password sign-in does) and redirects (303) to the console path.
 *   Every call is recorded as `ConsoleSignin` (eventType `ConsoleSignin`), failures with the reason.
 *   The ID token is kept for RP-initiated logout in `ft_oidc_logout` (HttpOnly, SameSite=Strict,
 *   sent only to the sign-out route).
 * - Sign-out (`POST /api/v1/auth/logout`, identity-routes.ts) asks `oidcSignOut` where the browser
 *   goes next: the provider's `end_session_endpoint` with `id_token_hint`, `client_id` and
 *   `post_logout_redirect_uri` (RP-Initiated Logout 1.0), when the session came from a provider
 *   that has one.
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
import { safeReturnTo, stateProvider, STATE_COOKIE, STATE_TTL_MS, unverifiedClaims, type OidcIdentity } from '../identity/oidc.js';
import type { OidcProviders } from '../identity/oidc-providers.js';
import type { Session, Sessions } from '../identity/sessions.js';
import { REDACTED } from '../pipeline/redact.js';
import { secureRequest, setSessionCookie } from './cookies.js';

export const OIDC_LOGIN_PATH = '/api/v1/auth/oidc/login';
export const OIDC_CALLBACK_PATH = '/api/v1/auth/oidc/callback';
export const LOGOUT_PATH = '/api/v1/auth/logout';
const STATE_COOKIE_PATH = '/api/v1/auth/oidc';
/** Holds the ID token of an SSO session for `id_token_hint` at sign-out; sent only to the sign-out route. */
export const LOGOUT_HINT_COOKIE = 'ft_oidc_logout';

export interface OidcRouteDeps {
  config: Readonly<Config>;
  oidc: OidcProviders;
  sessions: Sessions;
}

/** What the sign-out route does beyond ending the FlinkTrail session. */
export type SignOutHook = (req: FastifyRequest, reply: FastifyReply, session: Session | undefined) => Promise<{ endSessionUrl?: string } | undefined>;

const HOST = /^[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]{2,45}\](:[0-9]{1,5})?$/;

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const origin = (redirectUri: string) => new URL(redirectUri).origin;

function chooserPage(providers: readonly OidcIdentity[], returnTo: string): string {
  const links = providers
    .map((p) => `<li><a href="${OIDC_LOGIN_PATH}?provider=${encodeURIComponent(p.settings.name)}&amp;returnTo=${encodeURIComponent(returnTo)}">${escapeHtml(p.settings.displayName)}</a></li>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>FlinkTrail sign-in</title></head>
<body><h1>Sign in with</h1>
<ul>
${links}
</ul>
<p><a href="/">Back to FlinkTrail</a></p>
</body></html>
`;
}

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

/** The configured redirect URI, else scheme + Host of this request (the provider checks it against its registration). */
function redirectUriOf(config: Readonly<Config>, req: FastifyRequest): string {
  if (config.auth.oidc.redirectUri) return config.auth.oidc.redirectUri;
  const host = req.headers.host ?? '';
  if (!HOST.test(host)) throw new FlinkTrailError('FT_ERR_REQUEST_INVALID', 'the Host header is missing or malformed; set auth.oidc.redirectUri');
  // secureCookie means TLS ends at a proxy in front: the public scheme is https then.
  return `${secureRequest(config, req) ? 'https' : 'http'}://${host}${OIDC_CALLBACK_PATH}`;
}

/** Sets (or with 0 clears) the ID-token cookie of RP-initiated logout, one set of attributes for both. */
function setLogoutHintCookie(config: Readonly<Config>, req: FastifyRequest, reply: FastifyReply, value: string, maxAgeSeconds: number): void {
  void reply.setCookie(LOGOUT_HINT_COOKIE, value, { path: LOGOUT_PATH, httpOnly: true, sameSite: 'strict', maxAge: maxAgeSeconds, secure: secureRequest(config, req) });
}

export function oidcRoutes(deps: OidcRouteDeps) {
  const { config, oidc: providers, sessions } = deps;
  const secure = (req: FastifyRequest) => secureRequest(config, req);
  const setStateCookie = (req: FastifyRequest, reply: FastifyReply, value: string, maxAgeSeconds: number) =>
    void reply.setCookie(STATE_COOKIE, value, { path: STATE_COOKIE_PATH, httpOnly: true, sameSite: 'lax', maxAge: maxAgeSeconds, secure: secure(req) });

  const redirectUri = (req: FastifyRequest) => redirectUriOf(config, req);

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
        const query = queryOf(req);
        const returnTo = safeReturnTo(query.get('returnTo'));
        const named = query.get('provider') ?? undefined;
        const oidc = named === undefined && providers.all.length === 1 ? providers.all[0] : providers.byName(named);
        if (!oidc && named === undefined) {
          return reply.header('cache-control', 'no-store').type('text/html; charset=utf-8').send(chooserPage(providers.all, returnTo));
        }
        if (!oidc) throw new FlinkTrailError('FT_ERR_REQUEST_INVALID', `no identity provider is named '${String(named).slice(0, 32)}'`);
        const { url, cookie } = await oidc.startLogin(redirectUri(req), returnTo);
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
        // The state cookie names the provider the sign-in went to; without one, the first (the
        // sign-in fails on the state check anyway).
        const oidc = providers.byName(stateProvider(req.cookies[STATE_COOKIE])) ?? providers.first;
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
          const { principal, returnTo, idToken } = await oidc.finishLogin(query, req.cookies[STATE_COOKIE]);
          const { id, session } = await sessions.create(principal);
          req.principal = { ...principal, sessionCreatedAt: session.createdAt };
          req.auditParameters = { ...req.auditParameters, userName: principal.userName };
          const lifetime = Math.floor((session.expiresAt - Date.now()) / 1000);
          setSessionCookie(config, req, reply, id, lifetime);
          // Browsers drop cookies over 4 KB: a huge ID token only costs the id_token_hint at sign-out.
          if (idToken.length <= 3800) setLogoutHintCookie(config, req, reply, idToken, lifetime);
          void reply.header('cache-control', 'no-store');
          return reply.redirect(returnTo, 303);
        } catch (err) {
          return answerError(req, reply, err);
        }
      },
    );
  };
}

/**
 * The sign-out hook for identity-routes.ts: for a session that came from a provider with an
 * `end_session_endpoint`, the URL to send the browser to, and what the ConsoleSignout event
 * records (the provider, never the ID token). The hint cookie is cleared in every case.
 */
export function oidcSignOut(deps: OidcRouteDeps): SignOutHook {
  const { config, oidc: providers } = deps;
  return async (req, reply, session) => {
    const hint = req.cookies[LOGOUT_HINT_COOKIE];
    setLogoutHintCookie(config, req, reply, '', 0);
    const p = session?.principal;
    if (p?.method !== 'oidc') return undefined;
    const provider = providers.byIssuer(p.attributes?.['issuer']);
    if (!provider) return undefined;
    // Only a hint of this issuer for this client: an old cookie of another provider is not sent on.
    const claims = hint ? unverifiedClaims(hint) : undefined;
    const aud = claims?.['aud'];
    const hintOk = claims?.['iss'] === provider.settings.issuer && (aud === provider.settings.clientId || (Array.isArray(aud) && aud.includes(provider.settings.clientId)));
    const after = config.auth.oidc.postLogoutRedirectUri ?? `${origin(redirectUriOf(config, req))}/`;
    let url: URL | undefined;
    try {
      url = await provider.endSessionUrl(hintOk ? hint : undefined, after);
    } catch (err) {
      // The FlinkTrail session is over either way; the provider's stays, as before this feature.
      req.log.warn({ issuer: provider.settings.issuer, err: (err as Error).message }, 'The OpenID provider could not be reached for sign-out; only the FlinkTrail session ended.');
    }
    req.auditParameters = { ...req.auditParameters, signOutMethod: 'oidc', issuer: provider.settings.issuer, providerLogout: url !== undefined };
    return url ? { endSessionUrl: url.href } : undefined;
  };
}
