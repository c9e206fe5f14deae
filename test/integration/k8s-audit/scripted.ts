/**
 * A scripted Kubernetes audit stream covering every intent the receiver knows, with the event
 * each step must produce (or `null`: nothing). Used by the unit tests of the mapping and by the
 * webhook integration test, which posts it over HTTP (in batches, some twice) and compares the
 * stored trail with `expected`.
 *
 * Objects are built as the API server records them at level RequestResponse: `requestObject` is
 * what the client sent (a merge patch, a JSON Patch, a whole object), `responseObject` the
 * object after the change (with uid, resourceVersion, and the operator's status). Secrets are
 * planted in `flinkConfiguration` with the marker `PLANTED-`: none may ever be stored.
 */
import type { AuditEvent } from '../../../src/sources/k8s-audit/parse.js';

export const SECRET_MARKER = 'PLANTED-';

export interface Expected {
  eventName: string;
  eventRW?: 'Read' | 'Write';
  eventType?: 'ApiCall' | 'AliyunServiceEvent';
  outcome?: 'success' | 'failure' | 'unknown';
  sensitive?: boolean;
  errorCode?: string;
  intents?: string[];
  /** `path` → `[from, to]` for safe fields, or `null` when values must not be shown. */
  changes?: Record<string, [unknown, unknown] | null>;
  /** Resource type (short) → ids that must be present. */
  resources?: Record<string, string[]>;
  userName?: string;
  data?: Record<string, unknown>;
}

export interface Step {
  title: string;
  event: AuditEvent;
  expect: Expected | null;
}

const OPERATOR = { username: 'system:serviceaccount:flink-operator:flink-operator', uid: 'sa-uid-1', groups: ['system:serviceaccounts', 'system:serviceaccounts:flink-operator', 'system:authenticated'] };
const ALICE = { username: 'alice@example.com', groups: ['devs', 'system:authenticated'] };
const BOB = { username: 'bob@example.com', groups: ['viewers', 'system:authenticated'] };
const ADMIN = { username: 'kubernetes-admin', groups: ['system:masters', 'system:authenticated'] };

const PLURAL: Record<string, string> = {
  FlinkDeployment: 'flinkdeployments',
  FlinkSessionJob: 'flinksessionjobs',
  FlinkStateSnapshot: 'flinkstatesnapshots',
  FlinkBlueGreenDeployment: 'flinkbluegreendeployments',
};

export const UIDS = {
  orders: '5d1e2c7a-0c55-4d6f-8b0e-2f6b7a1c3d4e',
  session: '0c9b8a7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d',
  sessionJob: '7a6b5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d',
  snapshot: '1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9',
  checkpoint: '2a3b4c5d-6e7f-4081-9283-a4b5c6d7e8f9',
  bluegreen: '9e8d7c6b-5a49-4837-8261-504f3e2d1c0b',
  legacy: '3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f',
};
export const JOB_ID = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';

/** A FlinkDeployment spec (application mode unless `job` is null). */
function deploymentSpec(o: { image?: string; state?: string; parallelism?: number; jarURI?: string; flinkVersion?: string; secret?: string; job?: null; replicas?: number; nonce?: Record<string, unknown> } = {}) {
  return {
    image: o.image ?? 'flink:2.1',
    flinkVersion: o.flinkVersion ?? 'v2_1',
    serviceAccount: 'flink',
    flinkConfiguration: { 'taskmanager.numberOfTaskSlots': '2', 's3.secret-key': o.secret ?? `${SECRET_MARKER}s3-1`, 'state.savepoints.dir': 's3://bucket/sp' },
    jobManager: { resource: { memory: '2048m', cpu: 1 } },
    taskManager: { resource: { memory: '2048m', cpu: 1 }, replicas: o.replicas ?? 1 },
    ...(o.job === null
      ? {}
      : {
          job: {
            jarURI: o.jarURI ?? 'local:///opt/flink/usrlib/orders.jar',
            parallelism: o.parallelism ?? 2,
            upgradeMode: 'savepoint',
            state: o.state ?? 'running',
            args: ['--db-password', `${SECRET_MARKER}arg`],
            ...o.nonce,
          },
        }),
  };
}

