/**
 * The console shell: finds out who is signed in (GET /api/v1/auth/session), shows the sign-in
 * page when nobody is, and otherwise the navigation and the current page. Any 401 from the API
 * (the session expired or was revoked) brings the sign-in page back, then returns to where the
 * user was.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, setCsrfToken, setUnauthorizedHandler, type Account, type ClusterList, type ConsoleCatalog, type Session } from './api';
import { ErrorNote, Loading } from './components/States';
import { listsAccounts, managesAccounts, type Meta } from './meta';
import { Access } from './pages/Access';
import { Accounts } from './pages/Accounts';
import { Clusters } from './pages/Clusters';
import { EventQuery } from './pages/EventQuery';
import { SignIn } from './pages/SignIn';
import { Trails } from './pages/Trails';
import { navigate, onLinkClick, pageOf, PAGES, useLocation, type PageKey } from './routes';

const NAV: { key: PageKey; label: string }[] = [
  { key: 'events', label: 'Event Query' },
  { key: 'trails', label: 'Trails' },
  { key: 'access', label: 'Users & keys' },
  { key: 'clusters', label: 'Clusters' },
  // Shown to the management account's admins only (the API refuses everyone else).
  { key: 'accounts', label: 'Accounts' },
];

/** Changes the URL after render (navigating during render would update state mid-render). */
function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, true), [to]);
  return null;
}

type Auth = { state: 'checking' } | { state: 'signed-out' } | { state: 'error'; error: unknown } | { state: 'signed-in'; session: Session };

