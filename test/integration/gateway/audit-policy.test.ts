/**
 * The audit policy through the real gateway in front of a real Flink: a "quiet Web UI" policy
 * drops the dashboard's repeated overview polls, keeps its other polls at Metadata and coalesces
 * their repeats (nothing unaccounted for, also when FlinkTrail stops mid-window), still records a
 * refused read of a dropped endpoint and a jar upload/delete (at Metadata), and the policy's
 * arrival is itself recorded once (UpdateAuditPolicy), not again on a restart with the same policy.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { startFlink, type FlinkCluster } from '../../helpers/flink.js';
import { basic, makeKey, REPO, startInProcess, tempDir, waitForEvents, type Credentials, type InProcess } from '../../helpers/flinktrail.js';
import type { ActionTrailEvent } from '../../../src/event/types.js';
import { buildApp } from '../../../src/app.js';
import { buildConfig } from '../../../src/config/index.js';
import { createLogger } from '../../../src/telemetry/logger.js';

const ajv = new Ajv.default({ allErrors: true, strict: false });
addFormats.default(ajv);
const validateEvent = ajv.compile(JSON.parse(readFileSync(`${REPO}schema/actiontrail-event.schema.json`, 'utf8')) as object);

const BROWSER = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

/** The sample of docs/reference/audit-policy.md, shortened to what the overview page asks. */
const quietWebUi = {
  rules: [
    { level: 'None', eventRW: 'Read', eventNames: ['GetClusterOverview'] },
    { level: 'Metadata', eventRW: 'Read', eventNames: ['GetJobsOverview', 'ListTaskManagers'] },
    { level: 'None' },
  ],
  coalesce: { enabled: true, windowSeconds: 5 },
};

const countOf = (e: ActionTrailEvent) => (e.additionalEventData['coalesced'] as { count: number } | undefined)?.count ?? 1;

