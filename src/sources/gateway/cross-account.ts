/**
 * Clusters belong to accounts (`clusters[].account`, else the management account), and so do the
 * events of the calls made to them. A member account's principal reaches only its own account's
 * clusters; the management account's principals operate the platform and reach every cluster.
 * A refused cross-account call is recorded in both accounts, as CloudTrail records a
 * cross-account call: two events, identical but for `eventId` and `recipientAccountId`, so the
 * cluster's owner sees who knocked, and the caller's account sees what its principal tried.
 */
import { randomUUID } from 'node:crypto';
import type { ActionTrailEvent } from '../../event/types.js';

/** Whether a caller of `caller` account may reach a cluster of `cluster` account. */
export function mayReach(caller: string, cluster: string, managementAccountId: string): boolean {
  return caller === cluster || caller === managementAccountId;
}

/**
 * The event as recorded in each account it concerns: `event` itself (in its
 * `recipientAccountId`), and, when `alsoIn` is another account, a copy there with its own id.
 */
export function inEachAccount(event: ActionTrailEvent, alsoIn: string | undefined): ActionTrailEvent[] {
  if (alsoIn === undefined || alsoIn === event.recipientAccountId) return [event];
  return [event, { ...event, eventId: randomUUID(), recipientAccountId: alsoIn }];
}
