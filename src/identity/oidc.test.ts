/**
 * OIDC bearer verification and claim mapping against a local fake provider (discovery + JWKS
 * served over loopback HTTP, keys made here), with the real Directory on a temporary database.
 * The real provider and the console flow are in test/integration/identity/oidc.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import * as jose from 'jose';
import { buildConfig } from '../config/index.js';
import { openDatabase, type Db } from '../store/sqlite/database.js';
import { AuthError, type AuthContext } from './authenticate.js';
import { sqliteDirectory } from './sqlite/directory.js';
import type { Directory } from './directory.js';
import { claimAt, mfaFromAmr, OidcIdentity, openState, resolveSettings, roleFor, safeReturnTo, sealState, type OidcSettings } from './oidc.js';

const NOW = Date.parse('2030-01-01T00:00:00Z');
const sec = (ms: number) => Math.floor(ms / 1000);

interface FakeIdp {
  issuer: string;
  keys: { kid: string; priv: jose.CryptoKey; pub: jose.JWK }[];
  jwksFetches: number;
  discoveryIssuer?: string;
  down: boolean;
  server: Server;
}

async function newKey(kid: string) {
  const { privateKey, publicKey } = await jose.generateKeyPair('RS256', { extractable: true });
  return { kid, priv: privateKey, pub: { ...(await jose.exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
}

async function startIdp(): Promise<FakeIdp> {
  const idp = { keys: [await newKey('k1')], jwksFetches: 0, down: false } as unknown as FakeIdp;
  idp.server = createServer((req, res) => {
    if (idp.down) {
      res.writeHead(503).end();
      return;
    }
    if (req.url === '/.well-known/openid-configuration') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({ issuer: idp.discoveryIssuer ?? idp.issuer, jwks_uri: `${idp.issuer}/jwks`, authorization_endpoint: `${idp.issuer}/auth`, token_endpoint: `${idp.issuer}/token` }),
      );
      return;
    }
    if (req.url === '/jwks') {
      idp.jwksFetches++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: idp.keys.map((k) => k.pub) }));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => idp.server.listen(0, '127.0.0.1', r));
  idp.issuer = `http://127.0.0.1:${(idp.server.address() as AddressInfo).port}`;
  return idp;
}

const ctx = (authorization?: string): AuthContext => ({ authorization, peerIp: '127.0.0.1', sourceIp: '127.0.0.1', headers: {} });

async function rejects(p: Promise<unknown>, code: string, reason?: string | RegExp): Promise<AuthError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof AuthError, `expected an AuthError, got ${String(err)}`);
    assert.equal(err.code, code, `${err.code}: ${err.reason}`);
    if (reason !== undefined) {
      if (typeof reason === 'string') assert.equal(err.reason, reason);
      else assert.match(err.reason, reason);
    }
    return err;
  }
  assert.fail(`expected ${code}`);
}

describe('OIDC bearer tokens', () => {
  let idp: FakeIdp;
  let dir: string;
  let db: Db;
  let directory: Directory;
  let settings: OidcSettings;
  let oidc: OidcIdentity;

  const sign = (claims: jose.JWTPayload, opts: { key?: FakeIdp['keys'][number]; alg?: string; iat?: number; exp?: number | null } = {}) => {
    const key = opts.key ?? idp.keys[0]!;
    const jwt = new jose.SignJWT({ iss: idp.issuer, aud: 'urn:ft', sub: 'sub-alice', preferred_username: 'alice', groups: ['ops'], ...claims })
      .setProtectedHeader({ alg: opts.alg ?? 'RS256', kid: key.kid, typ: 'at+jwt' })
      .setIssuedAt(opts.iat ?? sec(NOW));
    if (opts.exp !== null) jwt.setExpirationTime(opts.exp ?? sec(NOW) + 600);
    return jwt.sign(key.priv);
  };
  const bearer = async (claims: jose.JWTPayload = {}, opts: Parameters<typeof sign>[1] = {}) => oidc.plugin.authenticate(ctx(`Bearer ${await sign(claims, opts)}`));

  before(async () => {
    idp = await startIdp();
  });
  after(async () => {
    await new Promise<void>((r) => idp.server.close(() => r()));
  });
  beforeEach(() => {
    if (db) {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
    dir = mkdtempSync(join(tmpdir(), 'ft-oidc-'));
    db = openDatabase(dir);
    directory = sqliteDirectory(db);
    idp.down = false;
    idp.discoveryIssuer = undefined;
    settings = {
      enabled: true,
      issuer: idp.issuer,
      clientId: 'flinktrail',
      audience: 'urn:ft',
      scopes: ['openid'],
      clockSkewSeconds: 60,
      roleClaim: 'groups',
      roleMapping: { ops: 'operator', admins: 'admin', viewers: 'viewer' },
      usernameClaim: 'preferred_username',
    };
    oidc = new OidcIdentity(settings, { directory, stateKey: 'k'.repeat(43), now: () => NOW, jwksCooldownMs: 0 });
  });
  after(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('ignores requests that do not carry a bearer token', async () => {
    assert.equal(await oidc.plugin.authenticate(ctx()), undefined);
    assert.equal(await oidc.plugin.authenticate(ctx('Basic YTpi')), undefined);
  });

  it('turns a valid token into an assumed-role principal kept in the directory', async () => {
    const p = await bearer({ amr: ['pwd', 'otp'], auth_time: sec(NOW) - 300, email: 'alice@example.test' });
    assert.ok(p);
    assert.equal(p.type, 'assumed-role');
    assert.equal(p.method, 'oidc');
    assert.equal(p.userName, 'alice');
    assert.equal(p.role, 'operator');
    assert.equal(p.mfaAuthenticated, true);
    assert.equal(p.sessionCreatedAt, (sec(NOW) - 300) * 1000);
    assert.equal(p.email, 'alice@example.test');
    assert.deepEqual(p.attributes, { issuer: idp.issuer, subject: 'sub-alice' });
    const u = await directory.userByName('alice');
    assert.equal(u?.source, 'oidc');
    assert.equal(u?.id, p.principalId);
    // The provider is the source of truth for the role: a new token with other groups changes it.
    const again = await bearer({ groups: ['viewers', 'admins'] });
    assert.equal(again?.principalId, p.principalId);
    assert.equal(again?.role, 'admin');
    assert.equal(again?.mfaAuthenticated, false);
    assert.equal(again?.sessionCreatedAt, sec(NOW) * 1000, 'iat when there is no auth_time');
    assert.equal((await directory.userByName('alice'))?.role, 'admin');
  });

  it('accepts expiry within the clock skew and refuses it beyond', async () => {
    assert.ok(await bearer({}, { iat: sec(NOW) - 700, exp: sec(NOW) - 59 }));
    const err = await rejects(bearer({}, { iat: sec(NOW) - 700, exp: sec(NOW) - 61 }), 'FT_ERR_OIDC_TOKEN_EXPIRED', 'token expired');
    assert.equal(err.status, 401);
    assert.deepEqual(err.attempted, { userName: 'alice' }, 'the claimed user is recorded');
    await rejects(bearer({ nbf: sec(NOW) + 120 }), 'FT_ERR_OIDC_TOKEN_INVALID', 'token not yet valid');
    await rejects(bearer({}, { exp: null }), 'FT_ERR_OIDC_TOKEN_INVALID', /claim exp/);
  });

  it('refuses another audience, another issuer, alg none, HMAC, altered and foreign-key tokens', async () => {
    await rejects(bearer({ aud: 'urn:other' }), 'FT_ERR_OIDC_TOKEN_INVALID', 'wrong audience');
    const fetches = idp.jwksFetches;
    await rejects(bearer({ iss: 'https://evil.example' }), 'FT_ERR_OIDC_TOKEN_INVALID', 'foreign issuer');
    assert.equal(idp.jwksFetches, fetches, 'a foreign issuer costs no JWKS fetch');
    const unsigned = new jose.UnsecuredJWT({ iss: idp.issuer, aud: 'urn:ft', sub: 's', preferred_username: 'alice', groups: ['admins'] }).setExpirationTime('1h').encode();
    await rejects(oidc.plugin.authenticate(ctx(`Bearer ${unsigned}`)) as Promise<unknown>, 'FT_ERR_OIDC_TOKEN_INVALID', 'unsigned token');
    const hs = await new jose.SignJWT({ iss: idp.issuer, aud: 'urn:ft', sub: 's', preferred_username: 'alice' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(sec(NOW) + 60)
      .sign(new TextEncoder().encode('x'.repeat(32)));
    await rejects(oidc.plugin.authenticate(ctx(`Bearer ${hs}`)) as Promise<unknown>, 'FT_ERR_OIDC_TOKEN_INVALID', 'algorithm not allowed');
    const good = await sign({ groups: ['viewers'] });
    const [h, , s] = good.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...jose.decodeJwt(good), groups: ['admins'] })).toString('base64url')}.${s}`;
    await rejects(oidc.plugin.authenticate(ctx(`Bearer ${forged}`)) as Promise<unknown>, 'FT_ERR_OIDC_TOKEN_INVALID', 'bad signature');
    const stranger = await newKey('k1'); // same kid as the provider's key, another key
    await rejects(bearer({}, { key: stranger }), 'FT_ERR_OIDC_TOKEN_INVALID', 'bad signature');
    await rejects(bearer({}, { key: await newKey('nobody') }), 'FT_ERR_OIDC_TOKEN_INVALID', 'unknown signing key');
    await rejects(oidc.plugin.authenticate(ctx('Bearer not-a-jwt')) as Promise<unknown>, 'FT_ERR_OIDC_TOKEN_INVALID', 'malformed token');
    assert.equal((await directory.userByName('alice')), undefined, 'no user is created by refused tokens');
  });

  it('follows key rotation and keeps the last keys while the provider is down', async () => {
    assert.ok(await bearer());
    const rotated = await newKey('k2');
    idp.keys.push(rotated);
    assert.equal((await bearer({}, { key: rotated }))?.userName, 'alice', 'an unknown kid refetches the JWKS');
    idp.down = true;
    assert.equal((await bearer({}, { key: rotated }))?.userName, 'alice', 'cached keys still verify');
    await rejects(bearer({}, { key: await newKey('k3') }), 'FT_ERR_OIDC_PROVIDER_UNAVAILABLE');
  });

  it('answers 503 when the provider cannot be discovered, and refuses a discovery document of another issuer', async () => {
    idp.down = true;
    const err = await rejects(bearer(), 'FT_ERR_OIDC_PROVIDER_UNAVAILABLE');
    assert.equal(err.status, 503);
    idp.down = false;
    idp.discoveryIssuer = 'https://elsewhere.example';
    const other = new OidcIdentity(settings, { directory, stateKey: 'k', now: () => NOW });
    await rejects(other.plugin.authenticate(ctx(`Bearer ${await sign({})}`)) as Promise<unknown>, 'FT_ERR_OIDC_PROVIDER_UNAVAILABLE', /another issuer/);
  });

  it('maps roles: highest wins, default role, none refused with 403', async () => {
    const none = await rejects(bearer({ groups: ['marketing'] }), 'FT_ERR_OIDC_NO_ROLE');
    assert.equal(none.status, 403);
    assert.deepEqual(none.attempted, { userName: 'alice' });
    const withDefault = new OidcIdentity({ ...settings, defaultRole: 'viewer' }, { directory, stateKey: 'k', now: () => NOW });
    assert.equal((await withDefault.plugin.authenticate(ctx(`Bearer ${await sign({ groups: ['marketing'] })}`)))?.role, 'viewer');
  });

  it('refuses a token without a usable user name, for a local user, or for a disabled user', async () => {
    await rejects(bearer({ preferred_username: undefined }), 'FT_ERR_OIDC_CLAIMS');
    await rejects(bearer({ preferred_username: 'has space' }), 'FT_ERR_OIDC_CLAIMS');
    await directory.createUser('bob', 'admin');
    const conflict = await rejects(bearer({ preferred_username: 'bob' }), 'FT_ERR_OIDC_USER_CONFLICT');
    assert.equal(conflict.status, 403);
    assert.ok(await bearer());
    await directory.updateUser('alice', { disabled: true });
    await rejects(bearer(), 'FT_ERR_AUTH_INVALID', 'user disabled');
  });
});

describe('OIDC helpers', () => {
  it('refuses an enabled auth.oidc without issuer or client id at config load', () => {
    assert.throws(() => buildConfig({ auth: { oidc: { enabled: true, issuer: 'https://idp.example.com' } } }), /auth\.oidc.*clientId/);
    const c = buildConfig({ auth: { oidc: { enabled: true, issuer: 'https://idp.example.com', clientId: 'ft', roleMapping: { admins: 'admin' } } } });
    assert.equal(c.auth.oidc.clockSkewSeconds, 60);
    assert.equal(c.auth.oidc.usernameClaim, 'preferred_username');
    assert.throws(() => buildConfig({ auth: { oidc: { roleMapping: { admins: 'root' } } } }), /roleMapping/);
    assert.equal(buildConfig({}).auth.oidc.enabled, false);
  });

  it('validates settings', () => {
    const base: OidcSettings = { enabled: true, scopes: [], clockSkewSeconds: 60, roleClaim: 'groups', roleMapping: {}, usernameClaim: 'preferred_username' };
    assert.throws(() => resolveSettings(base), /issuer \(or auth\.oidc\.providers\) is required.*clientId is required/);
    assert.throws(() => resolveSettings({ ...base, issuer: 'http://idp.example.com', clientId: 'c' }), /https/);
    assert.equal(resolveSettings({ ...base, issuer: 'http://localhost:8080/realms/x', clientId: 'c' }).audience, 'c');
    assert.equal(resolveSettings({ ...base, issuer: 'https://idp.example.com', clientId: 'c', audience: 'a' }).audience, 'a');
  });

  it('reads claims by name or dotted path, maps roles, reads amr', () => {
    const claims = { 'https://example.com/groups': ['admins'], realm_access: { roles: ['viewers', 'ops'] }, groups: 'ops' };
    assert.deepEqual(claimAt(claims, 'https://example.com/groups'), ['admins']);
    assert.deepEqual(claimAt(claims, 'realm_access.roles'), ['viewers', 'ops']);
    assert.equal(claimAt(claims, 'realm_access.nothing'), undefined);
    const mapping = { viewers: 'viewer', ops: 'operator', auditors: 'auditor', admins: 'admin' } as const;
    assert.equal(roleFor(['viewers', 'ops'], mapping), 'operator');
    assert.equal(roleFor(['viewers', 'auditors'], mapping), 'auditor');
    assert.equal(roleFor('ops', mapping), 'operator');
    assert.equal(roleFor(['toString', 'constructor'], mapping), undefined, 'no prototype keys');
    assert.equal(roleFor(undefined, mapping, 'viewer'), 'viewer');
    assert.equal(mfaFromAmr(['pwd', 'hwk']), true);
    assert.equal(mfaFromAmr(['pwd']), false);
    assert.equal(mfaFromAmr('mfa'), false);
  });

  it('seals the login state: tampering, another key and expiry are refused', () => {
    const st = { state: 's', nonce: 'n', codeVerifier: 'v', redirectUri: 'http://x/cb', returnTo: '/', expiresAt: NOW + 1000 };
    const sealed = sealState('key', st);
    assert.deepEqual(openState('key', sealed, NOW), st);
    assert.equal(openState('other', sealed, NOW), undefined);
    assert.equal(openState('key', sealed, NOW + 1001), undefined);
    const [body, mac] = sealed.split('.');
    const altered = Buffer.from(JSON.stringify({ ...st, returnTo: '//evil' })).toString('base64url');
    assert.equal(openState('key', `${altered}.${mac}`, NOW), undefined);
    assert.equal(openState('key', `${body}.`, NOW), undefined);
    assert.equal(openState('key', undefined, NOW), undefined);
  });

  it('only returns to console paths', () => {
    assert.equal(safeReturnTo('/events?x=1'), '/events?x=1');
    for (const bad of ['//evil.example', 'https://evil.example', '/\\evil', 'events', undefined, 5]) assert.equal(safeReturnTo(bad), '/');
  });
});
