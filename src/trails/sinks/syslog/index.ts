/**
 * The syslog destination: RFC 5424 messages (encoder.ts) over TCP or TLS (RFC 5425),
 * octet-counted framing (RFC 6587 §3.4.1), one message per event.
 *
 * TCP has no acknowledgement: a batch counts as sent when the socket accepted it; bytes in flight
 * when the receiver dies can be lost (use RELP or Kafka where that matters). Every write error or close
 * fails the batch, and the engine sends it again on a new connection.
 */
import type { Socket } from 'node:net';
import type { ActionTrailEvent } from '../../../event/types.js';
import type { SyslogOptions } from '../../destination.js';
import { openStream } from '../connect.js';
import type { RecordSink } from '../types.js';
import { formatRfc5424, frame } from './encoder.js';

export { formatRfc5424, frame, severityOf } from './encoder.js';

export interface SyslogSinkOptions {
  connectTimeoutMs?: number;
}

export class SyslogSink implements RecordSink {
  readonly kind = 'syslog' as const;
  private socket: Socket | undefined;
  private broken: Error | undefined;

  constructor(
    private readonly o: SyslogOptions,
    private readonly opts: SyslogSinkOptions = {},
  ) {}

  private async connect(): Promise<Socket> {
    if (this.socket && !this.broken && !this.socket.destroyed) return this.socket;
    this.socket?.destroy();
    this.broken = undefined;
    const timeout = this.opts.connectTimeoutMs ?? 5000;
    const socket = await openStream({ what: 'syslog', ...this.o }, timeout);
    socket.setKeepAlive(true, 10_000);
    socket.on('error', (err) => (this.broken = err));
    socket.on('close', () => (this.broken ??= new Error('The syslog connection closed.')));
    // A receiver never talks back on this protocol; reading keeps 'close' and errors visible.
    socket.on('data', () => undefined);
    this.socket = socket;
    return socket;
  }

  async send(events: readonly ActionTrailEvent[]): Promise<void> {
    if (events.length === 0) return;
    const socket = await this.connect();
    const data = Buffer.concat(events.map((e) => frame(formatRfc5424(e, this.o))));
    await new Promise<void>((resolve, reject) => {
      socket.write(data, (err) => {
        if (err) {
          this.broken = err;
          reject(err);
        } else if (this.broken) reject(this.broken instanceof Error ? this.broken : new Error(String(this.broken)));
        else resolve();
      });
    });
  }

  close(): Promise<void> {
    const s = this.socket;
    this.socket = undefined;
    if (!s || s.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        s.destroy();
        resolve();
      }, 2000);
      s.end(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}
