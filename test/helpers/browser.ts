/**
 * Integration-test helper: a headless Chromium (Debian's package, installed by
 * scripts/it/chromium.sh when missing) driven by playwright-core, plus what console tests share:
 * signing in through the console and saving screenshots under test-results/screenshots/.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { REPO_ROOT } from './flink.js';
import { register, starting } from './lifecycle.js';

const execFileAsync = promisify(execFile);

export const SCREENSHOT_DIR = join(REPO_ROOT, 'test-results', 'screenshots');

/** Flags that work in these containers (shared/reference/infra §5): no sandbox as root, no GPU, no background traffic. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

async function chromiumPath(): Promise<string> {
  const script = join(REPO_ROOT, 'scripts', 'it', 'chromium.sh');
  await execFileAsync('bash', [script, 'install'], { timeout: 10 * 60_000, env: process.env });
  const { stdout } = await execFileAsync('bash', [script, 'path'], { timeout: 30_000, env: process.env });
  const line = stdout.trim().split('\n').pop() ?? '';
  return (JSON.parse(line) as { executablePath: string }).executablePath;
}

export interface TestBrowser {
  browser: Browser;
  /** A fresh context (own cookies) with downloads enabled, at `viewport` (default 1280×800). */
  newContext(viewport?: { width: number; height: number }): Promise<BrowserContext>;
  close(): Promise<void>;
}

export interface BrowserOptions {
  /** A PEM CA the browser trusts for HTTPS servers (through an NSS database in a HOME of its own). */
  trustCa?: string;
}

export function startBrowser(opts: BrowserOptions = {}): Promise<TestBrowser> {
  return starting(launch(opts));
}

async function launch(opts: BrowserOptions): Promise<TestBrowser> {
  const executablePath = await chromiumPath();
  let home: string | undefined;
  if (opts.trustCa) {
    home = mkdtempSync(join(tmpdir(), 'ft-chromium-home-'));
    await execFileAsync('bash', [join(REPO_ROOT, 'scripts', 'it', 'chromium.sh'), 'trust', '--home', home, '--ca', opts.trustCa], { timeout: 60_000 });
  }
  const removeHome = () => home && rmSync(home, { recursive: true, force: true });
  let browser: Browser;
  try {
    browser = await chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS, timeout: 60_000, ...(home ? { env: { ...process.env, HOME: home } } : {}) });
  } catch (err) {
    removeHome();
    throw err;
  }
  return {
    browser,
    newContext: (viewport = { width: 1280, height: 800 }) => browser.newContext({ viewport, acceptDownloads: true, locale: 'en-US', timezoneId: 'UTC' }),
    close: register({ name: 'Chromium', stop: () => browser.close().finally(removeHome) }),
  };
}

/** Signs in on the console's sign-in page and waits for the Event Query. */
export async function signIn(page: Page, apiUrl: string, user: string, password: string): Promise<void> {
  await page.goto(`${apiUrl}/`);
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('heading', { name: 'Event Query' }).waitFor({ timeout: 10_000 });
}

/** Saves a full-page screenshot as test-results/screenshots/<name>.png; returns the path. */
export async function screenshot(page: Page, name: string, fullPage = false): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage });
  return path;
}
