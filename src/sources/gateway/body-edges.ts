/**
 * The edges of a request body: answering before it has all arrived, and clients that send it
 * too slowly.
 *
 * An early answer (a 413, a 401 on a large upload, Flink's own answer to a broken upload) goes
 * out with `Connection: close`, and the socket is then closed the way nginx's lingering close
 * does it: the write side is shut after the answer is flushed, and what the client still sends
 * is read and dropped — up to a bound in bytes and time — so that the client reads the answer
 * instead of a reset. (Closing a socket with unread bytes in it sends a TCP RST, which makes the
 * client's kernel drop the answer it had not read yet: EPIPE/ECONNRESET instead of a 413.)
 *
 * A body that arrives, on average, slower than `gateway.minBodyBytesPerSecond` once
 * `gateway.bodyRateGraceMs` have passed is cut off (Kestrel's MinRequestBodyDataRate): the idle
 * timeout alone lets a client hold a socket for ever with one byte just before each timeout.
 * Time while the gateway itself holds the body back (its buffer full: Flink or the journal is
 * slow) is not counted against the client.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { FlinkTrailError } from '../../errors/index.js';

/** What a lingering close reads and drops at most before it closes anyway. */
export const LINGER_BYTES = 16 * 1024 * 1024;
export const LINGER_MS = 5000;
const RATE_TICK_MS = 1000;

/** Whether the client is still sending a body that nobody will read to its end. */
export function bodyStillArriving(req: IncomingMessage): boolean {
  if (req.complete || req.destroyed) return false;
  // Neither a length nor chunks: the request has no body (RFC 9112 §6.3), although Node marks
  // it complete only after the request handler ran. Most gateway calls are such GETs.
  if (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined) return false;
  // Node marks a request complete a callback after its last body bytes: a body whose declared
  // length already waits unread in the buffer has arrived.
  const declared = Number(req.headers['content-length'] ?? NaN);
  return !(req.readableLength >= declared);
}

/**
 * Call before writing an answer while the body may still be arriving: the answer then says
 * `Connection: close`, and once it is flushed the socket is closed without a reset.
 */
export function closeAfterAnswer(req: IncomingMessage, res: ServerResponse): void {
  if (!bodyStillArriving(req) || res.headersSent) return;
  res.setHeader('connection', 'close');
  const socket = req.socket as Socket & { destroySoon?: () => void };
  // Node's server ends a `Connection: close` exchange with socket.destroySoon(), which destroys
  // the socket as soon as the answer is written: with the body still arriving, a reset.
  let lingering = false;
  socket.destroySoon = () => {
    if (lingering) return;
    lingering = true;
    linger(socket, req);
  };
}

function linger(socket: Socket, req: IncomingMessage): void {
  let dropped = 0;
  const close = () => {
    clearTimeout(timer);
    socket.destroy();
  };
  const timer = setTimeout(close, LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  // The answer is flushed before the FIN; reading goes on (HTTP sockets are half-open capable).
  socket.end();
  const closeWhenFlushed = () => (socket.writableFinished ? close() : socket.once('finish', close));
  if (req.complete) {
    closeWhenFlushed();
    return;
  }
  req.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > LINGER_BYTES) close();
  });
  // Nothing unread is left once the body has ended or the client has shut its side.
  req.once('end', closeWhenFlushed);
  socket.once('end', closeWhenFlushed);
  req.resume();
}

export interface BodyRate {
  minBytesPerSecond: number;
  graceMs: number;
}

/**
 * Watches the body of `req` arriving; calls `tooSlow` once (and stops) when its average rate,
 * after the grace period, is under the minimum. Returns a function that stops watching.
 */
export function watchBodyRate(req: IncomingMessage, rate: BodyRate, tooSlow: (err: FlinkTrailError) => void): () => void {
  if (rate.minBytesPerSecond <= 0 || !bodyStillArriving(req)) return () => undefined;
  const socket = req.socket;
  const startBytes = socket.bytesRead;
  let clientMs = 0;
  let last = Date.now();
  const timer = setInterval(() => {
    const now = Date.now();
    // A full buffer means the gateway is not reading: that time is not the client's.
    if (req.readableLength < req.readableHighWaterMark) clientMs += now - last;
    last = now;
    if (clientMs < rate.graceMs) return;
    const bytesPerSecond = (socket.bytesRead - startBytes) / (clientMs / 1000);
    if (bytesPerSecond >= rate.minBytesPerSecond) return;
    stop();
    tooSlow(new FlinkTrailError('FT_ERR_GATEWAY_BODY_TOO_SLOW', Math.floor(bytesPerSecond), Math.round(clientMs / 1000), rate.minBytesPerSecond));
  }, RATE_TICK_MS);
  timer.unref();
  const stop = () => {
    clearInterval(timer);
    req.off('end', stop);
    req.off('close', stop);
  };
  req.once('end', stop);
  req.once('close', stop);
  return stop;
}
