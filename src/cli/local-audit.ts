/**
 * The auditor is audited, even from the shell: identity changes the CLI makes directly on the
 * data directory (`keys create`, `users create`) are recorded as FlinkTrail events, journaled
 * durably before the command reports success (`migrate`: in the store the directory moved to). The caller is the local operating-system user
 * with access to the data directory — for the record, the account's root.
 */
import { randomUUID } from 'node:crypto';
import { userInfo } from 'node:os';
import { loadConfig } from '../config/index.js';
import { finishEvent, newEvent } from '../event/build.js';
import { EVENT_SOURCES, type ActionTrailEvent } from '../event/types.js';
import { compileRedactor } from '../pipeline/redact.js';
import type { Db } from '../store/sqlite/database.js';
import { SqliteEventStore } from '../store/sqlite/events.js';

export async function recordLocal(
  db: Db,
  eventName: string,
  resources: Record<string, string[]>,
  params: Record<string, unknown>,
): Promise<void> {
  const store = new SqliteEventStore(db, { flushIntervalMs: 1 });
  await store.journal(localEvent(eventName, resources, params));
  await store.close();
}

/** The event of an operation made from the shell by the local operating-system user (succeeded). */
export function localEvent(eventName: string, resources: Record<string, string[]>, params: Record<string, unknown>): ActionTrailEvent {
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
    acsRegion: config.region,
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
