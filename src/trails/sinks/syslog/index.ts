/**
 * The syslog destination: RFC 5424 messages over TCP or TLS (RFC 5425), octet-counted framing
 * (RFC 6587 §3.4.1), one message per event:
 *
 *     <PRI>1 2026-11-25T11:09:10.123Z host flinktrail 4242 CancelJob [flinktrail@32473 eventId="…" eventRW="Write" …] BOM{…event JSON…}
 *
 * PRI = facility × 8 + severity: notice (5) for writes, info (6) for reads, warning (4) for
 * failed operations. MSGID is the event name; the structured data repeats the fields SIEM rules
 * key on; MSG is the full ActionTrail record as UTF-8 JSON. 32473 is the private enterprise
 * number RFC 5612 sets aside for documentation and examples.
 *
 * TCP has no acknowledgement: a batch counts as sent when the socket accepted it; bytes in flight
 * when the receiver dies can be lost (use Kafka where that matters). Every write error or close
 * fails the batch, and the engine sends it again on a new connection.
 */
import { readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { connect as tlsConnect } from 'node:tls';
import type { ActionTrailEvent } from '../../../event/types.js';
import type { SyslogOptions } from '../../destination.js';
import type { RecordSink } from '../types.js';

const BOM = '\uFEFF';

function ascii(s: string, max: number): string {
  const clean = s.replace(/[^!-~]/g, '_').slice(0, max);
  return clean === '' ? '-' : clean;
}

function sdValue(s: string): string {
  return s.replace(/[\\"\]]/g, (c) => `\\${c}`);
}

export function severityOf(e: ActionTrailEvent): number {
  if (e.errorCode) return 4;
  return e.eventRW === 'Write' ? 5 : 6;
}

/** One RFC 5424 message (without framing). */
export function formatRfc5424(e: ActionTrailEvent, o: Pick<SyslogOptions, 'facility' | 'appName'>, host = hostname(), pid = process.pid): string {
  const pri = o.facility * 8 + severityOf(e);
  const sd: [string, string][] = [
    ['eventId', e.eventId],
    ['eventRW', e.eventRW],
    ['eventType', e.eventType],
    ['serviceName', e.serviceName],
    ['acsRegion', e.acsRegion],
    ['userName', e.userIdentity.userName],
    ['sourceIpAddress', e.sourceIpAddress],
    ['outcome', String(e.additionalEventData.outcome)],
  ];
  const params = sd.map(([k, v]) => `${k}="${sdValue(v)}"`).join(' ');
  return `<${pri}>1 ${e.eventTime} ${ascii(host, 255)} ${ascii(o.appName, 48)} ${pid} ${ascii(e.eventName, 32)} [flinktrail@32473 ${params}] ${BOM}${JSON.stringify(e)}`;
}

/** Octet-counted framing: `<length> <message>`, length in bytes. */
export function frame(message: string): Buffer {
  const body = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length} `, 'ascii'), body]);
}

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
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = this.o.tls
        ? tlsConnect({ host: this.o.host, port: this.o.port, servername: /^[\d.]+$|:/.test(this.o.host) ? '' : this.o.host, ...(this.o.ca ? { ca: readFileSync(this.o.ca) } : {}) })
        : netConnect({ host: this.o.host, port: this.o.port });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`Connecting to syslog ${this.o.host}:${this.o.port} timed out after ${timeout} ms.`));
      }, timeout);
      s.once(this.o.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        resolve(s);
      });
      s.once('error', (err: Error) => {
        clearTimeout(timer);
        reject(err);
      });
    });
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
