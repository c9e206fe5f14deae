/**
 * The Kubernetes audit webhook: `POST /k8s-audit` on the API listener.
 *
 * The API server's webhook backend posts `EventList`s here (kubeconfig in
 * docs/reference/kubernetes.md); audit log files and managed control planes' log exports can be
 * imported as JSON lines (`?format=jsonl` or `Content-Type: application/x-ndjson`). Edits of
 * the Flink operator's custom resources become events in the same trail and format as the
 * gateway's (map.ts), each once however often a batch is retried (receiver.ts).
 *
 * Authentication: as every route (AccessKey pair, user, certificate, ...), or a static bearer
 * token from `k8sAudit.bearerTokens` (what a kubeconfig's `users[].user.token` sends), compared
 * in constant time and valid on this route only. Authorization: action
 * `Actiontrail:PutKubernetesAuditEvents` (admin, or a policy allowing it); a member account's
 * principal delivers only for its own account's clusters (events belong to the account of the
 * cluster they come from: receiver.ts `clusterAccount`). Bodies are read with
 * their own limit (`k8sAudit.maxBodyBytes`) after authentication. Every failure is a coded 4xx
 * and is recorded as a failed `PutKubernetesAuditEvents` (successful deliveries are not: the
 * events they carry are the record, and the API server calls several times a minute).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../../config/index.js';
import { FlinkTrailError } from '../../errors/index.js';
import { finishEvent, newEvent } from '../../event/build.js';
import { nameProblem } from '../../event/names.js';
import { EVENT_SOURCES, type UserIdentity } from '../../event/types.js';
import { AuthError, type Authenticator } from '../../identity/authenticate.js';
import type { Recorder } from '../../pipeline/recorder.js';
import { decide } from '../../policy/index.js';
import type { MetaStore } from '../../store/meta.js';
import type { EventStore } from '../../store/types.js';
import type { Logger } from '../../telemetry/logger.js';
import type { Metrics } from '../../telemetry/metrics.js';
import { authContextOf, recordedIdentity, userIdentityOf } from '../../identity/caller.js';
import { sourceIpResolver } from '../../identity/source-ip.js';
import { acceptRawBodies, bodyFormat, parseJson, parseJsonLines } from '../../http/body.js';
import { SpecDigester } from './diff.js';
import { parseEventLines, parseEventList } from './parse.js';
import { callerAccount } from '../../event/account.js';
import { clusterAccount, K8sAuditReceiver } from './receiver.js';
import type { ObjectStates } from './state.js';

export { FLINK_CRDS, FLINK_API_GROUP } from './crd.js';
export { mapAuditEvent, auditEventId } from './map.js';
export { parseEventList, parseEventLines } from './parse.js';
export { K8sAuditReceiver, type ReceiveResult } from './receiver.js';

export const K8S_AUDIT_PATH = '/k8s-audit';
/** The FlinkTrail action (and event name of failed deliveries). */
export const K8S_AUDIT_ACTION = 'PutKubernetesAuditEvents';

export interface K8sAuditDeps {
  config: Readonly<Config>;
  /** The last spec seen of each resource (the composition picks the store: sqlite/state.ts). */
  states: ObjectStates;
  /** Where the spec-digest HMAC key is kept, shared by every process on the database. */
  meta: MetaStore;
  store: EventStore;
  recorder: Recorder;
  authenticator: Authenticator;
  log: Logger;
  metrics: Metrics;
}

/** Who delivered a batch. */
interface Caller {
  identity: UserIdentity;
  /** A token bound to one cluster. */
  cluster?: string;
  /** A principal's account (a configured token has none: the operator's, it may deliver for any cluster). */
  account?: string;
}

const QUERY_KEYS = new Set(['cluster', 'region', 'format']);

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

