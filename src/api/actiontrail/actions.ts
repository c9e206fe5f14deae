/**
 * The ActionTrail 2020-07-06 actions FlinkTrail serves, each a thin adapter: RPC parameters in
 * ActionTrail's names → the same query and trail code the REST API uses → ActionTrail's
 * response fields. Nothing here stores or decides anything of its own, so an RPC page and a
 * REST page of the same query are the same events, and a trail made either way is one trail.
 *
 * LookupEvents asks one region, as ActionTrail's endpoint of a region does: `RegionId`, else the
 * region of an `actiontrail.<region>.…` endpoint host, else the home region — global events
 * included; a `Region` LookupAttribute overrides them, `*` asks every region. The storage region of global events is shared with the REST API (regions/).
 *
 * FlinkTrail extensions, all optional: LookupEvents takes several LookupAttribute entries
 * (ANDed) and more keys (EventType, Sensitive, Region, ErrorCode, SourceIpAddress, Cluster);
 * trails take `Destinations.N` (any FlinkTrail destination URL) and `DigestInterval`;
 * ListDeliveryHistoryJobs takes `TrailName`.
 */
import { FlinkTrailError } from '../../errors/index.js';
import type { EventRW } from '../../event/types.js';
import type { Principal } from '../../identity/authenticate.js';
import { checkManagementAccount, checkStorageRegion, knownRegionList, type StorageRegion } from '../../regions/index.js';
import type { Config } from '../../config/index.js';
import { lookupEvents, parseTime, queryScope, type TokenCodec } from '../../query/lookup.js';
import type { EventStore } from '../../store/types.js';
import { redactUrl } from '../../trails/destination.js';
import type { TrailService } from '../../trails/service.js';
import { describeTrail } from '../../trails/service.js';
import type { RpcParams } from './params.js';

export const RPC_VERSION = '2020-07-06';
const TRAIL_RESOURCE = 'ACS::ActionTrail::Trail';

export interface ActionDeps {
  store: EventStore;
  tokens: TokenCodec;
  trails: TrailService;
  accountId: string;
  /** The home region, the clusters' and trails.knownRegions (DescribeRegions, UpdateGlobalEventsStorageRegion). */
  config: Pick<Config, 'region' | 'clusters' | 'trails'>;
  /** The global events storage region. */
  storageRegion: StorageRegion;
}

export interface ActionContext {
  params: RpcParams;
  deps: ActionDeps;
  /** The Host the client used: DescribeRegions' endpoint. */
  host: string;
  /** The signed caller: its account decides which events and trails it reaches. */
  principal: Principal;
  /** Names the resources of the call for its record. */
  resources(r: Record<string, string[]>): void;
}

export interface ActionSpec {
  eventRW: EventRW;
  /** On the curated list of sensitive operations (as the same REST calls). */
  sensitive?: boolean;
  /** Account-wide (trails), like the REST routes. */
  isGlobal?: boolean;
  /** Parameters the action takes (besides the signature's); others are refused before `run`. */
  params: readonly string[];
  /** Prefixes of flattened list parameters it takes. */
  lists?: readonly string[];
  run(ctx: ActionContext): Promise<Record<string, unknown>> | Record<string, unknown>;
}

/** LookupAttribute.N.Key → the REST filter it means. The first eight are ActionTrail's. */
export const LOOKUP_KEYS = {
  ServiceName: 'serviceName',
  EventName: 'eventName',
  User: 'user',
  EventId: 'eventId',
  ResourceType: 'resourceType',
  ResourceName: 'resourceName',
  EventRW: 'eventRW',
  EventAccessKeyId: 'accessKeyId',
  EventType: 'eventType',
  Sensitive: 'sensitive',
  Region: 'region',
  ErrorCode: 'errorCode',
  SourceIpAddress: 'sourceIpAddress',
  Cluster: 'cluster',
} as const;

export const MAX_LOOKUP_ATTRIBUTES = Object.keys(LOOKUP_KEYS).length;
export const MAX_RESULTS = 50;

const invalid = (name: string, why: string) => new FlinkTrailError('FT_ERR_RPC_INVALID_PARAMETER', name, why);

