/**
 * The trails HTTP API. Every route is audited as FlinkTrail's own event under ActionTrail's
 * event name (`isGlobal`: trails are account-wide), with the trail as referenced resource.
 * Bodies are never echoed into events, and destination URLs in answers are redacted.
 *
 *     POST   /api/v1/trails                          CreateTrail
 *     GET    /api/v1/trails[?NameList=a,b]           DescribeTrails
 *     GET    /api/v1/trails/:name                    DescribeTrails
 *     PATCH  /api/v1/trails/:name                    UpdateTrail
 *     DELETE /api/v1/trails/:name                    DeleteTrail
 *     POST   /api/v1/trails/:name/start|stop         StartLogging | StopLogging
 *     GET    /api/v1/trails/:name/status             GetTrailStatus
 *     GET    /api/v1/trails/:name/dead-letters       ListTrailDeadLetters
 *     POST   /api/v1/trails/:name/history-jobs       CreateDeliveryHistoryJob
 *     GET    /api/v1/trails/:name/history-jobs       ListDeliveryHistoryJobs
 *     GET    /api/v1/trails/:name/digest-public-keys ListPublicKeys
 *     POST   /api/v1/trail-digest-keys/rotate        RotateDigestKey (management account only)
 *
 * A member account's principals reach only their own account's trails; another account's trail
 * answers FT_ERR_TRAIL_NOT_FOUND (service.ts).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { FlinkTrailError } from '../errors/index.js';
import type { Caller, TrailService } from './service.js';
import { describeTrail } from './service.js';

type Named = FastifyRequest<{ Params: { name: string } }>;

/** The caller of an authenticated route: its account decides which trails it sees. */
function who(req: FastifyRequest): Caller {
  if (!req.principal) throw new FlinkTrailError('FT_ERR_AUTH_MISSING');
  return req.principal;
}

const TRAIL_RESOURCE = 'ACS::ActionTrail::Trail';

function audit(eventName: string, eventRW: 'Read' | 'Write', sensitive = false) {
  return { config: { audit: { eventName, eventRW, isGlobal: true, sensitive } } };
}

function mark(req: FastifyRequest, name: string | undefined): void {
  if (name) req.auditResources = { [TRAIL_RESOURCE]: [name.slice(0, 64)] };
}

export function registerTrailRoutes(api: FastifyInstance, svc: TrailService, accountId: string): void {
  api.post('/api/v1/trails', audit('CreateTrail', 'Write'), async (req) => {
    const b = req.body as Record<string, unknown> | undefined;
    if (b && typeof b['Name'] === 'string') mark(req, b['Name']);
    const t = await svc.create(req.body, who(req));
    return { RequestId: req.id, ...describeTrail(t, accountId) };
  });

  api.get('/api/v1/trails', audit('DescribeTrails', 'Read'), async (req) => {
    const q = req.query as Record<string, unknown>;
    for (const k of Object.keys(q)) if (k !== 'NameList') throw new FlinkTrailError('FT_ERR_TRAIL_INVALID_PARAMETER', k, 'unknown parameter; known: NameList');
    const list = await svc.list(typeof q['NameList'] === 'string' ? q['NameList'] : undefined, who(req));
    if (list.length) req.auditResources = { [TRAIL_RESOURCE]: list.slice(0, 100).map((t) => t.name) };
    return { RequestId: req.id, TrailList: list.map((t) => describeTrail(t, accountId)) };
  });

  api.get('/api/v1/trails/:name', audit('DescribeTrails', 'Read'), async (req: Named) => {
    mark(req, req.params.name);
    return { RequestId: req.id, TrailList: [describeTrail(await svc.get(req.params.name, who(req)), accountId)] };
  });

  api.patch('/api/v1/trails/:name', audit('UpdateTrail', 'Write'), async (req: Named) => {
    mark(req, req.params.name);
    const t = await svc.update(req.params.name, req.body ?? {}, who(req));
    return { RequestId: req.id, ...describeTrail(t, accountId) };
  });

  api.delete('/api/v1/trails/:name', audit('DeleteTrail', 'Write', true), async (req: Named) => {
    mark(req, req.params.name);
    await svc.delete(req.params.name, who(req));
    return { RequestId: req.id };
  });

  api.post('/api/v1/trails/:name/start', audit('StartLogging', 'Write'), async (req: Named) => {
    mark(req, req.params.name);
    await svc.start(req.params.name, who(req));
    return { RequestId: req.id };
  });

  api.post('/api/v1/trails/:name/stop', audit('StopLogging', 'Write', true), async (req: Named) => {
    mark(req, req.params.name);
    await svc.stop(req.params.name, who(req));
    return { RequestId: req.id };
  });

  api.get('/api/v1/trails/:name/status', audit('GetTrailStatus', 'Read'), async (req: Named) => {
    mark(req, req.params.name);
    return { RequestId: req.id, ...(await svc.status(req.params.name, who(req))) };
  });

  api.get('/api/v1/trails/:name/dead-letters', audit('ListTrailDeadLetters', 'Read'), async (req: Named) => {
    mark(req, req.params.name);
    const q = req.query as Record<string, unknown>;
    for (const k of Object.keys(q)) if (k !== 'MaxResults' && k !== 'NextToken') throw new FlinkTrailError('FT_ERR_TRAIL_INVALID_PARAMETER', k, 'unknown parameter; known: MaxResults, NextToken');
    return { RequestId: req.id, ...(await svc.deadLetters(req.params.name, q['MaxResults'], q['NextToken'], who(req))) };
  });

  api.post('/api/v1/trails/:name/history-jobs', audit('CreateDeliveryHistoryJob', 'Write'), async (req: Named) => {
    mark(req, req.params.name);
    const job = await svc.createHistoryJob(req.params.name, who(req));
    return { RequestId: req.id, JobId: job.id };
  });

  api.get('/api/v1/trails/:name/history-jobs', audit('ListDeliveryHistoryJobs', 'Read'), async (req: Named) => {
    mark(req, req.params.name);
    const q = req.query as Record<string, unknown>;
    return { RequestId: req.id, ...(await svc.listHistoryJobs(req.params.name, q['PageNumber'], q['PageSize'], who(req))) };
  });

  api.get('/api/v1/trails/:name/digest-public-keys', audit('ListPublicKeys', 'Read'), async (req: Named) => {
    mark(req, req.params.name);
    await svc.get(req.params.name, who(req));
    return { RequestId: req.id, PublicKeyList: await svc.publicKeys() };
  });

  api.post('/api/v1/trail-digest-keys/rotate', audit('RotateDigestKey', 'Write', true), async (req) => {
    return { RequestId: req.id, PublicKeyList: await svc.rotateKey(who(req)) };
  });
}