export async function createK8sAuditModule(deps: K8sAuditDeps) {
  const { config, recorder, authenticator, log } = deps;
  const resolveIp = sourceIpResolver(config.gateway.trustedProxies);
  const digester = new SpecDigester(await deps.meta.secret('k8s-audit-digest-key', () => randomBytes(32).toString('base64url')));
  const receiver = new K8sAuditReceiver({
    config,
    recorder,
    store: deps.store,
    states: deps.states,
    digester,
    log: log.child({ component: 'k8s-audit' }),
    metrics: deps.metrics,
  });
  // Compared as SHA-256 digests: equal lengths for timingSafeEqual, and every token is checked.
  const tokens = config.k8sAudit.bearerTokens.map((t) => ({ name: t.name, cluster: t.cluster, hash: digest(t.token) }));
  const callers = new WeakMap<FastifyRequest, Caller>();
  const authErrors = new WeakMap<FastifyRequest, AuthError>();

  function bearerToken(header: string | undefined): string | undefined {
    if (!header || !/^bearer\s+/i.test(header)) return undefined;
    return header.replace(/^bearer\s+/i, '').trim();
  }

  async function authenticate(req: FastifyRequest): Promise<void> {
    const ip = resolveIp(req.raw.socket.remoteAddress, req.headers['x-forwarded-for']);
    const token = bearerToken(req.headers.authorization);
    // A bearer token that is not a JWT (those are for single sign-on) must be one of ours.
    if (token !== undefined && tokens.length > 0 && !/^[\w-]+\.[\w-]+\.[\w-]*$/.test(token)) {
      let match: (typeof tokens)[number] | undefined;
      try {
        // Under the sign-in throttle: a configured token is a string someone chose, so it can be guessed.
        match = await authenticator.attempt(ip, { kind: 'token', name: 'k8s-audit bearer token' }, () => {
          const h = digest(token);
          let found: (typeof tokens)[number] | undefined;
          for (const t of tokens) if (timingSafeEqual(h, t.hash) && !found) found = t;
          if (!found) throw new AuthError('FT_ERR_AUTH_INVALID', {}, 'unknown bearer token');
          return found;
        });
      } catch (err) {
        return rejectAuth(req, err as AuthError);
      }
      callers.set(req, {
        identity: { type: 'assumed-role', principalId: `k8s-audit-token/${match.name}`, accountId: config.accountId, userName: match.name },
        ...(match.cluster ? { cluster: match.cluster } : {}),
      });
      return;
    }
    // Everything else as on every route (and refused there if it is nothing FlinkTrail knows).
    try {
      const principal = await authenticator.authenticate(authContextOf(req.raw, ip));
      const account = callerAccount(principal, config.accountId);
      callers.set(req, { identity: userIdentityOf(principal, account), account });
      const decision = decide({ role: principal.role, policies: principal.policies ?? [] }, { service: 'Actiontrail', eventName: K8S_AUDIT_ACTION });
      if (!decision.allowed) throw new FlinkTrailError('FT_ERR_AUTHZ_DENIED', decision.reason);
    } catch (err) {
      if (err instanceof AuthError) authErrors.set(req, err);
      throw err;
    }
  }

  function rejectAuth(req: FastifyRequest, err: AuthError): never {
    authErrors.set(req, err);
    throw err;
  }

  async function recordFailure(req: FastifyRequest, status: number, elapsed: number): Promise<void> {
    const authError = authErrors.get(req);
    const identity = callers.get(req)?.identity ?? recordedIdentity(config.accountId, undefined, authError);
    const query = req.query as Record<string, unknown>;
    const e = newEvent({
      eventName: K8S_AUDIT_ACTION,
      eventRW: 'Write',
      eventType: 'ApiCall',
      eventSource: EVENT_SOURCES.flinkTrail,
      serviceName: 'Actiontrail',
      acsRegion: config.region,
      sourceIpAddress: resolveIp(req.raw.socket.remoteAddress, req.headers['x-forwarded-for']),
      userAgent: String(req.headers['user-agent'] ?? '').slice(0, 1024),
      userIdentity: identity,
      requestId: req.id,
      time: new Date(Date.now() - elapsed),
      requestParameters: Object.fromEntries(Object.entries(query).filter(([k]) => QUERY_KEYS.has(k)).map(([k, v]) => [k, String(v).slice(0, 128)])),
      additionalEventData: { sensitive: true },
    });
    await recorder.record(
      finishEvent(e, {
        outcome: 'failure',
        httpStatus: status,
        latencyMs: elapsed,
        errorCode: req.ftErrorCode ?? `Http${status}`,
        errorMessage: req.ftErrorMessage ?? '',
        ...(authError ? { additionalEventData: { authFailure: true, authFailureReason: authError.reason } } : {}),
      }),
    );
  }

  function target(req: FastifyRequest): { cluster: string; region: string } {
    const q = req.query as Record<string, unknown>;
    for (const k of Object.keys(q)) {
      if (!QUERY_KEYS.has(k)) throw new FlinkTrailError('FT_ERR_KUBERNETES_INVALID_PARAMETER', k.slice(0, 64), `unknown parameter (known: ${[...QUERY_KEYS].join(', ')})`);
    }
    const one = (k: string): string | undefined => {
      const v = q[k];
      if (v === undefined) return undefined;
      if (typeof v !== 'string') throw new FlinkTrailError('FT_ERR_KUBERNETES_INVALID_PARAMETER', k, 'given more than once');
      return v;
    };
    const cluster = one('cluster');
    const region = one('region');
    // The one naming rule (event/names.ts): these become acsRegion and cluster of every event.
    const clusterProblem = cluster === undefined ? undefined : nameProblem('cluster', cluster);
    if (clusterProblem) throw new FlinkTrailError('FT_ERR_KUBERNETES_INVALID_PARAMETER', 'cluster', clusterProblem);
    const regionProblem = region === undefined ? undefined : nameProblem('region', region);
    if (regionProblem) throw new FlinkTrailError('FT_ERR_KUBERNETES_INVALID_PARAMETER', 'region', regionProblem);
    const caller = callers.get(req);
    const bound = caller?.cluster;
    if (bound && cluster !== undefined && cluster !== bound) throw new FlinkTrailError('FT_ERR_KUBERNETES_CLUSTER_MISMATCH', bound);
    const where = { cluster: cluster ?? bound ?? config.k8sAudit.cluster, region: region ?? config.k8sAudit.region ?? config.region };
    // A member account writes only into its own account: events go to the cluster's.
    if (caller?.account !== undefined && caller.account !== config.accountId && caller.account !== clusterAccount(config, where.cluster)) {
      throw new FlinkTrailError('FT_ERR_AUTHZ_DENIED', `the cluster ${where.cluster} is not in your account (${caller.account})`);
    }
    return where;
  }

  return {
    name: 'k8s-audit',
    receiver,
    routes(api: FastifyInstance): void {
      void api.register((scope, _opts, done) => {
        acceptRawBodies(scope, () => config.k8sAudit.maxBodyBytes);
        scope.addHook('onRequest', async (req) => authenticate(req));
        scope.addHook('onResponse', async (req, reply) => {
          if (reply.statusCode < 400) return;
          await recordFailure(req, reply.statusCode, reply.elapsedTime).catch((err: unknown) =>
            log.error({ err: (err as Error).message, requestId: req.id }, 'Recording a failed Kubernetes audit delivery failed.'),
          );
        });
        scope.post(K8S_AUDIT_PATH, { config: { public: true } }, async (req) => {
          const where = target(req);
          const format = bodyFormat(req.headers['content-type'], req.headers['content-encoding'], (req.query as Record<string, unknown>)['format']);
          const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
          const batch = format === 'json' ? parseEventList(parseJson(body)) : parseEventLines(parseJsonLines(body));
          return receiver.receive(batch, where);
        });
        done();
      });
    },
  };
}
