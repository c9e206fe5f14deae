/**
 * Alibaba Cloud's request signatures, computed the way the server must recompute them.
 *
 * - **V1** (`SignatureMethod=HMAC-SHA1`, pop-core and `signatureAlgorithm: 'v2'` clients): every
 *   query and form-body parameter except `Signature`, decoded, re-encoded with RFC 3986 rules,
 *   sorted by name; `StringToSign = METHOD&%2F&enc(canonical)`, key `secret + "&"`, Base64.
 * - **V3** (`ACS3-HMAC-SHA256`, the default of current SDKs): a canonical request of method,
 *   path, sorted query, the headers named in `SignedHeaders` (never a fixed list: clients add
 *   `x-acs-credentials-provider`), and the body's SHA-256; hex HMAC-SHA256 with the secret.
 *
 * Parameters are always re-encoded from decoded values, never taken from the wire string: tea's
 * `querystring.stringify` leaves `*!()` raw where pop-core escapes them, and both must verify.
 * Pure functions, no I/O; the vectors in signature.test.ts come from captured SDK requests.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** A decoded name/value pair, in arrival order (duplicates are the caller's to refuse). */
export type Pair = readonly [name: string, value: string];

/** RFC 3986 percent-encoding as POP uses it: encodeURIComponent plus `!'()*`; space is %20, `~` kept. */
export function percentEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

const byName = (a: Pair, b: Pair): number => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

/** `enc(k)=enc(v)` joined by `&`, sorted by name (UTF-16 order, as the SDKs' `sort()`). */
export function canonicalQuery(pairs: readonly Pair[]): string {
  return [...pairs]
    .sort(byName)
    .map(([k, v]) => `${percentEncode(k)}=${percentEncode(v)}`)
    .join('&');
}

/** V1's string to sign over every parameter but `Signature`. */
export function stringToSignV1(method: string, pairs: readonly Pair[]): string {
  return `${method.toUpperCase()}&${percentEncode('/')}&${percentEncode(canonicalQuery(pairs.filter(([k]) => k !== 'Signature')))}`;
}

export function signV1(secret: string, stringToSign: string): string {
  return createHmac('sha1', `${secret}&`).update(stringToSign, 'utf8').digest('base64');
}

export const V3_ALGORITHM = 'ACS3-HMAC-SHA256';

export interface V3Authorization {
  accessKeyId: string;
  /** Lower-cased header names, as listed by the client. */
  signedHeaders: string[];
  signature: string;
}

/**
 * Parses `ACS3-HMAC-SHA256 Credential=<id>,SignedHeaders=<a;b>,Signature=<hex>`; undefined when
 * the header is not of this scheme, an Error naming the problem when it is but is malformed.
 */
export function parseV3Authorization(header: string): V3Authorization | Error | undefined {
  if (!header.startsWith(`${V3_ALGORITHM} `)) return undefined;
  const fields = new Map<string, string>();
  for (const part of header.slice(V3_ALGORITHM.length + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return new Error(`the Authorization field '${part.trim().slice(0, 40)}' is not name=value`);
    fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const accessKeyId = fields.get('Credential');
  const signed = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (!accessKeyId || !signed || !signature) return new Error('Authorization needs Credential, SignedHeaders and Signature');
  if (!/^[0-9a-f]{64}$/i.test(signature)) return new Error('Signature must be 64 hex digits');
  const signedHeaders = signed.split(';').map((h) => h.trim().toLowerCase());
  if (signedHeaders.some((h) => !/^[a-z0-9-]{1,64}$/.test(h)) || signedHeaders.length > 32) return new Error('SignedHeaders must be a ;-separated list of header names');
  return { accessKeyId, signedHeaders, signature: signature.toLowerCase() };
}

export const sha256Hex = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

export interface V3Request {
  method: string;
  /** The path, `/` for RPC. */
  path: string;
  query: readonly Pair[];
  /** Header value by lower-cased name (node's IncomingMessage.headers). */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  signedHeaders: readonly string[];
  /** Hex SHA-256 of the exact body bytes. */
  bodySha256: string;
}

export function canonicalRequestV3(r: V3Request): string {
  const headerLines = r.signedHeaders.map((h) => {
    const v = r.headers[h];
    return `${h}:${(Array.isArray(v) ? v.join(',') : (v ?? '')).trim()}\n`;
  });
  return [r.method.toUpperCase(), r.path, canonicalQuery(r.query), headerLines.join(''), r.signedHeaders.join(';'), r.bodySha256].join('\n');
}

export function stringToSignV3(canonicalRequest: string): string {
  return `${V3_ALGORITHM}\n${sha256Hex(canonicalRequest)}`;
}

export function signV3(secret: string, stringToSign: string): string {
  return createHmac('sha256', secret).update(stringToSign, 'utf8').digest('hex');
}

/** Constant-time comparison of two signatures (in their transport encoding). */
export function sameSignature(expected: string, given: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}
