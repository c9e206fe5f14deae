import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sourceIpResolver } from './source-ip.js';

describe('source IP', () => {
  it('is the TCP peer unless the peer is a trusted proxy', () => {
    const resolve = sourceIpResolver(['10.0.0.0/8', '::1']);
    assert.equal(resolve('::ffff:192.168.1.5', '1.2.3.4'), '192.168.1.5');
    assert.equal(resolve('10.1.2.3', '1.2.3.4, 10.9.9.9'), '1.2.3.4');
    assert.equal(resolve('::1', '203.0.113.7'), '203.0.113.7');
    assert.equal(resolve('10.1.2.3', 'not-an-ip'), '10.1.2.3');
    assert.equal(sourceIpResolver([])('127.0.0.1', '6.6.6.6'), '127.0.0.1');
  });
  it('refuses invalid CIDRs', () => {
    assert.throws(() => sourceIpResolver(['10.0.0.0/33']));
    assert.throws(() => sourceIpResolver(['nonsense']));
  });
});
