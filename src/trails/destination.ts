/**
 * Destination URLs: parsing, validation and redaction.
 *
 *     s3://bucket/prefix?endpoint=http://127.0.0.1:18080&region=us-east-1&accessKeyId=…&secretAccessKey=…
 *     kafka://host:port[,host:port…]/topic
 *     kafka+ssl://host:port/topic?ca=/path/ca.pem
 *     kafka+sasl_ssl://host:port/topic?mechanism=SCRAM-SHA-512&username=…&password=…&ca=/path/ca.pem
 *     syslog+tcp://host:port          syslog+tls://host:port?ca=/path/ca.pem
 *     relp://host:port                relp+tls://host:port?ca=/path/ca.pem&cert=/path/c.pem&key=/path/k.pem
 *     file:///absolute/dir            local   (= file://<trails.localDir>)
 *
 * The stored URL keeps credentials (the destination needs them), sealed with the master key
 * (repository.ts, src/secrets/); every URL that leaves the process — API answers, audit events,
 * logs, digest files — is the redacted `display` form, where credential values (S3 keys, the
 * Kafka SASL password) are `******`. UpdateTrail accepts a redacted URL back and keeps the
 * stored secret, so a console can round-trip DescribeTrails output. A credential may instead be
 * a reference — `secretAccessKey=env:S3_SECRET`, `password=file:/run/secrets/kafka` — stored and
 * shown as it is, and read only when the sink connects (`resolveCredentials` for S3; the Kafka
 * sink on every (re)connection).
 */
import { isAbsolute, normalize } from 'node:path';
import { FlinkTrailError } from '../errors/index.js';
import { isReference, resolveSecret } from '../secrets/index.js';
import { KAFKA_SASL_MECHANISMS, type KafkaSaslMechanism, type KafkaSecurityOptions } from '../kafka/connection.js';

/**
 * The kinds of destination.
 * - `s3`: an S3-compatible bucket (files in ActionTrail's OSS layout, digests).
 * - `file`: a local directory with the same layout as the bucket.
 * - `kafka`: a Kafka topic, one JSON event per record, key = eventId.
 * - `syslog`: RFC 5424 over TCP or TLS, octet-counted framing.
 * - `relp`: the same RFC 5424 messages over RELP (plain or TLS): each one acknowledged by the receiver.
 */
export const DESTINATION_KINDS = ['s3', 'file', 'kafka', 'syslog', 'relp'] as const;
export type DestinationKind = (typeof DESTINATION_KINDS)[number];

export const REDACTED = '******';

export interface S3Options {
  bucket: string;
  prefix: string;
  endpoint?: string;
  region: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  forcePathStyle: boolean;
  /** AWS SDK v3 checksum mode; `WHEN_REQUIRED` for local S3 servers (Swift, MinIO, S3Proxy). */
  checksums: 'WHEN_REQUIRED' | 'WHEN_SUPPORTED';
}

/** SASL mechanisms a Kafka destination can authenticate with (always over TLS). */

export interface KafkaOptions extends KafkaSecurityOptions {
  topic: string;
  clientId: string;
}

export interface SyslogOptions {
  host: string;
  port: number;
  tls: boolean;
  ca?: string;
  /** RFC 5424 facility number (default 13, "log audit"). */
  facility: number;
  appName: string;
}

export interface RelpOptions extends SyslogOptions {
  /** TLS client certificate and key files (relp+tls, for receivers that require one). */
  cert?: string;
  key?: string;
  /** Messages sent before waiting for acknowledgements (RELP's window). */
  window: number;
}

export interface FileOptions {
  dir: string;
}

export interface Destination {
  kind: DestinationKind;
  /** Canonical URL with credentials: stored, never shown. */
  url: string;
  /** The URL with credentials replaced by `******`: what users, events and logs see. */
  display: string;
  s3?: S3Options;
  kafka?: KafkaOptions;
  syslog?: SyslogOptions;
  relp?: RelpOptions;
  file?: FileOptions;
}

/** Whether a destination receives files (and so digests) rather than a stream of records. */
export function isObjectDestination(d: Pick<Destination, 'kind'>): boolean {
  return d.kind === 's3' || d.kind === 'file';
}

