/**
 * Trail rows to the contract's records, the same for every store: the embedded and the
 * PostgreSQL repository keep the same columns under the same names. A row's values are numbers,
 * text (PostgreSQL's bigint and numeric come as text), booleans (PostgreSQL) or 0/1 (SQLite).
 */
import { isSealed, type Sealer } from '../secrets/index.js';
import type { ActionTrailEvent } from '../event/types.js';
import { parseDestination } from './destination.js';
import type { JobStatus, TrailEventRW, TrailStatus } from './model.js';
import type { Chain, Cursor, DeadLetter, DeliveredFile, HistoryJob, Lease, Plan, StoredDestination, TrailRecord } from './repository.js';

export type Row = Record<string, string | number | boolean | null>;

/** Sealed-value context of destination URLs (a value moves between the stores as it is). */
export const URL_CONTEXT = 'trail-destination';

export const num = (v: Row[string] | undefined): number | undefined => (v === null || v === undefined ? undefined : Number(v));
export const str = (v: Row[string] | undefined): string | undefined => (v === null || v === undefined ? undefined : String(v));

export function toDestination(r: Row, secrets: Sealer, localDir: string): StoredDestination {
  const stored = String(r['url']);
  const d = parseDestination(isSealed(stored) ? secrets.open(stored, URL_CONTEXT) : stored, { localDir });
  const lastDigestAt = num(r['last_digest_at']);
  const lastDigestError = str(r['last_digest_error']);
  return {
    ...d,
    id: Number(r['id']),
    minCutAt: Number(r['min_cut_at']),
    ...(lastDigestAt !== undefined ? { lastDigestAt } : {}),
    ...(lastDigestError !== undefined ? { lastDigestError } : {}),
  };
}

export function toRecord(r: Row, destinations: StoredDestination[]): TrailRecord {
  const region = String(r['trail_region']);
  const rec: TrailRecord = {
    name: String(r['name']),
    eventRW: r['event_rw'] as TrailEventRW,
    trailRegion: region === 'All' ? 'All' : (JSON.parse(region) as string[]),
    digestInterval: Number(r['digest_interval']),
    status: r['status'] as TrailStatus,
    homeRegion: String(r['home_region']),
    isOrganizationTrail: r['is_organization_trail'] === true || Number(r['is_organization_trail']) === 1,
    createdAt: Number(r['created_at']),
    updatedAt: Number(r['updated_at']),
    destinations,
  };
  const account = str(r['account_id']);
  if (account !== undefined) rec.accountId = account;
  const opt = { startLoggingAt: 'start_logging_at', stopLoggingAt: 'stop_logging_at', firstStartAt: 'first_start_at', firstStartSeq: 'first_start_seq' } as const;
  for (const [k, col] of Object.entries(opt)) {
    const v = num(r[col]);
    if (v !== undefined) (rec as unknown as Record<string, number>)[k] = v;
  }
  return rec;
}

export function toCursor(r: Row): Cursor {
  const c: Cursor = {
    id: Number(r['id']),
    destId: Number(r['dest_id']),
    position: Number(r['position']),
    deliveredEvents: Number(r['delivered_events']),
    done: r['done'] === true || Number(r['done']) === 1,
  };
  const jobId = str(r['job_id']);
  if (jobId !== undefined) c.jobId = jobId;
  const endSeq = num(r['end_seq']);
  if (endSeq !== undefined) c.endSeq = endSeq;
  if (r['plan_from'] !== null && r['plan_from'] !== undefined) {
    c.plan = {
      from: Number(r['plan_from']),
      to: Number(r['plan_to']),
      cutAt: Number(r['plan_cut_at']),
      filter: JSON.parse(String(r['plan_filter'])) as Plan['filter'],
    };
  }
  const lda = num(r['last_delivery_at']);
  if (lda !== undefined) c.lastDeliveryAt = lda;
  const le = str(r['last_error']);
  if (le !== undefined) c.lastError = le;
  const lea = num(r['last_error_at']);
  if (lea !== undefined) c.lastErrorAt = lea;
  return c;
}

export function toFile(r: Row): DeliveredFile {
  return {
    key: String(r['key']),
    region: String(r['region']),
    cutAt: Number(r['cut_at']),
    sha256: String(r['sha256']),
    size: Number(r['size']),
    events: Number(r['events']),
    oldest: String(r['oldest']),
    newest: String(r['newest']),
  };
}

export function toChain(destId: number, r: Row): Chain {
  const c: Chain = { destId, region: String(r['region']), nextStart: Number(r['next_start']) };
  const k = str(r['last_key']);
  if (k !== undefined) {
    c.lastKey = k;
    c.lastSha256 = String(r['last_sha256']);
    c.lastSignature = String(r['last_signature']);
    c.lastEnd = Number(r['last_end']);
  }
  return c;
}

export function toDeadLetter(r: Row): DeadLetter {
  const jobId = str(r['job_id']);
  return {
    id: Number(r['id']),
    destId: Number(r['dest_id']),
    trail: String(r['trail']),
    ...(jobId !== undefined ? { jobId } : {}),
    seq: Number(r['seq']),
    eventId: String(r['event_id']),
    code: String(r['code']),
    reason: String(r['reason']),
    at: Number(r['at']),
    event: JSON.parse(String(r['body'])) as ActionTrailEvent,
  };
}

export function toJob(r: Row): HistoryJob {
  const j: HistoryJob = {
    id: String(r['id']),
    trail: String(r['trail']),
    status: Number(r['status']) as JobStatus,
    homeRegion: String(r['home_region']),
    endSeq: Number(r['end_seq']),
    createdAt: Number(r['created_at']),
    updatedAt: Number(r['updated_at']),
  };
  const account = str(r['account_id']);
  if (account !== undefined) j.accountId = account;
  const bt = num(r['before_time']);
  if (bt !== undefined) j.before = bt;
  const st = num(r['start_time']);
  if (st !== undefined) j.startTime = st;
  const et = num(r['end_time']);
  if (et !== undefined) j.endTime = et;
  const e = str(r['error']);
  if (e !== undefined) j.error = e;
  return j;
}

export function toLease(r: Row): Lease {
  return { trail: String(r['trail']), holder: String(r['holder']), token: Number(r['token']), expiresAt: Number(r['expires_at']) };
}
