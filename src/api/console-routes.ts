/**
 * The web console over HTTP: the built single-page app (console/dist) at `/`, and the API the
 * console needs beyond LookupEvents — the event histogram, the streamed export, the cluster
 * list and the console's public settings.
 *
 * The app shell and its assets are public (the sign-in page must load without a session); they
 * carry no data. Every data route is authenticated and authorised like the rest of the API, and
 * the histogram and export are recorded as FlinkTrail's own events (`GetEventHistogram`,
 * `ExportEvents`): an analyst's export is itself in the trail.
 *
 * Client-side routes (`/events`, `/trails`, ...) are answered with index.html so that a shared or
 * reloaded console URL works; the list is `CONSOLE_PAGES` and must match console/src/routes.ts.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { catalogEntries, RESOURCE_TYPES, resourceTypeKey } from '../catalog/index.js';
import type { Config } from '../config/index.js';
import { FlinkTrailError } from '../errors/index.js';
import { callerAccount } from '../event/account.js';
import { EVENT_TYPES } from '../event/types.js';
import { FLINKTRAIL_ACTIONS, MANAGEMENT_ACTIONS } from '../policy/index.js';
import { exportChunks, parseExport } from '../query/export.js';
import { parseHistogram } from '../query/histogram.js';
import { queryScope } from '../query/lookup.js';
import type { EventStore } from '../store/types.js';

/** Client-side routes of the console (each also matches `<page>/…`). Keep in step with console/src/routes.ts. */
export const CONSOLE_PAGES = ['/signin', '/events', '/trails', '/access', '/clusters', '/accounts'] as const;

/** Where the OIDC sign-in starts, when single sign-on is configured (its route exists). */
export const OIDC_LOGIN_PATH = '/api/v1/auth/oidc/login';

export interface ConsoleRouteDeps {
  config: Readonly<Config>;
  store: EventStore;
  /** The built console (index.html + assets/); default: console/dist of this checkout. */
  consoleDir?: string;
  /** The single sign-on providers the sign-in page offers (name for `?provider=`, what to show). */
  ssoProviders?: readonly { name: string; displayName: string }[];
}

/** console/dist of the checkout or package: two levels up from src/api/ (tsx) and dist/api/ (built) alike. */
export function defaultConsoleDir(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '../../console/dist');
}

// The console loads nothing from elsewhere; it may not be framed (clickjacking of the cancel
// buttons it links to).
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'self'",
  "form-action 'self'",
].join('; ');

