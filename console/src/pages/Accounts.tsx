/**
 * Member accounts (GET/POST/DELETE /api/v1/accounts, docs/reference/accounts.md): the management
 * account's admins list them, create one (the API gives it a 16-digit id) and delete one. A
 * delete is refused (409 FT_ERR_ACCOUNT_IN_USE) while the account still owns users, clusters or
 * trails; the refusal names them and is shown as it is. Every change is a recorded, sensitive
 * event. Anyone else sees why the page is not theirs (the API would refuse them anyway).
 */
import { useEffect, useState } from 'preact/hooks';
import { api, type Account } from '../api';
import { ConfirmDelete } from '../components/ConfirmDelete';
import { Empty, ErrorNote, Loading } from '../components/States';
import { managesAccounts, type Meta } from '../meta';
import { formatTime, parseQuery, queryUrl } from '../query';
import { onLinkClick } from '../routes';

export function Accounts({ meta }: { meta: Meta }) {
  const allowed = managesAccounts(meta.session);
  const [accounts, setAccounts] = useState<Account[] | undefined>();
  const [loadError, setLoadError] = useState<unknown>();
  const [actionError, setActionError] = useState<unknown>();
  const [created, setCreated] = useState<Account | undefined>();
  const [notice, setNotice] = useState<string | undefined>();
  const [name, setName] = useState('');
  const [confirm, setConfirm] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const [reload, setReload] = useState(0);

  useEffect(() => {
    if (!allowed) return;
    setLoadError(undefined);
    api<{ Accounts: Account[] }>('/api/v1/accounts')
      .then((a) => setAccounts(a.Accounts))
      .catch((err: unknown) => setLoadError(err));
  }, [allowed, reload]);

  if (!allowed) {
    return (
      <section class="page" aria-labelledby="accounts-title">
        <div class="page-head">
          <h1 id="accounts-title">Accounts</h1>
        </div>
        <Empty title="Only the management account's admins manage accounts.">
          <p>
            You are signed in to account <code>{meta.session.accountId ?? '?'}</code> as {meta.session.role}. Ask a platform administrator to create or
            delete accounts (docs/reference/accounts.md).
          </p>
        </Empty>
      </section>
    );
  }

  const changed = () => {
    setConfirm(undefined);
    setReload((n) => n + 1);
    meta.reloadAccounts?.();
  };
  const create = async (e: Event) => {
    e.preventDefault();
    setActionError(undefined);
    setNotice(undefined);
    setCreated(undefined);
    setBusy(true);
    try {
      const a = await api<Account>('/api/v1/accounts', { method: 'POST', body: { name: name.trim() } });
      setCreated(a);
      setName('');
      changed();
    } catch (err) {
      setActionError(err);
    } finally {
      setBusy(false);
    }
  };
  const remove = async (a: Account) => {
    setActionError(undefined);
    setNotice(undefined);
    setCreated(undefined);
    try {
      await api(`/api/v1/accounts/${encodeURIComponent(a.accountId)}`, { method: 'DELETE' });
      setNotice(`Account ${a.name} (${a.accountId}) was deleted. Its events stay, readable by the management account.`);
      changed();
    } catch (err) {
      setConfirm(undefined);
      setActionError(err);
    }
  };

  return (
    <section class="page" aria-labelledby="accounts-title">
      <div class="page-head">
        <h1 id="accounts-title">Accounts</h1>
      </div>
      <p class="muted">
        Each team gets a member account: its users, AccessKeys, clusters (<code>clusters[].account</code> in the configuration) and trails belong to it,
        and it sees its own events only. The management account sees every account.
      </p>
      <form class="inline-form" aria-label="Create an account" onSubmit={(e) => void create(e)}>
        <label for="na-name">Account name</label>
        <input id="na-name" value={name} required maxLength={64} onInput={(e) => setName(e.currentTarget.value)} />
        <button type="submit" class="btn btn-primary" disabled={busy}>
          Create account
        </button>
      </form>
      {created && (
        <div class="notice" role="status">
          <p>
            Account <strong>{created.name}</strong> was created with id <code data-testid="new-account-id">{created.accountId}</code>.
          </p>
          <p class="small">
            Next: give its cluster <code>account: "{created.accountId}"</code> in the configuration, and create its admin under Users &amp; keys (account{' '}
            {created.name}).
          </p>
        </div>
      )}
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      {actionError ? <ErrorNote error={actionError} what="the account" /> : null}
      {loadError ? (
        <ErrorNote error={loadError} what="the accounts" onRetry={() => setReload((n) => n + 1)} />
      ) : !accounts ? (
        <Loading label="Loading accounts…" />
      ) : (
        <div class="table-wrap">
          <table class="accounts-table">
            <caption class="offscreen">Accounts: the management account, then every member account.</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Account ID</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span class="offscreen">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {accounts.map((a) => {
                const events = queryUrl({ ...parseQuery(new URLSearchParams()), accountId: a.accountId });
                return (
                  <tr key={a.accountId} data-account={a.accountId}>
                    <td data-label="Name">
                      <strong>{a.name}</strong> {a.management ? <span class="badge">management</span> : null}
                      {a.accountId === meta.session.accountId ? <span class="muted small"> (yours)</span> : null}
                    </td>
                    <td data-label="Account ID">
                      <code>{a.accountId}</code>
                    </td>
                    <td data-label="Created" class="small">
                      {a.createdAt ? formatTime(a.createdAt) : <span class="muted">configuration</span>}
                    </td>
                    <td data-label="Actions" class="row-actions">
                      <a class="btn" href={events} onClick={(e) => onLinkClick(e, events)}>
                        Events
                      </a>
                      {a.management ? null : <ConfirmDelete id={a.accountId} what={a.name} open={confirm} setOpen={setConfirm} label={`Delete ${a.name}`} onDelete={() => void remove(a)} />}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
