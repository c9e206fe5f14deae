/**
 * Sign-in throttling: slows credential guessing without handing anyone a lockout lever.
 *
 * A lockout keyed on an identity lets a stranger lock the owner out (ten wrong passwords for
 * `admin` from anywhere used to block `admin` everywhere for five minutes). So nothing here is
 * keyed on an identity alone. Two counters, both in memory:
 *
 *  - per (source address, identity): the first `maxFailures` failures cost nothing; each further
 *    one makes that address wait `baseDelayMs` × 2^k (k = 0, 1, 2, …), capped at `maxDelayMs`,
 *    before it may try that identity again. The owner signing in from any other address never
 *    waits. AccessKey pairs are counted here too, but only per address: their secret is
 *    40 random characters, so guessing it is hopeless and an id alone is never throttled.
 *  - per source address, across identities (password spraying): after
 *    `maxFailures × perSourceFactor` failures the address waits the same way — for guessable
 *    credentials only (passwords, unknown names, static bearer tokens), and not for an identity
 *    that signed in from that address before (the owner behind the attacker's NAT).
 *
 * An attempt that must wait is refused before its credentials are checked (a check would answer
 * the guess) and does not count as a failure. A success clears its pair. Failures are forgotten
 * `windowMs` after the last one (never during a wait). Console sessions never pass through here.
 *
 * The counters live in a `ThrottleStore` (throttle-store.ts): in memory by default (bounded: the
 * least recently failed keys are evicted past 50,000 per table), in PostgreSQL with `store.url`,
 * where every instance counts into and waits on the same counters.
 */
import { forgotten, MemoryThrottleStore, type ThrottleCounter, type ThrottleScope, type ThrottleStore } from './throttle-store.js';

/**
 * What a credential claims to be:
 * - `user`: a user name with a password (Basic or console sign-in) — or a name nobody has;
 * - `key`: an AccessKey id (its secret cannot be guessed);
 * - `token`: a configured static bearer token (`name` labels which kind, never the token).
 */
export const SUBJECT_KINDS = ['user', 'key', 'token'] as const;
export interface ThrottleSubject {
  kind: (typeof SUBJECT_KINDS)[number];
  name: string;
}

/** How each kind of credential is named in events and API answers. */
export const SUBJECT_METHOD = { user: 'password', key: 'access-key', token: 'bearer-token' } as const satisfies Record<ThrottleSubject['kind'], string>;

export interface ThrottleOptions {
  /** Failures per (address, identity) that cost nothing. */
  maxFailures: number;
  /** A pair's or address's failures are forgotten this long after the last one. */
  windowMs: number;
  /** The first wait; it doubles with every further failure. */
  baseDelayMs: number;
  /** The longest wait. */
  maxDelayMs: number;
  /** The per-address bound is `maxFailures × perSourceFactor` failures across identities. */
  perSourceFactor: number;
}

/** A counter that started making an address wait (recorded as an event by the caller). */
export interface ThrottleNotice {
  scope: 'pair' | 'source';
  sourceIp: string;
  /** For `pair`: the identity that address has been guessing. */
  subject?: ThrottleSubject;
  failures: number;
  waitMs: number;
}

/** One counter that currently makes an address wait. */
export interface ThrottleEntry extends ThrottleNotice {
  until: number;
}

/** How long a successful sign-in vouches for an identity at an address that is spraying. */
const KNOWN_GOOD_MS = 30 * 24 * 3600_000;

const pairKey = (ip: string, s: ThrottleSubject) => `${ip}\0${s.kind}\0${s.name}`;
/** Only these can be guessed, so only these count towards (and wait for) the per-address bound. */
const guessable = (s: ThrottleSubject) => s.kind !== 'key';

export class SignInThrottle {
  constructor(
    private readonly opts: ThrottleOptions,
    private readonly onThrottle: (n: ThrottleNotice) => void = () => undefined,
    private readonly store: ThrottleStore = new MemoryThrottleStore(),
  ) {}

  /** Milliseconds `sourceIp` must wait before trying `subject`; 0 when it may try now. */
  async waitFor(sourceIp: string, subject: ThrottleSubject, now = Date.now()): Promise<number> {
    let until = (await this.live('pair', pairKey(sourceIp, subject), now))?.until ?? 0;
    if (guessable(subject)) {
      const source = (await this.live('source', sourceIp, now))?.until ?? 0;
      if (source > until && !(await this.vouched(sourceIp, subject, now))) until = source;
    }
    return Math.max(0, until - now);
  }

  /** Counts a failed attempt; starts or lengthens a wait past the free failures. */
  async failed(sourceIp: string, subject: ThrottleSubject, now = Date.now()): Promise<void> {
    await this.count('pair', pairKey(sourceIp, subject), { sourceIp, subject }, this.opts.maxFailures, now);
    if (guessable(subject)) await this.count('source', sourceIp, { sourceIp }, this.opts.maxFailures * this.opts.perSourceFactor, now);
  }

  /** A correct credential: its pair starts afresh and it may sign in from this address while the address sprays. */
  async succeeded(sourceIp: string, subject: ThrottleSubject, now = Date.now()): Promise<void> {
    const key = pairKey(sourceIp, subject);
    await this.store.delete('pair', key);
    if (guessable(subject)) await this.store.vouch(key, now);
  }

  /** The counters that make an address wait now. */
  async list(now = Date.now()): Promise<ThrottleEntry[]> {
    return (await this.store.waiting(now)).map((c) => ({ scope: c.scope, sourceIp: c.sourceIp, ...(c.subject ? { subject: c.subject } : {}), failures: c.failures, waitMs: c.until - now, until: c.until }));
  }

  /**
   * Forgets failures: every counter of `sourceIp` (the address and all its pairs), every pair of
   * identity `name` (any kind), or with both, only that pair. Returns how many counters went.
   */
  clear(match: { sourceIp?: string; name?: string }): Promise<number> {
    return this.store.clear(match);
  }

  /** Drops counters whose failures are forgotten and vouches past their use (the app's hourly purge); how many counters. */
  purge(now = Date.now()): Promise<number> {
    return this.store.purge(now, this.opts.windowMs, now - KNOWN_GOOD_MS);
  }

  private async vouched(sourceIp: string, subject: ThrottleSubject, now: number): Promise<boolean> {
    const at = await this.store.vouchedAt(pairKey(sourceIp, subject));
    return at !== undefined && now - at < KNOWN_GOOD_MS;
  }

  /** The counter under `key` unless its failures have been forgotten. */
  private async live(scope: ThrottleScope, key: string, now: number): Promise<ThrottleCounter | undefined> {
    const c = await this.store.get(scope, key);
    return c && !forgotten(c, now, this.opts.windowMs) ? c : undefined;
  }

  private async count(scope: ThrottleScope, key: string, who: Pick<ThrottleCounter, 'sourceIp' | 'subject'>, free: number, now: number): Promise<void> {
    const c = await this.store.fail(scope, key, who, now, this.opts.windowMs);
    if (c.failures <= free) return;
    const waitMs = Math.min(this.opts.maxDelayMs, this.opts.baseDelayMs * 2 ** Math.min(c.failures - free - 1, 40));
    await this.store.wait(scope, key, now + waitMs);
    this.onThrottle({ scope, sourceIp: c.sourceIp, ...(c.subject ? { subject: c.subject } : {}), failures: c.failures, waitMs });
  }
}
