/**
 * The HTTP API (Fastify): event query, health, metrics — every route authenticated except
 * `/health` and `/ready`, and every call recorded as FlinkTrail's own event (`serviceName`
 * `Actiontrail`): the auditor is audited. Errors answer in ActionTrail's shape
 * `{RequestId, Code, Message}`.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import fastifyCookie from '@fastify/cookie';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Config } from '../config/index.js';
import { errorBody, FlinkTrailError, isFlinkTrailError } from '../errors/index.js';
import { finishEvent, newEvent } from '../event/build.js';
import { EVENT_SOURCES, type EventType } from '../event/types.js';
import { AuthError, challengeFor, type Authenticator, type Principal } from '../identity/authenticate.js';
import type { Recorder } from '../pipeline/recorder.js';
import { lookupEvents, queryScope, type TokenCodec } from '../query/lookup.js';
import { callerAccount, eventAccount } from '../event/account.js';
import { authContextOf, recordedIdentity, userIdentityOf } from '../identity/caller.js';
import { SESSION_COOKIE, type Sessions } from '../identity/sessions.js';
import { decide } from '../policy/index.js';
import { timingSafeEqual } from 'node:crypto';
import type { SourceIpResolver } from '../identity/source-ip.js';
import type { EventStore } from '../store/types.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';

/** How a call of FlinkTrail's own API is recorded. */
export interface AuditSpec {
  eventName: string;
  eventRW: 'Read' | 'Write';
  sensitive?: boolean;
  isGlobal?: boolean;
  eventType?: EventType;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
    ftRequestId: string;
    /** The audit event name of this route; routes without one are not recorded. */
    auditName?: string;
    auditResources?: Record<string, string[]>;
    authError?: AuthError;
    /** Extra request parameters for the record (a route's body, redacted by the recorder). */
    auditParameters?: Record<string, unknown>;
    ftErrorCode?: string;
    ftErrorMessage?: string;
    /**
     * The record of a route whose event is known only per request (the ActionTrail RPC
     * endpoint, by its Action): used instead of the route's `audit` config, with the request
     * parameters and extra `additionalEventData` to record.
     */
    auditOverride?: AuditSpec & { requestParameters: Record<string, unknown>; additionalEventData?: Record<string, unknown> };
  }
  interface FastifyContextConfig {
    /** Record every call of this route as FlinkTrail's own event (`isGlobal` for account-wide changes: keys, users, trails). */
    audit?: AuditSpec;
    /** The action checked for routes that are not recorded (e.g. `GetMetrics`). */
    action?: string;
    public?: boolean;
  }
}

