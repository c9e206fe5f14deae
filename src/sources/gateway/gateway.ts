/**
 * The gateway: an authenticating reverse proxy in front of Flink that records every call.
 *
 * A request goes through named steps over one per-request context (context.ts):
 *  1. admit     — who is calling (identity/), which cluster, and whether the caller's account
 *                 may reach it (a member account only its own clusters: cross-account.ts);
 *                 console-cookie CSRF;
 *  2. describe  — what Flink will read: the query, the ids in the path (anything Flink could
 *                 read otherwise is refused);
 *  3. authorize — role and policies, deny wins;
 *     describe the body — read as Flink will read it, the call refined by it (and authorized
 *                 again as what it became);
 *  4. journal   — writes: the event made durable before anything is forwarded (fail closed:
 *                 no record, no write);
 *  5. forward   — to Flink, on a keep-alive pool per cluster;
 *  6. complete  — Flink's answer streamed back byte for byte (plus `X-Request-Id`), and the
 *                 event completed with it: reads appended, writes completed in place.
 * Every refusal on the way is answered with a coded error and recorded. Bodies stream both
 * ways; only small JSON bodies are buffered (to be recorded).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import { classify, refineByBody } from '../../catalog/index.js';
import type { FlinkApi } from '../../catalog/types.js';
import type { ClusterConfig, Config } from '../../config/index.js';
import { errorBody, FlinkTrailError, isFlinkTrailError } from '../../errors/index.js';
import { callerAccount } from '../../event/account.js';
import { addResource, finishEvent, newEvent } from '../../event/build.js';
import { EVENT_SOURCES, RESOURCE_TYPE_PREFIX, type ActionTrailEvent, type ReferencedResources } from '../../event/types.js';
import { AuthError, challengeFor, type Authenticator } from '../../identity/authenticate.js';
import { authContextOf, failedIdentity, recordedIdentity, userIdentityOf } from '../../identity/caller.js';
import { cookieValue, SESSION_COOKIE, type Sessions } from '../../identity/sessions.js';
import { decide, needsJobNames } from '../../policy/index.js';
import type { Recorder } from '../../pipeline/recorder.js';
import type { Logger } from '../../telemetry/logger.js';
import type { Metrics } from '../../telemetry/metrics.js';
import * as sql from './sql-gateway/index.js';
import { prepareBody } from './body.js';
import { bodyStillArriving, closeAfterAnswer, watchBodyRate } from './body-edges.js';
import { elapsedMs, type RequestContext, type Upstream } from './context.js';
import { inEachAccount, mayReach } from './cross-account.js';
import { NameCache } from './names.js';
import { flinkErrorCode, flinkErrorMessage, jobNamesIn, responseElements } from './response.js';
import { canonicalIds, checkRepeated, multipartTailGuard, readBody, readQuery } from './request-model.js';
import type { SourceIpResolver } from '../../identity/source-ip.js';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
  'host',
  // Credentials are FlinkTrail's, not Flink's: never forwarded, never logged.
  'authorization',
  'cookie',
]);

/** The headers that go on to the other side: all but hop-by-hop ones and FlinkTrail's credentials (for-in: no entry arrays per request). */
function endToEnd(from: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const k in from) {
    const v = from[k];
    if (v === undefined || HOP_BY_HOP.has(k)) continue;
    out[k] = v;
  }
  return out;
}

const CAPTURE_LIMIT = 512 * 1024;

/**
 * Connections kept open to each cluster. Flink's REST server (Netty) answers on a few threads;
 * more connections than that only queue there, and 64 leaves room for slow calls (savepoints,
 * uploads) without starving the polls. Idle connections are closed after 30 s, well under
 * Flink's `rest.idleness-timeout` (5 min), so a request never races Flink closing its socket.
 */
const UPSTREAM_POOL = { connections: 64, pipelining: 1, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 60_000 } as const;

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

const API_OF: Record<ClusterConfig['kind'], FlinkApi> = {
  jobmanager: 'dispatcher',
  'sql-gateway': 'sql_gateway',
  'history-server': 'history_server',
};

const SOURCE_OF: Record<ClusterConfig['kind'], string> = {
  jobmanager: EVENT_SOURCES.jobManager,
  'sql-gateway': EVENT_SOURCES.sqlGateway,
  'history-server': EVENT_SOURCES.historyServer,
};

