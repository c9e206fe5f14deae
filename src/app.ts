/**
 * buildApp(config): wires store, identity, recorder, gateway and API together — and never
 * listens. `listen()` binds the API port and each cluster's dedicated port; `close()` stops
 * accepting, lets requests in flight finish, flushes the store and closes it.
 *
 * The API listener also serves every cluster under `/flink/<cluster>/` (the Flink Web UI uses
 * relative URLs, so it works under a prefix): those requests go to the gateway before Fastify.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildApi } from './api/server.js';
import { identityRoutes } from './api/identity-routes.js';
import { consoleRoutes } from './api/console-routes.js';
import { oidcRoutes } from './api/oidc-routes.js';
import { OidcIdentity } from './identity/oidc.js';
import { Sessions } from './identity/sessions.js';
import type { Config } from './config/index.js';
import { Authenticator } from './identity/authenticate.js';
import { clientCertificatePlugin, listenerTls, secureClusterServer } from './identity/client-cert.js';
import { Directory } from './identity/directory.js';
import { compileRedactor } from './pipeline/redact.js';
import { createRecorder, type Recorder } from './pipeline/recorder.js';
import { TokenCodec } from './query/lookup.js';
import { hasBody } from './sources/gateway/body.js';
import { createGateway, type Gateway } from './sources/gateway/gateway.js';
import { sourceIpResolver, trustedPeerCheck } from './sources/gateway/source-ip.js';
import { metaValue, openDatabase, type Db } from './store/sqlite/database.js';
import { SqliteEventStore } from './store/sqlite/events.js';
import type { EventStore } from './store/types.js';
import { createLogger, type Logger } from './telemetry/logger.js';
import { createMetrics, type Metrics } from './telemetry/metrics.js';
import { createTrailsModule, knownRegions } from './trails/index.js';
import { createActionTrailRpcModule } from './api/actiontrail/index.js';
import { createIngestModule } from './sources/ingest/index.js';
import { createK8sAuditModule } from './sources/k8s-audit/index.js';

export interface AppDeps {
  log?: Logger;
}

/** What a feature module gets to build itself from. */
export interface ModuleContext {
  config: Readonly<Config>;
  db: Db;
  store: EventStore;
  recorder: Recorder;
  directory: Directory;
  /** For modules with routes that authenticate themselves (e.g. the Kubernetes audit webhook's bearer tokens). */
  authenticator: Authenticator;
  /** LookupEvents page tokens: one key, so every query interface's tokens are the same. */
  tokens: TokenCodec;
  log: Logger;
  metrics: Metrics;
}

/**
 * A feature that plugs into the app (trails, Kubernetes audit, ...): its HTTP routes and its
 * lifecycle. `start` runs after the API listens; `stop` before the store closes (flush here).
 */
export interface AppModule {
  name: string;
  routes?(api: FastifyInstance): void;
  start?(): Promise<void>;
  stop?(): Promise<void>;
}

/** The feature modules, in start order. Add new features here. */
function createModules(ctx: ModuleContext): AppModule[] {
  const trails = createTrailsModule(ctx);
  const rpc = ctx.config.actiontrailApi.enabled ? [createActionTrailRpcModule(ctx, { trails: trails.service, regions: [...knownRegions(ctx)].sort() })] : [];
  return [trails, createK8sAuditModule(ctx), createIngestModule(ctx), ...rpc];
}

export interface ListenInfo {
  apiUrl: string;
  /** Cluster name → base URL clients use for it through FlinkTrail (dedicated port or prefix). */
  clusters: Record<string, { gatewayUrl: string; prefixUrl: string }>;
}

export interface App {
  config: Readonly<Config>;
  modules: AppModule[];
  api: FastifyInstance;
  gateway: Gateway;
  store: EventStore;
  directory: Directory;
  db: Db;
  log: Logger;
  metrics: Metrics;
  listen(): Promise<ListenInfo>;
  close(): Promise<void>;
}

