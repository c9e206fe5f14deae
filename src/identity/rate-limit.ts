/**
 * Brute-force protection: counts failures per key (source address, claimed identity) in a
 * sliding window; at `maxFailures` the key is blocked until the window has passed. Bounded
 * memory: the oldest keys are evicted past 50,000.
 */
export class RateLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly maxFailures: number,
    private readonly windowMs: number,
  ) {}

  fail(key: string, now = Date.now()): void {
    const list = (this.failures.get(key) ?? []).filter((t) => now - t < this.windowMs);
    list.push(now);
    this.failures.delete(key);
    this.failures.set(key, list.slice(-this.maxFailures));
    if (this.failures.size > 50_000) {
      const oldest = this.failures.keys().next().value;
      if (oldest !== undefined) this.failures.delete(oldest);
    }
  }

  /** Milliseconds until `key` may try again; 0 when not blocked. */
  blockedFor(key: string, now = Date.now()): number {
    const list = this.failures.get(key);
    if (!list || list.length < this.maxFailures) return 0;
    const first = list[list.length - this.maxFailures] as number;
    const left = first + this.windowMs - now;
    return left > 0 ? left : 0;
  }
}
