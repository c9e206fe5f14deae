import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { poolConfig, redactSecrets, redactUrl } from './url.js';

describe('PostgreSQL URL redaction', () => {
  it('replaces the password of the userinfo and of a password parameter', () => {
    assert.equal(redactUrl('postgres://ft:s3cr%40t@db:5432/flinktrail'), 'postgres://ft:***@db:5432/flinktrail');
    assert.equal(redactUrl('postgresql://ft@db/flinktrail?sslmode=require&password=abc&x=1'), 'postgresql://ft@db/flinktrail?sslmode=require&password=***&x=1');
    assert.equal(redactUrl('postgres://postgres@/flinktrail?host=/tmp/pg'), 'postgres://postgres@/flinktrail?host=/tmp/pg');
  });

  it('scrubs the URL and its decoded password from any text', () => {
    const url = 'postgres://ft:p%40ss-word@db/flinktrail';
    const text = `connect ${url} failed; password "p@ss-word" rejected`;
    const out = redactSecrets(text, url);
    assert.doesNotMatch(out, /p%40ss-word|p@ss-word/);
    assert.match(out, /postgres:\/\/ft:\*\*\*@db\/flinktrail/);
  });

  it('makes every connection use custom plans and the given schema', () => {
    const c = poolConfig('postgres://ft@db/x', { schema: 'ft_test_1', max: 3 });
    assert.equal(c.max, 3);
    assert.match(String(c.options), /plan_cache_mode=force_custom_plan/);
    assert.match(String(c.options), /search_path=ft_test_1/);
  });
});
