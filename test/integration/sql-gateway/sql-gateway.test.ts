/**
 * The Flink SQL Gateway through FlinkTrail, against a real SQL Gateway and session cluster
 * (scripts/flink/flink.sh --with-sql-gateway): open a session, CREATE TABLE … WITH a password,
 * INSERT INTO (a job starts on the cluster), SELECT, SET a secret, ADD JAR from a URL with
 * credentials, STOP JOB, close — and check the events: statement kinds, sensitive flags,
 * session / operation / job links, and that no planted secret is stored anywhere.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ActionTrailEvent } from '../../../src/event/types.js';
import { startFlink, waitForJobState, type FlinkCluster } from '../../helpers/flink.js';
import { basic, foundIn, lookup, makeKey, startInProcess, storedContents, tempDir, waitForEvents, type Credentials, type InProcess } from '../../helpers/flinktrail.js';

const PLANTED = 'PLANTED-';
let flink: FlinkCluster;
let ft: InProcess;
let dataDir: string;
let cred: Credentials;
let sqlBase: string;
let jmBase: string;

/** A cluster with a SQL Gateway: the shared one if CI gave one, else our own. */
async function flinkWithGateway(): Promise<FlinkCluster> {
  const shared = await startFlink({ withSqlGateway: true });
  if (shared.sqlGatewayUrl) return shared;
  // The shared cluster (FLINKTRAIL_TEST_FLINK_URL) has no SQL Gateway: start one of our own.
  const saved = process.env['FLINKTRAIL_TEST_FLINK_URL'];
  delete process.env['FLINKTRAIL_TEST_FLINK_URL'];
  try {
    return await startFlink({ withSqlGateway: true });
  } finally {
    if (saved !== undefined) process.env['FLINKTRAIL_TEST_FLINK_URL'] = saved;
  }
}