const SECRET_PARAMS = new Set(['accessKeyId', 'secretAccessKey', 'sessionToken', 'password']);
const S3_PARAMS = new Set(['endpoint', 'region', 'accessKeyId', 'secretAccessKey', 'sessionToken', 'forcePathStyle', 'checksums']);
const SYSLOG_PARAMS = new Set(['ca', 'facility', 'appName']);
const RELP_PARAMS = new Set(['facility', 'appName', 'window']);
const RELP_TLS_PARAMS = new Set([...RELP_PARAMS, 'ca', 'cert', 'key']);
const KAFKA_PARAMS = new Set(['clientId']);
const KAFKA_SSL_PARAMS = new Set(['clientId', 'ca']);
const KAFKA_SASL_PARAMS = new Set(['clientId', 'ca', 'mechanism', 'username', 'password']);
const FACILITIES: Record<string, number> = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9, authpriv: 10, ftp: 11,
  ntp: 12, audit: 13, alert: 14, clock: 15, local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21,
  local6: 22, local7: 23,
};

export interface ParseOptions {
  localDir: string;
  existing?: readonly Destination[];
}

/** Redacts credentials in any destination-looking URL string (for error messages). */
export function redactUrl(raw: string): string {
  return raw
    .replace(/(accessKeyId|secretAccessKey|sessionToken|password)=([^&#]*)/gi, `$1=${REDACTED}`)
    .replace(/\/\/([^/@:]*):([^/@]*)@/, `//$1:${REDACTED}@`);
}

function bad(raw: string, why: string): FlinkTrailError {
  return new FlinkTrailError('FT_ERR_TRAIL_INVALID_DESTINATION', redactUrl(raw.slice(0, 512)), why);
}

function hostPort(raw: string, spec: string, defaultPort?: number): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(spec);
  if (!m) throw bad(raw, `bad host:port '${spec}'`);
  const port = m[2] !== undefined ? Number(m[2]) : defaultPort;
  if (port === undefined || port < 1 || port > 65535) throw bad(raw, 'a port (1-65535) is required');
  return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port };
}

function query(raw: string, search: string, allowed: Set<string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of new URLSearchParams(search)) {
    if (!allowed.has(k)) throw bad(raw, `unknown option '${k}'${allowed.size ? ` (known: ${[...allowed].join(', ')})` : ''}`);
    out.set(k, v);
  }
  return out;
}

function canonicalQuery(params: Map<string, string>, redact: boolean): string {
  const keys = [...params.keys()].sort();
  if (!keys.length) return '';
  const q = new URLSearchParams();
  for (const k of keys) {
    const v = params.get(k) as string;
    q.set(k, redact && SECRET_PARAMS.has(k) && !isReference(v) ? 'REDACTED_VALUE' : v);
  }
  return `?${q.toString().replace(/REDACTED_VALUE/g, REDACTED)}`;
}

/**
 * The destination with S3 credential references (`env:NAME`, `file:/path`) replaced by what they
 * point at. The Kafka SASL password stays a reference: the sink reads it on every (re)connection.
 */
export function resolveCredentials<D extends Destination>(d: D): D {
  if (!d.s3) return d;
  const s3 = { ...d.s3 };
  for (const k of ['accessKeyId', 'secretAccessKey', 'sessionToken'] as const) {
    const v = s3[k];
    if (v !== undefined) s3[k] = resolveSecret(v);
  }
  return { ...d, s3 };
}

function absoluteFile(raw: string, q: Map<string, string>, key: string): string | undefined {
  const v = q.get(key);
  if (v !== undefined && !isAbsolute(v)) throw bad(raw, `${key} is an absolute file path`);
  return v;
}

