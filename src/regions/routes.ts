/**
 * Regions over REST, the same actions as the ActionTrail RPC endpoint's:
 *
 *     GET /api/v1/regions                          DescribeRegions (anyone signed in)
 *     GET /api/v1/regions/global-events-storage    GetGlobalEventsStorageRegion (anyone signed in)
 *     PUT /api/v1/regions/global-events-storage    UpdateGlobalEventsStorageRegion {StorageRegion}
 *                                                  (admins of the management account; global, sensitive)
 *
 * Every call is recorded like the rest of the API. See docs/reference/api.md#regions.
 */
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/index.js';
import { FlinkTrailError } from '../errors/index.js';
import { checkManagementAccount, checkStorageRegion, knownRegionList, type StorageRegion } from './index.js';

export interface RegionRouteDeps {
  config: Readonly<Config>;
  storage: StorageRegion;
}

export function regionRoutes(deps: RegionRouteDeps) {
  const { config, storage } = deps;
  return (api: FastifyInstance): void => {
    api.get('/api/v1/regions', { config: { audit: { eventName: 'DescribeRegions', eventRW: 'Read' } } }, async (req) => ({
      RequestId: req.id,
      Regions: await knownRegionList(config, storage),
      HomeRegion: config.region,
      GlobalEventsStorageRegion: await storage.get(),
    }));

    api.get('/api/v1/regions/global-events-storage', { config: { audit: { eventName: 'GetGlobalEventsStorageRegion', eventRW: 'Read' } } }, async (req) => ({
      RequestId: req.id,
      StorageRegion: await storage.get(),
    }));

    api.put(
      '/api/v1/regions/global-events-storage',
      { config: { audit: { eventName: 'UpdateGlobalEventsStorageRegion', eventRW: 'Write', isGlobal: true, sensitive: true } } },
      async (req) => {
        const b = req.body;
        if (!b || typeof b !== 'object' || Array.isArray(b)) throw new FlinkTrailError('FT_ERR_REQUEST_INVALID', 'the body must be a JSON object {"StorageRegion": "<region>"}');
        const extra = Object.keys(b).filter((k) => k !== 'StorageRegion');
        if (extra.length) throw new FlinkTrailError('FT_ERR_REQUEST_INVALID', `unknown field ${extra[0]?.slice(0, 64) ?? ''}; the body is {"StorageRegion": "<region>"}`);
        const given = (b as Record<string, unknown>)['StorageRegion'];
        req.auditParameters = { StorageRegion: typeof given === 'string' ? given.slice(0, 64) : given === undefined ? null : typeof given };
        checkManagementAccount(req.principal, config.accountId);
        const region = checkStorageRegion(config, given);
        await storage.set(region);
        return { RequestId: req.id, StorageRegion: region };
      },
    );
  };
}
