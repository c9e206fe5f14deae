/**
 * How an event's record is kept on PostgreSQL: compressed (store/body-codec.ts, the SQLite
 * store's codec and format) in `events.body_z bytea`, with the dictionaries in
 * `event_dictionaries` of the same schema. Rows written before events migration 2 hold the JSON
 * record in `body text` instead (and `body_z` NULL); they are read as they are and never
 * rewritten in place — a completion or a resolved pending event writes `body_z` and clears `body`.
 *
 * PostgreSQL text cannot hold U+0000 (filter.ts, `pgText`): a value a column holds altered is
 * kept in the compressed record rather than put back from the column.
 */
import type { ActionTrailEvent } from '../../event/types.js';
import { bodyDictionary, decodeBody, encodeBody, seedDictionary, type BodyColumns } from '../body-codec.js';
import { pgText } from './filter.js';

/** The columns a body needs beside it to decode; select them as `SELECT ${BODY_COLUMNS} FROM events e`. */
export const BODY_COLUMNS = 'e.event_id, e.event_time, e.user_name, e.access_key_id, e.source_ip, e.event_name, e.body, e.body_z';

/** A stored row as `BODY_COLUMNS` selects it: one of `body` (before migration 2) and `body_z` is set. */
export interface BodyRow extends BodyColumns {
  body: string | null;
  body_z: Buffer | null;
}

/** Runs a query (the store's, which redacts the URL's password from errors). */
type Query = <R>(sql: string, values?: unknown[]) => Promise<R[]>;

const exact = (v: string): boolean => pgText(v) === v;

/**
 * Encodes and decodes bodies against the dictionaries of one schema. The first store to open a
 * schema stores the seed dictionary; a reader that meets a dictionary id it has not loaded
 * (written by another instance after it opened) loads the table again.
 */
export class PostgresBodyCodec {
  private readonly dicts = new Map<number, Buffer>();
  private current = 0;

  private constructor(private readonly query: Query) {}

  static async open(query: Query): Promise<PostgresBodyCodec> {
    const codec = new PostgresBodyCodec(query);
    await codec.reload();
    if (codec.current === 0) {
      await query('INSERT INTO event_dictionaries (id, created_at, dict) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING', [Date.now(), seedDictionary()]);
      await codec.reload();
    }
    return codec;
  }

  private async reload(): Promise<void> {
    for (const r of await this.query<{ id: number; dict: Buffer }>('SELECT id, dict FROM event_dictionaries')) {
      this.dicts.set(r.id, r.dict);
      this.current = Math.max(this.current, r.id);
    }
  }

  /** The `body_z` to store for `e`: compressed with the newest dictionary, exact column values left out. */
  encode(e: ActionTrailEvent): Buffer {
    const dict = this.dicts.get(this.current);
    if (!dict) throw new Error('The event store has no body dictionary.');
    return encodeBody(e, this.current, dict, exact);
  }

  /** The records of stored rows (either kind), in order. */
  async decode(rows: readonly BodyRow[]): Promise<ActionTrailEvent[]> {
    if (rows.some((r) => r.body_z !== null && !this.dicts.has(bodyDictionary(r.event_id, r.body_z)))) await this.reload();
    return rows.map((r) => this.decodeOne(r));
  }

  private decodeOne(r: BodyRow): ActionTrailEvent {
    if (r.body_z !== null) return decodeBody(r, r.body_z, (id) => this.dicts.get(id));
    if (r.body !== null) return JSON.parse(r.body) as ActionTrailEvent;
    throw new Error(`Event ${r.event_id} has no body.`);
  }
}
