/**
 * OpenID Connect: JWT bearer tokens for the API and the gateway, and single sign-on for the
 * console (authorization code + PKCE), both turning the provider's claims into a Principal.
 *
 * - Bearer: `Authorization: Bearer <JWT>` is verified against the issuer's JWKS (found through
 *   `/.well-known/openid-configuration`, cached; an unknown `kid` refetches the set, so key
 *   rotation needs no restart; when the provider is unreachable the last good keys keep working),
 *   with `iss`, `aud`, `exp`/`nbf` checked under `clockSkewSeconds`. Only asymmetric algorithms
 *   are accepted: `alg: none` and HMAC tokens are refused before any key is looked up.
 * - Console SSO: `startLogin` builds the authorization URL and a short-lived HMAC-signed cookie
 *   holding state, nonce and the PKCE verifier; `finishLogin` checks the state, exchanges the code
 *   (openid-client), verifies the ID token again with our own JWKS (signature, issuer, audience,
 *   nonce) and fills missing claims from the userinfo endpoint.
 * - Identity: the user name comes from `usernameClaim`, the role from `roleClaim` through
 *   `roleMapping` (the highest mapped role wins, else `defaultRole`, else refused), MFA from
 *   `amr`. OIDC users are kept in the Directory (`source: oidc`, created on first sight, role
 *   refreshed from every token), so they can be disabled, get policies, and keep one principalId
 *   across console sessions and bearer calls; a name that belongs to a local user is refused.
 * Every failure is an AuthError with a reason for the record; the client sees a coded error.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import * as jose from 'jose';
import * as oidcClient from 'openid-client';
import { FlinkTrailError, type ErrorCode } from '../errors/index.js';
import { resolveSecret } from '../secrets/index.js';
import type { Logger } from '../telemetry/logger.js';
import { AuthError, type AuthContext, type AuthMethodPlugin, type Principal } from './authenticate.js';
import { memberOf, ROLES, type Directory, type Role } from './directory.js';
import { IntrospectionCache, judgeIntrospection } from './oidc-introspection.js';

/** When bearer tokens of an issuer are checked at its introspection endpoint (RFC 7662). */
export const INTROSPECTION_MODES = ['opaque', 'always', 'off'] as const;
export type IntrospectionMode = (typeof INTROSPECTION_MODES)[number];

/** One provider of `auth.oidc.providers`: its own keys, the rest inherited from `auth.oidc`. */
export interface OidcProviderSettings {
  name: string;
  displayName?: string;
  issuer: string;
  clientId: string;
  clientSecret?: string;
  audience?: string;
  scopes?: readonly string[];
  roleClaim?: string;
  roleMapping?: Readonly<Record<string, Role>>;
  defaultRole?: Role;
  usernameClaim?: string;
  introspection?: IntrospectionMode;
}

/** The `auth.oidc` configuration section (see src/config/schema.ts); also one provider's flattened settings. */
export interface OidcSettings {
  enabled: boolean;
  /** Provider name (login `?provider=`, the state cookie, `source: oidc:<name>` of its users). */
  name?: string;
  displayName?: string;
  issuer?: string;
  clientId?: string;
  clientSecret?: string;
  redirectUri?: string;
  scopes: readonly string[];
  audience?: string;
  clockSkewSeconds: number;
  roleClaim: string;
  roleMapping: Readonly<Record<string, Role>>;
  defaultRole?: Role;
  usernameClaim: string;
  introspection?: IntrospectionMode;
  introspectionCacheSeconds?: number;
  providerLogout?: boolean;
  postLogoutRedirectUri?: string;
  providers?: readonly OidcProviderSettings[];
  /** Set by `providerSettings` for the list form: users are kept as `source: oidc:<name>`. */
  userSource?: string;
  /** The first provider of the list also owns users kept as plain `oidc` (made under the single-provider form). */
  ownsLegacyUsers?: boolean;
}

export interface OidcDeps {
  directory: Directory;
  /** HMAC key of the login-state cookie (kept in the database, so every instance shares it). */
  stateKey: string;
  log?: Logger;
  /** Tests: shorter JWKS refetch cooldown (default 30 s). */
  jwksCooldownMs?: number;
  /** Tests: a fixed clock (epoch ms). */
  now?: () => number;
}

