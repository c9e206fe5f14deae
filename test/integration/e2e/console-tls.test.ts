/**
 * The web console over HTTPS (`api.tls`) in a real headless Chromium that trusts the test CA
 * through its NSS database (scripts/it/chromium.sh trust) — the browser verifies the chain and
 * the name itself; nothing is ignored:
 *
 * 1. the console loads over https with Strict-Transport-Security, the session cookie is Secure,
 *    signing in works and the Event Query shows the stored events;
 * 2. the server certificate replaced on disk while a signed-in page polls in Live mode: the
 *    page's connection made before the reload goes on answering, a page loaded afterwards in the
 *    same browser is served the new certificate (its serial, as Chromium saw it), and an event
 *    stored after the reload appears in the old page.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext, CDPSession, Page } from 'playwright-core';
import { signIn, startBrowser, type TestBrowser } from '../../helpers/browser.js';
import { newEvents } from '../../helpers/events.js';
import { makeKey, startInProcess, tempDir, type InProcess } from '../../helpers/flinktrail.js';
import { makePki, type Pki } from '../../helpers/pki.js';
import { replaceFile, servedCertificate, until } from '../../helpers/tls.js';

// Nothing here talks to Flink: an address where nothing listens is enough.
const NO_FLINK = 'http://127.0.0.1:9';
const USER = 'analyst';
const PASSWORD = 'console-tls-password';

const serialOf = (pem: string) => new X509Certificate(readFileSync(pem)).serialNumber;

const servedSerial = async (port: number, ca: string) => (await servedCertificate(port, ca)).serialNumber.toUpperCase();

/** The serial of the certificate Chromium holds for the page's origin (CDP Network.getCertificate). */
async function browserSerial(cdp: CDPSession, origin: string): Promise<string> {
  const { tableNames } = await cdp.send('Network.getCertificate', { origin });
  assert.ok(tableNames.length >= 1, 'Chromium has a certificate for the origin');
  return new X509Certificate(Buffer.from(tableNames[0] as string, 'base64')).serialNumber;
}

interface Seen {
  url: string;
  status: number;
  connectionId: number;
  protocol: string | undefined;
}

/** Records every response of a page with the connection it came on. */
async function watchResponses(ctx: BrowserContext, page: Page): Promise<{ cdp: CDPSession; seen: Seen[] }> {
  const cdp = await ctx.newCDPSession(page);
  const seen: Seen[] = [];
  cdp.on('Network.responseReceived', (e) => seen.push({ url: e.response.url, status: e.response.status, connectionId: e.response.connectionId, protocol: e.response.securityDetails?.protocol }));
  await cdp.send('Network.enable');
  return { cdp, seen };
}