export interface GatewayDeps {
  config: Readonly<Config>;
  recorder: Recorder;
  authenticator: Authenticator;
  resolveIp: SourceIpResolver;
  log: Logger;
  metrics: Metrics;
  /** Console sessions, to check the CSRF token of a cookie-authenticated write. */
  sessions?: Sessions;
}

export interface GatewayTarget {
  cluster: string;
  /** Path and query as Flink should see them (prefix removed). */
  url: string;
}

export interface Gateway {
  handle(req: IncomingMessage, res: ServerResponse, target: GatewayTarget): void;
  hasCluster(name: string): boolean;
  close(): Promise<void>;
}

/**
 * FlinkTrail's own refusals on a Flink path. Flink's Java client (the `flink` CLI, RestClusterClient)
 * sends no User-Agent and accepts only Flink's error shape `{"errors": [...]}` — anything else it
 * reports as an unreadable answer — so it gets that shape, with the code and request id inside
 * the message. Everyone else (curl, SDKs, browsers) gets ActionTrail's `{RequestId, Code, Message}`.
 * Both carry `X-Request-Id` and `X-FlinkTrail-Error-Code`.
 */
export function sendGatewayError(req: IncomingMessage, res: ServerResponse, requestId: string, err: FlinkTrailError, extraHeaders: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // An answer before the whole body arrived: sent so the client reads it, not a reset.
  closeAfterAnswer(req, res);
  const flinkClient = req.headers['user-agent'] === undefined;
  const body = JSON.stringify(flinkClient ? { errors: [`${err.apiCode}: ${err.message} (request id ${requestId})`] } : errorBody(requestId, err));
  res.writeHead(err.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'x-request-id': requestId,
    'x-flinktrail-error-code': err.apiCode,
    ...extraHeaders,
  });
  res.end(body);
}

/** What Flink answered, as `relay` saw it go to the client. */
interface FlinkAnswer {
  status: number;
  /** The JSON answer, when it was small enough to keep (≤ 512 KiB). */
  body: Buffer | undefined;
  responseBytes: number;
  /** Flink answered before the client's whole body arrived. */
  answeredEarly: boolean;
  clientCompleted: boolean;
  streamError?: Error;
}

function applySqlDetails(event: ActionTrailEvent, d: sql.SqlDetails): ActionTrailEvent {
  const out = { ...event, requestParameters: { ...event.requestParameters, ...d.requestParameters } };
  if (d.eventName) out.eventName = d.eventName;
  out.additionalEventData = { ...event.additionalEventData, ...d.additionalEventData, ...(d.sensitive !== undefined ? { sensitive: d.sensitive } : {}) };
  for (const [type, ids] of Object.entries(d.resources ?? {})) {
    out.referencedResources = { ...out.referencedResources };
    addResource(out.referencedResources, type, ...ids);
  }
  return out;
}

