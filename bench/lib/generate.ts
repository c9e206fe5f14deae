/**
 * A realistic event store for query and scaling benchmarks: `n` events over 90 days, written
 * through the store API (`SqliteEventStore.append`, committed in large batches).
 *
 * Realistic means skewed, as audit logs are: 2,000 users, 24 clusters in 4 regions, 20,000
 * jobs, every Flink REST operation of the catalog — each drawn from a Zipf-like distribution
 * (a few users, jobs and operations make most of the traffic, a long tail is rarely seen).
 * 96 % reads, 4 % writes, ~3 % failures, 2 % FlinkTrail's own API calls, some sign-in failures.
 * Times increase with append order, as they do in a live store. Deterministic for a seed, so
 * every run queries the same data; the facts a query benchmark needs (the commonest and a rare
 * user, job, operation…) come back with the store.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { catalogEntries, type CatalogEntry } from '../../src/catalog/index.js';
import { finishEvent, newEvent } from '../../src/event/build.js';
import { EVENT_SOURCES, RESOURCE_TYPE_PREFIX, type ActionTrailEvent } from '../../src/event/types.js';
import { openDatabase } from '../../src/store/sqlite/database.js';
import { SqliteEventStore } from '../../src/store/sqlite/events.js';
import { SqliteIdentityStore } from '../../src/identity/sqlite/directory.js';
import { RESOURCE_PARAMS } from '../../src/catalog/index.js';

/** Bump when the generated data changes shape, so cached stores are rebuilt. */
export const GENERATOR_VERSION = 2;
export const SPAN_MS = 90 * 24 * 3600 * 1000;
/** The management account of generated stores: the configuration's default `accountId`. */
export const MANAGEMENT_ACCOUNT = '1000000000000001';

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Draws ranks 0..n-1 with P(rank k) ∝ 1/(k+1)^s. */
export class Zipf {
  private readonly cdf: Float64Array;
  constructor(
    readonly n: number,
    s: number,
    private readonly rng: () => number,
  ) {
    this.cdf = new Float64Array(n);
    let sum = 0;
    for (let k = 0; k < n; k++) this.cdf[k] = sum += 1 / (k + 1) ** s;
    for (let k = 0; k < n; k++) this.cdf[k] = (this.cdf[k] as number) / sum;
  }
  /** Probability of rank k. */
  p(k: number): number {
    return (this.cdf[k] as number) - (k > 0 ? (this.cdf[k - 1] as number) : 0);
  }
  next(): number {
    const u = this.rng();
    let lo = 0;
    let hi = this.n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.cdf[mid] as number) < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

const hex = (rng: () => number, len: number) => {
  let s = '';
  while (s.length < len) s += Math.floor(rng() * 0x100000000).toString(16).padStart(8, '0');
  return s.slice(0, len);
};

/** The operations the Web UI and scripts call most, most popular first; the rest follow. */
const POPULAR_READS = [
  'GetJobDetails',
  'GetJobsOverview',
  'GetClusterOverview',
  'GetJobVertexMetrics',
  'GetCheckpointingStatistics',
  'GetJobExceptions',
  'ListTaskManagers',
  'GetJobConfig',
  'GetJobPlan',
  'ListJars',
  'GetJobVertexBackPressure',
  'GetTaskManagerDetails',
  'GetDashboardConfig',
];
const POPULAR_WRITES = ['TriggerSavepoint', 'CancelJob', 'UploadJar', 'RunJar', 'StopJobWithSavepoint', 'DeleteJar', 'RescaleJob', 'TriggerCheckpoint'];
const API_CALLS = ['LookupEvents', 'GetEvent', 'GetCallerIdentity'];
const REGIONS = ['cn-hangzhou', 'cn-shanghai', 'eu-central-1', 'us-west-1'];
const AGENTS = ['Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0', 'flink-cli/2.2.0', 'python-requests/2.32', 'curl/8.5.0', 'Go-http-client/1.1'];

interface User {
  name: string;
  principalId: string;
  keys: string[];
  ips: string[];
}

export interface World {
  clusters: { name: string; region: string }[];
  users: User[];
  jobs: { id: string; name: string; cluster: number }[];
  jars: string[];
  reads: CatalogEntry[];
  writes: CatalogEntry[];
}

function ordered(entries: CatalogEntry[], popular: string[]): CatalogEntry[] {
  const rank = (e: CatalogEntry) => {
    const i = popular.indexOf(e.eventName);
    return i < 0 ? popular.length : i;
  };
  return [...entries].sort((a, b) => rank(a) - rank(b));
}

export function makeWorld(seed: number): World {
  const rng = mulberry32(seed);
  const clusters = Array.from({ length: 24 }, (_, i) => ({ name: `flink-${['prod', 'staging', 'analytics', 'etl'][i % 4]}-${i + 1}`, region: REGIONS[i % REGIONS.length] as string }));
  const users = Array.from({ length: 2000 }, (_, i) => ({
    name: `user-${String(i + 1).padStart(4, '0')}`,
    principalId: String(200000000000 + i * 7919),
    keys: Array.from({ length: 1 + (i % 3 === 0 ? 1 : 0) }, () => `FTAK${hex(rng, 20).toUpperCase()}`),
    ips: Array.from({ length: 1 + (i % 4) }, () => `10.${Math.floor(rng() * 256)}.${Math.floor(rng() * 256)}.${1 + Math.floor(rng() * 254)}`),
  }));
  const jobs = Array.from({ length: 20000 }, (_, i) => ({ id: hex(rng, 32), name: `job-${['orders', 'clicks', 'payments', 'sessions', 'fraud'][i % 5]}-${i}`, cluster: Math.floor(rng() * clusters.length) }));
  const jars = Array.from({ length: 2000 }, (_, i) => `${hex(rng, 8)}-${hex(rng, 4)}-${hex(rng, 4)}-${hex(rng, 4)}-${hex(rng, 12)}_app-${i}.jar`);
  const dispatcher = catalogEntries('dispatcher').filter((e) => e.eventName !== 'GetWebUIAsset');
  return {
    clusters,
    users,
    jobs,
    jars,
    reads: ordered(dispatcher.filter((e) => e.eventRW === 'Read'), POPULAR_READS),
    writes: ordered(dispatcher.filter((e) => e.eventRW === 'Write'), POPULAR_WRITES),
  };
}

/** What the query benchmark asks about: values at both ends of each distribution. */
export interface Facts {
  startTime: number;
  endTime: number;
  commonUser: string;
  rareUsers: string[];
  commonEventName: string;
  rareEventNames: string[];
  commonWriteName: string;
  commonJob: string;
  rareJobs: string[];
  commonCluster: string;
  rareAccessKeys: string[];
  rareIps: string[];
  /** eventIds spread over the store (for the primary-key baseline). */
  eventIds: string[];
}

export interface StoreMeta {
  version: number;
  events: number;
  seed: number;
  generatedAt: string;
  /** Wall time of generation (append + commit), seconds. */
  seconds: number;
  /** Database size on disk after generation (db + wal), bytes. */
  bytes: number;
  facts: Facts;
  /** Member accounts the events are spread over with the management account (absent: the management account only). */
  accounts?: string[];
}

export class Generator {
  private readonly rng: () => number;
  private readonly userZ: Zipf;
  private readonly jobZ: Zipf;
  private readonly clusterZ: Zipf;
  private readonly readZ: Zipf;
  private readonly writeZ: Zipf;
  private readonly jarZ: Zipf;
  /** Draws each event's account, apart from `rng` so that the events are otherwise those of the single-account store. */
  private readonly accountRng: () => number;

