import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { buildScript, mismatches, SECRET_MARKER } from '../../../test/integration/k8s-audit/scripted.js';
import { SpecDigester } from './diff.js';
import { auditEventId, mapAuditEvent, type MapContext, type ObjectState } from './map.js';
import { parseEventLines, parseEventList, type AuditEvent } from './parse.js';
import { clusterAccount, userMatcher } from './receiver.js';

const samples = new URL('../../../test/integration/k8s-audit/samples/', import.meta.url);
const sample = (name: string): unknown => JSON.parse(readFileSync(new URL(name, samples), 'utf8'));

function context(): MapContext & { states: Map<string, ObjectState> } {
  const states = new Map<string, ObjectState>();
  return {
    states,
    accountId: '1000000000000001',
    serviceName: 'RealtimeCompute',
    region: 'local',
    cluster: 'prod',
    recordReads: true,
    isOperator: userMatcher(['system:serviceaccount:*:flink-operator']),
    digester: new SpecDigester('test-key'),
    previous: (k) => states.get(`${k.resource}/${k.namespace}/${k.name}`),
  };
}

/** Maps events in order, applying state changes as the receiver does. */
function run(events: readonly AuditEvent[], ctx = context()) {
  return events.map((ev) => {
    const r = mapAuditEvent(ev, ctx);
    if ('event' in r && r.state) {
      const k = `${r.state.key.resource}/${r.state.key.namespace}/${r.state.key.name}`;
      if (r.state.op === 'put') ctx.states.set(k, r.state.state);
      else ctx.states.delete(k);
    }
    return r;
  });
}

describe('Kubernetes audit mapping: real samples', () => {
  it('the synthetic operator sample: a SuspendDeployment by alice and an operator status update', () => {
    const batch = parseEventList(sample('SYNTHETIC-flinkdeployment-eventlist.json'));
    assert.equal(batch.rejected.length, 0);
    const [suspend, status] = run(batch.events.map((e) => e.event));
    assert.ok(suspend && 'event' in suspend && status && 'event' in status);
    const e = suspend.event;
    assert.equal(e.eventName, 'SuspendDeployment');
    assert.equal(e.eventSource, 'kubernetes');
    assert.equal(e.serviceName, 'RealtimeCompute');
    assert.equal(e.eventType, 'ApiCall');
    assert.equal(e.eventRW, 'Write');
    assert.equal(e.userIdentity.userName, 'alice@example.com');
    assert.equal(e.userIdentity.type, 'ram-user');
    assert.equal(e.sourceIpAddress, '10.0.12.7');
    assert.match(e.userAgent, /^kubectl\/v1\.30\.2/);
    assert.equal(e.requestId, '0b3f6c52-1d7e-4d8e-9a61-3c2f1b0a9e01');
    assert.equal(e.eventTime, '2025-05-01T10:00:00.123Z');
    assert.deepEqual(e.referencedResources, { 'ACS::RealtimeCompute::Deployment': ['5d1e2c7a-0c55-4d6f-8b0e-2f6b7a1c3d4e', 'basic-example'] });
    assert.equal(e.additionalEventData['namespace'], 'flink');
    assert.equal(e.additionalEventData['outcome'], 'success');
    assert.equal(e.additionalEventData['sensitive'], true);
    assert.deepEqual(e.additionalEventData['userGroups'], ['devs', 'system:authenticated']);
    assert.equal(e.additionalEventData['authzDecision'], 'allow');
    assert.deepEqual(e.requestParameters['changes'], [{ path: 'spec.job.state', to: 'suspended' }]);
    assert.equal(e.additionalEventData['latencyMs'], 17);
    // The objects themselves are not in the record.
    assert.ok(!JSON.stringify(e).includes('StateMachineExample'));

    const s = status.event;
    assert.equal(s.eventName, 'UpdateDeploymentStatus');
    assert.equal(s.eventType, 'AliyunServiceEvent');
    assert.equal(s.userIdentity.type, 'assumed-role');
    assert.equal(s.userIdentity.principalId, '2c8e4f10-6a7b-4c9d-8e1f-3a4b5c6d7e8f');
    assert.equal(s.additionalEventData['sensitive'], false);
    // Metadata level carries no object: the uid comes from the state the suspend left.
    assert.deepEqual(s.referencedResources, { 'ACS::RealtimeCompute::Deployment': ['5d1e2c7a-0c55-4d6f-8b0e-2f6b7a1c3d4e', 'basic-example'] });
  });
  it('real non-Flink samples produce nothing: a Pod (two stages), an extensions/v1beta1 Deployment', () => {
    const received = parseEventList(sample('eventlist-requestreceived.json'));
    const complete = parseEventList(sample('eventlist-responsecomplete.json'));
    const falco = parseEventLines([{ index: 0, value: sample('falco-create_deployment-event.json') }]);
    for (const b of [received, complete, falco]) assert.equal(b.rejected.length, 0, JSON.stringify(b.rejected));
    const results = run([...received.events, ...complete.events, ...falco.events].map((e) => e.event));
    assert.deepEqual(results, [{ skip: 'stage' }, { skip: 'not-flink' }, { skip: 'not-flink' }]);
  });
});

