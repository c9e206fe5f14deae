/**
 * buildApp(config): wires store, identity, recorder, gateway and API together — and never
 * listens. `listen()` binds the API port and each cluster's dedicated port; `close()` stops
 * accepting, lets requests in flight finish, flushes the store and closes it.
 *
 * The API listener also serves every cluster under `/flink/<cluster>/` (the Flink Web UI uses
 * relative URLs, so it works under a prefix): those requests go to the gateway before Fastify.
 *
 * With `api.tls` the API listener serves HTTPS (with HSTS); it and every cluster listener with
 * `listen.tls` follow their certificate files (`TlsReloader`: file changes and `reloadTls()`,
 * which `serve` calls on SIGHUP) without dropping a connection.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApi } from './api/server.js';
import { identityRoutes } from './api/identity-routes.js';
import { consoleRoutes } from './api/console-routes.js';
import { oidcRoutes, oidcSignOut } from './api/oidc-routes.js';
import { OidcProviders } from './identity/oidc-providers.js';
import { Sessions } from './identity/sessions.js';
import type { Config } from './config/index.js';
import { Authenticator } from './identity/authenticate.js';
import { clientCertificatePlugin, listenerTls, secureClusterServer, TlsReloader } from './identity/client-cert.js';
import type { Directory } from './identity/directory.js';
import { throttleEvent } from './identity/throttle-event.js';
import { compileRedactor } from './pipeline/redact.js';
import { auditPolicyChange, compileAuditPolicy } from './pipeline/audit-policy/index.js';
import { createRecorder } from './pipeline/recorder.js';
import { TokenCodec } from './query/lookup.js';
import { hasBody } from './sources/gateway/body.js';
import { createGateway, type Gateway } from './sources/gateway/gateway.js';
import { selfProxies, type Listener } from './sources/gateway/self-proxy.js';
import { FlinkTrailError } from './errors/index.js';
import { sourceIpResolver, trustedPeerCheck } from './identity/source-ip.js';
import { openSecrets, type Secrets } from './secrets/index.js';
import { openDatabase, type Db } from './store/sqlite/database.js';
import { WorkerEventStore } from './store/sqlite/worker-store.js';
import { PostgresEventStore } from './store/postgres/events.js';
import { SpoolingEventStore } from './store/spool/index.js';
import { SqliteSpool } from './store/spool/sqlite.js';
import { KafkaJournalEventStore, StoreWriter } from './store/kafka-journal/index.js';
import { KafkaJournalProducer, KafkaStoreWriter } from './store/kafka-journal/kafka.js';
import { redactUrl } from './store/postgres/url.js';
import type { EventStore } from './store/types.js';
import type { AppModule, ModuleContext } from './module.js';
import { createLogger, type Logger } from './telemetry/logger.js';
import { createMetrics, type Metrics } from './telemetry/metrics.js';
import { createTrailsModule } from './trails/index.js';
import { StorageRegion } from './regions/index.js';
import { regionRoutes } from './regions/routes.js';
import { createActionTrailRpcModule } from './api/actiontrail/index.js';
import { createIngestModule } from './sources/ingest/index.js';
import { createK8sAuditModule } from './sources/k8s-audit/index.js';
import { copiedGroups } from './store/migrate-tables.js';
import { claimEventStore, directoryOf, openFeatureStores, type FeatureStores } from './stores.js';

export type { AppModule, ModuleContext } from './module.js';

export interface AppDeps {
  log?: Logger;
  /** The master key ring; default: from `secrets.*` (openSecrets). */
  secrets?: Secrets;
}

/** The feature modules, in start order. Add new features here. */
async function createModules(ctx: ModuleContext, stores: FeatureStores, storageRegion: StorageRegion): Promise<AppModule[]> {
  const trails = await createTrailsModule(ctx, { digestKeys: stores.digestKeys, trails: (dir) => stores.trails(dir) });
  const rpc = ctx.config.actiontrailApi.enabled ? [createActionTrailRpcModule(ctx, { trails: trails.service, storageRegion, nonces: stores.nonces })] : [];
  const k8s = await createK8sAuditModule({ ...ctx, states: stores.objectStates });
  return [trails, k8s, createIngestModule(ctx), ...rpc];
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
  /** Reads the TLS files of every TLS listener again now (SIGHUP); a no-op without TLS. */
  reloadTls(): { reloaded: string[]; failed: string[] };
  close(): Promise<void>;
}

