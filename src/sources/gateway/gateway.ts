/**
 * The gateway: an authenticating reverse proxy in front of Flink that records every call.
 *
 * For each request: find the source IP, classify the call, authenticate, then
 *  - writes: journal the event durably, and only then forward (fail closed: no record, no
 *    write); complete the event with Flink's answer;
 *  - reads: forward, then record.
 * Bodies stream both ways; only small JSON bodies are buffered (to be recorded). Flink's answers
 * pass through byte for byte; the gateway adds `X-Request-Id`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import { classify, refineByBody } from '../../catalog/index.js';
import type { Classification, FlinkApi } from '../../catalog/types.js';
import type { ClusterConfig, Config } from '../../config/index.js';
import { errorBody, FlinkTrailError, isFlinkTrailError } from '../../errors/index.js';
import { addResource, finishEvent, newEvent } from '../../event/build.js';
import { EVENT_SOURCES, RESOURCE_TYPE_PREFIX, type ActionTrailEvent, type UserIdentity } from '../../event/types.js';
import { AuthError, challengeFor, type Authenticator, type Principal } from '../../identity/authenticate.js';
import { cookieValue, SESSION_COOKIE, type Sessions } from '../../identity/sessions.js';
import { decide, needsJobNames } from '../../policy/index.js';
import type { Recorder } from '../../pipeline/recorder.js';
import type { Logger } from '../../telemetry/logger.js';
import type { Metrics } from '../../telemetry/metrics.js';
import * as sql from '../sql-gateway/index.js';
import { prepareBody, type PreparedBody } from './body.js';
import { bodyStillArriving, closeAfterAnswer, watchBodyRate } from './body-edges.js';
import { NameCache } from './names.js';
import { flinkErrorCode, flinkErrorMessage, jobNamesIn, responseElements } from './response.js';
import { canonicalIds, checkRepeated, multipartTailGuard, readBody, readQuery } from './request-model.js';
import type { SourceIpResolver } from './source-ip.js';

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

const CAPTURE_LIMIT = 512 * 1024;

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

interface Upstream {
  config: ClusterConfig;
  pool: Pool;
  region: string;
  jobNames: NameCache;
}

export function userIdentityOf(p: Principal, accountId: string): UserIdentity {
  const id: UserIdentity = {
    type: p.type,
    principalId: p.principalId,
    accountId,
    userName: p.userName,
  };
  if (p.accessKeyId) id.accessKeyId = p.accessKeyId;
  // Sessions (console, single sign-on, certificates) carry ActionTrail's sessionContext.
  if (p.method !== 'access-key' && p.method !== 'anonymous') {
    id.sessionContext = {
      attributes: {
        mfaAuthenticated: String(p.mfaAuthenticated),
        ...(p.sessionCreatedAt ? { creationDate: new Date(p.sessionCreatedAt).toISOString() } : {}),
        authMethod: p.method,
        ...(p.email ? { email: p.email } : {}),
        ...p.attributes,
      },
    };
  }
  return id;
}

/** The identity recorded for a failed sign-in: who was claimed, never the secret. */
export function failedIdentity(err: AuthError, accountId: string): UserIdentity {
  return {
    type: 'anonymous',
    principalId: 'anonymous',
    accountId,
    userName: err.attempted.userName ?? '',
    ...(err.attempted.accessKeyId ? { accessKeyId: err.attempted.accessKeyId.slice(0, 128) } : {}),
  };
}

