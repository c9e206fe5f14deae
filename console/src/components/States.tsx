/**
 * Loading, empty and error states. Each says what is happening and what to do next: an error
 * names its code (for the logs and the docs, docs/reference/errors.md) and a way forward.
 */
import type { ComponentChildren } from 'preact';
import { ApiError } from '../api';

export function Loading({ label }: { label: string }) {
  return (
    <div class="state state-loading" role="status" aria-live="polite">
      <span class="spinner" aria-hidden="true" />
      {label}
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="state state-empty" role="status">
      <p class="state-title">{title}</p>
      {children}
    </div>
  );
}

/** What to do about an error, by code. */
export function advice(err: unknown, what: string): string {
  if (!(err instanceof ApiError)) return `Something went wrong while loading ${what}. Reload the page; if it persists, check the FlinkTrail logs.`;
  if (err.status === 0) return err.message;
  switch (err.code) {
    case 'NoPermission':
      return `Your role may not see ${what}. Ask an administrator for the auditor role, or for a policy that allows it (docs/reference/access-control.md).`;
    case 'FT_ERR_AUTH_CSRF':
      return 'The session token did not match. Reload the page and try again.';
    case 'FT_ERR_QUERY_TIME_RANGE':
      return 'Fix the time range (the end must be after the start) and search again.';
    case 'FT_ERR_QUERY_INVALID_PARAMETER':
    case 'FT_ERR_QUERY_UNKNOWN_PARAMETER':
      return 'Fix or remove the condition named above and search again.';
    case 'FT_ERR_ACCOUNT_IN_USE':
      return 'Delete or move what the account still owns (named above) first: its users and trails, and its clusters in the configuration (clusters[].account). Its events stay.';
    case 'FT_ERR_ACCOUNT_DENIED':
      return 'Only the management account may do this, or see another account. Sign in with a management account user.';
    case 'FT_ERR_ACCOUNT_EXISTS':
      return 'Account names are unique: pick another name, or use the existing account.';
    case 'FT_ERR_QUERY_BAD_TOKEN':
      return 'The query changed since the last page was loaded. Search again from the first page.';
    default:
      if (err.status === 401) return 'Your session has ended. Sign in again.';
      if (err.status === 404) return `The ${what} no longer exists. Go back to the list and reload it.`;
      if (err.status >= 500) return 'FlinkTrail could not answer. Retry in a moment; if it persists, check its logs with the request id below.';
      return 'Correct the input and try again.';
  }
}

export function ErrorNote({ error, what, onRetry }: { error: unknown; what: string; onRetry?: () => void }) {
  const e = error instanceof ApiError ? error : undefined;
  return (
    <div class="state state-error" role="alert">
      <p class="state-title">{e ? e.message : String((error as Error)?.message ?? error)}</p>
      <p>{advice(error, what)}</p>
      {e && e.code !== 'NetworkError' && (
        <p class="muted small">
          Code <code>{e.code}</code>
          {e.requestId ? (
            <>
              {' '}
              · request <code>{e.requestId}</code>
            </>
          ) : null}
        </p>
      )}
      {onRetry && (
        <button type="button" class="btn" onClick={onRetry}>
          Retry
        </button>
      )}
    </div>
  );
}
