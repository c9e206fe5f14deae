/**
 * Trail operations behind the API (and the ActionTrail-compatible names they are audited
 * under): CreateTrail, UpdateTrail, DeleteTrail, DescribeTrails, GetTrailStatus,
 * StartLogging, StopLogging, CreateDeliveryHistoryJob, ListDeliveryHistoryJobs, and the
 * digest public keys. Answers use ActionTrail's field names; destination URLs only ever
 * appear redacted.
 *
 * Every operation is asked by a caller, whose account decides what it sees: a trail belongs to
 * the account that created it; a member account's principals see, change and delete only their
 * own account's trails (another's answers FT_ERR_TRAIL_NOT_FOUND, as if it did not exist), the
 * management account's see every trail. Only the management account makes multi-account trails
 * and rotates the digest signing key (both reach every account).
 */
import type { EventStore } from '../store/types.js';
import { FlinkTrailError } from '../errors/index.js';
import { callerAccount } from '../event/account.js';
import type { DigestKeys, PublicKeyInfo } from './digest/keys.js';
import type { DeliveryEngine } from './engine.js';
import { resourceDirectoryId, trailAccount, validateCreate, validateName, validateUpdate, type ValidationContext } from './model.js';
import type { HistoryJob, TrailRecord, TrailRepository } from './repository.js';

/** Who asks: a principal's account (absent: the management account). */
export interface Caller {
  accountId?: string;
}

export interface ServiceDeps {
  repo: TrailRepository;
  store: EventStore;
  engine: DeliveryEngine;
  keys: DigestKeys;
  /** The management account (`Config.accountId`). */
  accountId: string;
  homeRegion: string;
  retentionDays: number;
  validation: ValidationContext;
  now?: () => number;
}

const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

/** A trail in ActionTrail's fields; `managementAccountId` is `Config.accountId`. */
export function describeTrail(t: TrailRecord, managementAccountId: string) {
  const oss = t.destinations.find((d) => d.s3);
  const account = trailAccount(t, managementAccountId);
  return {
    Name: t.name,
    TrailArn: `acs:actiontrail:${t.homeRegion}:${account}:trail/${t.name}`,
    HomeRegion: t.homeRegion,
    Region: t.homeRegion,
    EventRW: t.eventRW,
    TrailRegion: t.trailRegion === 'All' ? 'All' : t.trailRegion.join(','),
    Status: t.status,
    IsOrganizationTrail: t.isOrganizationTrail,
    // The resource directory of a multi-account trail's paths (`<rd_id>`), as ActionTrail names it.
    OrganizationId: t.isOrganizationTrail ? resourceDirectoryId(managementAccountId) : '',
    // FlinkTrail's: the owning account.
    AccountId: account,
    DigestInterval: t.digestInterval,
    Destinations: t.destinations.map((d) => d.display),
    OssBucketName: oss?.s3?.bucket ?? '',
    OssKeyPrefix: oss?.s3?.prefix ?? '',
    CreateTime: iso(t.createdAt),
    UpdateTime: iso(t.updatedAt),
    StartLoggingTime: iso(t.startLoggingAt),
    StopLoggingTime: iso(t.stopLoggingAt),
  };
}

export function describeJob(j: HistoryJob, progress: { position: number; end: number; cursors: number; done: number }) {
  const pct = j.status === 2 || progress.end === 0 ? 100 : Math.min(100, Math.floor((progress.position / progress.end) * 100));
  return {
    JobId: j.id,
    TrailName: j.trail,
    JobStatus: j.status,
    HomeRegion: j.homeRegion,
    CreatedTime: iso(j.createdAt),
    UpdatedTime: iso(j.updatedAt),
    StartTime: iso(j.startTime),
    EndTime: iso(j.endTime),
    Progress: pct,
    ...(j.error ? { ErrorMessage: j.error } : {}),
  };
}

export class TrailService {
  constructor(private readonly d: ServiceDeps) {}

  private now(): number {
    return this.d.now?.() ?? Date.now();
  }

  /** The caller's account. */
  private account(c: Caller): string {
    return callerAccount(c, this.d.accountId);
  }

  private isManagement(c: Caller): boolean {
    return this.account(c) === this.d.accountId;
  }

  private visible(t: TrailRecord, c: Caller): boolean {
    return this.isManagement(c) || trailAccount(t, this.d.accountId) === this.account(c);
  }

  /** The trail if the caller may see it; FT_ERR_TRAIL_NOT_FOUND otherwise — never telling another account's trail from none. */
  private async mustSee(name: string, c: Caller): Promise<TrailRecord> {
    const t = await this.d.repo.get(this.checkName(name));
    if (!t || !this.visible(t, c)) throw new FlinkTrailError('FT_ERR_TRAIL_NOT_FOUND', name);
    return t;
  }

