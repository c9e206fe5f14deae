/**
 * The Kubernetes audit webhook end to end, over HTTP, against a real FlinkTrail (in process,
 * real SQLite store on disk): real and scripted EventLists produce exactly the expected events,
 * retried and concurrent deliveries none extra (also after a restart), bad bodies and callers
 * coded 4xx errors — and the receiver keeps working after thousands of fuzzed bodies.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { ActionTrailEvent } from '../../../src/event/types.js';
import { basic, foundIn, lookup, makeKey, startInProcess, storedContents, tempDir, waitForEvents, type Credentials, type InProcess } from '../../helpers/flinktrail.js';
import { buildScript, mismatches, SECRET_MARKER } from './scripted.js';

const SAMPLES = new URL('./samples/', import.meta.url);
const sample = (name: string) => readFileSync(new URL(name, SAMPLES), 'utf8');
const TOKEN = 'k8s-audit-token-0123456789abcdef';
const MANAGEMENT = '1000000000000001';
const TEAM_A = '2000000000000001';
const PROD_TOKEN = 'prod-only-token-0123456789abcdef';

let ft: InProcess;
let dataDir: string;
let admin: Credentials;
let viewer: Credentials;
let api: string;

async function start(): Promise<void> {
  ft = await startInProcess(
    'http://127.0.0.1:9',
    {
      accountId: MANAGEMENT,
      // A cluster the gateway also fronts (never called here), owned by a member account.
      clusters: [{ name: 'team-a', url: 'http://127.0.0.1:9', account: TEAM_A }],
      k8sAudit: {
        maxBodyBytes: 16 * 1024 * 1024,
        bearerTokens: [
          { name: 'kube-apiserver', token: TOKEN },
          { name: 'prod-apiserver', token: PROD_TOKEN, cluster: 'prod' },
        ],
      },
    },
    dataDir,
  );
  api = ft.info.apiUrl;
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

async function post(body: string | Buffer, opts: { query?: string; auth?: string | null; type?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const headers: Record<string, string> = { 'content-type': opts.type ?? 'application/json', ...opts.headers };
  if (opts.auth !== null) headers['authorization'] = opts.auth ?? `Bearer ${TOKEN}`;
  const res = await fetch(`${api}/k8s-audit${opts.query ? `?${opts.query}` : ''}`, { method: 'POST', headers, body });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

const firstSampleEvent = () => (JSON.parse(sample('SYNTHETIC-flinkdeployment-eventlist.json')) as { items: Record<string, unknown>[] }).items[0]!;
const list = (items: unknown[], apiVersion = 'audit.k8s.io/v1') => JSON.stringify({ kind: 'EventList', apiVersion, metadata: {}, items });

async function allEvents(query: Record<string, string>): Promise<ActionTrailEvent[]> {
  const out: ActionTrailEvent[] = [];
  let next: string | undefined;
  for (let page = 0; page < 50; page++) {
    const r = await lookup(api, admin, { startTime: '2000-01-01T00:00:00Z', direction: 'FORWARD', maxResults: '200', ...query, ...(next ? { nextToken: next } : {}) });
    out.push(...r.Events);
    if (!r.NextToken) return out;
    next = r.NextToken;
  }
  throw new Error('too many pages');
}

before(async () => {
  dataDir = tempDir('ft-k8s-');
  admin = await makeKey(dataDir, 'ops-admin', 'admin');
  viewer = await makeKey(dataDir, 'vic', 'viewer');
  await start();
});
after(async () => {
  await ft?.close();
});

describe('real EventList samples', () => {
  it('the Pod create (both stages) and the falco Deployment are not Flink: accepted, ignored, nothing recorded', async () => {
    const a = await post(sample('eventlist-requestreceived.json'));
    const b = await post(sample('eventlist-responsecomplete.json'));
    const c = await post(sample('falco-create_deployment-event.json'), { query: 'format=jsonl', type: 'application/octet-stream' });
    assert.deepEqual(a, { status: 200, body: { accepted: 0, duplicates: 0, ignored: 1, rejected: [] } });
    assert.deepEqual(b, { status: 200, body: { accepted: 0, duplicates: 0, ignored: 1, rejected: [] } });
    assert.deepEqual(c, { status: 200, body: { accepted: 0, duplicates: 0, ignored: 1, rejected: [] } });
  });
  it('the Flink sample: a SuspendDeployment and an operator status update, once however often delivered', async () => {
    const body = sample('SYNTHETIC-flinkdeployment-eventlist.json');
    const first = await post(body, { query: 'cluster=samples' });
    assert.deepEqual(first.body, { accepted: 2, duplicates: 0, ignored: 0, rejected: [] });
    const again = await Promise.all([post(body, { query: 'cluster=samples' }), post(body, { query: 'cluster=samples' })]);
    for (const r of again) assert.deepEqual(r.body, { accepted: 0, duplicates: 2, ignored: 0, rejected: [] });
    const events = await allEvents({ cluster: 'samples' });
    assert.deepEqual(
      events.map((e) => [e.eventName, e.eventType, e.userIdentity.userName, e.eventSource]),
      [
        ['SuspendDeployment', 'ApiCall', 'alice@example.com', 'kubernetes'],
        ['UpdateDeploymentStatus', 'AliyunServiceEvent', 'system:serviceaccount:flink-operator:flink-operator', 'kubernetes'],
      ],
    );
    const byResource = await allEvents({ resourceType: 'ACS::RealtimeCompute::Deployment', resourceName: 'basic-example' });
    assert.equal(byResource.length, 2);
    const operatorOnly = await allEvents({ cluster: 'samples', eventType: 'AliyunServiceEvent' });
    assert.equal(operatorOnly.length, 1);
  });
});

describe('scripted stream: every intent', () => {
  // Recent times: events older than the retention period are purged when FlinkTrail starts.
  const script = buildScript(Date.now() - 3600_000);
  const expected = script.steps.filter((s) => s.expect !== null);

  it('delivered in batches (v1, v1beta1, JSON lines), each twice, yields exactly the expected events', async () => {
    const batches: unknown[][] = [];
    for (let i = 0; i < script.events.length; i += 7) batches.push(script.events.slice(i, i + 7));
    let accepted = 0;
    let duplicates = 0;
    let ignored = 0;
    for (const [i, items] of batches.entries()) {
      const send = () =>
        i % 3 === 2
          ? post(items.map((e) => JSON.stringify(e)).join('\n'), { type: 'application/x-ndjson', query: 'cluster=scripted' })
          : post(list(items, i % 3 === 1 ? 'audit.k8s.io/v1beta1' : 'audit.k8s.io/v1'), { query: 'cluster=scripted' });
      const first = await send();
      assert.equal(first.status, 200, JSON.stringify(first.body));
      accepted += first.body['accepted'] as number;
      ignored += first.body['ignored'] as number;
      // The API server retries a batch it got no 2xx for: the retry must add nothing.
      const retry = await send();
      assert.equal(retry.body['accepted'], 0);
      duplicates += retry.body['duplicates'] as number;
    }
    assert.equal(accepted, expected.length);
    assert.equal(duplicates, expected.length);
    assert.equal(ignored, script.steps.length - expected.length);

    const events = await allEvents({ cluster: 'scripted' });
    assert.equal(events.length, expected.length, events.map((e) => e.eventName).join(','));
    expected.forEach((step, i) => {
      const got = events[i]!;
      assert.equal(got.requestId, step.event.auditID, `${step.title}: order`);
      assert.deepEqual(mismatches(got, step.expect!), [], step.title);
    });
  });

  it('after a restart, redelivery of the whole stream is still recognised (durable de-duplication)', async () => {
    await ft.close();
    await start();
    const r = await post(list(script.events), { query: 'cluster=scripted' });
    assert.deepEqual(r.body, { accepted: 0, duplicates: expected.length, ignored: script.steps.length - expected.length, rejected: [] });
    assert.equal((await allEvents({ cluster: 'scripted' })).length, expected.length);
  });

  it('no planted secret, URL credential or object body is stored anywhere in the store', async () => {
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(foundIn(await storedContents(dataDir), [SECRET_MARKER, 'deploy:tok@', TOKEN, PROD_TOKEN]), []);
  });
});

describe('who may deliver', () => {
  const body = list([]);
  it('no credentials: 401 FT_ERR_AUTH_MISSING; an unknown token: 401 FT_ERR_AUTH_INVALID', async () => {
    const none = await post(body, { auth: null });
    assert.equal(none.status, 401);
    assert.equal(none.body['Code'], 'FT_ERR_AUTH_MISSING');
    const wrong = await post(body, { auth: 'Bearer not-the-token-0123456789' });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body['Code'], 'FT_ERR_AUTH_INVALID');
    const scheme = await post(body, { auth: 'Digest abc' });
    assert.equal(scheme.status, 401);
  });
  it('a token bound to a cluster cannot deliver for another (403), and names its cluster itself', async () => {
    const other = await post(body, { auth: `Bearer ${PROD_TOKEN}`, query: 'cluster=staging' });
    assert.equal(other.status, 403);
    assert.equal(other.body['Code'], 'FT_ERR_KUBERNETES_CLUSTER_MISMATCH');
    const ok = await post(sample('SYNTHETIC-flinkdeployment-eventlist.json').replaceAll('0b3f6c52', '1b3f6c52').replaceAll('7c1a9d3e', '8c1a9d3e'), { auth: `Bearer ${PROD_TOKEN}` });
    assert.equal(ok.body['accepted'], 2);
    assert.equal((await allEvents({ cluster: 'prod' })).length, 2);
  });
  it('an AccessKey works if its role allows PutKubernetesAuditEvents: admin yes, viewer no', async () => {
    assert.equal((await post(body, { auth: basic(admin) })).status, 200);
    const denied = await post(body, { auth: basic(viewer) });
    assert.equal(denied.status, 403);
    assert.equal(denied.body['Code'], 'NoPermission');
  });
  it('failed deliveries are recorded, with who tried', async () => {
    const failures = await waitForEvents(api, admin, { eventName: 'PutKubernetesAuditEvents', startTime: '2000-01-01T00:00:00Z' }, (es) => es.length >= 5);
    const codes = failures.map((e) => e.errorCode).sort();
    assert.ok(codes.includes('FT_ERR_AUTH_MISSING') && codes.includes('FT_ERR_AUTH_INVALID') && codes.includes('NoPermission') && codes.includes('FT_ERR_KUBERNETES_CLUSTER_MISMATCH'), codes.join(','));
    assert.ok(failures.some((e) => e.userIdentity.userName === 'prod-apiserver' && e.errorCode === 'FT_ERR_KUBERNETES_CLUSTER_MISMATCH'));
    assert.ok(failures.some((e) => e.userIdentity.userName === 'vic'));
    assert.ok(failures.every((e) => e.serviceName === 'Actiontrail' && e.additionalEventData.outcome === 'failure'));
  });
});

describe("events belong to their cluster's account", () => {
  /** The stored events of one cluster, as the store holds them (no query-side scoping). */
  async function stored(cluster: string): Promise<ActionTrailEvent[]> {
    const page = await ft.app.store.lookup({ filter: { startTime: 0, endTime: Date.now() + 60_000, cluster }, direction: 'FORWARD', limit: 100 });
    return page.events;
  }
  it("a configured cluster's events go to its account; a cluster the configuration does not name, to the management account", async () => {
    // Fresh audit ids: the sample itself was delivered above.
    const forA = sample('SYNTHETIC-flinkdeployment-eventlist.json').replaceAll('0b3f6c52', '3b3f6c52').replaceAll('7c1a9d3e', 'ac1a9d3e');
    assert.equal((await post(forA, { query: 'cluster=team-a' })).body['accepted'], 2);
    const a = await stored('team-a');
    assert.equal(a.length, 2);
    for (const e of a) {
      assert.equal(e.recipientAccountId, TEAM_A);
      assert.equal(e.userIdentity.accountId, TEAM_A, "the Kubernetes users are the cluster's account's");
    }
    const elsewhere = await stored('scripted');
    assert.ok(elsewhere.length > 0);
    for (const e of elsewhere) assert.equal(e.recipientAccountId, MANAGEMENT);
  });
});

