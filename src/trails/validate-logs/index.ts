/**
 * validate-logs: proves that a trail's delivered files are complete and unaltered, from the
 * digest chain — online (reading the bucket or directory) or offline (a downloaded copy plus
 * the published public keys), which CloudTrail's validator cannot do.
 *
 * It reports, each naming the object:
 * - digests: unreadable or modified (signature fails), signed by a key that is not published,
 *   signed outside the key's validity, moved (its body names another key), deleted (a later
 *   digest links to it), missing (no digest links to one that should have a successor — this
 *   catches two or more consecutive deletions, cf. aws-cli #7054), chain links that do not match;
 * - log files: modified (SHA-256 differs), deleted (listed but absent), added (present in an
 *   interval a digest covers but listed by none), not covered (their digest is missing);
 *   files newer than the newest digest are reported as pending, not as problems.
 *
 * Key rotation raises no false alarm: each digest names its key by fingerprint and carries its
 * signing time, checked against that key's published validity.
 *
 * A multi-account trail (`accounts`) keeps one chain per account and region, under
 * `<rd_id>/<accountId>/<region>/`: each account is validated on its own (all found, or those
 * asked for) and reported on its own, and a digest must name the account of its path.
 */
import type { KeyObject } from 'node:crypto';
import { readDigest, verifyDigest, type SignedDigest } from '../digest/format.js';
import { importPublicKey, type PublicKeyInfo } from '../digest/keys.js';
import { DIGEST_DIR, digestKey, INSIGHT_DIR, LOG_DIR, logPath, parseDigestKey, parseLogKey, pathRegion, sha256Hex } from '../layout.js';

/** What validate-logs reads: a bucket or directory rooted at the trail's prefix. */
export interface Reader {
  get(key: string): Promise<Buffer | undefined>;
  list(prefix: string): Promise<string[]>;
  listDirs(prefix: string): Promise<string[]>;
}

/** A reader for the keys below `prefix` of another reader. */
export function prefixed(inner: Reader, prefix: string): Reader {
  const p = prefix.replace(/^\/+|\/+$/g, '');
  if (!p) return inner;
  const strip = (k: string) => (k.startsWith(`${p}/`) ? k.slice(p.length + 1) : k);
  return {
    get: (k) => inner.get(`${p}/${k}`),
    list: async (k) => (await inner.list(`${p}/${k}`)).map(strip),
    listDirs: async (k) => (await inner.listDirs(`${p}/${k}`)).map(strip),
  };
}

export const FINDING_KINDS = [
  'digest-unreadable',
  'digest-signature-invalid',
  'digest-unknown-key',
  'digest-key-not-valid',
  'digest-moved',
  'digest-deleted',
  'digest-missing',
  'digest-chain-broken',
  'file-modified',
  'file-deleted',
  'file-added',
  'file-not-covered',
  'file-pending',
] as const;
export type FindingKind = (typeof FINDING_KINDS)[number];

export interface Finding {
  kind: FindingKind;
  severity: 'error' | 'info';
  /** The object the finding is about, relative to the trail's root (the bucket prefix or directory). */
  object: string;
  message: string;
  /** The account whose path the object is under (multi-account trails). */
  account?: string;
}

/** How one account of a multi-account trail fared. */
export interface AccountReport {
  accountId: string;
  ok: boolean;
  digests: { valid: number; total: number };
  files: { valid: number; total: number };
}

export interface ValidateOptions {
  reader: Reader;
  trail: string;
  publicKeys: readonly PublicKeyInfo[];
  start: number;
  end: number;
  now?: number;
  /** Regions to validate; default: every region found under AliyunLogs/ (of each account). */
  regions?: readonly string[];
  /**
   * A multi-account trail: its files are under `<rdId>/<accountId>/<region>/`. `only`: validate
   * these accounts (default: every account found).
   */
  accounts?: { rdId: string; only?: readonly string[] };
  /** How long after its interval a digest may still be on its way (default 5 minutes). */
  graceMs?: number;
}