  /** CreateTrail: the trail belongs to the caller's account. A multi-account trail only for the management account. */
  async create(body: unknown, caller: Caller): Promise<TrailRecord> {
    const spec = validateCreate(body, this.d.validation);
    const management = this.isManagement(caller);
    if (spec.isOrganizationTrail && !management) throw new FlinkTrailError('FT_ERR_TRAIL_MANAGEMENT_ONLY', 'create a multi-account trail (IsOrganizationTrail)');
    // The management account's trails are stored with no owner: they stay its own whatever accountId is configured.
    const t = await this.d.repo.create(spec, this.d.homeRegion, this.now(), await this.d.store.lastSeq(), management ? undefined : this.account(caller));
    this.d.engine.poke();
    return t;
  }

  async update(name: string, body: unknown, caller: Caller): Promise<TrailRecord> {
    const current = await this.mustSee(validateName(name), caller);
    const spec = validateUpdate(current, body, this.d.validation);
    const t = await this.d.repo.update(spec, this.now(), await this.d.store.lastSeq());
    this.d.engine.poke();
    return t;
  }

  async delete(name: string, caller: Caller): Promise<void> {
    await this.mustSee(validateName(name), caller);
    await this.d.repo.delete(name, this.now());
    this.d.engine.poke();
  }

  get(name: string, caller: Caller): Promise<TrailRecord> {
    return this.mustSee(name, caller);
  }

  /** DescribeTrails: the caller's account's trails (the management account: every trail), all or those named. */
  async list(nameList: string | undefined, caller: Caller): Promise<TrailRecord[]> {
    const names = nameList ? nameList.split(',').map((n) => n.trim()).filter(Boolean) : undefined;
    return (await this.d.repo.list(names)).filter((t) => this.visible(t, caller));
  }

  /** The names of the trails an account owns (an account that owns one is not deleted). */
  async ownedBy(accountId: string): Promise<string[]> {
    return (await this.d.repo.list()).filter((t) => trailAccount(t, this.d.accountId) === accountId).map((t) => t.name);
  }

  async start(name: string, caller: Caller): Promise<TrailRecord> {
    await this.mustSee(name, caller);
    const t = await this.d.repo.start(name, this.now(), await this.d.store.lastSeq());
    this.d.engine.poke();
    return t;
  }

  async stop(name: string, caller: Caller): Promise<TrailRecord> {
    await this.mustSee(name, caller);
    const t = await this.d.repo.stop(name, this.now());
    this.d.engine.poke();
    return t;
  }

  async status(name: string, caller: Caller) {
    const t = await this.mustSee(name, caller);
    const rows = await Promise.all(t.destinations.map(async (d) => ({ d, live: (await this.d.repo.cursorsOf(d.id)).find((c) => !c.jobId) })));
    const lease = (await this.d.repo.leases()).find((l) => l.trail === t.name);
    let latestDelivery: number | undefined;
    let latestError: { at: number; text: string } | undefined;
    for (const { d, live } of rows) {
      if (live?.lastDeliveryAt !== undefined && (latestDelivery === undefined || live.lastDeliveryAt > latestDelivery)) latestDelivery = live.lastDeliveryAt;
      if (live?.lastError && live.lastErrorAt !== undefined && (!latestError || live.lastErrorAt > latestError.at)) {
        latestError = { at: live.lastErrorAt, text: `${d.display}: ${live.lastError}` };
      }
    }
    const digestDests = t.destinations.filter((d) => d.lastDigestAt !== undefined || d.lastDigestError);
    const lastDigest = digestDests.reduce<number | undefined>((m, d) => (d.lastDigestAt !== undefined && (m === undefined || d.lastDigestAt > m) ? d.lastDigestAt : m), undefined);
    const digestError = t.destinations.find((d) => d.lastDigestError);
    const dead = new Map(await Promise.all(t.destinations.map(async (d) => [d.id, await this.d.repo.deadLetterSummary(d.id)] as const)));
    const deadTotal = [...dead.values()].reduce((n, x) => n + x.count, 0);
    const deadLast = [...dead.values()].reduce<number | undefined>((m, x) => (x.lastAt !== undefined && (m === undefined || x.lastAt > m) ? x.lastAt : m), undefined);
    return {
      IsLogging: t.status === 'Enable',
      IsOrganizationTrail: t.isOrganizationTrail,
      LatestDeliveryTime: iso(latestDelivery),
      LatestDeliveryError: latestError?.text ?? '',
      LatestDeliveryErrorTime: iso(latestError?.at),
      StartLoggingTime: iso(t.startLoggingAt),
      StopLoggingTime: iso(t.stopLoggingAt),
      LatestDigestDeliveryTime: iso(lastDigest),
      LatestDigestDeliveryError: digestError ? `${digestError.display}: ${digestError.lastDigestError ?? ''}` : '',
      OssBucketStatus: !rows.some(({ d, live }) => (d.kind === 's3' || d.kind === 'file') && live?.lastError),
      DeadLetterCount: deadTotal,
      LatestDeadLetterTime: iso(deadLast),
      // The instance that holds (or last held) the trail's delivery lease: `<host>:<pid>:<id>`.
      DeliveryInstance: lease?.holder ?? '',
      Destinations: rows.map(({ d, live }) => ({
        Destination: d.display,
        Kind: d.kind,
        Status: live?.lastError ? 'Failing' : 'OK',
        Position: live?.position ?? null,
        DeliveredEvents: live?.deliveredEvents ?? 0,
        LatestDeliveryTime: iso(live?.lastDeliveryAt),
        LatestDeliveryError: live?.lastError ?? '',
        LatestDeliveryErrorTime: iso(live?.lastErrorAt),
        PendingBatch: live?.plan ? { FromSeq: live.plan.from, ToSeq: live.plan.to, CutTime: iso(live.plan.cutAt) } : null,
        DeadLetters: dead.get(d.id)?.count ?? 0,
      })),
    };
  }