/** `amr` values (RFC 8176) that mean a second factor was used. */
export const MFA_AMR_VALUES: readonly string[] = ['mfa', 'otp', 'hwk'];

/** When several groups map to roles, the highest wins. `auditor` reads the trail but not Flink. */
export const ROLE_PRECEDENCE: readonly Role[] = ['admin', 'developer', 'operator', 'auditor', 'viewer'];

/** Signature algorithms accepted for tokens: asymmetric only (no `none`, no shared-secret HMAC). */
export const ACCEPTED_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

/** Name of the cookie that carries the login state between `/login` and `/callback`. */
export const STATE_COOKIE = 'ft_oidc';
/** How long a started sign-in may take at the provider. */
export const STATE_TTL_MS = 10 * 60_000;

const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$/;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** The validated settings every other function relies on. */
interface Resolved extends OidcSettings {
  name: string;
  displayName: string;
  issuer: string;
  clientId: string;
  audience: string;
  introspection: IntrospectionMode;
  userSource: string;
}

export const DEFAULT_PROVIDER_NAME = 'default';
const PROVIDER_NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;

/**
 * The providers of an `auth.oidc` section, each as flattened single-provider settings: the single
 * form (`issuer`, `clientId`, … at the top) is one provider named `default`; the list form
 * (`providers`) inherits every shared key it does not set. Both at once is a configuration error.
 */
export function providerSettings(s: OidcSettings): OidcSettings[] {
  const list = s.providers ?? [];
  if (list.length === 0) return [{ ...s, providers: undefined }];
  if (s.issuer !== undefined || s.clientId !== undefined || s.clientSecret !== undefined || s.audience !== undefined) {
    throw new FlinkTrailError('FT_ERR_CONFIG_INVALID', 'auth.oidc: give either issuer/clientId/clientSecret/audience (one provider) or providers (several), not both; move the top-level ones into a providers entry');
  }
  const problems: string[] = [];
  const names = new Set<string>();
  const issuers = new Set<string>();
  list.forEach((p, i) => {
    if (!PROVIDER_NAME.test(p.name)) problems.push(`auth.oidc.providers[${i}].name '${p.name}' must be 1-32 lower-case letters, digits and -`);
    if (names.has(p.name)) problems.push(`auth.oidc.providers[${i}].name '${p.name}' is used twice`);
    // Bearer tokens are routed by iss: two entries for one issuer would make the route ambiguous.
    if (issuers.has(p.issuer)) problems.push(`auth.oidc.providers[${i}].issuer '${p.issuer}' is listed twice`);
    names.add(p.name);
    issuers.add(p.issuer);
  });
  if (problems.length) throw new FlinkTrailError('FT_ERR_CONFIG_INVALID', problems.join('; '));
  return list.map((p, i) => {
    const { providers: _all, ...shared } = s;
    void _all;
    return { ...shared, ...Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)), userSource: `oidc:${p.name}`, ownsLegacyUsers: i === 0 };
  });
}

/** Checks what the schema cannot: required keys when enabled, TLS to the provider. */
export function resolveSettings(s: OidcSettings): Resolved {
  const problems: string[] = [];
  if (!s.issuer) problems.push('auth.oidc.issuer (or auth.oidc.providers) is required when auth.oidc.enabled is true');
  if (!s.clientId) problems.push('auth.oidc.clientId is required when auth.oidc.enabled is true');
  if (s.name !== undefined && !PROVIDER_NAME.test(s.name)) problems.push(`auth.oidc.name '${s.name}' must be 1-32 lower-case letters, digits and -`);
  if (s.issuer) {
    let u: URL | undefined;
    try {
      u = new URL(s.issuer);
    } catch {
      problems.push(`auth.oidc.issuer '${s.issuer}' is not a URL`);
    }
    // Keys and claims come from the issuer: plain HTTP would let anyone on the path mint tokens.
    if (u && u.protocol !== 'https:' && !(u.protocol === 'http:' && LOOPBACK.has(u.hostname))) {
      problems.push('auth.oidc.issuer must use https:// (plain http:// only on a loopback address)');
    }
  }
  for (const [group, role] of Object.entries(s.roleMapping)) {
    if (!(ROLES as readonly string[]).includes(role)) problems.push(`auth.oidc.roleMapping.${group}: unknown role '${String(role)}'`);
  }
  if (problems.length) throw new FlinkTrailError('FT_ERR_CONFIG_INVALID', problems.join('; '));
  const name = s.name ?? DEFAULT_PROVIDER_NAME;
  return {
    ...s,
    name,
    displayName: s.displayName ?? (s.issuer ? new URL(s.issuer).host : name),
    issuer: s.issuer as string,
    clientId: s.clientId as string,
    audience: s.audience ?? (s.clientId as string),
    // `env:NAME` / `file:/path` references are read once, at start-up: a missing one stops it with a clear error.
    ...(s.clientSecret !== undefined ? { clientSecret: resolveSecret(s.clientSecret) } : {}),
    introspection: s.introspection ?? 'opaque',
    userSource: s.userSource ?? 'oidc',
  };
}

