/**
 * ActionTrail's OSS layout and the bytes of a delivered file.
 *
 *     <prefix>/AliyunLogs/Actiontrail/<path>/YYYY/MM/DD/Actiontrail_<region>_<YYYYMMDDHHMMSS>_1002_<count>_<size>_<md5>.gz
 *     <prefix>/AliyunLogs/Actiontrail-Insight/<path>/…                      (insight events)
 *     <prefix>/AliyunLogs/Actiontrail-Digest/<path>/YYYY/MM/DD/Actiontrail-Digest_<region>_<trail>_<YYYYMMDDTHHMMSSZ>.json.gz
 *
 * `<path>` is `<region>` for an ordinary (single-account) trail and `<rd_id>/<accountId>/<region>`
 * for a multi-account trail (ActionTrail's multi-account layout; `<rd_id>` is the resource
 * directory, model.ts `resourceDirectoryId`): one file per account and region per batch. The log
 * files and digests of one path form one digest chain, so each account's files validate on their
 * own. Delivered files and digest chains record the path (as their `region`).
 *
 * Delivery is at-least-once, so a retried file must land on the same key: the content is a
 * pure function of the events (a JSON array, one event per line, gzip with a zero mtime), and
 * the name is a function of the content and the batch's cut time, which is stored before the
 * first attempt. Same batch → same bytes → same key: a retry overwrites itself.
 *
 * `<region>` follows the one naming rule (event/names.ts), which is also what the file-name
 * patterns of validate-logs expect: an event whose region breaks it has no key (`keyProblem`)
 * and is set aside by the engine instead of being written.
 */
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { FlinkTrailError } from '../errors/index.js';
import { eventAccount } from '../event/account.js';
import { nameProblem, namePatternBody } from '../event/names.js';
import type { ActionTrailEvent } from '../event/types.js';

export const LOG_DIR = 'Actiontrail';
export const INSIGHT_DIR = 'Actiontrail-Insight';
export const DIGEST_DIR = 'Actiontrail-Digest';

/** `YYYY`, `MM`, `DD`, `YYYYMMDDHHMMSS` of an instant, UTC. */
export function utcParts(ms: number): { y: string; m: string; d: string; stamp: string; iso: string } {
  const iso = new Date(ms).toISOString();
  const y = iso.slice(0, 4);
  const m = iso.slice(5, 7);
  const d = iso.slice(8, 10);
  return { y, m, d, stamp: `${y}${m}${d}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}`, iso };
}

export function joinKey(...parts: string[]): string {
  return parts.filter((p) => p !== '').join('/');
}

/** The directory (key prefix) of one day of log files, digests or insight files of a `<path>`. */
export function dayPrefix(prefix: string, dir: string, path: string, dayMs: number): string {
  const { y, m, d } = utcParts(dayMs);
  return `${joinKey(prefix, 'AliyunLogs', dir, path, y, m, d)}/`;
}

/** Whether an event goes to the insight directory. */
export function isInsight(e: ActionTrailEvent): boolean {
  return (e as { eventCategory?: string }).eventCategory === 'Insight';
}

/** Where a multi-account trail's files go: each account's under `<rdId>/<accountId>/`. */
export interface AccountLayout {
  rdId: string;
  /** The account of events that name none (`recipientAccountId` absent). */
  managementAccountId: string;
}

/** The `<path>` of a region's files: `<region>`, or `<rdId>/<accountId>/<region>` (multi-account). */
export function logPath(region: string, account?: { rdId: string; accountId: string }): string {
  return account ? `${account.rdId}/${account.accountId}/${region}` : region;
}

