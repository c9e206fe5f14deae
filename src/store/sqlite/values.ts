/**
 * How the embedded store keeps the short, repeated values of an event row (migration 16): each
 * distinct region, event name, event type, service, user name, AccessKey ID, source IP and
 * cluster is stored once in `event_values` and the row and its indexes hold its integer id —
 * one or two bytes where the text took 10 to 40, in the row and again in every index over it.
 * An eventId in the canonical lowercase UUID form is kept as its 16 bytes (a BLOB) instead of
 * 36 characters, in the row and in its unique index; any other eventId (an ingested record's
 * own) stays text. Both forms are exact: a value reads back as it was written.
 *
 * Filters name values, not ids: `valueIdSql` turns one into the id by a scalar subquery that
 * SQLite runs once per statement, so an index over the id column still drives the lookup, and a
 * value never stored finds nothing.
 */

/** The kind of each coded value, as stored in `event_values.kind` (fixed: rows hold them). */
export const VALUE_KIND = {
  region: 1,
  eventName: 2,
  eventType: 3,
  serviceName: 4,
  userName: 5,
  accessKeyId: 6,
  sourceIp: 7,
  cluster: 8,
} as const;

export type ValueKind = (typeof VALUE_KIND)[keyof typeof VALUE_KIND];

/** SQL for the id of `param` (a bound parameter or literal) of `kind`; NULL when never stored. */
export function valueIdSql(kind: ValueKind, param: string): string {
  return `(SELECT id FROM event_values WHERE kind = ${kind} AND value = ${param})`;
}

/** SQL for the text of the id in `column` (NULL stays NULL). */
export function valueTextSql(column: string): string {
  return `(SELECT value FROM event_values WHERE id = ${column})`;
}

const HEX = '[0-9a-f]';
/** An eventId stored as 16 bytes: exactly this form, so that it reads back identically. */
export const UUID_GLOB = `${HEX.repeat(8)}-${HEX.repeat(4)}-${HEX.repeat(4)}-${HEX.repeat(4)}-${HEX.repeat(12)}`;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The `events.event_id` value of an eventId: 16 bytes for a canonical UUID, else the text. */
export function storedEventId(id: string): string | Buffer {
  return UUID.test(id) ? Buffer.from(id.replaceAll('-', ''), 'hex') : id;
}

/** The eventId of a stored `events.event_id`. */
export function eventIdOf(stored: string | Buffer): string {
  if (typeof stored === 'string') return stored;
  const h = stored.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
