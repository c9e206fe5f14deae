/**
 * Digest files: CloudTrail's model, improved for offline validation.
 *
 * Every interval, per trail, destination and region, one digest lists each log file delivered
 * in that interval (its key, SHA-256 of the stored bytes, size, event count, oldest and newest
 * event time) and links to the previous digest by key, SHA-256 and signature — a chain.
 *
 * The stored object is gzip of two lines:
 *
 *     {"digestVersion":1,"trailName":…,"digestStartTime":…,"logFiles":[…],…}   ← the body
 *     {"signature":"<hex Ed25519 signature of the body line's bytes>"}
 *
 * Unlike CloudTrail (signature in S3 object metadata, lost on download), the signature travels
 * with the file, so a downloaded copy validates offline. The body names its own key and its
 * signing key's fingerprint, so a digest moved, renamed or re-signed with another key fails.
 */
import { sign, verify, type KeyObject } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';

export interface DigestLogFile {
  object: string;
  hashValue: string;
  hashAlgorithm: 'SHA-256';
  size: number;
  eventCount: number;
  oldestEventTime: string;
  newestEventTime: string;
}

export interface DigestBody {
  digestVersion: 1;
  trailName: string;
  accountId: string;
  region: string;
  /** The destination, credentials redacted. */
  destination: string;
  digestStartTime: string;
  digestEndTime: string;
  digestObject: string;
  /** When the digest was signed (the signing key must have been valid then). */
  signedAt: string;
  /** The interval in seconds (the next digest, while logging, ends one interval later). */
  digestInterval: number;
  publicKeyFingerprint: string;
  signatureAlgorithm: 'Ed25519';
  previousDigestObject: string | null;
  previousDigestHashValue: string | null;
  previousDigestHashAlgorithm: 'SHA-256';
  previousDigestSignature: string | null;
  oldestEventTime: string | null;
  newestEventTime: string | null;
  logFiles: DigestLogFile[];
}

export interface SignedDigest {
  body: DigestBody;
  signature: string;
  /** The exact bytes that were signed (line 1). */
  signed: Buffer;
}

export function writeDigest(body: DigestBody, privateKey: KeyObject): { bytes: Buffer; signature: string } {
  const line = Buffer.from(JSON.stringify(body), 'utf8');
  const signature = sign(null, line, privateKey).toString('hex');
  const bytes = gzipSync(Buffer.concat([line, Buffer.from(`\n${JSON.stringify({ signature })}\n`, 'utf8')]));
  return { bytes, signature };
}

/** Parses a stored digest; throws with a reason when it is not a well-formed digest. */
export function readDigest(bytes: Buffer): SignedDigest {
  const text = gunzipSync(bytes);
  const nl = text.indexOf(0x0a);
  if (nl < 0) throw new Error('no signature line');
  const signed = text.subarray(0, nl);
  const body = JSON.parse(signed.toString('utf8')) as DigestBody;
  const sigLine = JSON.parse(text.subarray(nl + 1).toString('utf8').trim()) as { signature?: unknown };
  if (typeof sigLine.signature !== 'string' || !/^[0-9a-f]{128}$/.test(sigLine.signature)) throw new Error('malformed signature');
  if (body.digestVersion !== 1 || !Array.isArray(body.logFiles)) throw new Error('not a version 1 digest');
  return { body, signature: sigLine.signature, signed };
}

export function verifyDigest(d: SignedDigest, publicKey: KeyObject): boolean {
  try {
    return verify(null, d.signed, publicKey, Buffer.from(d.signature, 'hex'));
  } catch {
    return false;
  }
}