/** ActionTrail writes times without milliseconds; keep them when there are some. */
function actionTrailTime(iso: string): string {
  return iso.replace(/\.000Z$/, 'Z');
}

/** The region of an ActionTrail-style endpoint host (`actiontrail.cn-hangzhou.aliyuncs.com[:port]`), if it is one. */
export function endpointRegion(host: string): string | undefined {
  // Two labels at least after the region: `actiontrail.aliyuncs.com` (the central endpoint) names none.
  const m = /^actiontrail\.([a-z][a-z0-9-]{1,40})\.[^.:]+\.[^.:]/.exec(host.toLowerCase());
  return m?.[1];
}

/**
 * RPC LookupEvents parameters → the REST query parameters (validated with RPC names). The region
 * is the `Region` attribute's, else `RegionId`'s, else the endpoint host's (`endpointRegion`),
 * else the home region (the REST default).
 */
export function lookupQuery(p: RpcParams, hostRegion?: string): Record<string, string> {
  const q: Record<string, string> = {};
  for (const { Key: key, Value: value } of p.list('LookupAttribute', ['Key', 'Value'], MAX_LOOKUP_ATTRIBUTES)) {
    const name = Object.hasOwn(LOOKUP_KEYS, key as string) ? LOOKUP_KEYS[key as keyof typeof LOOKUP_KEYS] : undefined;
    if (!name) throw invalid('LookupAttribute.N.Key', `'${(key as string).slice(0, 40)}' is not one of ${Object.keys(LOOKUP_KEYS).join(', ')}`);
    if (q[name] !== undefined) throw invalid('LookupAttribute.N.Key', `${key as string} is given twice; each key once (different keys are ANDed)`);
    if (value === '') throw invalid('LookupAttribute.N.Value', `the value of ${key as string} must not be empty`);
    q[name] = value as string;
  }
  for (const [rpc, rest] of [['StartTime', 'startTime'], ['EndTime', 'endTime']] as const) {
    const v = p.get(rpc);
    if (v === undefined || v === '') continue;
    try {
      parseTime(rpc, v);
    } catch {
      throw invalid(rpc, `'${v.slice(0, 40)}' is not an ISO 8601 UTC time like 2026-01-31T12:00:00Z`);
    }
    q[rest] = v;
  }
  const dir = p.get('Direction');
  if (dir !== undefined && dir !== '') {
    if (dir !== 'FORWARD' && dir !== 'BACKWARD') throw invalid('Direction', 'must be FORWARD or BACKWARD');
    q['direction'] = dir;
  }
  q['maxResults'] = String(p.int('MaxResults', 1, MAX_RESULTS, MAX_RESULTS));
  const token = p.get('NextToken');
  if (token !== undefined && token !== '') q['nextToken'] = token;
  const regionId = p.get('RegionId');
  if (q['region'] === undefined && regionId !== undefined && regionId !== '') q['region'] = regionId;
  if (q['region'] === undefined && hostRegion !== undefined) q['region'] = hostRegion;
  return q;
}

/** ActionTrail delivery parameters FlinkTrail has no equivalent for. */
const UNSUPPORTED_TRAIL_PARAMS = ['OssWriteRoleArn', 'SlsProjectArn', 'SlsWriteRoleArn', 'MaxComputeProjectArn', 'MaxComputeWriteRoleArn'];

