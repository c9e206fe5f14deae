/**
 * Integration-test helper: a real OpenID Provider (panva's oidc-provider, the certified
 * implementation) started in-process on 127.0.0.1 (port 0: the OS picks, nothing can take it
 * first), with:
 *
 * - its own fresh RSA signing key (never the library's shared development keys, so two
 *   providers never trust each other's tokens);
 * - a confidential client for FlinkTrail's console sign-in (`flinktrail`, secret, the callback
 *   URLs given) and a public PKCE client (`flinktrail-cli`) that tests use to get tokens;
 * - resource indicators whose access tokens are JWTs (RFC 9068): `audience` (10 min), the same
 *   audience with a 2-second lifetime (`shortLivedResource`), and another API (`otherResource`);
 *   access tokens carry `preferred_username`, `email`, `groups`, `amr` and `auth_time`;
 * - opaque (reference) access tokens for `opaqueResource` (audience `audience`) and
 *   `opaqueOtherResource` (another audience), checked through token introspection (RFC 7662,
 *   enabled; the confidential client may introspect) which returns the same claims;
 * - RP-initiated logout (`end_session_endpoint`) with the `postLogoutRedirectUris` given;
 * - users with passwords, groups and an optional one-time code (`amr` `["pwd","otp"]` when given);
 * - minimal interaction handlers: a real HTML login form (works in a browser), consent granted
 *   automatically (FlinkTrail is first-party), and `/abort` answering `access_denied`.
 *
 * `login()` drives the provider's side of a sign-in with fetch (cookies kept by hand) and returns
 * the URL the provider sends the browser back to; `accessToken()` runs the whole authorization
 * code + PKCE flow for the public client.
 *
 * oidc-provider 9 prints "Unsupported runtime" on Node 20 (it recommends 22; everything used here
 * works on 20) and warns about its in-memory store: both expected in tests.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as jose from 'jose';
import Provider, { errors as oidcErrors, type KoaContext, type TokenLike } from 'oidc-provider';
import { register, starting } from './lifecycle.js';

export interface TestUser {
  username: string;
  password: string;
  email: string;
  groups: string[];
  /** When set, signing in with this code adds `otp` to `amr` (a second factor). */
  otp?: string;
}

export const DEFAULT_USERS: readonly TestUser[] = [
  { username: 'alice', password: 'alice-password-1', email: 'alice@example.test', groups: ['flink-admins', 'staff'], otp: '123456' },
  { username: 'victor', password: 'victor-password-1', email: 'victor@example.test', groups: ['flink-viewers'] },
  { username: 'olga', password: 'olga-password-1', email: 'olga@example.test', groups: ['flink-viewers', 'flink-operators'] },
  { username: 'nora', password: 'nora-password-1', email: 'nora@example.test', groups: ['marketing'] },
];

export interface StartOidcProviderOptions {
  /**
   * Redirect URIs registered for the confidential `flinktrail` client (FlinkTrail's callback).
   * A function is called at the provider's first request: FlinkTrail can then be started after
   * the provider, on port 0, with the provider's issuer in its configuration.
   */
  redirectUris: string[] | (() => string[]);
  users?: readonly TestUser[];
  /**
   * Host name in the issuer URL (default 127.0.0.1; it always listens on 127.0.0.1). `localhost`
   * makes the provider another *site* than a FlinkTrail on 127.0.0.1, as in production, which
   * matters to browsers' SameSite rules.
   */
  issuerHost?: '127.0.0.1' | 'localhost';
  /** `post_logout_redirect_uris` of the `flinktrail` client (read at the first request, like `redirectUris`). */
  postLogoutRedirectUris?: () => string[];
}

export interface Credentials {
  username: string;
  password: string;
  otp?: string;
  /** Press "deny" instead of signing in: the provider answers `error=access_denied`. */
  deny?: boolean;
}

export interface TestOidcProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** `aud` of access tokens for FlinkTrail. */
  audience: string;
  /** Resource indicator whose tokens have `audience` but live 2 seconds. */
  shortLivedResource: string;
  /** Resource indicator of another API (tokens with another `aud`). */
  otherResource: string;
  /** Resource indicator whose access tokens are opaque (introspected), audience `audience`. */
  opaqueResource: string;
  /** Opaque tokens for another API. */
  opaqueOtherResource: string;
  /** Opens an `end_session_endpoint` URL as a browser would, confirms the sign-out, and returns where the provider sends the browser. */
  endSession(url: string | URL): Promise<URL>;
  /** The provider's public signing key set, as served at jwks_uri. */
  jwks: jose.JSONWebKeySet;
  /** Follows the provider's redirects from `authorizationUrl`, signs in, and returns the URL it sends the browser back to. */
  login(authorizationUrl: string | URL, who: Credentials): Promise<URL>;
  /** A JWT access token for `who` from the public PKCE client (authorization code flow). */
  accessToken(who: Credentials, opts?: { resource?: string }): Promise<string>;
  close(): Promise<void>;
}