/** A claim by name; a name that is not a claim itself may be a dotted path (`realm_access.roles`). */
export function claimAt(claims: Record<string, unknown>, name: string): unknown {
  if (Object.hasOwn(claims, name)) return claims[name];
  let cur: unknown = claims;
  for (const part of name.split('.')) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur) || !Object.hasOwn(cur, part)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** The role for a role claim (a list, or one string): the highest mapped role, else the default. */
export function roleFor(claim: unknown, mapping: Readonly<Record<string, Role>>, defaultRole?: Role): Role | undefined {
  const values = Array.isArray(claim) ? claim.filter((v): v is string => typeof v === 'string') : typeof claim === 'string' ? [claim] : [];
  const mapped = new Set(values.flatMap((v) => (Object.hasOwn(mapping, v) ? [mapping[v] as Role] : [])));
  return ROLE_PRECEDENCE.find((r) => mapped.has(r)) ?? defaultRole;
}

/** Whether `amr` says a second factor was used. */
export function mfaFromAmr(amr: unknown): boolean {
  return Array.isArray(amr) && amr.some((v) => typeof v === 'string' && MFA_AMR_VALUES.includes(v));
}

// --- the login-state cookie: base64url(JSON) "." base64url(HMAC-SHA256)

export interface LoginState {
  state: string;
  nonce: string;
  codeVerifier: string;
  /** The redirect_uri sent to the provider; the token request must repeat it. */
  redirectUri: string;
  /** Console path to land on after sign-in. */
  returnTo: string;
  /** Epoch ms after which the cookie is refused. */
  expiresAt: number;
  /** Name of the provider the sign-in went to (absent: `default`, cookies of older versions). */
  provider?: string;
}

export function sealState(key: string, s: LoginState): string {
  const body = Buffer.from(JSON.stringify(s)).toString('base64url');
  return `${body}.${createHmac('sha256', key).update(body).digest('base64url')}`;
}

/** The state in a cookie value, or undefined when it is forged, damaged or expired. */
export function openState(key: string, value: string | undefined, now = Date.now()): LoginState | undefined {
  if (!value || value.length > 4096) return undefined;
  const dot = value.indexOf('.');
  if (dot <= 0) return undefined;
  const body = value.slice(0, dot);
  const mac = Buffer.from(value.slice(dot + 1), 'base64url');
  const expected = createHmac('sha256', key).update(body).digest();
  if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) return undefined;
  try {
    const s = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as LoginState;
    if (typeof s.expiresAt !== 'number' || s.expiresAt < now) return undefined;
    return s;
  } catch {
    return undefined;
  }
}

/** The provider a state cookie names, unverified: only to pick the provider whose `finishLogin` then verifies it. */
export function stateProvider(value: string | undefined): string | undefined {
  const body = value?.split('.')[0];
  if (!body || body.length > 4096) return undefined;
  try {
    const p = (JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Partial<LoginState>).provider;
    return typeof p === 'string' ? p : DEFAULT_PROVIDER_NAME;
  } catch {
    return undefined;
  }
}

/** A console path safe to redirect to: same origin, no scheme, no `//host`. */
export function safeReturnTo(v: unknown): string {
  if (typeof v !== 'string' || v.length > 2048 || !v.startsWith('/') || v.startsWith('//') || /[\\\s]/.test(v)) return '/';
  return v;
}

export const attemptedOf = (claims: Record<string, unknown> | undefined, usernameClaim: string): AuthError['attempted'] => {
  const name = claims ? claimAt(claims, usernameClaim) : undefined;
  return typeof name === 'string' && USER_NAME.test(name) ? { userName: name } : {};
};