describe("Kubernetes audit events belong to their cluster's account", () => {
  it("maps every event into the context's account, as recipient and as the Kubernetes users' account", () => {
    const batch = parseEventList(sample('SYNTHETIC-flinkdeployment-eventlist.json'));
    const ctx = { ...context(), accountId: '2000000000000001' };
    const mapped = run(
      batch.events.map((e) => e.event),
      ctx,
    );
    assert.equal(mapped.length, 2);
    for (const r of mapped) {
      assert.ok('event' in r);
      assert.equal(r.event.recipientAccountId, '2000000000000001');
      assert.equal(r.event.userIdentity.accountId, '2000000000000001');
    }
  });

  it("finds a cluster's account in the configuration, the management account when it names none or is not configured", () => {
    const config = {
      accountId: '1000000000000001',
      clusters: [
        { name: 'team-a', url: 'http://a', kind: 'jobmanager' as const, account: '2000000000000001' },
        { name: 'platform', url: 'http://p', kind: 'jobmanager' as const },
      ],
    };
    assert.equal(clusterAccount(config, 'team-a'), '2000000000000001');
    assert.equal(clusterAccount(config, 'platform'), '1000000000000001');
    assert.equal(clusterAccount(config, 'eks-prod'), '1000000000000001');
  });
});

describe('Kubernetes audit mapping: every intent (scripted)', () => {
  const script = buildScript();
  const ctx = context();
  const results = run(script.events, ctx);
  script.steps.forEach((step, i) => {
    it(step.title, () => {
      const r = results[i]!;
      if (step.expect === null) {
        assert.ok('skip' in r, `expected nothing, got ${'event' in r ? r.event.eventName : ''}`);
        return;
      }
      assert.ok('event' in r, `expected ${step.expect.eventName}, got ${JSON.stringify(r)}`);
      assert.deepEqual(mismatches(r.event, step.expect), []);
      assert.equal(r.event.eventId, auditEventId(step.event.auditID, step.event.stage));
    });
  });
  it('no planted secret and no object body is in any record', () => {
    const text = JSON.stringify(results);
    assert.ok(!text.includes(SECRET_MARKER), 'a planted secret reached a record');
    assert.ok(!text.includes('"requestObject"') && !text.includes('"responseObject"'));
    assert.ok(!text.includes('deploy:tok@'), 'URL credentials reached a record');
  });
  it('the state kept per object holds digests, never planted secrets', () => {
    const text = JSON.stringify([...ctx.states.values()].map((s) => [...s.digest]));
    assert.ok(!text.includes(SECRET_MARKER));
    assert.ok(text.includes('"v:\\"flink:1.20\\""'), 'safe values are kept for the next diff');
  });
  it('event ids are stable per (auditID, stage) and differ between stages', () => {
    assert.equal(auditEventId('a', 'ResponseComplete'), auditEventId('a', 'ResponseComplete'));
    assert.notEqual(auditEventId('a', 'ResponseComplete'), auditEventId('a', 'Panic'));
    assert.match(auditEventId('a', 'ResponseComplete'), /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
  it('reads are skipped when recordReads is off', () => {
    const c = { ...context(), recordReads: false };
    const read = script.steps.find((s) => s.event.verb === 'get')!.event;
    assert.deepEqual(mapAuditEvent(read, c), { skip: 'read' });
  });
});
