/**
 * The trail model, as ActionTrail defines it: a named selection of events (Read, Write or All;
 * all or some regions) delivered to one or more destinations, with a status that goes
 * Fresh → Enable ⇄ Disable. Every trail belongs to one account, the account of its creator: an
 * ordinary trail delivers that account's events only, a multi-account trail (ActionTrail's
 * `IsOrganizationTrail`, made by the management account alone) every account's. This module
 * validates requests against ActionTrail's rules and turns them into a `TrailSpec`; it does no I/O.
 */
import { FlinkTrailError } from '../errors/index.js';
import { eventAccount } from '../event/account.js';
import { parseDestination, type Destination } from './destination.js';

/**
 * Which events a trail delivers (ActionTrail's `EventRW`).
 * - `Write`: operations that change state (the default, as in ActionTrail).
 * - `Read`: read-only operations.
 * - `All`: both.
 */
export const TRAIL_EVENT_RW = ['Write', 'Read', 'All'] as const;
export type TrailEventRW = (typeof TRAIL_EVENT_RW)[number];

/**
 * A trail's status (ActionTrail's `Status`).
 * - `Fresh`: created, never started (CreateTrail leaves a trail here, as ActionTrail's API does).
 * - `Enable`: logging: new events are delivered.
 * - `Disable`: stopped: events after StopLogging are not delivered, also not after a restart.
 */
export const TRAIL_STATUS = ['Fresh', 'Enable', 'Disable'] as const;
export type TrailStatus = (typeof TRAIL_STATUS)[number];

/**
 * A delivery history (backfill) job's status, ActionTrail's numbers.
 * 0 initializing, 1 delivering, 2 complete, 3 failed.
 */
export const JOB_STATUS = { initializing: 0, delivering: 1, complete: 2, failed: 3 } as const;
export type JobStatus = (typeof JOB_STATUS)[keyof typeof JOB_STATUS];

/** What a valid CreateTrail / UpdateTrail amounts to. */
export interface TrailSpec {
  name: string;
  eventRW: TrailEventRW;
  /** `All` or a list of regions. */
  trailRegion: 'All' | string[];
  destinations: Destination[];
  /** Seconds between digest files. */
  digestInterval: number;
  /**
   * A multi-account trail (ActionTrail's `IsOrganizationTrail`): delivers every account's events,
   * each account under its own path. Set at creation only; absent: false.
   */
  isOrganizationTrail?: boolean;
}

/** ActionTrail's rule: 6–36 characters, starting with a lowercase letter; lowercase letters, digits, `-` and `_`. */
export const TRAIL_NAME = /^[a-z][a-z0-9_-]{5,35}$/;

export interface ValidationContext {
  knownRegions: ReadonlySet<string>;
  defaultDigestInterval: number;
  minDigestInterval: number;
  /** Directory that the `local` destination stands for. */
  localDir: string;
  /** Stored destinations of the trail (UpdateTrail): a redacted URL sent back keeps its secret. */
  existing?: readonly Destination[];
}

const CREATE_FIELDS = new Set(['Name', 'EventRW', 'TrailRegion', 'Destinations', 'DigestInterval', 'IsOrganizationTrail']);

function param(field: string, why: string): FlinkTrailError {
  return new FlinkTrailError('FT_ERR_TRAIL_INVALID_PARAMETER', field, why);
}

export function validateName(name: unknown): string {
  if (typeof name !== 'string' || !TRAIL_NAME.test(name)) {
    throw new FlinkTrailError('FT_ERR_TRAIL_INVALID_NAME', JSON.stringify(typeof name === 'string' ? name.slice(0, 64) : name ?? null));
  }
  return name;
}

function eventRW(v: unknown): TrailEventRW {
  if (v === undefined) return 'Write';
  if (typeof v !== 'string' || !(TRAIL_EVENT_RW as readonly string[]).includes(v)) throw param('EventRW', 'must be Write, Read or All');
  return v as TrailEventRW;
}

function trailRegion(v: unknown, known: ReadonlySet<string>): 'All' | string[] {
  if (v === undefined || v === 'All') return 'All';
  const list = typeof v === 'string' ? v.split(',').map((s) => s.trim()) : Array.isArray(v) ? (v as unknown[]) : undefined;
  if (!list || list.length === 0 || list.length > 100) throw param('TrailRegion', 'must be All or a list of regions');
  const out: string[] = [];
  for (const r of list) {
    if (typeof r !== 'string' || r === '') throw param('TrailRegion', 'must be All or a list of regions');
    if (r === 'All') return 'All';
    if (!known.has(r)) throw new FlinkTrailError('FT_ERR_TRAIL_UNKNOWN_REGION', JSON.stringify(r.slice(0, 64)), [...known].sort().join(', '));
    if (!out.includes(r)) out.push(r);
  }
  return out.sort();
}

function digestInterval(v: unknown, ctx: ValidationContext): number {
  if (v === undefined) return ctx.defaultDigestInterval;
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < ctx.minDigestInterval || n > 86400) {
    throw param('DigestInterval', `must be whole seconds from ${ctx.minDigestInterval} to 86400`);
  }
  return n;
}

function destinations(v: unknown, ctx: ValidationContext): Destination[] {
  if (v === undefined || v === null || (Array.isArray(v) && v.length === 0) || v === '') throw new FlinkTrailError('FT_ERR_TRAIL_NO_DESTINATION');
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list)) throw param('Destinations', 'must be a list of destination URLs');
  if (list.length > 10) throw param('Destinations', 'at most 10 destinations per trail');
  const out: Destination[] = [];
  for (const item of list) {
    if (typeof item !== 'string') throw param('Destinations', 'must be a list of destination URLs');
    const d = parseDestination(item, { localDir: ctx.localDir, ...(ctx.existing ? { existing: ctx.existing } : {}) });
    if (out.some((o) => o.url === d.url)) throw new FlinkTrailError('FT_ERR_TRAIL_INVALID_DESTINATION', d.display, 'listed twice');
    out.push(d);
  }
  return out;
}