export interface Script {
  steps: Step[];
  /** The steps' events in delivery order. */
  events: AuditEvent[];
}

/**
 * Builds the script. `startMs` is the time of the first request; each step is 1 s later, so the
 * stored events sort in step order.
 */
export function buildScript(startMs = Date.parse('2026-05-01T10:00:00.000Z')): Script {
  const steps: Step[] = [];
  let n = 0;
  let rv = 1000;

  function audit(o: {
    verb: string;
    kind: string;
    name?: string;
    namespace?: string;
    sub?: string;
    user?: AuditEvent['user'];
    impersonate?: AuditEvent['user'];
    req?: unknown;
    res?: unknown;
    code?: number;
    status?: AuditEvent['responseStatus'];
    stage?: AuditEvent['stage'];
    query?: string;
    level?: AuditEvent['level'];
    apiGroup?: string;
    resource?: string;
  }): AuditEvent {
    n++;
    const t = new Date(startMs + n * 1000);
    const ns = o.namespace ?? 'flink';
    const resource = o.resource ?? PLURAL[o.kind] ?? 'unknown';
    const group = o.apiGroup ?? 'flink.apache.org';
    const base = `/apis/${group}/v1beta1/namespaces/${ns}/${resource}${o.name ? `/${o.name}` : ''}${o.sub ? `/${o.sub}` : ''}`;
    const code = o.code ?? (o.verb === 'create' ? 201 : 200);
    const ev: AuditEvent = {
      kind: 'Event',
      apiVersion: 'audit.k8s.io/v1',
      level: o.level ?? 'RequestResponse',
      auditID: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
      stage: o.stage ?? 'ResponseComplete',
      requestURI: o.query ? `${base}?${o.query}` : base,
      verb: o.verb,
      user: o.user ?? ALICE,
      sourceIPs: ['10.0.12.7', '192.168.1.2'],
      userAgent: o.user === OPERATOR ? 'fabric8-kubernetes-client/6.13.4' : 'kubectl/v1.30.2 (linux/amd64) kubernetes/39683505',
      objectRef: { resource, namespace: ns, ...(o.name ? { name: o.name } : {}), apiGroup: group, apiVersion: 'v1beta1', ...(o.sub ? { subresource: o.sub } : {}) },
      responseStatus: o.status ?? { code },
      requestReceivedTimestamp: t.toISOString().replace('Z', '123Z'),
      stageTimestamp: new Date(t.getTime() + 15).toISOString(),
      annotations: { 'authorization.k8s.io/decision': code === 403 ? 'forbid' : 'allow', 'authorization.k8s.io/reason': 'RBAC: allowed' },
    };
    if (o.impersonate) ev.impersonatedUser = o.impersonate;
    if (o.req !== undefined && ev.level !== 'Metadata') ev.requestObject = o.req;
    if (o.res !== undefined && ev.level === 'RequestResponse') ev.responseObject = o.res;
    return ev;
  }

  const obj = (kind: string, name: string, uid: string, spec: unknown, status?: unknown) => ({
    apiVersion: 'flink.apache.org/v1beta1',
    kind,
    metadata: { name, namespace: 'flink', uid, resourceVersion: String(++rv), generation: rv - 999 },
    spec,
    ...(status ? { status } : {}),
  });
  const step = (title: string, event: AuditEvent, expect: Expected | null) => steps.push({ title, event, expect });
  const D = 'FlinkDeployment';

  // --- FlinkDeployment "orders": the whole life cycle ---------------------------------------
  step('RequestReceived stage is not an event', audit({ verb: 'create', kind: D, stage: 'RequestReceived', req: obj(D, 'orders', '', deploymentSpec()) }), null);
  step(
    'create an application deployment',
    audit({ verb: 'create', kind: D, name: 'orders', req: { apiVersion: 'flink.apache.org/v1beta1', kind: D, metadata: { name: 'orders' }, spec: deploymentSpec() }, res: obj(D, 'orders', UIDS.orders, deploymentSpec()) }),
    { eventName: 'CreateDeployment', sensitive: true, resources: { Deployment: [UIDS.orders, 'orders'] }, data: { deploymentMode: 'application', namespace: 'flink' } },
  );
  step(
    'suspend (merge patch)',
    audit({ verb: 'patch', kind: D, name: 'orders', query: 'fieldManager=kubectl-patch', req: { spec: { job: { state: 'suspended' } } }, res: obj(D, 'orders', UIDS.orders, deploymentSpec({ state: 'suspended' })) }),
    { eventName: 'SuspendDeployment', sensitive: true, intents: ['Suspend'], changes: { 'spec.job.state': ['running', 'suspended'] }, resources: { Deployment: [UIDS.orders, 'orders'] } },
  );
  step(
    'resume (merge patch)',
    audit({ verb: 'patch', kind: D, name: 'orders', req: { spec: { job: { state: 'running' } } }, res: obj(D, 'orders', UIDS.orders, deploymentSpec()) }),
    { eventName: 'ResumeDeployment', intents: ['Resume'], changes: { 'spec.job.state': ['suspended', 'running'] } },
  );
  step(
    'savepoint by nonce',
    audit({ verb: 'patch', kind: D, name: 'orders', req: { spec: { job: { savepointTriggerNonce: 1 } } }, res: obj(D, 'orders', UIDS.orders, deploymentSpec({ nonce: { savepointTriggerNonce: 1 } })) }),
    { eventName: 'TriggerSavepoint', sensitive: false, intents: ['TriggerSavepoint'], changes: { 'spec.job.savepointTriggerNonce': [undefined, 1] } },
  );
  step(
    'checkpoint by nonce (JSON Patch)',
    audit({
      verb: 'patch',
      kind: D,
      name: 'orders',
      req: [{ op: 'add', path: '/spec/job/checkpointTriggerNonce', value: 7 }],
      res: obj(D, 'orders', UIDS.orders, deploymentSpec({ nonce: { savepointTriggerNonce: 1, checkpointTriggerNonce: 7 } })),
    }),
    { eventName: 'TriggerCheckpoint', sensitive: false, intents: ['TriggerCheckpoint'], changes: { 'spec.job.checkpointTriggerNonce': [undefined, 7] } },
  );
  const nonces = { savepointTriggerNonce: 1, checkpointTriggerNonce: 7 };
  step(
    'restart by nonce, impersonating',
    audit({ verb: 'patch', kind: D, name: 'orders', user: ADMIN, impersonate: BOB, req: { spec: { restartNonce: 3 } }, res: obj(D, 'orders', UIDS.orders, { ...deploymentSpec({ nonce: nonces }), restartNonce: 3 }) }),
    { eventName: 'RestartDeployment', intents: ['Restart'], userName: 'kubernetes-admin', data: { impersonatedUser: { userName: BOB.username, groups: BOB.groups } } },
  );
  const afterRestart = (o: Parameters<typeof deploymentSpec>[0] = {}) => ({ ...deploymentSpec({ nonce: nonces, ...o }), restartNonce: 3 });
  step(
    'kubectl scale (scale subresource)',
    audit({
      verb: 'update',
      kind: D,
      name: 'orders',
      sub: 'scale',
      req: { kind: 'Scale', apiVersion: 'autoscaling/v1', metadata: { name: 'orders', namespace: 'flink' }, spec: { replicas: 3 } },
      res: { kind: 'Scale', apiVersion: 'autoscaling/v1', metadata: { name: 'orders', namespace: 'flink', resourceVersion: String(++rv) }, spec: { replicas: 3 }, status: { replicas: 1 } },
    }),
    { eventName: 'ScaleDeployment', sensitive: true, intents: ['Scale'], changes: { 'spec.taskManager.replicas': [1, 3] } },
  );
  step(
    'change parallelism',
    audit({ verb: 'patch', kind: D, name: 'orders', req: { spec: { job: { parallelism: 4 } } }, res: obj(D, 'orders', UIDS.orders, afterRestart({ parallelism: 4, replicas: 3 })) }),
    { eventName: 'ScaleDeployment', intents: ['Scale'], changes: { 'spec.job.parallelism': [2, 4] } },
  );
  step(
    'kubectl replace with a new image (and a new secret)',
    audit({
      verb: 'update',
      kind: D,
      name: 'orders',
      req: obj(D, 'orders', UIDS.orders, afterRestart({ parallelism: 4, replicas: 3, image: 'flink:2.2', secret: `${SECRET_MARKER}s3-2` })),
      res: obj(D, 'orders', UIDS.orders, afterRestart({ parallelism: 4, replicas: 3, image: 'flink:2.2', secret: `${SECRET_MARKER}s3-2` })),
    }),
    { eventName: 'UpgradeDeployment', intents: ['Upgrade'], changes: { 'spec.image': ['flink:2.1', 'flink:2.2'], 'spec.flinkConfiguration.s3.secret-key': null } },
  );
  const v2 = (o: Parameters<typeof deploymentSpec>[0] = {}) => afterRestart({ parallelism: 4, replicas: 3, image: 'flink:2.2', secret: `${SECRET_MARKER}s3-2`, ...o });
  step(
    'server-side apply with a new jar',
    audit({
      verb: 'patch',
      kind: D,
      name: 'orders',
      query: 'fieldManager=argocd',
      req: { apiVersion: 'flink.apache.org/v1beta1', kind: D, metadata: { name: 'orders', namespace: 'flink' }, spec: v2({ jarURI: 'https://deploy:tok@repo.example/orders-2.jar' }) },
      res: obj(D, 'orders', UIDS.orders, v2({ jarURI: 'https://deploy:tok@repo.example/orders-2.jar' })),
    }),
    { eventName: 'UpgradeDeployment', intents: ['Upgrade'], changes: { 'spec.job.jarURI': ['local:///opt/flink/usrlib/orders.jar', 'https://deploy:******@repo.example/orders-2.jar'] } },
  );
  const v3 = (o: Parameters<typeof deploymentSpec>[0] = {}) => v2({ jarURI: 'https://deploy:tok@repo.example/orders-2.jar', ...o });
  step(
    'new Flink version',
    audit({ verb: 'patch', kind: D, name: 'orders', req: { spec: { flinkVersion: 'v2_2' } }, res: obj(D, 'orders', UIDS.orders, v3({ flinkVersion: 'v2_2' })) }),
    { eventName: 'UpgradeDeployment', intents: ['Upgrade'], changes: { 'spec.flinkVersion': ['v2_1', 'v2_2'] } },
  );
  const v4 = (o: Parameters<typeof deploymentSpec>[0] = {}) => v3({ flinkVersion: 'v2_2', ...o });
  step(
    'configuration only',
    audit({
      verb: 'patch',
      kind: D,
      name: 'orders',
      req: { spec: { flinkConfiguration: { 's3.secret-key': `${SECRET_MARKER}s3-3` } } },
      res: obj(D, 'orders', UIDS.orders, v4({ secret: `${SECRET_MARKER}s3-3` })),
    }),
    { eventName: 'UpdateDeployment', sensitive: true, changes: { 'spec.flinkConfiguration.s3.secret-key': null } },
  );
  const v5 = (o: Parameters<typeof deploymentSpec>[0] = {}) => v4({ secret: `${SECRET_MARKER}s3-3`, ...o });
  step(
    'a viewer tries to suspend: forbidden',
    audit({
      verb: 'patch',
      kind: D,
      name: 'orders',
      user: BOB,
      req: { spec: { job: { state: 'suspended' } } },
      code: 403,
      status: { code: 403, status: 'Failure', reason: 'Forbidden', message: 'flinkdeployments.flink.apache.org "orders" is forbidden: User "bob@example.com" cannot patch resource' },
      res: { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Forbidden', code: 403 },
    }),
    { eventName: 'SuspendDeployment', outcome: 'failure', errorCode: 'Kubernetes.Forbidden', userName: BOB.username, changes: { 'spec.job.state': ['running', 'suspended'] } },
  );
  step(
    'a dry run is flagged and changes nothing',
    audit({ verb: 'patch', kind: D, name: 'orders', query: 'dryRun=All', req: { spec: { job: { state: 'suspended' } } }, res: obj(D, 'orders', UIDS.orders, v5({ state: 'suspended' })) }),
    { eventName: 'SuspendDeployment', data: { dryRun: true } },
  );
  step(
    'operator status update (Metadata level)',
    audit({ verb: 'update', kind: D, name: 'orders', sub: 'status', user: OPERATOR, level: 'Metadata' }),
    { eventName: 'UpdateDeploymentStatus', eventType: 'AliyunServiceEvent', sensitive: false, userName: OPERATOR.username },
  );
  step(
    'operator status patch with the job id',
    audit({
      verb: 'patch',
      kind: D,
      name: 'orders',
      sub: 'status',
      user: OPERATOR,
      req: { status: { lifecycleState: 'STABLE', jobStatus: { jobId: JOB_ID, jobName: 'orders-job', state: 'RUNNING' } } },
      res: obj(D, 'orders', UIDS.orders, v5(), { lifecycleState: 'STABLE', jobStatus: { jobId: JOB_ID, jobName: 'orders-job', state: 'RUNNING' } }),
    }),
    { eventName: 'UpdateDeploymentStatus', eventType: 'AliyunServiceEvent', resources: { Job: [JOB_ID, 'orders-job'] }, data: { lifecycleState: 'STABLE', jobState: 'RUNNING' } },
  );
  step('operator get', audit({ verb: 'get', kind: D, name: 'orders', user: OPERATOR, level: 'Metadata' }), { eventName: 'GetDeployment', eventRW: 'Read', eventType: 'AliyunServiceEvent', sensitive: false });
  step('operator list', audit({ verb: 'list', kind: D, user: OPERATOR, level: 'Metadata' }), { eventName: 'ListDeployments', eventRW: 'Read' });
  step('user watch', audit({ verb: 'watch', kind: D, level: 'Metadata', query: 'watch=true' }), { eventName: 'WatchDeployments', eventRW: 'Read', eventType: 'ApiCall' });
  step(
    'an API server panic: outcome unknown',
    audit({ verb: 'patch', kind: D, name: 'orders', stage: 'Panic', req: { spec: { job: { upgradeMode: 'last-state' } } }, code: 500, status: { code: 500, message: 'runtime error' } }),
    { eventName: 'UpdateDeployment', outcome: 'unknown', errorCode: 'Kubernetes.Panic', intents: ['ChangeUpgradeMode'] },
  );

  // --- A session cluster and a session job ----------------------------------------------------
  step(
    'create a session cluster',
    audit({ verb: 'create', kind: D, name: 'session', req: { kind: D, metadata: { name: 'session' }, spec: deploymentSpec({ job: null }) }, res: obj(D, 'session', UIDS.session, deploymentSpec({ job: null })) }),
    { eventName: 'CreateDeployment', data: { deploymentMode: 'session' } },
  );
  const SJ = 'FlinkSessionJob';
  const sjSpec = (o: Record<string, unknown> = {}) => ({ deploymentName: 'session', job: { jarURI: 'https://repo/etl.jar', parallelism: 1, upgradeMode: 'stateless', state: 'running', ...o } });
  step(
    'create a session job',
    audit({ verb: 'create', kind: SJ, name: 'etl', req: { kind: SJ, metadata: { name: 'etl' }, spec: sjSpec() }, res: obj(SJ, 'etl', UIDS.sessionJob, sjSpec()) }),
    { eventName: 'CreateSessionJob', sensitive: true, resources: { SessionJob: [UIDS.sessionJob, 'etl'], Deployment: ['session'] } },
  );
  step(
    'suspend the session job',
    audit({ verb: 'patch', kind: SJ, name: 'etl', req: { spec: { job: { state: 'suspended' } } }, res: obj(SJ, 'etl', UIDS.sessionJob, sjSpec({ state: 'suspended' })) }),
    { eventName: 'SuspendSessionJob', changes: { 'spec.job.state': ['running', 'suspended'] } },
  );
  step(
    'resume the session job with a savepoint nonce',
    audit({ verb: 'patch', kind: SJ, name: 'etl', req: { spec: { job: { state: 'running', savepointTriggerNonce: 5 } } }, res: obj(SJ, 'etl', UIDS.sessionJob, sjSpec({ savepointTriggerNonce: 5 })) }),
    { eventName: 'ResumeSessionJob', intents: ['Resume', 'TriggerSavepoint'] },
  );
  step(
    'savepoint of the session job',
    audit({ verb: 'patch', kind: SJ, name: 'etl', req: { spec: { job: { savepointTriggerNonce: 6 } } }, res: obj(SJ, 'etl', UIDS.sessionJob, sjSpec({ savepointTriggerNonce: 6 })) }),
    { eventName: 'TriggerSavepoint', resources: { SessionJob: [UIDS.sessionJob, 'etl'] } },
  );
  step(
    'checkpoint of the session job',
    audit({ verb: 'patch', kind: SJ, name: 'etl', req: { spec: { job: { checkpointTriggerNonce: 1 } } }, res: obj(SJ, 'etl', UIDS.sessionJob, sjSpec({ savepointTriggerNonce: 6, checkpointTriggerNonce: 1 })) }),
    { eventName: 'TriggerCheckpoint' },
  );
  step(
    'upgrade the session job jar',
    audit({ verb: 'patch', kind: SJ, name: 'etl', req: { spec: { job: { jarURI: 'https://repo/etl-2.jar' } } }, res: obj(SJ, 'etl', UIDS.sessionJob, sjSpec({ savepointTriggerNonce: 6, checkpointTriggerNonce: 1, jarURI: 'https://repo/etl-2.jar' })) }),
    { eventName: 'UpgradeSessionJob', changes: { 'spec.job.jarURI': ['https://repo/etl.jar', 'https://repo/etl-2.jar'] } },
  );
  step(
    'restart the session job',
    audit({
      verb: 'patch',
      kind: SJ,
      name: 'etl',
      req: { spec: { restartNonce: 1 } },
      res: obj(SJ, 'etl', UIDS.sessionJob, { ...sjSpec({ savepointTriggerNonce: 6, checkpointTriggerNonce: 1, jarURI: 'https://repo/etl-2.jar' }), restartNonce: 1 }),
    }),
    { eventName: 'RestartSessionJob' },
  );
  step(
    'scale the session job',
    audit({
      verb: 'patch',
      kind: SJ,
      name: 'etl',
      req: { spec: { job: { parallelism: 3 } } },
      res: obj(SJ, 'etl', UIDS.sessionJob, { ...sjSpec({ savepointTriggerNonce: 6, checkpointTriggerNonce: 1, jarURI: 'https://repo/etl-2.jar', parallelism: 3 }), restartNonce: 1 }),
    }),
    { eventName: 'ScaleSessionJob', changes: { 'spec.job.parallelism': [1, 3] } },
  );
  step(
    'delete the session job',
    audit({ verb: 'delete', kind: SJ, name: 'etl', res: { kind: 'Status', apiVersion: 'v1', status: 'Success', details: { name: 'etl', group: 'flink.apache.org', kind: 'flinksessionjobs', uid: UIDS.sessionJob } } }),
    { eventName: 'DeleteSessionJob', sensitive: true, resources: { SessionJob: [UIDS.sessionJob, 'etl'] } },
  );

  // --- State snapshots ------------------------------------------------------------------------
  const SS = 'FlinkStateSnapshot';
  step(
    'create a savepoint snapshot',
    audit({
      verb: 'create',
      kind: SS,
      name: 'orders-sp-1',
      req: { kind: SS, metadata: { name: 'orders-sp-1' }, spec: { jobReference: { kind: 'FlinkDeployment', name: 'orders' }, savepoint: { path: 's3://bucket/sp', disposeOnDelete: true } } },
      res: obj(SS, 'orders-sp-1', UIDS.snapshot, { backoffLimit: -1, jobReference: { kind: 'FlinkDeployment', name: 'orders' }, savepoint: { path: 's3://bucket/sp', disposeOnDelete: true, formatType: 'CANONICAL', alreadyExists: false } }),
    }),
    { eventName: 'CreateStateSnapshot', sensitive: false, intents: ['TriggerSavepoint'], resources: { StateSnapshot: [UIDS.snapshot, 'orders-sp-1'], Deployment: ['orders'] }, data: { snapshotType: 'savepoint' } },
  );
  step(
    'create a checkpoint snapshot of the session job (operator, periodic)',
    audit({
      verb: 'create',
      kind: SS,
      name: 'etl-cp-1',
      user: OPERATOR,
      req: { kind: SS, metadata: { name: 'etl-cp-1' }, spec: { jobReference: { kind: 'FlinkSessionJob', name: 'etl' }, checkpoint: {} } },
      res: obj(SS, 'etl-cp-1', UIDS.checkpoint, { backoffLimit: -1, jobReference: { kind: 'FlinkSessionJob', name: 'etl' }, checkpoint: {} }),
    }),
    { eventName: 'CreateStateSnapshot', eventType: 'AliyunServiceEvent', intents: ['TriggerCheckpoint'], resources: { SessionJob: ['etl'] }, data: { snapshotType: 'checkpoint' } },
  );
  step(
    'delete the savepoint snapshot (disposes the savepoint)',
    audit({ verb: 'delete', kind: SS, name: 'orders-sp-1', res: obj(SS, 'orders-sp-1', UIDS.snapshot, { jobReference: { kind: 'FlinkDeployment', name: 'orders' }, savepoint: { path: 's3://bucket/sp', disposeOnDelete: true } }) }),
    { eventName: 'DeleteStateSnapshot', sensitive: true },
  );

  // --- Blue/green -----------------------------------------------------------------------------
  const BG = 'FlinkBlueGreenDeployment';
  const bgSpec = (o: Parameters<typeof deploymentSpec>[0] = {}) => ({ configuration: { 'kubernetes.operator.bluegreen.abort.grace-period': '10m' }, template: { metadata: {}, spec: deploymentSpec(o) } });
  step(
    'create a blue/green deployment',
    audit({ verb: 'create', kind: BG, name: 'pay', req: { kind: BG, metadata: { name: 'pay' }, spec: bgSpec() }, res: obj(BG, 'pay', UIDS.bluegreen, bgSpec()) }),
    { eventName: 'CreateBlueGreenDeployment', sensitive: true, resources: { BlueGreenDeployment: [UIDS.bluegreen, 'pay'] } },
  );
  step(
    'blue/green transition to a new image',
    audit({ verb: 'patch', kind: BG, name: 'pay', req: { spec: { template: { spec: { image: 'flink:2.2' } } } }, res: obj(BG, 'pay', UIDS.bluegreen, bgSpec({ image: 'flink:2.2' })) }),
    { eventName: 'UpgradeBlueGreenDeployment', changes: { 'spec.template.spec.image': ['flink:2.1', 'flink:2.2'] } },
  );
  step(
    'suspend the blue/green deployment',
    audit({ verb: 'patch', kind: BG, name: 'pay', req: { spec: { template: { spec: { job: { state: 'suspended' } } } } }, res: obj(BG, 'pay', UIDS.bluegreen, bgSpec({ image: 'flink:2.2', state: 'suspended' })) }),
    { eventName: 'SuspendBlueGreenDeployment' },
  );
  step('delete the blue/green deployment', audit({ verb: 'delete', kind: BG, name: 'pay', res: obj(BG, 'pay', UIDS.bluegreen, bgSpec()) }), { eventName: 'DeleteBlueGreenDeployment' });

  // --- Objects FlinkTrail has not seen before -------------------------------------------------
  step(
    'replace of an unknown object: what changed is unknown',
    audit({ verb: 'update', kind: D, name: 'legacy', req: obj(D, 'legacy', UIDS.legacy, deploymentSpec({ image: 'flink:1.20' })), res: obj(D, 'legacy', UIDS.legacy, deploymentSpec({ image: 'flink:1.20' })) }),
    { eventName: 'UpdateDeployment', data: { previousStateUnknown: true } },
  );
  step(
    'patch of an object known only by the operator: compared with lastReconciledSpec',
    audit({
      verb: 'patch',
      kind: D,
      name: 'reconciled',
      req: { spec: { job: { state: 'suspended' } } },
      res: obj(D, 'reconciled', 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee', deploymentSpec({ state: 'suspended' }), {
        reconciliationStatus: { lastReconciledSpec: JSON.stringify({ spec: deploymentSpec(), resource_metadata: { apiVersion: 'flink.apache.org/v1beta1' } }) },
      }),
    }),
    { eventName: 'SuspendDeployment', changes: { 'spec.job.state': ['running', 'suspended'] } },
  );

  // --- The end of "orders", and what is not Flink ---------------------------------------------
  step(
    'delete orders',
    audit({ verb: 'delete', kind: D, name: 'orders', res: { kind: 'Status', apiVersion: 'v1', status: 'Success', details: { name: 'orders', kind: 'flinkdeployments' } } }),
    { eventName: 'DeleteDeployment', sensitive: true, resources: { Deployment: [UIDS.orders, 'orders'] } },
  );
  step('delete every deployment of a namespace', audit({ verb: 'deletecollection', kind: D }), { eventName: 'DeleteDeployment', data: { deleteCollection: true } });
  step('a pod is not Flink', audit({ verb: 'create', kind: 'Pod', name: 'p', apiGroup: '', resource: 'pods', req: { kind: 'Pod' } }), null);
  step('apps/v1 Deployments are not Flink deployments', audit({ verb: 'delete', kind: 'Deployment', name: 'orders', apiGroup: 'apps', resource: 'deployments' }), null);

  return { steps, events: steps.map((s) => s.event) };
}

