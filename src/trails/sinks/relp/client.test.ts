/**
 * The RELP client against a scripted in-process receiver (port 0): what it sends, when it
 * counts a message as done, and that every way a session can break fails the messages still
 * waiting. The real receiver (rsyslog's imrelp) is test/integration/trails/relp.test.ts.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { RelpClient, type RelpClientOptions } from './client.js';
import { encodeFrame, FrameParser, type RelpFrame } from './frame.js';

/** How the fake answers one frame: frames to write back (none: stay silent). */
type Answer = (f: RelpFrame, s: Socket) => Buffer[];

const ok: Answer = (f) => [encodeFrame(f.txnr, 'rsp', f.command === 'close' ? '' : '200 OK')];

interface Fake {
  port: number;
  received: RelpFrame[];
  /** Most frames the server had received and not yet answered at one time. */
  maxUnanswered: number;
  /** Answers every frame held back so far (see `hold`). */
  release(): void;
}

const servers: Server[] = [];
after(() => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))));

/** A receiver answering with `answer`; with `hold`, syslog frames wait until `release()`. */
async function fake(answer: Answer = ok, hold = false): Promise<Fake> {
  const received: RelpFrame[] = [];
  const held: { f: RelpFrame; s: Socket }[] = [];
  let unanswered = 0;
  const f: Fake = {
    port: 0,
    received,
    maxUnanswered: 0,
    release() {
      for (const h of held.splice(0)) {
        unanswered--;
        for (const b of answer(h.f, h.s)) h.s.write(b);
      }
    },
  };
  const server = createServer((s) => {
    const p = new FrameParser();
    s.on('error', () => undefined);
    s.on('data', (chunk: Buffer) => {
      for (const fr of p.push(chunk)) {
        received.push(fr);
        if (hold && fr.command === 'syslog') {
          held.push({ f: fr, s });
          f.maxUnanswered = Math.max(f.maxUnanswered, ++unanswered);
        } else for (const b of answer(fr, s)) s.write(b);
      }
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  f.port = (server.address() as { port: number }).port;
  return f;
}

const target = (port: number) => ({ what: 'RELP', host: '127.0.0.1', port, tls: false });
const options = (o: Partial<RelpClientOptions> = {}): RelpClientOptions => ({ window: 8, connectTimeoutMs: 2000, responseTimeoutMs: 2000, ...o });
const msgs = (n: number) => Array.from({ length: n }, (_, i) => Buffer.from(`<109>1 - - ft - - - message ${i}`));

describe('RELP client', () => {
  it('opens with its offers, sends messages in txnr order and closes politely', async () => {
    const f = await fake();
    const c = await RelpClient.open(target(f.port), options());
    await c.sendAll(msgs(3));
    await c.close();
    assert.deepEqual(
      f.received.map((r) => [r.txnr, r.command]),
      [
        [1, 'open'],
        [2, 'syslog'],
        [3, 'syslog'],
        [4, 'syslog'],
        [5, 'close'],
      ],
    );
    assert.match(f.received[0]!.data.toString(), /^relp_version=0\n.*commands=syslog$/s);
    assert.deepEqual(
      f.received.slice(1, 4).map((r) => r.data.toString()),
      msgs(3).map((m) => m.toString()),
    );
  });

  it('resolves only when every message is acknowledged, with at most `window` unacknowledged', async () => {
    const f = await fake(ok, true);
    const c = await RelpClient.open(target(f.port), options({ window: 4 }));
    let done = false;
    const sending = c.sendAll(msgs(10)).then(() => (done = true));
    for (let round = 0; round < 3; round++) {
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(done, false, 'not done before the acknowledgements');
      f.release();
    }
    await sending;
    assert.equal(f.maxUnanswered, 4, 'the window is used and never exceeded');
    assert.equal(f.received.filter((r) => r.command === 'syslog').length, 10);
    await c.close();
  });

  it('fails the batch and gives the session up when a message is refused', async () => {
    const f = await fake((fr) => [encodeFrame(fr.txnr, 'rsp', fr.command === 'syslog' && fr.txnr === 3 ? '500 message refused' : '200 OK')]);
    const c = await RelpClient.open(target(f.port), options());
    await assert.rejects(c.sendAll(msgs(4)), /500 message refused/);
    assert.equal(c.usable, false);
    await assert.rejects(c.sendAll(msgs(1)), /RELP/, 'a broken session sends nothing more');
    await c.close();
  });

  it('fails the messages still waiting when the server closes the session or the connection', async () => {
    const closing = await fake((fr, s) => (fr.command === 'open' ? ok(fr, s) : [encodeFrame(0, 'serverclose')]));
    const c1 = await RelpClient.open(target(closing.port), options());
    await assert.rejects(c1.sendAll(msgs(2)), /closed the session/);
    await c1.close();

    const dropping = await fake((fr, s) => (fr.command === 'open' ? ok(fr, s) : (s.destroy(), [])));
    const c2 = await RelpClient.open(target(dropping.port), options());
    await assert.rejects(c2.sendAll(msgs(2)), /closed/);
    await c2.close();
  });

  it('gives a silent receiver up after the response timeout', async () => {
    const f = await fake((fr, s) => (fr.command === 'open' ? ok(fr, s) : []));
    const c = await RelpClient.open(target(f.port), options({ responseTimeoutMs: 300 }));
    await assert.rejects(c.sendAll(msgs(1)), /did not answer within 300 ms/);
    await c.close();
  });

  it('refuses a server that refuses the session, and a stream that is not RELP', async () => {
    const refusing = await fake((fr) => [encodeFrame(fr.txnr, 'rsp', '500 unsupported')]);
    await assert.rejects(RelpClient.open(target(refusing.port), options()), /500 unsupported/);
    const garbage = await fake(() => [Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n')]);
    await assert.rejects(RelpClient.open(target(garbage.port), options()), /malformed RELP/);
    const unknown = await fake((fr) => [encodeFrame(fr.txnr + 1, 'rsp', '200 OK')]);
    await assert.rejects(RelpClient.open(target(unknown.port), options()), /unknown txnr/);
  });
});
