/**
 * The delivery engine: one worker per cursor (a destination's live delivery, or its share of a
 * history job), each reading the store in append order (`store.scan`) from its durable
 * position.
 *
 * - Bucket and directory destinations gather selected events for `windowSeconds` (or until
 *   `maxEventsPerFile` / `maxFileBytes`), then write the batch's bounds down (the plan) and
 *   upload one gzip file per region; only when every file is stored does the position move.
 *   A retry rebuilds the same files from the same events under the same keys.
 * - Kafka and syslog destinations send small batches as soon as events are committed (every
 *   `pollIntervalMs`), then move the position.
 * - Failures are retried forever with exponential backoff and jitter: nothing is skipped. The
 *   error is kept on the cursor (GetTrailStatus shows it) and counted in metrics; the first
 *   success clears it.
 * - Except failures that retrying cannot fix, because they are about an event, not the
 *   destination (undeliverable.ts): an event whose region cannot be part of an object key, a
 *   record the destination refuses as such. Those events are set aside as dead letters — a copy
 *   in `trail_dead_letters`, an event `TrailEventsDeadLettered`, a count in GetTrailStatus — and
 *   delivery goes on with the next, so one bad input never blocks a trail. A record batch that
 *   fails so is sent again one event at a time to find the one to set aside.
 * - Digest chains are kept by the live worker of each bucket/directory destination.
 *
 * `stop()` gives gathered batches `stopTimeoutMs` to go out; what does not stays in the store
 * and is delivered after the next start.
 */
import type { Config } from '../config/index.js';
import { serviceEvent } from '../event/build.js';
import type { ActionTrailEvent } from '../event/types.js';
import type { EventStore } from '../store/types.js';
import type { Logger } from '../telemetry/logger.js';
import { writeDigest, type DigestBody } from './digest/format.js';
import type { DigestKeys } from './digest/keys.js';
import { isObjectDestination } from './destination.js';
import { buildFiles, digestKey, keyProblem, logPath, pathAccount, pathRegion, sha256Hex, type AccountLayout } from './layout.js';
import type { TrailMetrics } from './metrics.js';
import { JOB_STATUS, resourceDirectoryId, trailAccount, wants, type DeliveryFilter } from './model.js';
import { FlinkTrailError } from '../errors/index.js';
import type { Chain, Cursor, Fence, Lease, Plan, StoredDestination, TrailRecord, TrailRepository } from './repository.js';
import { keyPrefix, type ObjectStore, type RecordSink } from './sinks/index.js';
import { permanentCode } from './undeliverable.js';

export interface EngineDeps {
  repo: TrailRepository;
  store: EventStore;
  keys: DigestKeys;
  config: Readonly<Config['trails']>;
  /** The management account (`Config.accountId`). */
  accountId: string;
  log: Logger;
  metrics: TrailMetrics;
  openObjectStore(d: StoredDestination): ObjectStore;
  openRecordSink(d: StoredDestination): RecordSink;
  /** Records FlinkTrail's own events (dead letters); absent in unit tests that do not look. */
  recordEvent?(e: ActionTrailEvent): Promise<void>;
  /** Who this instance is in trail leases (`<host>:<pid>:<random>`). */
  holder: string;
  /** `acsRegion` of FlinkTrail's own events. */
  region?: string;
  now?: () => number;
}

/** The event name of FlinkTrail's record that events were set aside. */
export const DEAD_LETTER_EVENT = 'TrailEventsDeadLettered';

/** An event the store holds, with its position. */
interface Positioned {
  seq: number;
  event: ActionTrailEvent;
}

/** An event to set aside, and why. */
interface Letter extends Positioned {
  code: string;
  reason: string;
}

const SCAN_PAGE = 1000;

/** Error text safe for status, logs and events: never a credential. */
function describe(err: unknown): string {
  const e = err as Error & { $metadata?: { httpStatusCode?: number }; code?: string };
  const parts = [e.name && e.name !== 'Error' ? e.name : '', e.code ?? '', e.message ?? String(err)].filter(Boolean);
  if (e.$metadata?.httpStatusCode) parts.push(`HTTP ${e.$metadata.httpStatusCode}`);
  return parts
    .join(': ')
    .replace(/(secretAccessKey|sessionToken|accessKeyId)=[^&\s]*/gi, '$1=******')
    .slice(0, 1000);
}

