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
import type { Statement } from 'better-sqlite3';
import type { Db } from './database.js';
import { eventIdOf } from './values.js';

export { seedDictionary };

/** The columns a body needs beside it to decode; select them as `SELECT ${BODY_COLUMNS} FROM events e`. */
export const BODY_COLUMNS = 'e.event_id, e.event_time, e.user_id, e.key_id, e.ip_id, e.name_id, e.body';

/**
 * A stored row as `BODY_COLUMNS` selects it: the eventId as stored (values.ts `storedEventId`),
 * the values the body leaves out as their ids in event_values.
 */
export interface BodyRow {
  event_id: string | Buffer;
  event_time: number;
  user_id: number | null;
  key_id: number | null;
  ip_id: number | null;
  name_id: number;
  body: string | Buffer;
}

/** Value texts kept per connection before the cache starts over. */
const VALUES_CACHED = 100_000;

/**
 * Encodes and decodes bodies against the dictionaries of one database. A writable database
 * gets the seed dictionary on first use; a reader that meets a dictionary id it has not loaded
 * (written after it opened) loads the table again.
 */
export class BodyCodec {
  private readonly dicts = new Map<number, Buffer>();
  private current = 0;
  private readonly load;
  /**
   * The text of value ids (event_values): an id never changes its value and is never handed out
   * again (AUTOINCREMENT), so what this connection once read stays true. Ids a rolled-back
   * transaction added can be handed out again: the writer forgets them (`forgetValues`).
   */
  private readonly values = new Map<number, string>();
  private valueStmt: Statement | undefined;
  private readonly db: Db;

  constructor(db: Db) {
    this.db = db;
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
    const columns: BodyColumns = {
      event_id: eventIdOf(r.event_id),
      event_time: r.event_time,
      user_name: this.text(r.user_id),
      access_key_id: this.text(r.key_id),
      source_ip: this.text(r.ip_id),
      event_name: this.text(r.name_id) as string,
    };
    return this.decodeColumns(columns, r.body);
  }

  /** The record of compressed body `body`, with the values it left out as text. */
  decodeColumns(columns: BodyColumns, body: Buffer): ActionTrailEvent {
    if (!this.dicts.has(bodyDictionary(columns.event_id, body))) this.reload();
    return decodeBody(columns, body, (id) => this.dicts.get(id));
  }

  /** Forgets cached value texts (after a rolled-back transaction that may have added ids). */
  forgetValues(): void {
    this.values.clear();
  }

  private text(id: number | null): string | null {
    if (id === null) return null;
    let v = this.values.get(id);
    if (v === undefined) {
      // Prepared on first use: a codec also encodes on databases from before event_values (tests).
      this.valueStmt ??= this.db.prepare('SELECT value FROM event_values WHERE id = ?').pluck();
      v = this.valueStmt.get(id) as string | undefined;
      if (v === undefined) throw new Error(`A stored event refers to value ${id}, which the database does not hold.`);
      if (this.values.size >= VALUES_CACHED) this.values.clear();
      this.values.set(id, v);
    }
    return v;
  }
}