describe('bad bodies get coded 4xx errors', () => {
  const cases: [string, () => Promise<Answer>, number, string][] = [
    ['not JSON', () => post('{"kind": "EventList", '), 400, 'FT_ERR_INGEST_INVALID_BODY'],
    ['empty', () => post(''), 400, 'FT_ERR_INGEST_INVALID_BODY'],
    ['a JSON array', () => post('[]'), 400, 'FT_ERR_KUBERNETES_INVALID_BODY'],
    ['wrong kind', () => post(JSON.stringify({ kind: 'Event', apiVersion: 'audit.k8s.io/v1' })), 400, 'FT_ERR_KUBERNETES_INVALID_BODY'],
    ['items not a list', () => post(JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: {} })), 400, 'FT_ERR_KUBERNETES_INVALID_BODY'],
    ['wrong version', () => post(list([], 'audit.k8s.io/v2')), 400, 'FT_ERR_KUBERNETES_UNSUPPORTED_VERSION'],
    ['no version', () => post(JSON.stringify({ kind: 'EventList', items: [] })), 400, 'FT_ERR_KUBERNETES_UNSUPPORTED_VERSION'],
    ['HTML', () => post('<html/>', { type: 'text/html' }), 415, 'FT_ERR_INGEST_UNSUPPORTED_MEDIA_TYPE'],
    ['gzip', () => post(list([]), { headers: { 'content-encoding': 'gzip' } }), 415, 'FT_ERR_INGEST_UNSUPPORTED_MEDIA_TYPE'],
    ['unknown parameter', () => post(list([]), { query: 'clustr=x' }), 400, 'FT_ERR_KUBERNETES_INVALID_PARAMETER'],
    ['bad cluster name', () => post(list([]), { query: 'cluster=../x' }), 400, 'FT_ERR_KUBERNETES_INVALID_PARAMETER'],
    ['JSON lines that are all garbage', () => post('', { type: 'application/x-ndjson' }), 400, 'FT_ERR_KUBERNETES_INVALID_BODY'],
  ];
  for (const [title, send, status, code] of cases) {
    it(`${title}: ${status} ${code}`, async () => {
      const r = await send();
      assert.equal(r.status, status, JSON.stringify(r.body));
      assert.equal(r.body['Code'], code);
      assert.equal(typeof r.body['Message'], 'string');
      assert.equal(typeof r.body['RequestId'], 'string');
    });
  }
  it('invalid events inside a good list are rejected one by one; the rest is recorded', async () => {
    const good = firstSampleEvent();
    good.auditID = 'aaaaaaaa-0000-4000-8000-000000000001';
    const r = await post(
      list([{ auditID: 'x' }, good, { ...good, apiVersion: 'audit.k8s.io/v1alpha1' }, { ...good, auditID: 'zz', stage: 'Sideways' }, { ...good, auditID: 'yy', requestReceivedTimestamp: 'yesterday' }]),
      { query: 'cluster=partial' },
    );
    assert.equal(r.status, 200);
    assert.equal(r.body['accepted'], 1);
    const rejected = r.body['rejected'] as { index: number; code: string }[];
    assert.deepEqual(rejected.map((x) => [x.index, x.code]), [
      [0, 'FT_ERR_KUBERNETES_INVALID_EVENT'],
      [2, 'FT_ERR_KUBERNETES_UNSUPPORTED_VERSION'],
      [3, 'FT_ERR_KUBERNETES_INVALID_EVENT'],
      [4, 'FT_ERR_KUBERNETES_INVALID_EVENT'],
    ]);
  });
  it('a body over k8sAudit.maxBodyBytes: 413, by Content-Length or while streaming', async () => {
    const big = list([{ pad: 'x'.repeat(17 * 1024 * 1024) }]);
    const r = await post(big);
    assert.equal(r.status, 413);
    assert.equal(r.body['Code'], 'FT_ERR_INGEST_TOO_LARGE');
    // Chunked, no Content-Length: the limit holds while reading.
    const stream = new ReadableStream({
      start(c) {
        for (let i = 0; i < 20; i++) c.enqueue(new TextEncoder().encode('x'.repeat(1024 * 1024)));
        c.close();
      },
    });
    const res = await fetch(`${api}/k8s-audit`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: stream, duplex: 'half' });
    assert.equal(res.status, 413);
  });
  it('a 10 MiB batch (the API server truncating backend maximum) is accepted', async () => {
    const base = firstSampleEvent();
    const items = Array.from({ length: 400 }, (_, i) => ({
      ...base,
      auditID: `bbbbbbbb-0000-4000-8000-${String(i).padStart(12, '0')}`,
      requestObject: { spec: { job: { state: 'suspended' } }, metadata: { annotations: { pad: 'p'.repeat(26 * 1024) } } },
    }));
    const body = list(items);
    assert.ok(body.length > 10 * 1024 * 1024, `${body.length}`);
    const r = await post(body, { query: 'cluster=big' });
    assert.equal(r.status, 200);
    assert.equal(r.body['accepted'], 400);
  });
});

