/**
 * The request model reads queries, ids and bodies as Flink does (Netty, Java's parsers, Jackson),
 * and refuses what it cannot read the same way. Cases are the ones found against Flink 2.2.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { classify, decodeQuery, refineByBody } from '../../catalog/index.js';
import type { PreparedBody } from './body.js';
import { canonicalIds, checkRepeated, multipartHead, multipartTailGuard, readBody, readQuery, type BodyContext } from './request-model.js';

const JOB = 'ACS::RealtimeCompute::Job';
const ID = '2163f3456789abcdef0123456789abcd';

function cls(method: string, path: string, query = '') {
  const read = readQuery(query);
  assert.ok(read.ok);
  return classify({ api: 'dispatcher', method, path, query: read.value.query.search });
}

function ctx(method: string, path: string, contentType = 'application/json', maxParameterBytes = 16384): BodyContext {
  return { api: 'dispatcher', method, cls: cls(method, path), contentType, contentEncoding: undefined, maxParameterBytes };
}

const buffered = (s: string | Buffer): PreparedBody => ({ kind: 'buffered', data: Buffer.isBuffer(s) ? s : Buffer.from(s) });

describe('query strings, as Netty decodes them', () => {
  test('`;` separates parameters for Netty: the attacker\'s query reads mode=cancel first', () => {
    const q = decodeQuery('?x=;mode=cancel&mode=stop');
    assert.ok(q);
    assert.equal(q.semicolon, true);
    assert.deepEqual([...q.params], [['x', ['']], ['mode', ['cancel', 'stop']]]);
    const r = readQuery('?x=;mode=cancel&mode=stop');
    assert.ok(!r.ok);
    assert.equal(r.error.code, 'FT_ERR_GATEWAY_QUERY_AMBIGUOUS');
  });

  test('names without `=`, empty names, `+`, escapes, `#`', () => {
    const q = decodeQuery('?a&=x&b=1+2&c=%41%zz'.replace('%zz', '%42') + '#frag&d=1');
    assert.ok(q);
    // Netty skips a leading `=`: `=x` is the name `x`.
    assert.deepEqual(Object.fromEntries(q.params), { a: [''], x: [''], b: ['1 2'], c: ['AB'] });
    assert.equal(decodeQuery('?a=%zz'), null);
    assert.ok(!readQuery('?a=%zz').ok);
  });

  test('more than 1024 parameters (Netty drops the rest) are refused', () => {
    const many = '?' + Array.from({ length: 1025 }, (_, i) => `p${i}=1`).join('&');
    const r = readQuery(many);
    assert.ok(!r.ok);
    assert.ok(readQuery('?' + Array.from({ length: 1024 }, (_, i) => `p${i}=1`).join('&')).ok);
  });

  test('a repeated parameter is refused on writes, allowed on reads (metric lists)', () => {
    const r = readQuery('?mode=cancel&mode=stop');
    assert.ok(r.ok);
    assert.equal(checkRepeated(cls('PATCH', `/jobs/${ID}`, '?mode=cancel&mode=stop'), r.value.repeated)?.code, 'FT_ERR_GATEWAY_QUERY_AMBIGUOUS');
    const m = readQuery('?get=a&get=b');
    assert.ok(m.ok);
    assert.equal(checkRepeated(cls('GET', `/jobs/${ID}/metrics`, '?get=a&get=b'), m.value.repeated), undefined);
    assert.deepEqual(m.value.query.recorded, { get: ['a', 'b'] });
  });

  test('the catalog reads the same first value as Flink', () => {
    assert.equal(cls('PATCH', `/jobs/${ID}`, '?mode=STOP').eventName, 'StopJob');
    assert.equal(cls('GET', `/jobs/${ID}/yarn-stop`, '?mode=cancel').eventName, 'CancelJob');
  });
});

describe('ids, in their one canonical spelling', () => {
  const refusedFor = (path: string) => {
    const r = canonicalIds(classify({ api: 'dispatcher', method: 'PATCH', path, query: new URLSearchParams() }));
    return r.ok ? undefined : r.error.code;
  };

  test('signs, fullwidth digits, a 33rd character and short ids are refused', () => {
    for (const bad of [`2163-d456789abcdef0123456789abcd`, `%EF%BC%92163f3456789abcdef0123456789abcd`.replace('%EF%BC%92', '\uff12'), `${ID}0`, ID.slice(1)]) {
      assert.equal(refusedFor(`/jobs/${bad}`), 'FT_ERR_GATEWAY_ID_NOT_CANONICAL', bad);
    }
  });

  test('upper case is the same id, recorded in lower case', () => {
    const r = canonicalIds(classify({ api: 'dispatcher', method: 'PATCH', path: `/jobs/${ID.toUpperCase()}`, query: new URLSearchParams() }));
    assert.ok(r.ok);
    assert.equal(r.value.params['jobid'], ID);
    assert.deepEqual(r.value.resources[JOB], [ID]);
  });

  test('numeric ids are plain ASCII digits; handles are plain UUIDs', () => {
    const cp = (n: string) => canonicalIds(classify({ api: 'dispatcher', method: 'GET', path: `/jobs/${ID}/checkpoints/details/${n}`, query: new URLSearchParams() })).ok;
    assert.equal(cp('12'), true);
    assert.equal(cp('+12'), false);
    assert.equal(cp('\uff11\uff12'), false);
    const sess = (h: string) => canonicalIds(classify({ api: 'sql_gateway', method: 'GET', path: `/sessions/${h}`, query: new URLSearchParams() })).ok;
    assert.equal(sess('0f7c4e2a-1b3d-4e5f-8a9b-0c1d2e3f4a5b'), true);
    assert.equal(sess('1-1-1-1-1'), false);
  });

  test('unknown endpoints keep their segments', () => {
    assert.ok(canonicalIds(classify({ api: 'dispatcher', method: 'GET', path: '/nope/x', query: new URLSearchParams() })).ok);
  });
});

describe('bodies, as Flink reads them', () => {
  const savepoint = ctx('POST', `/jobs/${ID}/savepoints`);

  test('a padded cancel-job body is parsed whole and its deciding fields recorded', () => {
    const r = readBody(buffered(JSON.stringify({ 'cancel-job': true, 'target-directory': '/sp' }) + ' '.repeat(17_000)), { ...savepoint, maxParameterBytes: 256 });
    assert.ok(r.ok);
    assert.equal(r.value.object?.['cancel-job'], true);
    assert.equal(r.value.recorded['cancel-job'], true);
    assert.equal(r.value.recorded['target-directory'], '/sp');
    assert.equal(refineByBody(savepoint.cls, 'dispatcher', 'POST', r.value.object ?? {}).eventName, 'CancelJobWithSavepoint');
  });

  test('large bodies keep the deciding fields and say they were truncated', () => {
    const args = Array.from({ length: 3000 }, (_, i) => `--arg-${i}`);
    const r = readBody(buffered(JSON.stringify({ programArgsList: args, other: 'x'.repeat(20_000) })), ctx('POST', '/jars/x.jar/run'));
    assert.ok(r.ok);
    assert.deepEqual(r.value.recorded['programArgsList'], args);
    assert.equal(r.value.recorded['truncated'], true);
    assert.equal(r.value.recorded['other'], undefined);
  });

  test('cancel-job as Jackson reads it: "true" and 1 cancel, false, "false", 0 and null do not', () => {
    for (const [value, cancels] of [[true, true], ['true', true], [1, true], ['yes', true], [false, false], ['false', false], [0, false], [null, false]] as const) {
      assert.equal(refineByBody(savepoint.cls, 'dispatcher', 'POST', { 'cancel-job': value }).eventName, cancels ? 'CancelJobWithSavepoint' : 'TriggerSavepoint', String(value));
    }
    assert.equal(refineByBody(cls('POST', `/jobs/${ID}/checkpoints`), 'dispatcher', 'POST', { 'cancel-job': true }).eventName, 'TriggerCheckpoint');
  });

  test('a UTF-8 BOM is allowed; form-encoded JSON is read as JSON; an empty body is {}', () => {
    const bom = readBody(buffered(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"cancel-job":true}')])), savepoint);
    assert.ok(bom.ok && bom.value.object?.['cancel-job'] === true);
    const form = readBody(buffered('{"drain":true}'), ctx('POST', `/jobs/${ID}/stop`, 'application/x-www-form-urlencoded'));
    assert.ok(form.ok && form.value.recorded['drain'] === true);
    const empty = readBody(buffered(''), savepoint);
    assert.ok(empty.ok);
  });

  test('what the gateway cannot read as Flink does is refused on writes', () => {
    const code = (body: PreparedBody, c: BodyContext) => {
      const r = readBody(body, c);
      return r.ok ? 'ok' : r.error.code;
    };
    assert.equal(code(buffered('{"cancel-job":false} {"cancel-job":true}'), savepoint), 'FT_ERR_GATEWAY_BODY_UNREADABLE');
    assert.equal(code(buffered('cancel-job=true'), ctx('POST', `/jobs/${ID}/savepoints`, 'application/x-www-form-urlencoded')), 'FT_ERR_GATEWAY_BODY_UNREADABLE');
    assert.equal(code(buffered('[]'), savepoint), 'FT_ERR_GATEWAY_BODY_UNREADABLE');
    assert.equal(code(buffered(Buffer.from('{"cancel-job":true}', 'utf16le')), savepoint), 'FT_ERR_GATEWAY_BODY_UNREADABLE');
    assert.equal(code(buffered('{}'), ctx('POST', `/jobs/${ID}/savepoints`, 'text/plain')), 'FT_ERR_GATEWAY_BODY_TYPE');
    assert.equal(code(buffered('{}'), { ...savepoint, contentEncoding: 'gzip' }), 'FT_ERR_GATEWAY_BODY_TYPE');
    assert.equal(code({ kind: 'stream', stream: null as never, peek: Buffer.alloc(0) }, savepoint), 'FT_ERR_GATEWAY_BODY_TOO_LARGE');
    assert.equal(code(buffered('--b\r\n'), ctx('POST', `/jobs/${ID}/savepoints`, 'multipart/form-data; boundary=b')), 'FT_ERR_GATEWAY_BODY_TYPE');
    // Reads keep the old leniency: a body Flink ignores is recorded as text.
    assert.equal(code(buffered('not json'), ctx('GET', '/jobs/overview')), 'ok');
  });
});

describe('multipart, as FileUploadHandler reads it', () => {
  const part = (headers: string, content: string) => `--XyZ\r\n${headers}\r\n\r\n${content}\r\n`;
  const type = 'multipart/form-data; boundary=XyZ';

  test('the `request` attribute is read whole, quoted or not, and recorded', () => {
    const body = part('Content-Disposition: form-data; name=request', '{"jobGraphFileName":"g.bin"}') + part('Content-Disposition: form-data; name="file_0"; filename="g.bin"', 'BIN') + '--XyZ--\r\n';
    const head = multipartHead(Buffer.from(body), type, true);
    assert.equal(head.problem, undefined);
    assert.deepEqual(head.parts, [{ name: 'request' }, { name: 'file_0', filename: 'g.bin' }]);
    assert.equal(head.request?.toString(), '{"jobGraphFileName":"g.bin"}');
    const r = readBody({ kind: 'buffered', data: Buffer.from(body) }, ctx('POST', '/jobs', type));
    assert.ok(r.ok);
    assert.deepEqual(r.value.recorded['request'], { jobGraphFileName: 'g.bin' });
  });

  test('a repeated, cut-off or headerless `request` part is a problem', () => {
    const twice = part('Content-Disposition: form-data; name="request"', '{}') + part('Content-Disposition: form-data; name="request"', '{}') + '--XyZ--';
    assert.match(multipartHead(Buffer.from(twice), type, true).problem ?? '', /more than once/);
    const cut = part('Content-Disposition: form-data; name="request"', '{"a":1').slice(0, -2);
    assert.match(multipartHead(Buffer.from(cut), type, false).problem ?? '', /not whole/);
    assert.match(multipartHead(Buffer.from('--XyZ\r\nContent-Disposition: form-data; name="request"'), type, true).problem ?? '', /header end/);
    assert.match(multipartHead(Buffer.from('x'), 'multipart/form-data', true).problem ?? '', /boundary/);
  });

  test('uploads: a file part of any name is the jar, a `request` part before it is the (empty) JSON body', () => {
    // FileUploadHandler keeps every part with a file name whatever the part is called, and
    // JarUploadHandler takes the one file: Flink stores the jar, and the gateway records it.
    const jar = 'PK\u0003\u0004' + 'J'.repeat(20_000);
    const upload = ctx('POST', '/jars/upload', type);
    const streamed = (body: string): PreparedBody => ({ kind: 'stream', stream: null as never, peek: Buffer.from(body, 'latin1').subarray(0, 8192) });
    const other = part('Content-Disposition: form-data; name="other"; filename="a.jar"', jar) + '--XyZ--\r\n';
    const r1 = readBody(streamed(other), upload);
    assert.ok(r1.ok);
    assert.deepEqual(r1.value.recorded, { multipart: [{ name: 'other', filename: 'a.jar' }] });
    assert.deepEqual(r1.value.guardTail, { requestParts: 0 });
    const first = part('Content-Disposition: form-data; name="request"', '{}') + part('Content-Disposition: form-data; name="jarfile"; filename="a.jar"', jar) + '--XyZ--\r\n';
    const r2 = readBody(streamed(first), upload);
    assert.ok(r2.ok);
    assert.deepEqual(r2.value.recorded, { multipart: [{ name: 'request' }, { name: 'jarfile', filename: 'a.jar' }], request: {} });
    assert.deepEqual(r2.value.object, {});
    assert.deepEqual(r2.value.guardTail, { requestParts: 1 }, 'the request part the peek read is not refused again at the tail');
    assert.equal(classify({ api: 'dispatcher', method: 'POST', path: '/jars/upload', query: new URLSearchParams() }).eventName, 'UploadJar');
  });

  test('LF-only part headers are read too (Netty accepts them)', () => {
    const body = '--XyZ\nContent-Disposition: form-data; name="request"\n\n{"a":1}\n--XyZ--\n';
    assert.equal(multipartHead(Buffer.from(body), type, true).request?.toString(), '{"a":1}');
  });
});

describe('the tail of a streamed upload', () => {
  const run = async (chunks: string[], seen: number) => {
    let refusal: string | undefined;
    const guard = multipartTailGuard('multipart/form-data; boundary=XyZ', seen, (err) => (refusal = err.code));
    const out: Buffer[] = [];
    guard.on('data', (c: Buffer) => out.push(c));
    const done = new Promise<void>((resolve) => {
      guard.on('end', resolve);
      guard.on('error', () => resolve());
    });
    for (const c of chunks) guard.write(Buffer.from(c, 'latin1'));
    guard.end();
    await done;
    return refusal;
  };

  test('a `request` part after a large file is refused, even split across chunks', async () => {
    const file = '--XyZ\r\nContent-Disposition: form-data; name="jarfile"; filename="a.jar"\r\n\r\n' + 'P'.repeat(20_000);
    const tail = '\r\n--XyZ\r\nContent-Disposition: form-data; name=request\r\n\r\n{"cancel-job":true}\r\n--XyZ--\r\n';
    assert.equal(await run([file, tail.slice(0, 9), tail.slice(9, 40), tail.slice(40)], 0), 'FT_ERR_GATEWAY_BODY_UNREADABLE');
    assert.equal(await run([file + '\r\n--XyZ--\r\n'], 0), undefined, 'a plain upload passes');
    // The request part the peek held (and recorded) is not counted twice.
    const head = '--XyZ\r\nContent-Disposition: form-data; name="request"\r\n\r\n{}\r\n';
    assert.equal(await run([head, file, '\r\n--XyZ--\r\n'], 1), undefined);
  });
});
