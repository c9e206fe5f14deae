import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileRedactor, REDACTED } from './redact.js';

describe('redactor', () => {
  const r = compileRedactor();
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
    assert.ok(text.includes(REDACTED));
    assert.deepEqual((out as { programArgsList: string[] }).programArgsList, ['--password', REDACTED, `--token=${REDACTED}`, '--input', 'in']);
  });
  it("keeps quotes and punctuation around a redacted k=v value", () => {
    assert.equal(r.redact("WITH ('password'='hunter2', 'x'='y')"), "WITH ('password'='******', 'x'='y')");
    assert.equal(r.redact('--token="abc";'), '--token="******";');
  });
  it('fails at start-up on an invalid rule', () => {
    assert.throws(() => compileRedactor(['(']));
  });
});