/**
 * The event store: PostgreSQL with `store.url`, else the embedded SQLite store on its threads.
 * The features any instance must see alike follow it (src/stores.ts), trails too. The data
 * directory records which event store its positions refer to (`event-store` in meta) and a start
 * with another one is refused (FT_ERR_STORE_MISMATCH) — the positions would skip or repeat.
 * The URL appears in logs only redacted.
 */
async function openEventStore(config: Readonly<Config>, db: Db, log: Logger, metrics: Metrics): Promise<EventStore & { id?: string }> {
  const onFlushError = (err: Error, queued: number) => {
    metrics.storeFlushErrors.inc();
    log.error({ err: err.message, queued }, 'Writing events to the store failed; they are kept and retried.');
  };
  const url = config.store.url;
  const store = url
    ? await PostgresEventStore.open({
        url,
        flushIntervalMs: config.store.flushIntervalMs,
        poolMax: config.store.poolMax,
        readers: config.store.readers,
        readerNice: config.store.readerNice,
        managementAccountId: config.accountId,
        onFlushError,
        onPoolError: (err) => log.warn({ err: err.message, store: redactUrl(url) }, 'A PostgreSQL connection failed; the pool replaces it.'),
      })
    : await WorkerEventStore.open({
        dataDir: config.dataDir,
        synchronous: config.store.synchronous,
        flushIntervalMs: config.store.flushIntervalMs,
        readers: config.store.readers,
        readerNice: config.store.readerNice,
        cacheMb: config.store.cacheMb,
        managementAccountId: config.accountId,
        onFlushError,
      });
  try {
    claimEventStore(db, config.dataDir, store instanceof PostgresEventStore ? store.id : 'sqlite');
  } catch (err) {
    await store.close();
    throw err;
  }
  if (url && store instanceof PostgresEventStore) log.info({ store: redactUrl(url), id: store.id }, 'Events, identities, sessions, keys and trails are stored in PostgreSQL.');
  return store;
}

/**
 * The PostgreSQL store behind the local spool when `store.spool` is set (store/spool/): writes are
 * journaled there while PostgreSQL cannot take them. The embedded store has no use for one.
 */
function spooled(events: EventStore, config: Readonly<Config>, log: Logger, metrics: Metrics): EventStore {
  const o = config.store.spool;
  if (!o) return events;
  if (!(events instanceof PostgresEventStore)) {
    log.warn({ dir: o.dir }, 'store.spool is set without store.url: the embedded store journals locally already; the spool is not used.');
    return events;
  }
  return new SpoolingEventStore(events, new SqliteSpool(resolve(o.dir)), {
    journalTimeoutMs: o.journalTimeoutMs,
    maxEvents: o.maxEvents,
    log: log.child({ component: 'spool' }),
    onCount: (n) => metrics.spoolEvents.set(n),
    onDrained: (n) => metrics.spoolDrained.inc(n),
  });
}

/**
 * The PostgreSQL store behind the Kafka journal when `journal.kafka` is set (store/kafka-journal/):
 * events go to the topic first; this instance also writes the topic into PostgreSQL when it
 * `consume`s. Refused without `store.url`: the embedded store is this process's own, there is
 * nothing for store writers to write into, and a gateway-only instance would journal into a
 * topic no one drains.
 */
function kafkaJournaled(events: EventStore, config: Readonly<Config>, log: Logger, metrics: Metrics): EventStore {
  const k = config.journal.kafka;
  if (!k) return events;
  if (!(events instanceof PostgresEventStore)) throw new FlinkTrailError('FT_ERR_CONFIG_INVALID', 'journal.kafka: needs store.url (the Kafka journal is written into PostgreSQL)');
  const connection = { brokers: k.brokers, topic: k.topic, clientId: k.clientId, ...(k.tls ? { tls: k.tls } : {}), ...(k.sasl ? { sasl: k.sasl } : {}) };
  const jlog = log.child({ component: 'kafka-journal' });
  const store = new KafkaJournalEventStore(events, new KafkaJournalProducer(connection, k.journalTimeoutMs), {
    journalTimeoutMs: k.journalTimeoutMs,
    log: jlog,
    onProduced: (kind, n) => metrics.journalProduced.inc({ kind }, n),
    onProduceError: () => metrics.journalProduceErrors.inc(),
  });
  if (k.consume) {
    const writer = new KafkaStoreWriter(
      connection,
      new StoreWriter(events, { log: jlog, onWritten: (n) => metrics.journalWritten.inc(n), onWriteError: () => metrics.journalWriteErrors.inc() }),
      { groupId: k.groupId, batchSize: k.batchSize, log: jlog, onLag: (n) => metrics.journalLag.set(n) },
    );
    writer.start();
    store.writer = writer;
  } else {
    jlog.info({ topic: k.topic }, 'Events are journaled to Kafka; other instances (journal.kafka.consume) write them into PostgreSQL.');
  }
  return store;
}