describe('fuzzing: the receiver answers every body with 200 or a coded 4xx and keeps working', () => {
  it('arbitrary JSON, arbitrary text and mutated EventLists', async () => {
    const auth = `Bearer ${TOKEN}`;
    const event = fc.record(
      {
        kind: fc.constantFrom('Event', 'Other', undefined),
        apiVersion: fc.constantFrom('audit.k8s.io/v1', 'audit.k8s.io/v1beta1', 'v1', undefined),
        level: fc.constantFrom('Metadata', 'RequestResponse', 'Bogus'),
        auditID: fc.oneof(fc.uuid(), fc.string(), fc.integer()),
        stage: fc.constantFrom('RequestReceived', 'ResponseComplete', 'Panic', 'ResponseStarted', 'Nope'),
        verb: fc.constantFrom('create', 'patch', 'update', 'delete', 'get', 'deletecollection', 'impersonate', ''),
        user: fc.oneof(fc.record({ username: fc.string(), groups: fc.array(fc.string()) }), fc.anything()),
        objectRef: fc.oneof(
          fc.record({
            apiGroup: fc.constantFrom('flink.apache.org', 'apps', ''),
            resource: fc.constantFrom('flinkdeployments', 'flinksessionjobs', 'flinkstatesnapshots', 'flinkbluegreendeployments', 'pods'),
            subresource: fc.constantFrom(undefined, 'status', 'scale', 'x'),
            name: fc.string({ maxLength: 20 }),
            namespace: fc.string({ maxLength: 20 }),
          }),
          fc.anything(),
        ),
        responseStatus: fc.oneof(fc.record({ code: fc.integer({ min: 0, max: 999 }) }), fc.anything()),
        requestObject: fc.oneof(fc.jsonValue(), fc.array(fc.record({ op: fc.constantFrom('add', 'remove', 'move', 'copy', 'test'), path: fc.string(), value: fc.jsonValue() }))),
        responseObject: fc.jsonValue(),
        requestReceivedTimestamp: fc.oneof(fc.date({ noInvalidDate: true, min: new Date(0), max: new Date(4102444800000) }).map((d) => d.toISOString()), fc.string()),
        sourceIPs: fc.array(fc.string({ maxLength: 20 }), { maxLength: 3 }),
      },
      { requiredKeys: [] },
    );
    const bodies = fc.oneof(
      fc.jsonValue().map((v) => ({ text: JSON.stringify(v) ?? 'null', type: 'application/json' })),
      fc.string({ unit: 'binary', maxLength: 500 }).map((text) => ({ text, type: 'application/json' })),
      fc.string({ unit: 'binary', maxLength: 500 }).map((text) => ({ text, type: 'application/x-ndjson' })),
      fc.array(event, { maxLength: 6 }).map((items) => ({ text: list(items), type: 'application/json' })),
      fc.array(event, { maxLength: 6 }).map((items) => ({ text: items.map((i) => JSON.stringify(i)).join('\n'), type: 'application/x-ndjson' })),
      fc.tuple(fc.constantFrom('audit.k8s.io/v1', 'audit.k8s.io/v2', 'x'), fc.jsonValue()).map(([v, items]) => ({ text: JSON.stringify({ kind: 'EventList', apiVersion: v, items }), type: 'application/json' })),
    );
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(bodies, async ({ text, type }) => {
        runs++;
        const r = await ft.app.api.inject({ method: 'POST', url: '/k8s-audit?cluster=fuzz', headers: { authorization: auth, 'content-type': type }, payload: text });
        assert.ok(r.statusCode === 200 || (r.statusCode >= 400 && r.statusCode < 500), `${r.statusCode} for ${text.slice(0, 200)}: ${r.body}`);
        const body = JSON.parse(r.body) as Record<string, unknown>;
        if (r.statusCode >= 400) assert.match(String(body['Code']), /^FT_ERR_[A-Z0-9_]+$/);
        else assert.ok(Array.isArray(body['rejected']) && typeof body['accepted'] === 'number');
      }),
      { numRuns: 1500 },
    );
    assert.equal(runs, 1500);
    // Still up, over real HTTP, and still recording.
    assert.equal((await fetch(`${api}/health`)).status, 200);
    const good = sample('SYNTHETIC-flinkdeployment-eventlist.json').replaceAll('0b3f6c52', '2b3f6c52').replaceAll('7c1a9d3e', '9c1a9d3e');
    const r = await post(good, { query: 'cluster=after-fuzz' });
    assert.equal(r.body['accepted'], 2);
  });
});