describe('audit policy: a quiet Web UI through the gateway', { timeout: 300_000 }, () => {
  let flink: FlinkCluster;
  let ft: InProcess | undefined;
  let cred: Credentials;
  let dataDir: string;
  const started = new Date(Date.now() - 1000).toISOString();
  const start = async () => {
    ft = await startInProcess(flink.restUrl, { auditPolicy: quietWebUi }, dataDir);
    return ft;
  };
  const gw = () => ft!.info.clusters['default']!.gatewayUrl;
  const get = async (path: string, authorization = basic(cred)) => {
    const res = await fetch(`${gw()}${path}`, { headers: { authorization, 'user-agent': BROWSER } });
    await res.arrayBuffer();
    return res;
  };
  const events = (eventName: string, pred: (es: ActionTrailEvent[]) => boolean, timeoutMs = 20_000) =>
    waitForEvents(ft!.info.apiUrl, cred, { eventName, startTime: started }, pred, timeoutMs);
  const omitted = async (reason: string) =>
    (await ft!.app.metrics.registry.getSingleMetric('flinktrail_events_omitted_total')?.get())?.values.filter((v) => v.labels['reason'] === reason).reduce((n, v) => n + v.value, 0) ?? 0;

  before(async () => {
    flink = await startFlink();
    dataDir = tempDir();
    cred = await makeKey(dataDir, 'alice', 'admin');
    await start();
  });
  after(async () => {
    await ft?.close();
    await flink?.stop();
  });

  it('records the policy it starts with (UpdateAuditPolicy, a Write with both hashes)', async () => {
    const [e] = await events('UpdateAuditPolicy', (es) => es.length === 1);
    assert.equal(e?.eventRW, 'Write');
    assert.equal(e?.additionalEventData['ruleCount'], 3);
    assert.match(String(e?.additionalEventData['policyHash']), /^[0-9a-f]{64}$/);
    assert.notEqual(e?.additionalEventData['policyHash'], e?.additionalEventData['previousPolicyHash']);
  });

  it('drops the overview polls, keeps the others at Metadata and coalesces their repeats', async () => {
    const rounds = 5;
    for (let i = 0; i < rounds; i++) {
      for (const path of ['overview', 'jobs/overview', 'taskmanagers']) assert.equal((await get(path)).status, 200);
    }
    // The window (5 s) ends: every poll is accounted for, by an event or a count.
    const jobs = await events('GetJobsOverview', (es) => es.reduce((n, e) => n + countOf(e), 0) === rounds);
    const tms = await events('ListTaskManagers', (es) => es.reduce((n, e) => n + countOf(e), 0) === rounds);
    for (const es of [jobs, tms]) {
      assert.ok(es.length < rounds, `repeats were coalesced: ${es.length} events for ${rounds} polls`);
      const c = es.find((e) => e.additionalEventData['coalesced']);
      assert.ok(c, 'one event stands for the repeats');
      const { count, firstTime, lastTime } = c.additionalEventData['coalesced'] as { count: number; firstTime: string; lastTime: string };
      assert.ok(count >= 2);
      assert.ok(firstTime <= lastTime);
      for (const e of es) {
        assert.ok(validateEvent(e), `schema: ${JSON.stringify(validateEvent.errors)}`);
        assert.equal(e.additionalEventData['auditLevel'], 'Metadata');
        assert.deepEqual(e.requestParameters, {});
        assert.deepEqual(e.responseElements, {});
        assert.equal(e.userIdentity.userName, 'alice');
        assert.equal(e.userAgent, BROWSER);
        assert.equal(e.additionalEventData.outcome, 'success');
      }
    }
    // No overview poll was stored; the metrics count each one left out.
    const overview = await events('GetClusterOverview', () => true);
    assert.deepEqual(overview, []);
    assert.ok((await omitted('policy')) >= rounds, 'dropped polls are counted');
    assert.equal(await omitted('coalesced'), 2 * rounds - jobs.length - tms.length);
  });

  it('still records a refused read of a dropped endpoint, at Metadata', async () => {
    const res = await get('overview', basic({ user: 'alice', password: 'wrong' }));
    assert.equal(res.status, 401);
    const requestId = res.headers.get('x-request-id');
    const [e] = await events('GetClusterOverview', (es) => es.some((x) => x.requestId === requestId));
    assert.equal(e?.additionalEventData.outcome, 'failure');
    assert.equal(e?.additionalEventData['auditLevel'], 'Metadata');
    assert.ok(e?.errorCode);
  });

  it('keeps writes the catch-all None rule names, at Metadata: upload and delete of a jar', async () => {
    const form = new FormData();
    form.append('jarfile', new Blob([readFileSync(flink.jobJar)], { type: 'application/java-archive' }), basename(flink.jobJar));
    const up = await fetch(`${gw()}jars/upload`, { method: 'POST', headers: { authorization: basic(cred) }, body: form });
    const body = (await up.json()) as { filename: string };
    assert.equal(up.status, 200);
    const jarId = basename(body.filename);
    const del = await fetch(`${gw()}jars/${jarId}`, { method: 'DELETE', headers: { authorization: basic(cred) } });
    await del.arrayBuffer();
    assert.equal(del.status, 200);
    const [upload] = await events('UploadJar', (es) => es.some((e) => e.additionalEventData.outcome === 'success'));
    assert.equal(upload?.additionalEventData['auditLevel'], 'Metadata');
    assert.deepEqual(upload?.requestParameters, {}, 'no multipart details at Metadata');
    assert.deepEqual(upload?.responseElements, {});
    assert.ok(upload?.referencedResources['ACS::RealtimeCompute::Jar']?.includes(jarId), 'resources are metadata and stay');
    const [deleted] = await events('DeleteJar', (es) => es.some((e) => e.additionalEventData.outcome === 'success'));
    assert.equal(deleted?.eventRW, 'Write');
    assert.equal(deleted?.additionalEventData['auditLevel'], 'Metadata');
  });

  it('loses no count when FlinkTrail stops mid-window, and does not record the same policy again after a restart', async () => {
    const before = (await events('GetJobsOverview', () => true)).reduce((n, e) => n + countOf(e), 0);
    for (let i = 0; i < 4; i++) assert.equal((await get('jobs/overview')).status, 200);
    await ft!.close();
    ft = undefined;
    await start();
    await events('GetJobsOverview', (es) => es.reduce((n, e) => n + countOf(e), 0) === before + 4);
    const policies = await events('UpdateAuditPolicy', () => true);
    assert.equal(policies.length, 1, 'the same policy after a restart is no change');
  });

  it('refuses a policy that cannot mean what it says at start, before anything is opened', async () => {
    const dir = join(tempDir(), 'data');
    const config = buildConfig({ dataDir: dir, api: { port: 0 }, clusters: [{ name: 'default', url: flink.restUrl }], auditPolicy: { rules: [{ level: 'None' }, { level: 'None', eventRW: 'Write' }] } });
    await assert.rejects(buildApp(config, { log: createLogger('silent') }), (err: Error & { code?: string }) => err.code === 'FT_ERR_AUDIT_POLICY_INVALID' && err.message.includes('auditPolicy.rules.1'));
    assert.equal(existsSync(dir), false, 'no data directory was made');
  });
});