/** Whole-event check used by unit and integration tests; returns problems (empty = match). */
export function mismatches(
  got: { eventName: string; eventRW: string; eventType: string; errorCode?: string; userIdentity: { userName: string }; referencedResources: Record<string, string[]>; requestParameters: Record<string, unknown>; additionalEventData: Record<string, unknown> },
  want: Expected,
): string[] {
  const out: string[] = [];
  const eq = (what: string, a: unknown, b: unknown) => {
    if (JSON.stringify(a) !== JSON.stringify(b)) out.push(`${what}: got ${JSON.stringify(a)}, want ${JSON.stringify(b)}`);
  };
  eq('eventName', got.eventName, want.eventName);
  eq('eventRW', got.eventRW, want.eventRW ?? 'Write');
  eq('eventType', got.eventType, want.eventType ?? (got.userIdentity.userName.includes('flink-operator') ? 'AliyunServiceEvent' : 'ApiCall'));
  eq('outcome', got.additionalEventData['outcome'], want.outcome ?? 'success');
  if (want.errorCode !== undefined || got.errorCode !== undefined) eq('errorCode', got.errorCode, want.errorCode);
  if (want.sensitive !== undefined) eq('sensitive', got.additionalEventData['sensitive'], want.sensitive);
  if (want.intents !== undefined) eq('intents', got.additionalEventData['intents'], want.intents);
  if (want.userName !== undefined) eq('userName', got.userIdentity.userName, want.userName);
  for (const [k, v] of Object.entries(want.data ?? {})) eq(`additionalEventData.${k}`, got.additionalEventData[k], v);
  for (const [type, ids] of Object.entries(want.resources ?? {})) {
    const have = got.referencedResources[`ACS::RealtimeCompute::${type}`] ?? [];
    for (const id of ids) if (!have.includes(id)) out.push(`resource ${type} ${id} missing (have ${JSON.stringify(have)})`);
  }
  if (want.changes) {
    const changes = (got.requestParameters['changes'] ?? []) as { path: string; from?: unknown; to?: unknown }[];
    for (const [path, fromTo] of Object.entries(want.changes)) {
      const c = changes.find((x) => x.path === path);
      if (!c) {
        out.push(`change ${path} missing (have ${JSON.stringify(changes.map((x) => x.path))})`);
        continue;
      }
      if (fromTo === null) {
        if ('from' in c || 'to' in c) out.push(`change ${path} must not show values: ${JSON.stringify(c)}`);
      } else {
        eq(`change ${path} from`, c.from, fromTo[0]);
        eq(`change ${path} to`, c.to, fromTo[1]);
      }
    }
  }
  return out;
}