interface OpenBatch {
  scanned: number;
  count: number;
  bytes: number;
  openedAt: number;
}

class Worker {
  private running = true;
  private wakeUp: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private open: OpenBatch | undefined;
  private objects: ObjectStore | undefined;
  private records: RecordSink | undefined;
  private lastDigestCheck = 0;
  private lastFailureLog = 0;
  flushing = false;
  readonly done: Promise<void>;

  constructor(
    private readonly e: DeliveryEngine,
    private readonly d: EngineDeps,
    readonly cursorId: number,
    readonly trail: string,
    readonly kind: string,
  ) {
    this.done = this.loop();
  }

  wake(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const w = this.wakeUp;
    this.wakeUp = undefined;
    w?.();
  }

  async halt(): Promise<void> {
    this.running = false;
    this.wake();
    await this.done;
    await this.objects?.close().catch(() => undefined);
    await this.records?.close().catch(() => undefined);
  }

  /** True when nothing gathered is waiting to go out. */
  async idle(): Promise<boolean> {
    if (this.open) return false;
    const c = await this.d.repo.cursor(this.cursorId).catch(() => undefined);
    return !c?.plan;
  }

  /** The fence of this worker's trail: throws FT_ERR_TRAIL_LEASE_LOST once the engine no longer holds its lease. */
  private fence(): Fence {
    return this.e.fence(this.trail);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wakeUp = resolve;
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.wakeUp = undefined;
        resolve();
      }, ms);
    });
  }

  private async loop(): Promise<void> {
    await Promise.resolve();
    while (this.running) {
      let progressed = false;
      try {
        progressed = await this.step();
        if (this.failures > 0) {
          this.d.log.info({ trail: this.trail, destination: this.kind, failures: this.failures }, 'Trail delivery recovered; catching up.');
        }
        this.failures = 0;
      } catch (err) {
        if (err instanceof FlinkTrailError && err.code === 'FT_ERR_TRAIL_LEASE_LOST') {
          // Another instance delivers this trail now; it goes on from the last recorded position.
          this.d.log.warn({ trail: this.trail, destination: this.kind }, 'The delivery lease of this trail was lost; this instance stops delivering it.');
          this.e.leaseLost(this.trail);
          break;
        }
        const gone = await this.d.repo.cursor(this.cursorId).then(
          (c) => c === undefined,
          () => false,
        );
        if (gone) break; // the trail or destination was deleted meanwhile
        this.failures++;
        const msg = describe(err);
        await this.d.repo.failed(this.cursorId, msg, this.now()).catch(() => undefined);
        this.d.metrics.failures.inc({ trail: this.trail, destination: this.kind });
        // The first failure and then at most one line a minute: a long outage must not flood the
        // log (every attempt is counted in metrics, the last error is in GetTrailStatus).
        if (this.failures === 1 || this.now() - this.lastFailureLog >= 60_000) {
          this.lastFailureLog = this.now();
          this.d.log.warn(
            { trail: this.trail, destination: this.kind, err: msg, attempt: this.failures },
            'Trail delivery failed; the batch will be retried (nothing is skipped).',
          );
        }
        // A broken connection is rebuilt on the next attempt.
        await this.records?.close().catch(() => undefined);
        this.records = undefined;
      }
      if (!this.running) break;
      const r = this.d.config.retry;
      const delay = this.failures
        ? Math.min(r.maxBackoffMs, r.initialBackoffMs * 2 ** Math.min(this.failures - 1, 20)) * (0.5 + Math.random() / 2)
        : progressed
          ? 0
          : this.d.config.pollIntervalMs;
      if (delay === 0) await new Promise((res) => setImmediate(res));
      else await this.sleep(delay);
    }
  }

  private now(): number {
    return this.d.now?.() ?? Date.now();
  }

  /** One unit of work; true if it moved something (then the next runs at once). */
  private async step(): Promise<boolean> {
    const t = await this.d.repo.get(this.trail);
    const c = await this.d.repo.cursor(this.cursorId);
    const dest = t?.destinations.find((x) => x.id === c?.destId);
    if (!t || !c || !dest || c.done) {
      this.running = false;
      return false;
    }
    let progressed: boolean;
    if (isObjectDestination(dest)) {
      progressed = await this.stepObjects(t, c, dest);
      if (!c.jobId && this.now() - this.lastDigestCheck >= Math.min(1000, this.d.config.pollIntervalMs * 5)) {
        this.lastDigestCheck = this.now();
        await this.digests(t, dest);
      }
    } else {
      progressed = await this.stepRecords(t, c, dest);
    }
    await this.lag(c);
    return progressed;
  }

  private async lag(c: Cursor): Promise<void> {
    if (c.jobId) return;
    const cur = await this.d.repo.cursor(c.id);
    if (!cur) return;
    const last = await this.d.store.lastSeq();
    this.d.metrics.lag.set({ trail: this.trail, destination: this.kind }, Math.max(0, last - cur.position));
  }

  /** The last seq this cursor may deliver now. */
  private upper(t: TrailRecord, c: Cursor): number {
    if (c.endSeq !== undefined) return c.endSeq;
    switch (t.status) {
      case 'Enable':
      case 'Disable': // still reading: operations that happened before the stop may commit later
        return Number.POSITIVE_INFINITY;
      case 'Fresh':
        return c.position;
    }
  }

  /**
   * Whose events a trail delivers: an ordinary trail its own account's (the management
   * account's trail: the management account's, not its members'), a multi-account trail every
   * account's. The management account is written down either way: it names the account of
   * events that carry none, and the multi-account paths.
   */
  private accounts(t: TrailRecord): Pick<DeliveryFilter, 'account' | 'managementAccount'> {
    const managementAccount = this.d.accountId;
    return t.isOrganizationTrail ? { managementAccount } : { account: trailAccount(t, managementAccount), managementAccount };
  }

  /** Which events this cursor delivers, now. */
  private async filter(t: TrailRecord, c: Cursor): Promise<DeliveryFilter> {
    if (c.jobId) {
      // A history job obeys the same account rule as live delivery.
      const job = await this.d.repo.job(c.jobId);
      return { eventRW: t.eventRW, trailRegion: t.trailRegion, ...this.accounts(t), ...(job?.before !== undefined ? { until: job.before } : {}), off: [] };
    }
    return {
      eventRW: t.eventRW,
      trailRegion: t.trailRegion,
      ...this.accounts(t),
      ...(t.firstStartAt !== undefined ? { since: t.firstStartAt } : {}),
      ...(t.status === 'Disable' && t.stopLoggingAt !== undefined ? { until: t.stopLoggingAt } : {}),
      off: await this.d.repo.offTimes(t.name),
    };
  }

  private async finishIfDone(t: TrailRecord, c: Cursor, position: number): Promise<void> {
    if (c.endSeq === undefined || position < c.endSeq || c.plan) return;
    await this.d.repo.finish(c.id, this.fence());
    this.running = false;
    if (c.jobId) await this.e.jobCursorDone(c.jobId, t.name);
  }

  // --- buckets and directories ---

  private objectStore(dest: StoredDestination): ObjectStore {
    this.objects ??= this.d.openObjectStore(dest);
    return this.objects;
  }

  private async stepObjects(t: TrailRecord, c: Cursor, dest: StoredDestination): Promise<boolean> {
    if (c.jobId) await this.e.jobStarted(c.jobId);
    if (c.plan) {
      await this.deliverPlan(t, c, dest, c.plan);
      await this.finishIfDone(t, c, c.plan.to);
      return true;
    }
    const upper = this.upper(t, c);
    const from = Math.max(this.open?.scanned ?? c.position, c.position);
    if (from >= upper) {
      if (this.open) return this.cut(t, c, dest);
      await this.finishIfDone(t, c, c.position);
      return false;
    }
    const page = await this.d.store.scan(from, SCAN_PAGE);
    const filter = await this.filter(t, c);
    const max = this.d.config;
    let scanned = from;
    for (const p of page) {
      if (p.seq > upper) break;
      scanned = p.seq;
      if (!wants(filter, p.event)) continue;
      this.open ??= { scanned, count: 0, bytes: 0, openedAt: this.now() };
      this.open.count++;
      this.open.bytes += JSON.stringify(p.event).length + 2;
      this.open.scanned = scanned;
      if (this.open.count >= max.maxEventsPerFile || this.open.bytes >= max.maxFileBytes) return this.cut(t, c, dest);
    }
    if (!this.open) {
      if (scanned > c.position) await this.d.repo.advance(c.id, scanned, this.fence());
      return scanned > from;
    }
    this.open.scanned = scanned;
    const windowOver = this.now() - this.open.openedAt >= max.windowSeconds * 1000;
    // History jobs and stopped trails do not wait for a window: the events are all there.
    const atEnd = Number.isFinite(upper) && scanned >= upper;
    if (windowOver || atEnd || this.flushing || c.jobId) {
      if (c.jobId && !atEnd && page.length === SCAN_PAGE) return true; // keep gathering up to the size limits
      return this.cut(t, c, dest);
    }
    return scanned > from;
  }

  private async cut(t: TrailRecord, c: Cursor, dest: StoredDestination): Promise<boolean> {
    const open = this.open;
    this.open = undefined;
    if (!open) return false;
    const plan: Plan = {
      from: c.position,
      to: open.scanned,
      cutAt: Math.max(this.now(), await this.d.repo.minCutAt(dest.id)),
      filter: await this.filter(t, c),
    };
    await this.d.repo.setPlan(c.id, plan, this.fence());
    await this.deliverPlan(t, c, dest, plan);
    await this.finishIfDone(t, c, plan.to);
    return true;
  }

  private async planEvents(t: TrailRecord, plan: Plan): Promise<Positioned[]> {
    const out: Positioned[] = [];
    let pos = plan.from;
    while (pos < plan.to) {
      const page = await this.d.store.scan(pos, Math.min(SCAN_PAGE, plan.to - pos));
      if (page.length === 0) {
        this.d.log.error(
          { trail: t.name, from: pos, to: plan.to },
          'Events of a planned trail file are no longer in the store (purged by retention?); the file is delivered without them.',
        );
        break;
      }
      for (const p of page) {
        if (p.seq > plan.to) break;
        pos = p.seq;
        if (wants(plan.filter, p.event)) out.push({ seq: p.seq, event: p.event });
      }
    }
    return out;
  }

  /** The multi-account layout of a trail's files, or undefined for an ordinary trail; by the plan's management account, so a retry builds the same keys. */
  private layout(t: TrailRecord, plan?: Plan): AccountLayout | undefined {
    if (!t.isOrganizationTrail) return undefined;
    const managementAccountId = plan?.filter.managementAccount ?? this.d.accountId;
    return { rdId: resourceDirectoryId(managementAccountId), managementAccountId };
  }

  private async deliverPlan(t: TrailRecord, c: Cursor, dest: StoredDestination, plan: Plan): Promise<void> {
    const planned = await this.planEvents(t, plan);
    const layout = this.layout(t, plan);
    // Events that cannot be part of a key (stored before the naming rule was enforced at ingest).
    const letters: Letter[] = [];
    const keyed: Positioned[] = [];
    for (const p of planned) {
      const problem = keyProblem(p.event, layout);
      if (problem) letters.push({ ...p, code: 'FT_ERR_TRAIL_UNDELIVERABLE', reason: problem });
      else keyed.push(p);
    }
    const built = buildFiles(
      keyPrefix(dest),
      plan.cutAt,
      keyed.map((p) => p.event),
      layout,
    );
    const store = this.objectStore(dest);
    const files: typeof built = [];
    for (const f of built) {
      try {
        this.fence(); // never write a file for a trail another instance delivers now
        await store.put(f.key, f.body);
        files.push(f);
      } catch (err) {
        const code = permanentCode(err);
        if (!code) throw err;
        const reason = `${f.key}: ${describe(err)}`;
        for (const i of f.members) letters.push({ ...(keyed[i] as Positioned), code, reason });
      }
    }
    if (letters.length) await this.setAside(t, c, dest, letters);
    const events = files.flatMap((f) => f.members.map((i) => (keyed[i] as Positioned).event));
    const now = this.now();
    await this.d.repo.delivered(
      c.id,
      dest.id,
      plan.to,
      events.length,
      files.map((f) => ({ key: f.key, region: f.path, cutAt: plan.cutAt, sha256: f.sha256, size: f.body.length, events: f.events, oldest: f.oldest, newest: f.newest })),
      now,
      this.fence(),
    );
    const labels = { trail: t.name, destination: this.kind };
    this.d.metrics.events.inc(labels, events.length);
    this.d.metrics.files.inc(labels, files.length);
    this.d.metrics.bytes.inc(labels, files.reduce((n, f) => n + f.body.length, 0));
    for (const e of events) this.d.metrics.latency.observe({ destination: this.kind }, Math.max(0, now - Date.parse(e.eventTime)) / 1000);
    if (files.length) this.d.log.debug({ trail: t.name, destination: dest.display, files: files.map((f) => f.key), events: events.length }, 'Trail files delivered.');
  }

  // --- Kafka and syslog ---

  private async stepRecords(t: TrailRecord, c: Cursor, dest: StoredDestination): Promise<boolean> {
    if (c.jobId) await this.e.jobStarted(c.jobId);
    const upper = this.upper(t, c);
    if (c.position >= upper) {
      await this.finishIfDone(t, c, c.position);
      return false;
    }
    const page = await this.d.store.scan(c.position, this.d.config.streamBatchSize);
    const filter = await this.filter(t, c);
    const selected: Positioned[] = [];
    let scanned = c.position;
    for (const p of page) {
      if (p.seq > upper) break;
      scanned = p.seq;
      if (wants(filter, p.event)) selected.push({ seq: p.seq, event: p.event });
    }
    if (scanned === c.position) return false;
    if (selected.length) {
      this.records ??= this.d.openRecordSink(dest);
      try {
        this.fence();
        await this.records.send(selected.map((p) => p.event));
        await this.recordsDelivered(t, c, dest, scanned, selected);
      } catch (err) {
        if (!permanentCode(err)) throw err;
        // Some event of the batch can never be taken: find it, one event at a time.
        await this.isolate(t, c, dest, selected);
        await this.d.repo.advance(c.id, scanned, this.fence());
      }
    } else {
      await this.d.repo.advance(c.id, scanned, this.fence());
    }
    await this.finishIfDone(t, c, scanned);
    return true;
  }

  private async recordsDelivered(t: TrailRecord, c: Cursor, dest: StoredDestination, position: number, sent: readonly Positioned[]): Promise<void> {
    const now = this.now();
    await this.d.repo.delivered(c.id, dest.id, position, sent.length, [], now, this.fence());
    this.d.metrics.events.inc({ trail: t.name, destination: this.kind }, sent.length);
    for (const p of sent) this.d.metrics.latency.observe({ destination: this.kind }, Math.max(0, now - Date.parse(p.event.eventTime)) / 1000);
  }

  /** Sends events one at a time; sets aside those refused for good, stops (throws) at a transient failure. */
  private async isolate(t: TrailRecord, c: Cursor, dest: StoredDestination, batch: readonly Positioned[]): Promise<void> {
    for (const p of batch) {
      this.records ??= this.d.openRecordSink(dest);
      try {
        this.fence();
        await this.records.send([p.event]);
        await this.recordsDelivered(t, c, dest, p.seq, [p]);
      } catch (err) {
        const code = permanentCode(err);
        if (!code) throw err;
        await this.setAside(t, c, dest, [{ ...p, code, reason: describe(err) }]);
        await this.d.repo.advance(c.id, p.seq, this.fence());
      }
    }
  }

  // --- dead letters ---

  /** Records events as dead letters: table, metrics, a log line and FlinkTrail's own event. */
  private async setAside(t: TrailRecord, c: Cursor, dest: StoredDestination, letters: readonly Letter[]): Promise<void> {
    const added = await this.d.repo.deadLetter(c, t.name, letters, this.now(), this.fence());
    if (added === 0) return; // a retried batch: already recorded
    const labels = { trail: t.name, destination: this.kind };
    this.d.metrics.deadLetters.inc(labels, added);
    const first = letters[0] as Letter;
    this.d.log.warn(
      { trail: t.name, destination: dest.display, events: added, code: first.code, reason: first.reason, eventIds: letters.slice(0, 10).map((l) => l.event.eventId) },
      'Trail events that the destination can never take were set aside as dead letters; delivery goes on.',
    );
    if (!this.d.recordEvent) return;
    const record = serviceEvent({
      eventName: DEAD_LETTER_EVENT,
      acsRegion: this.d.region ?? t.homeRegion,
      sourceIpAddress: '',
      userAgent: 'flinktrail-trails',
      userIdentity: { type: 'assumed-role', principalId: 'flinktrail/trail-delivery', accountId: this.d.accountId, userName: 'flinktrail-trails' },
      requestId: `dead-letter-${c.id}-${first.seq}`,
      // The trail's account's record (a multi-account trail's: the management account's).
      recipientAccountId: trailAccount(t, this.d.accountId),
      requestParameters: { trail: t.name, destination: dest.display, ...(c.jobId ? { jobId: c.jobId } : {}) },
      referencedResources: { 'ACS::ActionTrail::Trail': [t.name] },
      additionalEventData: { sensitive: false },
      responseElements: {
        deadLetters: added,
        code: first.code,
        reason: first.reason.slice(0, 500),
        eventIds: letters.slice(0, 100).map((l) => l.event.eventId),
      },
    });
    this.d.recordEvent(record).catch((err: unknown) =>
      this.d.log.error({ trail: t.name, err: (err as Error).message }, 'Recording the dead-letter event failed (the dead letters themselves are stored).'),
    );
  }

  // --- digests ---

  private async digests(t: TrailRecord, dest: StoredDestination): Promise<void> {
    const I = t.digestInterval * 1000;
    const now = this.now();
    const floorI = (ms: number) => Math.floor(ms / I) * I;
    // The home region's chain runs from the start, files or not (a multi-account trail's: the
    // management account's path); other paths' chains start with their first file.
    const layout = this.layout(t);
    const home = logPath(t.homeRegion, layout && { rdId: layout.rdId, accountId: layout.managementAccountId });
    if (t.status !== 'Fresh') await this.d.repo.startChain(dest.id, home, floorI(t.startLoggingAt ?? now), this.fence());
    for (const r of await this.d.repo.regionsWithoutChain(dest.id)) await this.d.repo.startChain(dest.id, r.region, floorI(r.firstCut), this.fence());
    for (const chain of await this.d.repo.chains(dest.id)) {
      try {
        await this.digestChain(t, dest, chain, I, now);
      } catch (err) {
        if (err instanceof FlinkTrailError && err.code === 'FT_ERR_TRAIL_LEASE_LOST') throw err;
        const msg = describe(err);
        await this.d.repo.digestFailed(dest.id, msg);
        this.d.metrics.failures.inc({ trail: t.name, destination: this.kind });
        this.d.log.warn({ trail: t.name, destination: this.kind, region: chain.region, err: msg }, 'Writing a trail digest failed; it will be retried.');
        return;
      }
    }
  }

  private loggingOff(t: TrailRecord, s: number, e: number): boolean {
    switch (t.status) {
      case 'Fresh':
        return true;
      case 'Disable':
        return t.stopLoggingAt !== undefined && t.stopLoggingAt <= s;
      case 'Enable':
        return t.stopLoggingAt !== undefined && t.stopLoggingAt <= s && (t.startLoggingAt ?? 0) >= e;
    }
  }

  private async digestChain(t: TrailRecord, dest: StoredDestination, chain: Chain, I: number, now: number): Promise<void> {
    for (let guard = 0; guard < 1000; guard++) {
      const s = chain.nextStart;
      const e = Math.floor(s / I) * I + I;
      if (now < e) return;
      // A batch cut before e but not yet stored belongs in this digest: wait for it.
      if ((await this.d.repo.cursorsOf(dest.id)).some((c) => c.plan && c.plan.cutAt < e)) return;
      const files = await this.d.repo.filesBetween(dest.id, chain.region, s, e);
      if (files.length === 0 && this.loggingOff(t, s, e)) {
        // Logging was off: no digest, the chain resumes (linked to its last digest) later.
        const target = t.status === 'Enable' ? Math.floor((t.startLoggingAt ?? now) / I) * I : Math.floor(now / I) * I;
        const later = await this.d.repo.filesBetween(dest.id, chain.region, s, Math.max(target, e));
        const next = later.length ? Math.max(e, Math.floor((later[0] as { cutAt: number }).cutAt / I) * I) : Math.max(target, e);
        await this.d.repo.skipChain(dest.id, chain.region, next, this.fence());
        chain.nextStart = next;
        if (t.status !== 'Enable' && !later.length) return;
        continue;
      }
      const key = digestKey(keyPrefix(dest), chain.region, t.name, e);
      const signer = await this.d.keys.active(now);
      let oldest: string | null = null;
      let newest: string | null = null;
      for (const f of files) {
        if (oldest === null || f.oldest < oldest) oldest = f.oldest;
        if (newest === null || f.newest > newest) newest = f.newest;
      }
      const body: DigestBody = {
        digestVersion: 1,
        trailName: t.name,
        // The account whose files the digest lists: of its path (multi-account), else the trail's.
        accountId: pathAccount(chain.region) ?? trailAccount(t, this.d.accountId),
        region: pathRegion(chain.region),
        destination: dest.display,
        digestStartTime: new Date(s).toISOString(),
        digestEndTime: new Date(e).toISOString(),
        digestObject: key,
        signedAt: new Date(now).toISOString(),
        digestInterval: t.digestInterval,
        publicKeyFingerprint: signer.fingerprint,
        signatureAlgorithm: 'Ed25519',
        previousDigestObject: chain.lastKey ?? null,
        previousDigestHashValue: chain.lastSha256 ?? null,
        previousDigestHashAlgorithm: 'SHA-256',
        previousDigestSignature: chain.lastSignature ?? null,
        oldestEventTime: oldest,
        newestEventTime: newest,
        logFiles: files.map((f) => ({
          object: f.key,
          hashValue: f.sha256,
          hashAlgorithm: 'SHA-256',
          size: f.size,
          eventCount: f.events,
          oldestEventTime: f.oldest,
          newestEventTime: f.newest,
        })),
      };
      const { bytes, signature } = writeDigest(body, signer.privateKey);
      this.fence();
      await this.objectStore(dest).put(key, bytes);
      const sha = sha256Hex(bytes);
      await this.d.repo.digestWritten(chain, e, key, sha, signature, now, this.fence());
      this.d.metrics.digests.inc({ trail: t.name, destination: this.kind });
      Object.assign(chain, { nextStart: e, lastKey: key, lastSha256: sha, lastSignature: signature, lastEnd: e });
    }
  }
}