export interface ValidationReport {
  ok: boolean;
  digests: { valid: number; total: number };
  files: { valid: number; total: number };
  findings: Finding[];
  validFiles: string[];
  validDigests: string[];
  /** The time span the found digests cover. */
  found?: { start: string; end: string };
  /** Multi-account trails: each account validated, by id. */
  accounts?: AccountReport[];
}

const last = (p: string) => p.replace(/\/$/, '').split('/').pop() as string;

/** The names of the directories right under `AliyunLogs/<dir>/<below>` for every kind of directory, sorted. */
async function childNames(reader: Reader, below: string): Promise<string[]> {
  const found = new Set<string>();
  for (const dir of [DIGEST_DIR, LOG_DIR, INSIGHT_DIR]) for (const p of await reader.listDirs(`AliyunLogs/${dir}/${below}`)) found.add(last(p));
  return [...found].sort();
}

/**
 * The resource directories (`<rd_id>`) of multi-account trails found in a copy: directories under
 * `AliyunLogs/Actiontrail[-Digest]/` whose children hold region directories (where a region's
 * hold year and month directories). For offline validation, where no API says what a trail is.
 */
export async function findResourceDirectories(reader: Reader): Promise<string[]> {
  const out: string[] = [];
  for (const name of await childNames(reader, '')) {
    if (!name.startsWith('rd-')) continue;
    for (const dir of [DIGEST_DIR, LOG_DIR]) {
      const [account] = await reader.listDirs(`AliyunLogs/${dir}/${name}/`);
      if (account === undefined) continue;
      const [region] = await reader.listDirs(account);
      if (region !== undefined && /^[a-z]/.test(last(region))) {
        out.push(name);
        break;
      }
    }
  }
  return out;
}

interface Loaded {
  key: string;
  endMs: number;
  bytes?: Buffer;
  sha?: string;
  digest?: SignedDigest;
  valid: boolean;
  /** The digest's start (from its body, else its end minus nothing known). */
  startMs: number;
}

const DAY = 86_400_000;

/** The YYYY/MM/DD directories under `base` that exist and fall in [from, to] (walks, does not guess). */
async function dayDirs(reader: Reader, base: string, from: number, to: number): Promise<string[]> {
  const first = Math.floor(from / DAY) * DAY;
  const out: string[] = [];
  const num = (p: string) => Number(p.replace(/\/$/, '').split('/').pop());
  for (const y of await reader.listDirs(base)) {
    const year = num(y);
    if (!(year >= new Date(first).getUTCFullYear() && year <= new Date(to).getUTCFullYear())) continue;
    for (const m of await reader.listDirs(y)) {
      const month = num(m);
      if (Date.UTC(year, month, 1) <= first || Date.UTC(year, month - 1, 1) > to) continue;
      for (const d of await reader.listDirs(m)) {
        const day = Date.UTC(year, month - 1, num(d));
        if (day >= first && day <= to) out.push(d);
      }
    }
  }
  return out.sort();
}

function relative(object: string, key: string, body: { digestObject: string }): string {
  // Keys in a digest carry the bucket prefix; the reader is rooted at the prefix.
  const prefix = body.digestObject.endsWith(key) ? body.digestObject.slice(0, body.digestObject.length - key.length) : '';
  return prefix && object.startsWith(prefix) ? object.slice(prefix.length) : object;
}

