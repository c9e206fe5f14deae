/**
 * The auditor is audited, even from the shell: identity changes the CLI makes directly on the
 * data directory (`keys create`, `users create`, `secrets rotate`, `migrate`) are recorded as
 * FlinkTrail events in the event store the directory uses (PostgreSQL once moved there), journaled
 * durably before the command reports success. The caller is the local operating-system user with
 * access to the data directory — for the record, the account's root.
 */
import { randomUUID } from 'node:crypto';
import { userInfo } from 'node:os';
import { loadConfig } from '../config/index.js';
import { finishEvent, newEvent } from '../event/build.js';
import { EVENT_SOURCES, type ActionTrailEvent } from '../event/types.js';
import { compileRedactor } from '../pipeline/redact.js';
import type { Db } from '../store/sqlite/database.js';
import { SqliteEventStore } from '../store/sqlite/events.js';
import { PostgresEventStore } from '../store/postgres/events.js';
import type { EventStore } from '../store/types.js';
import { claimEventStore } from '../stores.js';
import { isValidName } from '../event/names.js';
import { STORAGE_REGION_KEY } from '../regions/index.js';

/** Where the CLI records what it does to a data directory: the event store the directory uses. */
export interface LocalAudit {
  record(eventName: string, resources: Record<string, string[]>, params: Record<string, unknown>): Promise<void>;
  /** The event store the directory uses (the feature stores open beside it: src/stores.ts). */
  readonly events: EventStore;
  close(): Promise<void>;
}

/**
 * Opens the event store the data directory uses — checked before the command changes anything:
 * a directory moved to PostgreSQL (`flinktrail migrate`, `serve --store`) records there, and
 * without `store.url` (config file or FLINKTRAIL__STORE__URL) the command is refused rather than
 * recording where no query would find it (FT_ERR_STORE_MISMATCH).
 */
export async function openLocalAudit(db: Db, dataDir: string, storeUrl: string | undefined, managementAccountId: string): Promise<LocalAudit> {
  let store: EventStore;
  if (storeUrl) {
    const pg = await PostgresEventStore.open({ url: storeUrl, poolMax: 2, flushIntervalMs: 1, managementAccountId });
    try {
      claimEventStore(db, dataDir, pg.id);
    } catch (err) {
      await pg.close();
      throw err;
    }
    store = pg;
  } else {
    claimEventStore(db, dataDir, 'sqlite');
    store = new SqliteEventStore(db, { flushIntervalMs: 1, managementAccountId });
  }
  // Global events: recorded in the global events storage region the store keeps (regions/), as `serve` does.
  let storageRegion: string | undefined;
  try {
    storageRegion = storeUrl
      ? ((await (store as PostgresEventStore).pool.query('SELECT value FROM meta WHERE key = $1', [STORAGE_REGION_KEY])).rows[0] as { value: string } | undefined)?.value
      : (db.prepare('SELECT value FROM meta WHERE key = ?').get(STORAGE_REGION_KEY) as { value: string } | undefined)?.value;
  } catch {
    /* no meta table yet (a store never served): the home region */
  }
  return {
    record: (eventName, resources, params) => store.journal(localEvent(eventName, resources, params, storageRegion)),
    events: store,
    close: () => store.close(),
  };
}

/** The event of an operation made from the shell by the local operating-system user (succeeded). */
export function localEvent(eventName: string, resources: Record<string, string[]>, params: Record<string, unknown>, storageRegion?: string): ActionTrailEvent {
  const config = loadConfig({ env: process.env });
  let os = 'unknown';
  try {
    os = userInfo().username;
  } catch {
    /* no passwd entry (containers): keep 'unknown' */
  }
  const e = newEvent({
    eventName,
    eventRW: 'Write',
    eventType: 'ApiCall',
    eventSource: `${EVENT_SOURCES.flinkTrail}-cli`,
    serviceName: 'Actiontrail',
    acsRegion: storageRegion !== undefined && isValidName('region', storageRegion) ? storageRegion : config.region,
    isGlobal: true,
    sourceIpAddress: '127.0.0.1',
    userAgent: `flinktrail-cli/${process.version}`,
    userIdentity: { type: 'root-account', principalId: config.accountId, accountId: config.accountId, userName: `local:${os}` },
    requestId: randomUUID().toUpperCase(),
    requestParameters: compileRedactor().redact(params),
    referencedResources: resources,
    additionalEventData: { sensitive: true, via: 'data-dir' },
  });
  return finishEvent(e, { outcome: 'success' });
}
