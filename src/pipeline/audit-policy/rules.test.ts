import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildConfig } from '../../config/index.js';
import type { AuditPolicyConfig, AuditRuleConfig } from '../../config/index.js';
import { newEvent } from '../../event/build.js';
import { gatewayCall as call } from '../../../test/helpers/events.js';
import { quietWebUiPolicy } from '../../../test/helpers/audit-policy.js';
import { isFlinkTrailError } from '../../errors/index.js';
import { applyLevel, compileAuditPolicy, policyHash, sourceOf } from './rules.js';

const policy = (rules: AuditRuleConfig[], extra: Partial<AuditPolicyConfig> = {}): AuditPolicyConfig => ({
  rules,
  coalesce: { enabled: false, windowSeconds: 60, maxKeys: 10 },
  ...extra,
});

function code(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    assert.ok(isFlinkTrailError(err), String(err));
    return `${err.code}: ${err.message}`;
  }
  assert.fail('no error');
}

describe('audit policy rules', () => {
  it('without rules keeps every event whole, as FlinkTrail did before policies', () => {
    const p = compileAuditPolicy(policy([]));
    const e = call();
    assert.equal(p.levelOf(e), 'RequestResponse');
    assert.equal(applyLevel(e, 'RequestResponse'), e);
    assert.equal(p.active, false);
  });

  it('takes the first matching rule; an event no rule matches keeps everything', () => {
    const p = compileAuditPolicy(policy([
      { level: 'None', eventNames: ['GetJobsOverview'] },
      { level: 'Metadata', eventNames: ['Get*'] },
      { level: 'Request', eventRW: 'Read' },
    ]));
    assert.equal(p.levelOf(call({ name: 'GetJobsOverview' })), 'None');
    assert.equal(p.levelOf(call({ name: 'GetJobDetails' })), 'Metadata');
    assert.equal(p.levelOf(call({ name: 'ListTaskManagers' })), 'Request');
    assert.equal(p.levelOf(call({ name: 'CancelJob', rw: 'Write' })), 'RequestResponse');
  });

  it('needs every given field to match, and any entry of a list', () => {
    const p = compileAuditPolicy(policy([{ level: 'None', users: ['ci-*', 'bob'], clusters: ['staging-*'], sources: ['gateway', 'sql-gateway'], identityTypes: ['ram-user'] }]));
    assert.equal(p.levelOf(call({ user: 'ci-nightly', cluster: 'staging-eu' })), 'None');
    assert.equal(p.levelOf(call({ user: 'bob', cluster: 'staging-1', source: 'flink-sql-gateway' })), 'None');
    assert.equal(p.levelOf(call({ user: 'alice', cluster: 'staging-eu' })), 'RequestResponse', 'user does not match');
    assert.equal(p.levelOf(call({ user: 'ci-x', cluster: 'prod' })), 'RequestResponse', 'cluster does not match');
    assert.equal(p.levelOf(call({ user: 'ci-x', cluster: 'staging-eu', source: 'kubernetes' })), 'RequestResponse', 'source does not match');
    assert.equal(p.levelOf(call({ user: 'ci-x', cluster: 'staging-eu', type: 'assumed-role' })), 'RequestResponse', 'identity type does not match');
  });

  it('matches patterns whole, with * for any run and everything else literal', () => {
    const p = compileAuditPolicy(policy([{ level: 'None', eventNames: ['Get*Metrics', 'a.b'] }]));
    assert.equal(p.levelOf(call({ name: 'GetJobVertexMetrics' })), 'None');
    assert.equal(p.levelOf(call({ name: 'GetMetrics' })), 'None');
    assert.equal(p.levelOf(call({ name: 'GetJobVertexMetricsX' })), 'RequestResponse', 'anchored at the end');
    assert.equal(p.levelOf(call({ name: 'XGetMetrics' })), 'RequestResponse', 'anchored at the start');
    assert.equal(p.levelOf(call({ name: 'a.b' })), 'None');
    assert.equal(p.levelOf(call({ name: 'axb' })), 'RequestResponse', '. is literal');
  });

  it('an event without a cluster does not match a rule with clusters, not even *', () => {
    const p = compileAuditPolicy(policy([{ level: 'None', clusters: ['*'] }]));
    assert.equal(p.levelOf(call({ cluster: 'x' })), 'None');
    const noCluster = call();
    delete noCluster.additionalEventData.cluster;
    assert.equal(p.levelOf(noCluster), 'RequestResponse');
  });

  it('tells sources apart: gateway, SQL Gateway, Kubernetes, FlinkTrail, and ingest whatever its eventSource', () => {
    assert.equal(sourceOf(call({ source: 'flink-jobmanager' })), 'gateway');
    assert.equal(sourceOf(call({ source: 'flink-history-server' })), 'gateway');
    assert.equal(sourceOf(call({ source: 'flink-sql-gateway' })), 'sql-gateway');
    assert.equal(sourceOf(call({ source: 'kubernetes' })), 'kubernetes');
    assert.equal(sourceOf(call({ source: 'flinktrail' })), 'flinktrail');
    assert.equal(sourceOf(call({ source: 'kubernetes', ingested: true })), 'ingest');
    const p = compileAuditPolicy(policy([{ level: 'None', sources: ['ingest'] }]));
    assert.equal(p.levelOf(call({ source: 'ci-pipeline', ingested: true })), 'None');
    assert.equal(p.levelOf(call({ source: 'ci-pipeline' })), 'RequestResponse');
  });

  it("matches roles by the caller's FlinkTrail role, looked up once per principal for a while", () => {
    let now = 0;
    const lookups: string[] = [];
    const roles: Record<string, string> = { 'p-alice': 'viewer', 'p-bob': 'admin' };
    const p = compileAuditPolicy(policy([{ level: 'Metadata', roles: ['viewer'] }]), {
      roleOf: (id) => (lookups.push(id), roles[id]),
      now: () => now,
      roleTtlMs: 1000,
    });
    assert.equal(p.levelOf(call({ principalId: 'p-alice' })), 'Metadata');
    assert.equal(p.levelOf(call({ principalId: 'p-alice' })), 'Metadata');
    assert.equal(p.levelOf(call({ principalId: 'p-bob', user: 'bob' })), 'RequestResponse');
    assert.equal(p.levelOf(call({ principalId: 'p-gone' })), 'RequestResponse', 'no user, no role');
    assert.equal(p.levelOf(call({ principalId: 'anonymous', type: 'anonymous' })), 'RequestResponse');
    assert.deepEqual(lookups, ['p-alice', 'p-bob', 'p-gone'], 'cached, and never asked for anonymous callers');
    roles['p-alice'] = 'admin';
    assert.equal(p.levelOf(call({ principalId: 'p-alice' })), 'Metadata', 'still believed within the TTL');
    now = 1001;
    assert.equal(p.levelOf(call({ principalId: 'p-alice' })), 'RequestResponse', 'the role change is seen after the TTL');
  });

  it('never lets a policy drop a write, a refusal or a failure: None is raised to Metadata', () => {
    const p = compileAuditPolicy(policy([{ level: 'None' }]));
    assert.equal(p.levelOf(call()), 'None');
    assert.equal(p.levelOf(call({ name: 'CancelJob', rw: 'Write' })), 'Metadata');
    assert.equal(p.levelOf(call({ outcome: 'failure' })), 'Metadata');
    assert.equal(p.levelOf(call({ outcome: 'unknown' })), 'Metadata');
    const pending = newEvent({ ...call({ rw: 'Write' }), time: new Date(), additionalEventData: { sensitive: true } });
    assert.equal(pending.additionalEventData.outcome, 'pending');
    assert.equal(p.levelOf(pending), 'Metadata', 'a journaled write in flight');
    // Above the floor, the rule's level stands.
    assert.equal(compileAuditPolicy(policy([{ level: 'Request' }])).levelOf(call({ rw: 'Write' })), 'Request');
  });

  it('keeps at Metadata no parameters or response, at Request the parameters, and says which level it applied', () => {
    const e = call();
    const meta = applyLevel(e, 'Metadata');
    assert.deepEqual(meta.requestParameters, {});
    assert.deepEqual(meta.responseElements, {});
    assert.equal(meta.additionalEventData['auditLevel'], 'Metadata');
    assert.equal(meta.additionalEventData.httpStatus, 200, 'metadata stays');
    assert.equal(meta.userIdentity.userName, 'alice');
    const req = applyLevel(e, 'Request');
    assert.deepEqual(req.requestParameters, { mode: 'cancel' });
    assert.deepEqual(req.responseElements, {});
    assert.equal(req.additionalEventData['auditLevel'], 'Request');
    assert.deepEqual(e.requestParameters, { mode: 'cancel' }, 'the given event is not changed');
    assert.equal(e.additionalEventData['auditLevel'], undefined);
  });

  it('hashes the same policy the same however it is spelled, and a different one differently', () => {
    const a = policyHash(policy([{ level: 'None', eventNames: ['X'], users: ['u'] }]));
    const b = policyHash(policy([{ users: ['u'], eventNames: ['X'], level: 'None' }]));
    assert.equal(a, b);
    assert.notEqual(a, policyHash(policy([{ level: 'Metadata', eventNames: ['X'], users: ['u'] }])));
    assert.notEqual(a, policyHash(policy([{ level: 'None', eventNames: ['X'], users: ['u'] }], { coalesce: { enabled: true, windowSeconds: 60, maxKeys: 10 } })));
    // While coalescing is off, its window is no part of the policy.
    assert.equal(policyHash(policy([])), policyHash(policy([], { coalesce: { enabled: false, windowSeconds: 5, maxKeys: 1 } })));
  });
});

