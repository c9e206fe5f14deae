/**
 * Proves the Flink harness (scripts/flink/flink.sh + test/helpers/flink.ts) against a REAL cluster:
 * start, /overview, jar upload + run, savepoint, cancel, stop.
 *
 *   node --import tsx --test test/integration/flink-harness.test.ts
 *   FLINKTRAIL_TEST_FLINK_VERSION=1.20.3 node --import tsx --test test/integration/flink-harness.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  type FlinkCluster,
  getJson,
  sendJson,
  startFlink,
  uploadAndRunJob,
  waitForJobState,
  waitForOperation,
} from '../helpers/flink.js';

const version = process.env['FLINKTRAIL_TEST_FLINK_VERSION'];

describe('flink harness', { timeout: 20 * 60_000 }, () => {
  let flink: FlinkCluster | undefined;
  let jobId = '';

  before(async () => {
    flink = await startFlink(version ? { version } : {});
  });

  after(async () => {
    await flink?.stop();
  });

  const cluster = (): FlinkCluster => {
    assert.ok(flink, 'cluster not started');
    return flink;
  };

  it('serves /overview with one TaskManager and free slots', async () => {
    const overview = await getJson<{ taskmanagers: number; 'slots-available': number; 'flink-version': string }>(
      `${cluster().restUrl}/overview`,
    );
    assert.equal(overview.taskmanagers, 1);
    assert.ok(overview['slots-available'] > 0);
    if (version && /^\d+\.\d+\.\d+$/.test(version)) assert.equal(overview['flink-version'], version);
  });

  it('uploads and runs the demo job until RUNNING', async () => {
    const { restUrl, jobJar } = cluster();
    assert.ok(jobJar, 'no job jar (set FLINKTRAIL_TEST_FLINK_JOB_JAR for an external cluster)');
    const res = await uploadAndRunJob(restUrl, jobJar, { programArgs: ['--job-name', 'flinktrail-harness-test'] });
    assert.match(res.jarId, /_flinktrail-demo-job\.jar$/);
    assert.match(res.jobId, /^[0-9a-f]{32}$/);
    jobId = res.jobId;
    await waitForJobState(restUrl, jobId, 'RUNNING', 60_000);
    const job = await getJson<{ name: string }>(`${restUrl}/jobs/${jobId}`);
    assert.equal(job.name, 'flinktrail-harness-test');
  });

  it('takes a savepoint without cancelling', async () => {
    const { restUrl } = cluster();
    assert.ok(jobId);
    const trigger = await sendJson<{ 'request-id': string }>('POST', `${restUrl}/jobs/${jobId}/savepoints`, {
      'cancel-job': false,
    });
    assert.match(trigger['request-id'], /^[0-9a-f]{32}$/);
    const done = await waitForOperation(`${restUrl}/jobs/${jobId}/savepoints/${trigger['request-id']}`, 120_000);
    assert.match(done.operation?.location ?? '', /^file:.*savepoint-/);
    const job = await getJson<{ state: string }>(`${restUrl}/jobs/${jobId}`);
    assert.equal(job.state, 'RUNNING');
  });

  it('cancels the job', async () => {
    const { restUrl } = cluster();
    assert.ok(jobId);
    await sendJson('PATCH', `${restUrl}/jobs/${jobId}?mode=cancel`);
    await waitForJobState(restUrl, jobId, 'CANCELED', 60_000);
  });
});
