/**
 * Sign-in: user name and password (POST /api/v1/auth/login, which sets the session cookie and
 * returns the CSRF token), and "Sign in with SSO" when single sign-on is configured — the server
 * says so in GET /api/v1/console/settings (the OIDC login route exists). Failed sign-ins are
 * recorded by the server; the page never says whether the user or the password was wrong.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, type ConsoleSettings, type Session } from '../api';

interface LoginAnswer {
  userName: string;
  role: string;
  accountId?: string;
  managementAccount?: boolean;
  csrfToken: string;
  expiresAt: string;
}

function message(err: unknown): string {
  if (!(err instanceof ApiError)) return 'Signing in failed. Reload the page and try again.';
  if (err.status === 0) return err.message;
  if (err.status === 429) return `${err.message} Wait, then try again.`;
  if (err.status === 401) return 'The user name or password is not correct, or the user is disabled. Check both and try again; an administrator can reset a password on the Access page.';
  if (err.status === 400) return 'Enter both a user name and a password.';
  return `${err.message} (${err.code})`;
}

export function SignIn({ next, onSignedIn }: { next: string; onSignedIn: (s: Session) => void }) {
  const [userName, setUserName] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const [settings, setSettings] = useState<ConsoleSettings | undefined>();
  const userRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    userRef.current?.focus();
    api<ConsoleSettings>('/api/v1/console/settings', { quiet401: true })
      .then(setSettings)
      .catch(() => setSettings(undefined));
    // An OIDC round trip that failed comes back here with ?error=…
    const e = new URLSearchParams(window.location.search).get('error');
    if (e) setError(`Single sign-on did not complete: ${e.slice(0, 200)}`);
  }, []);

  const submit = async (ev: Event) => {
    ev.preventDefault();
    if (!userName || !password) {
      setError('Enter both a user name and a password.');
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      const r = await api<LoginAnswer>('/api/v1/auth/login', { method: 'POST', body: { userName, password }, quiet401: true });
      onSignedIn({
        userName: r.userName,
        role: r.role,
        method: 'session',
        ...(r.accountId !== undefined ? { accountId: r.accountId, managementAccount: r.managementAccount === true } : {}),
        csrfToken: r.csrfToken,
        expiresAt: r.expiresAt,
      });
    } catch (err) {
      setError(message(err));
      setPassword('');
    } finally {
      setBusy(false);
    }
  };

  // One button per identity provider when several are configured; one "SSO" button otherwise.
  const returnTo = `returnTo=${encodeURIComponent(next)}`;
  const providers = settings?.sso.providers ?? [];
  const ssoLinks = !settings?.sso.enabled
    ? []
    : providers.length > 1
      ? providers.map((p) => ({ key: p.name, href: `${p.loginUrl}&${returnTo}`, label: `Sign in with ${p.displayName}` }))
      : [{ key: 'sso', href: `${settings.sso.loginUrl}?${returnTo}`, label: 'Sign in with SSO' }];

  return (
    <main class="signin" id="main">
      <form class="signin-card" onSubmit={(e) => void submit(e)} aria-labelledby="signin-title" noValidate>
        <div class="brand brand-large" aria-hidden="true">
          <img src="/favicon.svg" alt="" width={32} height={32} /> FlinkTrail
        </div>
        <h1 id="signin-title">Sign in</h1>
        <p class="muted small">The audit trail of your Flink clusters. Every sign-in is recorded.</p>
        {error && (
          <p class="form-error" role="alert" id="signin-error">
            {error}
          </p>
        )}
        <label for="userName">User name</label>
        <input
          id="userName"
          name="username"
          ref={userRef}
          autocomplete="username"
          value={userName}
          onInput={(e) => setUserName((e.currentTarget).value)}
          aria-invalid={error ? true : undefined}
          {...(error ? { 'aria-describedby': 'signin-error' } : {})}
        />
        <label for="password">Password</label>
        <input
          id="password"
          name="password"
          type="password"
          autocomplete="current-password"
          value={password}
          onInput={(e) => setPassword((e.currentTarget).value)}
          aria-invalid={error ? true : undefined}
        />
        <button type="submit" class="btn btn-primary btn-block" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        {ssoLinks.length > 0 && (
          <>
            <p class="or" aria-hidden="true">
              or
            </p>
            {ssoLinks.map((l) => (
              <a key={l.key} class="btn btn-block" href={l.href}>
                {l.label}
              </a>
            ))}
          </>
        )}
      </form>
    </main>
  );
}
