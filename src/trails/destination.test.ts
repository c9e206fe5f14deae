import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isFlinkTrailError } from '../errors/index.js';
import { parseDestination, redactUrl, REDACTED } from './destination.js';

const opts = { localDir: '/data/trails' };
/** Asserts that `raw` is refused as an invalid destination. */
const refused = (raw: string, o = opts) =>
  assert.throws(() => parseDestination(raw, o), (err) => isFlinkTrailError(err) && err.code === 'FT_ERR_TRAIL_INVALID_DESTINATION', raw);

describe('kafka+ssl and kafka+sasl_ssl destinations', () => {
  it('parse TLS and SASL options, with SCRAM-SHA-512 as the default mechanism', () => {
    const ssl = parseDestination('kafka+ssl://b1:9093,b2/audit?ca=/etc/ca.pem', opts);
    assert.deepEqual([ssl.kind, ssl.kafka?.brokers, ssl.kafka?.tls, ssl.kafka?.sasl], ['kafka', ['b1:9093', 'b2:9092'], { ca: '/etc/ca.pem' }, undefined]);
    assert.equal(ssl.display, ssl.url);
    assert.deepEqual(parseDestination('kafka+ssl://b1:9093/audit', opts).kafka?.tls, {}, 'no ca: the default trust store');
    assert.equal(parseDestination('kafka://b1/audit', opts).kafka?.tls, undefined, 'kafka:// stays plaintext');

    const sasl = parseDestination('kafka+sasl_ssl://b1:9094/audit?username=alice&password=s3cret', opts);
    assert.deepEqual(sasl.kafka?.sasl, { mechanism: 'SCRAM-SHA-512', username: 'alice', password: 's3cret' });
    assert.deepEqual(sasl.kafka?.tls, {});
    for (const m of ['PLAIN', 'scram-sha-256', 'SCRAM-SHA-512']) {
      assert.equal(parseDestination(`kafka+sasl_ssl://b1/t?mechanism=${m}&username=u&password=p`, opts).kafka?.sasl?.mechanism, m.toUpperCase());
    }
  });

  it('redact an inline password wherever the destination is shown, and show a reference as it is', () => {
    const d = parseDestination('kafka+sasl_ssl://b1:9094/audit?mechanism=PLAIN&username=bob&password=Pa55%26word', opts);
    assert.ok(d.url.includes('password=Pa55%26word'), 'the stored form keeps it');
    assert.ok(!d.display.includes('Pa55'), d.display);
    assert.ok(d.display.includes(`password=${REDACTED}`), d.display);
    assert.ok(d.display.includes('username=bob'), 'the user name is no secret');
    for (const ref of ['env:KAFKA_PASSWORD', 'file:/run/secrets/kafka']) {
      const r = parseDestination(`kafka+sasl_ssl://b1/t?username=u&password=${ref}`, opts);
      assert.equal(r.kafka?.sasl?.password, ref, 'resolved by the sink, not here');
      assert.equal(r.display, r.url, 'nothing to hide: the display is the URL, so it is stored unsealed');
      assert.ok(decodeURIComponent(r.display).includes(`password=${ref}`));
    }
    // A described URL sent back keeps the stored password; without a stored match it is refused.
    assert.equal(parseDestination(d.display, { ...opts, existing: [d] }).url, d.url);
    refused(d.display);
    assert.equal(redactUrl('kafka+sasl_ssl://b/t?username=u&password=hunter2&ca=/x'), `kafka+sasl_ssl://b/t?username=u&password=${REDACTED}&ca=/x`);
  });

  it('refuse incomplete or unknown options, without echoing the password', () => {
    const bad = [
      'kafka+sasl_ssl://b1/t?username=u',
      'kafka+sasl_ssl://b1/t?password=TOPSECRET',
      'kafka+sasl_ssl://b1/t?username=u&password=TOPSECRET&mechanism=GSSAPI',
      'kafka+sasl_ssl://b1/t?username=u&password=env:1BAD',
      'kafka+sasl_ssl://b1/t?username=u&password=file:relative/path',
      'kafka+ssl://b1/t?username=u&password=TOPSECRET',
      'kafka+ssl://b1/t?ca=relative.pem',
      'kafka://b1/t?ca=/etc/ca.pem',
    ];
    for (const raw of bad) {
      try {
        parseDestination(raw, opts);
        assert.fail(`expected an error for ${raw}`);
      } catch (err) {
        assert.ok(isFlinkTrailError(err) && err.code === 'FT_ERR_TRAIL_INVALID_DESTINATION', `${raw}: ${String(err)}`);
        assert.ok(!err.message.includes('TOPSECRET'), err.message);
      }
    }
  });
});

describe('relp and relp+tls destinations', () => {
  it('parse host, port (default 2514), window and the TLS files', () => {
    const plain = parseDestination('relp://logs.example', opts);
    assert.equal(plain.kind, 'relp');
    assert.deepEqual(plain.relp, { host: 'logs.example', port: 2514, tls: false, facility: 13, appName: 'flinktrail', window: 128 });
    assert.equal(plain.url, 'relp://logs.example:2514');
    const tls = parseDestination('relp+tls://127.0.0.1:6514?ca=/ca.pem&cert=/c.pem&key=/k.pem&window=16&facility=local3&appName=ft', opts);
    assert.deepEqual(tls.relp, { host: '127.0.0.1', port: 6514, tls: true, ca: '/ca.pem', cert: '/c.pem', key: '/k.pem', window: 16, facility: 19, appName: 'ft' });
    assert.equal(tls.display, tls.url, 'file paths are no secrets');
  });

  it('refuse what they cannot use', () => {
    for (const raw of [
      'relp://h:1/path',
      'relp://h:1?ca=/ca.pem',
      'relp://h:1?cert=/c.pem&key=/k.pem',
      'relp+tls://h:1?cert=/c.pem',
      'relp+tls://h:1?cert=c.pem&key=/k.pem',
      'relp://h:1?window=0',
      'relp://h:1?window=5000',
      'relp://h:70000',
      'relp://h:1?facility=nope',
    ]) {
      refused(raw);
    }
  });
});
