/**
 * Several OpenID providers at once (`auth.oidc.providers`, or the single-provider form as one
 * provider named `default`): one OidcIdentity per issuer, and one bearer plugin in front of them.
 *
 * Routing a bearer token: a JWT goes to the provider whose `issuer` is its `iss` claim (read
 * unverified, only to choose; that provider then verifies everything) — a JWT of no configured
 * issuer is refused as `foreign issuer` without contacting anyone. An opaque token names no
 * issuer: it is introspected at each provider whose `introspection` is not `off`, in the order
 * configured, and the first that says active wins (a provider answers `active: false` for tokens
 * it did not issue, RFC 7662 §2.2).
 */
import { AuthError, type AuthMethodPlugin, type Principal } from './authenticate.js';
import { attemptedOf, bearerToken, looksLikeJwt, OidcIdentity, providerSettings, unverifiedClaims, type OidcDeps, type OidcSettings } from './oidc.js';

export class OidcProviders {
  readonly all: readonly OidcIdentity[];
  readonly plugin: AuthMethodPlugin;

  constructor(settings: OidcSettings, deps: OidcDeps) {
    this.all = providerSettings(settings).map((s) => new OidcIdentity(s, deps));
    this.plugin = {
      name: 'oidc',
      authenticate: async (ctx) => {
        const token = bearerToken(ctx);
        return token === undefined ? undefined : this.authenticateToken(token);
      },
    };
  }

  /** The first configured provider (there is always one: `providerSettings` never returns none). */
  get first(): OidcIdentity {
    const p = this.all[0];
    if (!p) throw new Error('no OpenID provider configured');
    return p;
  }

  byName(name: string | undefined): OidcIdentity | undefined {
    return name === undefined ? undefined : this.all.find((p) => p.settings.name === name);
  }

  byIssuer(issuer: unknown): OidcIdentity | undefined {
    return typeof issuer === 'string' ? this.all.find((p) => p.settings.issuer === issuer) : undefined;
  }

  private async authenticateToken(token: string): Promise<Principal> {
    const first = this.first;
    if (looksLikeJwt(token)) {
      const claims = unverifiedClaims(token);
      const provider = this.byIssuer(claims?.['iss']);
      if (provider) return provider.authenticateToken(token);
      // One issuer: it refuses with its own reason (malformed, unsigned, foreign issuer, ...).
      if (this.all.length === 1) return first.authenticateToken(token);
      throw new AuthError('FT_ERR_OIDC_TOKEN_INVALID', claims ? attemptedOf(claims, first.settings.usernameClaim) : {}, 'foreign issuer', 'it was issued by another identity provider');
    }
    const introspecting = this.all.filter((p) => p.settings.introspection !== 'off');
    if (introspecting.length === 0) throw new AuthError('FT_ERR_OIDC_TOKEN_INVALID', {}, 'malformed token', 'it is not a well-formed JWT');
    let refusal: unknown;
    for (const p of introspecting) {
      try {
        return p.principalOf(await p.introspect(token));
      } catch (err) {
        // Only "not mine" (inactive there, or a provider that cannot introspect) moves on to the
        // next provider; any other refusal is the answer.
        const notMine = err instanceof AuthError && (err.reason === 'inactive token' || err.reason === 'malformed token');
        if (!notMine || p === introspecting.at(-1)) throw err;
        refusal = err;
      }
    }
    throw refusal;
  }
}
