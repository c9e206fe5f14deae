/**
 * Users, AccessKeys and policies (GET/POST/PATCH/DELETE /api/v1/users, /api/v1/keys,
 * /api/v1/policies). Every change here is itself a recorded, sensitive FlinkTrail event. A new
 * or rotated AccessKey secret is shown once, as the API returns it once.
 */
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { copyText } from '../components/EventDetails';
import { ConfirmDelete } from '../components/ConfirmDelete';
import { Empty, ErrorNote, Loading } from '../components/States';
import { accountLabel, managesAccounts, type Meta } from '../meta';
import { formatTime } from '../query';

const ROLES = ['viewer', 'operator', 'developer', 'admin', 'auditor'] as const;
const ROLE_HELP: Record<string, string> = {
  viewer: 'read Flink',
  operator: '+ logs, cancel, savepoints',
  developer: '+ submit jobs',
  admin: 'everything',
  auditor: 'read the audit trail only',
};

interface User {
  userName: string;
  accountId: string;
  role: string;
  disabled: boolean;
  hasPassword: boolean;
  email: string | null;
  source: string;
  createdAt: string;
  policies: string[];
}
interface Key {
  accessKeyId: string;
  userName: string;
  status: 'Active' | 'Inactive';
  createdAt: string;
  lastUsedAt: string | null;
  lastUsedIp: string | null;
}
interface Policy {
  name: string;
  description: string;
  document: unknown;
  updatedAt: string;
}

type Tab = 'users' | 'keys' | 'policies';

function Secret({ secret, onDismiss }: { secret: { accessKeyId: string; accessKeySecret: string; userName: string }; onDismiss: () => void }) {
  const [copied, setCopied] = useState(false);
  return (
    <div class="notice notice-secret" role="alert">
      <p>
        <strong>AccessKey for {secret.userName}.</strong> Copy the secret now: it is not stored in readable form and will not be shown again.
      </p>
      <dl class="fields">
        <dt>AccessKey ID</dt>
        <dd>
          <code>{secret.accessKeyId}</code>
        </dd>
        <dt>AccessKey secret</dt>
        <dd>
          <code data-testid="key-secret">{secret.accessKeySecret}</code>
        </dd>
      </dl>
      <button type="button" class="btn" onClick={() => void copyText(`${secret.accessKeyId}:${secret.accessKeySecret}`).then(setCopied)}>
        Copy ID:secret
      </button>{' '}
      <button type="button" class="btn btn-ghost" onClick={onDismiss}>
        I have stored it
      </button>
      <span role="status" class="small muted">
        {copied ? ' Copied.' : ''}
      </span>
    </div>
  );
}

