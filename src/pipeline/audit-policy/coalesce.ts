/**
 * Coalescing of repeated identical reads (`auditPolicy.coalesce`).
 *
 * The Flink Web UI asks the same few endpoints every few seconds for as long as a tab is open;
 * recorded one by one, a dashboard left open overnight is tens of thousands of identical
 * events. Here the first read of a kind is recorded at once and opens a window; the same read
 * again within the window is only counted (the first repeat's event is kept in memory); when the
 * window ends — or on `flush()` at shutdown — one event stands for the repeats: the first
 * repeat, with `additionalEventData.coalesced = {count, firstTime, lastTime}` (count includes
 * itself). A single repeat is recorded as it is. So every read is accounted for, by an event or
 * a count; what a crash loses is the counts of windows still open (at most `windowMs` of
 * repeats of reads whose first occurrence is stored).
 *
 * "Identical" means the stored event would be the same but for what differs on every request:
 * `eventId`, `requestId`, `eventTime`, `latencyMs` and `responseBytes`. Everything else —
 * caller, event name, resources, kept parameters and response elements, outcome and status,
 * cluster, source IP, user agent, audit level — is part of the key, so nothing a reader could
 * tell apart is merged (a savepoint status poll that turns COMPLETED is a new event).
 *
 * Memory is bounded: at most `maxKeys` windows are open; a read that would open another is
 * recorded as it is.
 */
import { createHash } from 'node:crypto';
import type { ActionTrailEvent } from '../../event/types.js';

/** What differs on every request, and so is not part of "the same read". */
const PER_REQUEST = new Set(['eventId', 'requestId', 'eventTime']);
const PER_REQUEST_DATA = new Set(['latencyMs', 'responseBytes']);

function keyOf(e: ActionTrailEvent): string {
  const text = JSON.stringify(e, function (this: unknown, k: string, v: unknown) {
    if (this === e && PER_REQUEST.has(k)) return undefined;
    if (this === e.additionalEventData && PER_REQUEST_DATA.has(k)) return undefined;
    return v;
  });
  return createHash('sha256').update(text).digest('base64url');
}

interface Window {
  closesAt: number;
  /** The first repeat (undefined until one comes). */
  first?: ActionTrailEvent;
  count: number;
  lastTime: string;
}

export interface CoalescerOptions {
  windowMs: number;
  maxKeys: number;
  /** Where a coalesced (or lone repeat) event goes when its window ends. */
  emit: (e: ActionTrailEvent) => void;
  /** Current time in ms (a fake clock in tests and benchmarks). */
  now?: () => number;
}

export class Coalescer {
  private readonly windows = new Map<string, Window>();
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  /** Reads that could not open a window because `maxKeys` were open. */
  overflowed = 0;

  constructor(private readonly opts: CoalescerOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Windows open now. */
  get open(): number {
    return this.windows.size;
  }

  /**
   * Offers a read that is about to be recorded: `true` if it was absorbed into an open window
   * (the caller records nothing), `false` if the caller records it now.
   */
  absorb(e: ActionTrailEvent): boolean {
    const key = keyOf(e);
    const w = this.windows.get(key);
    const now = this.now();
    if (w && w.closesAt > now) {
      w.count++;
      w.first ??= e;
      w.lastTime = e.eventTime;
      return true;
    }
    if (w) this.close(key, w);
    if (this.windows.size >= this.opts.maxKeys) {
      this.overflowed++;
      return false;
    }
    this.windows.set(key, { closesAt: now + this.opts.windowMs, count: 0, lastTime: e.eventTime });
    return false;
  }

  /** Ends every window whose time is up. */
  sweep(): void {
    const now = this.now();
    for (const [key, w] of this.windows) if (w.closesAt <= now) this.close(key, w);
  }

  /** Ends every window now (shutdown): every counted repeat is emitted. */
  flush(): void {
    for (const [key, w] of this.windows) this.close(key, w);
  }

  /** Sweeps on a timer (unref'd) until `stop()`. */
  start(): void {
    this.timer ??= setInterval(() => this.sweep(), Math.min(1000, Math.max(50, Math.floor(this.opts.windowMs / 4))));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private close(key: string, w: Window): void {
    this.windows.delete(key);
    if (!w.first) return;
    if (w.count === 1) {
      this.opts.emit(w.first);
      return;
    }
    this.opts.emit({
      ...w.first,
      additionalEventData: { ...w.first.additionalEventData, coalesced: { count: w.count, firstTime: w.first.eventTime, lastTime: w.lastTime } },
    });
  }
}
