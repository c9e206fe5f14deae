/**
 * OpenID Connect with two real providers (two oidc-provider instances, each with its own keys and
 * users) listed in `auth.oidc.providers`, their client secrets given as `env:` and `file:`
 * references:
 *
 * - opaque access tokens are introspected (RFC 7662) at the provider that issued them, mapped to
 *   the same identity as JWTs; inactive, wrong-audience and unknown tokens are 401s recorded with
 *   the reason, and the token never reaches a record;
 * - JWTs are routed by `iss` to their provider; a user name of one provider cannot be taken over
 *   by the other;
 * - the console sign-in offers both providers, and sign-out of an SSO session sends the browser
 *   to that provider's end_session_endpoint (id_token_hint, post_logout_redirect_uri), recorded
 *   as ConsoleSignout.
 * No Flink is needed: the API listener identifies callers the same way as the gateway.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as jose from 'jose';
import type { ActionTrailEvent } from '../../../src/event/types.js';
import { makeKey, startInProcess, tempDir, waitForEvents, type Credentials, type InProcess } from '../../helpers/flinktrail.js';
import { startOidcProvider, type TestOidcProvider } from '../../helpers/oidc-provider.js';

const ALICE = { username: 'alice', password: 'alice-password-1', otp: '123456' }; // flink-admins
const VICTOR = { username: 'victor', password: 'victor-password-1' }; // flink-viewers
const SECRET_ENV = 'FT_TEST_OIDC_PARTNER_SECRET';

describe('several OpenID providers, opaque tokens and RP-initiated logout', { timeout: 120_000 }, () => {
  let corp: TestOidcProvider;
  let partner: TestOidcProvider;
  let ft: InProcess;
  let admin: Credentials;
  let api: string;
  const started = new Date(Date.now() - 1000).toISOString();

  before(async () => {
    const callback = () => [`${api}/api/v1/auth/oidc/callback`];
    const afterLogout = () => [`${api}/`];
    [corp, partner] = await Promise.all([
      startOidcProvider({ redirectUris: callback, postLogoutRedirectUris: afterLogout }),
      startOidcProvider({ redirectUris: callback, postLogoutRedirectUris: afterLogout }),
    ]);
    const dataDir = tempDir();
    admin = await makeKey(dataDir, 'trail-reader', 'admin');
    const secretFile = join(tempDir(), 'corp-secret');
    writeFileSync(secretFile, `${corp.clientSecret}\n`, { mode: 0o600 });
    process.env[SECRET_ENV] = partner.clientSecret;
    ft = await startInProcess(
      'http://127.0.0.1:9',
      {
        auth: {
          rateLimit: { maxFailures: 1000 },
          oidc: {
            enabled: true,
            scopes: ['openid', 'profile', 'email', 'groups'],
            clockSkewSeconds: 1,
            roleMapping: { 'flink-admins': 'admin', 'flink-viewers': 'viewer' },
            providers: [
              { name: 'corp', displayName: 'Corp SSO', issuer: corp.issuer, clientId: corp.clientId, clientSecret: `file:${secretFile}`, audience: corp.audience },
              { name: 'partner', displayName: 'Partner SSO', issuer: partner.issuer, clientId: partner.clientId, clientSecret: `env:${SECRET_ENV}`, audience: partner.audience },
            ],
          },
        },
      },
      dataDir,
    );
    api = ft.info.apiUrl;
  });
  after(async () => {
    delete process.env[SECRET_ENV];
    await ft?.close();
    await Promise.all([corp?.close(), partner?.close()]);
  });

  const whoami = (token: string) => fetch(`${api}/api/v1/whoami`, { headers: { authorization: `Bearer ${token}` } });

  async function eventOf(requestId: string, query: Record<string, string> = {}): Promise<ActionTrailEvent> {
    const events = await waitForEvents(api, admin, { startTime: started, ...query }, (es) => es.some((e) => e.requestId === requestId));
    const mine = events.filter((e) => e.requestId === requestId);
    assert.equal(mine.length, 1, `one event for ${requestId}`);
    return mine[0]!;
  }
  const attrs = (e: ActionTrailEvent): Record<string, string | undefined> => e.userIdentity.sessionContext?.attributes ?? {};

  it('introspects opaque tokens at the provider that issued them and maps them like JWTs', async () => {
    const [aliceOpaque, victorOpaque] = await Promise.all([corp.accessToken(ALICE, { resource: corp.opaqueResource }), partner.accessToken(VICTOR, { resource: partner.opaqueResource })]);
    assert.equal(aliceOpaque.split('.').length, 1, 'an opaque token, not a JWT');

    for (let i = 0; i < 2; i++) {
      // Twice: the second answer may come from the cache and must be the same.
      const res = await whoami(aliceOpaque);
      assert.equal(res.status, 200, await res.clone().text());
      const body = (await res.json()) as { userName: string; role: string; type: string };
      assert.deepEqual([body.type, body.userName, body.role], ['assumed-role', 'alice', 'admin']);
      const e = await eventOf(res.headers.get('x-request-id')!);
      assert.equal(attrs(e)['authMethod'], 'oidc');
      assert.equal(attrs(e)['issuer'], corp.issuer);
      assert.equal(attrs(e)['mfaAuthenticated'], 'true', 'amr comes through introspection');
      assert.ok(!JSON.stringify(e).includes(aliceOpaque), 'the token is not recorded');
    }
    assert.equal((await ft.app.directory.userByName('alice'))?.source, 'oidc:corp');

    // The partner's token: corp says inactive, the partner says active.
    const v = await whoami(victorOpaque);
    assert.equal(v.status, 200, await v.clone().text());
    const ve = await eventOf(v.headers.get('x-request-id')!);
    assert.equal(ve.userIdentity.userName, 'victor');
    assert.equal(attrs(ve)['issuer'], partner.issuer);
    assert.equal(attrs(ve)['mfaAuthenticated'], 'false');
    assert.equal((await ft.app.directory.userByName('victor'))?.source, 'oidc:partner');
  });

  it('refuses inactive and wrong-audience opaque tokens with a coded 401, recorded without the token', async () => {
    const otherAudience = await corp.accessToken(ALICE, { resource: corp.opaqueOtherResource });
    const cases = [
      { name: 'unknown', token: 'x'.repeat(43), reason: 'inactive token' },
      { name: 'wrong audience', token: otherAudience, reason: 'wrong audience' },
    ];
    for (const c of cases) {
      const res = await whoami(c.token);
      assert.equal(res.status, 401, c.name);
      const body = (await res.json()) as { Code: string; RequestId: string };
      assert.equal(body.Code, 'FT_ERR_OIDC_TOKEN_INVALID', c.name);
      const e = await eventOf(body.RequestId, { errorCode: 'FT_ERR_OIDC_TOKEN_INVALID' });
      assert.equal(e.additionalEventData['authFailure'], true);
      assert.equal(e.additionalEventData['authFailureReason'], c.reason, c.name);
      assert.ok(!JSON.stringify(e).includes(c.token), `${c.name}: the token is not recorded`);
    }
  });

  it('routes JWTs by iss; one provider cannot take over the user names of another', async () => {
    const [corpAlice, partnerVictor, partnerAlice] = await Promise.all([corp.accessToken(ALICE), partner.accessToken(VICTOR), partner.accessToken(ALICE)]);
    assert.equal(jose.decodeJwt(partnerVictor).iss, partner.issuer);
    assert.equal((await whoami(corpAlice)).status, 200);
    const pv = await whoami(partnerVictor);
    assert.equal(pv.status, 200);
    assert.equal(((await pv.json()) as { userName: string }).userName, 'victor');

    // alice signed in through corp first: partner's alice is someone else.
    const taken = await whoami(partnerAlice);
    assert.equal(taken.status, 403);
    const body = (await taken.json()) as { Code: string; RequestId: string };
    assert.equal(body.Code, 'FT_ERR_OIDC_USER_CONFLICT');
    const e = await eventOf(body.RequestId, { errorCode: 'FT_ERR_OIDC_USER_CONFLICT' });
    assert.equal(e.additionalEventData['authFailureReason'], 'name belongs to a user of another identity provider');
    assert.equal((await ft.app.directory.userByName('alice'))?.source, 'oidc:corp');
  });

  it('the console offers both providers; sign-out ends the session at the chosen provider too', async () => {
    const settings = (await (await fetch(`${api}/api/v1/console/settings`)).json()) as { sso: { enabled: boolean; providers: { name: string; displayName: string; loginUrl: string }[] } };
    assert.equal(settings.sso.enabled, true);
    assert.deepEqual(
      settings.sso.providers.map((p) => [p.name, p.displayName]),
      [
        ['corp', 'Corp SSO'],
        ['partner', 'Partner SSO'],
      ],
    );
    const chooser = await fetch(`${api}/api/v1/auth/oidc/login?returnTo=/events`, { redirect: 'manual' });
    assert.equal(chooser.status, 200);
    const page = await chooser.text();
    assert.match(page, /href="\/api\/v1\/auth\/oidc\/login\?provider=corp&amp;returnTo=%2Fevents">Corp SSO</);
    assert.match(page, /href="\/api\/v1\/auth\/oidc\/login\?provider=partner&amp;returnTo=%2Fevents">Partner SSO</);
    assert.equal((await fetch(`${api}/api/v1/auth/oidc/login?provider=nobody`, { redirect: 'manual' })).status, 400);

    // Sign in through the partner.
    const start = await fetch(`${api}${settings.sso.providers[1]!.loginUrl}&returnTo=/events`, { redirect: 'manual' });
    assert.equal(start.status, 302);
    const location = new URL(start.headers.get('location')!);
    assert.equal(location.origin, partner.issuer);
    const stateCookie = start.headers.getSetCookie().find((c) => c.startsWith('ft_oidc='))!.split(';')[0]!;
    const back = await partner.login(location, VICTOR);
    const cb = await fetch(back, { redirect: 'manual', headers: { cookie: stateCookie } });
    assert.equal(cb.status, 303, await cb.clone().text());
    const sessionCookie = cb.headers.getSetCookie().find((c) => c.startsWith('ft_session='))!;
    const hintCookie = cb.headers.getSetCookie().find((c) => c.startsWith('ft_oidc_logout='))!;
    assert.match(hintCookie, /; Path=\/api\/v1\/auth\/logout; HttpOnly; SameSite=Strict$/);
    const cookies = [sessionCookie.split(';')[0], hintCookie.split(';')[0]].join('; ');
    const signin = await eventOf(cb.headers.get('x-request-id')!, { eventName: 'ConsoleSignin' });
    assert.equal(signin.requestParameters['issuer'], partner.issuer);
    assert.ok(!JSON.stringify(signin).includes(hintCookie.split(';')[0]!.slice('ft_oidc_logout='.length)), 'the ID token is not recorded');

    const session = (await (await fetch(`${api}/api/v1/auth/session`, { headers: { cookie: cookies } })).json()) as { csrfToken: string; userName: string };
    assert.equal(session.userName, 'victor');
    const out = await fetch(`${api}/api/v1/auth/logout`, { method: 'POST', headers: { cookie: cookies, 'x-csrf-token': session.csrfToken, 'content-type': 'application/json' }, body: '{}' });
    assert.equal(out.status, 200, await out.clone().text());
    const answer = (await out.json()) as { signedOut: boolean; endSessionUrl?: string };
    assert.equal(answer.signedOut, true);
    assert.ok(answer.endSessionUrl, 'the provider has an end_session_endpoint');
    const end = new URL(answer.endSessionUrl);
    assert.equal(end.origin, partner.issuer);
    assert.equal(end.searchParams.get('client_id'), partner.clientId);
    assert.equal(end.searchParams.get('post_logout_redirect_uri'), `${api}/`);
    const hint = end.searchParams.get('id_token_hint')!;
    assert.equal(jose.decodeJwt(hint).iss, partner.issuer);
    assert.equal(jose.decodeJwt(hint).sub, 'victor');
    assert.match(out.headers.getSetCookie().find((c) => c.startsWith('ft_oidc_logout=')) ?? '', /Max-Age=0/, 'the hint cookie is cleared');

    // The provider accepts the hint and the registered URI, and sends the browser back to FlinkTrail.
    const landed = await partner.endSession(end);
    assert.equal(landed.href, `${api}/`);

    // The FlinkTrail session is over.
    assert.equal((await fetch(`${api}/api/v1/auth/session`, { headers: { cookie: cookies } })).status, 401);
    const e = await eventOf(out.headers.get('x-request-id')!, { eventName: 'ConsoleSignout' });
    assert.equal(e.eventType, 'ConsoleSignout');
    assert.equal(e.userIdentity.userName, 'victor');
    assert.equal(e.requestParameters['signOutMethod'], 'oidc');
    assert.equal(e.requestParameters['issuer'], partner.issuer);
    assert.equal(e.requestParameters['providerLogout'], true);
    assert.ok(!JSON.stringify(e).includes(hint), 'the ID token is not recorded');
  });
});