  /** ListTrailDeadLetters: events set aside because a destination can never take them, newest first. */
  async deadLetters(name: string, maxResults: unknown, nextToken: unknown, caller: Caller) {
    const t = await this.mustSee(name, caller);
    const max = maxResults === undefined ? 50 : Number(maxResults);
    if (!Number.isInteger(max) || max < 1 || max > 500) throw new FlinkTrailError('FT_ERR_TRAIL_INVALID_PARAMETER', 'MaxResults', 'must be 1-500');
    const before = nextToken === undefined || nextToken === '' ? undefined : Number(nextToken);
    if (before !== undefined && (!Number.isInteger(before) || before < 1)) throw new FlinkTrailError('FT_ERR_TRAIL_INVALID_PARAMETER', 'NextToken', 'is not a token from a previous answer');
    const list = await this.d.repo.deadLetters(t.name, max, before);
    const display = new Map(t.destinations.map((d) => [d.id, d.display]));
    return {
      DeadLetters: list.map((l) => ({
        Destination: display.get(l.destId) ?? '',
        EventId: l.eventId,
        Seq: l.seq,
        Code: l.code,
        Reason: l.reason,
        SetAsideTime: iso(l.at),
        ...(l.jobId ? { JobId: l.jobId } : {}),
        Event: l.event,
      })),
      ...(list.length === max ? { NextToken: String((list[list.length - 1] as { id: number }).id) } : {}),
    };
  }

  async createHistoryJob(name: string, caller: Caller): Promise<HistoryJob> {
    const t = await this.mustSee(name, caller);
    const now = this.now();
    // Everything retained that happened before the trail first started logging (or before now,
    // for a trail never started): exactly what live delivery does not cover.
    const endSeq = await this.d.store.lastSeq();
    const job = await this.d.repo.createJob(t, endSeq, t.firstStartAt ?? now, now - this.d.retentionDays * 86_400_000, t.firstStartAt ?? now, now);
    this.d.engine.poke();
    return job;
  }

  /** One trail's jobs, or (no name) the caller's account's (the management account: every account's), newest first. */
  async listHistoryJobs(name: string | undefined, pageNumber: unknown, pageSize: unknown, caller: Caller) {
    if (name !== undefined) await this.mustSee(name, caller);
    const page = pageNumber === undefined ? 1 : Number(pageNumber);
    const size = pageSize === undefined ? 20 : Number(pageSize);
    if (!Number.isInteger(page) || page < 1 || page > 100_000) throw new FlinkTrailError('FT_ERR_TRAIL_INVALID_PARAMETER', 'PageNumber', 'must be a whole number from 1');
    if (!Number.isInteger(size) || size < 1 || size > 100) throw new FlinkTrailError('FT_ERR_TRAIL_INVALID_PARAMETER', 'PageSize', 'must be 1-100');
    // A member sees its own account's jobs only, also of a name another account's trail once had.
    const { total, jobs } = await this.d.repo.jobs(name, page, size, this.isManagement(caller) ? undefined : this.account(caller));
    const described = await Promise.all(jobs.map(async (j) => describeJob(j, await this.d.repo.jobProgress(j.id))));
    return { PageNumber: page, PageSize: size, TotalCount: total, DeliveryHistoryJobs: described };
  }

  async publicKeys(): Promise<PublicKeyInfo[]> {
    await this.d.keys.active(this.now());
    return this.d.keys.publicKeys();
  }

  /** A new digest signing key: every account's digests are signed with it, so only the management account may. */
  async rotateKey(caller: Caller): Promise<PublicKeyInfo[]> {
    if (!this.isManagement(caller)) throw new FlinkTrailError('FT_ERR_TRAIL_MANAGEMENT_ONLY', 'rotate the digest signing key');
    await this.d.keys.rotate(this.now());
    return this.d.keys.publicKeys();
  }

  private checkName(name: string): string {
    if (name.length > 64) throw new FlinkTrailError('FT_ERR_TRAIL_NOT_FOUND', name.slice(0, 64));
    return name;
  }
}