describe('audit policy validation', () => {
  it('refuses, at once and with key paths, rules that cannot mean what they say', () => {
    const msg = code(() =>
      compileAuditPolicy(policy([
        { level: 'Metadata', eventNames: ['Get*'] },
        { level: 'None', eventNames: ['Get*'] },
        { level: 'None', eventRW: 'Write' },
        { level: 'Request', users: ['a', 'a'], clusters: ['x\ny'] },
        { level: 'Metadata' },
        { level: 'None', sources: ['gateway'] },
      ])),
    );
    assert.match(msg, /^FT_ERR_AUDIT_POLICY_INVALID: /);
    for (const part of [
      'auditPolicy.rules.1: never applies, rule 0 before it matches the same events',
      'auditPolicy.rules.2: level None for writes cannot apply',
      "auditPolicy.rules.3.users.1: 'a' is listed twice",
      'auditPolicy.rules.3.clusters.0: a pattern cannot hold control characters',
      'auditPolicy.rules.5: never applies, rule 4 before it matches every event',
    ]) assert.ok(msg.includes(part), `${part} in ${msg}`);
  });

  it('takes a catch-all rule last, and None for reads and writes alike (writes are raised)', () => {
    const p = compileAuditPolicy(policy([{ level: 'Metadata', eventRW: 'Read' }, { level: 'None' }]));
    assert.equal(p.ruleCount, 2);
  });

  it('checks the shape through the one config schema (FT_ERR_CONFIG_INVALID) with defaults', () => {
    const c = buildConfig({});
    assert.deepEqual(c.auditPolicy, { rules: [], coalesce: { enabled: false, windowSeconds: 60, maxKeys: 10000 } });
    const msg = code(() => buildConfig({ auditPolicy: { rules: [{ level: 'Verbose', roles: ['root'], eventNames: [], colour: 1 }], coalesce: { windowSeconds: '2h' } } }));
    for (const part of ['FT_ERR_CONFIG_INVALID', 'auditPolicy.rules.0.level', 'auditPolicy.rules.0.roles.0', 'auditPolicy.rules.0.eventNames', "'colour'", 'auditPolicy.coalesce.windowSeconds']) {
      assert.ok(msg.includes(part), `${part} in ${msg}`);
    }
    assert.equal(buildConfig({ auditPolicy: { coalesce: { enabled: true, windowSeconds: '5m' } } }).auditPolicy.coalesce.windowSeconds, 300);
  });
});

describe('the documented "quiet Web UI" policy', () => {
  it('loads, and drops the dashboard polls, keeps job pages at Metadata and leaves writes and other sources whole', () => {
    const cfg = buildConfig({ auditPolicy: quietWebUiPolicy() }).auditPolicy;
    assert.equal(cfg.coalesce.enabled, true);
    const p = compileAuditPolicy(cfg);
    for (const name of ['GetClusterOverview', 'GetJobsOverview', 'ListTaskManagers', 'GetAggregatedSubtaskMetrics', 'GetJobVertexWatermarks']) assert.equal(p.levelOf(call({ name })), 'None', name);
    assert.equal(p.levelOf(call({ name: 'GetJobDetails' })), 'Metadata');
    assert.equal(p.levelOf(call({ name: 'GetJobsOverview', outcome: 'failure' })), 'Metadata', 'a failed poll is kept');
    assert.equal(p.levelOf(call({ name: 'CancelJob', rw: 'Write' })), 'RequestResponse');
    assert.equal(p.levelOf(call({ name: 'FetchResults', source: 'flink-sql-gateway' })), 'RequestResponse');
  });
});
