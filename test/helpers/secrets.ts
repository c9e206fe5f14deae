/** A throwaway master key ring for tests that build stores by hand. */
import { randomBytes } from 'node:crypto';
import { keyIdOf, Secrets, type MasterKey } from '../../src/secrets/index.js';

export function testKey(): MasterKey {
  const key = randomBytes(32);
  return { id: keyIdOf(key), key, source: 'test' };
}

export function testSecrets(): Secrets {
  return new Secrets(testKey());
}
