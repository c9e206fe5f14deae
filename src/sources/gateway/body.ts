/**
 * Reading just enough of a request body to record it, without holding large bodies in memory.
 *
 * JSON bodies up to a bound are buffered (they are small: savepoint triggers, run parameters)
 * so they can be both recorded and forwarded. Multipart uploads (jars of hundreds of MB) are
 * streamed: only the first few KB are peeked to learn the part names and file names, then the
 * peeked bytes and the rest of the stream are forwarded as they come.
 */
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';

export const MAX_BUFFERED_BODY = 1024 * 1024;
const PEEK_BYTES = 8 * 1024;

export type PreparedBody =
  | { kind: 'none' }
  | { kind: 'buffered'; data: Buffer }
  | { kind: 'stream'; stream: Readable; peek: Buffer };

function readUpTo(req: IncomingMessage, limit: number): Promise<{ chunks: Buffer[]; size: number; ended: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= limit) {
        req.pause();
        cleanup();
        resolve({ chunks, size, ended: false });
      }
    };
    const onEnd = () => {
      cleanup();
      resolve({ chunks, size, ended: true });
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onClose = () => {
      if (!req.complete) {
        cleanup();
        reject(new Error('The client closed the connection before sending the whole body.'));
      }
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
    req.resume();
  });
}

/** A stream that yields `head` and then the rest of `req`. */
function rejoin(head: Buffer[], req: IncomingMessage): Readable {
  return Readable.from(
    (async function* () {
      for (const c of head) yield c;
      // Stopping early (the forward cut off, Flink answered first) must not destroy the client's
      // socket: the gateway still answers on it.
      for await (const c of req.iterator({ destroyOnReturn: false })) yield c as Buffer;
    })(),
    { objectMode: false },
  );
}

export function hasBody(req: IncomingMessage): boolean {
  const len = req.headers['content-length'];
  if (len !== undefined) return Number(len) > 0;
  return req.headers['transfer-encoding'] !== undefined;
}

/** Buffers small bodies, peeks at large and multipart ones. */
export async function prepareBody(req: IncomingMessage): Promise<PreparedBody> {
  if (!hasBody(req)) return { kind: 'none' };
  const type = (req.headers['content-type'] ?? '').toLowerCase();
  const declared = Number(req.headers['content-length'] ?? NaN);
  const small = !type.startsWith('multipart/') && (Number.isNaN(declared) || declared <= MAX_BUFFERED_BODY);
  const limit = small ? MAX_BUFFERED_BODY + 1 : PEEK_BYTES;
  const { chunks, size, ended } = await readUpTo(req, limit);
  if (ended && size <= MAX_BUFFERED_BODY) return { kind: 'buffered', data: Buffer.concat(chunks) };
  return { kind: 'stream', stream: rejoin(chunks, req), peek: Buffer.concat(chunks).subarray(0, PEEK_BYTES) };
}

/** Part names and file names from the head of a multipart body. */
export function multipartParts(head: Buffer, contentType: string): { name: string; filename?: string }[] {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  const boundary = m?.[1] ?? m?.[2];
  if (!boundary) return [];
  const text = head.toString('latin1');
  const parts: { name: string; filename?: string }[] = [];
  for (const section of text.split(`--${boundary}`)) {
    const headerEnd = section.indexOf('\r\n\r\n');
    if (headerEnd < 0) continue;
    const disp = /content-disposition:[^\r\n]*/i.exec(section.slice(0, headerEnd))?.[0] ?? '';
    const name = /\bname="([^"]*)"/i.exec(disp)?.[1];
    const filename = /\bfilename="([^"]*)"/i.exec(disp)?.[1];
    if (name !== undefined) parts.push(filename !== undefined ? { name, filename: Buffer.from(filename, 'latin1').toString('utf8') } : { name });
  }
  return parts;
}
