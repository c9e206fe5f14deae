/** Shared builders for tests: realistic events without literals pasted around. */
import { finishEvent, newEvent } from '../../src/event/build.js';
import type { ActionTrailEvent, EventRW } from '../../src/event/types.js';

const NAMES: [string, EventRW][] = [
  ['ListJobs', 'Read'],
  ['GetJobDetails', 'Read'],
  ['CancelJob', 'Write'],
  ['TriggerSavepoint', 'Write'],
  ['UploadJar', 'Write'],
  ['RunJar', 'Write'],
];

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
      userIdentity: { type: 'ram-user', principalId: `p-${user}`, accountId: '1', userName: user, accessKeyId: `FTAK${user.toUpperCase()}` },
      requestId: `req-${i}`,
      time: new Date(start + i * (opts.stepMs ?? 1000)),
      referencedResources: { 'ACS::RealtimeCompute::Job': [jobId, `job-${i % 7}`] },
      additionalEventData: { sensitive: eventRW === 'Write', cluster: 'default' },
    });
    out.push(finishEvent(e, { outcome: 'success', httpStatus: 200 }));
  }
  return out;
}
