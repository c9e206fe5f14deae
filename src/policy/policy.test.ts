import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { catalogEntries } from '../catalog/index.js';
import type { LEVELS} from './index.js';
import { compilePolicy, decide, levelOf, ROLE_NAMES, type PolicyDocument, type RoleName } from './index.js';
import { accessControlMarkdown } from './print-docs.js';
import { MANAGEMENT_ACTIONS } from './index.js';

const flink = (role: RoleName, eventName: string, eventRW: 'Read' | 'Write' = 'Write', policies: PolicyDocument[] = [], cluster = 'prod', jobs: string[] = []) =>
  decide({ role, policies }, { service: 'RealtimeCompute', action: { eventName, eventRW, api: 'dispatcher', known: true }, cluster, jobs }).allowed;

/** The documented matrix, written out by hand: what each role may do at each level. */
const EXPECTED: Record<RoleName, readonly string[]> = {
  viewer: ['read'],
  operator: ['read', 'logs', 'operate'],
  developer: ['read', 'logs', 'operate', 'develop'],
  admin: ['read', 'logs', 'operate', 'develop', 'admin'],
  auditor: [],
};

describe('access control', () => {
  it('walks every role over every catalog action and matches the documented matrix', () => {
    let checked = 0;
    for (const e of catalogEntries()) {
      const level = levelOf({ eventName: e.eventName, eventRW: e.eventRW, api: e.api, known: true });
      for (const role of ROLE_NAMES) {
        const allowed = decide({ role, policies: [] }, { service: 'RealtimeCompute', action: { eventName: e.eventName, eventRW: e.eventRW, api: e.api, known: true }, cluster: 'c', jobs: [] }).allowed;
        assert.equal(allowed, EXPECTED[role].includes(level), `${role} × ${e.api} ${e.eventName} (${level})`);
        checked++;
      }
    }
    assert.ok(checked > 500);
  });

  it('puts the operations FLINK-6387 named on the right rungs', () => {
    const cases: [string, 'Read' | 'Write', (typeof LEVELS)[number]][] = [
      ['GetJobsOverview', 'Read', 'read'],
      ['GetDashboardConfig', 'Read', 'read'],
      ['GetJobManagerLog', 'Read', 'logs'],
      ['GetTaskManagerStdout', 'Read', 'logs'],
      ['GetJobManagerConfig', 'Read', 'logs'],
      ['CancelJob', 'Write', 'operate'],
      ['TriggerSavepoint', 'Write', 'operate'],
      ['UploadJar', 'Write', 'develop'],
      ['RunJar', 'Write', 'develop'],
      ['GetJarPlan', 'Read', 'develop'],
      ['ShutdownCluster', 'Write', 'admin'],
    ];
    for (const [name, rw, level] of cases) assert.equal(levelOf({ eventName: name, eventRW: rw, api: 'dispatcher', known: true }), level, name);
    assert.equal(levelOf({ eventName: 'POST /new/:id', eventRW: 'Write', api: 'dispatcher', known: false }), 'admin');
    assert.equal(levelOf({ eventName: 'GET /new', eventRW: 'Read', api: 'dispatcher', known: false }), 'logs');
    assert.equal(levelOf({ eventName: 'ExecuteStatement', eventRW: 'Write', api: 'sql_gateway', known: true }), 'develop');
  });

  it('FlinkTrail actions: audit for auditor and admin, management for admin, identity for all', () => {
    for (const role of ROLE_NAMES) {
      const ft = (a: string) => decide({ role, policies: [] }, { service: 'Actiontrail', eventName: a }).allowed;
      assert.equal(ft('GetCallerIdentity'), true);
      assert.equal(ft('LookupEvents'), role === 'auditor' || role === 'admin', role);
      // An auditor lists the accounts it picks between; creating and deleting them is an admin's.
      assert.equal(ft('ListAccounts'), role === 'auditor' || role === 'admin', `${role} ListAccounts`);
      assert.equal(ft('CreateAccount'), role === 'admin', `${role} CreateAccount`);
      for (const a of MANAGEMENT_ACTIONS) assert.equal(ft(a), role === 'admin', `${role} ${a}`);
    }
    assert.equal(decide({ role: 'anonymous', policies: [] }, { service: 'Actiontrail', eventName: 'GetCallerIdentity' }).allowed, false);
  });

  it('custom policies: allow beyond the role, scoped to clusters and jobs; deny wins', () => {
    const allowCancelStaging: PolicyDocument = { Statement: [{ Effect: 'Allow', Action: ['RealtimeCompute:CancelJob'], Resource: ['cluster/staging'] }] };
    assert.equal(flink('viewer', 'CancelJob', 'Write', [allowCancelStaging], 'staging'), true);
    assert.equal(flink('viewer', 'CancelJob', 'Write', [allowCancelStaging], 'prod'), false);
    const etlOnly: PolicyDocument = { Statement: [{ Effect: 'Allow', Action: ['RealtimeCompute:Cancel*', 'RealtimeCompute:StopJob*'], Resource: ['cluster/prod/job/etl-*'] }] };
    assert.equal(flink('viewer', 'CancelJob', 'Write', [etlOnly], 'prod', ['abc123', 'etl-orders']), true);
    assert.equal(flink('viewer', 'CancelJob', 'Write', [etlOnly], 'prod', ['abc123', 'billing']), false);
    assert.equal(flink('viewer', 'CancelJob', 'Write', [etlOnly], 'prod', []), false);
    const denyShutdown: PolicyDocument = { Statement: [{ Effect: 'Deny', Action: ['RealtimeCompute:ShutdownCluster', 'RealtimeCompute:*Jar'], Resource: ['*'] }] };
    assert.equal(flink('admin', 'ShutdownCluster', 'Write', [denyShutdown]), false);
    assert.equal(flink('admin', 'UploadJar', 'Write', [denyShutdown]), false);
    assert.equal(flink('admin', 'CancelJob', 'Write', [denyShutdown]), true);
    const both: PolicyDocument = { Statement: [{ Effect: 'Allow', Action: ['RealtimeCompute:*'] }, { Effect: 'Deny', Action: ['RealtimeCompute:CancelJob'] }] };
    assert.equal(flink('viewer', 'CancelJob', 'Write', [both]), false, 'deny wins over allow in the same policy');
    assert.equal(flink('viewer', 'RunJar', 'Write', [both]), true);
  });

  it('refuses malformed policies at write time', () => {
    for (const bad of [{}, { Statement: [] }, { Statement: [{ Effect: 'Maybe', Action: ['a:b'] }] }, { Statement: [{ Effect: 'Allow', Action: ['nocolon'] }] }, { Statement: [{ Effect: 'Allow', Action: ['a:b'], Resource: ['job/x'] }] }]) {
      assert.throws(() => compilePolicy(bad as PolicyDocument));
    }
  });

  it('docs/reference/access-control.md is in step', () => {
    assert.equal(readFileSync(new URL('../../docs/reference/access-control.md', import.meta.url), 'utf8'), accessControlMarkdown());
  });
});