export async function validateLogs(o: ValidateOptions): Promise<ValidationReport> {
  const now = o.now ?? Date.now();
  const grace = o.graceMs ?? 5 * 60_000;
  const findings: Finding[] = [];
  const validFiles: string[] = [];
  const validDigests: string[] = [];
  let filesTotal = 0;
  let digestsTotal = 0;
  const keys = new Map<string, { key: KeyObject; info: PublicKeyInfo }>();
  for (const info of o.publicKeys) keys.set(info.Fingerprint, { key: importPublicKey(info), info });
  const err = (kind: FindingKind, object: string, message: string) => findings.push({ kind, severity: 'error', object, message });

  // The paths to validate, each one digest chain: regions, or each account's regions.
  const regionsUnder = async (below: string) => (o.regions ? [...o.regions] : await childNames(o.reader, below));
  const paths: { path: string; account?: string }[] = [];
  const accounts = o.accounts;
  const accountIds = accounts ? (accounts.only ? [...accounts.only] : await childNames(o.reader, `${accounts.rdId}/`)) : [];
  if (accounts) {
    for (const accountId of accountIds) {
      for (const region of await regionsUnder(`${accounts.rdId}/${accountId}/`)) paths.push({ path: logPath(region, { rdId: accounts.rdId, accountId }), account: accountId });
    }
  } else {
    for (const region of await regionsUnder('')) paths.push({ path: region });
  }
  const tallies = new Map<string, AccountReport>(accountIds.map((a) => [a, { accountId: a, ok: true, digests: { valid: 0, total: 0 }, files: { valid: 0, total: 0 } }]));
  // Digests are listed a day beyond the range on both sides so that links can be followed.
  const listFrom = o.start - DAY;
  const listTo = Math.min(o.end, now) + DAY;
  let foundStart: number | undefined;
  let foundEnd: number | undefined;

  for (const { path, account } of paths) {
    const region = pathRegion(path);
    const before = { findings: findings.length, files: validFiles.length, digests: validDigests.length, filesTotal, digestsTotal };
    const loaded: Loaded[] = [];
    for (const day of await dayDirs(o.reader, `AliyunLogs/${DIGEST_DIR}/${path}/`, listFrom, listTo)) {
      for (const key of await o.reader.list(day)) {
        const meta = parseDigestKey(key);
        if (!meta || meta.trail !== o.trail || meta.region !== region) continue;
        loaded.push({ key, endMs: meta.endMs, valid: false, startMs: meta.endMs });
      }
    }
    loaded.sort((a, b) => a.endMs - b.endMs || (a.key < b.key ? -1 : 1));
    for (const l of loaded) {
      const bytes = await o.reader.get(l.key);
      if (!bytes) continue;
      l.bytes = bytes;
      l.sha = sha256Hex(bytes);
      try {
        l.digest = readDigest(bytes);
        l.startMs = Date.parse(l.digest.body.digestStartTime);
      } catch {
        /* reported below if in range */
      }
    }
    const inRange = (l: Loaded) => l.endMs > o.start && l.startMs < o.end;
    const byKey = new Map(loaded.map((l) => [l.key, l]));

    // 1. Each digest on its own.
    for (const l of loaded) {
      if (!inRange(l)) continue;
      digestsTotal++;
      const d = l.digest;
      if (!d) {
        err('digest-unreadable', l.key, 'The digest file is not a readable signed digest (modified or truncated).');
        continue;
      }
      const k = keys.get(d.body.publicKeyFingerprint);
      if (!k) {
        err('digest-unknown-key', l.key, `The digest is signed by key ${String(d.body.publicKeyFingerprint).slice(0, 40)}, which is not among the published public keys.`);
        continue;
      }
      if (!verifyDigest(d, k.key)) {
        err('digest-signature-invalid', l.key, 'The digest signature does not verify: the digest was modified.');
        continue;
      }
      const signedAt = Date.parse(d.body.signedAt);
      const from = Date.parse(k.info.ValidityStartTime);
      const to = k.info.ValidityEndTime ? Date.parse(k.info.ValidityEndTime) : Number.POSITIVE_INFINITY;
      if (!(signedAt >= from && signedAt <= to)) {
        err('digest-key-not-valid', l.key, `The digest was signed at ${d.body.signedAt}, outside the validity of key ${k.info.Fingerprint}.`);
        continue;
      }
      if (!d.body.digestObject.endsWith(l.key) || d.body.trailName !== o.trail || d.body.region !== region || (account !== undefined && d.body.accountId !== account)) {
        err('digest-moved', l.key, `The digest belongs at ${d.body.digestObject} (trail ${d.body.trailName}, account ${d.body.accountId}, region ${d.body.region}).`);
        continue;
      }
      l.valid = true;
      validDigests.push(l.key);
      foundStart = Math.min(foundStart ?? l.startMs, l.startMs);
      foundEnd = Math.max(foundEnd ?? l.endMs, l.endMs);
    }

    // 2. The chain: every link must match, and every digest but the newest must be linked to.
    const reported = new Set<string>();
    const linked = new Set<string>();
    for (const l of loaded) {
      const b = l.digest?.body;
      if (!b?.previousDigestObject) continue;
      const prevRel = relative(b.previousDigestObject, l.key, b);
      linked.add(prevRel);
      if (!inRange(l) || !l.valid) continue;
      const p = byKey.get(prevRel);
      const prevMeta = parseDigestKey(prevRel);
      if (!p || !p.bytes) {
        if (prevMeta && prevMeta.endMs >= listFrom && !reported.has(prevRel)) {
          reported.add(prevRel);
          digestsTotal++;
          err('digest-deleted', prevRel, `The digest was deleted: ${l.key} links to it.`);
        }
        continue;
      }
      if (p.sha !== b.previousDigestHashValue || p.digest?.signature !== b.previousDigestSignature) {
        if (!reported.has(prevRel)) {
          reported.add(prevRel);
          err('digest-chain-broken', prevRel, `The digest does not match the hash and signature that ${l.key} recorded for it: it was replaced.`);
        }
      }
    }
    const newest = loaded.filter((l) => l.digest).at(-1);
    for (const l of loaded) {
      if (!inRange(l) || l === newest || linked.has(l.key) || !l.digest) continue;
      const expected = digestKey('', path, o.trail, l.endMs + l.digest.body.digestInterval * 1000);
      if (reported.has(expected)) continue;
      reported.add(expected);
      digestsTotal++;
      err('digest-missing', expected, `No digest links to ${l.key}: the digest after it (expected ${expected}) and possibly more are missing.`);
    }

    // 3. Log files listed by valid digests.
    const listed = new Set<string>();
    const intervals: [number, number][] = [];
    for (const l of loaded) {
      const d = l.digest;
      if (!d) continue;
      intervals.push([Date.parse(d.body.digestStartTime), l.endMs]);
      for (const f of d.body.logFiles) {
        const rel = relative(f.object, l.key, d.body);
        listed.add(rel);
        if (!l.valid || !inRange(l)) continue;
        filesTotal++;
        const bytes = await o.reader.get(rel);
        if (!bytes) err('file-deleted', rel, `The log file was deleted (listed in ${l.key}).`);
        else if (sha256Hex(bytes) !== f.hashValue) err('file-modified', rel, `The log file was modified: its SHA-256 differs from the one in ${l.key}.`);
        else validFiles.push(rel);
      }
    }

    // 4. Log files no digest lists.
    const newestEnd = loaded.filter((l) => l.valid).reduce((m, l) => Math.max(m, l.endMs), Number.NEGATIVE_INFINITY);
    const newestInterval = newest?.digest ? newest.digest.body.digestInterval * 1000 : 3600_000;
    let tailMissing = false;
    for (const dir of [LOG_DIR, INSIGHT_DIR]) {
      for (const day of await dayDirs(o.reader, `AliyunLogs/${dir}/${path}/`, o.start, Math.min(o.end, now))) {
        for (const key of await o.reader.list(day)) {
          const meta = parseLogKey(key);
          if (!meta || listed.has(key) || meta.cutAt < o.start - 1000 || meta.cutAt > o.end) continue;
          if (meta.cutAt >= newestEnd || !Number.isFinite(newestEnd)) {
            if (now - meta.cutAt > newestInterval + grace && Number.isFinite(newestEnd)) {
              filesTotal++;
              err('file-not-covered', key, 'The log file is not listed by any digest although its digest is due: the digest covering it is missing.');
              tailMissing = true;
            } else if (!Number.isFinite(newestEnd) && now - meta.cutAt > newestInterval + grace) {
              filesTotal++;
              err('file-not-covered', key, 'The log file is not listed by any digest (no digest found).');
            } else {
              findings.push({ kind: 'file-pending', severity: 'info', object: key, message: 'Delivered after the newest digest; the next digest will list it.' });
            }
            continue;
          }
          filesTotal++;
          const covered = intervals.some(([s, e]) => meta.cutAt >= s && meta.cutAt < e);
          if (covered) err('file-added', key, 'The log file is in an interval that a digest covers, but no digest lists it: it was added.');
          else err('file-not-covered', key, 'The log file is not listed by any digest: the digest for its interval is missing.');
        }
      }
    }
    if (tailMissing && newest?.digest && !reported.has(digestKey('', path, o.trail, newest.endMs + newestInterval))) {
      const expected = digestKey('', path, o.trail, newest.endMs + newestInterval);
      digestsTotal++;
      err('digest-missing', expected, `The digest after ${newest.key} is missing (log files after it are due to be covered).`);
    }
    // What this path found counts for its account.
    const tally = account !== undefined ? tallies.get(account) : undefined;
    if (account !== undefined) for (const f of findings.slice(before.findings)) f.account = account;
    if (tally) {
      tally.digests.valid += validDigests.length - before.digests;
      tally.digests.total += digestsTotal - before.digestsTotal;
      tally.files.valid += validFiles.length - before.files;
      tally.files.total += filesTotal - before.filesTotal;
      if (findings.slice(before.findings).some((f) => f.severity === 'error')) tally.ok = false;
    }
  }

  const report: ValidationReport = {
    ok: !findings.some((f) => f.severity === 'error'),
    digests: { valid: validDigests.length, total: digestsTotal },
    files: { valid: validFiles.length, total: filesTotal },
    findings,
    validFiles,
    validDigests,
  };
  if (foundStart !== undefined && foundEnd !== undefined) report.found = { start: new Date(foundStart).toISOString(), end: new Date(foundEnd).toISOString() };
  if (accounts) report.accounts = [...tallies.values()];
  return report;
}

