/**
 * The sign-in throttle's contract (test/contract/throttle.ts) on PostgreSQL, where every
 * instance (its own pool on one schema, as FlinkTrail processes sharing one database) counts into
 * the same counters; and the bound of the store's cache of absent counters: a wait begun through
 * one instance applies at another within `cacheMs`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { SignInThrottle } from '../../../src/identity/rate-limit.js';
import { PostgresThrottleStore } from '../../../src/identity/postgres/throttle.js';
import { poolConfig } from '../../../src/store/postgres/url.js';
import { throttleContract, type ThrottleSpace } from '../../contract/throttle.js';
import { postgresForFile } from '../../helpers/postgres.js';

const postgres = postgresForFile();

async function space(opts: { cacheMs?: number; now?: () => number } = { cacheMs: 0 }): Promise<ThrottleSpace> {
    const url = postgres.url;
  const schema = await postgres.newSchema();
  const pools: pg.Pool[] = [];
  return {
    async instance() {
      const pool = new pg.Pool(poolConfig(url, { max: 4, schema }));
      pools.push(pool);
      return PostgresThrottleStore.open(pool, opts);
    },
    async dispose() {
      for (const p of pools) await p.end();
      await postgres.admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    },
  };
}

// The rules with no cache of absent counters: every read asks the database.
throttleContract('PostgreSQL', { space: () => space() });

describe('sign-in throttle on PostgreSQL: the cache of absent counters', () => {
  it('a clean caller costs no query per request, and a wait begun through another instance applies within cacheMs', async () => {
    let clock = 1_000_000;
    const s = await space({ cacheMs: 1000, now: () => clock });
    try {
      const opts = { maxFailures: 3, windowMs: 60_000, baseDelayMs: 5000, maxDelayMs: 60_000, perSourceFactor: 10 };
      const here = new SignInThrottle(opts, undefined, await s.instance());
      const there = new SignInThrottle(opts, undefined, await s.instance());
      const subject = { kind: 'user' as const, name: 'admin' };
      assert.equal(await here.waitFor('198.51.100.7', subject, clock), 0);
      for (let i = 0; i < 4; i++) await there.failed('198.51.100.7', subject, clock);
      assert.equal(await there.waitFor('198.51.100.7', subject, clock), 5000, 'at once where it was counted');
      clock += 1001;
      assert.equal(await here.waitFor('198.51.100.7', subject, clock), 3999, 'past the bound, the other instance waits too');
    } finally {
      await s.dispose();
    }
  });
});
