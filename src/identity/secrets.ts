/**
 * Making and checking secrets.
 *
 * AccessKey secrets are 40 random base62 characters (238 bits): a salted SHA-256 is enough to
 * store them, and it keeps per-request verification in microseconds. Passwords are low-entropy,
 * so they get argon2id (memory-hard; OWASP's first choice); scrypt hashes from before are still
 * verified. Every comparison is constant-time.
 */
import { createHash, hash, randomBytes, randomInt, scryptSync, timingSafeEqual } from 'node:crypto';
import { hash as argon2Hash, verify as argon2Verify } from '@node-rs/argon2';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function randomString(length: number, alphabet = BASE62): string {
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}

/** `FTAK` + 20 base32 characters, like ActionTrail's `LTAI…` ids: recognisable in logs. */
export function newAccessKeyId(): string {
  return `FTAK${randomString(20, BASE32)}`;
}

export function newAccessKeySecret(): string {
  return randomString(40);
}

export function hashKeySecret(secret: string): string {
  const salt = randomBytes(16).toString('base64url');
  const digest = createHash('sha256').update(salt).update(secret).digest('base64url');
  return `sha256$${salt}$${digest}`;
}

export function verifyKeySecret(secret: string, stored: string): boolean {
  const [scheme, salt, digest] = stored.split('$');
  if (scheme !== 'sha256' || !salt || !digest) return false;
  // Checked on every request with an AccessKey: the one-shot hash, not a Hash object per call.
  const actual = hash('sha256', salt + secret, 'buffer');
  const expected = Buffer.from(digest, 'base64url');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

const SCRYPT = { N: 16384, r: 8, p: 1 } as const;

/** argon2id with OWASP's parameters (19 MiB, 2 passes). */
export function hashPassword(password: string): Promise<string> {
  return argon2Hash(password, { memoryCost: 19456, timeCost: 2, parallelism: 1 });
}

/** A hash of a random password, made once: what `verifyNothing` checks against. */
let decoy: Promise<string> | undefined;

/**
 * Spends what checking a password spends, for a name with no password to check (unknown,
 * disabled, or without a password): the answer's timing then does not tell which names exist.
 */
export async function verifyNothing(password: string): Promise<void> {
  decoy ??= hashPassword(randomBytes(18).toString('base64url'));
  await verifyPassword(password, await decoy);
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  if (stored.startsWith('$argon2')) {
    try {
      return await argon2Verify(stored, password);
    } catch {
      return false;
    }
  }
  return verifyScrypt(password, stored);
}

/** Legacy scrypt hashes. */
export function hashPasswordScrypt(password: string): string {
  const salt = randomBytes(16);
  const hash = scryptSync(password, salt, 32, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

function verifyScrypt(password: string, stored: string): boolean {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !n || !r || !p || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const actual = scryptSync(password, Buffer.from(salt, 'base64url'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
  });
  return timingSafeEqual(actual, expected);
}
