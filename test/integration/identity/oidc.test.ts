/**
 * OpenID Connect end to end: a real OpenID Provider (oidc-provider, started by
 * test/helpers/oidc-provider.ts), a real Flink cluster, FlinkTrail in between.
 *
 * - Bearer: JWT access tokens from the provider's authorization code + PKCE flow (sign-in
 *   automated with fetch) call the gateway and the API; events name the OIDC user as an
 *   assumed role with MFA from `amr`; groups map to roles (a viewer is refused CancelJob).
 * - Refusals: expired, wrong audience, foreign issuer (a second real provider), foreign key,
 *   unsigned and altered tokens → 401 with a code, recorded as failed sign-ins with the reason.
 * - Console SSO: /login → provider → /callback → session cookie that works, with ConsoleSignin
 *   recorded for success and for each failure (bad state, provider error, replayed code, no role).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as jose from 'jose';
import type { ActionTrailEvent } from '../../../src/event/types.js';
import { startFlink, type FlinkCluster } from '../../helpers/flink.js';
import { makeKey, startInProcess, tempDir, waitForEvents, type Credentials, type InProcess } from '../../helpers/flinktrail.js';
import { startOidcProvider, type TestOidcProvider } from '../../helpers/oidc-provider.js';

const ALICE = { username: 'alice', password: 'alice-password-1', otp: '123456' }; // flink-admins, signs in with a second factor
const VICTOR = { username: 'victor', password: 'victor-password-1' }; // flink-viewers
const OLGA = { username: 'olga', password: 'olga-password-1' }; // flink-viewers + flink-operators
const NORA = { username: 'nora', password: 'nora-password-1' }; // marketing: no FlinkTrail role

const UNKNOWN_JOB = 'a'.repeat(32);

describe('OpenID Connect against a real provider', { timeout: 180_000 }, () => {
  let flink: FlinkCluster;
  let idp: TestOidcProvider;
  let foreign: TestOidcProvider;
  let ft: InProcess;
  let admin: Credentials;
  let api: string;
  let gw: string;
  let callback: string;
  const started = new Date(Date.now() - 1000).toISOString();

  before(async () => {
    // FlinkTrail listens on port 0 after the providers; they read its callback at their first request.
    [flink, idp, foreign] = await Promise.all([startFlink(), startOidcProvider({ redirectUris: () => [callback] }), startOidcProvider({ redirectUris: () => [callback] })]);
    const dataDir = tempDir();
    admin = await makeKey(dataDir, 'trail-reader', 'admin');
    ft = await startInProcess(
      flink.restUrl,
      {
        auth: {
          // Many refusals from one address on purpose: keep the brute-force limiter out of the way.
          rateLimit: { maxFailures: 1000 },
          oidc: {
            enabled: true,
            issuer: idp.issuer,
            clientId: idp.clientId,
            clientSecret: idp.clientSecret,
            audience: idp.audience,
            scopes: ['openid', 'profile', 'email', 'groups'],
            clockSkewSeconds: 1,
            roleMapping: { 'flink-admins': 'admin', 'flink-operators': 'operator', 'flink-viewers': 'viewer' },
          },
        },
      },
      dataDir,
    );
    api = ft.info.apiUrl;
    gw = ft.info.clusters['default']!.gatewayUrl;
    callback = `${api}/api/v1/auth/oidc/callback`;
  });
  after(async () => {
    await ft?.close();
    await Promise.all([idp?.close(), foreign?.close(), flink?.stop()]);
  });

  const bearer = (token: string, method: string, url: string) => fetch(url, { method, headers: { authorization: `Bearer ${token}` } });

  async function eventOf(requestId: string, query: Record<string, string> = {}): Promise<ActionTrailEvent> {
    const events = await waitForEvents(api, admin, { startTime: started, ...query }, (es) => es.some((e) => e.requestId === requestId && e.additionalEventData.outcome !== 'pending'));
    const mine = events.filter((e) => e.requestId === requestId);
    assert.equal(mine.length, 1, `one event for ${requestId}`);
    return mine[0]!;
  }

  const attrs = (e: ActionTrailEvent): Record<string, string | undefined> => e.userIdentity.sessionContext?.attributes ?? {};

  it('bearer tokens from the provider work on the gateway and the API; events name the OIDC user and MFA', async () => {
    const [alice, victor] = await Promise.all([idp.accessToken(ALICE), idp.accessToken(VICTOR)]);
    assert.equal(jose.decodeProtectedHeader(alice).typ, 'at+jwt');

    const res = await bearer(alice, 'GET', `${gw}jobs/overview`);
    assert.equal(res.status, 200);
    const e = await eventOf(res.headers.get('x-request-id')!, { user: 'alice' });
    const aliceUser = (await ft.app.directory.userByName('alice'))!;
    assert.equal(aliceUser.source, 'oidc');
    assert.equal(aliceUser.role, 'admin');
    assert.equal(e.userIdentity.type, 'assumed-role');
    assert.equal(e.userIdentity.userName, 'alice');
    assert.equal(e.userIdentity.principalId, aliceUser.id);
    assert.equal(e.userIdentity.accessKeyId, undefined);
    assert.equal(attrs(e)['mfaAuthenticated'], 'true');
    assert.equal(attrs(e)['authMethod'], 'oidc');
    assert.equal(attrs(e)['issuer'], idp.issuer);
    assert.equal(attrs(e)['subject'], 'alice');
    assert.equal(e.additionalEventData.outcome, 'success');
    assert.ok(!JSON.stringify(e).includes(alice.split('.')[2]!), 'the token is not recorded');

    const who = await bearer(alice, 'GET', `${api}/api/v1/whoami`);
    assert.equal(who.status, 200);
    const body = (await who.json()) as { type: string; userName: string; role: string; principalId: string };
    assert.deepEqual([body.type, body.userName, body.role, body.principalId], ['assumed-role', 'alice', 'admin', aliceUser.id]);
    const apiEvent = await eventOf(who.headers.get('x-request-id')!, { eventName: 'GetCallerIdentity' });
    assert.equal(apiEvent.userIdentity.userName, 'alice');
    assert.equal(apiEvent.serviceName, 'Actiontrail');

    const v = await bearer(victor, 'GET', `${gw}overview`);
    assert.equal(v.status, 200);
    const ve = await eventOf(v.headers.get('x-request-id')!, { user: 'victor' });
    assert.equal(ve.userIdentity.type, 'assumed-role');
    assert.equal(attrs(ve)['mfaAuthenticated'], 'false', 'password only: amr ["pwd"]');
  });

  it('maps groups to roles: a viewer is refused CancelJob, an operator reaches Flink, no mapped group is refused', async () => {
    const [victor, olga, nora] = await Promise.all([idp.accessToken(VICTOR), idp.accessToken(OLGA), idp.accessToken(NORA)]);

    const denied = await bearer(victor, 'PATCH', `${gw}jobs/${UNKNOWN_JOB}?mode=cancel`);
    assert.equal(denied.status, 403);
    const d = (await denied.json()) as { Code: string; RequestId: string };
    assert.equal(d.Code, 'NoPermission');
    const de = await eventOf(d.RequestId, { eventName: 'CancelJob', errorCode: 'NoPermission' });
    assert.equal(de.userIdentity.userName, 'victor');
    assert.equal(de.userIdentity.type, 'assumed-role');
    assert.equal(de.additionalEventData.outcome, 'failure');

    // olga is in flink-viewers and flink-operators: the higher role wins, and the call reaches Flink
    // (which does not know the job).
    const passed = await bearer(olga, 'PATCH', `${gw}jobs/${UNKNOWN_JOB}?mode=cancel`);
    assert.notEqual(passed.status, 403);
    assert.ok(passed.status >= 400, `Flink refuses an unknown job (${passed.status})`);
    const pe = await eventOf(passed.headers.get('x-request-id')!, { eventName: 'CancelJob', user: 'olga' });
    assert.match(pe.errorCode ?? '', /^Flink\./);
    assert.equal((await ft.app.directory.userByName('olga'))?.role, 'operator');

    const none = await bearer(nora, 'GET', `${gw}overview`);
    assert.equal(none.status, 403);
    const n = (await none.json()) as { Code: string; RequestId: string };
    assert.equal(n.Code, 'FT_ERR_OIDC_NO_ROLE');
    const ne = await eventOf(n.RequestId, { errorCode: 'FT_ERR_OIDC_NO_ROLE' });
    assert.equal(ne.userIdentity.userName, 'nora');
    assert.equal(ne.additionalEventData['authFailure'], true);
    assert.equal((await ft.app.directory.userByName('nora')), undefined, 'no user for an identity without a role');
  });

  it('refuses expired, wrong-audience, foreign-issuer, foreign-key, unsigned and altered tokens with 401, recorded', async () => {
    const [otherAudience, foreignIssuer, genuine, victor] = await Promise.all([
      idp.accessToken(ALICE, { resource: idp.otherResource }),
      foreign.accessToken(ALICE),
      idp.accessToken(ALICE),
      idp.accessToken(VICTOR),
    ]);
    // The short-lived token (2 s, + 1 s skew) is valid at first — same audience, same issuer:
    // only time refuses it later.
    const short = await idp.accessToken(ALICE, { resource: idp.shortLivedResource });
    assert.equal((await bearer(short, 'GET', `${gw}overview`)).status, 200);

    const claims = jose.decodeJwt(genuine);
    const header = jose.decodeProtectedHeader(genuine);
    const { privateKey } = await jose.generateKeyPair('RS256');
    const foreignKey = await new jose.SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: header.kid!, typ: 'at+jwt' }).sign(privateKey);
    const unsigned = new jose.UnsecuredJWT(claims).encode();
    const [h, , sig] = victor.split('.');
    const altered = `${h}.${Buffer.from(JSON.stringify({ ...jose.decodeJwt(victor), groups: ['flink-admins'] })).toString('base64url')}.${sig}`;

    const exp = jose.decodeJwt(short).exp!;
    await new Promise((r) => setTimeout(r, Math.max(0, (exp + 1) * 1000 + 300 - Date.now()))); // past exp + clock skew (1 s)

    const cases = [
      { name: 'expired', token: short, code: 'FT_ERR_OIDC_TOKEN_EXPIRED', reason: 'token expired', user: 'alice' },
      { name: 'wrong audience', token: otherAudience, code: 'FT_ERR_OIDC_TOKEN_INVALID', reason: 'wrong audience', user: 'alice' },
      { name: 'foreign issuer', token: foreignIssuer, code: 'FT_ERR_OIDC_TOKEN_INVALID', reason: 'foreign issuer', user: 'alice' },
      { name: 'foreign key', token: foreignKey, code: 'FT_ERR_OIDC_TOKEN_INVALID', reason: 'bad signature', user: 'alice' },
      { name: 'unsigned', token: unsigned, code: 'FT_ERR_OIDC_TOKEN_INVALID', reason: 'unsigned token', user: 'alice' },
      { name: 'altered', token: altered, code: 'FT_ERR_OIDC_TOKEN_INVALID', reason: 'bad signature', user: 'victor' },
    ];
    for (const c of cases) {
      for (const url of [`${gw}overview`, `${api}/api/v1/whoami`]) {
        const res = await bearer(c.token, 'GET', url);
        assert.equal(res.status, 401, `${c.name} at ${url}`);
        const body = (await res.json()) as { Code: string; RequestId: string; Message: string };
        assert.equal(body.Code, c.code, `${c.name}: ${body.Message}`);
        const e = await eventOf(res.headers.get('x-request-id') ?? body.RequestId, { errorCode: c.code });
        assert.equal(e.additionalEventData['authFailure'], true, c.name);
        assert.equal(e.additionalEventData['authFailureReason'], c.reason, c.name);
        assert.equal(e.userIdentity.type, 'anonymous');
        assert.equal(e.userIdentity.userName, c.user, `${c.name}: the claimed user is recorded`);
      }
    }
    assert.equal((await ft.app.directory.userByName('victor'))?.role, 'viewer', 'the altered token changed nothing');
  });

  /** The console side: what a browser does, with the cookies carried by hand. */
  async function startLogin(returnTo?: string) {
    const res = await fetch(`${api}/api/v1/auth/oidc/login${returnTo ? `?returnTo=${encodeURIComponent(returnTo)}` : ''}`, { redirect: 'manual' });
    assert.equal(res.status, 302);
    const location = new URL(res.headers.get('location')!);
    const set = res.headers.getSetCookie().find((c) => c.startsWith('ft_oidc='))!;
    assert.ok(set, 'the state cookie is set');
    return { location, setCookie: set, cookie: set.split(';')[0]! };
  }
  const cookieOf = (res: Response, name: string) => res.headers.getSetCookie().find((c) => c.startsWith(`${name}=`));

  it('console single sign-on ends in a working session, recorded as ConsoleSignin', async () => {
    const { location, setCookie, cookie } = await startLogin('/events');
    assert.equal(location.origin + location.pathname, `${idp.issuer}/auth`);
    const q = location.searchParams;
    assert.equal(q.get('client_id'), idp.clientId);
    assert.equal(q.get('redirect_uri'), callback);
    assert.equal(q.get('response_type'), 'code');
    assert.equal(q.get('code_challenge_method'), 'S256');
    assert.match(q.get('code_challenge') ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.ok(q.get('state') && q.get('nonce'));
    assert.ok(q.get('scope')?.split(' ').includes('groups'));
    assert.match(setCookie, /; Max-Age=600; Path=\/api\/v1\/auth\/oidc; HttpOnly; SameSite=Lax$/);

    const back = await idp.login(location, ALICE);
    assert.equal(back.origin + back.pathname, callback);
    const code = back.searchParams.get('code')!;
    assert.ok(code);

    const cb = await fetch(back, { redirect: 'manual', headers: { cookie } });
    assert.equal(cb.status, 303, await cb.clone().text());
    assert.equal(cb.headers.get('location'), '/events');
    const session = cookieOf(cb, 'ft_session')!;
    assert.match(session, /^ft_session=[A-Za-z0-9_-]{43}; Max-Age=\d+; Path=\/; HttpOnly; SameSite=Strict$/);
    assert.match(cookieOf(cb, 'ft_oidc') ?? '', /Max-Age=0/, 'the state cookie is cleared');

    const sessionCookie = session.split(';')[0]!;
    const me = await fetch(`${api}/api/v1/auth/session`, { headers: { cookie: sessionCookie } });
    assert.equal(me.status, 200);
    const s = (await me.json()) as { userName: string; role: string; method: string; csrfToken?: string };
    assert.deepEqual([s.userName, s.role, s.method], ['alice', 'admin', 'session']);
    assert.ok(s.csrfToken);
    // The same session drives the Flink Web UI through the gateway.
    const ui = await fetch(`${api}/flink/default/overview`, { headers: { cookie: sessionCookie } });
    assert.equal(ui.status, 200);
    const ue = await eventOf(ui.headers.get('x-request-id')!, { user: 'alice' });
    assert.equal(ue.eventType, 'ConsoleOperation');
    assert.equal(ue.userIdentity.type, 'assumed-role');
    assert.equal(attrs(ue)['mfaAuthenticated'], 'true');

    const e = await eventOf(cb.headers.get('x-request-id')!, { eventName: 'ConsoleSignin' });
    assert.equal(e.eventType, 'ConsoleSignin');
    assert.equal(e.eventRW, 'Write');
    assert.equal(e.additionalEventData.outcome, 'success');
    assert.equal(e.userIdentity.type, 'assumed-role');
    assert.equal(e.userIdentity.userName, 'alice');
    assert.equal(e.userIdentity.principalId, (await ft.app.directory.userByName('alice'))!.id);
    assert.equal(attrs(e)['mfaAuthenticated'], 'true');
    assert.equal(attrs(e)['authMethod'], 'oidc');
    assert.equal(e.requestParameters['code'], '******');
    assert.equal(e.requestParameters['state'], '******');
    assert.ok(!JSON.stringify(e).includes(code), 'the authorization code is not recorded');

    // The same code again (a replayed callback URL) is refused by the provider.
    const replay = await fetch(back, { redirect: 'manual', headers: { cookie } });
    assert.equal(replay.status, 401);
    const r = (await replay.json()) as { Code: string; RequestId: string };
    assert.equal(r.Code, 'FT_ERR_OIDC_TOKEN_INVALID');
    const re = await eventOf(r.RequestId, { eventName: 'ConsoleSignin', errorCode: 'FT_ERR_OIDC_TOKEN_INVALID' });
    assert.match(String(re.additionalEventData['authFailureReason']), /^code exchange failed: invalid_grant/);
    assert.equal(re.eventType, 'ConsoleSignin');
  });

  it('console sign-in failures are refused and recorded with the reason: bad state, provider error, no role', async () => {
    const expectFailure = async (res: Response, status: number, code: string, reason: string | RegExp, userName = '') => {
      assert.equal(res.status, status);
      const requestId = res.headers.get('x-request-id')!;
      const e = await eventOf(requestId, { eventName: 'ConsoleSignin', errorCode: code });
      assert.equal(e.eventType, 'ConsoleSignin');
      assert.equal(e.additionalEventData.outcome, 'failure');
      assert.equal(e.additionalEventData['authFailure'], true);
      if (typeof reason === 'string') assert.equal(e.additionalEventData['authFailureReason'], reason);
      else assert.match(String(e.additionalEventData['authFailureReason']), reason);
      assert.equal(e.userIdentity.userName, userName);
      assert.equal(cookieOf(res, 'ft_session'), undefined, 'no session');
      return e;
    };

    // Login CSRF: the callback of one sign-in arrives with the state cookie of another.
    const mine = await startLogin();
    const theirs = await startLogin();
    const back = await idp.login(theirs.location, VICTOR);
    const crossed = await fetch(back, { redirect: 'manual', headers: { cookie: mine.cookie } });
    const body = (await crossed.clone().json()) as { Code: string };
    assert.equal(body.Code, 'FT_ERR_OIDC_STATE');
    await expectFailure(crossed, 400, 'FT_ERR_OIDC_STATE', 'state mismatch');
    // No cookie at all; a browser gets a page with a way back instead of JSON.
    const bare = await fetch(back, { redirect: 'manual', headers: { accept: 'text/html,*/*' } });
    assert.match(bare.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(await bare.clone().text(), /Sign-in failed[\s\S]*FT_ERR_OIDC_STATE[\s\S]*href="\/api\/v1\/auth\/oidc\/login"/);
    await expectFailure(bare, 400, 'FT_ERR_OIDC_STATE', 'missing, forged or expired state cookie');

    // The user says no at the provider.
    const denied = await startLogin();
    const refusal = await idp.login(denied.location, { ...VICTOR, deny: true });
    assert.equal(refusal.searchParams.get('error'), 'access_denied');
    const pe = await fetch(refusal, { redirect: 'manual', headers: { cookie: denied.cookie } });
    await expectFailure(pe, 401, 'FT_ERR_OIDC_PROVIDER_ERROR', 'provider error: access_denied');

    // Signed in at the provider, but in no group FlinkTrail maps.
    const nora = await startLogin();
    const nb = await idp.login(nora.location, NORA);
    const ne = await fetch(nb, { redirect: 'manual', headers: { cookie: nora.cookie } });
    await expectFailure(ne, 403, 'FT_ERR_OIDC_NO_ROLE', /no role mapped/, 'nora');
  });
});
