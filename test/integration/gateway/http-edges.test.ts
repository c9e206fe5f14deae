/**
 * The edges of HTTP bodies through the gateway, against a real Flink, with raw sockets (fetch
 * hides how a connection ends):
 *  - an early refusal while the body still arrives (413 over the 1 MiB buffer, 401 and 403 on a
 *    large upload) reaches the client whole, with `Connection: close`, and the connection then
 *    ends without the client having to send the whole body;
 *  - a body trickled under `gateway.minBodyBytesPerSecond` (each gap shorter than the idle
 *    timeout) is cut off with a coded 408 and a failed event — also when it was being streamed
 *    to Flink, which then stores nothing;
 *  - when Flink answers a broken upload before reading it all, the client gets Flink's status
 *    and message (not a 502, not a hang), and so does the event.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { ActionTrailEvent } from '../../../src/event/types.js';
import { startFlink, type FlinkCluster } from '../../helpers/flink.js';
import { basic, makeKey, startInProcess, tempDir, waitForEvents, type Credentials, type InProcess } from '../../helpers/flinktrail.js';

/** What a raw client saw: the answer as bytes arrived, how much of its body it got to send, how it ended. */
interface Exchange {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The whole answer (per its Content-Length) was read. */
  complete: boolean;
  sent: number;
  /** A socket error seen before the whole answer was read (EPIPE, ECONNRESET). */
  errorBeforeAnswer?: string;
  /** The server closed the connection (rather than the client's guard). */
  closedByServer: boolean;
}

function parse(raw: Buffer): Pick<Exchange, 'status' | 'headers' | 'body' | 'complete'> {
  const text = raw.toString('latin1');
  const split = text.indexOf('\r\n\r\n');
  if (split < 0) return { status: 0, headers: {}, body: '', complete: false };
  const [statusLine, ...lines] = text.slice(0, split).split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  const body = text.slice(split + 4);
  const length = Number(headers['content-length'] ?? NaN);
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine ?? '')?.[1] ?? 0), headers, body, complete: Buffer.byteLength(body, 'latin1') === length };
}

/**
 * Sends `head`, then up to `total` body bytes: as fast as the socket takes them, or `trickle`
 * bytes every `gapMs`. Resolves when the connection ends (the guard only against hangs).
 */
