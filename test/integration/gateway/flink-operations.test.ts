/**
 * The core slice end to end, against a real Flink session cluster started by the repo's script:
 * every management operation through the gateway yields exactly one ActionTrail event with the
 * right name, Read/Write, resources, identity, source IP and outcome; Flink's answers are
 * unchanged; events are found again by single and combined filters.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { startFlink, waitForJobState, type FlinkCluster } from '../../helpers/flink.js';
import { basic, lookup, makeKey, REPO, startInProcess, tempDir, waitForEvents, type Credentials, type InProcess } from '../../helpers/flinktrail.js';
import type { ActionTrailEvent } from '../../../src/event/types.js';

const schema = JSON.parse(readFileSync(`${REPO}schema/actiontrail-event.schema.json`, 'utf8')) as object;
const ajv = new Ajv.default({ allErrors: true, strict: false });
addFormats.default(ajv);
const validateEvent = ajv.compile(schema);

describe('gateway in front of a real Flink cluster', { timeout: 300_000 }, () => {
  let flink: FlinkCluster;
  let ft: InProcess;
  let cred: Credentials & { principalId: string };
  let gw: string; // the dedicated gateway listener, paths as on Flink
  const started = new Date(Date.now() - 1000).toISOString();
  const seen = new Map<string, { eventName: string }>(); // requestId → expected event name

  before(async () => {
    flink = await startFlink();
    const dataDir = tempDir();
    cred = await makeKey(dataDir, 'alice', 'admin');
    ft = await startInProcess(flink.restUrl, { region: 'eu-test-1' }, dataDir);
    gw = ft.info.clusters['default']!.gatewayUrl;
  });
  after(async () => {
    await ft?.close();
    await flink?.stop();
  });

  async function call(method: string, path: string, init: { body?: string | FormData | Blob; json?: unknown; headers?: Record<string, string> } = {}, expectEvent?: string) {
    const headers: Record<string, string> = { authorization: basic(cred), ...init.headers };
    let body = init.body;
    if (init.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(init.json);
    }
    const res = await fetch(`${gw}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await res.text();
    const requestId = res.headers.get('x-request-id');
    assert.ok(requestId, 'the gateway adds X-Request-Id');
    if (expectEvent) seen.set(requestId, { eventName: expectEvent });
    return { res, text, requestId, json: () => JSON.parse(text) as Record<string, unknown> };
  }

  async function eventFor(requestId: string, eventName: string): Promise<ActionTrailEvent> {
    const events = await waitForEvents(ft.info.apiUrl, cred, { eventName, startTime: started }, (es) =>
      es.some((e) => e.requestId === requestId && e.additionalEventData.outcome !== 'pending'),
    );
    const mine = events.filter((e) => e.requestId === requestId);
    assert.equal(mine.length, 1, `exactly one ${eventName} event for ${requestId}`);
    const e = mine[0]!;
    assert.ok(validateEvent(e), `schema: ${JSON.stringify(validateEvent.errors)}`);
    assert.equal(e.userIdentity.userName, 'alice');
    assert.equal(e.userIdentity.accessKeyId, cred.accessKeyId);
    assert.equal(e.userIdentity.principalId, cred.principalId);
    assert.equal(e.userIdentity.type, 'ram-user');
    assert.equal(e.sourceIpAddress, '127.0.0.1');
    assert.equal(e.acsRegion, 'eu-test-1');
    assert.equal(e.serviceName, 'RealtimeCompute');
    assert.equal(e.eventSource, 'flink-jobmanager');
    assert.equal(e.additionalEventData.cluster, 'default');
    assert.deepEqual(e.referencedResources['ACS::RealtimeCompute::Cluster'], ['default']);
    return e;
  }

  let jarId = '';
  let jobId = '';

  it('uploads a jar: UploadJar, streamed, file name recorded', async () => {
    const form = new FormData();
    form.append('jarfile', new Blob([readFileSync(flink.jobJar)], { type: 'application/java-archive' }), basename(flink.jobJar));
    const r = await call('POST', 'jars/upload', { body: form }, 'UploadJar');
    assert.equal(r.res.status, 200, r.text.slice(0, 500));
    const filename = String(r.json()['filename']);
    jarId = basename(filename);
    const e = await eventFor(r.requestId, 'UploadJar');
    assert.equal(e.eventRW, 'Write');
    assert.equal(e.additionalEventData.outcome, 'success');
    assert.equal(e.additionalEventData.sensitive, true);
    assert.deepEqual(e.requestParameters['multipart'], [{ name: 'jarfile', filename: basename(flink.jobJar) }]);
    assert.equal(e.responseElements['filename'], filename);
    assert.ok(e.referencedResources['ACS::RealtimeCompute::Jar']?.includes(jarId));
  });

  it('runs the jar: RunJar with the new job id in response and resources', async () => {
    const r = await call('POST', `jars/${jarId}/run`, { json: { parallelism: 1, programArgsList: ['--job-name', 'audited-job'] } }, 'RunJar');
    assert.equal(r.res.status, 200, r.text.slice(0, 500));
    jobId = String(r.json()['jobid']);
    assert.match(jobId, /^[0-9a-f]{32}$/);
    const e = await eventFor(r.requestId, 'RunJar');
    assert.equal(e.eventRW, 'Write');
    assert.equal(e.responseElements['jobid'], jobId);
    assert.ok(e.referencedResources['ACS::RealtimeCompute::Job']?.includes(jobId));
    assert.ok(e.referencedResources['ACS::RealtimeCompute::Jar']?.includes(jarId));
    assert.deepEqual(e.requestParameters['programArgsList'], ['--job-name', 'audited-job']);
    await waitForJobState(flink.restUrl, jobId, 'RUNNING', 60_000);
  });

  it('records a refused run as a failure, without the secret in its arguments', async () => {
    const r = await call('POST', `jars/${jarId}/run`, { json: { parallelism: 1, programArgsList: ['--password', 'hunter2'] } }, 'RunJar');
    assert.equal(r.res.status, 400);
    const e = await eventFor(r.requestId, 'RunJar');
    assert.equal(e.additionalEventData.outcome, 'failure');
    assert.equal(e.errorCode, 'Flink.BadRequest');
    assert.ok((e.errorMessage ?? '').length > 0);
    assert.ok(!JSON.stringify(e).includes('hunter2'), 'a secret program argument is redacted');
  });

  it('lists jobs (Read) and leaves Flink answers unchanged', async () => {
    const r = await call('GET', 'jobs/overview', {}, 'GetJobsOverview');
    assert.equal(r.res.status, 200);
    const direct = await (await fetch(`${flink.restUrl}/jobs/overview`)).json();
    assert.deepEqual((r.json()['jobs'] as { jid: string }[]).map((j) => j.jid).sort(), (direct as { jobs: { jid: string }[] }).jobs.map((j) => j.jid).sort());
    for (const path of ['config', 'jobmanager/config']) {
      const viaGateway = await call('GET', path);
      const directText = await (await fetch(`${flink.restUrl}/${path}`)).text();
      assert.equal(viaGateway.text, directText, `${path} is byte-identical`);
    }
  });

  it('reads JobManager logs and configuration', async () => {
    const log = await call('GET', 'jobmanager/log', {}, 'GetJobManagerLog');
    assert.equal(log.res.status, 200);
    const e = await eventFor(log.requestId, 'GetJobManagerLog');
    assert.equal(e.eventRW, 'Read');
    assert.ok(Number(e.additionalEventData['responseBytes']) > 0);
    const conf = await call('GET', 'jobmanager/config', {}, 'GetJobManagerConfig');
    assert.equal((await eventFor(conf.requestId, 'GetJobManagerConfig')).eventRW, 'Read');
  });

  it('triggers a savepoint and a checkpoint', async () => {
    const sp = await call('POST', `jobs/${jobId}/savepoints`, { json: { 'cancel-job': false } }, 'TriggerSavepoint');
    assert.equal(sp.res.status, 202, sp.text.slice(0, 500));
    const trigger = String(sp.json()['request-id']);
    const e = await eventFor(sp.requestId, 'TriggerSavepoint');
    assert.equal(e.eventRW, 'Write');
    assert.equal(e.responseElements['request-id'], trigger);
    assert.equal(e.requestParameters['cancel-job'], false);
    assert.ok(e.referencedResources['ACS::RealtimeCompute::Job']?.includes(jobId));
    assert.ok(e.referencedResources['ACS::RealtimeCompute::Job']?.includes('audited-job'), 'the job name is recorded next to its id');
    let location = '';
    for (let i = 0; i < 120 && !location; i++) {
      const st = await call('GET', `jobs/${jobId}/savepoints/${trigger}`);
      const body = st.json() as { status: { id: string }; operation?: { location?: string } };
      if (body.status.id === 'COMPLETED') {
        location = String(body.operation?.location);
        const pe = await eventFor(st.requestId, 'GetSavepointStatus');
        assert.equal(pe.responseElements['location'], location);
        assert.equal(pe.eventRW, 'Read');
      } else await new Promise((res) => setTimeout(res, 250));
    }
    assert.ok(location.startsWith('file:'), 'the savepoint completed');

    const cp = await call('POST', `jobs/${jobId}/checkpoints`, { json: {} }, 'TriggerCheckpoint');
    assert.equal(cp.res.status, 202, cp.text.slice(0, 500));
    const ce = await eventFor(cp.requestId, 'TriggerCheckpoint');
    assert.equal(ce.eventRW, 'Write');
  });

  it('stops with a savepoint: StopJobWithSavepoint', async () => {
    const r = await call('POST', `jobs/${jobId}/stop`, { json: { drain: false } }, 'StopJobWithSavepoint');
    assert.equal(r.res.status, 202, r.text.slice(0, 500));
    const e = await eventFor(r.requestId, 'StopJobWithSavepoint');
    assert.equal(e.eventRW, 'Write');
    assert.equal(e.additionalEventData.sensitive, true);
    await waitForJobState(flink.restUrl, jobId, 'FINISHED', 60_000);
  });

  it('cancels with PATCH and with the Web UI yarn-cancel: CancelJob', async () => {
    for (const how of ['patch', 'yarn'] as const) {
      const run = await call('POST', `jars/${jarId}/run`, { json: { parallelism: 1 } }, 'RunJar');
      const id = String(run.json()['jobid']);
      await waitForJobState(flink.restUrl, id, 'RUNNING', 60_000);
      const r =
        how === 'patch'
          ? await call('PATCH', `jobs/${id}?mode=cancel`, {}, 'CancelJob')
          : await call('GET', `jobs/${id}/yarn-cancel`, { headers: { referer: `${gw}#/job/running/${id}/overview` } }, 'CancelJob');
      assert.ok(r.res.status === 202 || r.res.status === 200, `${how}: ${r.res.status} ${r.text.slice(0, 500)}`);
      const e = await eventFor(r.requestId, 'CancelJob');
      assert.equal(e.eventRW, 'Write');
      // Key-authenticated: an ApiCall even with a browser's Referer (ConsoleOperation is for console sessions).
      assert.equal(e.eventType, 'ApiCall');
      assert.ok(e.referencedResources['ACS::RealtimeCompute::Job']?.includes(id));
      await waitForJobState(flink.restUrl, id, 'CANCELED', 60_000);
    }
  });

  it('records Flink errors with errorCode and errorMessage', async () => {
    const r = await call('PATCH', `jobs/${'0'.repeat(32)}?mode=cancel`, {}, 'CancelJob');
    assert.ok(r.res.status >= 400);
    const e = await eventFor(r.requestId, 'CancelJob');
    assert.equal(e.additionalEventData.outcome, 'failure');
    assert.equal(e.additionalEventData.httpStatus, r.res.status);
    assert.match(e.errorCode ?? '', /^Flink\./);
    assert.ok((e.errorMessage ?? '').length > 0);
  });

  it('records unknown endpoints under their method and path, and caps large bodies', async () => {
    const r = await call('GET', `no-such-endpoint/${'b'.repeat(32)}/x`, {}, `GET /no-such-endpoint/:id/x`);
    assert.equal(r.res.status, 404);
    const e = await eventFor(r.requestId, 'GET /no-such-endpoint/:id/x');
    assert.equal(e.additionalEventData['unknownEndpoint'], true);
    assert.equal(e.eventRW, 'Read');
    const big = { programArgsList: Array.from({ length: 3000 }, (_, i) => `--arg-${i}`) };
    const t = await call('POST', `jars/${jarId}/plan`, { json: big }, 'GetJarPlan');
    const te = await eventFor(t.requestId, 'GetJarPlan');
    assert.equal(te.requestParameters['truncated'], true);
    assert.ok(Number(te.requestParameters['bodyBytes']) > 16384);
    // Program arguments decide what main() runs: kept whatever the body's size (redacted by the recorder).
    assert.deepEqual(te.requestParameters['programArgsList'], big.programArgsList);
  });

  // How soon is a benchmark (bench/ingest.ts, against an idle baseline in the same run): on a
  // shared CI machine a stalled event loop can take longer than the promise, so this test asserts
  // only that each event becomes queryable, with a hang guard, and prints the lags it saw.
  it('makes each event queryable soon after the response', async () => {
    const lags: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await call('GET', 'jobs/overview', {}, 'GetJobsOverview');
      const answered = Date.now();
      for (;;) {
        const { Events } = await lookup(ft.info.apiUrl, cred, { eventName: 'GetJobsOverview', startTime: started, maxResults: '5' });
        if (Events.some((e) => e.requestId === r.requestId)) break;
        assert.ok(Date.now() - answered < 30_000, `request ${r.requestId} still not queryable after 30 s`);
        await new Promise((res) => setTimeout(res, 5));
      }
      lags.push(Date.now() - answered);
    }
    process.stdout.write(`# event-to-queryable after the response: ${lags.join(', ')} ms\n`);
  });

  it('deletes the jar: DeleteJar', async () => {
    const r = await call('DELETE', `jars/${jarId}`, {}, 'DeleteJar');
    assert.equal(r.res.status, 200, r.text.slice(0, 500));
    const e = await eventFor(r.requestId, 'DeleteJar');
    assert.ok(e.referencedResources['ACS::RealtimeCompute::Jar']?.includes(jarId));
  });

  it('serves the same cluster under /flink/<cluster>/ on the API port', async () => {
    const res = await fetch(`${ft.info.apiUrl}/flink/default/config`, { headers: { authorization: basic(cred) } });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), await (await fetch(`${flink.restUrl}/config`)).text());
    const redirect = await fetch(`${ft.info.apiUrl}/flink/default`, { redirect: 'manual', headers: { authorization: basic(cred) } });
    assert.equal(redirect.status, 308);
    // Without credentials a known and an unknown name get the same answer: no name is revealed.
    for (const name of ['default', 'no-such-cluster']) {
      const r = await fetch(`${ft.info.apiUrl}/flink/${name}`, { redirect: 'manual' });
      assert.deepEqual([r.status, r.headers.get('location')], [308, `/flink/${name}/`], name);
    }
    const web = await fetch(`${ft.info.apiUrl}/flink/default/`, { headers: { authorization: basic(cred) } });
    assert.equal(web.status, 200);
    assert.match(await web.text(), /<html/i);
  });

  it('refuses unauthenticated and wrongly signed calls with 401 and records the failed sign-in', async () => {
    const none = await fetch(`${gw}jobs/overview`);
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate') ?? '', /Basic/);
    const body = (await none.json()) as { Code: string; RequestId: string; Message: string };
    assert.equal(body.Code, 'FT_ERR_AUTH_MISSING');
    const wrong = await fetch(`${gw}jobs/overview`, { headers: { authorization: basic({ accessKeyId: cred.accessKeyId, accessKeySecret: 'x'.repeat(40) }) } });
    assert.equal(wrong.status, 401);
    const wrongBody = (await wrong.json()) as { Code: string; RequestId: string };
    assert.equal(wrongBody.Code, 'FT_ERR_AUTH_INVALID');
    const events = await waitForEvents(ft.info.apiUrl, cred, { errorCode: 'FT_ERR_AUTH_INVALID', startTime: started }, (es) => es.some((e) => e.requestId === wrongBody.RequestId));
    const e = events.find((x) => x.requestId === wrongBody.RequestId)!;
    assert.equal(e.userIdentity.type, 'anonymous');
    assert.equal(e.userIdentity.accessKeyId, cred.accessKeyId);
    assert.equal(e.additionalEventData['authFailure'], true);
    assert.ok(!JSON.stringify(e).includes('x'.repeat(40)), 'the wrong secret is not recorded');
    const missing = await waitForEvents(ft.info.apiUrl, cred, { errorCode: 'FT_ERR_AUTH_MISSING', startTime: started }, (es) => es.some((x) => x.requestId === body.RequestId));
    assert.equal(missing.filter((x) => x.requestId === body.RequestId).length, 1);
  });

  it('every recorded call has exactly one event, and combined filters find them', async () => {
    const all: ActionTrailEvent[] = [];
    let token: string | undefined;
    do {
      const page = await lookup(ft.info.apiUrl, cred, { serviceName: 'RealtimeCompute', startTime: started, maxResults: '50', ...(token ? { nextToken: token } : {}) });
      all.push(...page.Events);
      token = page.NextToken;
    } while (token);
    const byRequest = new Map<string, number>();
    for (const e of all) byRequest.set(e.requestId, (byRequest.get(e.requestId) ?? 0) + 1);
    for (const [requestId, { eventName }] of seen) {
      assert.equal(byRequest.get(requestId), 1, `${eventName} ${requestId} recorded once`);
      assert.equal(all.find((e) => e.requestId === requestId)?.eventName, eventName);
    }
    assert.equal(new Set(all.map((e) => e.eventId)).size, all.length, 'pagination returned no duplicates');

    const cancels = all.filter((e) => e.eventName === 'CancelJob' && e.additionalEventData.outcome === 'success');
    const target = cancels[0]!;
    const targetJob = target.referencedResources['ACS::RealtimeCompute::Job']![0]!;
    const combined = await lookup(ft.info.apiUrl, cred, {
      eventName: 'CancelJob',
      eventRW: 'Write',
      user: 'alice',
      accessKeyId: cred.accessKeyId,
      resourceType: 'ACS::RealtimeCompute::Job',
      resourceName: targetJob,
      sensitive: 'true',
      region: 'eu-test-1',
      startTime: started,
    });
    assert.deepEqual(combined.Events.map((e) => e.eventId), [target.eventId]);
    const single = await lookup(ft.info.apiUrl, cred, { eventId: target.eventId, startTime: started });
    assert.deepEqual(single.Events.map((e) => e.eventId), [target.eventId]);
    const reads = await lookup(ft.info.apiUrl, cred, { eventRW: 'Read', serviceName: 'RealtimeCompute', startTime: started, maxResults: '200' });
    assert.ok(reads.Events.length > 0 && reads.Events.every((e) => e.eventRW === 'Read'));
    const none = await lookup(ft.info.apiUrl, cred, { eventName: 'CancelJob', user: 'nobody', startTime: started });
    assert.equal(none.Events.length, 0);
    const one = await fetch(`${ft.info.apiUrl}/api/v1/events/${target.eventId}`, { headers: { authorization: basic(cred) } });
    assert.deepEqual(await one.json(), target);
  });
});
