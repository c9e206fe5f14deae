import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newEvents } from '../../test/helpers/events.js';
import { compileRedactor, redactEvent, REDACTED } from './redact.js';

const r = compileRedactor();
/** Redacts `value` and asserts the secret is gone and the marker is there. */
function hides(value: unknown, secret: string): string {
  const text = JSON.stringify(r.redact(value));
  assert.ok(!text.includes(secret), `${secret} leaked: ${text}`);
  assert.ok(text.includes(REDACTED), `nothing was marked: ${text}`);
  return text;
}

describe('redactor', () => {
  it('hides secret keys in objects, Flink config lists and program arguments', () => {
    const out = r.redact({
      password: 'p1',
      nested: { 's3.secret-key': 'p2', 'fs.s3a.access.key': 'p3', harmless: 'keep' },
      flinkConfiguration: [{ key: 'sasl.jaas.config', value: 'p4' }, { key: 'parallelism', value: '2' }],
      programArgsList: ['--password', 'p5', '--token=p6', '--input', 'in'],
      programArgs: '--api-key p7 --out x',
    });
    const text = JSON.stringify(out);
    for (const s of ['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7']) assert.ok(!text.includes(`"${s}"`) && !text.includes(` ${s} `) && !text.includes(`=${s}`), `${s} leaked: ${text}`);
    assert.ok(text.includes('keep'));
    assert.deepEqual((out as { programArgsList: string[] }).programArgsList, ['--password', REDACTED, `--token=${REDACTED}`, '--input', 'in']);
    assert.equal((out as { programArgs: string }).programArgs, `--api-key ${REDACTED} --out x`);
  });

  it("keeps quotes and punctuation around a redacted k=v value", () => {
    assert.equal(r.redact("WITH ('password'='hunter2', 'x'='y')"), "WITH ('password'='******', 'x'='y')");
    assert.equal(r.redact('--token="abc";'), '--token="******";');
  });

  describe('program arguments', () => {
    it("Flink's comma-separated programArg form", () => {
      assert.equal(r.redactText('--password,pa1,--in,x'), `--password,${REDACTED},--in,x`);
      hides({ programArg: '--input,in,--db-password,pa2' }, 'pa2');
    });
    it('quoted values with spaces stay whole', () => {
      assert.equal(r.redactText('--password "a b" --in x'), `--password "${REDACTED}" --in x`);
      assert.equal(r.redactText("--password 'a b' --in x"), `--password '${REDACTED}' --in x`);
      assert.equal(r.redactText('--password="a b c" x'), `--password="${REDACTED}" x`);
    });
    it('--pass, --db-pass, -D properties, but not --bypass', () => {
      hides('--pass pa3', 'pa3');
      hides('--db-pass pa4 --x y', 'pa4');
      hides('-Dfs.azure.account.key.acct.blob.core.windows.net=pa5', 'pa5');
      assert.equal(r.redactText('--bypass-cache yes --passive on'), '--bypass-cache yes --passive on');
    });
    it('a secret flag followed by another flag hides nothing of it', () => {
      assert.deepEqual(r.redactArgs(['--token', '--in', 'x']), ['--token', '--in', 'x']);
      assert.equal(r.redactText('--token --in x'), '--token --in x');
    });
    it('a list element that is a flag and value in one', () => {
      hides({ programArgsList: ['--input', 'in', '--password=pa6'] }, 'pa6');
      hides({ programArgsList: ['--secret', 'pa7'] }, 'pa7');
    });
  });

  describe('URLs and connection strings', () => {
    it('userinfo of any scheme', () => {
      assert.equal(r.redactText('s3://AKIAX:se/cr@t@bucket/path'), `s3://AKIAX:${REDACTED}@bucket/path`);
      hides({ url: 'jdbc:postgresql://app:pw8@db:5432/x' }, 'pw8');
      hides({ savepointPath: 's3a://id:pw9@bucket/sp' }, 'pw9');
    });
    it('JDBC password parameters and Oracle user/password', () => {
      hides({ url: 'jdbc:mysql://h/db?user=u&password=pw10&ssl=true' }, 'pw10');
      hides({ url: 'jdbc:sqlserver://h;user=u;password=pw11;encrypt=true' }, 'pw11');
      assert.equal(r.redactText('jdbc:oracle:thin:scott/pw12@//h:1521/svc'), `jdbc:oracle:thin:scott/${REDACTED}@//h:1521/svc`);
    });
    it('Azure account keys, as a key and in a connection string', () => {
      hides({ 'fs.azure.account.key.acct.dfs.core.windows.net': 'pw13' }, 'pw13');
      hides('DefaultEndpointsProtocol=https;AccountName=a;AccountKey=pw14==;EndpointSuffix=core.windows.net', 'pw14');
    });
  });

  describe('bodies recorded as text', () => {
    it('JSON text (a body with a byte-order mark is not parsed)', () => {
      hides({ body: '\uFEFF{"programArgs":"--password \\"a b\\"","password":"pw15","x":1}' }, 'pw15');
      const t = hides({ body: '\uFEFF{"programArgs":"--password \\"pw16 tail\\""}' }, 'pw16');
      assert.ok(!t.includes('tail'), t);
      hides({ body: '{"flinkConfiguration": {"s3.secret-key": "pw17"}}' }, 'pw17');
    });
    it('form-encoded bodies, decoded when that is where the secret hides', () => {
      hides({ body: 'entryClass=x&password=pw18&parallelism=1' }, 'pw18');
      hides({ body: 'programArgs=--password+%22pw19+tail%22&parallelism=1' }, 'pw19');
      hides({ body: 'pass%77ord=pw20' }, 'pw20');
    });
    it('YAML-ish and header-ish text', () => {
      hides('password: pw21\nuser: x', 'pw21');
      hides('Authorization: Bearer eyJhbGciOi.pw22.sig', 'pw22');
      hides('curl/8.5 token=pw23', 'pw23');
    });
  });

  it('Kubernetes env lists hide the value of a secret-named variable', () => {
    const out = r.redact({ env: [{ name: 'DB_PASSWORD', value: 'pw24' }, { name: 'MODE', value: 'keep' }] });
    assert.deepEqual(out, { env: [{ name: 'DB_PASSWORD', value: REDACTED }, { name: 'MODE', value: 'keep' }] });
  });

  it('leaves ordinary text alone', () => {
    for (const s of ['SELECT a+b FROM t WHERE x = 1', 'https://flink:8081/jobs/abc', 'The basic idea of the job', 'key=value&parallelism=2', "INSERT INTO a SELECT 'x=y' FROM b"]) {
      assert.equal(r.redactText(s), s);
    }
    assert.deepEqual(r.redact({ key: 'parallelism', value: 4 }), { key: 'parallelism', value: 4 });
  });

  it('is idempotent', () => {
    for (const s of ['--password "a b"', "WITH ('password'='x')", 's3://a:b@c/d', 'password=x&y=1']) {
      const once = r.redactText(s);
      assert.equal(r.redactText(once), once);
    }
  });

  it('keeps referenced resources as lists of names: an AccessKey resource type is not a secret key', () => {
    const e = { ...(newEvents(1)[0] as NonNullable<ReturnType<typeof newEvents>[number]>), referencedResources: { 'ACS::Actiontrail::User': ['carol'], 'ACS::Actiontrail::AccessKey': ['FTAK6RPQVVNGTKKML5YLJBVQ'], 'ACS::RealtimeCompute::Job': ['s3://id:hunter2@bucket/job'] } };
    const out = redactEvent(r, e).referencedResources;
    assert.deepEqual(out['ACS::Actiontrail::AccessKey'], ['FTAK6RPQVVNGTKKML5YLJBVQ']);
    assert.deepEqual(out['ACS::Actiontrail::User'], ['carol']);
    // Names are still scanned by shape.
    assert.ok(Array.isArray(out['ACS::RealtimeCompute::Job']) && !JSON.stringify(out).includes('hunter2'));
  });

  it('redacts a text the same way every time it comes (remembered short texts), and long texts too', () => {
    const fresh = compileRedactor();
    for (let i = 0; i < 3; i++) {
      assert.equal(fresh.redactText('token=abc'), `token=${REDACTED}`);
      assert.equal(fresh.redactText('/jobs/abc'), '/jobs/abc');
      assert.equal(fresh.isSecretKey('x-api-key'), true);
      assert.equal(fresh.isSecretKey('cluster'), false);
      const long = `${'x'.repeat(300)} password=hunter2`;
      assert.equal(fresh.redactText(long), `${'x'.repeat(300)} password=${REDACTED}`);
    }
    // Past the remembered entries (the memory starts again) answers stay the same.
    for (let i = 0; i < 5000; i++) assert.equal(fresh.redactText(`k${i}=v`), `k${i}=v`);
    assert.equal(fresh.redactText('token=abc'), `token=${REDACTED}`);
    // Each shape needs one of = : , or a space; text with a tab is still scanned.
    assert.equal(fresh.redactText('Bearer\tabcdefgh12345'), `Bearer\t${REDACTED}`);
  });

  it('fails at start-up on an invalid rule', () => {
    assert.throws(() => compileRedactor(['(']));
  });
});
