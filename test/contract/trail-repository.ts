/**
 * What every TrailRepository promises (src/trails/repository.ts), as tests shared by every
 * implementation: the embedded one runs them as a unit test (src/trails/sqlite/repository.test.ts),
 * the PostgreSQL one in test/integration/store/postgres-trails.test.ts. A space is one storage
 * (a data directory's database, a PostgreSQL schema); each `instance()` is another FlinkTrail
 * process on it, so the cases with two lease holders run as two instances would.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { FlinkTrailError } from '../../src/errors/index.js';
import { isSealed } from '../../src/secrets/index.js';
import { parseDestination } from '../../src/trails/destination.js';
import { JOB_STATUS, type TrailSpec } from '../../src/trails/model.js';
import type { Chain, DeliveredFile, Fence, Plan, TrailRepository } from '../../src/trails/repository.js';
import { newEvents } from '../helpers/events.js';

export interface TrailSpace {
  /** A new instance's repository on this space (each its own connection or pool), all with one master key. */
  instance(): Promise<TrailRepository>;
  /** The URL of a destination as it is stored (to see that credentials are sealed at rest). */
  storedUrl(destId: number): Promise<string>;
  /** Closes every instance and removes the space. */
  dispose(): Promise<void>;
}

export interface TrailBackend {
  space(): Promise<TrailSpace>;
}

const LOCAL = '/var/lib/flinktrail/trails';
const DIR_A = 'file:///srv/audit/a';
const DIR_B = 'file:///srv/audit/b';
const DIR_C = 'file:///srv/audit/c';
const SECRET = 'wJalrXUtnFEMIK7MDENGbPxRfiCY';
const S3 = `s3://audit-bucket/trails?region=us-east-1&accessKeyId=AKIDEXAMPLE&secretAccessKey=${SECRET}`;
const T0 = 1_700_000_000_000;
const MEMBER_A = '2000000000000001';
const MEMBER_B = '2000000000000002';

function spec(name: string, urls: readonly string[], over: Partial<Omit<TrailSpec, 'name' | 'destinations'>> = {}): TrailSpec {
  return { name, eventRW: 'All', trailRegion: 'All', digestInterval: 3600, destinations: urls.map((u) => parseDestination(u, { localDir: LOCAL })), ...over };
}

const PLAN: Plan = { from: 10, to: 20, cutAt: T0 + 60_000, filter: { eventRW: 'All', trailRegion: ['cn-hangzhou', 'local'], since: T0, off: [[T0 + 1, T0 + 2]] } };

function file(key: string, region: string, cutAt: number, sha256 = 'a'.repeat(64)): DeliveredFile {
  return { key, region, cutAt, sha256, size: 123, events: 3, oldest: '2023-11-14T22:13:20Z', newest: '2023-11-14T22:13:21Z' };
}

