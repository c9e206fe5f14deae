/**
 * Console single sign-on in a real browser (headless Chromium), with the provider on another
 * site than FlinkTrail (`localhost` vs `127.0.0.1`), as in production — so that SameSite rules
 * apply: the `SameSite=Lax` state cookie must come back on the provider's cross-site redirect,
 * and the `SameSite=Strict` session cookie, set on that cross-site response, must then work for
 * the console's own calls.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBrowser, type TestBrowser } from '../../helpers/browser.js';
import { startInProcess, tempDir, type InProcess } from '../../helpers/flinktrail.js';
import { startOidcProvider, type TestOidcProvider } from '../../helpers/oidc-provider.js';

describe('console single sign-on in Chromium', { timeout: 120_000 }, () => {
  let idp: TestOidcProvider;
  let ft: InProcess;
  let browser: TestBrowser;
  let origin: string;

  before(async () => {
    // FlinkTrail listens on port 0 after the provider; the provider reads its callback at its first request.
    [idp, browser] = await Promise.all([startOidcProvider({ redirectUris: () => [`${origin}/api/v1/auth/oidc/callback`], issuerHost: 'localhost' }), startBrowser()]);
    // No Flink is needed: only the API listener is used (the cluster is never called).
    ft = await startInProcess(
      'http://127.0.0.1:9',
      {
        auth: {
          oidc: {
            enabled: true,
            issuer: idp.issuer,
            clientId: idp.clientId,
            clientSecret: idp.clientSecret,
            scopes: ['openid', 'profile', 'email', 'groups'],
            roleMapping: { 'flink-admins': 'admin', 'flink-viewers': 'viewer' },
          },
        },
      },
      tempDir(),
    );
    origin = ft.info.apiUrl;
  });
  after(async () => {
    await browser?.close();
    await ft?.close();
    await idp?.close();
  });

  it('signs in at the provider and lands in the console with a working session', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const navigations: { url: string; site: string; cookie: string }[] = [];
    page.on('request', (r) => {
      if (!r.isNavigationRequest()) return;
      void r.allHeaders().then((h) => navigations.push({ url: r.url(), site: h['sec-fetch-site'] ?? '', cookie: h['cookie'] ?? '' }));
    });

    await page.goto(`${origin}/api/v1/auth/oidc/login?returnTo=/events`);
    assert.ok(page.url().startsWith(`${idp.issuer}/interaction/`), `at the provider's login page: ${page.url()}`);
    await page.fill('input[name=username]', 'alice');
    await page.fill('input[name=password]', 'alice-password-1');
    await page.fill('input[name=otp]', '123456');
    await Promise.all([page.waitForURL(`${origin}/events`, { timeout: 15_000 }), page.click('#signin')]);

    // The console's own calls (same site) carry the session.
    const session = await page.evaluate(async () => {
      const r = await fetch('/api/v1/auth/session');
      return { status: r.status, body: (await r.json()) as { userName?: string; role?: string; method?: string } };
    });
    assert.equal(session.status, 200, JSON.stringify(session.body));
    assert.deepEqual([session.body.userName, session.body.role, session.body.method], ['alice', 'admin', 'session']);

    const cookies = await context.cookies(origin);
    const sid = cookies.find((c) => c.name === 'ft_session');
    assert.ok(sid, 'the session cookie is stored from the cross-site callback response');
    assert.equal(sid.sameSite, 'Strict');
    assert.equal(sid.httpOnly, true);
    assert.equal(cookies.find((c) => c.name === 'ft_oidc'), undefined, 'the state cookie is gone');

    await page.waitForTimeout(100); // header callbacks of the last navigation
    const cb = navigations.find((n) => n.url.startsWith(`${origin}/api/v1/auth/oidc/callback`));
    assert.ok(cb, 'the provider sent the browser to the callback');
    assert.equal(cb.site, 'cross-site', 'the provider is another site, as in production');
    assert.match(cb.cookie, /(^|; )ft_oidc=/, 'the SameSite=Lax state cookie came back on the cross-site redirect');
    await context.close();
  });

  it('shows a page with a way back when the user denies the sign-in', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${origin}/api/v1/auth/oidc/login`);
    await Promise.all([page.waitForURL(`${origin}/api/v1/auth/oidc/callback**`), page.click('#deny')]);
    assert.match((await page.textContent('body')) ?? '', /Sign-in failed[\s\S]*access_denied[\s\S]*FT_ERR_OIDC_PROVIDER_ERROR/);
    assert.equal(await page.getAttribute('a[href="/api/v1/auth/oidc/login"]', 'href'), '/api/v1/auth/oidc/login');
    assert.equal((await context.cookies(origin)).find((c) => c.name === 'ft_session'), undefined);
    await context.close();
  });
});
