/**
 * Regions, as ActionTrail has them: every event has its `acsRegion` (a cluster's region, or the
 * instance's home region `config.region`); Event Query asks one region at a time (the home
 * region unless told otherwise, `region=*` for all); global events (`isGlobal`: sign-ins,
 * users, AccessKeys, policies, trails, FlinkTrail's own service events) are recorded once, with
 * `acsRegion` = the global events storage region, and every region's query returns them.
 *
 * The storage region is a runtime setting kept in the store's `meta` table (`MetaStore.get/set`),
 * so every instance on one store shares it; each instance reads it at most `STORAGE_REGION_CACHE_MS`
 * late. Only the management account may change it. See docs/reference/accounts.md#regions.
 */
import type { Config } from '../config/index.js';
import { FlinkTrailError } from '../errors/index.js';
import { callerAccount } from '../event/account.js';
import { isValidName, nameProblem } from '../event/names.js';
import type { MetaStore } from '../store/meta.js';

/** The `meta` key of the global events storage region. */
export const STORAGE_REGION_KEY = 'global-events-storage-region';

/** How long an instance keeps the storage region it read before it reads it again (5 s). */
export const STORAGE_REGION_CACHE_MS = 5000;

/** What a query's `region` takes to mean every region. */
export const ALL_REGIONS = '*';

/** The regions the configuration names: the home region, every cluster's, `trails.knownRegions`. */
export function configuredRegions(config: Pick<Config, 'region' | 'clusters' | 'trails'>): Set<string> {
  return new Set([config.region, ...config.clusters.flatMap((c) => (c.region ? [c.region] : [])), ...config.trails.knownRegions]);
}

/**
 * A query's region filter from its `region` parameter: absent → the home region; `*` → none (every
 * region); otherwise a region name (NAME_RULES.region). Global events match any region.
 * Throws FT_ERR_QUERY_INVALID_PARAMETER for anything else.
 */
export function queryRegion(given: string | undefined, homeRegion: string | undefined): string | undefined {
  if (given === undefined) return homeRegion;
  if (given === ALL_REGIONS) return undefined;
  if (!isValidName('region', given)) {
    throw new FlinkTrailError('FT_ERR_QUERY_INVALID_PARAMETER', 'region', `${nameProblem('region', given) ?? ''}, or * for every region`);
  }
  return given;
}

export interface StorageRegionOptions {
  cacheMs?: number;
  now?: () => number;
  /** A background refresh failed (the last value read stays in use). */
  onError?: (err: Error) => void;
}

/**
 * The global events storage region of one store, read through a short cache: `current()` is
 * synchronous (the recorder stamps global events with it on the request path) and starts a
 * refresh in the background when its value is older than the cache bound; `get()` waits for a
 * fresh one. Call `load()` once before the first `current()`.
 */
export class StorageRegion {
  private value: string;
  private readAt = -Infinity;
  private refreshing: Promise<string> | undefined;
  private readonly cacheMs: number;
  private readonly now: () => number;

  constructor(
    private readonly meta: Pick<MetaStore, 'get' | 'set'>,
    /** The region used until one is set: the home region. */
    readonly defaultRegion: string,
    private readonly opts: StorageRegionOptions = {},
  ) {
    this.value = defaultRegion;
    this.cacheMs = opts.cacheMs ?? STORAGE_REGION_CACHE_MS;
    this.now = opts.now ?? Date.now;
  }

  /** Reads the stored value now. */
  load(): Promise<string> {
    this.refreshing ??= this.meta
      .get(STORAGE_REGION_KEY)
      .then((v) => {
        // A value another version could not have written (hand-edited) is not used.
        this.value = v !== undefined && isValidName('region', v) ? v : this.defaultRegion;
        this.readAt = this.now();
        return this.value;
      })
      .finally(() => {
        this.refreshing = undefined;
      });
    return this.refreshing;
  }

  /** The region as last read; a read older than the cache bound starts a refresh. */
  current(): string {
    if (this.now() - this.readAt >= this.cacheMs && !this.refreshing) {
      this.load().catch((err: unknown) => this.opts.onError?.(err as Error));
    }
    return this.value;
  }

  /** The region, read again when the cached one is older than the cache bound. */
  async get(): Promise<string> {
    if (this.now() - this.readAt < this.cacheMs) return this.value;
    return this.load();
  }

  /** Stores a new region (validated by the caller) and uses it at once in this instance. */
  async set(region: string): Promise<void> {
    await this.meta.set(STORAGE_REGION_KEY, region);
    this.value = region;
    this.readAt = this.now();
  }
}

/** Every region this instance knows: the configured ones and the storage region, sorted. */
export async function knownRegionList(config: Pick<Config, 'region' | 'clusters' | 'trails'>, storage: StorageRegion): Promise<string[]> {
  return [...new Set([...configuredRegions(config), await storage.get()])].sort();
}

/**
 * Validates a new storage region: a region the configuration names (the home region, a
 * cluster's, `trails.knownRegions`). Throws FT_ERR_REGION_UNKNOWN.
 */
export function checkStorageRegion(config: Pick<Config, 'region' | 'clusters' | 'trails'>, region: unknown): string {
  const known = [...configuredRegions(config)].sort();
  if (typeof region !== 'string' || !known.includes(region)) {
    throw new FlinkTrailError('FT_ERR_REGION_UNKNOWN', typeof region === 'string' ? JSON.stringify(region.slice(0, 64)) : String(typeof region), known.join(', '));
  }
  return region;
}

/**
 * Only the management account may change the storage region (it is the whole instance's): a
 * caller of a member account (`accountId` set to another) is refused, FT_ERR_REGION_MANAGEMENT_ONLY.
 * Its role was checked before (admin only).
 */
export function checkManagementAccount(caller: { accountId?: string } | undefined, managementAccountId: string): void {
  if (callerAccount(caller, managementAccountId) !== managementAccountId) throw new FlinkTrailError('FT_ERR_REGION_MANAGEMENT_ONLY', managementAccountId);
}