/** The region of a `<path>` (its last part). */
export function pathRegion(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** The account of a multi-account `<path>`, or undefined for a single-account one. */
export function pathAccount(path: string): string | undefined {
  const parts = path.split('/');
  return parts.length === 3 ? parts[1] : undefined;
}

/**
 * Why an event cannot be part of an object key (its region — or, in the multi-account layout,
 * its account — breaks the naming rule), or undefined.
 */
export function keyProblem(e: Pick<ActionTrailEvent, 'acsRegion' | 'recipientAccountId'>, accounts?: AccountLayout): string | undefined {
  const p = nameProblem('region', e.acsRegion);
  if (p) return `acsRegion ${p}`;
  if (!accounts || e.recipientAccountId === undefined) return undefined;
  const a = nameProblem('accountId', e.recipientAccountId);
  return a ? `recipientAccountId ${a}` : undefined;
}

export interface EncodedFile {
  key: string;
  region: string;
  /** The file's `<path>`: its digest chain. */
  path: string;
  /** Indexes (into the events given to buildFiles) of the events in this file. */
  members: number[];
  body: Buffer;
  sha256: string;
  events: number;
  oldest: string;
  newest: string;
}

/** The uncompressed file: a JSON array, one event per line. */
export function encodeEvents(events: readonly ActionTrailEvent[]): Buffer {
  return Buffer.from(`[\n${events.map((e) => JSON.stringify(e)).join(',\n')}\n]\n`, 'utf8');
}

export function decodeFile(gz: Buffer): ActionTrailEvent[] {
  return JSON.parse(gunzipSync(gz).toString('utf8')) as ActionTrailEvent[];
}

export function sha256Hex(b: Buffer | string): string {
  return createHash('sha256').update(b).digest('hex');
}

/**
 * The files of one batch: one per region (and insight/not) — with `accounts`, the multi-account
 * layout, one per account and region — events in store order.
 * Deterministic: the same events and cut time give the same keys and bytes.
 */
export function buildFiles(prefix: string, cutAt: number, events: readonly ActionTrailEvent[], accounts?: AccountLayout): EncodedFile[] {
  const groups = new Map<string, number[]>();
  events.forEach((e, i) => {
    const problem = keyProblem(e, accounts);
    if (problem) throw new FlinkTrailError('FT_ERR_TRAIL_UNDELIVERABLE', problem);
    const path = logPath(e.acsRegion, accounts && { rdId: accounts.rdId, accountId: eventAccount(e, accounts.managementAccountId) });
    const g = `${isInsight(e) ? INSIGHT_DIR : LOG_DIR}\u0000${path}`;
    let members = groups.get(g);
    if (!members) groups.set(g, (members = []));
    members.push(i);
  });
  const { y, m, d, stamp } = utcParts(cutAt);
  const out: EncodedFile[] = [];
  for (const [g, members] of groups) {
    const list = members.map((i) => events[i] as ActionTrailEvent);
    const [dir = LOG_DIR, path = ''] = g.split('\u0000');
    const region = pathRegion(path);
    const body = gzipSync(encodeEvents(list), { level: 6 });
    const md5 = createHash('md5').update(body).digest('hex');
    const name = `Actiontrail_${region}_${stamp}_1002_${list.length}_${body.length}_${md5}.gz`;
    let oldest = (list[0] as ActionTrailEvent).eventTime;
    let newest = oldest;
    for (const e of list) {
      if (e.eventTime < oldest) oldest = e.eventTime;
      if (e.eventTime > newest) newest = e.eventTime;
    }
    out.push({ key: joinKey(prefix, 'AliyunLogs', dir, path, y, m, d, name), region, path, members, body, sha256: sha256Hex(body), events: list.length, oldest, newest });
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : 1));
}

const REGION = namePatternBody('region');
const LOG_NAME = new RegExp(`^Actiontrail_(${REGION})_(\\d{14})_1002_(\\d+)_(\\d+)_([0-9a-f]{32})\\.gz$`);

/** Parses a log file key; the cut time is in its name. */
export function parseLogKey(key: string): { region: string; cutAt: number; events: number } | undefined {
  const name = key.slice(key.lastIndexOf('/') + 1);
  const m = LOG_NAME.exec(name);
  if (!m) return undefined;
  const s = m[2] as string;
  const cutAt = Date.UTC(+s.slice(0, 4), +s.slice(4, 6) - 1, +s.slice(6, 8), +s.slice(8, 10), +s.slice(10, 12), +s.slice(12, 14));
  return { region: m[1] as string, cutAt, events: Number(m[3]) };
}

/** The key of the digest of `path` (a region, or `<rdId>/<accountId>/<region>`) that ends at `endMs`. */
export function digestKey(prefix: string, path: string, trail: string, endMs: number): string {
  const { y, m, d, iso } = utcParts(endMs);
  const stamp = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  return joinKey(prefix, 'AliyunLogs', DIGEST_DIR, path, y, m, d, `Actiontrail-Digest_${pathRegion(path)}_${trail}_${stamp}.json.gz`);
}

const DIGEST_NAME = new RegExp(`^Actiontrail-Digest_(${REGION})_([a-z][a-z0-9_-]{5,35})_(\\d{8})T(\\d{6})Z\\.json\\.gz$`);

export function parseDigestKey(key: string): { region: string; trail: string; endMs: number } | undefined {
  const name = key.slice(key.lastIndexOf('/') + 1);
  const m = DIGEST_NAME.exec(name);
  if (!m) return undefined;
  const d = m[3] as string;
  const t = m[4] as string;
  return {
    region: m[1] as string,
    trail: m[2] as string,
    endMs: Date.UTC(+d.slice(0, 4), +d.slice(4, 6) - 1, +d.slice(6, 8), +t.slice(0, 2), +t.slice(2, 4), +t.slice(4, 6)),
  };
}
