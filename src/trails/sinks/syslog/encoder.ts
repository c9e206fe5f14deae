/**
 * The syslog message of an event, shared by the syslog and RELP destinations: RFC 5424 with the
 * fields SIEM rules key on as structured data and the full ActionTrail record as the message:
 *
 *     <PRI>1 2026-11-25T11:09:10.123Z host flinktrail 4242 CancelJob [flinktrail@32473 eventId="…" eventRW="Write" …] BOM{…event JSON…}
 *
 * PRI = facility × 8 + severity: notice (5) for writes, info (6) for reads, warning (4) for
 * failed operations. MSGID is the event name. 32473 is the private enterprise number RFC 5612
 * sets aside for documentation and examples.
 */
import { hostname } from 'node:os';
import type { ActionTrailEvent } from '../../../event/types.js';
import type { SyslogOptions } from '../../destination.js';

const BOM = '\uFEFF';

function ascii(s: string, max: number): string {
  const clean = s.replace(/[^!-~]/g, '_').slice(0, max);
  return clean === '' ? '-' : clean;
}

function sdValue(s: string): string {
  return s.replace(/[\\"\]]/g, (c) => `\\${c}`);
}

export function severityOf(e: ActionTrailEvent): number {
  if (e.errorCode) return 4;
  return e.eventRW === 'Write' ? 5 : 6;
}

/** One RFC 5424 message (without framing). */
export function formatRfc5424(e: ActionTrailEvent, o: Pick<SyslogOptions, 'facility' | 'appName'>, host = hostname(), pid = process.pid): string {
  const pri = o.facility * 8 + severityOf(e);
  const sd: [string, string][] = [
    ['eventId', e.eventId],
    ['eventRW', e.eventRW],
    ['eventType', e.eventType],
    ['serviceName', e.serviceName],
    ['acsRegion', e.acsRegion],
    ['userName', e.userIdentity.userName],
    ['sourceIpAddress', e.sourceIpAddress],
    ['outcome', String(e.additionalEventData.outcome)],
  ];
  const params = sd.map(([k, v]) => `${k}="${sdValue(v)}"`).join(' ');
  return `<${pri}>1 ${e.eventTime} ${ascii(host, 255)} ${ascii(o.appName, 48)} ${pid} ${ascii(e.eventName, 32)} [flinktrail@32473 ${params}] ${BOM}${JSON.stringify(e)}`;
}

/** Octet-counted framing: `<length> <message>`, length in bytes. */
export function frame(message: string): Buffer {
  const body = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length} `, 'ascii'), body]);
}