function timestampForFile(now = new Date()): string {
  return now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/** FlinkTrail's own event names that are not in the policy tables (sign-in is not an action one is allowed). */
const OWN_EVENT_NAMES = ['ConsoleSignin', 'ConsoleSignout', 'GetCallerIdentity', 'LookupEvents', 'GetEvent', 'ThrottleSignIn'];

export function consoleRoutes(deps: ConsoleRouteDeps) {
  const { config, store } = deps;
  const dir = deps.consoleDir ?? defaultConsoleDir();
  // Event names audited by routes registered after these (feature modules: trails, ...).
  const routeEventNames = new Set<string>();

  const sendIndex = (reply: FastifyReply) => {
    if (!existsSync(join(dir, 'index.html'))) throw new FlinkTrailError('FT_ERR_CONSOLE_NOT_BUILT', dir);
    void reply
      .header('cache-control', 'no-cache')
      .header('content-security-policy', CSP)
      .header('x-frame-options', 'DENY')
      .header('referrer-policy', 'same-origin')
      .header('x-content-type-options', 'nosniff');
    // Not the assets' year-long immutable caching: a new build must reach browsers at once.
    return reply.sendFile('index.html', dir, { cacheControl: false });
  };

  return (api: FastifyInstance): void => {
    // The app shell and assets: public, in their own context so that every route the static
    // plugin adds is marked public (the plugin takes no route config of its own).
    void api.register(async (scope) => {
      scope.addHook('onRoute', (route) => {
        route.config = { ...(route.config ?? {}), public: true };
      });
      // A path the static plugin refuses (`..` escapes, encoded separators) is simply not found;
      // everything else goes on to the API's error handler.
      scope.setErrorHandler((err, req) => {
        const status = (err as { statusCode?: number }).statusCode;
        if (status === 403 || status === 404) throw new FlinkTrailError('FT_ERR_ROUTE_NOT_FOUND', req.method, req.url.split('?')[0]?.slice(0, 256));
        throw err;
      });
      await scope.register(fastifyStatic, {
        root: join(dir, 'assets'),
        prefix: '/assets/',
        decorateReply: true,
        suppressWarning: true,
        // Vite names assets by content hash: they never change under the same URL.
        immutable: true,
        maxAge: '365d',
        index: false,
      });
      scope.get('/', (_req, reply) => sendIndex(reply));
      for (const page of CONSOLE_PAGES) {
        scope.get(page, (_req, reply) => sendIndex(reply));
        scope.get(`${page}/*`, (_req, reply) => sendIndex(reply));
      }
      scope.get('/favicon.svg', (_req, reply) => reply.sendFile('favicon.svg', dir, { immutable: false, maxAge: '1d' }));
    });

    // What the sign-in page needs before anyone is signed in. Public, so it tells nothing secret.
    api.get('/api/v1/console/settings', { config: { public: true } }, async () => ({
      region: config.region,
      sso: {
        enabled: api.hasRoute({ method: 'GET', url: OIDC_LOGIN_PATH }),
        loginUrl: OIDC_LOGIN_PATH,
        providers: (deps.ssoProviders ?? []).map((p) => ({ name: p.name, displayName: p.displayName, loginUrl: `${OIDC_LOGIN_PATH}?provider=${encodeURIComponent(p.name)}` })),
      },
    }));

    api.addHook('onRoute', (route) => {
      const name = route.config?.audit?.eventName;
      if (name) routeEventNames.add(name);
    });

    // Suggestions for the condition builder: every event name FlinkTrail can record (the Flink
    // endpoint catalog and FlinkTrail's own actions), resource types, service names.
    api.get('/api/v1/console/catalog', { config: { action: 'GetCallerIdentity' } }, async (req) => {
      const names = new Set<string>(catalogEntries().map((e) => e.eventName));
      for (const n of [...OWN_EVENT_NAMES, ...FLINKTRAIL_ACTIONS.self, ...FLINKTRAIL_ACTIONS.audit, ...MANAGEMENT_ACTIONS, ...routeEventNames]) names.add(n);
      return {
        RequestId: req.id,
        EventNames: [...names].sort(),
        ResourceTypes: [...RESOURCE_TYPES.map((t) => resourceTypeKey(t)), 'ACS::Actiontrail::User', 'ACS::Actiontrail::AccessKey', 'ACS::Actiontrail::Policy', 'ACS::ActionTrail::Trail'].sort(),
        ServiceNames: [...new Set([config.serviceName, 'Actiontrail'])],
        EventTypes: [...EVENT_TYPES],
      };
    });

    // Cluster names for the console's cluster pickers and "Open Flink UI" links. Any signed-in
    // user may list them (as GetCallerIdentity); upstream URLs are never returned — they can
    // carry credentials and say where Flink is reachable around FlinkTrail. A member account's
    // caller gets its own account's clusters only (the management account's, every one); the
    // regions are the instance's, as DescribeRegions lists them to everyone.
    api.get('/api/v1/clusters', { config: { action: 'GetCallerIdentity' } }, async (req) => {
      const regions = new Set<string>([config.region, ...config.trails.knownRegions]);
      const caller = callerAccount(req.principal, config.accountId);
      const clusters = config.clusters.flatMap((c) => {
        const region = c.region ?? config.region;
        regions.add(region);
        if (caller !== config.accountId && (c.account ?? config.accountId) !== caller) return [];
        return [{ name: c.name, kind: c.kind, region, path: `/flink/${c.name}/` }];
      });
      return { RequestId: req.id, Clusters: clusters, Regions: [...regions].sort(), DefaultRegion: config.region };
    });

    api.get('/api/v1/events/histogram', { config: { audit: { eventName: 'GetEventHistogram', eventRW: 'Read' } } }, async (req) => {
      const h = await store.histogram(parseHistogram(req.query as Record<string, unknown>, Date.now(), queryScope(req.principal, config)));
      return { RequestId: req.id, ...h };
    });

    api.get('/api/v1/events/export', { config: { audit: { eventName: 'ExportEvents', eventRW: 'Read' } } }, async (req, reply) => {
      // Validated before the first byte, so bad input is a coded 400, not a broken download.
      const x = parseExport(req.query as Record<string, unknown>, Date.now(), queryScope(req.principal, config));
      const ext = x.format;
      void reply
        .type(x.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8')
        .header('content-disposition', `attachment; filename="flinktrail-events-${timestampForFile()}.${ext}"`)
        .header('cache-control', 'no-store')
        .header('x-content-type-options', 'nosniff');
      let rows = 0;
      const body = Readable.from(exportChunks(store, x, () => rows++));
      body.on('error', (err) => req.log.error({ err: err.message, rows }, 'An event export failed part-way; the client gets a truncated, aborted response.'));
      body.on('end', () => {
        // Recorded with the ExportEvents event: how much left the building.
        req.auditParameters = { ...(req.auditParameters ?? {}), exportedEvents: rows };
      });
      return reply.send(body);
    });
  };
}
