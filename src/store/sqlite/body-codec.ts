/**
 * How an event's record is kept in `events.body`: compressed with a preset dictionary, without
 * the values its own columns already hold.
 *
 * A record is ~1 KB of JSON, most of it the same field names and values in every event, and
 * too short for a compressor to find that repetition within one record. Deflate with a preset
 * dictionary (typical records, `seedDictionary`) finds it there and stores a record in ~200 B.
 * The dictionaries are versioned and kept in the database (`event_dictionaries`), so a row
 * written with one stays readable whatever a later version ships.
 *
 * Values the row holds in its own columns anyway (eventId, eventTime, userName, accessKeyId,
 * sourceIpAddress, eventName) are left out of the compressed text — their keys stay, holding 0,
 * so the record decodes with its fields in the original order — and are put back from the
 * columns on read. Only a value the column reproduces exactly is left out; a bit per field in
 * the header says which were.
 *
 * Format, told apart by SQLite's storage class:
 * - TEXT: the JSON record as written before compression (migrations 1–9); read as it is.
 * - BLOB: byte 0 the format (1), bytes 1–2 the dictionary id (big-endian), byte 3 the mask of
 *   left-out fields, then the record's JSON, deflated raw with that dictionary.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { ActionTrailEvent } from '../../event/types.js';
import type { Db } from './database.js';

const FORMAT = 1;
const HEADER = 4;
/** Compression level: 6 stores ~8 % less than 1 for about the same time with a dictionary. */
const LEVEL = 6;
/** Output buffer of one inflate: most records fit (the default, 16 KB, costs more to allocate per row). */
const INFLATE_CHUNK = 4096;

/** The columns a body needs beside it to decode; select them as `SELECT ${BODY_COLUMNS} FROM events e`. */
export const BODY_COLUMNS = 'e.event_id, e.event_time, e.user_name, e.access_key_id, e.source_ip, e.event_name, e.body';

/** A stored row as `BODY_COLUMNS` selects it. */
export interface BodyRow {
  event_id: string;
  event_time: number;
  user_name: string | null;
  access_key_id: string | null;
  source_ip: string | null;
  event_name: string;
  body: string | Buffer;
}

const ID = 1;
const TIME = 2;
const USER = 4;
const KEY = 8;
const IP = 16;
const NAME = 32;

/**
 * Typical records, the dictionary a database starts with: the field names in the order the
 * event builders write them and the values most events carry (gateway reads and writes,
 * failures, Kubernetes, FlinkTrail's own API calls, ingested records). Deflate codes a match
 * more cheaply the nearer it is, so the commonest text comes last.
 */