/** The TCP peer address, IPv4-mapped addresses unwrapped. */
export function peerAddress(req: IncomingMessage): string {
  const ip = req.socket.remoteAddress ?? '';
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

/** The verified client certificate of a TLS request, if the listener asked for one. */
export function verifiedCertificate(req: IncomingMessage): PeerCertificate | undefined {
  const sock = req.socket as TLSSocket;
  if (!sock.encrypted || !sock.authorized) return undefined;
  const cert = sock.getPeerCertificate();
  return cert && Object.keys(cert).length ? cert : undefined;
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
      pool: new Pool(new URL(c.url).origin, { connections: 64, pipelining: 1, keepAliveTimeout: 30_000 }),
      region: c.region ?? config.region,
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
      jobNames: new NameCache(1),
    };
  }

  function resourcesOf(cls: Classification, up: Upstream): Record<string, string[]> {
    const resources: Record<string, string[]> = {};
    for (const [type, ids] of Object.entries(cls.resources)) addResource(resources, type, ...ids);
    addResource(resources, `${RESOURCE_TYPE_PREFIX}Cluster`, up.config.name);
    for (const id of cls.resources[`${RESOURCE_TYPE_PREFIX}Job`] ?? []) {
      const name = up.jobNames.get(id);
      if (name) addResource(resources, `${RESOURCE_TYPE_PREFIX}Job`, name);
    }
    return resources;
  }

  /** Whether a console-cookie call may change state: same origin, typed URL, or the session's CSRF token. */
  function consoleWriteAllowed(req: IncomingMessage): boolean {
    const site = req.headers['sec-fetch-site'];
    if (site === 'same-origin' || site === 'none') return true;
    const sid = cookieValue(req.headers.cookie, SESSION_COOKIE);
    const expected = sid ? deps.sessions?.get(sid)?.csrfToken : undefined;
    const given = req.headers['x-csrf-token'];
    if (!expected || typeof given !== 'string') return false;
    const a = Buffer.from(given);
    const b = Buffer.from(expected);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  async function handleAsync(req: IncomingMessage, res: ServerResponse, target: GatewayTarget): Promise<void> {
    const started = process.hrtime.bigint();
    const time = new Date();
    const requestId = randomUUID().toUpperCase();
    // Authentication comes before the cluster is looked up: cluster names are not told to strangers.
    const known = upstreams.get(target.cluster);
    const up: Upstream = known ?? unknownUpstream(target.cluster);
    const url = new URL(target.url, 'http://flink.invalid');
    const method = (req.method ?? 'GET').toUpperCase();
    const api = API_OF[up.config.kind];
    // The query as Flink (Netty) reads it; a query it would read otherwise is refused below.
    const queryRead = readQuery(url.search);
    let cls = classify({ api, method, path: url.pathname, query: queryRead.ok ? queryRead.value.query.search : new URLSearchParams() });
    const sourceIp = deps.resolveIp(req.socket.remoteAddress, req.headers['x-forwarded-for']);
    const elapsedMs = () => Number(process.hrtime.bigint() - started) / 1e6;
    const contentType = String(req.headers['content-type'] ?? '').toLowerCase();
    let principal: Principal | undefined;
    let parameters: Record<string, unknown> = queryRead.ok ? queryRead.value.query.recorded : { query: url.search.slice(0, 2048) };

    const base = (identity: UserIdentity) =>
      newEvent({
        eventName: cls.eventName,
        eventRW: cls.eventRW,
        // A console operation is one the console session authenticated, whatever headers came along.
        eventType: principal?.method === 'session' ? 'ConsoleOperation' : 'ApiCall',
        eventSource: SOURCE_OF[up.config.kind],
        serviceName: config.serviceName,
        acsRegion: up.region,
        sourceIpAddress: sourceIp,
        userAgent: String(req.headers['user-agent'] ?? '').slice(0, 1024),
        userIdentity: identity,
        requestId,
        time,
        requestParameters: parameters,
        referencedResources: resourcesOf(cls, up),
        additionalEventData: {
          cluster: up.config.name,
          sensitive: cls.sensitive,
          httpMethod: method,
          path: url.pathname.slice(0, 2048),
          ...(cls.known ? {} : { unknownEndpoint: true }),
        },
      });

    // The stream of the client's body once it is read (before any tail guard), to stop it.
    let forwardSource: Readable | undefined;
    const refuse = (err: FlinkTrailError, identity: UserIdentity, extra: Record<string, unknown>, headers: Record<string, string> = {}, body?: PreparedBody) => {
      if (body?.kind === 'stream') body.stream.destroy();
      forwardSource?.destroy();
      req.resume();
      sendGatewayError(req, res, requestId, err, headers);
      void recorder.record(
        finishEvent(base(identity), {
          outcome: 'failure',
          httpStatus: err.status,
          latencyMs: elapsedMs(),
          errorCode: err.apiCode,
          errorMessage: err.message,
          additionalEventData: extra,
        }),
      );
      metrics.gatewayRequests.inc({ cluster: up.config.name, status: `${Math.floor(err.status / 100)}xx` });
    };

    // A body trickled in (one byte before each idle timeout) is cut off: `tooSlow` says so, and
    // `onTooSlow` does what the current step needs (stop reading, or cut off the forward).
    let tooSlow: FlinkTrailError | undefined;
    let onTooSlow: () => void = () => undefined;
    const slowBody = new Promise<FlinkTrailError>((resolve) => {
      watchBodyRate(req, { minBytesPerSecond: config.gateway.minBodyBytesPerSecond, graceMs: config.gateway.bodyRateGraceMs }, (err) => {
        tooSlow = err;
        log.warn({ requestId, err: err.message }, 'A request body arrived too slowly and was cut off.');
        resolve(err);
        onTooSlow();
      });
    });

    // 1. Who is calling. A failure is answered 401 (429 when rate-limited) and recorded as a failed sign-in.
    try {
      principal = await authenticator.authenticate({
        authorization: req.headers.authorization,
        cookie: req.headers.cookie,
        peerIp: peerAddress(req),
        sourceIp,
        headers: req.headers,
        peerCertificate: verifiedCertificate(req),
        certificateProblem: (req as IncomingMessage & { certificateProblem?: { reason: string; subject?: string } }).certificateProblem,
      });
    } catch (err) {
      if (!(err instanceof AuthError)) throw err;
      refuse(err, failedIdentity(err, config.accountId), { authFailure: true, authFailureReason: err.reason }, err.status === 401 ? { 'www-authenticate': challengeFor(req.headers.authorization) } : {});
      return;
    }
    if (!known) {
      req.resume();
      sendGatewayError(req, res, requestId, new FlinkTrailError('FT_ERR_GATEWAY_UNKNOWN_CLUSTER', target.cluster));
      return;
    }
    const identity = userIdentityOf(principal, config.accountId);

    // A console cookie must not be usable from another site, and changes state only from the
    // console's own origin (or with its CSRF token): Flink's Web UI cancels with a plain GET.
    if (principal.method === 'session') {
      const changesState = cls.eventRW === 'Write' || !READ_METHODS.has(method);
      if (req.headers['sec-fetch-site'] === 'cross-site' || (changesState && !consoleWriteAllowed(req))) {
        refuse(new FlinkTrailError('FT_ERR_AUTH_CSRF'), identity, { csrf: true });
        return;
      }
    }

    // 2. What Flink will read: the query, the ids in the path. Anything it could read otherwise is refused.
    if (!queryRead.ok) {
      refuse(queryRead.error, identity, { refusedBy: 'requestModel' });
      return;
    }
    const ids = canonicalIds(cls);
    if (!ids.ok) {
      refuse(ids.error, identity, { refusedBy: 'requestModel' });
      return;
    }
    cls = ids.value;
    const repeated = checkRepeated(cls, queryRead.value.repeated);
    if (repeated) {
      refuse(repeated, identity, { refusedBy: 'requestModel' });
      return;
    }

    // 3. Who may: role and policies, deny wins. Refused calls never reach Flink and are recorded.
    const authorize = async (): Promise<boolean> => {
      const jobIds = cls.resources[`${RESOURCE_TYPE_PREFIX}Job`] ?? [];
      const subject = { role: principal.role, policies: principal.policies ?? [] };
      const request = {
        service: 'RealtimeCompute' as const,
        action: { eventName: cls.eventName, eventRW: cls.eventRW, api, known: cls.known },
        cluster: up.config.name,
        jobs: [...jobIds, ...jobIds.flatMap((id) => up.jobNames.get(id) ?? [])],
      };
      let jobNamesUnknown = false;
      // A statement naming jobs may name this one by its name: ask Flink for it before deciding.
      if (needsJobNames(subject, request)) {
        for (const id of jobIds) {
          const name = up.jobNames.get(id) ?? (await lookupJobName(up, id, true));
          if (name === undefined) jobNamesUnknown = true;
          else if (!request.jobs.includes(name)) request.jobs.push(name);
        }
      }
      const decision = decide(subject, { ...request, jobNamesUnknown });
      if (decision.allowed) return true;
      const reason = jobNamesUnknown ? `${decision.reason} (the job's name could not be found, and a policy names jobs)` : decision.reason;
      refuse(new FlinkTrailError('FT_ERR_AUTHZ_DENIED', reason), identity, jobNamesUnknown ? { jobNameUnknown: true } : {});
      return false;
    };
    if (!(await authorize())) return;
    const recordIt = config.gateway.recordAssets || cls.eventName !== 'GetWebUIAsset';

    // 4. The body, read as Flink will read it. Small bodies are read whole, uploads only peeked at.
    let body: PreparedBody;
    try {
      const reading = prepareBody(req);
      const prepared = await Promise.race([reading, slowBody]);
      if (prepared instanceof FlinkTrailError) {
        // The read under way ends (and rejects) when the connection closes: nobody waits for it.
        reading.catch(() => undefined);
        refuse(prepared, identity, { bodyCutOff: true, forwarded: false });
        return;
      }
      body = prepared;
    } catch (err) {
      if (recordIt) {
        void recorder.record(
          finishEvent(base(identity), {
            outcome: 'failure',
            latencyMs: elapsedMs(),
            errorCode: 'ClientClosedRequest',
            errorMessage: (err as Error).message,
          }),
        );
      }
      res.destroy();
      return;
    }
    const bodyRead = readBody(body, {
      api,
      method,
      cls,
      contentType,
      contentEncoding: typeof req.headers['content-encoding'] === 'string' ? req.headers['content-encoding'] : undefined,
      maxParameterBytes: config.gateway.maxParameterBytes,
    });
    if (!bodyRead.ok) {
      refuse(bodyRead.error, identity, { refusedBy: 'requestModel' }, {}, body);
      return;
    }
    parameters = { ...parameters, ...bodyRead.value.recorded };
    // A `request` part beyond the peek would be read by Flink unrecorded: the tail is watched,
    // and the upload cut off (before its last byte, so Flink never acts) if one comes.
    let tailRefusal: FlinkTrailError | undefined;
    if (body.kind === 'stream') forwardSource = body.stream;
    if (body.kind === 'stream' && bodyRead.value.guardTail) {
      const guard = multipartTailGuard(contentType, bodyRead.value.guardTail.requestParts, (err) => (tailRefusal = err));
      const source = body.stream;
      source.on('error', (err) => guard.destroy(err));
      body = { ...body, stream: source.pipe(guard) };
    }
    // What the body makes of the call (a savepoint that cancels is a cancel): authorized as that.
    if (bodyRead.value.object) {
      const refined = refineByBody(cls, api, method, bodyRead.value.object);
      if (refined !== cls) {
        cls = refined;
        if (!(await authorize())) {
          if (body.kind === 'stream') body.stream.destroy();
          return;
        }
      }
    }
    let event = base(identity);
    if (up.config.kind === 'sql-gateway') event = applySqlDetails(event, sql.requestDetails(cls, event.requestParameters));

    if (tooSlow) {
      refuse(tooSlow, identity, { bodyCutOff: true, forwarded: false }, {}, body);
      return;
    }
    // From here the body goes to Flink as it arrives: a body too slow is cut off before its end
    // (Flink never acts on a body it did not get whole), and the record says so.
    const forwarded = body.kind === 'stream' ? body.stream : undefined;
    onTooSlow = () => {
      forwarded?.destroy(tooSlow);
      forwardSource?.destroy(tooSlow);
    };
    // 3. No write without a record: journal before forwarding.
    const journaled = recordIt && cls.eventRW === 'Write';
    if (journaled) {
      try {
        await recorder.journal(event);
      } catch (err) {
        metrics.journalFailures.inc({ cluster: up.config.name });
        log.error({ requestId, eventName: event.eventName, err: (err as Error).message }, 'A write could not be journaled.');
        if (config.gateway.failClosed) {
          if (body.kind === 'stream') body.stream.destroy();
          req.resume();
          sendGatewayError(req, res, requestId, err instanceof FlinkTrailError ? err : new FlinkTrailError('FT_ERR_JOURNAL_UNAVAILABLE', String(err)));
          metrics.gatewayRequests.inc({ cluster: up.config.name, status: '5xx' });
          return;
        }
      }
    }
    const jobIds = cls.resources[`${RESOURCE_TYPE_PREFIX}Job`] ?? [];
    const nameLookup = journaled && jobIds[0] ? lookupJobName(up, jobIds[0]) : undefined;

    // 4. Forward.
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined || HOP_BY_HOP.has(k)) continue;
      headers[k] = v;
    }
    if (body.kind === 'buffered') headers['content-length'] = String(body.data.length);
    else if (body.kind === 'none') delete headers['content-length'];
    headers['x-forwarded-for'] = sourceIp;
    headers['x-request-id'] = requestId;

    let upstreamRes: Dispatcher.ResponseData;
    try {
      upstreamRes = await up.pool.request({
        method: method,
        path: url.pathname + url.search,
        headers,
        body: body.kind === 'buffered' ? body.data : body.kind === 'stream' ? body.stream : null,
        headersTimeout: config.gateway.upstreamTimeoutMs,
        bodyTimeout: 0,
      });
    } catch (err) {
      const e = err as Error & { code?: string };
      const ftErr =
        tooSlow ??
        tailRefusal ??
        (e.code === 'UND_ERR_HEADERS_TIMEOUT'
          ? new FlinkTrailError('FT_ERR_UPSTREAM_TIMEOUT', up.config.name, config.gateway.upstreamTimeoutMs)
          : new FlinkTrailError('FT_ERR_UPSTREAM_UNAVAILABLE', up.config.name, e.message));
      req.resume();
      sendGatewayError(req, res, requestId, ftErr);
      metrics.gatewayRequests.inc({ cluster: up.config.name, status: '5xx' });
      if (recordIt) {
        const done = finishEvent(event, {
          // After a timeout Flink may still act on the request; after a refused connection it cannot.
          outcome: ftErr.code === 'FT_ERR_UPSTREAM_TIMEOUT' ? 'unknown' : 'failure',
          httpStatus: ftErr.status,
          latencyMs: elapsedMs(),
          errorCode: ftErr.code,
          errorMessage: ftErr.message,
          ...(tooSlow ? { additionalEventData: { bodyCutOff: true, forwarded: 'partial' } } : {}),
        });
        void (journaled ? recorder.complete(done) : recorder.record(done));
      }
      return;
    }

    // 5. Answer: Flink's status, headers and bytes, plus our request id.
    const outHeaders: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(upstreamRes.headers)) {
      if (v === undefined || (HOP_BY_HOP.has(k) && k !== 'transfer-encoding')) continue;
      if (k === 'transfer-encoding') continue;
      outHeaders[k] = v;
    }
    outHeaders['x-request-id'] = requestId;
    // Flink answered before the whole body came (it refuses a broken upload early): the client
    // gets Flink's answer, the rest of its body is not forwarded, and the connection then closes.
    const answeredEarly = bodyStillArriving(req);
    if (answeredEarly) closeAfterAnswer(req, res);
    res.writeHead(upstreamRes.statusCode, outHeaders);

    const resType = String(upstreamRes.headers['content-type'] ?? '');
    const capture = resType.includes('json') ? ([] as Buffer[]) : undefined;
    let captured = 0;
    let overflow = false;
    let responseBytes = 0;
    const status = upstreamRes.statusCode;

    const finish = async (clientCompleted: boolean, streamError?: Error) => {
      metrics.gatewayRequests.inc({ cluster: up.config.name, status: `${Math.floor(status / 100)}xx` });
      metrics.gatewayDuration.observe({ cluster: up.config.name }, elapsedMs() / 1000);
      let parsed: unknown;
      if (capture && !overflow && captured > 0) {
        try {
          parsed = JSON.parse(Buffer.concat(capture).toString('utf8'));
        } catch {
          parsed = undefined;
        }
      }
      for (const [id, name] of jobNamesIn(parsed)) up.jobNames.set(id, name);
      if (!recordIt) return;
      const jobName = nameLookup ? await nameLookup : undefined;
      const resources = resourcesOf(cls, up);
      // Keep what request details added (SQL tables, jobs a STOP JOB names) next to the catalog's.
      for (const [type, ids] of Object.entries(event.referencedResources)) addResource(resources, type, ...ids);
      if (jobName && jobIds[0]) addResource(resources, `${RESOURCE_TYPE_PREFIX}Job`, jobName);
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
      const ok = status < 400 && clientCompleted && !streamError;
      const done = finishEvent(event, {
        outcome: status >= 400 ? 'failure' : ok ? 'success' : 'unknown',
        httpStatus: status,
        latencyMs: elapsedMs(),
        responseElements: elements,
        referencedResources: resources,
        additionalEventData: { responseBytes, ...(answeredEarly ? { requestBodyComplete: false } : {}) },
        ...(status >= 400
          ? { errorCode: flinkErrorCode(status), errorMessage: flinkErrorMessage(parsed, `Flink answered HTTP ${status}.`) }
          : !ok
            ? { errorCode: 'ClientClosedRequest', errorMessage: streamError?.message ?? 'The client closed the connection before the whole response was sent.' }
            : {}),
      });
      event = done;
      await (journaled ? recorder.complete(done) : recorder.record(done));
    };

    let settled = false;
    const settle = (completed: boolean, err?: Error) => {
      if (settled) return;
      settled = true;
      void finish(completed, err).catch((e: unknown) => log.error({ requestId, err: (e as Error).message }, 'Recording a finished request failed.'));
    };
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
        forwardSource?.destroy();
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