function exchange(port: number, head: string, total: number, opts: { trickle?: number; gapMs?: number; first?: Buffer; guardMs?: number } = {}): Promise<Exchange> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    let sent = 0;
    let errorBeforeAnswer: string | undefined;
    let closedByServer = true;
    let ticker: NodeJS.Timeout | undefined;
    const guard = setTimeout(() => {
      closedByServer = false;
      s.destroy();
    }, opts.guardMs ?? 120_000);
    s.on('data', (d: Buffer) => got.push(d));
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (!parse(Buffer.concat(got)).complete) errorBeforeAnswer ??= e.code ?? e.message;
    });
    s.on('close', () => {
      clearTimeout(guard);
      clearInterval(ticker);
      resolve({ ...parse(Buffer.concat(got)), sent, closedByServer, ...(errorBeforeAnswer ? { errorBeforeAnswer } : {}) });
    });
    s.write(head);
    if (opts.first) {
      s.write(opts.first);
      sent += opts.first.length;
    }
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    if (opts.trickle) {
      ticker = setInterval(() => {
        if (sent >= total || s.destroyed) return;
        s.write(chunk.subarray(0, opts.trickle));
        sent += opts.trickle ?? 0;
      }, opts.gapMs ?? 500);
      return;
    }
    const pump = () => {
      while (sent < total && !s.destroyed) {
        const n = Math.min(chunk.length, total - sent);
        sent += n;
        if (!s.write(chunk.subarray(0, n))) {
          s.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
}

describe('HTTP edges of the gateway', { timeout: 300_000 }, () => {
  let flink: FlinkCluster;
  let ft: InProcess;
  let dir: string;
  let port = 0;
  const creds: Record<string, Credentials> = {};
  const started = new Date(Date.now() - 1000).toISOString();
  const jobPath = `/jobs/${'c'.repeat(32)}/savepoints`;

  before(async () => {
    flink = await startFlink();
    dir = tempDir('ft-edges-');
    creds['alice'] = await makeKey(dir, 'alice', 'admin');
    creds['sam'] = await makeKey(dir, 'sam', 'viewer');
    // A small minimum and grace, so a trickle is cut off in seconds; the idle timeout longer
    // than every gap the trickling client leaves.
    ft = await startInProcess(flink.restUrl, { gateway: { minBodyBytesPerSecond: 2000, bodyRateGraceMs: 2000, bodyIdleTimeoutMs: 5000 } }, dir);
    port = Number(new URL(ft.info.clusters['default']!.gatewayUrl).port);
  });
  after(async () => {
    await ft?.close();
    await flink?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const headOf = (method: string, path: string, auth: string, type: string, length: number) =>
    `${method} ${path} HTTP/1.1\r\nHost: x\r\nUser-Agent: http-edges-test\r\nAuthorization: ${auth}\r\nContent-Type: ${type}\r\nContent-Length: ${length}\r\n\r\n`;

  async function eventOf(requestId: string | undefined): Promise<ActionTrailEvent> {
    assert.ok(requestId, 'the answer carries X-Request-Id');
    const events = await waitForEvents(ft.info.apiUrl, creds['alice']!, { startTime: started }, (es) => es.some((e) => e.requestId === requestId && e.additionalEventData.outcome !== 'pending'), 15_000);
    return events.find((e) => e.requestId === requestId)!;
  }

  async function jarCount(): Promise<number> {
    return ((await (await fetch(`${flink.restUrl}/jars`)).json()) as { files: unknown[] }).files.length;
  }

  /** An early refusal: read whole, coded, `Connection: close`, ended by the server before the client sent everything. */
  function assertEarlyRefusal(x: Exchange, status: number, code: string, total: number): void {
    const what = `${status} ${code}: ${JSON.stringify({ ...x, body: x.body.slice(0, 200) })}`;
    assert.equal(x.errorBeforeAnswer, undefined, what);
    assert.equal(x.status, status, what);
    assert.ok(x.complete, `the whole answer was read: ${what}`);
    assert.equal(x.headers['x-flinktrail-error-code'], code, what);
    assert.equal((JSON.parse(x.body) as { Code: string }).Code, code, what);
    assert.equal(x.headers['connection'], 'close', what);
    assert.ok(x.closedByServer, `the gateway ended the connection: ${what}`);
    assert.ok(x.sent < total, `the gateway did not read the whole ${total}-byte body (the client sent ${x.sent}): ${what}`);
  }

  it('answers 413 to a body over the 1 MiB buffer so that the client reads it, and records it', async () => {
    const total = 64 * 1024 * 1024;
    const x = await exchange(port, headOf('POST', jobPath, basic(creds['alice']!), 'application/json', total), total);
    assertEarlyRefusal(x, 413, 'FT_ERR_GATEWAY_BODY_TOO_LARGE', total);
    const e = await eventOf(x.headers['x-request-id']);
    assert.equal(e.additionalEventData.outcome, 'failure');
    assert.equal(e.errorCode, 'FT_ERR_GATEWAY_BODY_TOO_LARGE');
  });

  it('answers 401 and 403 on a large upload so that the client reads them', async () => {
    const total = 64 * 1024 * 1024;
    const type = 'multipart/form-data; boundary=B';
    const wrong = await exchange(port, headOf('POST', '/jars/upload', basic({ user: 'alice', password: 'not-the-password' }), type, total), total);
    assertEarlyRefusal(wrong, 401, 'FT_ERR_AUTH_INVALID', total);
    const viewer = await exchange(port, headOf('POST', '/jars/upload', basic(creds['sam']!), type, total), total);
    assertEarlyRefusal(viewer, 403, 'NoPermission', total);
    assert.equal((await eventOf(viewer.headers['x-request-id'])).additionalEventData.outcome, 'failure');
  });

  it('keeps the connection for the next request when the refused body had all arrived', async () => {
    const x = await exchange(port, headOf('POST', '/jars/upload', basic({ user: 'alice', password: 'nope' }), 'multipart/form-data; boundary=B', 10) + '0123456789', 0, { guardMs: 3000 });
    assert.equal(x.status, 401);
    assert.ok(x.complete);
    assert.equal(x.headers['connection'], 'keep-alive');
    assert.ok(!x.closedByServer, 'the connection stays open for the next request');
  });

  it('cuts off a JSON body trickled under the minimum rate (each gap under the idle timeout): 408, recorded', async () => {
    const total = 1000;
    const x = await exchange(port, headOf('POST', jobPath, basic(creds['alice']!), 'application/json', total), total, { first: Buffer.from('{"target-directory":"'), trickle: 1, gapMs: 1000 });
    const what = JSON.stringify({ ...x, body: x.body.slice(0, 300) });
    assert.equal(x.status, 408, what);
    assert.ok(x.complete, what);
    assert.equal(x.headers['x-flinktrail-error-code'], 'FT_ERR_GATEWAY_BODY_TOO_SLOW', what);
    assert.ok(x.closedByServer, what);
    assert.ok(x.sent < total, what);
    const e = await eventOf(x.headers['x-request-id']);
    assert.equal(e.additionalEventData.outcome, 'failure');
    assert.equal(e.additionalEventData.httpStatus, 408);
    assert.equal(e.errorCode, 'FT_ERR_GATEWAY_BODY_TOO_SLOW');
    assert.equal(e.additionalEventData['bodyCutOff'], true);
  });

  it('cuts off an upload already streaming to Flink when it slows to a trickle: Flink stores nothing, the record says so', async () => {
    const jarsBefore = await jarCount();
    const head = Buffer.from('--B\r\nContent-Disposition: form-data; name="jarfile"; filename="slow.jar"\r\nContent-Type: application/java-archive\r\n\r\n');
    // More than the gateway peeks at (8 KiB), so the upload is being forwarded when it slows.
    const first = Buffer.concat([head, Buffer.alloc(64 * 1024, 0x50)]);
    const total = 1024 * 1024;
    const x = await exchange(port, headOf('POST', '/jars/upload', basic(creds['alice']!), 'multipart/form-data; boundary=B', total), total, { first, trickle: 10, gapMs: 1000 });
    const what = JSON.stringify({ ...x, body: x.body.slice(0, 300) });
    assert.equal(x.status, 408, what);
    assert.equal(x.headers['x-flinktrail-error-code'], 'FT_ERR_GATEWAY_BODY_TOO_SLOW', what);
    assert.ok(x.closedByServer, what);
    const e = await eventOf(x.headers['x-request-id']);
    assert.equal(e.eventName, 'UploadJar');
    assert.equal(e.additionalEventData.outcome, 'failure');
    assert.equal(e.errorCode, 'FT_ERR_GATEWAY_BODY_TOO_SLOW');
    assert.equal(e.additionalEventData['bodyCutOff'], true);
    assert.equal(e.additionalEventData['forwarded'], 'partial');
    assert.equal(await jarCount(), jarsBefore, 'Flink stored no jar from the cut-off upload');
  });

  it('lets a body at a normal rate through (the demo job jar uploads)', async () => {
    const form = new FormData();
    const { readFileSync } = await import('node:fs');
    form.append('jarfile', new Blob([readFileSync(flink.jobJar)]), 'edges.jar');
    const res = await fetch(`${ft.info.clusters['default']!.gatewayUrl}jars/upload`, { method: 'POST', headers: { authorization: basic(creds['alice']!) }, body: form });
    const body = (await res.json()) as { filename?: string };
    assert.equal(res.status, 200, JSON.stringify(body));
    await fetch(`${flink.restUrl}/jars/${String(body.filename).split('/').pop()}`, { method: 'DELETE' });
  });

  it("passes on Flink's early answer to a broken upload (not a 502, not a hang), and records Flink's status and message", async () => {
    // Flink refuses a form field other than `request` as soon as it reads it, long before the file ends.
    const first = Buffer.from('--B\r\nContent-Disposition: form-data; name="foo"\r\n\r\nbar\r\n--B\r\nContent-Disposition: form-data; name="jarfile"; filename="a.jar"\r\nContent-Type: application/java-archive\r\n\r\n');
    const total = 64 * 1024 * 1024;
    const x = await exchange(port, headOf('POST', '/jars/upload', basic(creds['alice']!), 'multipart/form-data; boundary=B', total), total, { first });
    const what = JSON.stringify({ ...x, body: x.body.slice(0, 300) });
    assert.equal(x.errorBeforeAnswer, undefined, what);
    assert.equal(x.status, 400, what);
    assert.ok(x.complete, what);
    assert.deepEqual(JSON.parse(x.body), { errors: ['Received unknown attribute foo.'] }, what);
    assert.equal(x.headers['x-flinktrail-error-code'], undefined, `Flink's answer, not one of the gateway's: ${what}`);
    assert.ok(x.closedByServer, `the connection ends (the client is not left pushing a body nobody reads): ${what}`);
    assert.ok(x.sent < total, what);
    const e = await eventOf(x.headers['x-request-id']);
    assert.equal(e.eventName, 'UploadJar');
    assert.equal(e.additionalEventData.outcome, 'failure');
    assert.equal(e.additionalEventData.httpStatus, 400);
    assert.equal(e.errorCode, 'Flink.BadRequest');
    assert.match(e.errorMessage ?? '', /unknown attribute foo/);
    assert.equal(e.additionalEventData['requestBodyComplete'], false);
  });
});
