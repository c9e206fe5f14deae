/**
 * The HTTP API (Fastify): event query, health, metrics — every route authenticated except
 * `/health` and `/ready`, and every call recorded as FlinkTrail's own event (`serviceName`
 * `Actiontrail`): the auditor is audited. Errors answer in ActionTrail's shape
 * `{RequestId, Code, Message}`.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Config } from '../config/index.js';
import { errorBody, FlinkTrailError, isFlinkTrailError } from '../errors/index.js';
import { finishEvent, newEvent } from '../event/build.js';
import { EVENT_SOURCES, type UserIdentity } from '../event/types.js';
import { AuthError, type Authenticator, type Principal } from '../identity/authenticate.js';
import type { Recorder } from '../pipeline/recorder.js';
import { lookupEvents, type TokenCodec } from '../query/lookup.js';
import { userIdentityOf } from '../sources/gateway/gateway.js';
import type { SourceIpResolver } from '../sources/gateway/source-ip.js';
import type { EventStore } from '../store/types.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
    ftRequestId: string;
    /** The audit event name of this route; routes without one are not recorded. */
    auditName?: string;
    auditResources?: Record<string, string[]>;
    authError?: AuthError;
    ftErrorCode?: string;
    ftErrorMessage?: string;
  }
  interface FastifyContextConfig {
    /** Record every call of this route as FlinkTrail's own event (`isGlobal` for account-wide changes: keys, users, trails). */
    audit?: { eventName: string; eventRW: 'Read' | 'Write'; sensitive?: boolean; isGlobal?: boolean };
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
  serverFactory?: (handler: (req: IncomingMessage, res: ServerResponse) => void) => Server;
  /** Further route sets (trails, keys, ...), registered after the core routes. */
  routes?: ((api: FastifyInstance) => void)[];
}

export function buildApi(deps: ApiDeps): FastifyInstance {
  const { config, store, recorder, authenticator, tokens, metrics } = deps;
  const app = Fastify({
    loggerInstance: deps.log.child({ component: 'api' }) as unknown as FastifyBaseLogger,
    disableRequestLogging: true,
    genReqId: () => randomUUID().toUpperCase(),
    requestIdHeader: false,
    bodyLimit: 10 * 1024 * 1024,
    ...(deps.serverFactory ? { serverFactory: deps.serverFactory } : {}),
  });

  app.decorateRequest('ftRequestId', '');

  app.addHook('onRequest', async (req, reply) => {
    req.ftRequestId = req.id;
    void reply.header('x-request-id', req.id);
    if (req.routeOptions.config.public) return;
    const ip = deps.resolveIp(req.raw.socket.remoteAddress, req.headers['x-forwarded-for']);
    try {
      req.principal = authenticator.authenticate(req.headers.authorization, ip);
    } catch (err) {
      if (err instanceof AuthError) {
        req.authError = err;
        void reply.header('www-authenticate', 'Basic realm="FlinkTrail", charset="UTF-8"');
      }
      throw err;
    }
  });

  app.setErrorHandler((err, req, reply) => {
    let ft: FlinkTrailError;
    if (isFlinkTrailError(err)) ft = err;
    else if ((err as { validation?: unknown }).validation || (err as { statusCode?: number }).statusCode === 400) {
      ft = new FlinkTrailError('FT_ERR_REQUEST_INVALID', (err as Error).message);
    } else {
      req.log.error({ err, requestId: req.id }, 'An API request failed unexpectedly.');
      ft = new FlinkTrailError('FT_ERR_SERVER_INTERNAL');
    }
    req.ftErrorCode = ft.code;
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
    const audit = req.routeOptions.config.audit;
    if (!audit) return;
    const ip = deps.resolveIp(req.raw.socket.remoteAddress, req.headers['x-forwarded-for']);
    const identity: UserIdentity = req.principal
      ? userIdentityOf(req.principal, config.accountId)
      : {
          type: 'anonymous',
          principalId: 'anonymous',
          accountId: config.accountId,
          userName: req.authError?.attempted.userName ?? '',
          ...(req.authError?.attempted.accessKeyId ? { accessKeyId: req.authError.attempted.accessKeyId.slice(0, 128) } : {}),
        };
    const query = { ...(req.query as Record<string, unknown>) };
    delete query['nextToken'];
    const e = newEvent({
      eventName: audit.eventName,
      eventRW: audit.eventRW,
      eventType: req.headers['sec-fetch-site'] ? 'ConsoleOperation' : 'ApiCall',
      eventSource: EVENT_SOURCES.flinkTrail,
      serviceName: 'Actiontrail',
      acsRegion: config.region,
      isGlobal: audit.isGlobal ?? false,
      sourceIpAddress: ip,
      userAgent: String(req.headers['user-agent'] ?? '').slice(0, 1024),
      userIdentity: identity,
      requestId: req.id,
      time: new Date(Date.now() - reply.elapsedTime),
      requestParameters: { ...query, ...(req.params as Record<string, unknown>) },
      referencedResources: req.auditResources ?? {},
      additionalEventData: { sensitive: audit.sensitive ?? false, httpStatus: reply.statusCode },
    });
    const failed = reply.statusCode >= 400;
    await recorder.record(
      finishEvent(e, {
        outcome: failed ? 'failure' : 'success',
        latencyMs: reply.elapsedTime,
        ...(failed ? { errorCode: req.ftErrorCode ?? `Http${reply.statusCode}`, errorMessage: req.ftErrorMessage ?? '' } : {}),
        ...(req.authError ? { additionalEventData: { authFailure: true } } : {}),
      }),
    );
  });

  app.get('/health', { config: { public: true } }, () => Promise.resolve({ status: 'ok' }));
  app.get('/ready', { config: { public: true } }, async (_req, reply) => {
    if (!deps.ready()) return reply.code(503).send({ status: 'starting' });
    return { status: 'ready' };
  });

  app.get('/metrics', async (_req, reply) => {
    void reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  app.get('/api/v1/whoami', { config: { audit: { eventName: 'GetCallerIdentity', eventRW: 'Read' } } }, (req) => {
    const p = req.principal as Principal;
    return Promise.resolve({ ...userIdentityOf(p, config.accountId), role: p.role });
  });

  app.get('/api/v1/events', { config: { audit: { eventName: 'LookupEvents', eventRW: 'Read' } } }, async (req) => {
    const r = await lookupEvents(store, tokens, req.query as Record<string, unknown>);
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
      if (!e) throw new FlinkTrailError('FT_ERR_EVENT_NOT_FOUND', id);
      return e;
    },
  );

  for (const register of deps.routes ?? []) register(app);

  return app;
}