describe('web console over TLS in a real browser', { timeout: 240_000 }, () => {
  let pki: Pki;
  let ft: InProcess;
  let browser: TestBrowser;
  let apiUrl = '';
  let apiPort = 0;
  let live = '';
  // In the home region (`local`), which Event Query asks by default.
  const seeded = newEvents(12, { start: Date.now() - 10 * 60_000, stepMs: 30_000, users: ['tls-seed'] }).map((e) => ({ ...e, acsRegion: 'local' }));

  before(async () => {
    pki = await makePki({ servers: ['server2'], java: false, key: 'ec' });
    // The files FlinkTrail is configured with; the test replaces them as an operator would.
    live = join(pki.dir, 'live');
    mkdirSync(live);
    copyFileSync(pki.serverCert, join(live, 'server.crt'));
    copyFileSync(pki.serverKey, join(live, 'server.key'));
    const dataDir = tempDir('ft-console-tls-');
    await makeKey(dataDir, USER, 'admin', PASSWORD);
    [ft, browser] = await Promise.all([
      startInProcess(NO_FLINK, { api: { port: 0, tls: { certFile: join(live, 'server.crt'), keyFile: join(live, 'server.key') } } }, dataDir),
      startBrowser({ trustCa: pki.ca }),
    ]);
    apiUrl = ft.info.apiUrl;
    apiPort = Number(new URL(apiUrl).port);
    await Promise.all(seeded.map((e) => ft.app.store.append(e)));
  });
  after(async () => {
    await browser?.close();
    await ft?.close();
    pki?.remove();
  });

  it('loads over https with HSTS and a Secure session cookie, signs in and shows the events', async () => {
    assert.match(apiUrl, /^https:\/\/127\.0\.0\.1:\d+$/);
    const ctx = await browser.newContext();
    try {
      const page = await ctx.newPage();
      const { cdp } = await watchResponses(ctx, page);
      const res = await page.goto(`${apiUrl}/`);
      assert.ok(res, 'a response');
      assert.equal(res.status(), 200);
      assert.equal(res.headers()['strict-transport-security'], 'max-age=31536000');
      assert.equal((await res.securityDetails())?.issuer, 'FlinkTrail Test CA');
      assert.equal(await browserSerial(cdp, apiUrl), serialOf(pki.serverCert));

      await signIn(page, apiUrl, USER, PASSWORD);
      assert.equal(await page.getByTestId('user-name').textContent(), USER);
      const cookies = await ctx.cookies(apiUrl);
      assert.ok(cookies.length > 0, 'signed in with a cookie');
      assert.ok(cookies.every((c) => c.secure), `every cookie is Secure: ${JSON.stringify(cookies.map((c) => [c.name, c.secure]))}`);

      await page.goto(`${apiUrl}/events?user=tls-seed`);
      const rows = page.locator('.events-table tbody tr');
      await rows.first().waitFor();
      const ids = await Promise.all((await rows.all()).map((r) => r.getAttribute('data-event-id')));
      assert.deepEqual(new Set(ids), new Set(seeded.map((e) => e.eventId)));
    } finally {
      await ctx.close();
    }
  });

  it('takes a new certificate on disk: the old connection goes on, a new page load sees the new serial', async (t) => {
    const oldSerial = serialOf(pki.serverCert);
    const newSerial = serialOf(pki.servers['server2']!.cert);
    assert.notEqual(oldSerial, newSerial);

    // A signed-in page in Live mode: it asks the API every second on its keep-alive connections.
    const oldCtx = await browser.newContext();
    const newCtx = await browser.newContext();
    try {
      const page = await oldCtx.newPage();
      const { cdp, seen } = await watchResponses(oldCtx, page);
      await signIn(page, apiUrl, USER, PASSWORD);
      await page.goto(`${apiUrl}/events?user=tls-seed&live=1`);
      await page.locator('.events-table tbody tr').first().waitFor();
      assert.equal(await browserSerial(cdp, apiUrl), oldSerial);
      const before = new Set(seen.map((s) => s.connectionId));
      const seenBefore = seen.length;

      replaceFile(pki.servers['server2']!.key, join(live, 'server.key'));
      replaceFile(pki.servers['server2']!.cert, join(live, 'server.crt'));
      const t0 = Date.now();
      await until('the API listener serves the new certificate', async () => (await servedSerial(apiPort, pki.ca)) === newSerial);
      t.diagnostic(`new certificate served ${Date.now() - t0} ms after the files were replaced`);
      const reloadedAt = seen.length;

      // The Live polling goes on over a connection opened before the reload (with the old certificate)…
      const kept = () => seen.slice(reloadedAt).filter((s) => s.status === 200 && before.has(s.connectionId));
      await until('an answer after the reload on a connection opened before it', () => kept().length > 0).catch((err: Error) => {
        throw new Error(`${err.message}; answers after the reload: ${JSON.stringify(seen.slice(reloadedAt, reloadedAt + 10))}`);
      });
      t.diagnostic(`${seenBefore} responses before the reload on ${before.size} connection(s); ${seen.length - reloadedAt} after, ${kept().length} of them on an old connection`);
      // …and an event stored after the reload reaches the old page.
      const [late] = newEvents(1, { start: Date.now(), users: ['tls-seed'] });
      await ft.app.store.append(late!);
      await page.locator(`tr[data-event-id="${late!.eventId}"]`).waitFor({ timeout: 30_000 });

      // A page loaded now in the same browser (a new context: its own connections) gets the new certificate.
      const fresh = await newCtx.newPage();
      const { cdp: freshCdp } = await watchResponses(newCtx, fresh);
      const res = await fresh.goto(`${apiUrl}/`);
      assert.equal(res?.status(), 200);
      assert.equal(res?.headers()['strict-transport-security'], 'max-age=31536000');
      assert.equal(await browserSerial(freshCdp, apiUrl), newSerial);
      await signIn(fresh, apiUrl, USER, PASSWORD);
      assert.equal(await fresh.getByTestId('user-name').textContent(), USER);
      // The old page still holds the certificate it was served.
      assert.equal(await browserSerial(cdp, apiUrl), oldSerial);
    } finally {
      await oldCtx.close();
      await newCtx.close();
    }
  });
});
