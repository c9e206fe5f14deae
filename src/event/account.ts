/**
 * Which account an event and a caller belong to. Every event belongs to one account (its
 * `recipientAccountId`); events recorded before accounts existed carry none and belong to the
 * management account, as does a caller with no account of its own (docs/reference/accounts.md).
 */
import type { ActionTrailEvent } from './types.js';

/** The account `e` belongs to. */
export function eventAccount(e: Pick<ActionTrailEvent, 'recipientAccountId'>, managementAccountId: string): string {
  return e.recipientAccountId ?? managementAccountId;
}

/** The account of a caller (a Principal), the management account when it names none. */
export function callerAccount(p: { accountId?: string } | undefined, managementAccountId: string): string {
  return p?.accountId ?? managementAccountId;
}