/** kafka://, kafka+ssl:// (TLS) and kafka+sasl_ssl:// (TLS + SASL PLAIN or SCRAM). */
function parseKafka(raw: string, scheme: string, authority: string, path: string, search: string): Destination {
  const brokers = authority.split(',').map((b) => {
    const hp = hostPort(raw, b, 9092);
    return `${hp.host.includes(':') ? `[${hp.host}]` : hp.host}:${hp.port}`;
  });
  const topic = decodeURIComponent(path.replace(/^\//, ''));
  if (!/^[A-Za-z0-9._-]{1,249}$/.test(topic) || topic === '.' || topic === '..') throw bad(raw, 'a topic name (letters, digits, . _ -) is required');
  const q = query(raw, search, scheme === 'kafka' ? KAFKA_PARAMS : scheme === 'kafka+ssl' ? KAFKA_SSL_PARAMS : KAFKA_SASL_PARAMS);
  const kafka: KafkaOptions = { brokers, topic, clientId: q.get('clientId') ?? 'flinktrail' };
  if (scheme !== 'kafka') {
    const ca = absoluteFile(raw, q, 'ca');
    kafka.tls = ca ? { ca } : {};
  }
  if (scheme === 'kafka+sasl_ssl') {
    const mechanism = (q.get('mechanism') ?? 'SCRAM-SHA-512').toUpperCase();
    if (!(KAFKA_SASL_MECHANISMS as readonly string[]).includes(mechanism)) throw bad(raw, `mechanism is one of ${KAFKA_SASL_MECHANISMS.join(', ')}`);
    const username = q.get('username');
    const password = q.get('password');
    if (!username || !password) throw bad(raw, 'kafka+sasl_ssl needs username and password (password may be env:NAME or file:/path)');
    if (/^(env|file):/.test(password) && !isReference(password)) throw bad(raw, 'a password reference is env:NAME or file:/absolute/path');
    if (q.has('mechanism')) q.set('mechanism', mechanism);
    kafka.sasl = { mechanism: mechanism as KafkaSaslMechanism, username, password };
  }
  const base = `${scheme}://${brokers.join(',')}/${topic}`;
  return { kind: 'kafka', url: `${base}${canonicalQuery(q, false)}`, display: `${base}${canonicalQuery(q, true)}`, kafka };
}

/** syslog+tcp://, syslog+tls://, relp:// and relp+tls://: the same RFC 5424 messages, different transports. */
function parseSyslog(raw: string, scheme: string, authority: string, path: string, search: string): Destination {
  if (path !== '' && path !== '/') throw bad(raw, 'syslog destinations have no path');
  const relp = scheme.startsWith('relp');
  const tls = scheme.endsWith('+tls');
  const hp = hostPort(raw, authority, relp ? 2514 : undefined);
  const q = query(raw, search, relp ? (tls ? RELP_TLS_PARAMS : RELP_PARAMS) : SYSLOG_PARAMS);
  const ca = q.get('ca');
  if (ca !== undefined && (!tls || !isAbsolute(ca))) throw bad(raw, 'ca is an absolute file path, for +tls destinations only');
  const fac = q.get('facility') ?? 'audit';
  const facility = /^\d+$/.test(fac) ? Number(fac) : FACILITIES[fac];
  if (facility === undefined || facility > 23) throw bad(raw, 'facility is 0-23 or a name such as audit, local0');
  const appName = q.get('appName') ?? 'flinktrail';
  if (!/^[!-~]{1,48}$/.test(appName)) throw bad(raw, 'appName is 1-48 printable ASCII characters');
  const url = `${scheme}://${hp.host.includes(':') ? `[${hp.host}]` : hp.host}:${hp.port}${canonicalQuery(q, false)}`;
  const syslog: SyslogOptions = { host: hp.host, port: hp.port, tls, facility, appName, ...(ca ? { ca } : {}) };
  if (!relp) return { kind: 'syslog', url, display: url, syslog };
  const cert = absoluteFile(raw, q, 'cert');
  const key = absoluteFile(raw, q, 'key');
  if ((cert === undefined) !== (key === undefined)) throw bad(raw, 'cert and key go together');
  const w = q.get('window') ?? '128';
  if (!/^\d{1,4}$/.test(w) || Number(w) < 1 || Number(w) > 1024) throw bad(raw, 'window is 1-1024');
  return { kind: 'relp', url, display: url, relp: { ...syslog, window: Number(w), ...(cert && key ? { cert, key } : {}) } };
}

/** Parses and validates a destination URL; throws FT_ERR_TRAIL_INVALID_DESTINATION. */
export function parseDestination(input: string, opts: ParseOptions): Destination {
  const raw = input.trim();
  if (raw.length > 4096) throw bad(raw, 'longer than 4096 characters');
  if (raw === 'local') return parseDestination(`file://${opts.localDir}`, opts);
  const m = /^([a-z0-9+_]+):\/\/([^/?#]*)([^?#]*)(\?[^#]*)?$/.exec(raw);
  if (!m) throw bad(raw, 'expected s3://, kafka[+ssl|+sasl_ssl]://, syslog+tcp://, syslog+tls://, relp[+tls]://, file:// or local');
  const [, scheme = '', authority = '', path = '', search = ''] = m;
  let d: Destination;
  switch (scheme) {
    case 's3': {
      if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(authority)) throw bad(raw, 'a bucket name of 3-63 lowercase letters, digits, dots and dashes is required');
      const prefix = decodeURIComponent(path).replace(/^\/+|\/+$/g, '');
      if (prefix.length > 256 || !/^[A-Za-z0-9/_.-]*$/.test(prefix) || prefix.split('/').some((s) => s === '..' || s === '.' || (s === '' && prefix !== ''))) {
        throw bad(raw, 'the prefix may have letters, digits, / _ . - only');
      }
      const q = query(raw, search, S3_PARAMS);
      const endpoint = q.get('endpoint');
      if (endpoint !== undefined && !/^https?:\/\/[^\s]+$/.test(endpoint)) throw bad(raw, 'endpoint must be an http(s) URL');
      const checksums = (q.get('checksums') ?? (endpoint ? 'when_required' : 'when_supported')).toLowerCase();
      if (checksums !== 'when_required' && checksums !== 'when_supported') throw bad(raw, 'checksums must be when_required or when_supported');
      const fps = q.get('forcePathStyle');
      if (fps !== undefined && fps !== 'true' && fps !== 'false') throw bad(raw, 'forcePathStyle must be true or false');
      if ((q.get('accessKeyId') === undefined) !== (q.get('secretAccessKey') === undefined)) throw bad(raw, 'accessKeyId and secretAccessKey go together');
      const s3: S3Options = {
        bucket: authority,
        prefix,
        region: q.get('region') ?? 'us-east-1',
        forcePathStyle: fps === undefined ? endpoint !== undefined : fps === 'true',
        checksums: checksums === 'when_required' ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED',
        ...(endpoint ? { endpoint: endpoint.replace(/\/+$/, '') } : {}),
        ...(q.get('accessKeyId') ? { accessKeyId: q.get('accessKeyId') } : {}),
        ...(q.get('secretAccessKey') ? { secretAccessKey: q.get('secretAccessKey') } : {}),
        ...(q.get('sessionToken') ? { sessionToken: q.get('sessionToken') } : {}),
      };
      const base = `s3://${authority}${prefix ? `/${prefix}` : ''}`;
      d = { kind: 's3', url: `${base}${canonicalQuery(q, false)}`, display: `${base}${canonicalQuery(q, true)}`, s3 };
      break;
    }
    case 'kafka':
    case 'kafka+ssl':
    case 'kafka+sasl_ssl':
      d = parseKafka(raw, scheme, authority, path, search);
      break;
    case 'syslog+tcp':
    case 'syslog+tls':
    case 'relp':
    case 'relp+tls':
      d = parseSyslog(raw, scheme, authority, path, search);
      break;
    case 'file': {
      if (authority !== '' && authority !== 'localhost') throw bad(raw, 'file URLs name a local directory: file:///absolute/path');
      const dir = normalize(decodeURIComponent(path)).replace(/\/+$/, '') || '/';
      if (!isAbsolute(dir) || dir === '/') throw bad(raw, 'an absolute directory other than / is required');
      query(raw, search, new Set());
      const url = `file://${dir}`;
      d = { kind: 'file', url, display: url, file: { dir } };
      break;
    }
    default:
      throw bad(raw, `unknown scheme '${scheme}'; expected s3, kafka, kafka+ssl, kafka+sasl_ssl, syslog+tcp, syslog+tls, relp, relp+tls or file`);
  }
  if (raw.includes(REDACTED)) {
    // A redacted URL sent back (from DescribeTrails): keep the stored credentials.
    const same = opts.existing?.find((e) => e.display === d.display);
    if (!same) throw bad(raw, 'contains redacted credentials that match no stored destination; give the credentials');
    return same;
  }
  return d;
}
