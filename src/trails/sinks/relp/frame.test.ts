import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { encodeFrame, FrameParser, parseRsp } from './frame.js';

describe('RELP frames', () => {
  it('encode TXNR SP COMMAND SP DATALEN [SP DATA] LF, with DATALEN in bytes', () => {
    assert.equal(encodeFrame(1, 'open', 'relp_version=0').toString(), '1 open 14 relp_version=0\n');
    assert.equal(encodeFrame(7, 'close').toString(), '7 close 0\n', 'no SP DATA when there is none');
    assert.equal(encodeFrame(2, 'syslog', 'é').toString(), '2 syslog 2 é\n', 'UTF-8 bytes, not characters');
  });

  it('parse frames split anywhere, and several in one chunk', () => {
    const stream = Buffer.concat([encodeFrame(1, 'rsp', '200 OK\nrelp_version=0'), encodeFrame(2, 'rsp', '200 OK'), encodeFrame(0, 'serverclose')]);
    for (let cut = 0; cut <= stream.length; cut++) {
      const p = new FrameParser();
      const frames = [...p.push(stream.subarray(0, cut)), ...p.push(stream.subarray(cut))];
      assert.deepEqual(
        frames.map((f) => [f.txnr, f.command, f.data.toString()]),
        [
          [1, 'rsp', '200 OK\nrelp_version=0'],
          [2, 'rsp', '200 OK'],
          [0, 'serverclose', ''],
        ],
        `cut at ${cut}`,
      );
    }
  });

  it('round-trip any data, byte by byte', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 999_999_999 }), fc.uint8Array({ maxLength: 300 }), (txnr, bytes) => {
        const p = new FrameParser();
        const frames = [...encodeFrame(txnr, 'syslog', Buffer.from(bytes))].flatMap((b) => p.push(Buffer.from([b])));
        assert.equal(frames.length, 1);
        assert.equal(frames[0]?.txnr, txnr);
        assert.deepEqual([...(frames[0]?.data ?? [])], [...bytes]);
      }),
      { numRuns: 100 },
    );
  });

  it('throw on a malformed stream instead of waiting for more', () => {
    for (const bad of ['x rsp 3 abc\n', '1 RSP 0\n', '1 rsp\n', '1 rsp 3 abcX', '1 rsp 3Xabc\n', `1 rsp ${'9'.repeat(9)} `, `${'1'.repeat(70)}`]) {
      assert.throws(() => new FrameParser().push(Buffer.from(bad)), /RELP/, JSON.stringify(bad));
    }
  });

  it('read the code and text of a response', () => {
    assert.deepEqual(parseRsp(Buffer.from('200 OK\nrelp_version=0\ncommands=syslog')), { code: 200, text: 'OK' });
    assert.deepEqual(parseRsp(Buffer.from('500 message too long')), { code: 500, text: 'message too long' });
    assert.deepEqual(parseRsp(Buffer.from('200')), { code: 200, text: '' });
    assert.throws(() => parseRsp(Buffer.from('OK')), /malformed RELP response/);
  });
});