const fail = (code: ErrorCode, attempted: AuthError['attempted'], reason: string, ...args: unknown[]) => new AuthError(code, attempted, reason, ...args);

/** The token of `Authorization: Bearer …`, undefined without one; refuses an empty or huge one. */
export function bearerToken(ctx: AuthContext): string | undefined {
  const auth = ctx.authorization;
  if (!auth || !/^bearer\s/i.test(auth)) return undefined;
  const token = auth.slice(7).trim();
  if (token.length === 0 || token.length > 16_384) throw fail('FT_ERR_OIDC_TOKEN_INVALID', {}, 'malformed token', 'it is empty or too long');
  return token;
}

/** Three base64url parts with a JSON header: a JWS compact serialization; anything else is opaque. */
export function looksLikeJwt(token: string): boolean {
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/.test(token)) return false;
  try {
    jose.decodeProtectedHeader(token);
    return true;
  } catch {
    return false;
  }
}

/** The claims of a JWT, unverified: only to route it to the issuer that will verify it. */
export function unverifiedClaims(token: string): Record<string, unknown> | undefined {
  try {
    return jose.decodeJwt(token);
  } catch {
    return undefined;
  }
}


/** Maps a jose verification error to the coded refusal and the reason recorded. */
function refusal(err: unknown, attempted: AuthError['attempted']): AuthError {
  const e = jose.errors;
  if (err instanceof e.JWTExpired) return fail('FT_ERR_OIDC_TOKEN_EXPIRED', attempted, 'token expired');
  if (err instanceof e.JWTClaimValidationFailed) {
    const reason =
      err.claim === 'aud' ? 'wrong audience' : err.claim === 'iss' ? 'foreign issuer' : err.claim === 'nbf' ? 'token not yet valid' : `claim ${err.claim} ${err.reason}`;
    return fail('FT_ERR_OIDC_TOKEN_INVALID', attempted, reason, reason);
  }
  if (err instanceof e.JWSSignatureVerificationFailed) return fail('FT_ERR_OIDC_TOKEN_INVALID', attempted, 'bad signature', 'the signature does not verify');
  if (err instanceof e.JWKSNoMatchingKey || err instanceof e.JWKSMultipleMatchingKeys) {
    return fail('FT_ERR_OIDC_TOKEN_INVALID', attempted, 'unknown signing key', 'it is not signed by a key of the identity provider');
  }
  if (err instanceof e.JOSEAlgNotAllowed || err instanceof e.JOSENotSupported) {
    return fail('FT_ERR_OIDC_TOKEN_INVALID', attempted, 'algorithm not allowed', 'its signature algorithm is not accepted');
  }
  if (err instanceof e.JWSInvalid || err instanceof e.JWTInvalid) return fail('FT_ERR_OIDC_TOKEN_INVALID', attempted, 'malformed token', 'it is not a well-formed JWT');
  return fail('FT_ERR_OIDC_PROVIDER_UNAVAILABLE', attempted, `provider unavailable: ${(err as Error).message}`.slice(0, 200), 'its signing keys could not be fetched');
}

interface Discovered {
  metadata: oidcClient.ServerMetadata;
  keys: jose.JWTVerifyGetKey;
  client: oidcClient.Configuration;
}

/**
 * OIDC for one issuer. `plugin` goes into the Authenticator's `plugins`; the console routes
 * (src/api/oidc-routes.ts) call `startLogin` and `finishLogin`.
 *
 * @example
 * const oidc = new OidcIdentity(config.auth.oidc, { directory, stateKey });
 * new Authenticator(directory, { anonymous: false, plugins: [oidc.plugin] });
 */
export class OidcIdentity {
  readonly settings: Resolved;
  readonly plugin: AuthMethodPlugin;
  private discovered?: Promise<Discovered>;
  private lastFailure = 0;
  private readonly introspected: IntrospectionCache;