/** A lease this instance holds, and until when (this process's clock) it may act on it. */
interface Held {
  lease: Lease;
  validUntil: number;
}

/**
 * Runs the workers of the trails whose lease this instance holds. Every `renewMs` it lists the
 * open cursors, takes or renews the lease of each trail that has one (`trails.leaseSeconds`),
 * lets go of the others, and starts or stops workers to match. A lease is acted on only while
 * more than a third of it is left by this process's clock, counted from before it was asked
 * for: so a holder stops writing files and digests before the lease can run out in the
 * database, and a successor that takes it over afterwards finds every position, plan and chain
 * as the last fenced write left them.
 */
export class DeliveryEngine {
  private readonly workers = new Map<number, Worker>();
  private readonly held = new Map<string, Held>();
  private syncTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private syncing: Promise<void> | undefined;
  private again = false;

  constructor(private readonly d: EngineDeps) {}

  private get ttlMs(): number {
    return this.d.config.leaseSeconds * 1000;
  }

  /** How often leases are renewed and cursors listed: a third of the lease, at most every 2 s. */
  get renewMs(): number {
    return Math.min(2000, Math.floor(this.ttlMs / 3));
  }

  start(): void {
    this.poke();
    // Renews leases and picks up changes made elsewhere (another instance, another process).
    this.syncTimer = setInterval(() => this.poke(), this.renewMs);
    this.syncTimer.unref();
  }

