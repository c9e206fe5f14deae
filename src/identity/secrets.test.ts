import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { hashKeySecret, newAccessKeySecret, verifyKeySecret } from './secrets.js';

describe('AccessKey secrets', () => {
  it('verify the secret they were made from, and nothing else', () => {
    const secret = newAccessKeySecret();
    const stored = hashKeySecret(secret);
    assert.equal(verifyKeySecret(secret, stored), true);
    assert.equal(verifyKeySecret(`${secret}x`, stored), false);
    assert.equal(verifyKeySecret(secret.slice(1), stored), false);
    assert.equal(verifyKeySecret(secret, stored.replace('sha256$', 'md5$')), false);
    assert.equal(verifyKeySecret(secret, 'sha256$$'), false);
  });

  it('read hashes stored as sha256(salt, then secret), as earlier versions wrote them', () => {
    const salt = 'c2FsdHNhbHRzYWx0';
    const secret = 'Zürich-ünïcode-secret';
    const digest = createHash('sha256').update(salt).update(secret).digest('base64url');
    assert.equal(verifyKeySecret(secret, `sha256$${salt}$${digest}`), true);
    assert.equal(verifyKeySecret('Zurich-unicode-secret', `sha256$${salt}$${digest}`), false);
  });
});
