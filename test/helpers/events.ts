/** Shared builders for tests: realistic events without literals pasted around. */
import { configSchema } from '../../src/config/index.js';
import { finishEvent, newEvent } from '../../src/event/build.js';
import type { ActionTrailEvent, EventRW, Outcome } from '../../src/event/types.js';

const NAMES: [string, EventRW][] = [
  ['ListJobs', 'Read'],
  ['GetJobDetails', 'Read'],
  ['CancelJob', 'Write'],
  ['TriggerSavepoint', 'Write'],
  ['UploadJar', 'Write'],
  ['RunJar', 'Write'],
];

/**
 * The account the builders' events belong to (`userIdentity.accountId`, hence
 * `recipientAccountId`): the management account of a FlinkTrail with the default `accountId`, so
 * that they are the management account's events there, as a gateway of that FlinkTrail would
 * record them. A test of another account sets `recipientAccountId` (and the caller's) itself.
 */
export const MANAGEMENT_ACCOUNT: string = configSchema.properties.accountId.default;

export interface NewEventsOptions {
  start?: number;
  stepMs?: number;
  users?: string[];
}

/** `n` events, one every `stepMs` from `start`, cycling through names and users. */
export function newEvents(n: number, opts: NewEventsOptions = {}): ActionTrailEvent[] {
  const start = opts.start ?? Date.now() - n * 1000;
  const users = opts.users ?? ['alice', 'bob', 'carol'];
  const out: ActionTrailEvent[] = [];
  for (let i = 0; i < n; i++) {
    const [eventName, eventRW] = NAMES[i % NAMES.length] as [string, EventRW];
    const user = users[i % users.length] as string;
    const jobId = (i % 7).toString(16).padStart(32, '0');
    const e = newEvent({
      eventName,
      eventRW,
      eventType: 'ApiCall',
      eventSource: 'flink-jobmanager',
      serviceName: 'RealtimeCompute',
      acsRegion: i % 2 ? 'cn-hangzhou' : 'local',
      sourceIpAddress: `10.0.0.${i % 5}`,
      userAgent: 'test',
      userIdentity: { type: 'ram-user', principalId: `p-${user}`, accountId: MANAGEMENT_ACCOUNT, userName: user, accessKeyId: `FTAK${user.toUpperCase()}` },
      requestId: `req-${i}`,
      time: new Date(start + i * (opts.stepMs ?? 1000)),
      referencedResources: { 'ACS::RealtimeCompute::Job': [jobId, `job-${i % 7}`] },
      additionalEventData: { sensitive: eventRW === 'Write', cluster: 'default' },
    });
    out.push(finishEvent(e, { outcome: 'success', httpStatus: 200 }));
  }
  return out;
}

export interface GatewayCall {
  name?: string;
  rw?: EventRW;
  user?: string;
  principalId?: string;
  type?: ActionTrailEvent['userIdentity']['type'];
  cluster?: string;
  source?: string;
  outcome?: Exclude<Outcome, 'pending'>;
  ingested?: boolean;
}

/** One finished gateway call as the recorder gets it, with parameters and response elements (for audit policy tests). */
export function gatewayCall(c: GatewayCall = {}): ActionTrailEvent {
  const e = newEvent({
    eventName: c.name ?? 'GetJobsOverview',
    eventRW: c.rw ?? 'Read',
    eventType: 'ApiCall',
    eventSource: c.source ?? 'flink-jobmanager',
    serviceName: 'RealtimeCompute',
    acsRegion: 'local',
    sourceIpAddress: '10.0.0.7',
    userAgent: 'Mozilla/5.0',
    userIdentity: { type: c.type ?? 'ram-user', principalId: c.principalId ?? 'p-alice', accountId: MANAGEMENT_ACCOUNT, userName: c.user ?? 'alice' },
    requestId: 'r1',
    requestParameters: { mode: 'cancel' },
    additionalEventData: { sensitive: false, ...(c.cluster !== undefined ? { cluster: c.cluster } : { cluster: 'prod' }), ...(c.ingested ? { ingestedBy: { userName: 'ci' } } : {}) },
  });
  return finishEvent(e, {
    outcome: c.outcome ?? 'success',
    httpStatus: c.outcome === 'failure' ? 403 : 200,
    responseElements: { jobid: 'abc' },
    ...(c.outcome === 'failure' ? { errorCode: 'NoPermission', errorMessage: 'no' } : {}),
  });
}