  /** Runs `sync` soon: one at a time, and once more after the running one if poked meanwhile. */
  poke(): void {
    if (this.stopped) return;
    if (this.syncing) {
      this.again = true;
      return;
    }
    this.syncing = this.sync()
      .catch((err: unknown) => this.d.log.warn({ err: describe(err) }, 'Trail delivery could not read its trails; retrying.'))
      .finally(() => {
        this.syncing = undefined;
        if (this.again) {
          this.again = false;
          this.poke();
        }
      });
  }

  /** Takes or renews the leases of trails with open cursors, then starts a worker for every open cursor of a held trail and stops the rest. */
  async sync(): Promise<void> {
    if (this.stopped) return;
    const cursors = (await this.d.repo.allCursors()).filter((c) => !c.done);
    const wanted = new Set(cursors.map((c) => c.trail));
    for (const trail of wanted) await this.claim(trail);
    for (const [trail, h] of this.held) {
      if (wanted.has(trail)) continue;
      this.held.delete(trail);
      await this.d.repo.releaseLease(h.lease).catch(() => undefined);
    }
    if (this.stopped) return;
    const live = new Set(cursors.filter((c) => this.held.has(c.trail)).map((c) => c.id));
    for (const [id, w] of this.workers) {
      if (!live.has(id)) {
        this.workers.delete(id);
        void w.halt();
      }
    }
    const trails = new Map<string, TrailRecord | undefined>();
    for (const c of cursors) {
      if (!live.has(c.id)) continue;
      const existing = this.workers.get(c.id);
      if (existing) {
        existing.wake();
        continue;
      }
      if (!trails.has(c.trail)) trails.set(c.trail, await this.d.repo.get(c.trail));
      const dest = trails.get(c.trail)?.destinations.find((x) => x.id === c.destId);
      if (!dest || this.stopped || this.workers.has(c.id)) continue;
      const w = new Worker(this, this.d, c.id, c.trail, dest.kind);
      this.workers.set(c.id, w);
      void w.done.then(() => {
        if (this.workers.get(c.id) === w) this.workers.delete(c.id);
      });
    }
  }

