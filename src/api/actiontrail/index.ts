/**
 * The ActionTrail-compatible OpenAPI endpoint (RPC style, version 2020-07-06) on the API
 * listener, so Alibaba Cloud SDKs (pop-core, openapi-client, generated ActionTrail SDKs,
 * Terraform's provider) work against FlinkTrail. See docs/reference/actiontrail-api.md.
 *
 *     GET  /?Action=LookupEvents&Version=2020-07-06&…&Signature=…      (pop-core, V1)
 *     POST /   form body with every parameter                          (pop-core POST, V1)
 *     POST /?<API params>   x-acs-action, x-acs-version, ACS3-HMAC-SHA256 Authorization   (V3)
 *
 * `GET /` is also the console's page: a GET is dispatched here only when it carries RPC
 * markers (an `Action`, `Signature` or `AccessKeyId` parameter, an `x-acs-*` header, a V3
 * Authorization) — a route constraint, so the console route never sees them and vice versa.
 * A POST to `/` is always RPC.
 *
 * Each call: parameters from query and form body → action and version → signature (auth.ts) →
 * flow control (throttle.ts) → the same policies as the rest of the API → the action
 * (actions.ts) → `{RequestId, …}` or Alibaba's error body (errors.ts). Every call of a known
 * action is recorded through the API's audit hook as FlinkTrail's own event (`serviceName`
 * `Actiontrail`, the signer's AccessKey in `userIdentity`), failed signatures as failed sign-ins.
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ModuleContext } from '../../module.js';
import { FlinkTrailError, isFlinkTrailError } from '../../errors/index.js';
import { AuthError } from '../../identity/authenticate.js';
import { decide } from '../../policy/index.js';
import { sourceIpResolver } from '../../identity/source-ip.js';
import type { TrailService } from '../../trails/service.js';
import type { StorageRegion } from '../../regions/index.js';
import { ACTIONS, recordedParameters, RPC_VERSION, type ActionDeps } from './actions.js';
import { isV3, verifyRequest } from './auth.js';
import { rpcCode, rpcErrorBody } from './errors.js';
import type { NonceStore } from './nonces.js';
import { COMMON_PARAMETERS, RpcParams } from './params.js';
import type { Pair } from './signature.js';
import { Throttle } from './throttle.js';

export { ACTIONS, RPC_VERSION } from './actions.js';

/** Form bodies are parameters only: 1 MiB is far more than any action takes. */
const BODY_LIMIT = 1024 * 1024;
const CONSTRAINT = 'actiontrailRpc';

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Whether a request to `/` is an RPC call rather than the console page. */
export function looksLikeRpc(req: IncomingMessage): boolean {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  if ((q >= 0 ? url.slice(0, q) : url) !== '/') return false;
  if (header(req, 'x-acs-action') !== undefined || header(req, 'x-acs-version') !== undefined || isV3(req.headers)) return true;
  if (q < 0) return false;
  const sp = new URLSearchParams(url.slice(q + 1));
  return sp.has('Action') || sp.has('Signature') || sp.has('AccessKeyId');
}

export interface RpcModuleOptions {
  trails: TrailService;
  /** Where signature nonces are remembered (the composition picks the store: sqlite/nonces.ts). */
  nonces: NonceStore;
  /** The global events storage region (regions/), shared with the REST routes. */
  storageRegion: StorageRegion;
}