export function createGateway(deps: GatewayDeps): Gateway {
  const { config, recorder, authenticator, log, metrics } = deps;
  const upstreams = new Map<string, Upstream>();
  for (const c of config.clusters) {
    upstreams.set(c.name, {
      config: c,
      pool: new Pool(new URL(c.url).origin, UPSTREAM_POOL),
      region: c.region ?? config.region,
      account: c.account ?? config.accountId,
      jobNames: new NameCache(),
    });
  }

  /**
   * The name of a job, from the cache or from Flink (`GET /jobs/<id>`, short timeout). For the
   * record it is best effort and follows `gateway.resolveJobNames`; for authorization (`force`)
   * it is always asked, since a policy may name the job.
   */
  async function lookupJobName(up: Upstream, jobId: string, force = false): Promise<string | undefined> {
    const known = up.jobNames.get(jobId);
    if (known || !(force || config.gateway.resolveJobNames) || up.config.kind === 'sql-gateway') return known;
    try {
      const r = await up.pool.request({ method: 'GET', path: `/jobs/${encodeURIComponent(jobId)}`, headersTimeout: 2000, bodyTimeout: 2000 });
      if (r.statusCode !== 200) {
        await r.body.dump();
        return undefined;
      }
      for (const [id, name] of jobNamesIn(await r.body.json())) up.jobNames.set(id, name);
      return up.jobNames.get(jobId);
    } catch {
      return undefined;
    }
  }

  /** Stands in for a cluster that is not configured, until the caller is authenticated. */
  function unknownUpstream(name: string): Upstream {
    const cluster: ClusterConfig = { name: name.slice(0, 128), url: 'http://flink.invalid', kind: 'jobmanager' };
    return {
      config: cluster,
      // Never used: the request is answered before anything is forwarded.
      pool: undefined as unknown as Pool,
      region: config.region,
      account: config.accountId,
      jobNames: new NameCache(1),
    };
  }

  /** What the call names: the catalog's resources, the cluster, and the names of the jobs it names. */
  function resourcesOf(ctx: RequestContext): ReferencedResources {
    const { cls, up } = ctx;
    const resources: ReferencedResources = {};
    for (const [type, ids] of Object.entries(cls.resources)) addResource(resources, type, ...ids);
    addResource(resources, `${RESOURCE_TYPE_PREFIX}Cluster`, up.config.name);
    addJobNames(resources, ctx);
    return resources;
  }

  /** Adds the names now known of the jobs the call names (an answer may just have taught them). */
  function addJobNames(resources: ReferencedResources, { cls, up }: RequestContext): void {
    for (const id of cls.resources[`${RESOURCE_TYPE_PREFIX}Job`] ?? []) {
      const name = up.jobNames.get(id);
      if (name) addResource(resources, `${RESOURCE_TYPE_PREFIX}Job`, name);
    }
  }

  /** The event for the call as described so far (before its outcome). */
  function eventOf(ctx: RequestContext): ActionTrailEvent {
    const { cls, up, req } = ctx;
    return newEvent({
      eventName: cls.eventName,
      eventRW: cls.eventRW,
      // A console operation is one the console session authenticated, whatever headers came along.
      eventType: ctx.principal?.method === 'session' ? 'ConsoleOperation' : 'ApiCall',
      eventSource: SOURCE_OF[up.config.kind],
      serviceName: config.serviceName,
      acsRegion: up.region,
      // The cluster's account, whoever called: the call concerns what that account owns.
      recipientAccountId: up.account,
      sourceIpAddress: ctx.sourceIp,
      userAgent: String(req.headers['user-agent'] ?? '').slice(0, 1024),
      userIdentity: ctx.identity,
      requestId: ctx.requestId,
      time: ctx.time,
      requestParameters: ctx.parameters,
      referencedResources: resourcesOf(ctx),
      additionalEventData: {
        cluster: up.config.name,
        sensitive: cls.sensitive,
        httpMethod: ctx.method,
        path: ctx.url.pathname.slice(0, 2048),
        ...(cls.known ? {} : { unknownEndpoint: true }),
      },
    });
  }

  /** Refuses the call: the client gets the coded error, the refusal is recorded, nothing reaches Flink. */
  function refuse(ctx: RequestContext, err: FlinkTrailError, extra: Record<string, unknown>, headers: Record<string, string> = {}): void {
    const { req, res } = ctx;
    if (ctx.body?.kind === 'stream') ctx.body.stream.destroy();
    ctx.forwardSource?.destroy();
    req.resume();
    sendGatewayError(req, res, ctx.requestId, err, headers);
    const done = finishEvent(eventOf(ctx), {
      outcome: 'failure',
      httpStatus: err.status,
      latencyMs: elapsedMs(ctx),
      errorCode: err.apiCode,
      errorMessage: err.message,
      additionalEventData: extra,
    });
    for (const e of inEachAccount(done, ctx.foreignAccount)) void recorder.record(e);
    metrics.gatewayRequests.inc({ cluster: ctx.up.config.name, status: `${Math.floor(err.status / 100)}xx` });
  }

  /** Whether a console-cookie call may change state: same origin, typed URL, or the session's CSRF token. */
  async function consoleWriteAllowed(req: IncomingMessage): Promise<boolean> {
    const site = req.headers['sec-fetch-site'];
    if (site === 'same-origin' || site === 'none') return true;
    const sid = cookieValue(req.headers.cookie, SESSION_COOKIE);
    const expected = sid ? (await deps.sessions?.get(sid))?.csrfToken : undefined;
    const given = req.headers['x-csrf-token'];
    if (!expected || typeof given !== 'string') return false;
    const a = Buffer.from(given);
    const b = Buffer.from(expected);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /** The context of a request that just arrived: its id and time, the call classified from its URL. */
  function arrive(req: IncomingMessage, res: ServerResponse, target: GatewayTarget): RequestContext {
    const started = process.hrtime.bigint();
    // Authentication comes before the cluster is looked up: cluster names are not told to strangers.
    const known = upstreams.get(target.cluster);
    const up = known ?? unknownUpstream(target.cluster);
    const url = new URL(target.url, 'http://flink.invalid');
    const method = (req.method ?? 'GET').toUpperCase();
    const api = API_OF[up.config.kind];
    const queryRead = readQuery(url.search);
    const requestId = randomUUID().toUpperCase();
    let resolveSlow: (err: FlinkTrailError) => void = () => undefined;
    const ctx: RequestContext = {
      req,
      res,
      requestId,
      started,
      time: new Date(),
      clusterName: target.cluster,
      up,
      known: known !== undefined,
      url,
      method,
      api,
      contentType: String(req.headers['content-type'] ?? '').toLowerCase(),
      sourceIp: deps.resolveIp(req.socket.remoteAddress, req.headers['x-forwarded-for']),
      queryRead,
      cls: classify({ api, method, path: url.pathname, query: queryRead.ok ? queryRead.value.query.search : new URLSearchParams() }),
      parameters: queryRead.ok ? queryRead.value.query.recorded : { query: url.search.slice(0, 2048) },
      // Until admit says who it is: a caller who offered nothing yet, of the cluster's account.
      identity: recordedIdentity(up.account, undefined, undefined),
      onTooSlow: () => undefined,
      slowBody: new Promise<FlinkTrailError>((resolve) => (resolveSlow = resolve)),
      recordIt: true,
      journaled: false,
    };
    // A body trickled in (one byte before each idle timeout) is cut off: `tooSlow` says so, and
    // `onTooSlow` does what the current step needs (stop reading, or cut off the forward).
    watchBodyRate(req, { minBytesPerSecond: config.gateway.minBodyBytesPerSecond, graceMs: config.gateway.bodyRateGraceMs }, (err) => {
      ctx.tooSlow = err;
      log.warn({ requestId, err: err.message }, 'A request body arrived too slowly and was cut off.');
      resolveSlow(err);
      ctx.onTooSlow();
    });
    return ctx;
  }

  /**
   * 1. Admit: who is calling. A failure is answered 401 (429 when rate-limited) and recorded as a
   * failed sign-in (in the cluster's account); an unknown cluster is 404 to an authenticated
   * caller; a member account's principal asking for another account's cluster is refused 403
   * NoPermission and recorded in both accounts, before anything reaches Flink; a console cookie must
   * not be usable from another site, and changes state only from the console's own origin (or
   * with its CSRF token): Flink's Web UI cancels with a plain GET.
   */
  async function admit(ctx: RequestContext): Promise<boolean> {
    const { req, res } = ctx;
    try {
      ctx.principal = await authenticator.authenticate(authContextOf(req, ctx.sourceIp));
    } catch (err) {
      if (!(err instanceof AuthError)) throw err;
      // Nobody proved an account: the failed sign-in is the cluster's account's to see.
      ctx.identity = failedIdentity(err, ctx.up.account);
      refuse(ctx, err, { authFailure: true, authFailureReason: err.reason }, err.status === 401 ? { 'www-authenticate': challengeFor(req.headers.authorization) } : {});
      return false;
    }
    if (!ctx.known) {
      req.resume();
      sendGatewayError(req, res, ctx.requestId, new FlinkTrailError('FT_ERR_GATEWAY_UNKNOWN_CLUSTER', ctx.clusterName));
      return false;
    }
    const caller = callerAccount(ctx.principal, config.accountId);
    // An anonymous caller (auth.anonymous) proved no account: recorded as of the cluster's.
    ctx.identity = userIdentityOf(ctx.principal, ctx.principal.method === 'anonymous' ? ctx.up.account : caller);
    if (!mayReach(caller, ctx.up.account, config.accountId)) {
      ctx.foreignAccount = caller;
      refuse(ctx, new FlinkTrailError('FT_ERR_AUTHZ_DENIED', `the cluster ${ctx.up.config.name} is not in your account (${caller})`), { crossAccount: true });
      return false;
    }
    if (ctx.principal.method === 'session') {
      const changesState = ctx.cls.eventRW === 'Write' || !READ_METHODS.has(ctx.method);
      if (req.headers['sec-fetch-site'] === 'cross-site' || (changesState && !(await consoleWriteAllowed(req)))) {
        refuse(ctx, new FlinkTrailError('FT_ERR_AUTH_CSRF'), { csrf: true });
        return false;
      }
    }
    return true;
  }

  /** 2. Describe: what Flink will read from the URL — the query, the ids in the path. Anything it could read otherwise is refused. */
  function describe(ctx: RequestContext): boolean {
    const { queryRead } = ctx;
    if (!queryRead.ok) {
      refuse(ctx, queryRead.error, { refusedBy: 'requestModel' });
      return false;
    }
    const ids = canonicalIds(ctx.cls);
    if (!ids.ok) {
      refuse(ctx, ids.error, { refusedBy: 'requestModel' });
      return false;
    }
    ctx.cls = ids.value;
    const repeated = checkRepeated(ctx.cls, queryRead.value.repeated);
    if (repeated) {
      refuse(ctx, repeated, { refusedBy: 'requestModel' });
      return false;
    }
    ctx.recordIt = config.gateway.recordAssets || ctx.cls.eventName !== 'GetWebUIAsset';
    return true;
  }

  /** 3. Authorize: role and policies, deny wins. Refused calls never reach Flink and are recorded. */
  async function authorize(ctx: RequestContext): Promise<boolean> {
    const { cls, up, principal } = ctx;
    if (!principal) throw new Error('The gateway authorized a request before admitting it.');
    const jobIds = cls.resources[`${RESOURCE_TYPE_PREFIX}Job`] ?? [];
    const subject = { role: principal.role, policies: principal.policies ?? [] };
    // The ids, then the names known of them (a loop: no spread or flatMap copies per request).
    const jobs = jobIds.slice();
    for (const id of jobIds) {
      const name = up.jobNames.get(id);
      if (name !== undefined) jobs.push(name);
    }
    const request = {
      service: 'RealtimeCompute' as const,
      action: { eventName: cls.eventName, eventRW: cls.eventRW, api: ctx.api, known: cls.known },
      cluster: up.config.name,
      jobs,
      jobNamesUnknown: false,
    };
    // A statement naming jobs may name this one by its name: ask Flink for it before deciding.
    if (needsJobNames(subject, request)) {
      for (const id of jobIds) {
        const name = up.jobNames.get(id) ?? (await lookupJobName(up, id, true));
        if (name === undefined) request.jobNamesUnknown = true;
        else if (!request.jobs.includes(name)) request.jobs.push(name);
      }
    }
    const { jobNamesUnknown } = request;
    const decision = decide(subject, request);
    if (decision.allowed) return true;
    const reason = jobNamesUnknown ? `${decision.reason} (the job's name could not be found, and a policy names jobs)` : decision.reason;
    refuse(ctx, new FlinkTrailError('FT_ERR_AUTHZ_DENIED', reason), jobNamesUnknown ? { jobNameUnknown: true } : {});
    return false;
  }

  /**
   * 2b. Describe the body, read as Flink will read it: small bodies whole, uploads only peeked
   * at. What the body makes of the call (a savepoint that cancels is a cancel) is authorized
   * again as that.
   */
  async function describeBody(ctx: RequestContext): Promise<boolean> {
    const { req, res } = ctx;
    try {
      const reading = prepareBody(req);
      const prepared = await Promise.race([reading, ctx.slowBody]);
      if (prepared instanceof FlinkTrailError) {
        // The read under way ends (and rejects) when the connection closes: nobody waits for it.
        reading.catch(() => undefined);
        refuse(ctx, prepared, { bodyCutOff: true, forwarded: false });
        return false;
      }
      ctx.body = prepared;
    } catch (err) {
      if (ctx.recordIt) {
        void recorder.record(
          finishEvent(eventOf(ctx), {
            outcome: 'failure',
            latencyMs: elapsedMs(ctx),
            errorCode: 'ClientClosedRequest',
            errorMessage: (err as Error).message,
          }),
        );
      }
      res.destroy();
      return false;
    }
    const body = ctx.body;
    const bodyRead = readBody(body, {
      api: ctx.api,
      method: ctx.method,
      cls: ctx.cls,
      contentType: ctx.contentType,
      contentEncoding: typeof req.headers['content-encoding'] === 'string' ? req.headers['content-encoding'] : undefined,
      maxParameterBytes: config.gateway.maxParameterBytes,
    });
    if (!bodyRead.ok) {
      refuse(ctx, bodyRead.error, { refusedBy: 'requestModel' });
      return false;
    }
    ctx.parameters = { ...ctx.parameters, ...bodyRead.value.recorded };
    // A `request` part beyond the peek would be read by Flink unrecorded: the tail is watched,
    // and the upload cut off (before its last byte, so Flink never acts) if one comes.
    if (body.kind === 'stream') ctx.forwardSource = body.stream;
    if (body.kind === 'stream' && bodyRead.value.guardTail) {
      const guard = multipartTailGuard(ctx.contentType, bodyRead.value.guardTail.requestParts, (err) => (ctx.tailRefusal = err));
      const source = body.stream;
      source.on('error', (err) => guard.destroy(err));
      ctx.body = { ...body, stream: source.pipe(guard) };
    }
    if (bodyRead.value.object) {
      const refined = refineByBody(ctx.cls, ctx.api, ctx.method, bodyRead.value.object);
      if (refined !== ctx.cls) {
        ctx.cls = refined;
        if (!(await authorize(ctx))) {
          if (ctx.body.kind === 'stream') ctx.body.stream.destroy();
          return false;
        }
      }
    }
    return true;
  }

  /**
   * 4. Journal: the event as it will be recorded, and for a write, made durable before anything
   * is forwarded. If that fails and `gateway.failClosed` is on, the client gets 503 and Flink
   * never sees the request. From here the body goes to Flink as it arrives: a body too slow is
   * cut off before its end (Flink never acts on a body it did not get whole), and the record
   * says so.
   */
  async function journal(ctx: RequestContext): Promise<boolean> {
    const { req, res, up } = ctx;
    let event = eventOf(ctx);
    if (up.config.kind === 'sql-gateway') event = applySqlDetails(event, sql.requestDetails(ctx.cls, event.requestParameters));
    ctx.event = event;
    if (ctx.tooSlow) {
      refuse(ctx, ctx.tooSlow, { bodyCutOff: true, forwarded: false });
      return false;
    }
    const forwarded = ctx.body?.kind === 'stream' ? ctx.body.stream : undefined;
    ctx.onTooSlow = () => {
      forwarded?.destroy(ctx.tooSlow);
      ctx.forwardSource?.destroy(ctx.tooSlow);
    };
    ctx.journaled = ctx.recordIt && ctx.cls.eventRW === 'Write';
    if (ctx.journaled) {
      try {
        await recorder.journal(event);
      } catch (err) {
        metrics.journalFailures.inc({ cluster: up.config.name });
        log.error({ requestId: ctx.requestId, eventName: event.eventName, err: (err as Error).message }, 'A write could not be journaled.');
        if (config.gateway.failClosed) {
          forwarded?.destroy();
          req.resume();
          sendGatewayError(req, res, ctx.requestId, err instanceof FlinkTrailError ? err : new FlinkTrailError('FT_ERR_JOURNAL_UNAVAILABLE', String(err)));
          metrics.gatewayRequests.inc({ cluster: up.config.name, status: '5xx' });
          return false;
        }
      }
    }
    const jobId = ctx.cls.resources[`${RESOURCE_TYPE_PREFIX}Job`]?.[0];
    if (ctx.journaled && jobId) ctx.nameLookup = lookupJobName(up, jobId);
    return true;
  }

  /** 5. Forward: to Flink, without hop-by-hop headers or FlinkTrail's credentials. Undefined when Flink could not be reached (answered and recorded). */
  async function forward(ctx: RequestContext): Promise<Dispatcher.ResponseData | undefined> {
    const { req, res, up, body } = ctx;
    const headers = endToEnd(req.headers);
    if (body?.kind === 'buffered') headers['content-length'] = String(body.data.length);
    else if (body?.kind === 'none') delete headers['content-length'];
    headers['x-forwarded-for'] = ctx.sourceIp;
    headers['x-request-id'] = ctx.requestId;
    try {
      return await up.pool.request({
        method: ctx.method,
        path: ctx.url.pathname + ctx.url.search,
        headers,
        body: body?.kind === 'buffered' ? body.data : body?.kind === 'stream' ? body.stream : null,
        headersTimeout: config.gateway.upstreamTimeoutMs,
        bodyTimeout: 0,
      });
    } catch (err) {
      const e = err as Error & { code?: string };
      const ftErr =
        ctx.tooSlow ??
        ctx.tailRefusal ??
        (e.code === 'UND_ERR_HEADERS_TIMEOUT'
          ? new FlinkTrailError('FT_ERR_UPSTREAM_TIMEOUT', up.config.name, config.gateway.upstreamTimeoutMs)
          : new FlinkTrailError('FT_ERR_UPSTREAM_UNAVAILABLE', up.config.name, e.message));
      req.resume();
      sendGatewayError(req, res, ctx.requestId, ftErr);
      metrics.gatewayRequests.inc({ cluster: up.config.name, status: '5xx' });
      if (ctx.recordIt && ctx.event) {
        const done = finishEvent(ctx.event, {
          // After a timeout Flink may still act on the request; after a refused connection it cannot.
          outcome: ftErr.code === 'FT_ERR_UPSTREAM_TIMEOUT' ? 'unknown' : 'failure',
          httpStatus: ftErr.status,
          latencyMs: elapsedMs(ctx),
          errorCode: ftErr.code,
          errorMessage: ftErr.message,
          ...(ctx.tooSlow ? { additionalEventData: { bodyCutOff: true, forwarded: 'partial' } } : {}),
        });
        void (ctx.journaled ? recorder.complete(done) : recorder.record(done));
      }
      return undefined;
    }
  }

  /**
   * 6a. Relay Flink's answer: its status, headers and bytes, plus our request id; JSON answers
   * teed (≤ 512 KiB) for the record. `complete` runs once, when the answer ended or was cut.
   */
  function relay(ctx: RequestContext, upstreamRes: Dispatcher.ResponseData): void {
    const { req, res } = ctx;
    const outHeaders = endToEnd(upstreamRes.headers);
    outHeaders['x-request-id'] = ctx.requestId;
    // Flink answered before the whole body came (it refuses a broken upload early): the client
    // gets Flink's answer, the rest of its body is not forwarded, and the connection then closes.
    const answeredEarly = bodyStillArriving(req);
    if (answeredEarly) closeAfterAnswer(req, res);
    res.writeHead(upstreamRes.statusCode, outHeaders);

    const capture = String(upstreamRes.headers['content-type'] ?? '').includes('json') ? ([] as Buffer[]) : undefined;
    let captured = 0;
    let overflow = false;
    let responseBytes = 0;
    let settled = false;
    const settle = (clientCompleted: boolean, streamError?: Error) => {
      if (settled) return;
      settled = true;
      const answer: FlinkAnswer = {
        status: upstreamRes.statusCode,
        body: capture && !overflow && captured > 0 ? Buffer.concat(capture) : undefined,
        responseBytes,
        answeredEarly,
        clientCompleted,
        ...(streamError ? { streamError } : {}),
      };
      void complete(ctx, answer).catch((e: unknown) => log.error({ requestId: ctx.requestId, err: (e as Error).message }, 'Recording a finished request failed.'));
    };
    const forwarded = ctx.body?.kind === 'stream' ? ctx.body.stream : undefined;
    upstreamRes.body.on('data', (chunk: Buffer) => {
      responseBytes += chunk.length;
      if (capture && !overflow) {
        captured += chunk.length;
        if (captured > CAPTURE_LIMIT) overflow = true;
        else capture.push(chunk);
      }
      if (!res.write(chunk)) {
        upstreamRes.body.pause();
        res.once('drain', () => upstreamRes.body.resume());
      }
    });
    upstreamRes.body.on('end', () => {
      if (answeredEarly) {
        forwarded?.destroy();
        ctx.forwardSource?.destroy();
      }
      res.end();
    });
    upstreamRes.body.on('error', (err: Error) => {
      res.destroy(err);
      settle(false, err);
    });
    res.on('finish', () => settle(true));
    res.on('close', () => {
      if (!res.writableFinished) {
        upstreamRes.body.destroy();
        settle(false);
      }
    });
  }

  /**
   * 6b. Complete: the event gets its outcome, HTTP status, latency, response bytes and what
   * Flink's answer says (job id of a run, savepoint trigger, stored jar, job names), and is
   * recorded — a write completed in place, a read appended. Resources are assembled once: the
   * journaled event's, plus what the answer taught.
   */
  async function complete(ctx: RequestContext, answer: FlinkAnswer): Promise<void> {
    const { up, cls } = ctx;
    const { status } = answer;
    metrics.gatewayRequests.inc({ cluster: up.config.name, status: `${Math.floor(status / 100)}xx` });
    metrics.gatewayDuration.observe({ cluster: up.config.name }, elapsedMs(ctx) / 1000);
    let parsed: unknown;
    if (answer.body) {
      try {
        parsed = JSON.parse(answer.body.toString('utf8'));
      } catch {
        parsed = undefined;
      }
    }
    for (const [id, name] of jobNamesIn(parsed)) up.jobNames.set(id, name);
    if (!ctx.recordIt || !ctx.event) return;
    let event = ctx.event;
    const jobName = ctx.nameLookup ? await ctx.nameLookup : undefined;
    const resources: ReferencedResources = {};
    for (const [type, ids] of Object.entries(event.referencedResources)) resources[type] = [...ids];
    addJobNames(resources, ctx);
    if (jobName && ctx.nameLookup) addResource(resources, `${RESOURCE_TYPE_PREFIX}Job`, jobName);
    const elements = responseElements(parsed, cls.eventRW);
    if (up.config.kind === 'sql-gateway') {
      const d = sql.responseDetails(cls, parsed);
      for (const [type, ids] of Object.entries(d.resources ?? {})) addResource(resources, type, ...ids);
      event = applySqlDetails(event, { ...d, resources: {} });
    }
    if (typeof elements['jobid'] === 'string') addResource(resources, `${RESOURCE_TYPE_PREFIX}Job`, elements['jobid']);
    // An upload answers with where Flink stored the jar; its last segment is the jar id.
    if (cls.eventName === 'UploadJar' && typeof elements['filename'] === 'string') {
      addResource(resources, `${RESOURCE_TYPE_PREFIX}Jar`, elements['filename'].split('/').pop() ?? '');
    }
    const ok = status < 400 && answer.clientCompleted && !answer.streamError;
    const done = finishEvent(event, {
      outcome: status >= 400 ? 'failure' : ok ? 'success' : 'unknown',
      httpStatus: status,
      latencyMs: elapsedMs(ctx),
      responseElements: elements,
      referencedResources: resources,
      additionalEventData: { responseBytes: answer.responseBytes, ...(answer.answeredEarly ? { requestBodyComplete: false } : {}) },
      ...(status >= 400
        ? { errorCode: flinkErrorCode(status), errorMessage: flinkErrorMessage(parsed, `Flink answered HTTP ${status}.`) }
        : !ok
          ? { errorCode: 'ClientClosedRequest', errorMessage: answer.streamError?.message ?? 'The client closed the connection before the whole response was sent.' }
          : {}),
    });
    ctx.event = done;
    await (ctx.journaled ? recorder.complete(done) : recorder.record(done));
  }

  /** One request, step by step; a step that answers the request itself (a refusal) returns false. */
  async function handleAsync(req: IncomingMessage, res: ServerResponse, target: GatewayTarget): Promise<void> {
    const ctx = arrive(req, res, target);
    if (!(await admit(ctx))) return;
    if (!describe(ctx)) return;
    if (!(await authorize(ctx))) return;
    if (!(await describeBody(ctx))) return;
    if (!(await journal(ctx))) return;
    const answer = await forward(ctx);
    if (answer) relay(ctx, answer);
  }

  return {
    handle(req, res, target) {
      handleAsync(req, res, target).catch((err: unknown) => {
        log.error({ err: (err as Error).message, stack: (err as Error).stack }, 'The gateway failed to handle a request.');
        if (!res.headersSent) sendGatewayError(req, res, 'internal', isFlinkTrailError(err) ? err : new FlinkTrailError('FT_ERR_SERVER_INTERNAL'));
        else res.destroy();
      });
    },
    hasCluster: (name) => upstreams.has(name),
    async close() {
      await Promise.all([...upstreams.values()].map((u) => u.pool.close()));
    },
  };
}