  /** Takes or renews one trail's lease. A failure to ask keeps what is held until it runs out by this process's clock. */
  private async claim(trail: string): Promise<void> {
    const asked = Date.now();
    let lease: Lease | undefined;
    try {
      lease = await this.d.repo.acquireLease(trail, this.d.holder, this.ttlMs);
    } catch (err) {
      this.d.log.warn({ trail, err: describe(err) }, 'The delivery lease of a trail could not be renewed; retrying.');
      return;
    }
    const before = this.held.get(trail);
    if (!lease) {
      if (before) this.d.log.warn({ trail }, 'Another instance holds the delivery lease of this trail now; this one stops delivering it.');
      this.held.delete(trail);
      return;
    }
    if (!before || before.lease.token !== lease.token) this.d.log.info({ trail, token: lease.token }, 'This instance took the delivery lease of a trail and delivers it.');
    this.held.set(trail, { lease, validUntil: asked + this.ttlMs });
  }

  /** The fence of a held trail; FT_ERR_TRAIL_LEASE_LOST when not held or less than a third of it is left. */
  fence(trail: string): Fence {
    const h = this.held.get(trail);
    if (!h || Date.now() > h.validUntil - Math.floor(this.ttlMs / 3)) throw new FlinkTrailError('FT_ERR_TRAIL_LEASE_LOST', trail);
    return { trail, token: h.lease.token };
  }

