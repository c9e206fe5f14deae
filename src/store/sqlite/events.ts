/**
 * The embedded EventStore on SQLite.
 *
 * Journaled writes are committed one by one with the configured fsync discipline: that commit is
 * the fail-closed gate in front of Flink. Everything else (finished reads, completions of
 * journaled writes) is queued and committed in one transaction per flush interval, which keeps
 * ingest fast while an event is queryable within `flushIntervalMs` plus commit time. A failed
 * flush keeps its events and retries; nothing is reported as stored before it is.
 */
import type { ActionTrailEvent } from '../../event/types.js';
import type { EventStore, LookupPage, LookupRequest, Positioned } from '../types.js';
import type { Db } from './database.js';

interface Pending {
  kind: 'insert' | 'complete';
  event: ActionTrailEvent;
  resolve: () => void;
  reject: (err: Error) => void;
}

export interface SqliteEventStoreOptions {
  flushIntervalMs: number;
  /** Most queued events before new ones are refused (the store is failing). */
  maxQueue?: number;
  onFlushError?: (err: Error, queued: number) => void;
}

function row(e: ActionTrailEvent) {
  return {
    event_id: e.eventId,
    event_time: Date.parse(e.eventTime),
    region: e.acsRegion,
    event_rw: e.eventRW,
    event_name: e.eventName,
    event_type: e.eventType,
    service_name: e.serviceName,
    user_name: e.userIdentity.userName || null,
    access_key_id: e.userIdentity.accessKeyId ?? null,
    sensitive: e.additionalEventData.sensitive ? 1 : 0,
    outcome: e.additionalEventData.outcome,
    error_code: e.errorCode ?? null,
    source_ip: e.sourceIpAddress || null,
    cluster: typeof e.additionalEventData.cluster === 'string' ? e.additionalEventData.cluster : null,
    body: JSON.stringify(e),
  };
}

export class SqliteEventStore implements EventStore {
  private readonly db: Db;
  private readonly opts: Required<Omit<SqliteEventStoreOptions, 'onFlushError'>> & SqliteEventStoreOptions;
  private queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private failures = 0;

  private readonly insertStmt;
  private readonly updateStmt;
  private readonly deleteResources;
  private readonly insertResource;
  private readonly seqOf;
  private readonly getStmt;
  private readonly scanStmt;

  constructor(db: Db, opts: SqliteEventStoreOptions) {
    this.db = db;
    this.opts = { maxQueue: 100_000, ...opts };
    this.insertStmt = db.prepare(`INSERT INTO events
      (event_id, event_time, region, event_rw, event_name, event_type, service_name, user_name,
       access_key_id, sensitive, outcome, error_code, source_ip, cluster, body)
      VALUES (@event_id, @event_time, @region, @event_rw, @event_name, @event_type, @service_name,
       @user_name, @access_key_id, @sensitive, @outcome, @error_code, @source_ip, @cluster, @body)
      ON CONFLICT (event_id) DO NOTHING`);
    this.updateStmt = db.prepare(`UPDATE events SET event_rw=@event_rw, event_name=@event_name,
      event_type=@event_type, service_name=@service_name, user_name=@user_name,
      access_key_id=@access_key_id, sensitive=@sensitive, outcome=@outcome, error_code=@error_code,
      source_ip=@source_ip, cluster=@cluster, body=@body WHERE event_id=@event_id`);
    this.deleteResources = db.prepare('DELETE FROM event_resources WHERE seq = ?');
    this.insertResource = db.prepare('INSERT INTO event_resources (seq, type, name) VALUES (?, ?, ?)');
    this.seqOf = db.prepare('SELECT seq FROM events WHERE event_id = ?');
    this.getStmt = db.prepare('SELECT body FROM events WHERE event_id = ?');
    this.scanStmt = db.prepare('SELECT seq, outcome, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?');
  }

  private writeResources(seq: number, e: ActionTrailEvent): void {
    this.deleteResources.run(seq);
    for (const [type, names] of Object.entries(e.referencedResources)) {
      for (const name of new Set(names)) {
        if (name) this.insertResource.run(seq, type, name);
      }
      if (names.length === 0) this.insertResource.run(seq, type, '');
    }
  }

  private insertOne(e: ActionTrailEvent): void {
    const info = this.insertStmt.run(row(e));
    if (info.changes === 1) this.writeResources(Number(info.lastInsertRowid), e);
  }

  private completeOne(e: ActionTrailEvent): void {
    const info = this.updateStmt.run(row(e));
    if (info.changes === 0) {
      // The journal entry is gone (purged, or journaling was off): keep the event anyway.
      this.insertOne(e);
      return;
    }
    const found = this.seqOf.get(e.eventId) as { seq: number } | undefined;
    if (found) this.writeResources(found.seq, e);
  }