const PREFIX = /^\/flink\/([a-z0-9][a-z0-9_-]{0,62})(\/.*)?$/;

export async function buildApp(config: Readonly<Config>, deps: AppDeps = {}): Promise<App> {
  // What the build opened, closed again (newest first) if a later step fails: a failed build
  // must not leave the store's threads running (they would keep the process alive).
  const opened: (() => unknown)[] = [];
  try {
    return await build(config, deps, opened);
  } catch (err) {
    for (const close of opened.reverse()) await Promise.resolve(close()).catch(() => undefined);
    throw err;
  }
}

async function build(config: Readonly<Config>, deps: AppDeps, opened: (() => unknown)[]): Promise<App> {
  const log = deps.log ?? createLogger(config.log.level);
  const metrics = createMetrics();
  // An audit policy that cannot mean what it says stops the build before anything is opened or made.
  // Roles as the directory last read them: every authenticated request reads its user first.
  const policy = compileAuditPolicy(config.auditPolicy, { roleOf: (principalId) => directory.knownRole(principalId) });
  // Then: a missing or unusable master key stops the build before anything is stored.
  const secrets = deps.secrets ?? openSecrets(config);
  const db = openDatabase(config.dataDir, { synchronous: config.store.synchronous, cacheMb: config.store.cacheMb });
  opened.push(() => db.close());
  // This connection serves small lookups (keys, sessions, trails); the events store commits and
  // checkpoints on its own thread, so this one never runs a checkpoint on the request thread.
  db.pragma('wal_autocheckpoint = 0');
  const events = await openEventStore(config, db, log, metrics);
  opened.push(() => events.close());
  // Writes journaled without an outcome: their process stopped before the answer was recorded. On
  // a store several instances share, only those older than store.pendingTimeoutSeconds — a
  // younger one may be another instance's write in flight — and again every minute, so one an
  // instance left behind when it died does not hold trail delivery (scans stop at pending events).
  const shared = events instanceof PostgresEventStore;
  const resolvePending = async () => {
    const before = shared ? Date.now() - config.store.pendingTimeoutSeconds * 1000 : undefined;
    const n = await events.resolvePending('FlinkTrail stopped before the answer to this operation was recorded; the operation may or may not have taken effect.', before);
    if (n > 0) log.warn({ events: n }, 'Journaled operations without a recorded outcome were marked unknown.');
  };
  await resolvePending();

  const stores = await openFeatureStores(db, events, secrets);
  const store = config.journal.kafka ? kafkaJournaled(events, config, log, metrics) : spooled(events, config, log, metrics);
  opened.push(() => store.close());
  if (stores.engine === 'postgres') {
    // Users made in the data directory before it moved are not found in PostgreSQL: say how to bring them.
    // (Not once `flinktrail migrate` has settled a feature: PostgreSQL holds it since, even when emptied there.)
    const settled = copiedGroups(db);
    const left = (db.prepare('SELECT COUNT(*) AS n FROM users').get() as { n: number }).n;
    if (left > 0 && !settled.includes('identity') && (await stores.identity.listUsers()).length === 0) {
      log.warn({ users: left, dataDir: config.dataDir }, 'The data directory has users and AccessKeys that PostgreSQL does not; `flinktrail migrate --from DIR --to URL` copies them.');
    }
    // Trails an older version kept in the data directory with store.url are no longer delivered from there.
    const trailsLeft = (db.prepare('SELECT COUNT(*) AS n FROM trails').get() as { n: number }).n;
    if (trailsLeft > 0 && !settled.includes('trails') && (await (await stores.trails(config.dataDir)).list()).length === 0) {
      log.warn(
        { trails: trailsLeft, dataDir: config.dataDir },
        'The data directory has trails that PostgreSQL does not, and they are not delivered; stop FlinkTrail and run `flinktrail migrate --from DIR --to URL` with this store URL to copy them (positions, files and digest chains kept).',
      );
    }
  }
  const directory = directoryOf(stores, secrets);
  const sessions = new Sessions(stores.sessions, { idleMs: config.auth.session.idleMinutes * 60_000, absoluteMs: config.auth.session.absoluteHours * 3600_000 });
  const isTrustedPeer = trustedPeerCheck(config.gateway.trustedProxies);
  // The state-cookie key lives in the database so that every instance on it accepts the callback.
  const oidc = config.auth.oidc.enabled
    ? new OidcProviders(config.auth.oidc, { directory, stateKey: await stores.meta.secret('oidc-state-key', () => randomBytes(32).toString('base64url')), log: log.child({ component: 'oidc' }) })
    : undefined;
  // Global events are recorded in the storage region every instance on the store shares (read ≤ 5 s late).
  const storageRegion = new StorageRegion(stores.meta, config.region, {
    onError: (err) => log.warn({ err: err.message }, 'Reading the global events storage region failed; the last value read stays in use.'),
  });
  await storageRegion.load();
  const { coalesce } = config.auditPolicy;
  const recorder = createRecorder(store, compileRedactor(), log, metrics, {
    policy,
    globalRegion: () => storageRegion.current(),
    ...(coalesce.enabled ? { coalesce: { windowMs: coalesce.windowSeconds * 1000, maxKeys: coalesce.maxKeys } } : {}),
  });
  // A policy that differs from the last one in force is recorded before anything else is (UpdateAuditPolicy).
  opened.push(() => recorder.close());
  if (await auditPolicyChange(config.auditPolicy, stores.policyHash, (e) => recorder.recordOrThrow(e), config)) {
    log.info({ policyHash: policy.hash, rules: policy.ruleCount }, 'The audit policy changed; the change was recorded (UpdateAuditPolicy).');
  }
  const rl = config.auth.rateLimit;
  const authenticator = new Authenticator(directory, {
    anonymous: config.auth.anonymous,
    throttleStore: stores.throttle,
    sessions,
    rateLimit: { maxFailures: rl.maxFailures, windowMs: rl.windowSeconds * 1000, baseDelayMs: rl.baseDelaySeconds * 1000, maxDelayMs: rl.maxDelaySeconds * 1000, perSourceFactor: rl.perSourceFactor },
    onThrottle: (n) => void recorder.record(throttleEvent(n, config)),
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
  const crlFiles = config.auth.clientCertificates.crlFiles;
  const tlsOf = new Map(config.clusters.flatMap((c, i) => (c.listen?.tls ? [[c.name, listenerTls(c.listen.tls, `clusters.${i}.listen.tls`, crlFiles)] as const] : [])));
  const apiTls = config.api.tls ? listenerTls(config.api.tls, 'api.tls', crlFiles) : undefined;
  const reloader = new TlsReloader(crlFiles, log.child({ component: 'tls' }));
  const resolveIp = sourceIpResolver(config.gateway.trustedProxies);
  const tokens = new TokenCodec(await stores.meta.secret('pagination-token-key', () => randomBytes(32).toString('base64url')));
  const gateway = createGateway({ config, recorder, authenticator, resolveIp, log: log.child({ component: 'gateway' }), metrics, sessions });

  /**
   * A client that stops sending half-way through a body is cut off after
   * `gateway.bodyIdleTimeoutMs` of silence (uploads may take long, so there is no total limit;
   * a stalled one must not hold a socket for ever). Bodyless requests need no guard: Node's
   * headersTimeout covers their only client-side phase.
   */
  const guardBody = (req: IncomingMessage) => {
    if (!hasBody(req)) return;
    const socket = req.socket;
    // Destroyed here, not left to Node: Node destroys a timed-out socket only when nothing else
    // listens for 'timeout' on the request, the response or the server.
    const cutOff = () => socket.destroy();
    socket.setTimeout(config.gateway.bodyIdleTimeoutMs);
    socket.once('timeout', cutOff);
    req.once('end', () => {
      socket.setTimeout(0);
      socket.off('timeout', cutOff);
    });
  };

  let ready = false;
  const servers: Server[] = [];
  const hsts = config.api.tls?.hstsMaxAgeSeconds ? `max-age=${config.api.tls.hstsMaxAgeSeconds}` : undefined;
  const route = (handler: (req: IncomingMessage, res: ServerResponse) => void) => {
    const apiOptions = { requestTimeout: 0, headersTimeout: 30_000, maxHeaderSize: 32 * 1024 };
    const onRequest = (req: IncomingMessage, res: ServerResponse) => {
      guardBody(req);
      if (hsts) res.setHeader('strict-transport-security', hsts);
      const m = PREFIX.exec((req.url ?? '/').split('?')[0] as string);
      if (m) {
        const cluster = m[1] as string;
        if (m[2] === undefined) {
          // The Web UI's relative URLs need the trailing slash. Any name is redirected, known or
          // not: whether a cluster exists is told only to an authenticated caller (the gateway
          // answers the slashed URL after authentication; another account's cluster is 403).
          res.writeHead(308, { location: `/flink/${cluster}/${(req.url ?? '').slice(m[0].length)}` });
          res.end();
          return;
        }
        const rest = (req.url ?? '').slice(`/flink/${cluster}`.length) || '/';
        gateway.handle(req, res, { cluster, url: rest });
        return;
      }
      handler(req, res);
    };
    let server: Server;
    if (apiTls && config.api.tls) {
      const tlsServer = secureClusterServer(apiOptions, apiTls, onRequest, log.child({ component: 'listener', listener: 'api' }));
      reloader.add(tlsServer, config.api.tls, 'api.tls', apiTls);
      server = tlsServer;
    } else server = createServer(apiOptions, onRequest);
    servers.push(server);
    return server;
  };
  const modules = await createModules({ config, secrets, meta: stores.meta, store, recorder, directory, authenticator, tokens, log, metrics }, stores, storageRegion);
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
    routes: [
      identityRoutes({
        config,
        directory,
        authenticator,
        sessions,
        resolveIp,
        // What the features own (trails): an account that owns anything is not deleted.
        ownedBy: async (id) => (await Promise.all(modules.map((m) => (m.ownedBy ? m.ownedBy(id) : Promise.resolve([]))))).flat(),
        ...(oidc ? { signOut: oidcSignOut({ config, oidc, sessions }) } : {}),
      }),
      ...(oidc ? [oidcRoutes({ config, oidc, sessions })] : []),
      consoleRoutes({ config, store, ...(oidc ? { ssoProviders: oidc.all.map((p) => p.settings) } : {}) }),
      regionRoutes({ config, storage: storageRegion }),
      ...modules.flatMap((m) => (m.routes ? [(a: FastifyInstance) => m.routes?.(a)] : [])),
    ],
  });

  const purge = async () => {
    await sessions.purgeExpired();
    await authenticator.throttle.purge();
    const n = await store.purge(Date.now() - config.store.retentionDays * 24 * 3600 * 1000);
    if (n > 0) log.info({ events: n, retentionDays: config.store.retentionDays }, 'Purged events older than the retention period.');
  };
  let purgeTimer: NodeJS.Timeout | undefined;
  let pendingTimer: NodeJS.Timeout | undefined;
  const dedicated: Server[] = [];

  const app: App = {
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
      if (shared) {
        pendingTimer = setInterval(() => void resolvePending().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'Resolving stale pending writes failed; retrying.')), 60_000);
        pendingTimer.unref();
      }
      await api.listen({ host: config.api.host, port: config.api.port });
      const addr = api.server.address() as AddressInfo;
      const hostOf = (h: string) => (h.includes(':') ? `[${h}]` : h);
      const apiUrl = `${apiTls ? 'https' : 'http'}://${hostOf(config.api.host)}:${addr.port}`;
      const clusters: ListenInfo['clusters'] = {};
      const listeners: Listener[] = [{ host: config.api.host, port: addr.port }];
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
        let server: Server;
        if (tls && c.listen.tls) {
          const tlsServer = secureClusterServer(serverOptions, tls, handler, log.child({ component: 'listener', cluster: c.name }));
          reloader.add(tlsServer, c.listen.tls, `clusters.${config.clusters.indexOf(c)}.listen.tls`, tls);
          server = tlsServer;
        } else server = createServer(serverOptions, handler);
        dedicated.push(server);
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(c.listen?.port ?? 0, c.listen?.host ?? '127.0.0.1', () => resolve());
        });
        const port = (server.address() as AddressInfo).port;
        listeners.push({ host: c.listen.host, port });
        clusters[c.name] = { gatewayUrl: `${tls ? 'https' : 'http'}://${hostOf(c.listen.host)}:${port}/`, prefixUrl };
      }
      const loops = await selfProxies(config.clusters, listeners);
      if (loops[0]) {
        await app.close();
        const { cluster, url, listener } = loops[0];
        throw new FlinkTrailError('FT_ERR_CONFIG_SELF_PROXY', cluster, url, `${listener.host}:${listener.port}`);
      }
      reloader.watch();
      for (const m of modules) await m.start?.();
      ready = true;
      return { apiUrl, clusters };
    },
    reloadTls: () => reloader.reload('asked (SIGHUP)'),
    async close() {
      ready = false;
      reloader.close();
      if (purgeTimer) clearInterval(purgeTimer);
      if (pendingTimer) clearInterval(pendingTimer);
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
      await recorder.close();
      await store.close();
      db.close();
    },
  };
  return app;
}
