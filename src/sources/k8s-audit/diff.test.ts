import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { openDatabase } from '../../store/sqlite/database.js';
import { FLINK_CRDS } from './crd.js';
import { diffDigests, eventNameOf, flatten, intentsOf, SpecDigester, touchedFields } from './diff.js';
import { SqliteObjectStates } from './sqlite/state.js';

const deployment = FLINK_CRDS[0]!;
const bluegreen = FLINK_CRDS[3]!;
const d = new SpecDigester('k');

describe('spec digests and diffs', () => {
  it('keeps values of safe fields only; everything else as an HMAC', () => {
    const digest = d.digest({ image: 'flink:2.1', job: { state: 'running', args: ['--pw', 'x'] }, flinkConfiguration: { 'a.password': 'p' } });
    assert.equal(digest.get('spec.image'), 'v:"flink:2.1"');
    assert.equal(digest.get('spec.job.state'), 'v:"running"');
    assert.match(digest.get('spec.job.args')!, /^h:/);
    assert.match(digest.get('spec.flinkConfiguration.a.password')!, /^h:/);
    assert.ok(!JSON.stringify([...digest]).includes('"p"'));
    // Another key gives other digests: they cannot be compared across installations.
    assert.notEqual(new SpecDigester('other').digest({ x: 1 }).get('spec.x'), d.digest({ x: 1 }).get('spec.x'));
  });
  it('removes URL credentials from shown values', () => {
    assert.equal(d.token('spec.job.jarURI', 'https://u:pw@h/x.jar'), 'v:"https://u:******@h/x.jar"');
  });
  it('diffs added, removed and changed fields', () => {
    const a = d.digest({ image: 'a', job: { state: 'running', parallelism: 2 }, x: 1 });
    const b = d.digest({ image: 'b', job: { state: 'running' }, y: 2 });
    assert.deepEqual(diffDigests(a, b), [
      { path: 'spec.image', from: 'a', to: 'b' },
      { path: 'spec.job.parallelism', from: 2, removed: true },
      { path: 'spec.x', removed: true },
      { path: 'spec.y' },
    ]);
  });
  it('flatten is bounded and keeps empty objects as leaves', () => {
    assert.deepEqual([...flatten({ checkpoint: {}, a: { b: [1] } }, 'spec')], [['spec.checkpoint', {}], ['spec.a.b', [1]]]);
    let deep: Record<string, unknown> = { v: 1 };
    for (let i = 0; i < 100; i++) deep = { n: deep };
    assert.equal(flatten(deep, 'spec').size, 1);
    const wide = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`k${i}`, i]));
    assert.equal(flatten(wide, 'spec').size, 5000);
  });
});

describe('touched fields of patches', () => {
  it('merge and strategic merge patches (directives skipped, null removes)', () => {
    const t = touchedFields({ spec: { job: { state: 'suspended', $patch: 'replace' }, image: null } });
    assert.deepEqual([...t.fields], [['spec.job.state', { value: 'suspended' }], ['spec.image', { removed: true }]]);
    assert.equal(t.whole, false);
  });
  it('JSON Patch operations, with escaped pointers', () => {
    const t = touchedFields([
      { op: 'replace', path: '/spec/job/state', value: 'suspended' },
      { op: 'remove', path: '/spec/flinkConfiguration/a~1b' },
      { op: 'add', path: '/spec/job', value: { savepointTriggerNonce: 3 } },
      { op: 'test', path: '/spec/x', value: 1 },
      { op: 'move', from: '/spec/a', path: '/spec/b' },
      'garbage',
    ]);
    assert.deepEqual(
      [...t.fields.keys()],
      ['spec.job.state', 'spec.flinkConfiguration.a/b', 'spec.job.savepointTriggerNonce', 'spec.a', 'spec.b'],
    );
  });
  it('a whole object is recognised (server-side apply, update)', () => {
    assert.equal(touchedFields({ apiVersion: 'flink.apache.org/v1beta1', kind: 'FlinkDeployment', spec: {} }).whole, true);
  });
  it('never throws on any JSON', () => {
    fc.assert(fc.property(fc.jsonValue(), (v) => void touchedFields(v)), { numRuns: 1000 });
  });
});

describe('intents', () => {
  const c = (path: string, from?: unknown, to?: unknown) => ({ path, ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) });
  it('name the event after the most significant intent, list the rest', () => {
    const intents = intentsOf(deployment, [c('spec.job.savepointTriggerNonce', 1, 2), c('spec.image', 'a', 'b'), c('spec.job.upgradeMode', 'stateless', 'savepoint')]);
    assert.deepEqual(intents, ['Upgrade', 'TriggerSavepoint', 'ChangeUpgradeMode']);
    assert.equal(eventNameOf(deployment, intents), 'UpgradeDeployment');
    assert.equal(eventNameOf(deployment, ['TriggerCheckpoint']), 'TriggerCheckpoint');
    assert.equal(eventNameOf(deployment, ['ChangeUpgradeMode']), 'UpdateDeployment');
    assert.equal(eventNameOf(deployment, ['RedeployFromSavepoint']), 'RestartDeployment');
    assert.equal(eventNameOf(deployment, []), 'UpdateDeployment');
  });
  it('read job state changes in both directions, and a removed state as running', () => {
    assert.deepEqual(intentsOf(deployment, [c('spec.job.state', 'running', 'suspended')]), ['Suspend']);
    assert.deepEqual(intentsOf(deployment, [c('spec.job.state', 'suspended', 'running')]), ['Resume']);
    assert.deepEqual(intentsOf(deployment, [{ path: 'spec.job.state', from: 'suspended', removed: true }]), ['Resume']);
  });
  it('read a blue/green deployment under spec.template.spec', () => {
    assert.deepEqual(intentsOf(bluegreen, [c('spec.template.spec.job.state', 'running', 'suspended')]), ['Suspend']);
    assert.deepEqual(intentsOf(bluegreen, [c('spec.job.state', 'running', 'suspended')]), []);
  });
});

describe('object state', () => {
  it('a stale event never overwrites a newer state; deletes remove it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ft-k8s-state-'));
    const db = openDatabase(dir);
    try {
      const states = new SqliteObjectStates(db);
      const key = { cluster: 'c', resource: 'flinkdeployments', namespace: 'n', name: 'x' };
      await states.put(key, { uid: 'u', resourceVersion: '20', digest: d.digest({ image: 'new' }) });
      await states.put(key, { resourceVersion: '9', digest: d.digest({ image: 'old' }) });
      assert.equal((await states.get(key))?.digest.get('spec.image'), 'v:"new"');
      await states.put(key, { resourceVersion: '21', digest: d.digest({ image: 'newer' }) });
      assert.deepEqual({ ...(await states.get(key)), digest: undefined }, { uid: 'u', resourceVersion: '21', digest: undefined });
      await states.delete(key);
      assert.equal(await states.get(key), undefined);
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