export const CLI_CLIENT_ID = 'flinktrail-cli';
const CLI_REDIRECT = 'http://127.0.0.1/cli-callback';
const AUDIENCE = 'urn:flinktrail:api';

async function readForm(ctx: KoaContext): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > 64 * 1024) throw new Error('form too large');
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginPage(uid: string, error?: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>Test IdP sign-in</title></head><body>
<h1>Test identity provider</h1>${error ? `<p id="error">${esc(error)}</p>` : ''}
<form method="post" action="/interaction/${esc(uid)}/login">
<label>User <input name="username" autocomplete="username"></label>
<label>Password <input name="password" type="password"></label>
<label>One-time code <input name="otp"></label>
<button type="submit" id="signin">Sign in</button>
</form>
<form method="post" action="/interaction/${esc(uid)}/abort"><button type="submit" id="deny">Deny</button></form>
</body></html>`;
}

/** A tiny cookie jar: name → value, ignoring paths (the provider scopes its own cookies). */
class Jar {
  private readonly cookies = new Map<string, string>();
  take(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair = '', ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a) || (/^\s*expires=/i.test(a) && Date.parse(a.split('=')[1] ?? '') < Date.now()));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

export function startOidcProvider(opts: StartOidcProviderOptions): Promise<TestOidcProvider> {
  return starting(start(opts));
}

async function start(opts: StartOidcProviderOptions): Promise<TestOidcProvider> {
  const users = new Map((opts.users ?? DEFAULT_USERS).map((u) => [u.username, u]));
  const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
  const signingKey = { ...(await jose.exportJWK(privateKey)), kid: randomBytes(8).toString('hex'), alg: 'RS256', use: 'sig' };
  const clientSecret = randomBytes(24).toString('base64url');
  const shortLivedResource = `${AUDIENCE}:short-lived`;
  const otherResource = 'urn:other:api';
  const opaqueResource = `${AUDIENCE}:opaque`;
  const opaqueOtherResource = `${otherResource}:opaque`;

  // The issuer needs the port before the provider exists: listen first, build on first request.
  let handle: ReturnType<Provider['callback']> | undefined;
  const server = createServer((req, res) => {
    handle ??= build(typeof opts.redirectUris === 'function' ? opts.redirectUris() : opts.redirectUris, opts.postLogoutRedirectUris?.() ?? []).callback();
    void handle(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://${opts.issuerHost ?? '127.0.0.1'}:${port}`;

  const claimsOf = (u: TestUser) => ({
    sub: u.username,
    preferred_username: u.username,
    name: u.username,
    email: u.email,
    email_verified: true,
    groups: u.groups,
  });

  function build(redirectUris: string[], postLogoutRedirectUris: string[]): Provider {
    const provider = new Provider(issuer, {
      clients: [
        {
          client_id: 'flinktrail',
          client_secret: clientSecret,
          redirect_uris: redirectUris,
          post_logout_redirect_uris: postLogoutRedirectUris,
          grant_types: ['authorization_code'],
          response_types: ['code'],
          token_endpoint_auth_method: 'client_secret_basic',
        },
        {
          client_id: CLI_CLIENT_ID,
          application_type: 'native',
          token_endpoint_auth_method: 'none',
          redirect_uris: [CLI_REDIRECT],
          grant_types: ['authorization_code'],
          response_types: ['code'],
        },
      ],
      jwks: { keys: [signingKey] },
      cookies: { keys: [randomBytes(32).toString('base64url')] },
      // amr, acr and auth_time are released in ID tokens only when listed here.
      claims: {
        acr: null,
        amr: null,
        auth_time: null,
        sid: null,
        iss: null,
        openid: ['sub'],
        profile: ['preferred_username', 'name'],
        email: ['email', 'email_verified'],
        groups: ['groups'],
      },
      findAccount: (_ctx: unknown, sub: string) => {
        const u = users.get(sub);
        return u ? { accountId: sub, claims: () => claimsOf(u) } : undefined;
      },
      pkce: { required: () => true },
      features: {
        devInteractions: { enabled: false },
        claimsParameter: { enabled: true },
        // The default policy lets a confidential client introspect any token (FlinkTrail as resource server).
        introspection: { enabled: true },
        rpInitiatedLogout: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: (_ctx: unknown, _client: unknown, oneOf?: string[]) => oneOf,
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx: unknown, resource: string) => {
            const jwt = { sign: { alg: 'RS256' } };
            if (resource === AUDIENCE) return { scope: 'flinktrail', audience: AUDIENCE, accessTokenTTL: 600, accessTokenFormat: 'jwt', jwt };
            if (resource === shortLivedResource) return { scope: 'flinktrail', audience: AUDIENCE, accessTokenTTL: 2, accessTokenFormat: 'jwt', jwt };
            if (resource === otherResource) return { scope: 'flinktrail', audience: otherResource, accessTokenTTL: 600, accessTokenFormat: 'jwt', jwt };
            if (resource === opaqueResource) return { scope: 'flinktrail', audience: AUDIENCE, accessTokenTTL: 600, accessTokenFormat: 'opaque' };
            if (resource === opaqueOtherResource) return { scope: 'flinktrail', audience: otherResource, accessTokenTTL: 600, accessTokenFormat: 'opaque' };
            throw new oidcErrors.InvalidTarget();
          },
        },
      },
      // Like Keycloak or Entra ID: who, groups and how they signed in travel in the access token.
      extraTokenClaims: (ctx: KoaContext, token: TokenLike) => {
        if (token.kind !== 'AccessToken' || !token.accountId) return undefined;
        const u = users.get(token.accountId);
        const source = ctx.oidc?.entities['AuthorizationCode'] ?? ctx.oidc?.entities['RefreshToken'];
        return {
          ...(u ? { preferred_username: u.username, email: u.email, groups: u.groups } : {}),
          ...(source?.amr ? { amr: source.amr } : {}),
          ...(source?.authTime ? { auth_time: source.authTime } : {}),
        };
      },
      ttl: {
        AccessToken: (_ctx: unknown, token: { resourceServer?: { accessTokenTTL?: number } }) => token.resourceServer?.accessTokenTTL ?? 600,
        AuthorizationCode: 60,
        IdToken: 600,
        Interaction: 600,
        Session: 3600,
        Grant: 3600,
      },
      interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    });

    // The interaction endpoints (login form, automatic consent, deny).
    provider.use(async (ctx, next) => {
      const m = /^\/interaction\/([A-Za-z0-9_-]+)(\/login|\/abort)?$/.exec(ctx.path);
      if (!m) return next();
      const finish = async (result: Record<string, unknown>) => {
        const to = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
        ctx.status = 303;
        ctx.set('location', to);
        ctx.body = '';
      };
      const details = await provider.interactionDetails(ctx.req, ctx.res);
      if (m[2] === '/abort') return finish({ error: 'access_denied', error_description: 'The user denied the sign-in.' });
      if (m[2] === '/login' && ctx.method === 'POST') {
        const form = await readForm(ctx);
        const u = users.get(form.get('username') ?? '');
        if (!u || u.password !== form.get('password')) {
          ctx.status = 200;
          ctx.type = 'html';
          ctx.body = loginPage(details.uid, 'Wrong user or password.');
          return;
        }
        const otp = form.get('otp') ?? '';
        if (otp && otp !== u.otp) {
          ctx.status = 200;
          ctx.type = 'html';
          ctx.body = loginPage(details.uid, 'Wrong one-time code.');
          return;
        }
        return finish({ login: { accountId: u.username, amr: otp ? ['pwd', 'otp'] : ['pwd'], remember: false } });
      }
      if (details.prompt.name === 'login') {
        ctx.status = 200;
        ctx.type = 'html';
        ctx.body = loginPage(details.uid);
        return;
      }
      // Consent: FlinkTrail is first-party, grant what was asked.
      const accountId = details.session?.accountId ?? '';
      const grant = details.grantId ? await provider.Grant.find(details.grantId) : new provider.Grant({ accountId, clientId: details.params.client_id });
      if (!grant) throw new Error('grant vanished');
      const d = details.prompt.details;
      if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
      if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
      for (const [resource, scopes] of Object.entries(d.missingResourceScopes ?? {})) grant.addResourceScope(resource, scopes.join(' '));
      return finish({ consent: { grantId: await grant.save() } });
    });
    return provider;
  }

  async function login(authorizationUrl: string | URL, who: Credentials): Promise<URL> {
    const jar = new Jar();
    let url = new URL(authorizationUrl);
    let submitted = false;
    for (let hop = 0; hop < 12; hop++) {
      if (url.origin !== issuer) return url; // back at the client
      const res = await fetch(url, { redirect: 'manual', headers: { cookie: jar.header() } });
      jar.take(res);
      const body = await res.text();
      if (res.status >= 300 && res.status < 400) {
        url = new URL(res.headers.get('location') ?? '', url);
        continue;
      }
      const interaction = /^\/interaction\/([A-Za-z0-9_-]+)$/.exec(url.pathname);
      if (res.status !== 200 || !interaction || submitted) throw new Error(`unexpected provider answer at ${url.pathname}: ${res.status} ${body.slice(0, 300)}`);
      submitted = true;
      const action = `${issuer}/interaction/${interaction[1]}/${who.deny ? 'abort' : 'login'}`;
      const form = new URLSearchParams({ username: who.username, password: who.password, otp: who.otp ?? '' });
      const posted = await fetch(action, { method: 'POST', redirect: 'manual', headers: { cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded' }, body: form });
      jar.take(posted);
      const text = await posted.text();
      if (posted.status !== 303) throw new Error(`sign-in at the provider failed: ${posted.status} ${text.slice(0, 300)}`);
      url = new URL(posted.headers.get('location') ?? '', action);
    }
    throw new Error('too many redirects at the provider');
  }

  async function accessToken(who: Credentials, tokenOpts: { resource?: string } = {}): Promise<string> {
    const resource = tokenOpts.resource ?? AUDIENCE;
    const verifier = randomBytes(32).toString('base64url');
    const state = randomBytes(16).toString('base64url');
    const auth = new URL(`${issuer}/auth`);
    auth.search = new URLSearchParams({
      client_id: CLI_CLIENT_ID,
      response_type: 'code',
      redirect_uri: CLI_REDIRECT,
      scope: 'openid profile email groups flinktrail',
      resource,
      state,
      nonce: randomBytes(16).toString('base64url'),
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    }).toString();
    const back = await login(auth, who);
    const code = back.searchParams.get('code');
    if (!code || back.searchParams.get('state') !== state) throw new Error(`no code in ${back.href}`);
    const res = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: CLI_REDIRECT, code_verifier: verifier, client_id: CLI_CLIENT_ID, resource }),
    });
    const body = (await res.json()) as { access_token?: string; error?: string };
    if (!res.ok || !body.access_token) throw new Error(`token request failed: ${res.status} ${JSON.stringify(body)}`);
    return body.access_token;
  }

  async function endSession(url: string | URL): Promise<URL> {
    const jar = new Jar();
    const page = await fetch(url, { redirect: 'manual' });
    jar.take(page);
    const html = await page.text();
    // An invalid id_token_hint or an unregistered post_logout_redirect_uri is an error page here.
    if (page.status !== 200) throw new Error(`end_session answered ${page.status}: ${html.slice(0, 300)}`);
    const form = /<form[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/.exec(html);
    if (!form) throw new Error(`no sign-out form at the provider: ${html.slice(0, 300)}`);
    const fields = new URLSearchParams({ logout: 'yes' });
    for (const m of (form[2] ?? '').matchAll(/<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)) fields.set(m[1]!, m[2]!);
    const action = new URL(form[1]!, url);
    const done = await fetch(action, { method: 'POST', redirect: 'manual', headers: { cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded' }, body: fields });
    await done.text();
    if (done.status < 300 || done.status >= 400) throw new Error(`sign-out confirmation answered ${done.status}`);
    let next = new URL(done.headers.get('location') ?? '', action);
    // oidc-provider ends its session at /session/end/success-like hops before the client's URI.
    for (let hop = 0; hop < 5 && next.origin === issuer; hop++) {
      const r = await fetch(next, { redirect: 'manual', headers: { cookie: jar.header() } });
      await r.text();
      if (r.status < 300 || r.status >= 400) break;
      next = new URL(r.headers.get('location') ?? '', next);
    }
    return next;
  }

  const publicKey = { kty: signingKey.kty, n: signingKey.n, e: signingKey.e, kid: signingKey.kid, alg: signingKey.alg, use: signingKey.use };
  return {
    issuer,
    clientId: 'flinktrail',
    clientSecret,
    audience: AUDIENCE,
    shortLivedResource,
    otherResource,
    opaqueResource,
    opaqueOtherResource,
    endSession,
    jwks: { keys: [publicKey] },
    login,
    accessToken,
    close: register({
      name: 'OpenID provider',
      stop: () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    }),
  };
}