/** Rejects with a FlinkTrailError of `code`. */
async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => err instanceof FlinkTrailError && err.code === code);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function trailRepositoryContract(name: string, backend: TrailBackend): void {
  describe(`trail repository: ${name}`, () => {
    let space: TrailSpace;
    let repo: TrailRepository;
    beforeEach(async () => {
      space = await backend.space();
      repo = await space.instance();
    });
    afterEach(() => space.dispose());

    /** A trail with one live cursor per destination at `lastSeq`; its first destination's id and cursor. */
    async function trail(n = 'audit-trail', urls: readonly string[] = [DIR_A], lastSeq = 100) {
      const t = await repo.create(spec(n, urls), 'local', T0, lastSeq);
      const dest = t.destinations[0]!;
      const [cursor] = await repo.cursorsOf(dest.id);
      return { t, dest, cursor: cursor! };
    }

    describe('trails', () => {
      it('creates a Fresh trail with a live cursor per destination at lastSeq, and reads it back', async () => {
        const t = await repo.create(spec('audit-trail', [DIR_A, DIR_B], { eventRW: 'Write', trailRegion: ['cn-hangzhou', 'local'], digestInterval: 600 }), 'local', T0, 42);
        assert.equal(t.status, 'Fresh');
        assert.deepEqual([t.name, t.eventRW, t.trailRegion, t.digestInterval, t.homeRegion, t.createdAt, t.updatedAt], [
          'audit-trail',
          'Write',
          ['cn-hangzhou', 'local'],
          600,
          'local',
          T0,
          T0,
        ]);
        assert.equal(t.startLoggingAt, undefined);
        assert.equal(t.firstStartSeq, undefined);
        assert.deepEqual(t.destinations.map((d) => [d.url, d.kind, d.minCutAt]), [
          [DIR_A, 'file', 0],
          [DIR_B, 'file', 0],
        ]);
        assert.deepEqual(await repo.get('audit-trail'), t);
        for (const d of t.destinations) {
          const cursors = await repo.cursorsOf(d.id);
          assert.deepEqual(
            cursors.map((c) => ({ ...c, id: 0 })),
            [{ id: 0, destId: d.id, position: 42, deliveredEvents: 0, done: false }],
          );
        }
        assert.deepEqual((await repo.allCursors()).map((c) => [c.trail, c.destId]), t.destinations.map((d) => ['audit-trail', d.id]));
      });

      it('lists trails by name, all or those named; get is undefined and mustGet FT_ERR_TRAIL_NOT_FOUND for an unknown name', async () => {
        for (const n of ['trail-c', 'trail-a', 'trail-b']) await repo.create(spec(n, [DIR_A]), 'local', T0, 0);
        assert.deepEqual((await repo.list()).map((t) => t.name), ['trail-a', 'trail-b', 'trail-c']);
        assert.deepEqual((await repo.list(['trail-c', 'trail-a', 'no-such-trail'])).map((t) => t.name), ['trail-a', 'trail-c']);
        assert.deepEqual(await repo.list([]), []);
        assert.equal(await repo.get('no-such-trail'), undefined);
        await rejectsWith(repo.mustGet('no-such-trail'), 'FT_ERR_TRAIL_NOT_FOUND');
      });

      it('refuses a second trail of one name with FT_ERR_TRAIL_ALREADY_EXISTS, also when two instances create it at once', async () => {
        await trail('audit-trail', [DIR_A]);
        await rejectsWith(repo.create(spec('audit-trail', [DIR_B]), 'local', T0 + 1, 0), 'FT_ERR_TRAIL_ALREADY_EXISTS');
        assert.deepEqual((await repo.mustGet('audit-trail')).destinations.map((d) => d.url), [DIR_A], 'the first one is untouched');

        const other = await space.instance();
        const outcomes = await Promise.allSettled([repo.create(spec('twin-trail', [DIR_A]), 'local', T0, 0), other.create(spec('twin-trail', [DIR_B]), 'local', T0, 0)]);
        assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1);
        const refused = outcomes.find((o) => o.status === 'rejected');
        assert.ok(refused?.reason instanceof FlinkTrailError && refused.reason.code === 'FT_ERR_TRAIL_ALREADY_EXISTS', String(refused?.reason));
        assert.equal((await repo.mustGet('twin-trail')).destinations.length, 1, 'one trail, with the destinations of the one that won');
      });

      it('updates a trail: an unchanged URL keeps its cursor and position, a removed destination goes, a new one starts at lastSeq', async () => {
        const t = await repo.create(spec('audit-trail', [DIR_A, DIR_B]), 'local', T0, 10);
        const [a, b] = t.destinations;
        const [ca] = await repo.cursorsOf(a!.id);
        await repo.advance(ca!.id, 70);
        const u = await repo.update(spec('audit-trail', [DIR_C, DIR_A], { eventRW: 'Read', trailRegion: ['local'], digestInterval: 900 }), T0 + 5, 80);
        assert.deepEqual([u.eventRW, u.trailRegion, u.digestInterval, u.updatedAt, u.createdAt], ['Read', ['local'], 900, T0 + 5, T0]);
        assert.deepEqual(u.destinations.map((d) => d.url), [DIR_C, DIR_A], 'in the order of the update');
        const kept = u.destinations[1]!;
        assert.equal(kept.id, a!.id);
        assert.deepEqual((await repo.cursorsOf(kept.id)).map((c) => [c.id, c.position]), [[ca!.id, 70]]);
        assert.deepEqual((await repo.cursorsOf(u.destinations[0]!.id)).map((c) => c.position), [80]);
        assert.deepEqual(await repo.cursorsOf(b!.id), [], 'the removed destination and its cursor are gone');
        assert.ok(!(await repo.allCursors()).some((c) => c.destId === b!.id));
        await rejectsWith(repo.update(spec('no-such-trail', [DIR_A]), T0, 0), 'FT_ERR_TRAIL_NOT_FOUND');
      });

      it('deletes a trail with its destinations, cursors and lease, and fails its running history job', async () => {
        const { t, dest } = await trail('audit-trail', [DIR_A]);
        await trail('other-trail', [DIR_B]);
        const job = await repo.createJob(t, 50, undefined, T0 - 1000, T0, T0);
        assert.ok(await repo.acquireLease('audit-trail', 'instance-a', 60_000));
        await repo.delete('audit-trail', T0 + 9);
        assert.equal(await repo.get('audit-trail'), undefined);
        assert.deepEqual(await repo.cursorsOf(dest.id), []);
        assert.deepEqual((await repo.allCursors()).map((c) => c.trail), ['other-trail']);
        assert.deepEqual((await repo.leases()).map((l) => l.trail), []);
        const failed = await repo.job(job.id);
        assert.deepEqual([failed?.status, failed?.error, failed?.updatedAt], [JOB_STATUS.failed, 'The trail was deleted.', T0 + 9]);
        await rejectsWith(repo.delete('audit-trail', T0), 'FT_ERR_TRAIL_NOT_FOUND');
        // The name is free again, with a lease that starts over.
        await trail('audit-trail', [DIR_A]);
        assert.equal((await repo.acquireLease('audit-trail', 'instance-b', 60_000))?.token, 1);
      });

      it('starts a Fresh trail: live cursors move up to lastSeq (never back, not while planned), the first start is kept', async () => {
        const t = await repo.create(spec('audit-trail', [DIR_A, DIR_B, DIR_C]), 'local', T0, 10);
        const [a, b, c] = await Promise.all(t.destinations.map(async (d) => (await repo.cursorsOf(d.id))[0]!));
        await repo.advance(a!.id, 90);
        await repo.setPlan(c!.id, PLAN);
        const s = await repo.start('audit-trail', T0 + 100, 50);
        assert.deepEqual([s.status, s.startLoggingAt, s.updatedAt, s.firstStartAt, s.firstStartSeq], ['Enable', T0 + 100, T0 + 100, T0 + 100, 50]);
        assert.equal((await repo.cursor(a!.id))?.position, 90, 'never back');
        assert.equal((await repo.cursor(b!.id))?.position, 50);
        assert.equal((await repo.cursor(c!.id))?.position, 10, 'a planned cursor is left to its plan');
        const again = await repo.start('audit-trail', T0 + 200, 70);
        assert.deepEqual([again.startLoggingAt, again.firstStartSeq], [T0 + 100, 50], 'starting an Enabled trail changes nothing');
        assert.equal((await repo.cursor(b!.id))?.position, 50);
        await rejectsWith(repo.start('no-such-trail', T0, 0), 'FT_ERR_TRAIL_NOT_FOUND');
      });

      it('records the time between StopLogging and StartLogging as an off range, oldest first; the first start stays', async () => {
        const { cursor } = await trail('audit-trail', [DIR_A], 10);
        await repo.start('audit-trail', T0 + 100, 10);
        const stopped = await repo.stop('audit-trail', T0 + 200);
        assert.deepEqual([stopped.status, stopped.stopLoggingAt, stopped.updatedAt], ['Disable', T0 + 200, T0 + 200]);
        assert.deepEqual([(await repo.stop('audit-trail', T0 + 250)).stopLoggingAt], [T0 + 200], 'stopping a stopped trail changes nothing');
        const restarted = await repo.start('audit-trail', T0 + 300, 99);
        assert.deepEqual([restarted.status, restarted.startLoggingAt, restarted.firstStartAt, restarted.firstStartSeq], ['Enable', T0 + 300, T0 + 100, 10]);
        assert.equal((await repo.cursor(cursor.id))?.position, 10, 'a restart does not move cursors');
        await repo.stop('audit-trail', T0 + 400);
        await repo.start('audit-trail', T0 + 400, 99); // no time passed: no off range
        await repo.stop('audit-trail', T0 + 500);
        await repo.start('audit-trail', T0 + 600, 99);
        assert.deepEqual(await repo.offTimes('audit-trail'), [
          [T0 + 200, T0 + 300],
          [T0 + 500, T0 + 600],
        ]);
        assert.deepEqual(await repo.offTimes('no-such-trail'), []);
        await rejectsWith(repo.stop('no-such-trail', T0), 'FT_ERR_TRAIL_NOT_FOUND');
      });

      it('keeps the owning account and multi-account flag of a trail, through updates, starts and stops; none stored: the management account', async () => {
        const mine = await repo.create(spec('member-trail', [DIR_A]), 'local', T0, 0, MEMBER_A);
        assert.equal(mine.accountId, MEMBER_A);
        assert.equal(mine.isOrganizationTrail, false);
        const managed = await repo.create(spec('managed-trail', [DIR_B], { isOrganizationTrail: true }), 'local', T0, 0);
        assert.equal('accountId' in managed, false, 'no owner stored: the management account');
        assert.equal(managed.isOrganizationTrail, true);
        await repo.update(spec('member-trail', [DIR_C], { eventRW: 'Write' }), T0 + 1, 0);
        await repo.start('member-trail', T0 + 2, 0);
        await repo.stop('member-trail', T0 + 3);
        await repo.update(spec('managed-trail', [DIR_B], { isOrganizationTrail: true }), T0 + 1, 0);
        const other = await space.instance();
        assert.deepEqual((await other.list()).map((t) => [t.name, t.accountId, t.isOrganizationTrail]), [
          ['managed-trail', undefined, true],
          ['member-trail', MEMBER_A, false],
        ]);
        // Names are unique across accounts.
        await rejectsWith(repo.create(spec('member-trail', [DIR_A]), 'local', T0, 0, MEMBER_B), 'FT_ERR_TRAIL_ALREADY_EXISTS');
        assert.equal((await repo.mustGet('member-trail')).accountId, MEMBER_A);
      });

      it('stores a URL with credentials sealed and gives it back whole; a URL without them as it is', async () => {
        const t = await repo.create(spec('audit-trail', [S3, DIR_A]), 'local', T0, 0);
        const [s3, dir] = t.destinations;
        assert.ok(s3!.url.includes(SECRET), 'the sink needs the secret');
        assert.ok(!s3!.display.includes(SECRET));
        const stored = await space.storedUrl(s3!.id);
        assert.ok(isSealed(stored), stored);
        assert.ok(!stored.includes(SECRET) && !stored.includes('AKIDEXAMPLE'));
        assert.equal(await space.storedUrl(dir!.id), DIR_A);
        const other = await space.instance();
        assert.equal((await other.mustGet('audit-trail')).destinations[0]?.url, s3!.url, 'another instance with the same master key opens it');
        assert.equal(await repo.sealStoredCredentials(), 0, 'nothing left in clear');
        const updated = await repo.update(spec('audit-trail', [S3]), T0 + 1, 0);
        assert.equal(updated.destinations[0]?.id, s3!.id, 'the same URL (sealed anew each time) is the same destination');
      });
    });

    describe('cursors, files and dead letters', () => {
      it('advances a cursor forward only, and not while it has a plan', async () => {
        const { cursor } = await trail();
        await repo.advance(cursor.id, 150);
        await repo.advance(cursor.id, 120);
        assert.equal((await repo.cursor(cursor.id))?.position, 150);
        await repo.setPlan(cursor.id, PLAN);
        await repo.advance(cursor.id, 200);
        const c = await repo.cursor(cursor.id);
        assert.equal(c?.position, 150);
        assert.deepEqual(c?.plan, PLAN, 'the plan comes back as it was written, filter included');
        assert.equal(await repo.cursor(999_999), undefined);
      });

      it('records a delivered batch in one go: files, position (never back), plan cleared, events counted, error cleared', async () => {
        const { dest, cursor } = await trail();
        await repo.failed(cursor.id, 'x'.repeat(3000), T0 + 1);
        let c = await repo.cursor(cursor.id);
        assert.deepEqual([c?.lastError?.length, c?.lastErrorAt], [2000, T0 + 1], 'the message is cut at 2000 characters');
        await repo.setPlan(cursor.id, PLAN);
        await repo.delivered(cursor.id, dest.id, 120, 7, [file('k/b.json.gz', 'local', T0 + 60_000), file('k/a.json.gz', 'local', T0 + 60_000)], T0 + 2);
        c = await repo.cursor(cursor.id);
        assert.deepEqual(
          { position: c?.position, plan: c?.plan, deliveredEvents: c?.deliveredEvents, lastDeliveryAt: c?.lastDeliveryAt, lastError: c?.lastError, lastErrorAt: c?.lastErrorAt },
          { position: 120, plan: undefined, deliveredEvents: 7, lastDeliveryAt: T0 + 2, lastError: undefined, lastErrorAt: undefined },
        );
        await repo.delivered(cursor.id, dest.id, 110, 0, [], T0 + 3);
        c = await repo.cursor(cursor.id);
        assert.deepEqual([c?.position, c?.deliveredEvents, c?.lastDeliveryAt], [120, 7, T0 + 2], 'no events: the last delivery stays; never back');
        await repo.delivered(cursor.id, dest.id, 130, 5, [], T0 + 4);
        assert.deepEqual([(await repo.cursor(cursor.id))?.deliveredEvents, (await repo.cursor(cursor.id))?.lastDeliveryAt], [12, T0 + 4]);
        await repo.finish(cursor.id);
        assert.equal((await repo.cursor(cursor.id))?.done, true);
      });

      it('keeps one file per key (a retried batch replaces it) and lists a region’s files in [from, to) by cut time and key', async () => {
        const { dest, cursor } = await trail();
        await repo.delivered(cursor.id, dest.id, 110, 3, [file('k/2.json.gz', 'local', T0 + 2000), file('k/1b.json.gz', 'local', T0 + 1000), file('k/1a.json.gz', 'local', T0 + 1000)], T0);
        await repo.delivered(cursor.id, dest.id, 111, 1, [file('k/0.json.gz', 'cn-hangzhou', T0 + 500), file('k/3.json.gz', 'local', T0 + 3000)], T0);
        await repo.delivered(cursor.id, dest.id, 112, 1, [{ ...file('k/2.json.gz', 'local', T0 + 2000, 'b'.repeat(64)), size: 456 }], T0);
        const files = await repo.filesBetween(dest.id, 'local', T0 + 1000, T0 + 3000);
        assert.deepEqual(files.map((f) => f.key), ['k/1a.json.gz', 'k/1b.json.gz', 'k/2.json.gz']);
        assert.deepEqual(files[2], { ...file('k/2.json.gz', 'local', T0 + 2000, 'b'.repeat(64)), size: 456 });
        assert.deepEqual((await repo.filesBetween(dest.id, 'cn-hangzhou', 0, T0 + 10_000)).map((f) => f.key), ['k/0.json.gz']);
        assert.deepEqual(await repo.filesBetween(dest.id + 1000, 'local', 0, T0 + 10_000), []);
      });

      it('sets dead letters aside once each, pages them newest first, and sums them per destination', async () => {
        const { t, dest, cursor } = await trail('audit-trail', [DIR_A, DIR_B]);
        const events = newEvents(5, { start: T0 });
        const letters = events.map((event, i) => ({ seq: 101 + i, event, code: 'FT_ERR_TRAIL_UNDELIVERABLE', reason: i === 0 ? 'r'.repeat(3000) : `reason ${i}` }));
        assert.deepEqual(await repo.deadLetterSummary(dest.id), { count: 0 });
        assert.equal(await repo.deadLetter(cursor, 'audit-trail', letters.slice(0, 3), T0 + 1), 3);
        assert.equal(await repo.deadLetter(cursor, 'audit-trail', letters.slice(1, 5), T0 + 2), 2, 'a retried batch records only what is new');
        assert.equal(await repo.deadLetter(cursor, 'audit-trail', [], T0 + 3), 0);
        assert.deepEqual(await repo.deadLetterSummary(dest.id), { count: 5, lastAt: T0 + 2 });
        assert.deepEqual(await repo.deadLetterSummary(t.destinations[1]!.id), { count: 0 });

        const first = await repo.deadLetters('audit-trail', 2);
        assert.deepEqual(first.map((l) => l.seq), [105, 104]);
        const rest = await repo.deadLetters('audit-trail', 10, first[1]!.id);
        assert.deepEqual(rest.map((l) => l.seq), [103, 102, 101]);
        const oldest = rest[2]!;
        assert.deepEqual(
          { ...oldest, id: 0 },
          { id: 0, destId: dest.id, trail: 'audit-trail', seq: 101, eventId: events[0]!.eventId, code: 'FT_ERR_TRAIL_UNDELIVERABLE', reason: 'r'.repeat(2000), at: T0 + 1, event: events[0] },
        );
        assert.deepEqual(await repo.deadLetters('other-trail', 10), []);

        const job = await repo.createJob(t, 100, undefined, T0 - 1000, T0, T0);
        const [jobCursor] = (await repo.cursorsOf(t.destinations[1]!.id)).filter((c) => c.jobId === job.id);
        assert.equal(await repo.deadLetter(jobCursor!, 'audit-trail', [{ ...letters[0]!, seq: 7 }], T0 + 4), 1);
        assert.equal((await repo.deadLetters('audit-trail', 1))[0]?.jobId, job.id);
        const [jobCursorA] = (await repo.cursorsOf(dest.id)).filter((c) => c.jobId === job.id);
        assert.equal(await repo.deadLetter(jobCursorA!, 'audit-trail', [letters[0]!], T0 + 5), 0, 'one letter per destination and seq, whichever cursor');
      });
    });

    describe('digest chains', () => {
      it('starts a chain per region once, skips it, and moves it with each digest; the destination’s files are cut after it', async () => {
        const { dest, cursor } = await trail();
        await repo.delivered(cursor.id, dest.id, 110, 2, [file('k/l2', 'local', T0 + 2000), file('k/l1', 'local', T0 + 1000), file('k/h1', 'cn-hangzhou', T0 + 1500)], T0);
        assert.deepEqual(await repo.regionsWithoutChain(dest.id), [
          { region: 'cn-hangzhou', firstCut: T0 + 1500 },
          { region: 'local', firstCut: T0 + 1000 },
        ]);
        await repo.startChain(dest.id, 'local', T0);
        await repo.startChain(dest.id, 'local', T0 + 999_999);
        assert.deepEqual(await repo.chains(dest.id), [{ destId: dest.id, region: 'local', nextStart: T0 }], 'a started chain is not started again');
        assert.deepEqual(await repo.regionsWithoutChain(dest.id), [{ region: 'cn-hangzhou', firstCut: T0 + 1500 }]);

        await repo.skipChain(dest.id, 'local', T0 + 3600_000);
        const [local] = await repo.chains(dest.id);
        assert.deepEqual(local, { destId: dest.id, region: 'local', nextStart: T0 + 3600_000 });
        assert.equal(await repo.minCutAt(dest.id), 0, 'a skip writes no digest');

        await repo.digestFailed(dest.id, 'e'.repeat(3000));
        assert.equal((await repo.mustGet('audit-trail')).destinations[0]?.lastDigestError?.length, 2000);
        await repo.digestWritten(local, T0 + 7200_000, 'digest/1.json.gz', 'c'.repeat(64), 'sig-1', T0 + 7200_500);
        const expected: Chain = { destId: dest.id, region: 'local', nextStart: T0 + 7200_000, lastKey: 'digest/1.json.gz', lastSha256: 'c'.repeat(64), lastSignature: 'sig-1', lastEnd: T0 + 7200_000 };
        assert.deepEqual(await repo.chains(dest.id), [expected]);
        const d = (await repo.mustGet('audit-trail')).destinations[0]!;
        assert.deepEqual([d.minCutAt, d.lastDigestAt, d.lastDigestError], [T0 + 7200_000, T0 + 7200_500, undefined]);
        assert.equal(await repo.minCutAt(dest.id), T0 + 7200_000);

        await repo.startChain(dest.id, 'cn-hangzhou', T0);
        const hz = (await repo.chains(dest.id)).find((c) => c.region === 'cn-hangzhou')!;
        await repo.digestWritten(hz, T0 + 3600_000, 'digest/2.json.gz', 'd'.repeat(64), 'sig-2', T0 + 3600_500);
        assert.equal(await repo.minCutAt(dest.id), T0 + 7200_000, 'the cut bound never goes back');
        assert.equal(await repo.minCutAt(dest.id + 1000), 0, 'an unknown destination has no bound');
      });
    });

    describe('history jobs', () => {
      it('runs one job at a time (across trails and instances), with a cursor per destination and its progress', async () => {
        const { t } = await trail('audit-trail', [DIR_A, DIR_B]);
        const other = (await trail('other-trail', [DIR_C])).t;
        const job = await repo.createJob(t, 500, T0 - 1, T0 - 86_400_000, T0 - 1, T0 + 1);
        assert.deepEqual(job, {
          id: job.id,
          trail: 'audit-trail',
          status: JOB_STATUS.initializing,
          homeRegion: 'local',
          endSeq: 500,
          before: T0 - 1,
          startTime: T0 - 86_400_000,
          endTime: T0 - 1,
          createdAt: T0 + 1,
          updatedAt: T0 + 1,
        });
        assert.equal('accountId' in job, false, "the management account's trail, the management account's job");
        assert.deepEqual(await repo.job(job.id), job);
        const cursors = (await repo.allCursors()).filter((c) => c.jobId === job.id);
        assert.deepEqual(cursors.map((c) => [c.destId, c.position, c.endSeq, c.done]), t.destinations.map((d) => [d.id, 0, 500, false]));
        await rejectsWith(repo.createJob(other, 500, undefined, 0, 1, T0 + 2), 'FT_ERR_TRAIL_HISTORY_JOB_RUNNING');

        await repo.advance(cursors[0]!.id, 200);
        await repo.finish(cursors[1]!.id);
        assert.deepEqual(await repo.jobProgress(job.id), { cursors: 2, done: 1, position: 200, end: 1000 });
        assert.deepEqual(await repo.jobProgress('no-such-job'), { cursors: 0, done: 0, position: 0, end: 0 });

        await repo.setJobStatus(job.id, JOB_STATUS.delivering, T0 + 3);
        await repo.setJobStatus(job.id, JOB_STATUS.complete, T0 + 4);
        await repo.setJobStatus(job.id, JOB_STATUS.failed, T0 + 5, 'too late');
        const done = await repo.job(job.id);
        assert.deepEqual([done?.status, done?.updatedAt, done?.error], [JOB_STATUS.complete, T0 + 4, undefined], 'only a running job changes status');

        // Two instances at once, none running: exactly one job.
        const there = await space.instance();
        const outcomes = await Promise.allSettled([repo.createJob(t, 600, undefined, 0, 1, T0 + 6), there.createJob(other, 600, undefined, 0, 1, T0 + 6)]);
        assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1);
        const refused = outcomes.find((o) => o.status === 'rejected');
        assert.ok(refused?.reason instanceof FlinkTrailError && refused.reason.code === 'FT_ERR_TRAIL_HISTORY_JOB_RUNNING', String(refused?.reason));
      });

      it('pages jobs newest first, for one trail or all of them', async () => {
        const a = (await trail('audit-trail', [DIR_A])).t;
        const b = (await trail('other-trail', [DIR_B])).t;
        const ids: string[] = [];
        for (const [i, t] of [a, b, a].entries()) {
          const j = await repo.createJob(t, 10, undefined, 0, 1, T0 + i);
          await repo.setJobStatus(j.id, i === 1 ? JOB_STATUS.failed : JOB_STATUS.complete, T0 + i, i === 1 ? 'broken' : undefined);
          ids.push(j.id);
        }
        const all = await repo.jobs(undefined, 1, 2);
        assert.deepEqual([all.total, all.jobs.map((j) => j.id)], [3, [ids[2], ids[1]]]);
        assert.deepEqual((await repo.jobs(undefined, 2, 2)).jobs.map((j) => j.id), [ids[0]]);
        const ofA = await repo.jobs('audit-trail', 1, 10);
        assert.deepEqual([ofA.total, ofA.jobs.map((j) => j.id)], [2, [ids[2], ids[0]]]);
        assert.equal((await repo.job(ids[1]!))?.error, 'broken');
        assert.deepEqual(await repo.jobs('no-such-trail', 1, 10), { total: 0, jobs: [] });
        assert.equal(await repo.job('no-such-job'), undefined);
      });

      it("runs one job at a time per account: a job carries its trail's account and pages by it", async () => {
        const mgmt = (await trail('audit-trail', [DIR_A])).t;
        const a = await repo.create(spec('member-a-trail', [DIR_B]), 'local', T0, 0, MEMBER_A);
        const a2 = await repo.create(spec('member-a-other', [DIR_C]), 'local', T0, 0, MEMBER_A);
        const b = await repo.create(spec('member-b-trail', [DIR_B]), 'local', T0, 0, MEMBER_B);
        const jm = await repo.createJob(mgmt, 10, undefined, 0, 1, T0 + 1);
        const ja = await repo.createJob(a, 10, undefined, 0, 1, T0 + 2);
        const jb = await repo.createJob(b, 10, undefined, 0, 1, T0 + 3);
        assert.deepEqual([jm.accountId, ja.accountId, jb.accountId], [undefined, MEMBER_A, MEMBER_B], "another account's running job does not hold one back");
        const refused = await repo.createJob(a2, 10, undefined, 0, 1, T0 + 4).then(
          () => assert.fail('a second job of account A'),
          (err: unknown) => err,
        );
        assert.ok(refused instanceof FlinkTrailError && refused.code === 'FT_ERR_TRAIL_HISTORY_JOB_RUNNING');
        assert.ok(refused.message.includes(ja.id), "the refusal names the account's own running job");
        await repo.setJobStatus(ja.id, JOB_STATUS.complete, T0 + 5);
        const ja2 = await repo.createJob(a2, 10, undefined, 0, 1, T0 + 6);
        const ofA = await repo.jobs(undefined, 1, 10, MEMBER_A);
        assert.deepEqual([ofA.total, ofA.jobs.map((j) => j.id)], [2, [ja2.id, ja.id]]);
        assert.deepEqual((await repo.jobs('member-b-trail', 1, 10, MEMBER_A)).total, 0, "not another account's trail's jobs");
        assert.deepEqual((await repo.jobs(undefined, 1, 10)).total, 4, 'without an account: every account');
        // A trail's jobs keep their account after the trail is gone and its name is another account's.
        await repo.delete('member-b-trail', T0 + 7);
        await repo.create(spec('member-b-trail', [DIR_A]), 'local', T0 + 8, 0, MEMBER_A);
        assert.deepEqual((await repo.jobs('member-b-trail', 1, 10, MEMBER_A)).total, 0);
        assert.deepEqual((await repo.jobs('member-b-trail', 1, 10, MEMBER_B)).jobs.map((j) => [j.id, j.status]), [[jb.id, JOB_STATUS.failed]]);
      });
    });

    describe('leases and fencing', () => {
      it('gives a free lease at token 1, refuses another holder while it runs, and renews for its holder with the same token', async () => {
        const { t } = await trail();
        const there = await space.instance();
        const a = await repo.acquireLease(t.name, 'instance-a', 60_000);
        assert.deepEqual([a?.trail, a?.holder, a?.token], [t.name, 'instance-a', 1]);
        assert.equal(await there.acquireLease(t.name, 'instance-b', 60_000), undefined);
        const renewed = await there.acquireLease(t.name, 'instance-a', 60_000);
        assert.deepEqual([renewed?.holder, renewed?.token], ['instance-a', 1]);
        assert.ok(renewed!.expiresAt >= a!.expiresAt, 'a renewal does not shorten the lease');
        assert.deepEqual(await repo.leases(), [renewed]);
        // A lease is per trail.
        assert.equal((await there.acquireLease('other-trail', 'instance-b', 60_000))?.token, 1);
        assert.deepEqual((await repo.leases()).map((l) => [l.trail, l.holder]), [
          ['audit-trail', 'instance-a'],
          ['other-trail', 'instance-b'],
        ]);
      });

      it('lets another holder take a lease that ran out, with the next token; the old holder cannot renew it', async () => {
        const { t } = await trail();
        const there = await space.instance();
        const a = await repo.acquireLease(t.name, 'instance-a', 200);
        await sleep(350);
        const b = await there.acquireLease(t.name, 'instance-b', 60_000);
        assert.deepEqual([b?.holder, b?.token], ['instance-b', a!.token + 1]);
        assert.equal(await repo.acquireLease(t.name, 'instance-a', 60_000), undefined);
      });

      it('lets another holder take a released lease at once; a release with a stale token changes nothing', async () => {
        const { t } = await trail();
        const there = await space.instance();
        const a = (await repo.acquireLease(t.name, 'instance-a', 60_000))!;
        await repo.releaseLease({ trail: a.trail, holder: 'instance-b', token: a.token });
        await repo.releaseLease({ trail: a.trail, holder: 'instance-a', token: a.token + 5 });
        assert.equal(await there.acquireLease(t.name, 'instance-b', 60_000), undefined, 'releases that do not match leave it held');
        await repo.releaseLease(a);
        const b = await there.acquireLease(t.name, 'instance-b', 60_000);
        assert.deepEqual([b?.holder, b?.token], ['instance-b', 2]);
        await repo.releaseLease(a);
        assert.equal(await repo.acquireLease(t.name, 'instance-a', 60_000), undefined, "the old holder's release does not end the new lease");
      });

      it('commits fenced writes while the token holds; after a takeover every one of the old holder throws FT_ERR_TRAIL_LEASE_LOST and writes nothing', async () => {
        const { t, dest, cursor } = await trail();
        const there = await space.instance();
        const a = (await repo.acquireLease(t.name, 'instance-a', 200))!;
        const fenceA: Fence = { trail: t.name, token: a.token };
        await repo.advance(cursor.id, 110, fenceA);
        await repo.setPlan(cursor.id, PLAN, fenceA);
        await repo.delivered(cursor.id, dest.id, 120, 4, [file('k/1', 'local', T0 + 1000)], T0, fenceA);
        await repo.startChain(dest.id, 'local', T0, fenceA);
        await repo.skipChain(dest.id, 'local', T0 + 10, fenceA);
        const [chain] = await repo.chains(dest.id);
        await repo.digestWritten(chain!, T0 + 20, 'digest/1', 'e'.repeat(64), 'sig', T0 + 21, fenceA);
        assert.equal(await repo.deadLetter(cursor, t.name, [{ seq: 121, event: newEvents(1, { start: T0 })[0]!, code: 'FT_ERR_TRAIL_UNDELIVERABLE', reason: 'no' }], T0, fenceA), 1);
        assert.equal((await repo.cursor(cursor.id))?.position, 120);

        await sleep(350);
        const b = (await there.acquireLease(t.name, 'instance-b', 60_000))!;
        assert.equal(b.token, a.token + 1);
        await repo.setPlan(cursor.id, PLAN, { trail: t.name, token: b.token }); // the new holder writes
        const before = { cursor: await repo.cursor(cursor.id), chains: await repo.chains(dest.id), files: await repo.filesBetween(dest.id, 'local', 0, T0 + 1e9), letters: await repo.deadLetterSummary(dest.id), minCutAt: await repo.minCutAt(dest.id) };

        const stale: (() => Promise<unknown>)[] = [
          () => repo.advance(cursor.id, 500, fenceA),
          () => repo.setPlan(cursor.id, { ...PLAN, from: 400, to: 450 }, fenceA),
          () => repo.delivered(cursor.id, dest.id, 600, 9, [file('k/2', 'local', T0 + 2000)], T0 + 1, fenceA),
          () => repo.deadLetter(cursor, t.name, [{ seq: 601, event: newEvents(1, { start: T0 })[0]!, code: 'FT_ERR_TRAIL_UNDELIVERABLE', reason: 'no' }], T0, fenceA),
          () => repo.finish(cursor.id, fenceA),
          () => repo.startChain(dest.id, 'cn-hangzhou', T0, fenceA),
          () => repo.skipChain(dest.id, 'local', T0 + 99, fenceA),
          () => repo.digestWritten(chain!, T0 + 90, 'digest/9', 'f'.repeat(64), 'sig-9', T0 + 91, fenceA),
        ];
        for (const write of stale) await rejectsWith(write(), 'FT_ERR_TRAIL_LEASE_LOST');
        const after = { cursor: await repo.cursor(cursor.id), chains: await repo.chains(dest.id), files: await repo.filesBetween(dest.id, 'local', 0, T0 + 1e9), letters: await repo.deadLetterSummary(dest.id), minCutAt: await repo.minCutAt(dest.id) };
        assert.deepEqual(after, before);
        assert.equal(after.cursor?.done, false);
      });

      it('refuses a fenced write on a trail with no lease (never taken, or deleted since)', async () => {
        const { t, dest, cursor } = await trail();
        await rejectsWith(repo.advance(cursor.id, 500, { trail: t.name, token: 1 }), 'FT_ERR_TRAIL_LEASE_LOST');
        await rejectsWith(repo.startChain(dest.id, 'local', T0, { trail: t.name, token: 1 }), 'FT_ERR_TRAIL_LEASE_LOST');
        assert.equal((await repo.cursor(cursor.id))?.position, 100);
        assert.deepEqual(await repo.chains(dest.id), []);
        // Without a fence, writes are unconditional.
        await repo.advance(cursor.id, 500);
        assert.equal((await repo.cursor(cursor.id))?.position, 500);
      });
    });
  });
}
