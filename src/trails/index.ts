/**
 * Trails: deliver events beyond the query window to where the user's other tools live —
 * S3-compatible buckets and local directories (gzip JSON files in ActionTrail's layout, signed
 * digest chains), Kafka topics and syslog receivers — complete, ordered, tamper-evident.
 *
 * `createTrailsModule(ctx)` is the AppModule: HTTP routes (routes.ts), the delivery engine
 * (engine.ts, started after the API listens, stopped before the store closes).
 * The CLI side is `addTrailCommands` (src/cli/trails.ts: the CLI composes features, never the
 * reverse); validation of delivered files is validate-logs/.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { AppModule, ModuleContext } from '../module.js';
import { DigestKeys, type DigestKeyStore } from './digest/keys.js';
import { DeliveryEngine } from './engine.js';
import { createTrailMetrics } from './metrics.js';
import type { TrailRepository } from './repository.js';
import { registerTrailRoutes } from './routes.js';
import { TrailService } from './service.js';
import { resolveCredentials } from './destination.js';
import { openObjectStore, openRecordSink } from './sinks/index.js';

export type { TrailSpec, TrailStatus, TrailEventRW } from './model.js';
export type { Destination, DestinationKind } from './destination.js';

export interface TrailsModule extends AppModule {
  service: TrailService;
  engine: DeliveryEngine;
  keys: DigestKeys;
}

/** Regions a trail may name: the default region, the clusters' regions and trails.knownRegions. */
export function knownRegions(ctx: Pick<ModuleContext, 'config'>): Set<string> {
  const c = ctx.config;
  return new Set([c.region, ...c.clusters.flatMap((x) => (x.region ? [x.region] : [])), ...c.trails.knownRegions]);
}

/** What trails keep in a store the composition picks (src/stores.ts; the embedded ones: sqlite/). */
export interface TrailsStores {
  digestKeys: DigestKeyStore;
  /** The trail state, with `localDir` the directory of `local` destinations. */
  trails(localDir: string): Promise<TrailRepository>;
}

/** This process's name in trail leases: host, pid and a random part (a restarted process is another holder). */
export function leaseHolder(): string {
  return `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
}

export async function createTrailsModule(ctx: ModuleContext, stores: TrailsStores): Promise<TrailsModule> {
  const { config } = ctx;
  const localDir = resolve(config.trails.localDir ?? join(config.dataDir, 'trails'));
  const repo = await stores.trails(localDir);
  const keys = new DigestKeys(stores.digestKeys, config.dataDir, ctx.secrets);
  const log = ctx.log.child({ component: 'trails' });
  const sealed = await repo.sealStoredCredentials();
  if (sealed > 0) log.info({ destinations: sealed }, 'Destination credentials stored in clear by an earlier version were sealed with the master key.');
  const engine = new DeliveryEngine({
    repo,
    store: ctx.store,
    keys,
    config: config.trails,
    accountId: config.accountId,
    log,
    metrics: createTrailMetrics(ctx.metrics.registry),
    // References (`env:NAME`, `file:/path`) in credentials are read here, on every (re)connect.
    openObjectStore: (d) => openObjectStore(resolveCredentials(d), { multipartThresholdBytes: config.trails.multipartThresholdBytes }),
    openRecordSink: (d) => openRecordSink(resolveCredentials(d)),
    recordEvent: (e) => ctx.recorder.record(e),
    holder: leaseHolder(),
    region: config.region,
  });
  const service = new TrailService({
    repo,
    store: ctx.store,
    engine,
    keys,
    accountId: config.accountId,
    homeRegion: config.region,
    retentionDays: config.store.retentionDays,
    validation: {
      knownRegions: knownRegions(ctx),
      defaultDigestInterval: config.trails.digestIntervalSeconds,
      minDigestInterval: config.trails.minDigestIntervalSeconds,
      localDir,
    },
  });
  return {
    name: 'trails',
    service,
    engine,
    keys,
    routes: (api) => registerTrailRoutes(api, service, config.accountId),
    ownedBy: async (accountId) => (await service.ownedBy(accountId)).map((name) => `trail ${name}`),
    start: () => {
      engine.start();
      return Promise.resolve();
    },
    stop: () => engine.stop(),
  };
}
