/**
 * The deployment files in deploy/ stay true: each Kubernetes object validates against the
 * Kubernetes schemas (kubernetes-models: types, required fields, formats — not unknown fields),
 * the configuration they carry is a configuration FlinkTrail accepts (every FLINKTRAIL__ variable
 * names a real key), probes and ports point at FlinkTrail's real health routes and default port,
 * the container runs as a non-root user and copies only paths that exist, the systemd unit passes
 * `systemd-analyze verify` with no complaint, and the API server's audit policy is the one
 * docs/reference/kubernetes.md documents. No container runtime or Kubernetes runs here: the image
 * is not built and the manifests are not applied (said in the deploy README).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { loadConfig } from '../../../src/config/index.js';
import { configSchema } from '../../../src/config/schema.js';

const ROOT = join(import.meta.dirname, '../../..');
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');

type Obj = Record<string, unknown>;

/** The kubernetes-models class of an object's apiVersion and kind (throws for an unknown kind). */
async function modelOf(apiVersion: string, kind: string): Promise<new (o: Obj) => { validate(): void }> {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const mod = (await import(`kubernetes-models/${group ? `${group}/` : ''}${version}/${kind}`)) as Record<string, new (o: Obj) => { validate(): void }>;
  const model = mod[kind];
  assert.ok(model, `no schema for ${apiVersion} ${kind}`);
  return model;
}

/** The one-instance embedded variant (default) or the several-replica one on PostgreSQL. */
function manifests(file = 'deploy/kubernetes/flinktrail.yaml'): Obj[] {
  return parseAllDocuments(read(file)).map((d) => d.toJS() as Obj);
}
const HA = 'deploy/kubernetes/flinktrail-ha.yaml';

function podSpec(objs: Obj[]): Obj {
  const workload = objs.find((o) => o['kind'] === 'StatefulSet' || o['kind'] === 'Deployment') as { spec: { template: { spec: Obj } } };
  return workload.spec.template.spec;
}

