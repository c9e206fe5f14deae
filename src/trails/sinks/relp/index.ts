/**
 * The RELP destination: the syslog destination's RFC 5424 messages (../syslog/encoder.ts), one
 * per event, sent over RELP (client.ts) — plain TCP or TLS. Unlike plain syslog, a batch counts
 * as sent only when the receiver acknowledged every message of it (`rsp 200`), so messages in
 * flight when the receiver dies are sent again (at-least-once: the engine resends the whole
 * batch on a new session, and a receiver may see the acknowledged part of it twice; consumers
 * that must be exact deduplicate by eventId). Order is kept: one session, commands in txnr order.
 *
 * What an acknowledgement means is the receiver's: rsyslog's imrelp answers once the message is
 * in its queue, so only a direct or disk-assisted queue carries the guarantee through a crash.
 */
import type { ActionTrailEvent } from '../../../event/types.js';
import type { RelpOptions } from '../../destination.js';
import { formatRfc5424 } from '../syslog/encoder.js';
import type { RecordSink } from '../types.js';
import { RelpClient } from './client.js';

export interface RelpSinkOptions {
  connectTimeoutMs?: number;
  responseTimeoutMs?: number;
}

export class RelpSink implements RecordSink {
  readonly kind = 'relp' as const;
  private client: RelpClient | undefined;

  constructor(
    private readonly o: RelpOptions,
    private readonly opts: RelpSinkOptions = {},
  ) {}

  private async session(): Promise<RelpClient> {
    if (this.client?.usable) return this.client;
    await this.client?.close();
    this.client = undefined;
    this.client = await RelpClient.open(
      { what: 'RELP', ...this.o },
      { window: this.o.window, connectTimeoutMs: this.opts.connectTimeoutMs ?? 5000, responseTimeoutMs: this.opts.responseTimeoutMs ?? 30_000 },
    );
    return this.client;
  }

  async send(events: readonly ActionTrailEvent[]): Promise<void> {
    if (events.length === 0) return;
    const client = await this.session();
    await client.sendAll(events.map((e) => Buffer.from(formatRfc5424(e, this.o), 'utf8')));
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    await c?.close();
  }
}