  /** A worker found its trail's lease gone: forget it (the next sync asks again). */
  leaseLost(trail: string): void {
    this.held.delete(trail);
    this.poke();
  }

  /** The trails this instance delivers now. */
  heldTrails(): string[] {
    return [...this.held.keys()].sort();
  }

  async jobStarted(jobId: string): Promise<void> {
    const j = await this.d.repo.job(jobId);
    if (j?.status === JOB_STATUS.initializing) await this.d.repo.setJobStatus(jobId, JOB_STATUS.delivering, Date.now());
  }

  async jobCursorDone(jobId: string, trail: string): Promise<void> {
    const p = await this.d.repo.jobProgress(jobId);
    if (p.cursors > 0 && p.done >= p.cursors) {
      await this.d.repo.setJobStatus(jobId, JOB_STATUS.complete, Date.now());
      this.d.log.info({ jobId, trail }, 'Delivery history job complete.');
    }
  }

  /** Stops every worker (first gives gathered batches up to `stopTimeoutMs` to be delivered), then lets go of the leases. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.syncTimer) clearInterval(this.syncTimer);
    await this.syncing;
    const workers = [...this.workers.values()];
    const deadline = Date.now() + this.d.config.stopTimeoutMs;
    for (const w of workers) {
      w.flushing = true;
      w.wake();
    }
    const busy = async () => (await Promise.all(workers.map((w) => w.idle()))).some((idle) => !idle);
    while (Date.now() < deadline && (await busy())) await new Promise((r) => setTimeout(r, 20));
    await Promise.all(workers.map((w) => w.halt()));
    this.workers.clear();
    // Let another instance take over at once rather than after the lease runs out.
    await Promise.all([...this.held.values()].map((h) => this.d.repo.releaseLease(h.lease).catch(() => undefined)));
    this.held.clear();
  }
}
