/**
 * How an event's record is stored compactly, by either event store: compressed with a preset
 * dictionary, without the values its own columns already hold. The SQLite store keeps the result
 * in `events.body` (sqlite/body-codec.ts), the PostgreSQL store in `events.body_z`
 * (postgres/body-codec.ts); each keeps its dictionaries in its own database (`event_dictionaries`)
 * and says, per field, whether its column reproduces a value exactly.
 *
 * A record is ~1 KB of JSON, most of it the same field names and values in every event, and
 * too short for a compressor to find that repetition within one record. Deflate with a preset
 * dictionary (typical records, `seedDictionary`) finds it there and stores a record in ~200 B.
 * The dictionaries are versioned and kept in the database, so a row written with one stays
 * readable whatever a later version ships.
 *
 * Values the row holds in its own columns anyway (eventId, eventTime, userName, accessKeyId,
 * sourceIpAddress, eventName) are left out of the compressed text — their keys stay, holding 0,
 * so the record decodes with its fields in the original order — and are put back from the
 * columns on read. Only a value the column reproduces exactly is left out; a bit per field in
 * the header says which were.
 *
 * Format: byte 0 the format (1), bytes 1–2 the dictionary id (big-endian), byte 3 the mask of
 * left-out fields, then the record's JSON, deflated raw with that dictionary.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { ActionTrailEvent } from '../event/types.js';

const FORMAT = 1;
const HEADER = 4;
/** Compression level: 6 stores ~8 % less than 1 for about the same time with a dictionary. */
const LEVEL = 6;
/** Output buffer of one inflate: most records fit (the default, 16 KB, costs more to allocate per row). */
const INFLATE_CHUNK = 4096;

/** The columns a compressed body is decoded against (as both stores name them). */
export interface BodyColumns {
  event_id: string;
  event_time: number;
  user_name: string | null;
  access_key_id: string | null;
  source_ip: string | null;
  event_name: string;
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
 * The stored body of `e`: compressed with dictionary `dictId` (`dict`), column values left out.
 * `exact(v)` says whether a text column holds the string `v` as it is (a store that must alter
 * some strings keeps those in the body instead); the time column always reproduces an ISO time.
 */
export function encodeBody(e: ActionTrailEvent, dictId: number, dict: Buffer, exact: (v: string) => boolean = () => true): Buffer {
  let mask = 0;
  const out: Record<string, unknown> = { ...e };
  if (exact(e.eventId)) {
    mask |= ID;
    out['eventId'] = 0;
  }
  if (exact(e.eventName)) {
    mask |= NAME;
    out['eventName'] = 0;
  }
  if (new Date(Date.parse(e.eventTime)).toISOString() === e.eventTime) {
    mask |= TIME;
    out['eventTime'] = 0;
  }
  if (typeof e.sourceIpAddress === 'string' && e.sourceIpAddress !== '' && exact(e.sourceIpAddress)) {
    mask |= IP;
    out['sourceIpAddress'] = 0;
  }
  const u = e.userIdentity as unknown as Record<string, unknown> | undefined;
  if (u && typeof u === 'object') {
    const id: Record<string, unknown> = { ...u };
    if (typeof u['userName'] === 'string' && u['userName'] !== '' && exact(u['userName'])) {
      mask |= USER;
      id['userName'] = 0;
    }
    if (typeof u['accessKeyId'] === 'string' && exact(u['accessKeyId'])) {
      mask |= KEY;
      id['accessKeyId'] = 0;
    }
    out['userIdentity'] = id;
  }
  const packed = deflateRawSync(JSON.stringify(out), { level: LEVEL, dictionary: dict });
  const body = Buffer.allocUnsafe(HEADER + packed.length);
  body[0] = FORMAT;
  body.writeUInt16BE(dictId, 1);
  body[3] = mask;
  packed.copy(body, HEADER);
  return body;
}

/** The dictionary id a compressed body was written with (after checking its format). */
export function bodyDictionary(eventId: string, b: Buffer): number {
  if (b[0] !== FORMAT) throw new Error(`Event ${eventId} is stored in format ${String(b[0])}, which this version cannot read.`);
  return b.readUInt16BE(1);
}

/** The record of compressed body `b`, its left-out values put back from the row's columns. */
export function decodeBody(r: BodyColumns, b: Buffer, dict: (id: number) => Buffer | undefined): ActionTrailEvent {
  const id = bodyDictionary(r.event_id, b);
  const d = dict(id);
  if (!d) throw new Error(`Event ${r.event_id} needs body dictionary ${id}, which the database does not hold.`);
  const mask = b[3] as number;
  const e = JSON.parse(inflateRawSync(b.subarray(HEADER), { dictionary: d, chunkSize: INFLATE_CHUNK }).toString('utf8')) as ActionTrailEvent;
  if (mask & ID) e.eventId = r.event_id;
  if (mask & NAME) e.eventName = r.event_name;
  if (mask & TIME) e.eventTime = new Date(r.event_time).toISOString();
  if (mask & IP) e.sourceIpAddress = r.source_ip as string;
  if (mask & USER) e.userIdentity.userName = r.user_name as string;
  if (mask & KEY) e.userIdentity.accessKeyId = r.access_key_id as string;
  return e;
}