  constructor(
    settings: OidcSettings,
    private readonly deps: OidcDeps,
  ) {
    this.settings = resolveSettings(settings);
    this.introspected = new IntrospectionCache(this.settings.introspectionCacheSeconds ?? 60);
    this.plugin = { name: 'oidc', authenticate: (ctx) => this.authenticateRequest(ctx) };
  }

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  /** Discovery and keys, fetched once; a failed discovery is retried at most every 5 s. */
  private discover(): Promise<Discovered> {
    if (this.discovered) return this.discovered;
    if (this.now() - this.lastFailure < 5000) {
      return Promise.reject(fail('FT_ERR_OIDC_PROVIDER_UNAVAILABLE', {}, 'provider unavailable: discovery failed recently', 'discovery failed recently'));
    }
    const p = this.fetchDiscovery();
    this.discovered = p;
    p.catch((err: unknown) => {
      this.discovered = undefined;
      this.lastFailure = this.now();
      this.deps.log?.warn({ issuer: this.settings.issuer, err: (err as Error).message }, 'OpenID provider discovery failed; sign-ins with it are refused until it answers.');
    });
    return p;
  }

  private async fetchDiscovery(): Promise<Discovered> {
    const { issuer, clientId, clientSecret } = this.settings;
    const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    let metadata: oidcClient.ServerMetadata;
    try {
      const res = await fetch(url, { headers: { accept: 'application/json' }, redirect: 'error', signal: AbortSignal.timeout(5000) });
      if (!res.ok) throw new Error(`${url} answered ${res.status}`);
      metadata = (await res.json()) as oidcClient.ServerMetadata;
    } catch (err) {
      throw fail('FT_ERR_OIDC_PROVIDER_UNAVAILABLE', {}, `provider unavailable: ${(err as Error).message}`.slice(0, 200), 'its discovery document could not be fetched');
    }
    // OpenID Connect Discovery §4.3: the document must name exactly the issuer we asked.
    if (metadata.issuer !== issuer || typeof metadata.jwks_uri !== 'string') {
      throw fail('FT_ERR_OIDC_PROVIDER_UNAVAILABLE', {}, 'provider discovery document names another issuer or no jwks_uri', 'its discovery document does not match the configured issuer');
    }
    const remote = jose.createRemoteJWKSet(new URL(metadata.jwks_uri), { cooldownDuration: this.deps.jwksCooldownMs ?? 30_000, timeoutDuration: 5000 });
    // Serve the last good keys while the provider is unreachable: an outage of the provider
    // must not lock every bearer client out while the keys it signed with are still known.
    const keys: jose.JWTVerifyGetKey = async (header, token) => {
      try {
        return await remote(header, token);
      } catch (err) {
        const cached = remote.jwks();
        if (err instanceof jose.errors.JOSEError && !(err instanceof jose.errors.JWKSTimeout) && err.code !== 'ERR_JOSE_GENERIC') throw err;
        if (!cached) throw err;
        try {
          return await jose.createLocalJWKSet(cached)(header, token);
        } catch (local) {
          // A key we never saw may be a rotation we cannot fetch: unavailable, not invalid.
          throw local instanceof jose.errors.JWKSNoMatchingKey ? err : local;
        }
      }
    };
    const client = new oidcClient.Configuration(
      metadata,
      clientId,
      { [oidcClient.clockTolerance]: this.settings.clockSkewSeconds },
      clientSecret ? oidcClient.ClientSecretBasic(clientSecret) : oidcClient.None(),
    );
    if (new URL(issuer).protocol === 'http:') oidcClient.allowInsecureRequests(client); // loopback only (resolveSettings)
    client.timeout = 10;
    return { metadata, keys, client };
  }

