/**
 * A RELP client session: `open` with the offers, then `syslog` commands with up to `window`
 * unacknowledged at once, then `close`. Each message is done only when the server answers its
 * txnr with `rsp 200`; a 500, a `serverclose`, a protocol error or a lost connection fails
 * every message still waiting, and the session is unusable afterwards (the sink opens a new
 * one; RELP itself resends nothing, so redelivery is the engine's batch retry).
 *
 * Written here because no maintained RELP client exists on npm (the `relp` package is one
 * 0.0.1 release without types).
 */
import type { Socket } from 'node:net';
import { openStream, type StreamTarget } from '../connect.js';
import { encodeFrame, FrameParser, MAX_TXNR, parseRsp, type RelpFrame } from './frame.js';

const OFFERS = 'relp_version=0\nrelp_software=flinktrail\ncommands=syslog';

interface Waiting {
  resolve(): void;
  reject(err: Error): void;
}

export interface RelpClientOptions {
  window: number;
  connectTimeoutMs: number;
  /** How long a sent command may wait for its response before the session is given up. */
  responseTimeoutMs: number;
}

export class RelpClient {
  private readonly parser = new FrameParser();
  private readonly waiting = new Map<number, Waiting>();
  private readonly windowFree: (() => void)[] = [];
  private txnr = 0;
  private failure: Error | undefined;
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly socket: Socket,
    private readonly target: StreamTarget,
    private readonly o: RelpClientOptions,
  ) {
    socket.setKeepAlive(true, 10_000);
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const f of this.parser.push(chunk)) this.onFrame(f);
      } catch (err) {
        this.fail(err as Error);
      }
    });
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error(`The RELP connection to ${target.host}:${target.port} closed.`)));
  }

  /** Connects and opens a session; rejects when the server refuses the offers. */
  static async open(target: StreamTarget, o: RelpClientOptions): Promise<RelpClient> {
    const socket = await openStream(target, o.connectTimeoutMs);
    const c = new RelpClient(socket, target, o);
    try {
      await c.command('open', OFFERS);
    } catch (err) {
      c.destroy();
      throw err;
    }
    return c;
  }

  get usable(): boolean {
    return this.failure === undefined;
  }

  /** Sends every message in order, at most `window` unacknowledged; resolves when all are acknowledged. */
  async sendAll(messages: readonly Buffer[]): Promise<void> {
    const acks: Promise<void>[] = [];
    for (const m of messages) {
      while (this.waiting.size >= this.o.window && !this.failure) await new Promise<void>((r) => this.windowFree.push(r));
      const ack = this.command('syslog', m);
      ack.catch(() => undefined); // observed below, by Promise.all
      acks.push(ack);
      if (this.failure) break;
    }
    await Promise.all(acks);
  }

  /** Ends the session politely (close → rsp), or just drops the connection if it is broken. */
  async close(): Promise<void> {
    if (!this.failure) {
      try {
        await this.command('close', '');
      } catch {
        // The server went away meanwhile: nothing more to say to it.
      }
    }
    this.destroy();
  }

  private destroy(): void {
    this.fail(new Error('The RELP session was closed.'));
    this.socket.destroy();
  }

  private command(command: string, data: Buffer | string): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    this.txnr = this.txnr >= MAX_TXNR ? 1 : this.txnr + 1;
    const txnr = this.txnr;
    const done = new Promise<void>((resolve, reject) => this.waiting.set(txnr, { resolve, reject }));
    this.socket.write(encodeFrame(txnr, command, data));
    this.armTimer();
    return done;
  }

  private onFrame(f: RelpFrame): void {
    if (f.command === 'serverclose') throw new Error(`The RELP server ${this.target.host}:${this.target.port} closed the session.`);
    if (f.command !== 'rsp') throw new Error(`unexpected RELP command '${f.command}' from the server`);
    const w = this.waiting.get(f.txnr);
    if (!w) throw new Error(`RELP response for unknown txnr ${f.txnr}`);
    this.waiting.delete(f.txnr);
    // `rsp` to close has no code; every other response starts with one.
    const { code, text } = f.data.length ? parseRsp(f.data) : { code: 200, text: '' };
    if (code === 200) w.resolve();
    else {
      w.reject(new Error(`The RELP server refused a message: ${code} ${text}`.trim()));
      // A refusal leaves later messages' fate unknown to the engine; give the session up.
      throw new Error(`The RELP server answered ${code} ${text}`.trim());
    }
    this.armTimer();
    this.windowFree.splice(0).forEach((r) => r());
  }

  /** One timer for the oldest outstanding command: a receiver that stops answering fails the session. */
  private armTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.waiting.size === 0 || this.failure) return;
    this.timer = setTimeout(() => this.fail(new Error(`The RELP server ${this.target.host}:${this.target.port} did not answer within ${this.o.responseTimeoutMs} ms.`)), this.o.responseTimeoutMs);
    this.timer.unref();
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    clearTimeout(this.timer);
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
    this.windowFree.splice(0).forEach((r) => r());
    this.socket.destroy();
  }
}
