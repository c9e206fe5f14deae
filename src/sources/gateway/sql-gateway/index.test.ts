import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classify } from '../../../catalog/index.js';
import { requestDetails, responseDetails } from './index.js';

const S = '5b0e1f2a-3c4d-4e5f-8a9b-0c1d2e3f4a5b';
const O = 'f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9';
const JOB = '49087e005d5d89fcd54d7ca8518ffa1b';
const cls = (method: string, path: string) => classify({ api: 'sql_gateway', method, path, query: new URLSearchParams() });

describe('SQL Gateway request details', () => {
  it('ExecuteStatement: kind, sensitive flag, redacted text, named objects', () => {
    const d = requestDetails(cls('POST', `/v1/sessions/${S}/statements`), {
      statement: "CREATE TABLE t (id INT) WITH ('connector'='datagen', 'password'='s3cr3t-x')",
    });
    assert.equal(d.sensitive, true);
    assert.equal(d.requestParameters?.['statement'], "CREATE TABLE t (id INT) WITH ('connector'='datagen', 'password' = '******')");
    assert.deepEqual(d.additionalEventData, { statementKind: 'create', statementObjectType: 'Table', statementObject: 't', redactedValues: 1 });
    assert.deepEqual(d.resources, { 'ACS::RealtimeCompute::Table': ['t'] });
  });
  it('a SELECT is not sensitive; an INSERT submits a job', () => {
    assert.equal(requestDetails(cls('POST', `/sessions/${S}/statements`), { statement: 'SELECT 1' }).sensitive, false);
    const ins = requestDetails(cls('POST', `/v3/sessions/${S}/statements`), { statement: 'INSERT INTO snk SELECT * FROM src' });
    assert.equal(ins.sensitive, true);
    assert.equal(ins.additionalEventData?.['statementKind'], 'insert');
    assert.equal(ins.additionalEventData?.['submitsJob'], true);
  });
  it('flags statements sent to another cluster through executionConfig', () => {
    const d = requestDetails(cls('POST', `/v1/sessions/${S}/statements`), { statement: 'SELECT 1', executionConfig: { 'rest.address': 'other', 'parallelism.default': '2' } });
    assert.equal(d.sensitive, true);
    assert.deepEqual(d.additionalEventData?.['retargetedBy'], ['rest.address']);
  });
  it('ConfigureSession is classified the same way', () => {
    const d = requestDetails(cls('POST', `/v2/sessions/${S}/configure-session`), { statement: "ADD JAR 'https://u:pw@repo/x.jar'" });
    assert.equal(d.additionalEventData?.['statementKind'], 'add-jar');
    assert.equal(d.additionalEventData?.['jarPath'], 'https://u:******@repo/x.jar');
    assert.equal(d.requestParameters?.['statement'], "ADD JAR 'https://u:******@repo/x.jar'");
  });
  it('a body that could not be kept is flagged, not guessed', () => {
    const d = requestDetails(cls('POST', `/v1/sessions/${S}/statements`), { body: '[truncated]', truncated: true });
    assert.deepEqual(d, { sensitive: true, additionalEventData: { statementKind: 'unknown', statementTruncated: true } });
  });
  it('DeployScript: every statement classified, script redacted', () => {
    const d = requestDetails(cls('POST', `/v4/sessions/${S}/scripts`), {
      script: "CREATE CATALOG c WITH ('type'='jdbc', 'password'='pw1'); INSERT INTO c.db.t SELECT 1;",
      scriptUri: 'https://a:pw2@h/s.sql',
    });
    assert.deepEqual(d.additionalEventData?.['statementKinds'], ['create-catalog', 'insert']);
    assert.equal(d.sensitive, true);
    assert.ok(!JSON.stringify(d).includes('pw1') && !JSON.stringify(d).includes('pw2'));
  });
  it('CompleteStatement text is redacted; other endpoints are left alone', () => {
    assert.deepEqual(requestDetails(cls('GET', `/v2/sessions/${S}/complete-statement`), { statement: "SET 'token' = 'abc", position: 3 }), {
      requestParameters: { statement: "SET 'token' = '******" },
    });
    assert.deepEqual(requestDetails(cls('POST', '/v1/sessions'), { properties: { a: 'b' } }), {});
  });
});

describe('SQL Gateway response details', () => {
  it('links the session, the operation and the job', () => {
    assert.deepEqual(responseDetails(cls('POST', '/v1/sessions'), { sessionHandle: S }).resources, { 'ACS::RealtimeCompute::Session': [S] });
    assert.deepEqual(responseDetails(cls('POST', `/v1/sessions/${S}/statements`), { operationHandle: O }).resources, { 'ACS::RealtimeCompute::Operation': [O] });
    const page = {
      resultType: 'PAYLOAD',
      isQueryResult: false,
      jobID: JOB,
      resultKind: 'SUCCESS_WITH_CONTENT',
      results: { columns: [{ name: 'job id' }], data: [{ kind: 'INSERT', fields: [JOB] }] },
    };
    const d = responseDetails(cls('GET', `/v1/sessions/${S}/operations/${O}/result/0`), page);
    assert.deepEqual(d.resources, { 'ACS::RealtimeCompute::Job': [JOB] });
    assert.equal(d.additionalEventData?.['jobId'], JOB);
    // Flink 1.20 pages carry the id only in the `job id` column.
    const old = responseDetails(cls('GET', `/v1/sessions/${S}/operations/${O}/result/0`), { ...page, jobID: undefined });
    assert.deepEqual(old.resources, { 'ACS::RealtimeCompute::Job': [JOB] });
  });
  it('ignores answers that do not have the expected shape', () => {
    for (const body of [undefined, null, 'x', [], { sessionHandle: 5 }, { operationHandle: '../../etc' }, { jobID: 'not-an-id' }]) {
      for (const [m, p] of [['POST', '/v1/sessions'], ['POST', `/v1/sessions/${S}/statements`], ['GET', `/v1/sessions/${S}/operations/${O}/result/1`]] as const) {
        assert.equal(responseDetails(cls(m, p), body).resources, undefined, `${m} ${p} ${JSON.stringify(body)}`);
      }
    }
  });
});
