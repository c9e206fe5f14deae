/**
 * How an event's record is kept in `events.body` on SQLite: compressed with a preset dictionary
 * kept in `event_dictionaries`, without the values its own columns already hold (the codec and
 * its format: store/body-codec.ts, shared with the PostgreSQL store).
 *
 * Format, told apart by SQLite's storage class:
 * - TEXT: the JSON record as written before compression (migrations 1–9); read as it is.
 * - BLOB: the compressed record (store/body-codec.ts); SQLite's columns hold every value as it is.
 */
import type { ActionTrailEvent } from '../../event/types.js';
import { bodyDictionary, decodeBody, encodeBody, seedDictionary, type BodyColumns } from '../body-codec.js';
import type { Db } from './database.js';
import { eventIdOf, valueTextSql } from './values.js';

export { seedDictionary };

/**
 * The columns a body needs beside it to decode, as text (values.ts: the row holds ids); select
 * them as `SELECT ${BODY_COLUMNS} FROM events e`.
 */
export const BODY_COLUMNS = `e.event_id, e.event_time, ${valueTextSql('e.user_id')} AS user_name, ${valueTextSql('e.key_id')} AS access_key_id,
  ${valueTextSql('e.ip_id')} AS source_ip, ${valueTextSql('e.name_id')} AS event_name, e.body`;

/** A stored row as `BODY_COLUMNS` selects it: the eventId as stored (values.ts `storedEventId`). */
export interface BodyRow extends Omit<BodyColumns, 'event_id'> {
  event_id: string | Buffer;
  body: string | Buffer;
}

/**
 * Encodes and decodes bodies against the dictionaries of one database. A writable database
 * gets the seed dictionary on first use; a reader that meets a dictionary id it has not loaded
 * (written after it opened) loads the table again.
 */
export class BodyCodec {
  private readonly dicts = new Map<number, Buffer>();
  private current = 0;
  private readonly load;

  constructor(db: Db) {
    this.load = db.prepare('SELECT id, dict FROM event_dictionaries');
    this.reload();
    if (!db.readonly && this.current === 0) {
      db.prepare('INSERT OR IGNORE INTO event_dictionaries (id, created_at, dict) VALUES (1, ?, ?)').run(Date.now(), seedDictionary());
      this.reload();
    }
  }

  private reload(): void {
    for (const r of this.load.all() as { id: number; dict: Buffer }[]) {
      this.dicts.set(r.id, r.dict);
      this.current = Math.max(this.current, r.id);
    }
  }

  /** The body to store for `e`: compressed with the newest dictionary, column values left out. */
  encode(e: ActionTrailEvent): Buffer {
    const dict = this.dicts.get(this.current);
    if (!dict) throw new Error('The event store has no body dictionary (opened read-only before the first write?).');
    return encodeBody(e, this.current, dict);
  }

  /** The record of a stored row (either format). */
  decode(r: BodyRow): ActionTrailEvent {
    if (typeof r.body === 'string') return JSON.parse(r.body) as ActionTrailEvent;
    const row = { ...r, event_id: eventIdOf(r.event_id) };
    if (!this.dicts.has(bodyDictionary(row.event_id, r.body))) this.reload();
    return decodeBody(row, r.body, (id) => this.dicts.get(id));
  }
}