  /**
   * Verifies a JWT from the issuer: signature, `iss`, `aud`, `exp`/`nbf` (with the clock skew).
   * `audience` defaults to the configured one (access tokens); ID tokens use the client id.
   */
  async verify(token: string, audience = this.settings.audience): Promise<Record<string, unknown>> {
    let header: jose.ProtectedHeaderParameters;
    let unverified: jose.JWTPayload;
    try {
      header = jose.decodeProtectedHeader(token);
      unverified = jose.decodeJwt(token);
    } catch {
      throw fail('FT_ERR_OIDC_TOKEN_INVALID', {}, 'malformed token', 'it is not a well-formed JWT');
    }
    const attempted = attemptedOf(unverified, this.settings.usernameClaim);
    // Refused before any key lookup: an unsigned token, or one of another issuer (whose keys we
    // would otherwise try to find in ours, refetching the JWKS for nothing).
    if (typeof header.alg !== 'string' || header.alg.toLowerCase() === 'none') throw fail('FT_ERR_OIDC_TOKEN_INVALID', attempted, 'unsigned token', 'unsigned tokens (alg none) are not accepted');
    if (!ACCEPTED_ALGORITHMS.includes(header.alg)) throw fail('FT_ERR_OIDC_TOKEN_INVALID', attempted, 'algorithm not allowed', `algorithm ${header.alg.slice(0, 20)} is not accepted`);
    if (unverified.iss !== this.settings.issuer) throw fail('FT_ERR_OIDC_TOKEN_INVALID', attempted, 'foreign issuer', 'it was issued by another identity provider');
    const { keys } = await this.discover();
    try {
      const { payload } = await jose.jwtVerify(token, keys, {
        issuer: this.settings.issuer,
        audience,
        algorithms: ACCEPTED_ALGORITHMS,
        clockTolerance: this.settings.clockSkewSeconds,
        requiredClaims: ['sub', 'exp'],
        currentDate: new Date(this.now()),
      });
      return payload;
    } catch (err) {
      throw refusal(err, attempted);
    }
  }

  /** The Principal for verified claims; creates or refreshes the Directory user. */
  async principalOf(claims: Record<string, unknown>): Promise<Principal> {
    const s = this.settings;
    const attempted = attemptedOf(claims, s.usernameClaim);
    const userName = claimAt(claims, s.usernameClaim);
    if (typeof userName !== 'string' || !USER_NAME.test(userName)) {
      throw fail('FT_ERR_OIDC_CLAIMS', attempted, `claim ${s.usernameClaim} missing or not a valid user name`, s.usernameClaim);
    }
    const role = roleFor(claimAt(claims, s.roleClaim), s.roleMapping, s.defaultRole);
    if (!role) throw fail('FT_ERR_OIDC_NO_ROLE', attempted, `no role mapped from claim ${s.roleClaim}`, s.roleClaim);
    const email = typeof claims['email'] === 'string' && claims['email'].length <= 320 ? claims['email'] : undefined;
    let user = await this.deps.directory.userByName(userName);
    // Users of one provider are never taken over by another: alice of one issuer is not alice of the next.
    const ours = user && (user.source === s.userSource || (s.ownsLegacyUsers === true && user.source === 'oidc'));
    if (user && !ours) {
      const reason = user.source.startsWith('oidc') ? 'name belongs to a user of another identity provider' : 'name belongs to a local user';
      throw fail('FT_ERR_OIDC_USER_CONFLICT', attempted, reason, userName);
    }
    if (user?.disabled) throw fail('FT_ERR_AUTH_INVALID', attempted, 'user disabled');
    if (!user) user = await this.deps.directory.createUser(userName, role, undefined, false, { source: s.userSource, ...(email ? { email } : {}) });
    else if (user.role !== role || (email && user.email !== email)) user = await this.deps.directory.createUser(userName, role, undefined, true, email ? { email } : {});
    const when = typeof claims['auth_time'] === 'number' ? claims['auth_time'] : typeof claims['iat'] === 'number' ? claims['iat'] : undefined;
    return {
      type: 'assumed-role',
      principalId: user.id,
      userName: user.name,
      role,
      ...memberOf(user),
      method: 'oidc',
      mfaAuthenticated: mfaFromAmr(claims['amr']),
      ...(when !== undefined ? { sessionCreatedAt: when * 1000 } : {}),
      ...(email ? { email } : {}),
      attributes: { issuer: s.issuer, subject: String(claims['sub']).slice(0, 255) },
    };
  }

  private async authenticateRequest(ctx: AuthContext): Promise<Principal | undefined> {
    const token = bearerToken(ctx);
    return token === undefined ? undefined : this.authenticateToken(token);
  }

  /** The Principal of a bearer token of this issuer: a JWT verified here, or any token introspected when configured so. */
  async authenticateToken(token: string): Promise<Principal> {
    const mode = this.settings.introspection;
    if (mode === 'always' || (mode === 'opaque' && !looksLikeJwt(token))) return this.principalOf(await this.introspect(token));
    return this.principalOf(await this.verify(token));
  }

