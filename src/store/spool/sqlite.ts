/**
 * The spool's embedded file (`<store.spool.dir>/spool.db`): one table, written with
 * `synchronous = FULL` so a write journaled here survives a power loss as it would in PostgreSQL.
 * Rows are keyed by eventId: a finished event replaces its journaled form, and putting the same
 * event twice keeps one row (drained once, however often it was handed over).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { ActionTrailEvent } from '../../event/types.js';
import type { Spool, SpoolRow } from './index.js';

export class SqliteSpool implements Spool {
  private readonly db: Database.Database;
  private readonly stmts;

  constructor(dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.db = new Database(join(dir, 'spool.db'));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.exec(`CREATE TABLE IF NOT EXISTS spool (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      event_id TEXT NOT NULL UNIQUE,
      final INTEGER NOT NULL,
      body TEXT NOT NULL)`);
    this.stmts = {
      put: this.db.prepare(
        `INSERT INTO spool (event_id, final, body) VALUES (?, ?, ?)
         ON CONFLICT (event_id) DO UPDATE SET final = MAX(final, excluded.final), body = CASE WHEN excluded.final >= final THEN excluded.body ELSE body END`,
      ),
      has: this.db.prepare('SELECT 1 FROM spool WHERE event_id = ?').pluck(),
      finals: this.db.prepare('SELECT id, event_id, final, body FROM spool WHERE final = 1 ORDER BY id LIMIT ?'),
      journaled: this.db.prepare('SELECT id, event_id, final, body FROM spool WHERE final = 0 ORDER BY id'),
      remove: this.db.prepare('DELETE FROM spool WHERE id = ? AND final = 1'),
      count: this.db.prepare('SELECT COUNT(*) FROM spool').pluck(),
    };
  }

  put(event: ActionTrailEvent, final: boolean): void {
    this.stmts.put.run(event.eventId, final ? 1 : 0, JSON.stringify(event));
  }

  has(eventId: string): boolean {
    return this.stmts.has.get(eventId) !== undefined;
  }

  private rows(stmt: Database.Statement, ...args: unknown[]): SpoolRow[] {
    return (stmt.all(...args) as { id: number; event_id: string; final: number; body: string }[]).map((r) => ({
      id: r.id,
      eventId: r.event_id,
      final: r.final === 1,
      event: JSON.parse(r.body) as ActionTrailEvent,
    }));
  }

  finals(limit: number): SpoolRow[] {
    return this.rows(this.stmts.finals, limit);
  }

  journaled(): SpoolRow[] {
    return this.rows(this.stmts.journaled);
  }

  remove(ids: readonly number[]): void {
    this.db.transaction(() => {
      for (const id of ids) this.stmts.remove.run(id);
    })();
  }

  count(): number {
    return Number(this.stmts.count.get());
  }

  close(): void {
    this.db.close();
  }
}