function flag(field: string, v: unknown): boolean {
  if (v === undefined || v === false || v === 'false') return false;
  if (v === true || v === 'true') return true;
  throw param(field, 'must be true or false');
}

function body(input: unknown): Record<string, unknown> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw param('(body)', 'must be a JSON object');
  return input as Record<string, unknown>;
}

/**
 * Validates a CreateTrail request body (`{Name, EventRW?, TrailRegion?, Destinations, DigestInterval?,
 * IsOrganizationTrail?}`). Who may make a multi-account trail is the service's to decide.
 */
export function validateCreate(input: unknown, ctx: ValidationContext): TrailSpec {
  const b = body(input);
  for (const k of Object.keys(b)) if (!CREATE_FIELDS.has(k)) throw param(k, `unknown field; known: ${[...CREATE_FIELDS].join(', ')}`);
  const spec: TrailSpec = {
    name: validateName(b['Name']),
    eventRW: eventRW(b['EventRW']),
    trailRegion: trailRegion(b['TrailRegion'], ctx.knownRegions),
    destinations: destinations(b['Destinations'], ctx),
    digestInterval: digestInterval(b['DigestInterval'], ctx),
  };
  if (flag('IsOrganizationTrail', b['IsOrganizationTrail'])) spec.isOrganizationTrail = true;
  return spec;
}

/** Validates an UpdateTrail body against the current spec; absent fields keep their values. */
export function validateUpdate(current: TrailSpec, input: unknown, ctx: ValidationContext): TrailSpec {
  const b = body(input);
  for (const k of Object.keys(b)) {
    if (k === 'Name') {
      if (b[k] !== current.name) throw param('Name', 'a trail cannot be renamed');
      continue;
    }
    if (k === 'IsOrganizationTrail') {
      // As in ActionTrail, whose UpdateTrail has no such parameter: a trail's reach is fixed at creation.
      if (flag(k, b[k]) !== (current.isOrganizationTrail ?? false)) throw param(k, 'cannot be changed; create another trail');
      continue;
    }
    if (!CREATE_FIELDS.has(k)) throw param(k, `unknown field; known: ${[...CREATE_FIELDS].join(', ')}`);
  }
  return {
    name: current.name,
    eventRW: b['EventRW'] === undefined ? current.eventRW : eventRW(b['EventRW']),
    trailRegion: b['TrailRegion'] === undefined ? current.trailRegion : trailRegion(b['TrailRegion'], ctx.knownRegions),
    destinations: b['Destinations'] === undefined ? current.destinations : destinations(b['Destinations'], { ...ctx, existing: current.destinations }),
    digestInterval: b['DigestInterval'] === undefined ? current.digestInterval : digestInterval(b['DigestInterval'], ctx),
    ...(current.isOrganizationTrail ? { isOrganizationTrail: true } : {}),
  };
}

/** Whether a trail selects an event (EventRW and region; everything else is delivered). */
export function selects(trail: Pick<TrailSpec, 'eventRW' | 'trailRegion'>, e: { eventRW: string; acsRegion: string }): boolean {
  if (trail.eventRW !== 'All' && e.eventRW !== trail.eventRW) return false;
  return trail.trailRegion === 'All' || trail.trailRegion.includes(e.acsRegion);
}

/**
 * Everything that decides whether a cursor delivers an event. Logging on and off is by event
 * time (when the operation happened), not by store position: an operation that happened just
 * before StopLogging is delivered even if it was committed just after. The account is decided
 * when a batch is cut and written down with it, so a retry selects the same events.
 */
export interface DeliveryFilter extends Pick<TrailSpec, 'eventRW' | 'trailRegion'> {
  /**
   * Only events of this account (an ordinary trail: its owner's). Absent: every account's — a
   * multi-account trail, or a plan cut before trails had owners.
   */
  account?: string;
  /** The management account when the filter was made: the account of events that name none. */
  managementAccount?: string;
  /** Only events that happened after this (epoch ms; the first StartLogging) are delivered. */
  since?: number;
  /** Events that happened after this (StopLogging, or a history job's end) are not. */
  until?: number;
  /** (from, to] event-time ranges while logging was stopped. */
  off: [number, number][];
}

/**
 * The bounds are chosen so that the StopLogging call itself (its event time is its arrival, at
 * or before the stop) is delivered and the StartLogging call is not — whatever the millisecond.
 */
export function wants(f: DeliveryFilter, e: { eventRW: string; acsRegion: string; eventTime: string; recipientAccountId?: string }): boolean {
  if (!selects(f, e)) return false;
  if (f.account !== undefined && eventAccount(e, f.managementAccount ?? '') !== f.account) return false;
  const t = Date.parse(e.eventTime);
  if (f.since !== undefined && t <= f.since) return false;
  if (f.until !== undefined && t > f.until) return false;
  for (const [from, to] of f.off) if (t > from && t <= to) return false;
  return true;
}

/** The account a trail belongs to: its creator's; trails made before accounts existed (none stored) belong to the management account. */
export function trailAccount(t: { accountId?: string }, managementAccountId: string): string {
  return t.accountId ?? managementAccountId;
}

/**
 * The resource directory id of multi-account paths (`<rd_id>` in ActionTrail's layout): one
 * resource directory per FlinkTrail, named after its management account so it never changes
 * while the management account does not. Also DescribeTrails' `OrganizationId`.
 */
export function resourceDirectoryId(managementAccountId: string): string {
  return `rd-${managementAccountId}`;
}
