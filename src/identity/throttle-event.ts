/**
 * The event recorded when the sign-in throttle starts (or lengthens) a wait: `ThrottleSignIn`,
 * a FlinkTrail service event (`AliyunServiceEvent`) with the waiting address as its source and
 * the guessed identity as its user (HIDDEN_DUE_TO_SECURITY_REASONS when the name is unknown),
 * so that a lookup by address or user finds it beside the failed sign-ins that caused it.
 * Clearing a wait is recorded by the API route that does it (`UnlockSignIn`).
 */
import { serviceEvent } from '../event/build.js';
import type { ActionTrailEvent } from '../event/types.js';
import type { AuthenticatorOptions } from './authenticate.js';
import { SUBJECT_METHOD } from './rate-limit.js';

export type RecordableThrottleNotice = Parameters<NonNullable<AuthenticatorOptions['onThrottle']>>[0];

export function throttleEvent(n: RecordableThrottleNotice, where: { accountId: string; region: string }): ActionTrailEvent {
  return serviceEvent({
    eventName: 'ThrottleSignIn',
    acsRegion: where.region,
    sourceIpAddress: n.sourceIp,
    userAgent: '',
    userIdentity: {
      type: 'anonymous',
      principalId: 'anonymous',
      accountId: where.accountId,
      userName: n.userName,
      ...(n.accessKeyId ? { accessKeyId: n.accessKeyId } : {}),
    },
    requestParameters: {
      scope: n.scope,
      ...(n.subject ? { method: SUBJECT_METHOD[n.subject.kind] } : {}),
      failures: n.failures,
      waitSeconds: Math.ceil(n.waitMs / 1000),
    },
    additionalEventData: { sensitive: true },
  });
}
