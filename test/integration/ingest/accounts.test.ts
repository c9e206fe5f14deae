/**
 * Ingest and the Kubernetes webhook keep a member account to its own account, over HTTP against a
 * real FlinkTrail (in process, its store on disk): two member accounts made with `flinktrail
 * accounts create`, an admin of each made through the API. A member's records go to its account,
 * and one naming another account is refused per record (FT_ERR_INGEST_FOREIGN_ACCOUNT); the
 * management account ingests into any. A member delivers Kubernetes audit events only for its
 * own account's cluster, and they are stored in that account.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { ActionTrailEvent } from '../../../src/event/types.js';
import { newEvents } from '../../helpers/events.js';
import { basic, makeKey, REPO, startInProcess, tempDir, testStoreFor, type Credentials, type InProcess } from '../../helpers/flinktrail.js';

const exec = promisify(execFile);
const MANAGEMENT = '1000000000000001';

let ft: InProcess;
let root: Credentials;
const team: Record<'a' | 'b', { accountId: string; admin: Credentials }> = {} as never;

async function createAccount(dataDir: string, name: string): Promise<string> {
  const store = await testStoreFor(dataDir);
  const { stdout } = await exec(process.execPath, [join(REPO, 'bin/flinktrail.mjs'), 'accounts', 'create', '--name', name, '--output', 'json', '--data-dir', dataDir], {
    // The store the server uses (FLINKTRAIL_TEST_STORE=postgres: a database of this data directory's).
    env: { ...process.env, ...(store ? { FLINKTRAIL__STORE__URL: store.url } : {}) },
  });
  return (JSON.parse(stdout) as { accountId: string }).accountId;
}

async function memberAdmin(userName: string, accountId: string): Promise<Credentials> {
  const headers = { authorization: basic(root), 'content-type': 'application/json' };
  const user = await fetch(`${ft.info.apiUrl}/api/v1/users`, { method: 'POST', headers, body: JSON.stringify({ userName, role: 'admin', accountId }) });
  assert.equal(user.status, 201, await user.clone().text());
  const key = await fetch(`${ft.info.apiUrl}/api/v1/keys`, { method: 'POST', headers, body: JSON.stringify({ userName }) });
  assert.equal(key.status, 201, await key.clone().text());
  return (await key.json()) as Credentials;
}

before(async () => {
  const dataDir = tempDir('ft-ingest-accounts-');
  root = await makeKey(dataDir, 'root', 'admin');
  const a = await createAccount(dataDir, 'team-a');
  const b = await createAccount(dataDir, 'team-b');
  ft = await startInProcess(
    'http://127.0.0.1:9',
    {
      accountId: MANAGEMENT,
      // Clusters the gateway would front (never called here): the Kubernetes clusters of the two teams.
      clusters: [
        { name: 'a-prod', url: 'http://127.0.0.1:9', account: a },
        { name: 'b-prod', url: 'http://127.0.0.1:9', account: b },
      ],
    },
    dataDir,
  );
  team.a = { accountId: a, admin: await memberAdmin('alice', a) };
  team.b = { accountId: b, admin: await memberAdmin('bob', b) };
});
after(async () => {
  await ft?.close();
});

/** `n` records of another tool, naming `account` (or none). */
function records(n: number, account: string | undefined): ActionTrailEvent[] {
  return newEvents(n, { start: Date.now() - 600_000, stepMs: 1 }).map((e) => {
    const r: ActionTrailEvent = { ...e, eventSource: 'ci-pipeline' };
    delete r.recipientAccountId;
    return account === undefined ? r : { ...r, recipientAccountId: account };
  });
}

async function ingest(cred: Credentials, batch: unknown[]): Promise<{ status: number; body: { accepted: number; rejected: { index: number; code: string; message: string }[] } }> {
  const res = await fetch(`${ft.info.apiUrl}/api/v1/events`, { method: 'POST', headers: { authorization: basic(cred), 'content-type': 'application/json' }, body: JSON.stringify(batch) });
  return { status: res.status, body: (await res.json()) as never };
}

/** Where each event was stored, by id (the store itself, no query-side scoping). */
async function accountsOf(ids: string[]): Promise<(string | undefined)[]> {
  return Promise.all(ids.map(async (id) => (await ft.app.store.get(id))?.recipientAccountId));
}

describe("ingest into the caller's account", () => {
  it("stores a member's records in its account, and refuses each record naming another account", async () => {
    const [own, none, other, mgmt] = [records(1, team.a.accountId), records(1, undefined), records(1, team.b.accountId), records(1, MANAGEMENT)];
    const r = await ingest(team.a.admin, [...own, ...none, ...other, ...mgmt]);
    assert.equal(r.status, 200);
    assert.equal(r.body.accepted, 2);
    assert.deepEqual(
      r.body.rejected.map((x) => [x.index, x.code]),
      [
        [2, 'FT_ERR_INGEST_FOREIGN_ACCOUNT'],
        [3, 'FT_ERR_INGEST_FOREIGN_ACCOUNT'],
      ],
    );
    assert.deepEqual(await accountsOf([own[0]!.eventId, none[0]!.eventId]), [team.a.accountId, team.a.accountId]);
    assert.deepEqual(await accountsOf([other[0]!.eventId, mgmt[0]!.eventId]), [undefined, undefined], 'nothing stored of a refused record');
  });

  it('lets the management account ingest into any account, and into its own a record naming none', async () => {
    const [toB, none] = [records(1, team.b.accountId), records(1, undefined)];
    const r = await ingest(root, [...toB, ...none]);
    assert.deepEqual(r.body, { accepted: 2, duplicates: 0, rejected: [] });
    assert.deepEqual(await accountsOf([toB[0]!.eventId, none[0]!.eventId]), [team.b.accountId, MANAGEMENT]);
  });
});

describe("the Kubernetes webhook keeps a member to its own account's clusters", () => {
  const sample = readFileSync(new URL('../k8s-audit/samples/SYNTHETIC-flinkdeployment-eventlist.json', import.meta.url), 'utf8');
  const deliver = (cred: Credentials, cluster: string, body: string) =>
    fetch(`${ft.info.apiUrl}/k8s-audit?cluster=${cluster}`, { method: 'POST', headers: { authorization: basic(cred), 'content-type': 'application/json' }, body });

  it("refuses a member's delivery for another account's cluster, and stores its own cluster's events in its account", async () => {
    const refused = await deliver(team.a.admin, 'b-prod', sample);
    assert.equal(refused.status, 403);
    assert.equal(((await refused.json()) as { Code: string }).Code, 'NoPermission');
    const ok = await deliver(team.a.admin, 'a-prod', sample);
    assert.equal(ok.status, 200);
    assert.equal(((await ok.json()) as { accepted: number }).accepted, 2);
    const page = await ft.app.store.lookup({ filter: { startTime: 0, endTime: Date.now() + 60_000, cluster: 'a-prod' }, direction: 'FORWARD', limit: 10 });
    assert.equal(page.events.length, 2);
    for (const e of page.events) assert.equal(e.recipientAccountId, team.a.accountId);
    const b = await ft.app.store.lookup({ filter: { startTime: 0, endTime: Date.now() + 60_000, cluster: 'b-prod' }, direction: 'FORWARD', limit: 10 });
    assert.equal(b.events.length, 0, 'nothing of the refused delivery was stored');
  });
});