export function Access({ meta }: { meta: Meta }) {
  const [tab, setTab] = useState<Tab>('users');
  const [users, setUsers] = useState<User[] | undefined>();
  const [keys, setKeys] = useState<Key[] | undefined>();
  const [policies, setPolicies] = useState<Policy[] | undefined>();
  const [loadError, setLoadError] = useState<unknown>();
  const [actionError, setActionError] = useState<unknown>();
  const [notice, setNotice] = useState<string | undefined>();
  const [secret, setSecret] = useState<{ accessKeyId: string; accessKeySecret: string; userName: string } | undefined>();
  const [reload, setReload] = useState(0);
  // '' = the caller's own account; the management account's admins may pick a member account.
  const [newUser, setNewUser] = useState({ userName: '', role: 'viewer', password: '', accountId: '' });
  const showAccounts = meta.session.managementAccount === true;
  const memberAccounts = managesAccounts(meta.session) ? (meta.accounts ?? []).filter((a) => !a.management) : [];
  const [newKeyUser, setNewKeyUser] = useState('');
  const [policyForm, setPolicyForm] = useState({ name: '', description: '', document: '{\n  "Statement": [\n    { "Effect": "Deny", "Action": ["RealtimeCompute:CancelJob"], "Resource": ["cluster/prod"] }\n  ]\n}' });
  const [confirm, setConfirm] = useState<string | undefined>();

  useEffect(() => {
    setLoadError(undefined);
    Promise.all([
      api<{ Users: User[] }>('/api/v1/users'),
      api<{ AccessKeys: Key[] }>('/api/v1/keys'),
      api<{ Policies: Policy[] }>('/api/v1/policies'),
    ])
      .then(([u, k, p]) => {
        setUsers(u.Users);
        setKeys(k.AccessKeys);
        setPolicies(p.Policies);
      })
      .catch((err: unknown) => setLoadError(err));
  }, [reload]);

  const run = async (fn: () => Promise<unknown>, done: string) => {
    setActionError(undefined);
    setNotice(undefined);
    try {
      await fn();
      setNotice(done);
      setConfirm(undefined);
      setReload((n) => n + 1);
      return true;
    } catch (err) {
      setActionError(err);
      return false;
    }
  };
  const enc = encodeURIComponent;

  const tabs: { id: Tab; label: string }[] = [
    { id: 'users', label: `Users${users ? ` (${users.length})` : ''}` },
    { id: 'keys', label: `AccessKeys${keys ? ` (${keys.length})` : ''}` },
    { id: 'policies', label: `Policies${policies ? ` (${policies.length})` : ''}` },
  ];

  return (
    <section class="page" aria-labelledby="access-title">
      <div class="page-head">
        <h1 id="access-title">Users &amp; keys</h1>
      </div>
      <div class="tabs" role="tablist" aria-label="Identity">
        {tabs.map((t) => (
          <button
            key={t.id}
            type="button"
            role="tab"
            id={`tab-${t.id}`}
            aria-selected={tab === t.id}
            aria-controls={`panel-${t.id}`}
            tabIndex={tab === t.id ? 0 : -1}
            onClick={() => setTab(t.id)}
            onKeyDown={(e) => {
              const i = tabs.findIndex((x) => x.id === tab);
              const d = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
              if (!d) return;
              const next = tabs[(i + d + tabs.length) % tabs.length];
              if (next) {
                setTab(next.id);
                document.getElementById(`tab-${next.id}`)?.focus();
              }
            }}
          >
            {t.label}
          </button>
        ))}
      </div>
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      {secret && <Secret secret={secret} onDismiss={() => setSecret(undefined)} />}
      {actionError ? <ErrorNote error={actionError} what="identity" /> : null}
      {loadError ? (
        <ErrorNote error={loadError} what="users and keys" onRetry={() => setReload((n) => n + 1)} />
      ) : !users || !keys || !policies ? (
        <Loading label="Loading users and keys…" />
      ) : (
        <>
          {tab === 'users' && (
            <div role="tabpanel" id="panel-users" aria-labelledby="tab-users">
              <form
                class="inline-form"
                aria-label="Create a user"
                onSubmit={(e) => {
                  e.preventDefault();
                  void run(
                    () =>
                      api('/api/v1/users', {
                        method: 'POST',
                        body: {
                          userName: newUser.userName.trim(),
                          role: newUser.role,
                          ...(newUser.password ? { password: newUser.password } : {}),
                          ...(newUser.accountId ? { accountId: newUser.accountId } : {}),
                        },
                      }),
                    `User ${newUser.userName.trim()} was created${newUser.accountId ? ` in account ${accountLabel(meta, newUser.accountId)}` : ''}.`,
                  ).then((ok) => ok && setNewUser({ userName: '', role: 'viewer', password: '', accountId: '' }));
                }}
              >
                <label for="nu-name">User name</label>
                <input id="nu-name" value={newUser.userName} required onInput={(e) => setNewUser({ ...newUser, userName: (e.currentTarget).value })} />
                <label for="nu-role">Role</label>
                <select id="nu-role" value={newUser.role} onChange={(e) => setNewUser({ ...newUser, role: (e.currentTarget).value })}>
                  {ROLES.map((r) => (
                    <option key={r} value={r}>
                      {r} — {ROLE_HELP[r]}
                    </option>
                  ))}
                </select>
                {memberAccounts.length > 0 && (
                  <>
                    <label for="nu-account">Account</label>
                    <select id="nu-account" value={newUser.accountId} onChange={(e) => setNewUser({ ...newUser, accountId: e.currentTarget.value })}>
                      <option value="">management (yours)</option>
                      {memberAccounts.map((a) => (
                        <option key={a.accountId} value={a.accountId}>
                          {a.name} ({a.accountId})
                        </option>
                      ))}
                    </select>
                  </>
                )}
                <label for="nu-pw">Password (optional, 8+ characters)</label>
                <input id="nu-pw" type="password" autocomplete="new-password" value={newUser.password} onInput={(e) => setNewUser({ ...newUser, password: (e.currentTarget).value })} />
                <button type="submit" class="btn btn-primary">
                  Create user
                </button>
              </form>
              {users.length === 0 ? (
                <Empty title="No users.">
                  <p>Create one above, or with <code>flinktrail users create</code>.</p>
                </Empty>
              ) : (
                <div class="table-wrap">
                  <table>
                    <thead>
                      <tr>
                        <th scope="col">User</th>
                        {showAccounts && <th scope="col">Account</th>}
                        <th scope="col">Role</th>
                        <th scope="col">Sign-in</th>
                        <th scope="col">Policies</th>
                        <th scope="col">Created</th>
                        <th scope="col">
                          <span class="offscreen">Actions</span>
                        </th>
                      </tr>
                    </thead>
                    <tbody>
                      {users.map((u) => (
                        <tr key={u.userName} data-user={u.userName}>
                          <td data-label="User">
                            <strong>{u.userName}</strong> {u.disabled ? <span class="badge badge-bad">disabled</span> : null}
                            {u.userName === meta.session.userName ? <span class="muted small"> (you)</span> : null}
                            {u.email ? <div class="muted small">{u.email}</div> : null}
                          </td>
                          {showAccounts && (
                            <td data-label="Account" class="small" data-account-id={u.accountId}>
                              {accountLabel(meta, u.accountId)}
                              {accountLabel(meta, u.accountId) !== u.accountId ? <div class="muted mono">{u.accountId}</div> : null}
                            </td>
                          )}
                          <td data-label="Role">
                            <label class="offscreen" for={`role-${u.userName}`}>
                              Role of {u.userName}
                            </label>
                            <select
                              id={`role-${u.userName}`}
                              value={u.role}
                              onChange={(e) => {
                                const role = (e.currentTarget).value;
                                void run(() => api(`/api/v1/users/${enc(u.userName)}`, { method: 'PATCH', body: { role } }), `${u.userName} is now ${role}.`);
                              }}
                            >
                              {ROLES.map((r) => (
                                <option key={r} value={r}>
                                  {r}
                                </option>
                              ))}
                            </select>
                          </td>
                          <td data-label="Sign-in" class="small">
                            {u.source}
                            {u.hasPassword ? ' · password' : ''}
                          </td>
                          <td data-label="Policies" class="small">
                            {u.policies.map((p) => (
                              <span class="chip" key={p}>
                                {p}
                                <button
                                  type="button"
                                  class="chip-x"
                                  aria-label={`Detach policy ${p} from ${u.userName}`}
                                  onClick={() => void run(() => api(`/api/v1/users/${enc(u.userName)}/policies/${enc(p)}`, { method: 'DELETE' }), `Policy ${p} detached from ${u.userName}.`)}
                                >
                                  ✕
                                </button>
                              </span>
                            ))}
                            {policies.some((p) => !u.policies.includes(p.name)) && (
                              <>
                                <label class="offscreen" for={`attach-${u.userName}`}>
                                  Attach a policy to {u.userName}
                                </label>
                                <select
                                  id={`attach-${u.userName}`}
                                  value=""
                                  onChange={(e) => {
                                    const policyName = (e.currentTarget).value;
                                    if (policyName) void run(() => api(`/api/v1/users/${enc(u.userName)}/policies`, { method: 'POST', body: { policyName } }), `Policy ${policyName} attached to ${u.userName}.`);
                                  }}
                                >
                                  <option value="">+ attach…</option>
                                  {policies
                                    .filter((p) => !u.policies.includes(p.name))
                                    .map((p) => (
                                      <option key={p.name} value={p.name}>
                                        {p.name}
                                      </option>
                                    ))}
                                </select>
                              </>
                            )}
                          </td>
                          <td data-label="Created" class="small">
                            {formatTime(u.createdAt)}
                          </td>
                          <td data-label="Actions" class="row-actions">
                            <button
                              type="button"
                              class="btn"
                              onClick={() => void run(() => api(`/api/v1/users/${enc(u.userName)}`, { method: 'PATCH', body: { disabled: !u.disabled } }), `${u.userName} is ${u.disabled ? 'enabled' : 'disabled'}.`)}
                            >
                              {u.disabled ? 'Enable' : 'Disable'}
                            </button>
                            <ConfirmDelete id={`user:${u.userName}`} what={u.userName} open={confirm} setOpen={setConfirm} label={`Delete ${u.userName} and their keys`} onDelete={() => void run(() => api(`/api/v1/users/${enc(u.userName)}`, { method: 'DELETE' }), `User ${u.userName} was deleted.`)} />
                          </td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              )}
            </div>
          )}

          {tab === 'keys' && (
            <div role="tabpanel" id="panel-keys" aria-labelledby="tab-keys">
              <form
                class="inline-form"
                aria-label="Create an AccessKey"
                onSubmit={(e) => {
                  e.preventDefault();
                  const userName = newKeyUser || users[0]?.userName || '';
                  setActionError(undefined);
                  api<{ accessKeyId: string; accessKeySecret: string; userName: string }>('/api/v1/keys', { method: 'POST', body: { userName } })
                    .then((k) => {
                      setSecret(k);
                      setReload((n) => n + 1);
                    })
                    .catch((err: unknown) => setActionError(err));
                }}
              >
                <label for="nk-user">User</label>
                <select id="nk-user" value={newKeyUser || users[0]?.userName} onChange={(e) => setNewKeyUser((e.currentTarget).value)}>
                  {users.map((u) => (
                    <option key={u.userName} value={u.userName}>
                      {u.userName}
                    </option>
                  ))}
                </select>
                <button type="submit" class="btn btn-primary" disabled={users.length === 0}>
                  Create AccessKey
                </button>
              </form>
              {keys.length === 0 ? (
                <Empty title="No AccessKeys.">
                  <p>Scripts, the flink CLI and the flinktrail CLI sign in with an AccessKey pair. Create one above for a user.</p>
                </Empty>
              ) : (
                <div class="table-wrap">
                  <table>
                    <thead>
                      <tr>
                        <th scope="col">AccessKey ID</th>
                        <th scope="col">User</th>
                        <th scope="col">Status</th>
                        <th scope="col">Created</th>
                        <th scope="col">Last used</th>
                        <th scope="col">
                          <span class="offscreen">Actions</span>
                        </th>
                      </tr>
                    </thead>
                    <tbody>
                      {keys.map((k) => (
                        <tr key={k.accessKeyId} data-key={k.accessKeyId}>
                          <td data-label="AccessKey ID" class="mono small">
                            {k.accessKeyId}
                          </td>
                          <td data-label="User">{k.userName}</td>
                          <td data-label="Status">
                            <span class={`badge badge-${k.status === 'Active' ? 'ok' : 'neutral'}`}>{k.status}</span>
                          </td>
                          <td data-label="Created" class="small">
                            {formatTime(k.createdAt)}
                          </td>
                          <td data-label="Last used" class="small">
                            {k.lastUsedAt ? `${formatTime(k.lastUsedAt)} from ${k.lastUsedIp ?? '?'}` : 'never'}
                          </td>
                          <td data-label="Actions" class="row-actions">
                            <button
                              type="button"
                              class="btn"
                              onClick={() =>
                                void run(
                                  () => api(`/api/v1/keys/${enc(k.accessKeyId)}`, { method: 'PATCH', body: { status: k.status === 'Active' ? 'Inactive' : 'Active' } }),
                                  `${k.accessKeyId} is ${k.status === 'Active' ? 'inactive' : 'active'}.`,
                                )
                              }
                            >
                              {k.status === 'Active' ? 'Deactivate' : 'Activate'}
                            </button>
                            <button
                              type="button"
                              class="btn"
                              title="Create a new key for this user and deactivate this one"
                              onClick={() => {
                                setActionError(undefined);
                                api<{ accessKeyId: string; accessKeySecret: string; userName: string }>(`/api/v1/keys/${enc(k.accessKeyId)}/rotate`, { method: 'POST', body: {} })
                                  .then((r) => {
                                    setSecret(r);
                                    setReload((n) => n + 1);
                                  })
                                  .catch((err: unknown) => setActionError(err));
                              }}
                            >
                              Rotate
                            </button>
                            <ConfirmDelete id={`key:${k.accessKeyId}`} what={k.accessKeyId} open={confirm} setOpen={setConfirm} label="Delete key" onDelete={() => void run(() => api(`/api/v1/keys/${enc(k.accessKeyId)}`, { method: 'DELETE' }), `${k.accessKeyId} was deleted.`)} />
                          </td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              )}
            </div>
          )}

          {tab === 'policies' && (
            <div role="tabpanel" id="panel-policies" aria-labelledby="tab-policies">
              <form
                class="stack-form"
                aria-label="Create or replace a policy"
                onSubmit={(e) => {
                  e.preventDefault();
                  let document: unknown;
                  try {
                    document = JSON.parse(policyForm.document);
                  } catch (err) {
                    setActionError(new Error(`The policy document is not valid JSON: ${(err as Error).message}`));
                    return;
                  }
                  void run(
                    () => api(`/api/v1/policies/${enc(policyForm.name.trim())}`, { method: 'PUT', body: { document, ...(policyForm.description ? { description: policyForm.description } : {}) } }),
                    `Policy ${policyForm.name.trim()} was saved.`,
                  );
                }}
              >
                <label for="pol-name">Policy name</label>
                <input id="pol-name" value={policyForm.name} required onInput={(e) => setPolicyForm({ ...policyForm, name: (e.currentTarget).value })} />
                <label for="pol-desc">Description</label>
                <input id="pol-desc" value={policyForm.description} onInput={(e) => setPolicyForm({ ...policyForm, description: (e.currentTarget).value })} />
                <label for="pol-doc">Document (JSON)</label>
                <textarea id="pol-doc" rows={7} class="mono" spellcheck={false} value={policyForm.document} onInput={(e) => setPolicyForm({ ...policyForm, document: (e.currentTarget).value })} />
                <p class="help">Deny wins over any Allow and over the role. Actions are Service:EventName with * wildcards; resources are cluster/&lt;name&gt;[/job/&lt;id or name&gt;].</p>
                <div class="form-actions">
                  <button type="submit" class="btn btn-primary">
                    Save policy
                  </button>
                </div>
              </form>
              {policies.length === 0 ? (
                <Empty title="No custom policies.">
                  <p>Roles cover the usual access levels; add a policy to allow or deny specific actions on specific clusters or jobs.</p>
                </Empty>
              ) : (
                <ul class="cards">
                  {policies.map((p) => (
                    <li class="card" key={p.name} data-policy={p.name}>
                      <h2>{p.name}</h2>
                      {p.description ? <p class="muted small">{p.description}</p> : null}
                      <pre class="json small">{JSON.stringify(p.document, null, 2)}</pre>
                      <p class="card-actions">
                        <button type="button" class="btn" onClick={() => setPolicyForm({ name: p.name, description: p.description, document: JSON.stringify(p.document, null, 2) })}>
                          Edit
                        </button>
                        <ConfirmDelete id={`policy:${p.name}`} what={p.name} open={confirm} setOpen={setConfirm} label={`Delete ${p.name}`} onDelete={() => void run(() => api(`/api/v1/policies/${enc(p.name)}`, { method: 'DELETE' }), `Policy ${p.name} was deleted.`)} />
                      </p>
                    </li>
                  ))}
                </ul>
              )}
            </div>
          )}
        </>
      )}
    </section>
  );
}