/** CreateTrail / UpdateTrail parameters → the REST body (fields absent stay absent, for updates). */
function trailBody(p: RpcParams, create: boolean): Record<string, unknown> {
  for (const k of UNSUPPORTED_TRAIL_PARAMS) {
    if (p.get(k)) throw invalid(k, 'FlinkTrail has no RAM roles, Log Service or MaxCompute; deliver with Destinations.N (s3://, kafka://, syslog+tcp://, syslog+tls://, file://, local)');
  }
  const b: Record<string, unknown> = { Name: p.required('Name') };
  // A multi-account trail; only the management account may make one (the trail service decides).
  if (create && p.bool('IsOrganizationTrail', false)) b['IsOrganizationTrail'] = true;
  for (const k of ['EventRW', 'TrailRegion', 'DigestInterval']) {
    const v = p.get(k);
    if (v !== undefined && v !== '') b[k] = v;
  }
  const destinations = p.list('Destinations', [], 10).map((e) => e[''] as string);
  const bucket = p.get('OssBucketName');
  const prefix = p.get('OssKeyPrefix');
  if (prefix && !bucket) throw invalid('OssKeyPrefix', 'needs OssBucketName');
  // An OSS bucket is an S3-compatible bucket to FlinkTrail (credentials and endpoint from the
  // environment's AWS SDK chain; give a full s3:// URL in Destinations.N to set them).
  if (bucket) destinations.push(`s3://${bucket}${prefix ? `/${prefix}` : ''}`);
  if (destinations.length || create) b['Destinations'] = destinations;
  return b;
}

/** What the record keeps of a trail request: destination URLs only redacted. */
export function recordedParameters(params: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(params)) {
    if (k === 'NextToken') continue;
    out[k] = k.startsWith('Destinations.') ? redactUrl(v) : v;
  }
  return out;
}

const trailFields = (t: Parameters<typeof describeTrail>[0], accountId: string) => ({
  ...describeTrail(t, accountId),
  OssBucketLocation: '',
  OssWriteRoleArn: '',
  SlsProjectArn: '',
  SlsWriteRoleArn: '',
});

function createOrUpdateAnswer(t: Parameters<typeof describeTrail>[0], accountId: string) {
  const d = trailFields(t, accountId);
  return {
    Name: d.Name,
    HomeRegion: d.HomeRegion,
    TrailRegion: d.TrailRegion,
    EventRW: d.EventRW,
    OssBucketName: d.OssBucketName,
    OssKeyPrefix: d.OssKeyPrefix,
    OssWriteRoleArn: '',
    SlsProjectArn: '',
    SlsWriteRoleArn: '',
    Destinations: d.Destinations,
    DigestInterval: d.DigestInterval,
  };
}

function named(ctx: ActionContext, param = 'Name'): string {
  const name = ctx.params.required(param);
  ctx.resources({ [TRAIL_RESOURCE]: [name.slice(0, 64)] });
  return name;
}