const PREFIX = /^\/flink\/([a-z0-9][a-z0-9_-]{0,62})(\/.*)?$/;

export async function buildApp(config: Readonly<Config>, deps: AppDeps = {}): Promise<App> {
  const log = deps.log ?? createLogger(config.log.level);
  const metrics = createMetrics();
  const db = openDatabase(config.dataDir, { synchronous: config.store.synchronous });
  const store = new SqliteEventStore(db, {
    flushIntervalMs: config.store.flushIntervalMs,
    onFlushError: (err, queued) => {
      metrics.storeFlushErrors.inc();
      log.error({ err: err.message, queued }, 'Writing events to the store failed; they are kept and retried.');
    },
  });
  const recovered = await store.resolvePending(
    'FlinkTrail stopped before the answer to this operation was recorded; the operation may or may not have taken effect.',
  );
  if (recovered > 0) log.warn({ events: recovered }, 'Journaled operations without a recorded outcome were marked unknown.');

  const directory = new Directory(db);
  const sessions = new Sessions(db, { idleMs: config.auth.session.idleMinutes * 60_000, absoluteMs: config.auth.session.absoluteHours * 3600_000 });
  const isTrustedPeer = trustedPeerCheck(config.gateway.trustedProxies);
  // The state-cookie key lives in the database so that every instance on it accepts the callback.
  const oidc = config.auth.oidc.enabled
    ? new OidcIdentity(config.auth.oidc, { directory, stateKey: metaValue(db, 'oidc-state-key', () => randomBytes(32).toString('base64url')), log: log.child({ component: 'oidc' }) })
    : undefined;
  const authenticator = new Authenticator(directory, {
    anonymous: config.auth.anonymous,
    sessions,
    rateLimit: { maxFailures: config.auth.rateLimit.maxFailures, windowMs: config.auth.rateLimit.windowSeconds * 1000 },
    ...(config.auth.trustedProxyIdentity.enabled
      ? {
          trustedProxy: {
            isTrusted: isTrustedPeer,
            userHeader: config.auth.trustedProxyIdentity.userHeader,
            emailHeader: config.auth.trustedProxyIdentity.emailHeader,
            role: config.auth.trustedProxyIdentity.role,
          },
        }
      : {}),
    plugins: [...(config.auth.clientCertificates.enabled ? [clientCertificatePlugin(directory, config.auth.clientCertificates)] : []), ...(oidc ? [oidc.plugin] : [])],
  });
  // Read now, so a missing certificate or key stops the build rather than the first handshake.
  const tlsOf = new Map(config.clusters.flatMap((c, i) => (c.listen?.tls ? [[c.name, listenerTls(c.listen.tls, `clusters.${i}.listen.tls`)] as const] : [])));
  const recorder = createRecorder(store, compileRedactor(), log, metrics);
  const resolveIp = sourceIpResolver(config.gateway.trustedProxies);
  const tokens = new TokenCodec(metaValue(db, 'pagination-token-key', () => randomBytes(32).toString('base64url')));
  const gateway = createGateway({ config, recorder, authenticator, resolveIp, log: log.child({ component: 'gateway' }), metrics });

  /**
   * A client that stops sending half-way through a body is cut off after
   * `gateway.bodyIdleTimeoutMs` of silence (uploads may take long, so there is no total limit;
   * a stalled one must not hold a socket for ever). Bodyless requests need no guard: Node's
   * headersTimeout covers their only client-side phase.
   */
  const guardBody = (req: IncomingMessage) => {
    if (!hasBody(req)) return;
    req.socket.setTimeout(config.gateway.bodyIdleTimeoutMs);
    req.once('end', () => req.socket.setTimeout(0));
  };

  let ready = false;
  const servers: Server[] = [];
  const route = (handler: (req: IncomingMessage, res: ServerResponse) => void) => {
    const server = createServer({ requestTimeout: 0, headersTimeout: 30_000, maxHeaderSize: 32 * 1024 }, (req, res) => {
      guardBody(req);
      const m = PREFIX.exec((req.url ?? '/').split('?')[0] as string);
      if (m) {
        const cluster = m[1] as string;
        if (m[2] === undefined && gateway.hasCluster(cluster)) {
          // The Web UI's relative URLs need the trailing slash.
          res.writeHead(308, { location: `/flink/${cluster}/${(req.url ?? '').slice(m[0].length)}` });
          res.end();
          return;
        }
        const rest = (req.url ?? '').slice(`/flink/${cluster}`.length) || '/';
        gateway.handle(req, res, { cluster, url: rest });
        return;
      }
      handler(req, res);
    });
    servers.push(server);
    return server;
  };
  const modules = createModules({ config, db, store, recorder, directory, authenticator, tokens, log, metrics });
  const api = buildApi({
    config,
    store,
    recorder,
    authenticator,
    tokens,
    resolveIp,
    log,
    metrics,
    ready: () => ready,
    serverFactory: route,
    sessions,
    routes: [identityRoutes({ config, directory, authenticator, sessions, resolveIp }), ...(oidc ? [oidcRoutes({ config, oidc, sessions })] : []), consoleRoutes({ config, db, store }), ...modules.flatMap((m) => (m.routes ? [(a: FastifyInstance) => m.routes?.(a)] : []))],
  });

  const purge = async () => {
    sessions.purgeExpired();
    const n = await store.purge(Date.now() - config.store.retentionDays * 24 * 3600 * 1000);
    if (n > 0) log.info({ events: n, retentionDays: config.store.retentionDays }, 'Purged events older than the retention period.');
  };
  let purgeTimer: NodeJS.Timeout | undefined;
  const dedicated: Server[] = [];

  return {
    config,
    modules,
    api,
    gateway,
    store,
    directory,
    db,
    log,
    metrics,
    async listen() {
      await purge();
      purgeTimer = setInterval(() => void purge().catch((err: unknown) => log.error({ err: (err as Error).message }, 'Purging old events failed.')), 3600_000);
      purgeTimer.unref();
      await api.listen({ host: config.api.host, port: config.api.port });
      const addr = api.server.address() as AddressInfo;
      const hostOf = (h: string) => (h.includes(':') ? `[${h}]` : h);
      const apiUrl = `http://${hostOf(config.api.host)}:${addr.port}`;
      const clusters: ListenInfo['clusters'] = {};
      for (const c of config.clusters) {
        const prefixUrl = `${apiUrl}/flink/${c.name}/`;
        clusters[c.name] = { gatewayUrl: prefixUrl, prefixUrl };
        if (!c.listen) continue;
        const serverOptions = { requestTimeout: 0, headersTimeout: 30_000, maxHeaderSize: 32 * 1024 };
        const handler = (req: IncomingMessage, res: ServerResponse) => {
          guardBody(req);
          gateway.handle(req, res, { cluster: c.name, url: req.url ?? '/' });
        };
        const tls = tlsOf.get(c.name);
        const server = tls ? secureClusterServer(serverOptions, tls, handler, log.child({ component: 'listener', cluster: c.name })) : createServer(serverOptions, handler);
        dedicated.push(server);
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(c.listen?.port ?? 0, c.listen?.host ?? '127.0.0.1', () => resolve());
        });
        const port = (server.address() as AddressInfo).port;
        clusters[c.name] = { gatewayUrl: `${tls ? 'https' : 'http'}://${hostOf(c.listen.host)}:${port}/`, prefixUrl };
      }
      for (const m of modules) await m.start?.();
      ready = true;
      return { apiUrl, clusters };
    },
    async close() {
      ready = false;
      if (purgeTimer) clearInterval(purgeTimer);
      await Promise.all(
        dedicated.map(
          (s) =>
            new Promise<void>((resolve) => {
              s.close(() => resolve());
              s.closeIdleConnections();
            }),
        ),
      );
      await api.close();
      await gateway.close();
      for (const m of [...modules].reverse()) await m.stop?.();
      await store.close();
      db.close();
    },
  };
}
