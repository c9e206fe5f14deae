/**
 * The SQL of an EventFilter over `events e`: one place that maps every LookupEvents filter to
 * its column, shared by the store's lookup and the console's histogram, so both always mean the
 * same thing by the same filter.
 */
import { GLOBAL_REGION_COLUMN, type EventFilter } from '../types.js';
import { storedEventId, VALUE_KIND, valueIdSql, type ValueKind } from './values.js';

export interface FilterSql {
  /** Conditions on `events e`, ANDed. */
  where: string[];
  /** Named parameters for them (and for `resources`). */
  params: Record<string, unknown>;
  /** Conditions on `event_resources r` (the resource type and name, by id), ANDed; empty when none. */
  resources: string[];
  /**
   * The same conditions for checking one event's rows (`r.seq = e.seq`): `+r.rid` keeps SQLite
   * from probing the (seq, rid) index once per id of the list — a type such as Jar has
   * thousands of names, and a walk of 10,000 events then made millions of probes (660 ms a page
   * at 1M events, 5.6 ms this way): it reads the event's few rows and tests each id instead.
   */
  resourcesOfEvent: string[];
}

/** Every filter is an exact match; `lo`..`hi` (epoch ms, inclusive) is the time range. */
export function filterSql(f: EventFilter, lo = f.startTime, hi = f.endTime): FilterSql {
  const where: string[] = ['e.event_time >= @startTime', 'e.event_time <= @endTime'];
  const params: Record<string, unknown> = { startTime: lo, endTime: hi };
  const eq = (col: string, key: string, value: unknown) => {
    if (value === undefined) return;
    where.push(`e.${col} = @${key}`);
    params[key] = value;
  };
  // A column holding the id of its value (values.ts): the id is looked up once per statement.
  const coded = (col: string, kind: ValueKind, key: string, value: string | undefined) => {
    if (value === undefined) return;
    where.push(`e.${col} = ${valueIdSql(kind, `@${key}`)}`);
    params[key] = value;
  };
  // A literal, so that the partial index `events_write_time` (WHERE event_rw = 'Write') applies.
  if (f.eventRW === 'Write' || f.eventRW === 'Read') where.push(`e.event_rw = '${f.eventRW}'`);
  else eq('event_rw', 'eventRW', f.eventRW);
  coded('user_id', VALUE_KIND.userName, 'user', f.user);
  coded('service_id', VALUE_KIND.serviceName, 'serviceName', f.serviceName);
  coded('name_id', VALUE_KIND.eventName, 'eventName', f.eventName);
  coded('type_id', VALUE_KIND.eventType, 'eventType', f.eventType);
  coded('key_id', VALUE_KIND.accessKeyId, 'accessKeyId', f.accessKeyId);
  if (f.eventId !== undefined) eq('event_id', 'eventId', storedEventId(f.eventId));
  // A region's events and the global ones (stored once, seen from every region: GLOBAL_REGION_COLUMN).
  if (f.region !== undefined) {
    where.push(`e.region_id IN (SELECT id FROM event_values WHERE kind = ${VALUE_KIND.region} AND value IN (@region, '${GLOBAL_REGION_COLUMN}'))`);
    params['region'] = f.region;
  }
  eq('error_code', 'errorCode', f.errorCode);
  coded('ip_id', VALUE_KIND.sourceIp, 'sourceIp', f.sourceIpAddress);
  coded('cluster_id', VALUE_KIND.cluster, 'cluster', f.cluster);
  // null: the management account, whose events the store keeps without an account (events.ts `row`).
  if (f.accountId === null) where.push('e.account_id IS NULL');
  else eq('account_id', 'accountId', f.accountId);
  // A literal, so that the partial index `events_sensitive_time` (WHERE sensitive = 1) applies.
  if (f.sensitive !== undefined) where.push(`e.sensitive = ${f.sensitive ? 1 : 0}`);
  // Resource names are stored once each (resource_names) and referenced by id.
  const names: string[] = [];
  if (f.resourceType !== undefined) {
    names.push('n.type = @resourceType');
    params['resourceType'] = f.resourceType;
  }
  if (f.resourceName !== undefined) {
    names.push('n.name = @resourceName');
    params['resourceName'] = f.resourceName;
  }
  const ids = `(SELECT n.id FROM resource_names n WHERE ${names.join(' AND ')})`;
  const resources = names.length ? [`r.rid IN ${ids}`] : [];
  const resourcesOfEvent = names.length ? [`+r.rid IN ${ids}`] : [];
  return { where, params, resources, resourcesOfEvent };
}