export const ACTIONS: Record<string, ActionSpec> = {
  LookupEvents: {
    eventRW: 'Read',
    params: ['MaxResults', 'NextToken', 'StartTime', 'EndTime', 'Direction'],
    lists: ['LookupAttribute'],
    async run({ params, deps, host, principal }) {
      const r = await lookupEvents(deps.store, deps.tokens, lookupQuery(params, endpointRegion(host)), queryScope(principal, { region: deps.config.region, accountId: deps.accountId }));
      return {
        StartTime: actionTrailTime(r.startTime),
        EndTime: actionTrailTime(r.endTime),
        Events: r.events,
        ...(r.nextToken ? { NextToken: r.nextToken } : {}),
      };
    },
  },
  CreateTrail: {
    eventRW: 'Write',
    isGlobal: true,
    params: ['Name', 'EventRW', 'TrailRegion', 'OssBucketName', 'OssKeyPrefix', 'DigestInterval', 'IsOrganizationTrail', ...UNSUPPORTED_TRAIL_PARAMS],
    lists: ['Destinations'],
    async run(ctx) {
      named(ctx);
      const t = await ctx.deps.trails.create(trailBody(ctx.params, true), ctx.principal);
      return createOrUpdateAnswer(t, ctx.deps.accountId);
    },
  },
  UpdateTrail: {
    eventRW: 'Write',
    isGlobal: true,
    params: ['Name', 'EventRW', 'TrailRegion', 'OssBucketName', 'OssKeyPrefix', 'DigestInterval', ...UNSUPPORTED_TRAIL_PARAMS],
    lists: ['Destinations'],
    async run(ctx) {
      const name = named(ctx);
      const t = await ctx.deps.trails.update(name, trailBody(ctx.params, false), ctx.principal);
      return createOrUpdateAnswer(t, ctx.deps.accountId);
    },
  },
  DeleteTrail: {
    eventRW: 'Write',
    isGlobal: true,
    sensitive: true,
    params: ['Name'],
    async run(ctx) {
      await ctx.deps.trails.delete(named(ctx), ctx.principal);
      return {};
    },
  },
  DescribeTrails: {
    eventRW: 'Read',
    isGlobal: true,
    params: ['NameList', 'IncludeShadowTrails', 'IncludeOrganizationTrail'],
    async run(ctx) {
      const p = ctx.params;
      // No shadow (other-region copies) exist here. Multi-account trails are the management
      // account's own and always listed to it; a member sees none (not its account's): both flags
      // are valid and change nothing.
      p.bool('IncludeShadowTrails', false);
      p.bool('IncludeOrganizationTrail', false);
      const list = await ctx.deps.trails.list(p.get('NameList'), ctx.principal);
      if (list.length) ctx.resources({ [TRAIL_RESOURCE]: list.slice(0, 100).map((t) => t.name) });
      return { TrailList: list.map((t) => trailFields(t, ctx.deps.accountId)) };
    },
  },
  GetTrailStatus: {
    eventRW: 'Read',
    isGlobal: true,
    params: ['Name', 'IsOrganizationTrail'],
    async run(ctx) {
      const name = named(ctx);
      const status = await ctx.deps.trails.status(name, ctx.principal);
      // As ActionTrail: IsOrganizationTrail=true asks for a multi-account trail of that name.
      if (ctx.params.bool('IsOrganizationTrail', false) && !status.IsOrganizationTrail) throw new FlinkTrailError('FT_ERR_TRAIL_NOT_FOUND', name);
      return status;
    },
  },
  StartLogging: {
    eventRW: 'Write',
    isGlobal: true,
    params: ['Name'],
    async run(ctx) {
      await ctx.deps.trails.start(named(ctx), ctx.principal);
      return {};
    },
  },
  StopLogging: {
    eventRW: 'Write',
    isGlobal: true,
    sensitive: true,
    params: ['Name'],
    async run(ctx) {
      await ctx.deps.trails.stop(named(ctx), ctx.principal);
      return {};
    },
  },
  CreateDeliveryHistoryJob: {
    eventRW: 'Write',
    isGlobal: true,
    params: ['TrailName', 'ClientToken'],
    async run(ctx) {
      if ((ctx.params.get('ClientToken') ?? '').length > 64) throw invalid('ClientToken', 'at most 64 characters');
      const job = await ctx.deps.trails.createHistoryJob(named(ctx, 'TrailName'), ctx.principal);
      return { JobId: job.id };
    },
  },
  ListDeliveryHistoryJobs: {
    eventRW: 'Read',
    isGlobal: true,
    params: ['PageNumber', 'PageSize', 'TrailName'],
    run(ctx) {
      const p = ctx.params;
      const trail = p.get('TrailName') || undefined;
      if (trail) ctx.resources({ [TRAIL_RESOURCE]: [trail.slice(0, 64)] });
      return ctx.deps.trails.listHistoryJobs(trail, String(p.int('PageNumber', 1, 100_000, 1)), String(p.int('PageSize', 1, 100, 20)), ctx.principal);
    },
  },
  DescribeRegions: {
    eventRW: 'Read',
    params: ['AcceptLanguage'],
    async run(ctx) {
      const regions = await knownRegionList(ctx.deps.config, ctx.deps.storageRegion);
      return { Regions: { Region: regions.map((r) => ({ RegionId: r, LocalName: r, RegionEndpoint: ctx.host })) } };
    },
  },
  GetGlobalEventsStorageRegion: {
    eventRW: 'Read',
    params: [],
    async run(ctx) {
      return { StorageRegion: await ctx.deps.storageRegion.get() };
    },
  },
  UpdateGlobalEventsStorageRegion: {
    eventRW: 'Write',
    isGlobal: true,
    sensitive: true,
    params: ['StorageRegion'],
    async run(ctx) {
      checkManagementAccount(ctx.principal, ctx.deps.accountId);
      const region = checkStorageRegion(ctx.deps.config, ctx.params.required('StorageRegion'));
      await ctx.deps.storageRegion.set(region);
      return {};
    },
  },
};