export function seedDictionary(): Buffer {
  const identity = (type: string) => ({ type, principalId: '', accountId: '', userName: '', accessKeyId: '', sessionContext: { attributes: { mfaAuthenticated: 'false', creationDate: '' } } });
  const base = (o: Record<string, unknown>) => ({
    eventId: '',
    eventVersion: 1,
    eventName: '',
    eventRW: 'Read',
    eventType: 'ApiCall',
    eventCategory: 'Management',
    eventSource: 'flink-jobmanager',
    serviceName: 'RealtimeCompute',
    eventTime: '',
    acsRegion: 'cn-hangzhou',
    isGlobal: false,
    sourceIpAddress: '',
    userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
    userIdentity: identity('ram-user'),
    requestId: '',
    requestParameters: {},
    responseElements: {},
    referencedResources: {},
    ...o,
  });
  const records = [
    base({
      eventName: 'CreateTrail',
      eventSource: 'flinktrail',
      serviceName: 'Actiontrail',
      eventType: 'AliyunServiceEvent',
      isGlobal: true,
      userAgent: 'flinktrail/1.0',
      userIdentity: identity('root-account'),
      additionalEventData: { ingestedBy: { principalId: '', userName: '' }, auditLevel: 'Metadata', outcome: 'success', sensitive: true },
    }),
    base({
      eventName: 'PatchFlinkDeployment',
      eventSource: 'kubernetes',
      userAgent: 'kubectl/v1.30.0 (linux/amd64) kubernetes/',
      userIdentity: identity('assumed-role'),
      requestParameters: { namespace: 'default', resource: 'flinkdeployments', subresource: 'status' },
      referencedResources: { 'ACS::RealtimeCompute::FlinkDeployment': [''], 'ACS::RealtimeCompute::Cluster': [''] },
      additionalEventData: { cluster: '', sensitive: false, verb: 'patch', changedFields: [], outcome: 'success', httpStatus: 200, latencyMs: 1 },
    }),
    base({
      eventName: 'LookupEvents',
      eventSource: 'flinktrail',
      serviceName: 'Actiontrail',
      userAgent: 'python-requests/2.32',
      requestParameters: { eventRW: 'Write', maxResults: '50', startTime: '', endTime: '' },
      additionalEventData: { sensitive: false, httpStatus: 200, outcome: 'success', latencyMs: 3 },
    }),
    base({
      eventName: 'GetSession',
      eventSource: 'flink-sql-gateway',
      userAgent: 'curl/8.5.0',
      referencedResources: { 'ACS::RealtimeCompute::Cluster': [''], 'ACS::RealtimeCompute::Session': [''] },
      additionalEventData: { cluster: '', sensitive: false, httpMethod: 'GET', path: '/v1/sessions/', outcome: 'success', httpStatus: 200, latencyMs: 1 },
    }),
    {
      ...base({
        eventName: 'CancelJob',
        eventRW: 'Write',
        userAgent: 'flink-cli/2.2.0',
        requestParameters: { 'cancel-job': false, mode: 'cancel' },
        responseElements: { 'request-id': '' },
        referencedResources: { 'ACS::RealtimeCompute::Cluster': [''], 'ACS::RealtimeCompute::Jar': ['_app.jar'], 'ACS::RealtimeCompute::Job': ['job-'] },
        additionalEventData: { cluster: '', sensitive: true, httpMethod: 'PATCH', path: '/jobs/', outcome: 'failure', httpStatus: 404, latencyMs: 2 },
      }),
      errorCode: 'Flink.NotFound',
      errorMessage: 'Job not found',
    },
    base({
      eventName: 'TriggerSavepoint',
      eventRW: 'Write',
      userAgent: 'Go-http-client/1.1',
      requestParameters: { 'cancel-job': false },
      responseElements: { 'request-id': '' },
      referencedResources: { 'ACS::RealtimeCompute::Cluster': [''], 'ACS::RealtimeCompute::Job': ['', 'job-'] },
      additionalEventData: { cluster: '', sensitive: true, httpMethod: 'POST', path: '/jobs//savepoints', outcome: 'success', responseBytes: 200, httpStatus: 202, latencyMs: 12.5 },
    }),
    base({
      eventName: 'GetJobDetails',
      eventType: 'ConsoleOperation',
      referencedResources: { 'ACS::RealtimeCompute::Cluster': [''], 'ACS::RealtimeCompute::Job': ['', 'job-'] },
      additionalEventData: { cluster: 'flink-prod', sensitive: false, httpMethod: 'GET', path: '/jobs/', outcome: 'success', responseBytes: 1000, httpStatus: 200, latencyMs: 1.5 },
    }),
  ];
  return Buffer.from(records.map((r) => JSON.stringify(r)).join(''));
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
    let mask = ID | NAME;
    const out: Record<string, unknown> = { ...e, eventId: 0, eventName: 0 };
    if (new Date(Date.parse(e.eventTime)).toISOString() === e.eventTime) {
      mask |= TIME;
      out['eventTime'] = 0;
    }
    if (typeof e.sourceIpAddress === 'string' && e.sourceIpAddress !== '') {
      mask |= IP;
      out['sourceIpAddress'] = 0;
    }
    const u = e.userIdentity as unknown as Record<string, unknown> | undefined;
    if (u && typeof u === 'object') {
      const id: Record<string, unknown> = { ...u };
      if (typeof u['userName'] === 'string' && u['userName'] !== '') {
        mask |= USER;
        id['userName'] = 0;
      }
      if (typeof u['accessKeyId'] === 'string') {
        mask |= KEY;
        id['accessKeyId'] = 0;
      }
      out['userIdentity'] = id;
    }
    const packed = deflateRawSync(JSON.stringify(out), { level: LEVEL, dictionary: dict });
    const body = Buffer.allocUnsafe(HEADER + packed.length);
    body[0] = FORMAT;
    body.writeUInt16BE(this.current, 1);
    body[3] = mask;
    packed.copy(body, HEADER);
    return body;
  }

  /** The record of a stored row (either format). */
  decode(r: BodyRow): ActionTrailEvent {
    if (typeof r.body === 'string') return JSON.parse(r.body) as ActionTrailEvent;
    const b = r.body;
    if (b[0] !== FORMAT) throw new Error(`Event ${r.event_id} is stored in format ${String(b[0])}, which this version cannot read.`);
    const id = b.readUInt16BE(1);
    let dict = this.dicts.get(id);
    if (!dict) {
      this.reload();
      dict = this.dicts.get(id);
      if (!dict) throw new Error(`Event ${r.event_id} needs body dictionary ${id}, which the database does not hold.`);
    }
    const mask = b[3] as number;
    const e = JSON.parse(inflateRawSync(b.subarray(HEADER), { dictionary: dict, chunkSize: INFLATE_CHUNK }).toString('utf8')) as ActionTrailEvent;
    if (mask & ID) e.eventId = r.event_id;
    if (mask & NAME) e.eventName = r.event_name;
    if (mask & TIME) e.eventTime = new Date(r.event_time).toISOString();
    if (mask & IP) e.sourceIpAddress = r.source_ip as string;
    if (mask & USER) e.userIdentity.userName = r.user_name as string;
    if (mask & KEY) e.userIdentity.accessKeyId = r.access_key_id as string;
    return e;
  }
}
