import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { FlinkTrailError } from '../../errors/index.js';
import { bodyFormat, parseJson, parseJsonLines, readLimited } from '../../http/body.js';
import { checkRecord } from './check.js';
import { newEvents } from '../../../test/helpers/events.js';

function stream(chunks: string[], headers: Record<string, string> = {}): IncomingMessage {
  return Object.assign(Readable.from(chunks.map((c) => Buffer.from(c))), { headers }) as unknown as IncomingMessage;
}

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return (err as FlinkTrailError).code;
  }
  return 'no error';
};

describe('ingest bodies', () => {
  it('reads up to the limit, and refuses past it by Content-Length or while streaming', async () => {
    assert.equal((await readLimited(stream(['ab', 'cd']), 4)).toString(), 'abcd');
    await assert.rejects(readLimited(stream(['ab', 'cde']), 4), (e: FlinkTrailError) => e.code === 'FT_ERR_INGEST_TOO_LARGE');
    await assert.rejects(readLimited(stream(['a'], { 'content-length': '99' }), 4), (e: FlinkTrailError) => e.code === 'FT_ERR_INGEST_TOO_LARGE');
  });
  it('takes a body that starts with a UTF-8 byte-order mark (as Windows tools write it), as JSON and as JSON lines', () => {
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    assert.deepEqual(parseJson(Buffer.concat([bom, Buffer.from('[{"a":1}]')])), [{ a: 1 }]);
    assert.deepEqual(parseJsonLines(Buffer.concat([bom, Buffer.from('{"a":1}\n{"b":2}\n')])), [
      { index: 0, value: { a: 1 } },
      { index: 1, value: { b: 2 } },
    ]);
    // Only a leading one: a mark inside the text is still not JSON.
    assert.equal(code(() => parseJson(Buffer.from('[1,\ufeff2]'))), 'FT_ERR_INGEST_INVALID_BODY');
  });
  it('picks the format from ?format, then Content-Type; refuses the rest', () => {
    assert.equal(bodyFormat('application/json; charset=utf-8', undefined, undefined), 'json');
    assert.equal(bodyFormat(undefined, undefined, undefined), 'json');
    assert.equal(bodyFormat('application/x-ndjson', undefined, undefined), 'jsonl');
    assert.equal(bodyFormat('application/json', undefined, 'jsonl'), 'jsonl');
    assert.equal(code(() => bodyFormat('text/html', undefined, undefined)), 'FT_ERR_INGEST_UNSUPPORTED_MEDIA_TYPE');
    assert.equal(code(() => bodyFormat('application/json', 'gzip', undefined)), 'FT_ERR_INGEST_UNSUPPORTED_MEDIA_TYPE');
    assert.equal(code(() => bodyFormat('application/json', undefined, ['a', 'b'])), 'FT_ERR_INGEST_UNSUPPORTED_MEDIA_TYPE');
  });
  it('parses JSON lines, numbering non-blank lines, reporting bad ones', () => {
    const lines = parseJsonLines(Buffer.from('{"a":1}\r\n\n  \n{bad\n[2]\n'));
    assert.deepEqual(lines.map((l) => ('error' in l ? [l.index, 'error'] : [l.index, l.value])), [
      [0, { a: 1 }],
      [1, 'error'],
      [2, [2]],
    ]);
  });
  it('drops __proto__ keys instead of letting them become prototypes', () => {
    const v = parseJson(Buffer.from('{"__proto__": {"polluted": true}, "a": {"__proto__": {"x": 1}}}')) as Record<string, Record<string, unknown>>;
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
    assert.equal(Object.getPrototypeOf(v), Object.prototype);
    assert.equal(Object.getPrototypeOf(v['a']), Object.prototype);
    const [line] = parseJsonLines(Buffer.from('{"__proto__": {"polluted": true}}'));
    assert.ok(line && 'value' in line && Object.getPrototypeOf(line.value) === Object.prototype);
  });
  it('never throws anything but coded errors', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const buf = Buffer.from(bytes);
        parseJsonLines(buf);
        try {
          parseJson(buf);
        } catch (err) {
          assert.ok(err instanceof FlinkTrailError && err.code === 'FT_ERR_INGEST_INVALID_BODY');
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('ingest records', () => {
  const [valid] = newEvents(1);
  it('accepts a stored-format record and refuses pending, bad times and extra fields', () => {
    assert.ok('event' in checkRecord(JSON.parse(JSON.stringify(valid)), 0));
    const pending = { ...valid!, additionalEventData: { ...valid!.additionalEventData, outcome: 'pending' } };
    assert.match(JSON.stringify(checkRecord(pending, 3)), /"index":3.*pending/);
    assert.ok('rejected' in checkRecord({ ...valid!, eventTime: '2026-13-45T99:00:00Z' }, 0));
    assert.ok('rejected' in checkRecord({ ...valid!, eventTime: '2026-01-01T00:00:00+08:00' }, 0));
    assert.ok('rejected' in checkRecord({ ...valid!, extra: 1 }, 0));
    assert.ok('rejected' in checkRecord({ ...valid!, eventId: 'x' }, 0));
  });
});
