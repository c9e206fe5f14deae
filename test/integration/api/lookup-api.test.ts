/**
 * The query API over HTTP: bad input is a 400 with ActionTrail's error body (never a 500),
 * API calls are themselves audited, health is the only open door, and an unreachable Flink
 * yields a coded 502 that is recorded too.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect, createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { closedPort, type ClosedPort } from '../../helpers/ports.js';
import { basic, lookup, makeKey, startInProcess, tempDir, waitForEvents, type Credentials, type InProcess } from '../../helpers/flinktrail.js';

describe('event query API', () => {
  let ft: InProcess;
  let cred: Credentials;
  let flinkDown: ClosedPort;
  before(async () => {
    const dataDir = tempDir();
    cred = await makeKey(dataDir);
    // Held closed for the whole suite: "Flink" must stay down, and nothing else may get its port.
    flinkDown = await closedPort();
    ft = await startInProcess(flinkDown.url, {}, dataDir);
  });
  after(async () => {
    await ft?.close();
    await flinkDown?.release();
  });

  const get = (path: string, auth = true) => fetch(`${ft.info.apiUrl}${path}`, { headers: auth ? { authorization: basic(cred) } : {} });

  it('answers health without credentials and nothing else', async () => {
    assert.equal((await get('/health', false)).status, 200);
    assert.equal((await get('/ready', false)).status, 200);
    for (const p of ['/api/v1/events', '/metrics', '/api/v1/whoami', '/api/v1/events/x', '/nope']) {
      assert.equal((await get(p, false)).status, 401, p);
    }
  });

  it('refuses invalid input with 400 and a coded ActionTrail-style body', async () => {
    const cases: [string, string][] = [
      ['startTime=yesterday', 'FT_ERR_QUERY_TIME_RANGE'],
      ['startTime=2026-02-01T00:00:00Z&endTime=2026-01-01T00:00:00Z', 'FT_ERR_QUERY_TIME_RANGE'],
      ['bogus=1', 'FT_ERR_QUERY_UNKNOWN_PARAMETER'],
      ['nextToken=abc.def', 'FT_ERR_QUERY_BAD_TOKEN'],
      ['maxResults=0', 'FT_ERR_QUERY_INVALID_PARAMETER'],
      ['maxResults=1000', 'FT_ERR_QUERY_INVALID_PARAMETER'],
      ['eventRW=Sometimes', 'FT_ERR_QUERY_INVALID_PARAMETER'],
      ['user=a&user=b', 'FT_ERR_QUERY_INVALID_PARAMETER'],
    ];
    for (const [qs, code] of cases) {
      const res = await get(`/api/v1/events?${qs}`);
      assert.equal(res.status, 400, qs);
      const body = (await res.json()) as Record<string, string>;
      assert.equal(body['Code'], code, qs);
      assert.ok(body['RequestId'] && body['Message'], qs);
    }
    const missing = await get('/api/v1/events/00000000-0000-0000-0000-000000000000');
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { Code: string }).Code, 'FT_ERR_EVENT_NOT_FOUND');
  });

  it('never answers 500 to random query strings', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(fc.constantFrom('startTime', 'endTime', 'maxResults', 'nextToken', 'eventRW', 'sensitive', 'direction', 'user', 'x'), fc.string({ maxLength: 40 })),
        async (q) => {
          const res = await get(`/api/v1/events?${new URLSearchParams(q).toString()}`);
          await res.arrayBuffer();
          return res.status === 200 || res.status === 400;
        },
      ),
      { numRuns: 150 },
    );
  });

  it('records its own API calls (the auditor is audited)', async () => {
    const res = await get('/api/v1/whoami');
    const requestId = res.headers.get('x-request-id')!;
    assert.equal(((await res.json()) as { userName: string }).userName, 'alice');
    const events = await waitForEvents(ft.info.apiUrl, cred, { serviceName: 'Actiontrail', eventName: 'GetCallerIdentity' }, (es) => es.some((e) => e.requestId === requestId));
    assert.equal(events.find((e) => e.requestId === requestId)?.eventSource, 'flinktrail');
  });

  it('answers 502 when Flink is down, and records it', async () => {
    const res = await fetch(`${ft.info.clusters['default']!.gatewayUrl}jobs/${'a'.repeat(32)}?mode=cancel`, { method: 'PATCH', headers: { authorization: basic(cred) } });
    assert.equal(res.status, 502);
    const body = (await res.json()) as { Code: string; RequestId: string };
    assert.equal(body.Code, 'FT_ERR_UPSTREAM_UNAVAILABLE');
    const events = await waitForEvents(ft.info.apiUrl, cred, { eventName: 'CancelJob' }, (es) => es.some((e) => e.requestId === body.RequestId && e.additionalEventData.outcome !== 'pending'));
    const e = events.find((x) => x.requestId === body.RequestId)!;
    assert.equal(e.errorCode, 'FT_ERR_UPSTREAM_UNAVAILABLE');
    assert.equal(e.additionalEventData.outcome, 'failure');
  });

  it("answers Flink's own Java client (no User-Agent) in Flink's error shape", async () => {
    const url = new URL(`${ft.info.clusters['default']!.gatewayUrl}jobs/overview`);
    const { status, body, code } = await new Promise<{ status: number; body: string; code: string }>((resolve, reject) => {
      const req = request(url, { headers: { authorization: basic(cred) } }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, code: String(res.headers['x-flinktrail-error-code']) }));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 502);
    assert.equal(code, 'FT_ERR_UPSTREAM_UNAVAILABLE');
    const parsed = JSON.parse(body) as { errors: string[] };
    assert.deepEqual(Object.keys(parsed), ['errors']);
    assert.match(parsed.errors[0] ?? '', /^FT_ERR_UPSTREAM_UNAVAILABLE: .* \(request id [0-9A-F-]{36}\)$/);
  });

  it('answers 504 when Flink accepts but does not answer in time, and records the unknown outcome', async () => {
    const silent = createServer((sock) => sock.on('error', () => undefined)); // accepts, never answers
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    const dataDir = tempDir();
    const c = await makeKey(dataDir);
    const slow = await startInProcess(`http://127.0.0.1:${port}`, { gateway: { upstreamTimeoutMs: 300 } }, dataDir);
    try {
      const res = await fetch(`${slow.info.clusters['default']!.gatewayUrl}jobs/${'c'.repeat(32)}/savepoints`, { method: 'POST', headers: { authorization: basic(c), 'content-type': 'application/json' }, body: '{}' });
      assert.equal(res.status, 504);
      const body = (await res.json()) as { Code: string; RequestId: string };
      assert.equal(body.Code, 'FT_ERR_UPSTREAM_TIMEOUT');
      const events = await waitForEvents(slow.info.apiUrl, c, { eventName: 'TriggerSavepoint' }, (es) => es.some((e) => e.requestId === body.RequestId && e.additionalEventData.outcome !== 'pending'));
      const e = events.find((x) => x.requestId === body.RequestId)!;
      assert.equal(e.errorCode, 'FT_ERR_UPSTREAM_TIMEOUT');
      assert.equal(e.additionalEventData.outcome, 'unknown', 'Flink may still act on a request it did not answer');
    } finally {
      await slow.close();
      silent.close();
    }
  });

  it('pages through many events with stable tokens', async () => {
    const ids = new Set<string>();
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await lookup(ft.info.apiUrl, cred, { maxResults: '3', serviceName: 'Actiontrail', ...(token ? { nextToken: token } : {}) });
      for (const e of page.Events) {
        assert.ok(!ids.has(e.eventId), 'no duplicates across pages');
        ids.add(e.eventId);
      }
      token = page.NextToken;
      pages++;
    } while (token && pages < 100);
    assert.ok(pages > 1);
  });
});

describe('API body errors', () => {
  it('answers oversized, mistyped and malformed bodies with coded 4xx, never 500', async () => {
    const ft = await startInProcess('http://127.0.0.1:9');
    try {
      const post = (body: string | Buffer, type: string) => fetch(`${ft.info.apiUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': type }, body });
      const big = await post(Buffer.alloc(11 * 1024 * 1024, 0x61), 'application/json');
      assert.equal(big.status, 413);
      assert.equal(((await big.json()) as { Code: string }).Code, 'FT_ERR_REQUEST_TOO_LARGE');
      const typed = await post('userName=a', 'text/csv');
      assert.equal(typed.status, 415);
      assert.equal(((await typed.json()) as { Code: string }).Code, 'FT_ERR_REQUEST_UNSUPPORTED_TYPE');
      const broken = await post('{"userName": ', 'application/json');
      assert.equal(broken.status, 400);
      assert.equal(((await broken.json()) as { Code: string }).Code, 'FT_ERR_REQUEST_INVALID');
    } finally {
      await ft.close();
    }
  });
});

describe('stalled request bodies', () => {
  it('disconnects a client that stops sending half-way through a body', async () => {
    const dataDir = tempDir();
    const c = await makeKey(dataDir);
    const ft = await startInProcess('http://127.0.0.1:9', { gateway: { bodyIdleTimeoutMs: 1000 } }, dataDir);
    try {
      for (const path of [`/flink/default/jars/upload`, '/api/v1/users']) {
        const sock = connect(Number(new URL(ft.info.apiUrl).port), '127.0.0.1');
        await new Promise<void>((r) => sock.once('connect', () => r()));
        const closed = new Promise<number>((r) => sock.once('close', () => r(Date.now())));
        sock.on('error', () => undefined);
        const t0 = Date.now();
        sock.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic(c)}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"a":`);
        const at = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 5000))]);
        sock.destroy();
        assert.ok(at > 0, `${path}: the stalled connection was closed`);
        assert.ok(at - t0 >= 900 && at - t0 < 4000, `${path}: closed after ${at - t0} ms of silence`);
      }
    } finally {
      await ft.close();
    }
  });
});