describe('deployment files', () => {
  it('every Kubernetes object validates against the Kubernetes schemas, and a broken one does not', async () => {
    const objs = manifests();
    assert.deepEqual(objs.map((o) => o['kind']).sort(), ['ConfigMap', 'Namespace', 'Service', 'ServiceAccount', 'StatefulSet']);
    const ha = manifests(HA);
    assert.deepEqual(ha.map((o) => o['kind']).sort(), ['ConfigMap', 'Deployment', 'Namespace', 'PodDisruptionBudget', 'Service', 'ServiceAccount']);
    for (const o of [...objs, ...ha]) {
      const Model = await modelOf(String(o['apiVersion']), String(o['kind']));
      assert.doesNotThrow(() => new Model(o).validate(), `${String(o['kind'])} is not valid`);
    }
    // The validation can fail: a port given as text is refused.
    const broken = structuredClone(objs.find((o) => o['kind'] === 'StatefulSet')!) as { spec: { template: { spec: { containers: { ports: Obj[] }[] } } } };
    broken.spec.template.spec.containers[0]!.ports[0]!['containerPort'] = 'eighty';
    const Model = await modelOf('apps/v1', 'StatefulSet');
    assert.throws(() => new Model(broken).validate(), /containerPort/);
  });

  for (const manifest of ['deploy/kubernetes/flinktrail.yaml', HA])
  it(`the pod runs FlinkTrail as configured: a valid configuration, real config keys in the environment, real probe routes and port (${manifest})`, () => {
    const objs = manifests(manifest);
    const config = (objs.find((o) => o['kind'] === 'ConfigMap') as { data: Record<string, string> }).data['flinktrail.yaml']!;
    const pod = podSpec(objs) as { containers: { args: string[]; env: { name: string; value?: string }[]; ports: { containerPort: number }[]; livenessProbe: Obj; readinessProbe: Obj }[]; securityContext: Obj };
    const c = pod.containers[0]!;
    // Variables given literally, plus placeholders of the right shape for those from the Secret.
    const env: Record<string, string> = {};
    const fromSecret = (name: string) =>
      name.endsWith('BEARER_TOKENS') ? '[{name: apiserver, token: abcdefghijklmnopqrstuvwxyz}]' : name === 'FLINKTRAIL__STORE__URL' ? 'postgres://flinktrail@postgres.db.svc:5432/flinktrail' : 'x';
    for (const e of c.env) if (e.name.startsWith('FLINKTRAIL__')) env[e.name] = e.value ?? fromSecret(e.name);
    const file = join(ROOT, '.it', `deploy-config-${process.pid}.yaml`);
    mkdirSync(join(ROOT, '.it'), { recursive: true });
    writeFileSync(file, config);
    const loaded = loadConfig({ file, env });
    assert.equal(loaded.api.host, '0.0.0.0');
    assert.equal(loaded.dataDir, '/var/lib/flinktrail');
    assert.equal(loaded.secrets.masterKey, 'env:FLINKTRAIL_MASTER_KEY');
    assert.equal(loaded.k8sAudit.bearerTokens.length, 1);
    // The port the pod exposes is the one FlinkTrail listens on.
    assert.deepEqual(
      c.ports.map((p) => p.containerPort),
      [loaded.api.port],
    );
    assert.deepEqual(c.args, ['serve', '--config', '/etc/flinktrail/flinktrail.yaml']);
    assert.equal((c.livenessProbe['httpGet'] as Obj)['path'], '/health');
    assert.equal((c.readinessProbe['httpGet'] as Obj)['path'], '/ready');
    assert.equal(pod.securityContext['runAsNonRoot'], true);
    if (manifest === HA) assert.equal(loaded.store.url, 'postgres://flinktrail@postgres.db.svc:5432/flinktrail', 'the replicas share PostgreSQL');
    // A misspelt variable is refused, so the check above is a real one.
    assert.throws(() => loadConfig({ file, env: { ...env, FLINKTRAIL__API__PROT: '1' } }), /prot|unknown|additional/i);
    rmSync(file, { force: true });
  });

  it('the several-replica variant has no single point of failure: two or more replicas on PostgreSQL, a disruption budget over them, no state in the pod', () => {
    const objs = manifests(HA);
    const deployment = objs.find((o) => o['kind'] === 'Deployment') as {
      spec: { replicas: number; selector: { matchLabels: Record<string, string> }; strategy: { rollingUpdate: { maxUnavailable: number } }; template: { metadata: { labels: Record<string, string> }; spec: { volumes: Obj[] } } };
    };
    assert.ok(deployment.spec.replicas >= 2, 'two or more replicas');
    assert.equal(deployment.spec.strategy.rollingUpdate.maxUnavailable, 0, 'a rollout never takes a replica away first');
    const pdb = objs.find((o) => o['kind'] === 'PodDisruptionBudget') as { spec: { maxUnavailable?: number; minAvailable?: number; selector: { matchLabels: Record<string, string> } } };
    const labels = deployment.spec.template.metadata.labels;
    // The budget covers exactly the Deployment's pods, and leaves at least one serving.
    assert.ok(Object.entries(pdb.spec.selector.matchLabels).every(([k, v]) => labels[k] === v), 'the budget selects the replicas');
    assert.deepEqual(pdb.spec.selector.matchLabels, deployment.spec.selector.matchLabels);
    const available = pdb.spec.minAvailable ?? deployment.spec.replicas - (pdb.spec.maxUnavailable ?? 0);
    assert.ok(available >= 1 && available < deployment.spec.replicas, `between 1 and replicas-1 must stay available (${available})`);
    const service = objs.find((o) => o['kind'] === 'Service') as { spec: { selector: Record<string, string> } };
    assert.ok(Object.entries(service.spec.selector).every(([k, v]) => labels[k] === v), 'the Service sends to every replica');
    // Nothing that must outlive a pod is in it: no volume claim, the data directory is scratch.
    assert.ok(!objs.some((o) => o['kind'] === 'StatefulSet' || o['kind'] === 'PersistentVolumeClaim'));
    const data = deployment.spec.template.spec.volumes.find((v) => v['name'] === 'data');
    assert.ok(data && 'emptyDir' in data, 'the data directory is an emptyDir');
  });

  it('the container image runs as a non-root user, copies only what exists, and exposes the default port with a health check', () => {
    const docker = read('deploy/container/Dockerfile');
    const stages = docker.split(/^FROM /m).slice(1);
    assert.equal(stages.length, 2, 'a build stage and a runtime stage');
    const runtime = stages[1]!;
    const user = /^USER (\d+)(?::(\d+))?$/m.exec(runtime);
    assert.ok(user && Number(user[1]) > 0, 'USER is a numeric, non-root uid');
    for (const m of runtime.matchAll(/^COPY --from=build \/src\/(\S+) /gm)) {
      const path = m[1]!;
      // Built paths (dist/, console/dist/) come from `npm run build`; the rest must be in the repository.
      if (path === 'dist' || path === 'console/dist' || path === 'node_modules') continue;
      assert.ok(existsSync(join(ROOT, path)), `COPY of ${path}, which is not in the repository`);
    }
    const port = (configSchema as { properties: { api: { properties: { port: { default: number } } } } }).properties.api.properties.port.default;
    assert.match(runtime, new RegExp(`^EXPOSE ${port}$`, 'm'));
    assert.match(runtime, new RegExp(`127\\.0\\.0\\.1:${port}/health`));
    assert.match(runtime, /^ENTRYPOINT \["node", "\/opt\/flinktrail\/bin\/flinktrail\.mjs"\]$/m);
    assert.ok(existsSync(join(ROOT, 'bin/flinktrail.mjs')));
  });

  it('the systemd unit passes systemd-analyze verify without a complaint, and a broken one does not', () => {
    const unit = join(ROOT, 'deploy/systemd/flinktrail.service');
    const verify = (path: string) => spawnSync('systemd-analyze', ['verify', path], { encoding: 'utf8' });
    const ok = verify(unit);
    assert.equal(ok.error, undefined, 'systemd-analyze is installed (scripts/install-test-deps.sh)');
    const mine = ok.stderr.split('\n').filter((l) => l.includes('flinktrail.service'));
    assert.deepEqual(mine, []);
    const bad = join(ROOT, '.it', `bad-${process.pid}.service`);
    mkdirSync(join(ROOT, '.it'), { recursive: true });
    writeFileSync(bad, read('deploy/systemd/flinktrail.service').replace('Type=simple', 'Type=simpel'));
    assert.match(verify(bad).stderr, /Failed to parse service type/);
    rmSync(bad, { force: true });
    // Its environment names real config keys.
    const env: Record<string, string> = {};
    for (const m of read('deploy/systemd/flinktrail.service').matchAll(/^Environment=(FLINKTRAIL__\w+)=(.*)$/gm)) env[m[1]!] = m[2]!;
    assert.ok(Object.keys(env).length >= 2);
    const loaded = loadConfig({ env });
    assert.equal(loaded.dataDir, '/var/lib/flinktrail');
    assert.equal(loaded.secrets.masterKey, 'file:/etc/flinktrail/master.key');
  });

  it('the API server audit policy and webhook kubeconfig are the ones docs/reference/kubernetes.md documents', () => {
    const doc = read('docs/reference/kubernetes.md');
    const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => parseYaml(m[1]!) as Obj);
    const policy = parseYaml(read('deploy/kubernetes/apiserver/flink-audit-policy.yaml')) as Obj;
    assert.deepEqual(
      policy,
      blocks.find((b) => b['kind'] === 'Policy'),
    );
    const webhook = parseYaml(read('deploy/kubernetes/apiserver/flinktrail-webhook.yaml')) as { kind: string; clusters: { cluster: { server: string } }[]; users: Obj[] };
    assert.equal(webhook.kind, 'Config');
    assert.match(webhook.clusters[0]!.cluster.server, /\/k8s-audit\?cluster=default$/);
    assert.equal(webhook.users.length, 1);
  });
});