async function call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${sqlBase}${path}`, {
    method,
    headers: { authorization: basic(cred), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as T };
}

interface Page {
  resultType?: string;
  jobID?: string;
  nextResultUri?: string;
  results?: { data?: { fields: unknown[] }[] };
  errors?: string[];
}

/** Runs a statement and pages its results until rows, a job id, the end, or an error. */
async function run(session: string, statement: string, until: (p: Page) => boolean = (p) => p.resultType === 'EOS' || !!p.results?.data?.length): Promise<{ operation: string; last: Page; status: number }> {
  const exec = await call<{ operationHandle: string }>('POST', `/v1/sessions/${session}/statements`, { statement });
  assert.equal(exec.status, 200, JSON.stringify(exec.body));
  const operation = exec.body.operationHandle;
  let uri = `/v1/sessions/${session}/operations/${operation}/result/0?rowFormat=JSON`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    const page = await call<Page>('GET', uri);
    if (page.status !== 200 || until(page.body)) return { operation, last: page.body, status: page.status };
    if (Date.now() > deadline) throw new Error(`no result for ${statement}: ${JSON.stringify(page.body).slice(0, 300)}`);
    if (page.body.nextResultUri) uri = page.body.nextResultUri.includes('?') ? page.body.nextResultUri : `${page.body.nextResultUri}?rowFormat=JSON`;
    await new Promise((r) => setTimeout(r, 200));
  }
}

before(async () => {
  flink = await flinkWithGateway();
  dataDir = tempDir('ft-sqlgw-');
  cred = await makeKey(dataDir, 'analyst', 'admin');
  ft = await startInProcess(
    flink.restUrl,
    {
      clusters: [
        { name: 'sql', url: flink.sqlGatewayUrl, kind: 'sql-gateway' },
        { name: 'jm', url: flink.restUrl },
      ],
    },
    dataDir,
  );
  sqlBase = `${ft.info.apiUrl}/flink/sql`;
  jmBase = `${ft.info.apiUrl}/flink/jm`;
});

after(async () => {
  await ft?.close();
  await flink?.stop();
});

describe('SQL Gateway through FlinkTrail (real SQL Gateway)', () => {
  let session = '';
  let jobId = '';
  const ops: Record<string, string> = {};

  it('runs a session: CREATE TABLE with a password, INSERT (a job starts), SELECT, SET, ADD JAR, STOP JOB, close', async () => {
    const open = await call<{ sessionHandle: string }>('POST', '/v1/sessions', { sessionName: 'audit-test', properties: { 's3.secret-key': `${PLANTED}session` } });
    assert.equal(open.status, 200, JSON.stringify(open.body));
    session = open.body.sessionHandle;

    // Accepted by the catalog (options are only checked when the table is used).
    ops['secret'] = (await run(session, `CREATE TABLE secret_src (id BIGINT) WITH ('connector'='datagen', 'rows-per-second'='1', 'password'='${PLANTED}s3cr3t-1')`)).operation;
    ops['src'] = (await run(session, "CREATE TABLE src (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '5')")).operation;
    ops['snk'] = (await run(session, "CREATE TABLE snk (id BIGINT) WITH ('connector' = 'blackhole')")).operation;

    const insert = await run(session, 'INSERT INTO snk SELECT id FROM src', (p) => typeof p.jobID === 'string' || !!p.results?.data?.length);
    ops['insert'] = insert.operation;
    jobId = insert.last.jobID ?? String(insert.last.results?.data?.[0]?.fields[0]);
    assert.match(jobId, /^[0-9a-f]{32}$/);
    await waitForJobState(flink.restUrl, jobId, 'RUNNING', 60_000);

    // datagen refuses the unknown option when the table is read: the failure is recorded, redacted.
    const failing = await run(session, 'INSERT INTO snk SELECT id FROM secret_src', () => false);
    assert.equal(failing.status, 500);
    ops['failing'] = failing.operation;

    ops['select'] = (await run(session, 'SELECT 1 AS one')).operation;
    ops['set'] = (await run(session, `SET 'fs.s3a.secret.key' = '${PLANTED}set'`)).operation;

    const addJar = await call('POST', `/v2/sessions/${session}/configure-session`, { statement: `ADD JAR 'http://deployer:${PLANTED}jar@127.0.0.1:9/udf.jar'` });
    assert.ok(addJar.status >= 400, 'the jar cannot be fetched');

    // A job started through SQL shows up in the JobManager's own API, through FlinkTrail too.
    const job = await fetch(`${jmBase}/jobs/${jobId}`, { headers: { authorization: basic(cred) } });
    assert.equal(job.status, 200);

    ops['stop'] = (await run(session, `STOP JOB '${jobId}'`)).operation;
    await waitForJobState(flink.restUrl, jobId, 'CANCELED', 60_000).catch(async () => waitForJobState(flink.restUrl, jobId, 'FINISHED', 30_000));

    const close = await call('DELETE', `/v1/sessions/${session}`);
    assert.equal(close.status, 200);
  });

  it('records each statement with its kind, sensitivity, redacted text, session and operation', async () => {
    const all = await waitForEvents(ft.info.apiUrl, cred, { cluster: 'sql', maxResults: '200', direction: 'FORWARD' }, (es) => es.some((e) => e.eventName === 'CloseSession') && es.every((e) => e.additionalEventData.outcome !== 'pending'), 10_000);
    const exec = all.filter((e) => e.eventName === 'ExecuteStatement');
    const byOp = (op: string) => exec.find((e) => e.referencedResources['ACS::RealtimeCompute::Operation']?.includes(op));
    const expect: [string, string, boolean][] = [
      ['secret', 'create', true],
      ['src', 'create', true],
      ['snk', 'create', true],
      ['insert', 'insert', true],
      ['failing', 'insert', true],
      ['select', 'query', false],
      ['set', 'set', true],
      ['stop', 'stop-job', true],
    ];
    for (const [op, kind, sensitive] of expect) {
      const e = byOp(ops[op]!);
      assert.ok(e, `no ExecuteStatement event for ${op}`);
      assert.equal(e.additionalEventData['statementKind'], kind, op);
      assert.equal(e.additionalEventData.sensitive, sensitive, op);
      assert.equal(e.eventSource, 'flink-sql-gateway');
      assert.equal(e.additionalEventData.outcome, 'success', op);
      assert.deepEqual(e.referencedResources['ACS::RealtimeCompute::Session'], [session], op);
      assert.equal(e.userIdentity.userName, 'analyst');
    }
    const secret = byOp(ops['secret']!)!;
    assert.equal(secret.requestParameters['statement'], "CREATE TABLE secret_src (id BIGINT) WITH ('connector'='datagen', 'rows-per-second'='1', 'password' = '******')");
    assert.equal(secret.additionalEventData['redactedValues'], 1);
    assert.equal(secret.additionalEventData['statementObject'], 'secret_src');
    assert.equal(secret.additionalEventData['statementObjectType'], 'Table');
    assert.equal(byOp(ops['set']!)!.requestParameters['statement'], "SET 'fs.s3a.secret.key' = '******'");
    assert.equal(byOp(ops['insert']!)!.additionalEventData['statementObject'], 'snk');
    assert.equal(byOp(ops['insert']!)!.additionalEventData['submitsJob'], true);

    const open = all.find((e) => e.eventName === 'OpenSession')!;
    assert.deepEqual(open.referencedResources['ACS::RealtimeCompute::Session'], [session]);
    assert.equal((open.requestParameters['properties'] as Record<string, string>)['s3.secret-key'], '******');

    const jar = all.find((e) => e.eventName === 'ConfigureSession')!;
    assert.equal(jar.additionalEventData['statementKind'], 'add-jar');
    assert.equal(jar.additionalEventData.outcome, 'failure');
    assert.equal(jar.requestParameters['statement'], "ADD JAR 'http://deployer:******@127.0.0.1:9/udf.jar'");

    const failedFetch = all.find((e) => e.eventName === 'FetchResults' && e.referencedResources['ACS::RealtimeCompute::Operation']?.includes(ops['failing']!) && e.additionalEventData.outcome === 'failure');
    assert.ok(failedFetch, 'the failing INSERT is recorded as a failed FetchResults');
    assert.equal(failedFetch.errorCode, 'Flink.InternalServerError');
    assert.ok(all.some((e) => e.eventName === 'CloseSession' && e.additionalEventData.outcome === 'success'));
  });

  it('links the INSERT job: its FetchResults and the JobManager events share the Job resource', async () => {
    const byJob = await lookup(ft.info.apiUrl, cred, { resourceType: 'ACS::RealtimeCompute::Job', resourceName: jobId, maxResults: '200' });
    const names = new Set(byJob.Events.map((e: ActionTrailEvent) => `${e.eventSource}:${e.eventName}`));
    assert.ok(names.has('flink-sql-gateway:FetchResults'), [...names].join(','));
    assert.ok(names.has('flink-jobmanager:GetJobDetails'), [...names].join(','));
    const fetched = byJob.Events.find((e) => e.eventName === 'FetchResults')!;
    assert.ok(fetched.referencedResources['ACS::RealtimeCompute::Operation']?.includes(ops['insert']!));
    assert.equal(fetched.additionalEventData['jobId'], jobId);
  });

  // requestDetails() names the statement's objects as resources; the gateway's completion keeps
  // them next to the endpoint's own (src/sources/gateway/gateway.ts, finish()).
  it('names the statement objects as resources (Table, and the Job of STOP JOB)', async () => {
    const all = (await lookup(ft.info.apiUrl, cred, { cluster: 'sql', eventName: 'ExecuteStatement', maxResults: '200' })).Events;
    const byOp = (op: string) => all.find((e) => e.referencedResources['ACS::RealtimeCompute::Operation']?.includes(op));
    assert.deepEqual(byOp(ops['secret']!)?.referencedResources['ACS::RealtimeCompute::Table'], ['secret_src']);
    assert.deepEqual(byOp(ops['insert']!)?.referencedResources['ACS::RealtimeCompute::Table'], ['snk']);
    assert.deepEqual(byOp(ops['stop']!)?.referencedResources['ACS::RealtimeCompute::Job'], [jobId]);
  });

  it('no planted secret is stored anywhere in the store', async () => {
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(foundIn(await storedContents(dataDir), [PLANTED]), []);
  });
});