export function App() {
  const loc = useLocation();
  const [auth, setAuth] = useState<Auth>({ state: 'checking' });
  const [meta, setMeta] = useState<Omit<Meta, 'session'>>({});
  const [check, setCheck] = useState(0);
  const [accountsLoad, setAccountsLoad] = useState(0);

  useEffect(() => {
    setUnauthorizedHandler(() => {
      setCsrfToken(undefined);
      setAuth({ state: 'signed-out' });
    });
    api<Session>('/api/v1/auth/session', { quiet401: true })
      .then((session) => {
        setCsrfToken(session.csrfToken);
        setAuth({ state: 'signed-in', session });
      })
      .catch((err: unknown) => {
        if ((err as { status?: number }).status === 401) setAuth({ state: 'signed-out' });
        else setAuth({ state: 'error', error: err });
      });
  }, [check]);

  const signedIn = auth.state === 'signed-in';
  useEffect(() => {
    if (!signedIn) return;
    api<ClusterList>('/api/v1/clusters')
      .then((clusters) => setMeta((m) => ({ ...m, clusters })))
      .catch(() => undefined);
    api<ConsoleCatalog>('/api/v1/console/catalog')
      .then((catalog) => setMeta((m) => ({ ...m, catalog })))
      .catch(() => undefined);
  }, [signedIn]);

  // Account names, for the header, the account picker, event details and trails. Listing accounts
  // is an admin's or an auditor's (src/policy): other roles see account ids (asking would only
  // record a refusal).
  // Asked again for every caller (another user may sign in in the same tab), never kept from the last.
  const caller = auth.state === 'signed-in' ? `${auth.session.userName}\n${auth.session.accountId ?? ''}\n${auth.session.role}` : '';
  useEffect(() => {
    if (auth.state !== 'signed-in' || !listsAccounts(auth.session)) {
      setMeta((m) => (m.accounts ? { ...m, accounts: undefined } : m));
      return;
    }
    api<{ Accounts: Account[] }>('/api/v1/accounts')
      .then((a) => setMeta((m) => ({ ...m, accounts: a.Accounts })))
      .catch(() => undefined);
  }, [caller, accountsLoad]);

  const page = pageOf(loc.path);
  useEffect(() => {
    const names: Record<PageKey, string> = { signin: 'Sign in', events: 'Event Query', trails: 'Trails', access: 'Users & keys', clusters: 'Clusters', accounts: 'Accounts' };
    document.title = `${names[page ?? 'events']} · FlinkTrail`;
  }, [page]);

  if (auth.state === 'checking') return <Loading label="Checking your session…" />;
  if (auth.state === 'error') {
    return (
      <main class="signin" id="main">
        <ErrorNote error={auth.error} what="your session" onRetry={() => setCheck((n) => n + 1)} />
      </main>
    );
  }
  if (auth.state === 'signed-out') {
    const here = loc.path + window.location.search;
    const next = page === 'signin' ? (loc.search.get('next') ?? PAGES.events) : here === '/' ? PAGES.events : here;
    return (
      <>
        {page !== 'signin' && <Redirect to={`${PAGES.signin}?next=${encodeURIComponent(next)}`} />}
        <SignIn
        next={next}
        onSignedIn={(session) => {
          setCsrfToken(session.csrfToken);
          setAuth({ state: 'signed-in', session });
          navigate(next.startsWith('/') && !next.startsWith('//') ? next : PAGES.events, true);
        }}
        />
      </>
    );
  }

  const session = auth.session;
  if (page === undefined || page === 'signin') {
    // `/` and the sign-in page of a signed-in user go to the Event Query.
    const to = page === 'signin' ? (loc.search.get('next') ?? PAGES.events) : PAGES.events;
    return <Redirect to={to.startsWith('/') && !to.startsWith('//') ? to : PAGES.events} />;
  }
  const fullMeta: Meta = { session, ...meta, reloadAccounts: () => setAccountsLoad((n) => n + 1) };
  const nav = NAV.filter((n) => n.key !== 'accounts' || managesAccounts(session));
  const accountName = fullMeta.accounts?.find((a) => a.accountId === session.accountId)?.name;

  const signOut = async () => {
    let endSessionUrl: string | undefined;
    try {
      endSessionUrl = (await api<{ signedOut: boolean; endSessionUrl?: string }>('/api/v1/auth/logout', { method: 'POST', body: {} })).endSessionUrl;
    } finally {
      setCsrfToken(undefined);
      setAuth({ state: 'signed-out' });
      // A single sign-on session also ends at the identity provider, which sends the browser back.
      if (endSessionUrl) window.location.assign(endSessionUrl);
      else navigate(PAGES.signin, true);
    }
  };

  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <a class="brand" href={PAGES.events} onClick={(e) => onLinkClick(e, PAGES.events)}>
          <img src="/favicon.svg" alt="" width={22} height={22} /> FlinkTrail
        </a>
        <nav aria-label="Main">
          <ul>
            {nav.map((n) => (
              <li key={n.key}>
                <a href={PAGES[n.key]} aria-current={page === n.key ? 'page' : undefined} onClick={(e) => onLinkClick(e, PAGES[n.key])}>
                  {n.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="whoami">
          <span title={`Signed in with ${session.method}`}>
            <span class="offscreen">Signed in as </span>
            <strong data-testid="user-name">{session.userName}</strong> <span class="muted small">{session.role}</span>
          </span>
          {session.accountId ? (
            <span class="account" data-testid="account" data-account-id={session.accountId} title={`Account ${session.accountId}${session.managementAccount ? ' (the management account: sees every account)' : ''}`}>
              <span class="offscreen">in account </span>
              <span class="muted small" data-testid="account-name">{accountName ?? 'account'}</span>{' '}
              <code class="small">{session.accountId}</code>
            </span>
          ) : null}
          <button type="button" class="btn btn-ghost" onClick={() => void signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {page === 'events' && <EventQuery loc={loc} meta={fullMeta} />}
        {page === 'trails' && <Trails meta={fullMeta} />}
        {page === 'access' && <Access meta={fullMeta} />}
        {page === 'clusters' && <Clusters meta={fullMeta} />}
        {page === 'accounts' && <Accounts meta={fullMeta} />}
      </main>
    </>
  );
}