  /** `accounts`: the accounts events are spread over evenly (each drawn uniformly); default the management account only. */
  constructor(
    private readonly w: World,
    seed: number,
    private readonly accounts: readonly string[] = [MANAGEMENT_ACCOUNT],
  ) {
    this.accountRng = mulberry32(seed ^ 0x5bd1e995);
    this.rng = mulberry32(seed ^ 0x9e3779b9);
    this.userZ = new Zipf(w.users.length, 1.05, this.rng);
    this.jobZ = new Zipf(w.jobs.length, 1.0, this.rng);
    this.clusterZ = new Zipf(w.clusters.length, 0.9, this.rng);
    this.readZ = new Zipf(w.reads.length, 1.3, this.rng);
    this.writeZ = new Zipf(w.writes.length, 1.2, this.rng);
    this.jarZ = new Zipf(w.jars.length, 1.0, this.rng);
  }

  event(time: number, i: number): ActionTrailEvent {
    const r = this.rng;
    const user = this.w.users[this.userZ.next()] as User;
    const ip = user.ips[Math.floor(r() * user.ips.length)] as string;
    const key = r() < 0.85 ? user.keys[Math.floor(r() * user.keys.length)] : undefined;
    const agent = AGENTS[(i * 31 + user.name.length) % AGENTS.length] as string;
    // The caller's account, and so (newEvent) the event's recipientAccountId.
    const accountId = this.accounts.length === 1 ? (this.accounts[0] as string) : (this.accounts[Math.floor(this.accountRng() * this.accounts.length)] as string);
    const identity = { type: 'ram-user' as const, principalId: user.principalId, accountId, userName: user.name, ...(key ? { accessKeyId: key } : {}) };
    const u = r();
    if (u < 0.02) {
      // FlinkTrail's own API: auditors looking things up.
      const name = API_CALLS[Math.floor(r() * API_CALLS.length)] as string;
      const e = newEvent({
        eventName: name,
        eventRW: 'Read',
        eventType: 'ApiCall',
        eventSource: EVENT_SOURCES.flinkTrail,
        serviceName: 'Actiontrail',
        acsRegion: 'cn-hangzhou',
        sourceIpAddress: ip,
        userAgent: agent,
        userIdentity: identity,
        requestId: hex(r, 32).toUpperCase(),
        time: new Date(time),
        requestParameters: name === 'LookupEvents' ? { eventRW: 'Write', maxResults: '50' } : {},
        additionalEventData: { sensitive: false, httpStatus: 200 },
      });
      return finishEvent(e, { outcome: 'success', latencyMs: 3 + r() * 10 });
    }
    const write = u < 0.06;
    const entry = write ? (this.w.writes[this.writeZ.next()] as CatalogEntry) : (this.w.reads[this.readZ.next()] as CatalogEntry);
    const job = entry.params.includes('jobid') ? this.w.jobs[this.jobZ.next()] : undefined;
    const cluster = this.w.clusters[job ? job.cluster : this.clusterZ.next()] as World['clusters'][number];
    const resources: Record<string, string[]> = { [`${RESOURCE_TYPE_PREFIX}Cluster`]: [cluster.name] };
    const values: Record<string, string> = {};
    for (const p of entry.params) {
      let v: string;
      if (p === 'jobid' && job) v = job.id;
      else if (p === 'jarid') v = this.w.jars[this.jarZ.next()] as string;
      else if (p === 'taskmanagerid') v = `10.1.${cluster.name.length}.${1 + (i % 8)}:6122-${hex(r, 6)}`;
      else if (p === 'checkpointid') v = String(1 + Math.floor(r() * 5000));
      else v = hex(r, 32);
      values[p] = v;
      const type = RESOURCE_PARAMS[p];
      if (type) (resources[`${RESOURCE_TYPE_PREFIX}${type}`] ??= []).push(v);
    }
    if (job) (resources[`${RESOURCE_TYPE_PREFIX}Job`] ??= []).push(job.name);
    const path = entry.template.replace(/:(\w+)/g, (_, p: string) => values[p] ?? 'x');
    const authFail = r() < 0.005;
    const e = newEvent({
      eventName: entry.eventName,
      eventRW: entry.eventRW,
      eventType: agent.startsWith('Mozilla') ? 'ConsoleOperation' : 'ApiCall',
      eventSource: EVENT_SOURCES.jobManager,
      serviceName: 'RealtimeCompute',
      acsRegion: cluster.region,
      sourceIpAddress: ip,
      userAgent: agent,
      userIdentity: authFail ? { type: 'anonymous', principalId: 'anonymous', accountId, userName: user.name } : identity,
      requestId: hex(r, 32).toUpperCase(),
      time: new Date(time),
      requestParameters: entry.query ? { ...entry.query } : write && entry.eventName === 'TriggerSavepoint' ? { 'cancel-job': false } : {},
      referencedResources: resources,
      additionalEventData: { cluster: cluster.name, sensitive: entry.sensitive, httpMethod: entry.method, path },
    });
    if (authFail) return finishEvent(e, { outcome: 'failure', httpStatus: 401, errorCode: 'FT_ERR_AUTH_INVALID', errorMessage: 'The AccessKey or password is not valid.' });
    const f = r();
    if (f < 0.015) return finishEvent(e, { outcome: 'failure', httpStatus: 404, latencyMs: 1 + r() * 5, errorCode: 'Flink.NotFound', errorMessage: `Job ${job?.id ?? 'x'} not found` });
    if (f < 0.02) return finishEvent(e, { outcome: 'failure', httpStatus: 400, latencyMs: 1 + r() * 5, errorCode: 'Flink.BadRequest', errorMessage: 'Bad request.' });
    if (f < 0.025) return finishEvent(e, { outcome: 'failure', httpStatus: 500, latencyMs: 5 + r() * 50, errorCode: 'Flink.InternalServerError', errorMessage: 'Internal server error.' });
    return finishEvent(e, {
      outcome: 'success',
      httpStatus: write ? 202 : 200,
      latencyMs: 1 + r() * 20,
      responseElements: write ? { 'request-id': hex(r, 32) } : {},
      additionalEventData: { responseBytes: 200 + Math.floor(r() * 8000) },
    });
  }
}

function facts(w: World, start: number, end: number, eventIds: string[]): Facts {
  const rareUserRanks = [1200, 1350, 1500, 1650, 1800, 1900];
  const rareJobRanks = [9000, 11000, 13000, 15000, 17000, 19000];
  return {
    startTime: start,
    endTime: end,
    commonUser: (w.users[0] as User).name,
    rareUsers: rareUserRanks.map((k) => (w.users[k] as User).name),
    commonEventName: (w.reads[0] as CatalogEntry).eventName,
    rareEventNames: w.reads.slice(-6).map((e) => e.eventName),
    commonWriteName: (w.writes[0] as CatalogEntry).eventName,
    commonJob: (w.jobs[0] as World['jobs'][number]).id,
    rareJobs: rareJobRanks.map((k) => (w.jobs[k] as World['jobs'][number]).id),
    commonCluster: (w.clusters[0] as World['clusters'][number]).name,
    rareAccessKeys: rareUserRanks.map((k) => (w.users[k] as User).keys[0] as string),
    rareIps: rareUserRanks.map((k) => (w.users[k] as User).ips[0] as string),
    eventIds,
  };
}

export function dirBytes(dir: string): number {
  return readdirSync(dir)
    .filter((f) => f.startsWith('flinktrail.db'))
    .reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}

/**
 * Generates a store of `n` events in `dir` (replacing what is there), through the store API
 * in batches of `batch`. Reports progress on stderr.
 */
export async function generateStore(dir: string, n: number, opts: { seed?: number; batch?: number; end?: number; accounts?: string[] } = {}): Promise<StoreMeta> {
  const seed = opts.seed ?? 42;
  const batch = opts.batch ?? 20_000;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const world = makeWorld(seed);
  const gen = new Generator(world, seed, opts.accounts ? [MANAGEMENT_ACCOUNT, ...opts.accounts] : undefined);
  // Generation commits with synchronous=NORMAL: a bulk load, not the fail-closed journal path.
  const db = openDatabase(dir, { synchronous: 'normal' });
  if (opts.accounts) {
    const identity = new SqliteIdentityStore(db);
    for (const [k, id] of opts.accounts.entries()) await identity.insertAccount({ id, name: `team-${k + 1}`, createdAt: Date.now() });
  }
  // The store is opened as the app opens it (Config.accountId): the management account's events
  // are stored with no account, so a single-account store pays for no member index entry.
  const store = new SqliteEventStore(db, { flushIntervalMs: 1000, maxQueue: batch + 1, managementAccountId: MANAGEMENT_ACCOUNT });
  const end = opts.end ?? Math.floor(Date.now() / 1000) * 1000 - 3600_000;
  const start = end - SPAN_MS;
  const step = SPAN_MS / n;
  const ids: string[] = [];
  const every = Math.max(1, Math.floor(n / 200));
  const t0 = performance.now();
  let lastReport = t0;
  for (let i = 0; i < n; i += batch) {
    const pending: Promise<void>[] = [];
    for (let j = i; j < Math.min(n, i + batch); j++) {
      const e = gen.event(Math.floor(start + (j + 0.999 * Math.random()) * step), j);
      if (j % every === 0) ids.push(e.eventId);
      pending.push(store.append(e));
    }
    store.flush();
    await Promise.all(pending);
    const now = performance.now();
    if (now - lastReport > 10_000) {
      lastReport = now;
      const done = Math.min(n, i + batch);
      process.stderr.write(`  generated ${done.toLocaleString('en-US')} / ${n.toLocaleString('en-US')} events (${Math.round(done / ((now - t0) / 1000)).toLocaleString('en-US')}/s)\n`);
    }
  }
  await store.close();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  const seconds = (performance.now() - t0) / 1000;
  const meta: StoreMeta = { version: GENERATOR_VERSION, events: n, seed, generatedAt: new Date().toISOString(), seconds, bytes: dirBytes(dir), facts: facts(world, start, end, ids), ...(opts.accounts ? { accounts: opts.accounts } : {}) };
  writeFileSync(join(dir, 'bench-meta.json'), JSON.stringify(meta, null, 1));
  return meta;
}

/** A cached store of `n` events under `root` (spread over `accounts` too if given), generated when missing or out of date. */
export async function cachedStore(root: string, n: number, fresh = false, accounts?: string[]): Promise<{ dir: string; meta: StoreMeta; cached: boolean }> {
  const dir = join(root, accounts ? `events-${n}-accounts-${accounts.length}` : `events-${n}`);
  const metaFile = join(dir, 'bench-meta.json');
  if (!fresh && existsSync(metaFile)) {
    const meta = JSON.parse(readFileSync(metaFile, 'utf8')) as StoreMeta;
    if (meta.version === GENERATOR_VERSION && meta.events === n && (meta.accounts ?? []).join() === (accounts ?? []).join()) return { dir, meta, cached: true };
  }
  process.stderr.write(`generating a store of ${n.toLocaleString('en-US')} events in ${dir}…\n`);
  return { dir, meta: await generateStore(dir, n, accounts ? { accounts } : {}), cached: false };
}
