import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isValidName, nameProblem, namePatternBody, NAME_RULES } from './names.js';

describe('naming rule for identifiers in paths, keys and file names', () => {
  it('accepts real region ids, account ids and cluster names', () => {
    for (const r of ['cn-hangzhou', 'us-east-1', 'ap-southeast-1', 'local', 'eu-central-1']) assert.ok(isValidName('region', r), r);
    for (const a of ['1', '1000000000000001', '12345678901234567890']) assert.ok(isValidName('accountId', a), a);
    for (const c of ['default', 'prod_eu-1', '0cluster']) assert.ok(isValidName('cluster', c), c);
  });

  it('refuses anything that could escape a path or break a file name', () => {
    for (const r of ['..', '.', 'a/b', 'a\\b', 'CN-Hangzhou', 'cn_hangzhou', '', 'x', '-a', '1region', 'a'.repeat(42), 'cn-hangzhou\n', ' local']) {
      assert.ok(!isValidName('region', r), JSON.stringify(r));
    }
    for (const a of ['', 'abc', '1'.repeat(21), '-1', '1.0']) assert.ok(!isValidName('accountId', a), a);
    for (const c of ['', '..', 'A', 'a/b', '_a', 'a'.repeat(64)]) assert.ok(!isValidName('cluster', c), c);
    assert.ok(!isValidName('region', 42));
  });

  it('explains a refusal, and embeds in larger patterns', () => {
    assert.match(nameProblem('region', '..') ?? '', /"\.\." is not a valid region: expected a lowercase letter/);
    assert.equal(nameProblem('region', 'local'), undefined);
    assert.ok(new RegExp(`^x_(${namePatternBody('region')})_y$`).test('x_cn-hangzhou_y'));
    assert.equal(`^${namePatternBody('cluster')}$`, NAME_RULES.cluster.pattern);
  });
});