/** The human report, CloudTrail's wording where it has one. */
export function formatReport(r: ValidationReport, o: { trail: string; start: number; end: number; verbose: boolean; where: string }): string {
  const lines = [
    `Validating log files for trail ${o.trail} (${o.where}) between ${new Date(o.start).toISOString()} and ${new Date(o.end).toISOString()}`,
    '',
  ];
  if (o.verbose) {
    for (const d of r.validDigests) lines.push(`Digest file ${d}\tvalid`);
    for (const f of r.validFiles) lines.push(`Log file ${f}\tvalid`);
  }
  for (const f of r.findings) {
    if (f.severity === 'info' && !o.verbose) continue;
    lines.push(`${f.severity === 'error' ? 'INVALID' : 'NOTE'} ${f.kind}: ${f.object}\n    ${f.message}`);
  }
  if (r.found) lines.push('', `Results found for ${r.found.start} to ${r.found.end}:`);
  if (r.accounts) {
    lines.push('');
    for (const a of r.accounts) {
      lines.push(`Account ${a.accountId}: ${a.ok ? 'valid' : 'INVALID'} — ${a.digests.valid}/${a.digests.total} digest files valid, ${a.files.valid}/${a.files.total} log files valid`);
    }
    if (!r.accounts.length) lines.push('No account found under the trail\'s resource directory.');
  }
  lines.push('', `${r.digests.valid}/${r.digests.total} digest files valid`, `${r.files.valid}/${r.files.total} log files valid`);
  const pending = r.findings.filter((f) => f.kind === 'file-pending').length;
  if (pending) lines.push(`${pending} log files delivered after the newest digest (not yet covered)`);
  return lines.join('\n');
}