  /**
   * Asks the issuer's introspection endpoint (RFC 7662, authenticated as FlinkTrail's client)
   * whether a token is active, and checks issuer, audience and type (oidc-introspection.ts).
   * Accepted answers are cached briefly; the token itself is never logged or recorded.
   */
  async introspect(token: string): Promise<Record<string, unknown>> {
    const s = this.settings;
    const cached = this.introspected.get(token, this.now());
    if (cached) return cached;
    const { client, metadata } = await this.discover();
    if (typeof metadata.introspection_endpoint !== 'string') {
      throw fail('FT_ERR_OIDC_TOKEN_INVALID', {}, 'malformed token', 'it is not a JWT, and the identity provider offers no token introspection');
    }
    if (!s.clientSecret) throw fail('FT_ERR_OIDC_TOKEN_INVALID', {}, 'introspection needs a client secret', 'it is not a JWT and FlinkTrail has no client secret to introspect it with');
    let answer: Record<string, unknown>;
    try {
      answer = await oidcClient.tokenIntrospection(client, token, { token_type_hint: 'access_token' });
    } catch (err) {
      const e = err as Error & { error?: string };
      // Our client credentials refused, or the provider down: the token's fault in neither case.
      const why = typeof e.error === 'string' ? `introspection refused: ${e.error}` : `provider unavailable: ${e.message}`;
      throw fail('FT_ERR_OIDC_PROVIDER_UNAVAILABLE', {}, why.slice(0, 200), 'its introspection endpoint did not answer');
    }
    const verdict = judgeIntrospection(answer, { issuer: s.issuer, audience: s.audience, clientId: s.clientId, clockSkewSeconds: s.clockSkewSeconds, nowMs: this.now() });
    if (!verdict.ok) {
      const attempted = attemptedOf(answer, s.usernameClaim);
      if (verdict.reason === 'token expired') throw fail('FT_ERR_OIDC_TOKEN_EXPIRED', attempted, verdict.reason);
      const said = verdict.reason === 'inactive token' ? 'the identity provider says it is not active (expired, revoked or unknown)' : verdict.reason;
      throw fail('FT_ERR_OIDC_TOKEN_INVALID', attempted, verdict.reason, said);
    }
    // `username` is RFC 7662's own name claim: use it when the configured claim is absent.
    const claims = claimAt(verdict.claims, s.usernameClaim) === undefined && typeof answer['username'] === 'string' ? { ...verdict.claims, [s.usernameClaim]: answer['username'] } : verdict.claims;
    this.introspected.put(token, claims, this.now());
    return claims;
  }

  /**
   * Where to send the browser to end the session at the provider too (OpenID Connect
   * RP-Initiated Logout 1.0), or undefined when it has no `end_session_endpoint` or
   * `providerLogout` is off.
   */
  async endSessionUrl(idToken: string | undefined, postLogoutRedirectUri: string | undefined): Promise<URL | undefined> {
    if (this.settings.providerLogout === false) return undefined;
    const { client, metadata } = await this.discover();
    if (typeof metadata.end_session_endpoint !== 'string') return undefined;
    return oidcClient.buildEndSessionUrl(client, {
      client_id: this.settings.clientId,
      ...(idToken ? { id_token_hint: idToken } : {}),
      ...(postLogoutRedirectUri ? { post_logout_redirect_uri: postLogoutRedirectUri } : {}),
    });
  }

  // --- console single sign-on

  /** The provider URL to send the browser to, and the sealed state for the cookie. */
  async startLogin(redirectUri: string, returnTo = '/'): Promise<{ url: URL; cookie: string }> {
    const { client, metadata } = await this.discover();
    const codeVerifier = oidcClient.randomPKCECodeVerifier();
    const state: LoginState = {
      state: oidcClient.randomState(),
      nonce: oidcClient.randomNonce(),
      codeVerifier,
      redirectUri,
      returnTo: safeReturnTo(returnTo),
      expiresAt: this.now() + STATE_TTL_MS,
      provider: this.settings.name,
    };
    const scopes = new Set(['openid', ...this.settings.scopes]);
    const url = oidcClient.buildAuthorizationUrl(client, {
      redirect_uri: redirectUri,
      scope: [...scopes].join(' '),
      response_type: 'code',
      state: state.state,
      nonce: state.nonce,
      code_challenge: await oidcClient.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      // MFA is read from `amr`; some providers (oidc-provider) release it only when asked for.
      ...(metadata.claims_parameter_supported ? { claims: JSON.stringify({ id_token: { amr: null, auth_time: null } }) } : {}),
    });
    return { url, cookie: sealState(this.deps.stateKey, state) };
  }

