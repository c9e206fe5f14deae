/**
 * What every page may need once signed in: the caller (and its account), the cluster list
 * (names, regions), the suggestion catalog and the accounts the caller may see. Loaded once per
 * sign-in; pages work (with fewer suggestions, account ids without names) when a part failed to
 * load or the caller may not list accounts.
 */
import type { Account, ClusterList, ConsoleCatalog, Session } from './api';

export interface Meta {
  session: Session;
  clusters?: ClusterList;
  catalog?: ConsoleCatalog;
  /** GET /api/v1/accounts (admins and auditors; the management account's see every account, a member's its own). */
  accounts?: Account[];
  /** Loads the accounts again (after the Accounts page created or deleted one). */
  reloadAccounts?: () => void;
}

/** True for the roles that may list accounts (`Actiontrail:ListAccounts`: admin, auditor). */
export function listsAccounts(session: Session): boolean {
  return session.role === 'admin' || session.role === 'auditor';
}

/** True for an admin of the management account: the only caller who manages accounts. */
export function managesAccounts(session: Session): boolean {
  return session.managementAccount === true && session.role === 'admin';
}

/**
 * An account's name when the console knows it, else its id. An event without
 * recipientAccountId (recorded before accounts) belongs to the management account.
 */
export function accountLabel(meta: Pick<Meta, 'accounts' | 'session'>, accountId: string | undefined): string {
  const found = meta.accounts?.find((a) => (accountId === undefined ? a.management : a.accountId === accountId));
  if (found) return found.name;
  if (accountId === undefined) return 'management';
  return accountId;
}