  journal(event: ActionTrailEvent): Promise<void> {
    if (this.closed) return Promise.reject(new Error('The event store is closed.'));
    try {
      this.db.transaction(() => this.insertOne(event)).immediate();
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  complete(event: ActionTrailEvent): Promise<void> {
    return this.enqueue('complete', event);
  }

  append(event: ActionTrailEvent): Promise<void> {
    return this.enqueue('insert', event);
  }

  private enqueue(kind: Pending['kind'], event: ActionTrailEvent): Promise<void> {
    if (this.closed) return Promise.reject(new Error('The event store is closed.'));
    if (this.queue.length >= this.opts.maxQueue) {
      return Promise.reject(new Error(`The event store is failing and its queue is full (${this.queue.length} events).`));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ kind, event, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.timer) return;
    const delay = this.failures === 0 ? this.opts.flushIntervalMs : Math.min(5000, 100 * 2 ** this.failures);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, delay);
  }

  /** Commits everything queued in one transaction; on failure keeps it and retries. */
  flush(): void {
    if (this.queue.length === 0) return;
    const batch = this.queue;
    try {
      this.db
        .transaction(() => {
          for (const p of batch) {
            if (p.kind === 'insert') this.insertOne(p.event);
            else this.completeOne(p.event);
          }
        })
        .immediate();
    } catch (err) {
      this.failures++;
      this.opts.onFlushError?.(err as Error, batch.length);
      if (!this.closed) this.schedule();
      return;
    }
    this.failures = 0;
    this.queue = [];
    for (const p of batch) p.resolve();
  }

  lookup(req: LookupRequest): Promise<LookupPage> {
    const { filter: f } = req;
    const where: string[] = ['e.event_time >= @startTime', 'e.event_time <= @endTime'];
    const params: Record<string, unknown> = { startTime: f.startTime, endTime: f.endTime, limit: req.limit + 1 };
    const eq = (col: string, key: string, value: unknown) => {
      if (value === undefined) return;
      where.push(`e.${col} = @${key}`);
      params[key] = value;
    };
    eq('event_rw', 'eventRW', f.eventRW);
    eq('user_name', 'user', f.user);
    eq('service_name', 'serviceName', f.serviceName);
    eq('event_name', 'eventName', f.eventName);
    eq('event_type', 'eventType', f.eventType);
    eq('access_key_id', 'accessKeyId', f.accessKeyId);
    eq('event_id', 'eventId', f.eventId);
    eq('region', 'region', f.region);
    eq('error_code', 'errorCode', f.errorCode);
    eq('source_ip', 'sourceIp', f.sourceIpAddress);
    eq('cluster', 'cluster', f.cluster);
    if (f.sensitive !== undefined) eq('sensitive', 'sensitive', f.sensitive ? 1 : 0);
    if (f.resourceType !== undefined || f.resourceName !== undefined) {
      const sub: string[] = [];
      if (f.resourceType !== undefined) {
        sub.push('r.type = @resourceType');
        params['resourceType'] = f.resourceType;
      }
      if (f.resourceName !== undefined) {
        sub.push('r.name = @resourceName');
        params['resourceName'] = f.resourceName;
      }
      where.push(`EXISTS (SELECT 1 FROM event_resources r WHERE r.seq = e.seq AND ${sub.join(' AND ')})`);
    }
    const desc = req.direction === 'BACKWARD';
    if (req.after) {
      where.push(
        desc
          ? '(e.event_time < @afterTime OR (e.event_time = @afterTime AND e.seq < @afterSeq))'
          : '(e.event_time > @afterTime OR (e.event_time = @afterTime AND e.seq > @afterSeq))',
      );
      params['afterTime'] = req.after.time;
      params['afterSeq'] = req.after.seq;
    }
    const order = desc ? 'DESC' : 'ASC';
    const sql = `SELECT e.seq, e.event_time, e.body FROM events e WHERE ${where.join(' AND ')}
      ORDER BY e.event_time ${order}, e.seq ${order} LIMIT @limit`;
    const rows = this.db.prepare(sql).all(params) as { seq: number; event_time: number; body: string }[];
    const more = rows.length > req.limit;
    const page = more ? rows.slice(0, req.limit) : rows;
    const last = page[page.length - 1];
    const result: LookupPage = { events: page.map((r) => JSON.parse(r.body) as ActionTrailEvent) };
    if (more && last) result.next = { time: last.event_time, seq: last.seq };
    return Promise.resolve(result);
  }

  get(eventId: string): Promise<ActionTrailEvent | undefined> {
    const found = this.getStmt.get(eventId) as { body: string } | undefined;
    return Promise.resolve(found ? (JSON.parse(found.body) as ActionTrailEvent) : undefined);
  }

  scan(afterSeq: number, limit: number): Promise<Positioned[]> {
    const rows = this.scanStmt.all(afterSeq, limit) as { seq: number; outcome: string; body: string }[];
    const out: Positioned[] = [];
    for (const r of rows) {
      if (r.outcome === 'pending') break;
      out.push({ seq: r.seq, event: JSON.parse(r.body) as ActionTrailEvent });
    }
    return Promise.resolve(out);
  }

  lastSeq(): Promise<number> {
    const r = this.db.prepare('SELECT COALESCE(MAX(seq), 0) AS seq FROM events').get() as { seq: number };
    return Promise.resolve(r.seq);
  }

  resolvePending(message: string): Promise<number> {
    const rows = this.db.prepare("SELECT body FROM events WHERE outcome = 'pending'").all() as { body: string }[];
    this.db
      .transaction(() => {
        for (const r of rows) {
          const e = JSON.parse(r.body) as ActionTrailEvent;
          e.additionalEventData = { ...e.additionalEventData, outcome: 'unknown' };
          e.errorCode = 'OutcomeUnknown';
          e.errorMessage = message;
          this.completeOne(e);
        }
      })
      .immediate();
    return Promise.resolve(rows.length);
  }

  purge(before: number): Promise<number> {
    const info = this.db.prepare('DELETE FROM events WHERE event_time < ?').run(before);
    return Promise.resolve(info.changes);
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.flush();
    this.closed = true;
    const left = this.queue;
    this.queue = [];
    for (const p of left) p.reject(new Error('The event store closed before this event could be written.'));
    await Promise.resolve();
  }
}