export interface ApiDeps {
  config: Readonly<Config>;
  store: EventStore;
  recorder: Recorder;
  authenticator: Authenticator;
  tokens: TokenCodec;
  resolveIp: SourceIpResolver;
  log: Logger;
  metrics: Metrics;
  ready: () => boolean;
  sessions?: Sessions;
  serverFactory?: (handler: (req: IncomingMessage, res: ServerResponse) => void) => Server;
  /** Further route sets (trails, keys, ...), registered after the core routes. */
  routes?: ((api: FastifyInstance) => void)[];
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function buildApi(deps: ApiDeps): FastifyInstance {
  const { config, store, recorder, authenticator, tokens, metrics } = deps;
  const app = Fastify({
    loggerInstance: deps.log.child({ component: 'api' }) as unknown as FastifyBaseLogger,
    // Requests are recorded as events, not logged line by line.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: () => randomUUID().toUpperCase(),
    requestIdHeader: false,
    bodyLimit: 10 * 1024 * 1024,
    ...(deps.serverFactory ? { serverFactory: deps.serverFactory } : {}),
  });

  app.decorateRequest('ftRequestId', '');
  // Registered before the hooks below (Fastify adds hooks in registration order), so
  // `req.cookies` is filled when they run; routes write cookies with `reply.setCookie`.
  void app.register(fastifyCookie);

  app.addHook('onRequest', async (req, reply) => {
    req.ftRequestId = req.id;
    void reply.header('x-request-id', req.id);
    if (req.routeOptions.config.public) return;
    const ip = deps.resolveIp(req.raw.socket.remoteAddress, req.headers['x-forwarded-for']);
    try {
      // A certificate problem (set by a TLS listener that asks for certificates) is refused, coded and recorded.
      req.principal = await authenticator.authenticate(authContextOf(req.raw, ip));
    } catch (err) {
      if (err instanceof AuthError) {
        req.authError = err;
        if (err.status === 401 && !req.headers['sec-fetch-site']) void reply.header('www-authenticate', challengeFor(req.headers.authorization));
      }
      throw err;
    }
    // Console sessions: state-changing calls must carry the session's CSRF token, and no cookie
    // call may come from another site.
    if (req.principal.method === 'session') {
      if (req.headers['sec-fetch-site'] === 'cross-site') throw new FlinkTrailError('FT_ERR_AUTH_CSRF');
      if (!['GET', 'HEAD', 'OPTIONS'].includes(req.method)) {
        const sid = req.cookies[SESSION_COOKIE];
        const expected = sid ? (await deps.sessions?.get(sid))?.csrfToken : undefined;
        const given = req.headers['x-csrf-token'];
        if (!expected || typeof given !== 'string' || !safeEqual(given, expected)) throw new FlinkTrailError('FT_ERR_AUTH_CSRF');
      }
    }
    const action = req.routeOptions.config.audit?.eventName ?? req.routeOptions.config.action;
    if (!action) return;
    const decision = decide({ role: req.principal.role, policies: req.principal.policies ?? [] }, { service: 'Actiontrail', eventName: action });
    if (!decision.allowed) throw new FlinkTrailError('FT_ERR_AUTHZ_DENIED', decision.reason);
  });

  app.setErrorHandler((err, req, reply) => {
    let ft: FlinkTrailError;
    if (isFlinkTrailError(err)) ft = err;
    else if ((err as { statusCode?: number }).statusCode === 413) {
      ft = new FlinkTrailError('FT_ERR_REQUEST_TOO_LARGE', (err as Error).message);
    } else if ((err as { statusCode?: number }).statusCode === 415) {
      ft = new FlinkTrailError('FT_ERR_REQUEST_UNSUPPORTED_TYPE', String(req.headers['content-type'] ?? 'none').slice(0, 100));
    } else if ((err as { validation?: unknown }).validation || ((err as { statusCode?: number }).statusCode ?? 0) >= 400 && ((err as { statusCode?: number }).statusCode ?? 0) < 500) {
      // Fastify's own client errors (bad JSON, bad headers): a coded 400, never a 500.
      ft = new FlinkTrailError('FT_ERR_REQUEST_INVALID', (err as Error).message);
    } else {
      req.log.error({ err, requestId: req.id }, 'An API request failed unexpectedly.');
      ft = new FlinkTrailError('FT_ERR_SERVER_INTERNAL');
    }
    req.ftErrorCode = ft.apiCode;
    req.ftErrorMessage = ft.message;
    void reply.code(ft.status).send(errorBody(req.id, ft));
  });

  app.setNotFoundHandler((req, reply) => {
    const err = new FlinkTrailError('FT_ERR_ROUTE_NOT_FOUND', req.method, req.url.split('?')[0]?.slice(0, 256));
    req.ftErrorCode = err.code;
    req.ftErrorMessage = err.message;
    void reply.code(404).send(errorBody(req.id, err));
  });

  // Every audited route's call becomes an event, successes and failures alike.
  app.addHook('onResponse', async (req, reply) => {
    const audit = req.auditOverride ?? req.routeOptions.config.audit;
    if (!audit) return;
    const ip = deps.resolveIp(req.raw.socket.remoteAddress, req.headers['x-forwarded-for']);
    const identity = recordedIdentity(callerAccount(req.principal, config.accountId), req.principal, req.authError);
    const query = { ...(req.query as Record<string, unknown>) };
    delete query['nextToken'];
    const e = newEvent({
      eventName: audit.eventName,
      eventRW: audit.eventRW,
      eventType: audit.eventType ?? (req.principal?.method === 'session' || req.headers['sec-fetch-site'] ? 'ConsoleOperation' : 'ApiCall'),
      eventSource: EVENT_SOURCES.flinkTrail,
      serviceName: 'Actiontrail',
      acsRegion: config.region,
      isGlobal: audit.isGlobal ?? false,
      sourceIpAddress: ip,
      userAgent: String(req.headers['user-agent'] ?? '').slice(0, 1024),
      userIdentity: identity,
      requestId: req.id,
      time: new Date(Date.now() - reply.elapsedTime),
      requestParameters: req.auditOverride?.requestParameters ?? { ...query, ...(req.params as Record<string, unknown>), ...req.auditParameters },
      referencedResources: req.auditResources ?? {},
      additionalEventData: { ...req.auditOverride?.additionalEventData, sensitive: audit.sensitive ?? false, httpStatus: reply.statusCode },
    });
    const failed = reply.statusCode >= 400;
    await recorder.record(
      finishEvent(e, {
        outcome: failed ? 'failure' : 'success',
        latencyMs: reply.elapsedTime,
        ...(failed ? { errorCode: req.ftErrorCode ?? `Http${reply.statusCode}`, errorMessage: req.ftErrorMessage ?? '' } : {}),
        ...(req.authError ? { additionalEventData: { authFailure: true, authFailureReason: req.authError.reason } } : {}),
      }),
    );
  });

  app.get('/health', { config: { public: true } }, () => Promise.resolve({ status: 'ok' }));
  app.get('/ready', { config: { public: true } }, async (_req, reply) => {
    if (!deps.ready()) return reply.code(503).send({ status: 'starting' });
    return { status: 'ready' };
  });

  app.get('/metrics', { config: { action: 'GetMetrics' } }, async (req, reply) => {
    // The instance's metrics are labelled with every account's cluster and trail names: the
    // management account's to read, as the instance is.
    if (callerAccount(req.principal, config.accountId) !== config.accountId) {
      throw new FlinkTrailError('FT_ERR_ACCOUNT_DENIED', "Only the management account may read the instance's metrics.");
    }
    void reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  app.get('/api/v1/whoami', { config: { audit: { eventName: 'GetCallerIdentity', eventRW: 'Read' } } }, (req) => {
    const p = req.principal as Principal;
    return Promise.resolve({ ...userIdentityOf(p, callerAccount(p, config.accountId)), role: p.role, managementAccount: callerAccount(p, config.accountId) === config.accountId });
  });

  app.get('/api/v1/events', { config: { audit: { eventName: 'LookupEvents', eventRW: 'Read' } } }, async (req) => {
    const r = await lookupEvents(store, tokens, req.query as Record<string, unknown>, queryScope(req.principal, config));
    return {
      RequestId: req.id,
      StartTime: r.startTime,
      EndTime: r.endTime,
      Events: r.events,
      ...(r.nextToken ? { NextToken: r.nextToken } : {}),
    };
  });

  app.get<{ Params: { eventId: string } }>(
    '/api/v1/events/:eventId',
    { config: { audit: { eventName: 'GetEvent', eventRW: 'Read' } } },
    async (req) => {
      const id = req.params.eventId;
      if (id.length > 64) throw new FlinkTrailError('FT_ERR_QUERY_INVALID_PARAMETER', 'eventId', 'longer than 64 characters');
      const e = await store.get(id);
      // Another account's event is not found, never refused: a member does not learn it exists.
      const caller = callerAccount(req.principal, config.accountId);
      if (!e || (caller !== config.accountId && eventAccount(e, config.accountId) !== caller)) throw new FlinkTrailError('FT_ERR_EVENT_NOT_FOUND', id);
      return e;
    },
  );

  for (const register of deps.routes ?? []) register(app);

  return app;
}
