/**
 * Who signed an RPC request: Signature V1 (HMAC-SHA1 over the parameters) or V3
 * (`Authorization: ACS3-HMAC-SHA256 …` over method, query, signed headers and body hash),
 * checked against the AccessKey's sealed secret (identity/signing-secrets.ts).
 *
 * Order of checks: the signature's own parameters are complete and well-formed; the key exists,
 * is Active and its user enabled; the timestamp is within 15 minutes of the server clock; the
 * signature matches; only then the nonce is recorded (a replay is refused), so nobody can burn
 * another caller's nonces. Every failure is an `AuthError` carrying the claimed AccessKey id, so
 * the call is recorded as a failed sign-in; the secret never appears anywhere.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { AuthError, type Principal } from '../../identity/authenticate.js';
import { memberOf, type Directory } from '../../identity/directory.js';
import type { NonceStore } from './nonces.js';
import type { RpcParams } from './params.js';
import {
  canonicalRequestV3,
  parseV3Authorization,
  sameSignature,
  sha256Hex,
  signV1,
  signV3,
  stringToSignV1,
  stringToSignV3,
  V3_ALGORITHM,
  type Pair,
} from './signature.js';

/** How far a request's timestamp may be from the server clock, either way (Alibaba Cloud: 15 minutes). */
export const MAX_SKEW_MS = 15 * 60_000;

/** The signature methods, as recorded in `additionalEventData.signatureMethod`. */
export type SignatureMethod = 'HMAC-SHA1' | typeof V3_ALGORITHM;

export interface SignedRequest {
  method: string;
  /** Decoded query pairs. */
  query: readonly Pair[];
  /** Decoded form-body pairs (V1 signs them with the query). */
  body: readonly Pair[];
  rawBody: Buffer;
  headers: IncomingHttpHeaders;
  /** Recorded as the key's last-used address. */
  sourceIp: string;
}

export interface RpcAuthDeps {
  directory: Directory;
  nonces: NonceStore;
  now?: () => number;
}

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;
const NONCE = /^[A-Za-z0-9._~-]{1,128}$/;

function header(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v.join(',') : v;
}

export function isV3(headers: IncomingHttpHeaders): boolean {
  return (header(headers, 'authorization') ?? '').startsWith(`${V3_ALGORITHM} `);
}

export async function verifyRequest(deps: RpcAuthDeps, r: SignedRequest, params: RpcParams): Promise<{ principal: Principal; method: SignatureMethod }> {
  const now = deps.now?.() ?? Date.now();
  if (isV3(r.headers)) return { principal: await verifyV3(deps, r, now), method: V3_ALGORITHM };
  if (params.get('Signature') === undefined && params.get('AccessKeyId') === undefined) {
    throw new AuthError('FT_ERR_RPC_INCOMPLETE_SIGNATURE', {}, 'no signature', 'the request is not signed: sign it with an AccessKey (Signature V1 or ACS3-HMAC-SHA256)');
  }
  return { principal: await verifyV1(deps, r, params, now), method: 'HMAC-SHA1' };
}

async function verifyV1(deps: RpcAuthDeps, r: SignedRequest, params: RpcParams, now: number): Promise<Principal> {
  const id = params.get('AccessKeyId');
  const attempted = id ? { accessKeyId: id.slice(0, 128) } : {};
  const need = (name: string): string => {
    const v = params.get(name);
    if (v === undefined || v === '') throw new AuthError('FT_ERR_RPC_INCOMPLETE_SIGNATURE', attempted, `no ${name}`, `${name} is missing`);
    return v;
  };
  const accessKeyId = need('AccessKeyId');
  const signature = need('Signature');
  if (need('SignatureMethod') !== 'HMAC-SHA1') throw new AuthError('FT_ERR_RPC_INCOMPLETE_SIGNATURE', attempted, 'signature method', 'SignatureMethod must be HMAC-SHA1');
  if (need('SignatureVersion') !== '1.0') throw new AuthError('FT_ERR_RPC_INCOMPLETE_SIGNATURE', attempted, 'signature version', 'SignatureVersion must be 1.0');
  const nonce = need('SignatureNonce');
  const timestamp = need('Timestamp');
  noSts(params.get('SecurityToken') !== undefined, attempted);
  const secret = await signingSecret(deps, accessKeyId);
  const signedAt = checkTime(timestamp, now, attempted);
  const stringToSign = stringToSignV1(r.method, [...r.query, ...r.body]);
  if (!sameSignature(signV1(secret.secret, stringToSign), signature)) {
    throw new AuthError('FT_ERR_RPC_SIGNATURE_MISMATCH', attempted, 'signature mismatch', stringToSign);
  }
  await checkNonce(deps, accessKeyId, nonce, signedAt, now, attempted);
  return secret.principal(now, r.sourceIp);
}