/** The RPC endpoint as an app module (routes only; its state is in the database). */
export function createActionTrailRpcModule(ctx: ModuleContext, opts: RpcModuleOptions) {
  const { config } = ctx;
  const { nonces } = opts;
  const throttle = new Throttle(config.actiontrailApi.rateLimit);
  const resolveIp = sourceIpResolver(config.gateway.trustedProxies);
  const deps: ActionDeps = { store: ctx.store, tokens: ctx.tokens, trails: opts.trails, accountId: config.accountId, config, storageRegion: opts.storageRegion };
  const log = ctx.log.child({ component: 'actiontrail-rpc' });

  const fail = (req: FastifyRequest, reply: FastifyReply, err: unknown) => {
    let ft: FlinkTrailError;
    if (isFlinkTrailError(err)) ft = err;
    else {
      log.error({ err: (err as Error).message, requestId: req.id }, 'An ActionTrail RPC call failed unexpectedly.');
      ft = new FlinkTrailError('FT_ERR_SERVER_INTERNAL');
    }
    if (err instanceof AuthError) req.authError = err;
    const { code, status } = rpcCode(ft);
    req.ftErrorCode = code;
    // The string to sign echoes every parameter (destination URLs with credentials too): the
    // caller gets it to debug their signer, the record does not.
    req.ftErrorMessage = ft.code === 'FT_ERR_RPC_SIGNATURE_MISMATCH' ? 'Specified signature is not matched with our calculation.' : ft.message;
    if (ft.code === 'FT_ERR_RPC_THROTTLED') {
      const ms = Number(/\d+/.exec(ft.message)?.[0] ?? 1000);
      void reply.header('x-acs-retry-after', String(ms)).header('retry-after', String(Math.max(1, Math.ceil(ms / 1000))));
    }
    return reply.code(status).type('application/json; charset=utf-8').send(rpcErrorBody(req.id, header(req.raw, 'host') ?? 'flinktrail', ft));
  };

  const handle = async (req: FastifyRequest, reply: FastifyReply) => {
    try {
      const url = req.raw.url ?? '/';
      const q = url.indexOf('?');
      const query: Pair[] = q >= 0 ? [...new URLSearchParams(url.slice(q + 1))] : [];
      const rawBody = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const body: Pair[] = rawBody.length ? [...new URLSearchParams(rawBody.toString('utf8'))] : [];

      const given = (name: string, headerName: string): string | undefined => {
        const p = [...query, ...body].find(([k]) => k === name)?.[1];
        const h = header(req.raw, headerName);
        if (p !== undefined && h !== undefined && p !== h) throw new FlinkTrailError('FT_ERR_RPC_INVALID_PARAMETER', name, `${name} and the ${headerName} header differ`);
        return p ?? h;
      };
      const action = given('Action', 'x-acs-action');
      if (!action) throw new FlinkTrailError('FT_ERR_RPC_MISSING_PARAMETER', 'Action');
      const spec = Object.hasOwn(ACTIONS, action) ? ACTIONS[action] : undefined;
      if (!spec) throw new FlinkTrailError('FT_ERR_RPC_INVALID_ACTION', action.slice(0, 64));
      // From here on the call is recorded, whatever happens.
      const recorded: Record<string, string> = {};
      for (const [k, v] of [...query, ...body]) if (!COMMON_PARAMETERS.has(k)) recorded[k] = v;
      req.auditOverride = {
        eventName: action,
        eventRW: spec.eventRW,
        sensitive: spec.sensitive ?? false,
        isGlobal: spec.isGlobal ?? false,
        requestParameters: recordedParameters(recorded),
        additionalEventData: { apiVersion: RPC_VERSION },
      };

      const params = new RpcParams([...query, ...body]);
      const version = given('Version', 'x-acs-version');
      if (!version) throw new FlinkTrailError('FT_ERR_RPC_MISSING_PARAMETER', 'Version');
      if (version !== RPC_VERSION) throw new FlinkTrailError('FT_ERR_RPC_INVALID_VERSION', version.slice(0, 32));
      const format = params.get('Format');
      if (format !== undefined && format.toLowerCase() !== 'json') throw new FlinkTrailError('FT_ERR_RPC_INVALID_PARAMETER', 'Format', 'only JSON is served');

      const sourceIp = resolveIp(req.raw.socket.remoteAddress, req.headers['x-forwarded-for']);
      const signed = await verifyRequest({ directory: ctx.directory, nonces }, { method: req.method, query, body, rawBody, headers: req.headers, sourceIp }, params);
      req.principal = signed.principal;
      req.auditOverride.additionalEventData = { apiVersion: RPC_VERSION, signatureMethod: signed.method };
      // V1 signs parameters, not headers: its Action and Version must be signed parameters.
      if (signed.method === 'HMAC-SHA1') for (const p of ['Action', 'Version']) if (params.get(p) === undefined) throw new FlinkTrailError('FT_ERR_RPC_MISSING_PARAMETER', p);

      const wait = throttle.check(signed.principal.accessKeyId ?? '', action);
      if (wait > 0) throw new FlinkTrailError('FT_ERR_RPC_THROTTLED', String(wait));
      const decision = decide({ role: signed.principal.role, policies: signed.principal.policies ?? [] }, { service: 'Actiontrail', eventName: action });
      if (!decision.allowed) throw new FlinkTrailError('FT_ERR_AUTHZ_DENIED', decision.reason);

      params.onlyKnown(spec.params, spec.lists ?? []);
      const result = await spec.run({
        params,
        deps,
        host: (header(req.raw, 'host') ?? '').slice(0, 256),
        principal: signed.principal,
        resources: (r) => {
          req.auditResources = r;
        },
      });
      return reply.type('application/json; charset=utf-8').send({ RequestId: req.id, ...result });
    } catch (err) {
      return fail(req, reply, err);
    }
  };

  return {
    name: 'actiontrail-rpc',
    routes(api: FastifyInstance): void {
      api.addConstraintStrategy({
        name: CONSTRAINT,
        storage() {
          const handlers = new Map<string, unknown>();
          return {
            get: (value: string) => (handlers.get(value) ?? null) as never,
            set: (value: string, store: unknown) => {
              handlers.set(value, store);
            },
          };
        },
        deriveConstraint: (req: IncomingMessage) => (looksLikeRpc(req) ? 'rpc' : undefined),
        mustMatchWhenDerived: true,
      });
      void api.register(async (scope) => {
        // Only form bodies, kept as bytes: V3 signs their SHA-256.
        scope.removeAllContentTypeParsers();
        scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer', bodyLimit: BODY_LIMIT }, (_req, b, done) => done(null, b));
        // Errors before the handler (body too large, another content type) in Alibaba's shape too.
        scope.setErrorHandler((err, req, reply) => {
          const status = (err as { statusCode?: number }).statusCode ?? 500;
          const ft =
            status === 415
              ? new FlinkTrailError('FT_ERR_RPC_UNSUPPORTED_MEDIA_TYPE', String(req.headers['content-type'] ?? 'none').slice(0, 100))
              : status === 413
                ? new FlinkTrailError('FT_ERR_REQUEST_TOO_LARGE', `at most ${BODY_LIMIT} bytes`)
                : status >= 400 && status < 500
                  ? new FlinkTrailError('FT_ERR_RPC_INVALID_PARAMETER', '(body)', (err as Error).message)
                  : err;
          return fail(req, reply, ft);
        });
        const opts = { config: { public: true }, bodyLimit: BODY_LIMIT };
        const rpc = { ...opts, constraints: { [CONSTRAINT]: 'rpc' } };
        scope.get('/', rpc, handle);
        // A request the constraint matches must find a route with it; a POST without markers is RPC too.
        scope.post('/', rpc, handle);
        scope.post('/', opts, handle);
      });
    },
  };
}