  /**
   * Completes a sign-in from the provider's redirect: `query` is the callback's query string,
   * `cookie` the state cookie. Returns the principal and where to send the browser.
   */
  async finishLogin(query: URLSearchParams, cookie: string | undefined): Promise<{ principal: Principal; returnTo: string; idToken: string }> {
    const st = openState(this.deps.stateKey, cookie, this.now());
    if (!st) throw fail('FT_ERR_OIDC_STATE', {}, 'missing, forged or expired state cookie');
    if ((st.provider ?? DEFAULT_PROVIDER_NAME) !== this.settings.name) throw fail('FT_ERR_OIDC_STATE', {}, 'state of another provider');
    const given = query.get('state') ?? '';
    const a = Buffer.from(given);
    const b = Buffer.from(st.state);
    if (a.length !== b.length || !timingSafeEqual(a, b)) throw fail('FT_ERR_OIDC_STATE', {}, 'state mismatch');
    const error = query.get('error');
    if (error) {
      const description = (query.get('error_description') ?? '').replace(/[^\x20-\x7e]/g, '').slice(0, 200);
      throw fail('FT_ERR_OIDC_PROVIDER_ERROR', {}, `provider error: ${error.slice(0, 64)}`, `${error.slice(0, 64)}${description ? ` (${description})` : ''}`);
    }
    const { client } = await this.discover();
    const current = new URL(st.redirectUri);
    current.search = query.toString();
    let tokens: Awaited<ReturnType<typeof oidcClient.authorizationCodeGrant>>;
    try {
      tokens = await oidcClient.authorizationCodeGrant(client, current, {
        pkceCodeVerifier: st.codeVerifier,
        expectedState: st.state,
        expectedNonce: st.nonce,
        idTokenExpected: true,
      });
    } catch (err) {
      const e = err as Error & { error?: string; code?: string };
      // The token endpoint said no (ResponseBodyError: invalid_grant for a reused or expired code, invalid_client, ...).
      if (typeof e.error === 'string') {
        throw fail('FT_ERR_OIDC_TOKEN_INVALID', {}, `code exchange failed: ${e.error}`.slice(0, 200), `the authorization code could not be exchanged (${e.error.slice(0, 100)})`);
      }
      // openid-client's own checks of the response and the ID token (nonce, audience, expiry, ...).
      if (e instanceof oidcClient.ClientError && e.code !== 'OAUTH_TIMEOUT') {
        throw fail('FT_ERR_OIDC_TOKEN_INVALID', {}, `ID token invalid: ${e.code ?? e.message}`.slice(0, 200), `the provider's answer did not verify (${e.message.slice(0, 100)})`);
      }
      throw fail('FT_ERR_OIDC_PROVIDER_UNAVAILABLE', {}, `provider unavailable: ${e.message}`.slice(0, 200), 'its token endpoint could not be reached');
    }
    const idToken = tokens.id_token;
    if (!idToken) throw fail('FT_ERR_OIDC_TOKEN_INVALID', {}, 'no ID token', 'the provider returned no ID token');
    // openid-client trusts the TLS channel for the ID token; verify its signature as well.
    const idClaims = await this.verify(idToken, this.settings.clientId);
    if (idClaims['nonce'] !== st.nonce) throw fail('FT_ERR_OIDC_TOKEN_INVALID', attemptedOf(idClaims, this.settings.usernameClaim), 'nonce mismatch', 'the ID token does not belong to this sign-in');
    let claims = idClaims;
    // Providers often keep profile and group claims out of the ID token: ask userinfo for them.
    if (claimAt(claims, this.settings.usernameClaim) === undefined || claimAt(claims, this.settings.roleClaim) === undefined) {
      try {
        const info = await oidcClient.fetchUserInfo(client, tokens.access_token, String(idClaims['sub']));
        claims = { ...(info as Record<string, unknown>), ...idClaims };
      } catch (err) {
        this.deps.log?.warn({ err: (err as Error).message }, 'The OpenID provider userinfo endpoint failed; the ID token claims are used alone.');
      }
    }
    return { principal: await this.principalOf(claims), returnTo: st.returnTo, idToken };
  }
}
