/**
 * Where the sign-in throttle (rate-limit.ts) keeps its counters: the contract, Promise-returning
 * so that several instances on one database share them — an address guessing passwords through
 * one instance waits at every other — and the in-memory store, the embedded default (one
 * process; counters need not outlive it: an attacker cannot restart the server). The PostgreSQL
 * store is postgres/throttle.ts.
 *
 * The rules (free failures, doubling waits, spraying, vouching) stay in rate-limit.ts; a store
 * keeps counters and does one thing atomically: count a failure, starting afresh when the
 * counter's failures are forgotten (`forgotten`), so that failures counted at once through two
 * instances are both counted.
 */
import type { ThrottleSubject } from './rate-limit.js';

export type ThrottleScope = 'pair' | 'source';

export interface ThrottleCounter {
  sourceIp: string;
  subject?: ThrottleSubject;
  failures: number;
  /** When the last failure was counted. */
  last: number;
  /** Until when the address waits (0 or past: it does not). */
  until: number;
}

/** A counter whose failures no longer count: no wait runs and the last failure is a window old. */
export const forgotten = (c: Pick<ThrottleCounter, 'last' | 'until'>, now: number, windowMs: number): boolean => now >= c.until && now - c.last >= windowMs;

export interface ThrottleStore {
  /** The counter under `key`, or undefined; forgotten ones may be returned (the caller checks). */
  get(scope: ThrottleScope, key: string): Promise<ThrottleCounter | undefined>;
  /** Counts one failure at `now` (a forgotten counter starts again at 1) and returns the counter after it. */
  fail(scope: ThrottleScope, key: string, who: Pick<ThrottleCounter, 'sourceIp' | 'subject'>, now: number, windowMs: number): Promise<ThrottleCounter>;
  /** Makes the address wait until `until` (never shortens a wait already longer). */
  wait(scope: ThrottleScope, key: string, until: number): Promise<void>;
  delete(scope: ThrottleScope, key: string): Promise<void>;
  /** Counters whose wait runs at `now`. */
  waiting(now: number): Promise<(ThrottleCounter & { scope: ThrottleScope })[]>;
  /** Deletes every source counter of `sourceIp` and pair matching the match (see SignInThrottle.clear); how many. */
  clear(match: { sourceIp?: string; name?: string }): Promise<number>;
  /** Notes a successful sign-in of a pair (it may sign in while its address sprays). */
  vouch(key: string, now: number): Promise<void>;
  /** When the pair last signed in, if known. */
  vouchedAt(key: string): Promise<number | undefined>;
  /** Deletes counters whose failures are forgotten, and vouches older than `vouchedBefore`; how many counters. */
  purge(now: number, windowMs: number, vouchedBefore: number): Promise<number>;
}

/** Keys kept at most per table; the least recently failed go first (memory is bounded under attack). */
const MAX_KEYS = 50_000;

function evict(table: Map<string, unknown>): void {
  if (table.size <= MAX_KEYS) return;
  const oldest = table.keys().next().value;
  if (oldest !== undefined) table.delete(oldest);
}

/** The embedded store: maps in this process, bounded. */
export class MemoryThrottleStore implements ThrottleStore {
  private readonly tables = { pair: new Map<string, ThrottleCounter>(), source: new Map<string, ThrottleCounter>() };
  private readonly good = new Map<string, number>();

  async get(scope: ThrottleScope, key: string): Promise<ThrottleCounter | undefined> {
    return this.tables[scope].get(key);
  }

  async fail(scope: ThrottleScope, key: string, who: Pick<ThrottleCounter, 'sourceIp' | 'subject'>, now: number, windowMs: number): Promise<ThrottleCounter> {
    const table = this.tables[scope];
    const old = table.get(key);
    const c: ThrottleCounter = old && !forgotten(old, now, windowMs) ? old : { ...who, failures: 0, last: now, until: 0 };
    c.failures++;
    c.last = now;
    // Re-inserted so that the map's order is least recently failed first, for eviction.
    table.delete(key);
    table.set(key, c);
    evict(table);
    return { ...c };
  }

  async wait(scope: ThrottleScope, key: string, until: number): Promise<void> {
    const c = this.tables[scope].get(key);
    if (c) c.until = Math.max(c.until, until);
  }

  async delete(scope: ThrottleScope, key: string): Promise<void> {
    this.tables[scope].delete(key);
  }

  async waiting(now: number): Promise<(ThrottleCounter & { scope: ThrottleScope })[]> {
    const out: (ThrottleCounter & { scope: ThrottleScope })[] = [];
    for (const scope of ['source', 'pair'] as const) for (const c of this.tables[scope].values()) if (c.until > now) out.push({ ...c, scope });
    return out;
  }

  async clear(match: { sourceIp?: string; name?: string }): Promise<number> {
    let n = 0;
    if (match.sourceIp !== undefined && match.name === undefined && this.tables.source.delete(match.sourceIp)) n++;
    for (const [k, c] of this.tables.pair) {
      if ((match.sourceIp === undefined || c.sourceIp === match.sourceIp) && (match.name === undefined || c.subject?.name === match.name)) {
        this.tables.pair.delete(k);
        n++;
      }
    }
    return n;
  }

  async vouch(key: string, now: number): Promise<void> {
    this.good.delete(key);
    this.good.set(key, now);
    evict(this.good);
  }

  async vouchedAt(key: string): Promise<number | undefined> {
    return this.good.get(key);
  }

  async purge(now: number, windowMs: number, vouchedBefore: number): Promise<number> {
    let n = 0;
    for (const table of Object.values(this.tables)) {
      for (const [k, c] of table) {
        if (forgotten(c, now, windowMs)) {
          table.delete(k);
          n++;
        }
      }
    }
    for (const [k, at] of this.good) if (at < vouchedBefore) this.good.delete(k);
    return n;
  }
}
