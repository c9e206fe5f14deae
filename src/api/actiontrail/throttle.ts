/**
 * Flow control of the RPC endpoint, as ActionTrail has it (LookupEvents: 2 calls a second per
 * account): token buckets per AccessKey, one for every call and a stricter one for
 * LookupEvents, each refilled at its configured rate and holding one second's worth. A rate of
 * 0 turns a bucket off (the default: a self-hosted trail has no neighbours to protect).
 * Counted after the signature verified, so nobody can spend another caller's allowance.
 * Memory is bounded: beyond 10,000 keys the least recently used bucket is dropped.
 */

export interface ThrottleConfig {
  /** Calls a second per AccessKey, any action; 0 = unlimited. */
  requestsPerSecond: number;
  /** LookupEvents calls a second per AccessKey; 0 = unlimited. */
  lookupEventsPerSecond: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

class Buckets {
  private readonly map = new Map<string, Bucket>();
  constructor(private readonly rate: number) {}

  /** 0 when a token was taken, else milliseconds until one is there. */
  take(key: string, now: number): number {
    if (this.rate <= 0) return 0;
    const cap = Math.max(1, this.rate);
    const b = this.map.get(key) ?? { tokens: cap, at: now };
    this.map.delete(key);
    b.tokens = Math.min(cap, b.tokens + ((now - b.at) / 1000) * this.rate);
    b.at = now;
    this.map.set(key, b);
    if (this.map.size > 10_000) this.map.delete(this.map.keys().next().value as string);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - b.tokens) / this.rate) * 1000);
  }
}

export class Throttle {
  private readonly all: Buckets;
  private readonly lookups: Buckets;

  constructor(config: ThrottleConfig) {
    this.all = new Buckets(config.requestsPerSecond);
    this.lookups = new Buckets(config.lookupEventsPerSecond);
  }

  /** 0 when the call may go ahead, else milliseconds to wait (`x-acs-retry-after`). */
  check(accessKeyId: string, action: string, now = Date.now()): number {
    const wait = action === 'LookupEvents' ? this.lookups.take(accessKeyId, now) : 0;
    if (wait > 0) return wait;
    return this.all.take(accessKeyId, now);
  }
}