async function verifyV3(deps: RpcAuthDeps, r: SignedRequest, now: number): Promise<Principal> {
  const parsed = parseV3Authorization(header(r.headers, 'authorization') ?? '');
  if (!parsed || parsed instanceof Error) {
    throw new AuthError('FT_ERR_RPC_INCOMPLETE_SIGNATURE', {}, 'malformed Authorization', parsed?.message ?? 'not ACS3-HMAC-SHA256');
  }
  const attempted = { accessKeyId: parsed.accessKeyId.slice(0, 128) };
  const incomplete = (why: string) => new AuthError('FT_ERR_RPC_INCOMPLETE_SIGNATURE', attempted, why, why);
  const signed = new Set(parsed.signedHeaders);
  // Every x-acs-* header and the host are covered, so none can be changed on the way.
  for (const h of ['host', 'x-acs-action', 'x-acs-version', 'x-acs-date', 'x-acs-signature-nonce', 'x-acs-content-sha256']) {
    if (!signed.has(h)) throw incomplete(`SignedHeaders must include ${h}`);
  }
  for (const h of Object.keys(r.headers)) if (h.startsWith('x-acs-') && !signed.has(h)) throw incomplete(`header ${h} is not signed`);
  if (r.rawBody.length > 0 && !signed.has('content-type')) throw incomplete('SignedHeaders must include content-type when there is a body');
  for (const h of parsed.signedHeaders) if (header(r.headers, h) === undefined) throw incomplete(`signed header ${h} is not in the request`);
  const bodySha256 = sha256Hex(r.rawBody);
  if (header(r.headers, 'x-acs-content-sha256') !== bodySha256) throw incomplete('x-acs-content-sha256 is not the SHA-256 of the body');
  noSts(header(r.headers, 'x-acs-security-token') !== undefined, attempted);
  const nonce = header(r.headers, 'x-acs-signature-nonce') ?? '';
  const secret = await signingSecret(deps, parsed.accessKeyId);
  const signedAt = checkTime(header(r.headers, 'x-acs-date') ?? '', now, attempted);
  const stringToSign = stringToSignV3(
    canonicalRequestV3({ method: r.method, path: '/', query: r.query, headers: r.headers, signedHeaders: parsed.signedHeaders, bodySha256 }),
  );
  if (!sameSignature(signV3(secret.secret, stringToSign), parsed.signature)) {
    throw new AuthError('FT_ERR_RPC_SIGNATURE_MISMATCH', attempted, 'signature mismatch', stringToSign);
  }
  await checkNonce(deps, parsed.accessKeyId, nonce, signedAt, now, attempted);
  return secret.principal(now, r.sourceIp);
}

function noSts(present: boolean, attempted: AuthError['attempted']): void {
  if (present) throw new AuthError('FT_ERR_RPC_INVALID_PARAMETER', attempted, 'security token', 'SecurityToken', 'STS tokens are not supported; sign with an AccessKey');
}

/** The key's secret and, once the signature verified, its principal. */
async function signingSecret(deps: RpcAuthDeps, accessKeyId: string): Promise<{ secret: string; principal: (now: number, ip: string) => Principal }> {
  const attempted = { accessKeyId: accessKeyId.slice(0, 128) };
  const key = accessKeyId.length <= 128 ? await deps.directory.accessKey(accessKeyId) : undefined;
  if (!key) throw new AuthError('FT_ERR_RPC_KEY_NOT_FOUND', attempted, 'unknown key');
  const user = await deps.directory.userById(key.userId);
  if (key.status !== 'Active' || !user || user.disabled) throw new AuthError('FT_ERR_RPC_KEY_INACTIVE', attempted, key.status !== 'Active' ? 'key inactive' : 'user disabled');
  const secret = await deps.directory.signing.get(accessKeyId);
  const policies = await deps.directory.policiesOf(key.userId);
  if (secret === undefined) throw new AuthError('FT_ERR_RPC_KEY_NOT_SIGNABLE', attempted, 'key has no signing secret', accessKeyId);
  return {
    secret,
    principal: (now, ip) => {
      // Last-used tracking is best effort; it must never refuse or hold up a valid caller.
      deps.directory.touchAccessKey(accessKeyId, now, ip).catch(() => undefined);
      return {
        type: 'ram-user',
        principalId: user.id,
        userName: user.name,
        role: user.role,
        // The key's account: what its calls may see (trails, LookupEvents) is that account's.
        ...memberOf(user),
        accessKeyId,
        method: 'access-key',
        mfaAuthenticated: false,
        policies,
      };
    },
  };
}

function checkTime(value: string, now: number, attempted: AuthError['attempted']): number {
  const at = TIMESTAMP.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(at)) throw new AuthError('FT_ERR_RPC_TIMESTAMP_FORMAT', attempted, 'bad timestamp', value.slice(0, 40));
  if (Math.abs(now - at) > MAX_SKEW_MS) {
    throw new AuthError('FT_ERR_RPC_TIMESTAMP_EXPIRED', attempted, 'timestamp outside the window', value, new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z'));
  }
  return at;
}

async function checkNonce(deps: RpcAuthDeps, accessKeyId: string, nonce: string, signedAt: number, now: number, attempted: AuthError['attempted']): Promise<void> {
  if (!NONCE.test(nonce)) throw new AuthError('FT_ERR_RPC_INVALID_PARAMETER', attempted, 'bad nonce', 'SignatureNonce', '1-128 letters, digits and . _ ~ -');
  // Kept until its request's timestamp leaves the window (plus a minute of slack).
  if (!(await deps.nonces.use(accessKeyId, nonce, signedAt + MAX_SKEW_MS + 60_000, now))) throw new AuthError('FT_ERR_RPC_NONCE_USED', attempted, 'nonce reused');
}
