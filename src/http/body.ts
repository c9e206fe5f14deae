/**
 * Bodies of the event-receiving routes (ingest API, Kubernetes audit webhook): read with a byte
 * limit, parsed as JSON or JSON lines, every problem a coded 4xx. Shared by two sources, so it
 * lives here rather than in either (sources do not import each other: docs/ARCHITECTURE.md).
 *
 * Fastify's own body parsing answers an oversized or oddly typed body with errors the API maps
 * to 500, and applies one limit to every route. These routes register in their own Fastify
 * scope a catch-all parser that only collects bytes, up to the route's limit
 * (`FT_ERR_INGEST_TOO_LARGE` as soon as the limit — or a larger Content-Length — is seen), and
 * decide about the format themselves, after authentication.
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { FlinkTrailError } from '../errors/index.js';

/** Body formats the routes accept. */
export type BodyFormat = 'json' | 'jsonl';

/**
 * Registers, in `scope` (a `register`ed child context), a parser that buffers any body up to
 * `maxBytes(req)` and hands it to the route as a Buffer.
 */
export function acceptRawBodies(scope: FastifyInstance, maxBytes: (req: FastifyRequest) => number): void {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('*', (req: FastifyRequest, payload: IncomingMessage, done: (err: Error | null, body?: Buffer) => void) => {
    readLimited(payload, maxBytes(req)).then(
      (buf) => done(null, buf),
      (err: unknown) => done(err as Error),
    );
  });
}

/** Reads a stream whole, or fails with FT_ERR_INGEST_TOO_LARGE past `max` bytes (then drains the rest). */
export function readLimited(stream: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(stream.headers['content-length']);
    if (Number.isFinite(declared) && declared > max) {
      stream.resume();
      reject(new FlinkTrailError('FT_ERR_INGEST_TOO_LARGE', max));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    stream.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > max) {
        failed = true;
        chunks.length = 0;
        // Keep reading (and discarding) so the client gets the 413 rather than a reset.
        reject(new FlinkTrailError('FT_ERR_INGEST_TOO_LARGE', max));
        return;
      }
      chunks.push(chunk);
    });
    stream.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks, size));
    });
    stream.on('error', (err) => {
      if (!failed) reject(new FlinkTrailError('FT_ERR_INGEST_INVALID_BODY', 'request', err.message));
      failed = true;
    });
  });
}

const JSON_TYPES = /^application\/(?:[a-z0-9.+-]*\+)?json$/;
const JSONL_TYPES = /^(?:application\/(?:x-ndjson|ndjson|jsonl|x-jsonlines|jsonlines|json-seq)|text\/plain)$/;

/**
 * The format of a body from its Content-Type and an explicit `?format=` (which wins).
 * Refuses compressed bodies and other media types with FT_ERR_INGEST_UNSUPPORTED_MEDIA_TYPE.
 */
export function bodyFormat(contentType: string | undefined, contentEncoding: string | undefined, format: unknown): BodyFormat {
  if (contentEncoding !== undefined && contentEncoding !== '' && contentEncoding.toLowerCase() !== 'identity') {
    throw new FlinkTrailError('FT_ERR_INGEST_UNSUPPORTED_MEDIA_TYPE', `with Content-Encoding ${contentEncoding.slice(0, 40)}`);
  }
  if (format === 'jsonl' || format === 'ndjson') return 'jsonl';
  if (format === 'json') return 'json';
  if (format !== undefined) {
    throw new FlinkTrailError('FT_ERR_INGEST_UNSUPPORTED_MEDIA_TYPE', `format=${(typeof format === 'string' ? format : JSON.stringify(format)).slice(0, 40)}`);
  }
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (type === '' || JSON_TYPES.test(type)) return 'json';
  if (JSONL_TYPES.test(type)) return 'jsonl';
  throw new FlinkTrailError('FT_ERR_INGEST_UNSUPPORTED_MEDIA_TYPE', type.slice(0, 80));
}

/** `__proto__` keys would become prototypes when copied: dropped (the check is a fast scan). */
function parse(text: string): unknown {
  return text.includes('__proto__') ? JSON.parse(text, (k, v: unknown) => (k === '__proto__' ? undefined : v)) : JSON.parse(text);
}

/**
 * The body as text, without a leading UTF-8 byte-order mark: Windows tools (PowerShell's
 * `Out-File -Encoding utf8`, Excel's CSV-to-JSON exports) write one, and JSON.parse refuses it.
 */
function textOf(body: Buffer): string {
  const text = body.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Parses a JSON body; FT_ERR_INGEST_INVALID_BODY with the parser's message if it is not JSON. */
export function parseJson(body: Buffer): unknown {
  const text = textOf(body);
  if (text.trim() === '') throw new FlinkTrailError('FT_ERR_INGEST_INVALID_BODY', 'JSON', 'the body is empty');
  try {
    return parse(text);
  } catch (err) {
    throw new FlinkTrailError('FT_ERR_INGEST_INVALID_BODY', 'JSON', (err as Error).message.slice(0, 300));
  }
}

/** One line of a JSON-lines body: its value, or why it is not JSON. */
export type JsonLine = { index: number; value: unknown } | { index: number; error: string };

/** Splits JSON lines (blank lines skipped; `index` counts non-blank lines from 0). */
export function parseJsonLines(body: Buffer): JsonLine[] {
  return [...jsonLines(body)];
}

function* jsonLines(body: Buffer): Generator<JsonLine> {
  const text = textOf(body);
  let index = 0;
  let from = 0;
  while (from <= text.length) {
    let nl = text.indexOf('\n', from);
    if (nl < 0) nl = text.length;
    const line = text.slice(from, nl).trim();
    from = nl + 1;
    if (line === '') continue;
    try {
      yield { index, value: parse(line) };
    } catch (err) {
      yield { index, error: `not JSON: ${(err as Error).message.slice(0, 200)}` };
    }
    index++;
  }
}

/** A record refused inside an otherwise accepted batch. */
export interface Rejected {
  index: number;
  code: string;
  message: string;
}
