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
 * `windowMs` after the last one (never during a wait). Console sessions never pass through here. Memory is bounded:
 * the least recently failed keys are evicted past 50,000 per table.
 */

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

interface Counter {
  sourceIp: string;
  subject?: ThrottleSubject;
  failures: number;
  last: number;
  until: number;
}

const MAX_KEYS = 50_000;
/** How long a successful sign-in vouches for an identity at an address that is spraying. */
const KNOWN_GOOD_MS = 30 * 24 * 3600_000;

const pairKey = (ip: string, s: ThrottleSubject) => `${ip}\0${s.kind}\0${s.name}`;
/** Only these can be guessed, so only these count towards (and wait for) the per-address bound. */
const guessable = (s: ThrottleSubject) => s.kind !== 'key';

export class SignInThrottle {
  private readonly pairs = new Map<string, Counter>();
  private readonly sources = new Map<string, Counter>();
  private readonly knownGood = new Map<string, number>();

  constructor(
    private readonly opts: ThrottleOptions,
    private readonly onThrottle: (n: ThrottleNotice) => void = () => undefined,
  ) {}

  /** Milliseconds `sourceIp` must wait before trying `subject`; 0 when it may try now. */
  waitFor(sourceIp: string, subject: ThrottleSubject, now = Date.now()): number {
    let until = this.live(this.pairs, pairKey(sourceIp, subject), now)?.until ?? 0;
    if (guessable(subject) && !this.vouched(sourceIp, subject, now)) until = Math.max(until, this.live(this.sources, sourceIp, now)?.until ?? 0);
    return Math.max(0, until - now);
  }

  /** Counts a failed attempt; starts or lengthens a wait past the free failures. */
  failed(sourceIp: string, subject: ThrottleSubject, now = Date.now()): void {
    this.count(this.pairs, pairKey(sourceIp, subject), { sourceIp, subject }, this.opts.maxFailures, now);
    if (guessable(subject)) this.count(this.sources, sourceIp, { sourceIp }, this.opts.maxFailures * this.opts.perSourceFactor, now);
  }

  /** A correct credential: its pair starts afresh and it may sign in from this address while the address sprays. */
  succeeded(sourceIp: string, subject: ThrottleSubject, now = Date.now()): void {
    const key = pairKey(sourceIp, subject);
    this.pairs.delete(key);
    if (!guessable(subject)) return;
    this.knownGood.delete(key);
    this.knownGood.set(key, now);
    evict(this.knownGood);
  }

  /** The counters that make an address wait now. */
  list(now = Date.now()): ThrottleEntry[] {
    const out: ThrottleEntry[] = [];
    for (const [scope, table] of [['source', this.sources], ['pair', this.pairs]] as const) {
      for (const c of table.values()) {
        if (c.until > now) out.push({ scope, sourceIp: c.sourceIp, ...(c.subject ? { subject: c.subject } : {}), failures: c.failures, waitMs: c.until - now, until: c.until });
      }
    }
    return out;
  }

  /**
   * Forgets failures: every counter of `sourceIp` (the address and all its pairs), every pair of
   * identity `name` (any kind), or with both, only that pair. Returns how many counters went.
   */
  clear(match: { sourceIp?: string; name?: string }): number {
    let n = 0;
    if (match.sourceIp !== undefined && match.name === undefined && this.sources.delete(match.sourceIp)) n++;
    for (const [k, c] of this.pairs) {
      if ((match.sourceIp === undefined || c.sourceIp === match.sourceIp) && (match.name === undefined || c.subject?.name === match.name)) {
        this.pairs.delete(k);
        n++;
      }
    }
    return n;
  }

  private vouched(sourceIp: string, subject: ThrottleSubject, now: number): boolean {
    const at = this.knownGood.get(pairKey(sourceIp, subject));
    return at !== undefined && now - at < KNOWN_GOOD_MS;
  }

  /** The counter under `key` unless its failures have been forgotten. */
  private live(table: Map<string, Counter>, key: string, now: number): Counter | undefined {
    const c = table.get(key);
    if (c && now >= c.until && now - c.last >= this.opts.windowMs) {
      table.delete(key);
      return undefined;
    }
    return c;
  }

  private count(table: Map<string, Counter>, key: string, init: Pick<Counter, 'sourceIp' | 'subject'>, free: number, now: number): void {
    const c = this.live(table, key, now) ?? { ...init, failures: 0, last: now, until: 0 };
    c.failures++;
    c.last = now;
    // Re-inserted so that the map's order is least recently failed first, for eviction.
    table.delete(key);
    table.set(key, c);
    evict(table);
    if (c.failures <= free) return;
    const waitMs = Math.min(this.opts.maxDelayMs, this.opts.baseDelayMs * 2 ** Math.min(c.failures - free - 1, 40));
    c.until = now + waitMs;
    this.onThrottle({ scope: table === this.sources ? 'source' : 'pair', sourceIp: c.sourceIp, ...(c.subject ? { subject: c.subject } : {}), failures: c.failures, waitMs });
  }
}

function evict(table: Map<string, unknown>): void {
  if (table.size <= MAX_KEYS) return;
  const oldest = table.keys().next().value;
  if (oldest !== undefined) table.delete(oldest);
}
