/**
 * RELP frames (Rainer Gerhards' "RELP - the Reliable Event Logging Protocol", as implemented by
 * librelp / rsyslog's imrelp):
 *
 *     FRAME   = TXNR SP COMMAND SP DATALEN [SP DATA] LF      ; no SP DATA when DATALEN is 0
 *     TXNR    = 1..999999999, one per command, echoed by the server's `rsp`
 *     COMMAND = open | syslog | close | rsp | serverclose
 *     rsp DATA = CODE [SP TEXT] [LF more]                    ; 200 = done, 500 = failed
 *
 * Encoding is one function; parsing is incremental because TCP delivers arbitrary pieces.
 */

export interface RelpFrame {
  txnr: number;
  command: string;
  data: Buffer;
}

export const MAX_TXNR = 999_999_999;
/** Bigger frames are a protocol error (the server would not send a response that large). */
const MAX_DATALEN = 128 * 1024 * 1024;

export function encodeFrame(txnr: number, command: string, data: Buffer | string = Buffer.alloc(0)): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const head = Buffer.from(body.length ? `${txnr} ${command} ${body.length} ` : `${txnr} ${command} 0`, 'ascii');
  return Buffer.concat([head, body, Buffer.from('\n')]);
}

/** The response code (200, 500, …) and text of an `rsp` frame's data. */
export function parseRsp(data: Buffer): { code: number; text: string } {
  const first = data.toString('utf8').split('\n', 1)[0] ?? '';
  const m = /^(\d{3})(?: (.*))?$/.exec(first);
  if (!m) throw new Error(`malformed RELP response '${first.slice(0, 80)}'`);
  return { code: Number(m[1]), text: m[2] ?? '' };
}

/** Accumulates received bytes and yields complete frames; throws on a malformed stream. */
export class FrameParser {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): RelpFrame[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: RelpFrame[] = [];
    for (;;) {
      const f = this.next();
      if (!f) return out;
      out.push(f);
    }
  }

  private next(): RelpFrame | undefined {
    // The header is short: TXNR (≤9) SP COMMAND (≤32) SP DATALEN (≤9), then SP or LF.
    const headEnd = this.headerEnd();
    if (headEnd === undefined) return undefined;
    const head = this.buf.subarray(0, headEnd).toString('ascii');
    const m = /^(\d{1,9}) ([a-z]{1,32}) (\d{1,9})$/.exec(head);
    if (!m) throw new Error(`malformed RELP header '${head.slice(0, 60)}'`);
    const len = Number(m[3]);
    if (len > MAX_DATALEN) throw new Error(`RELP frame of ${len} bytes is too large`);
    const dataStart = len ? headEnd + 1 : headEnd;
    if (this.buf.length < dataStart + len + 1) return undefined;
    if (len && this.buf[headEnd] !== 0x20) throw new Error('malformed RELP frame: no space before the data');
    if (this.buf[dataStart + len] !== 0x0a) throw new Error('malformed RELP frame: no LF trailer');
    const data = Buffer.from(this.buf.subarray(dataStart, dataStart + len));
    this.buf = this.buf.subarray(dataStart + len + 1);
    return { txnr: Number(m[1]), command: m[2] as string, data };
  }

  /** Index just past DATALEN (at the SP or LF that follows it), once it is all here. */
  private headerEnd(): number | undefined {
    let spaces = 0;
    const limit = Math.min(this.buf.length, 60);
    for (let i = 0; i < limit; i++) {
      const c = this.buf[i];
      if (c === 0x20) {
        if (spaces === 2) return i;
        spaces++;
      } else if (c === 0x0a) {
        if (spaces === 2) return i;
        throw new Error('malformed RELP header: early LF');
      }
    }
    if (this.buf.length >= 60) throw new Error('malformed RELP header: too long');
    return undefined;
  }
}
