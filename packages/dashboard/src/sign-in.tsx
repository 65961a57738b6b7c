/**
 * Sign-in: paste a client token (kept in sessionStorage). On a `--dev` server
 * opened from this machine the page first asks GET /api/v1/dev/token and signs in
 * as the dev admin without asking.
 */
import { useEffect, useId, useState, type FormEvent, type ReactElement } from 'react';
import { fetchDevToken, readToken, type Session } from './session.js';

/** Why the sign-in page shows: signed out (a note) or the token was refused (an error). */
export interface Notice {
  text: string;
  error: boolean;
}

export function SignIn(props: { apiBase: string; onSession: (s: Session) => void; notice?: Notice }): ReactElement {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  // Asking for the dev token: on arrival (silently), or when the button asks (failure shown).
  const [probe, setProbe] = useState<'auto' | 'manual' | null>(props.notice === undefined ? 'auto' : null);
  const id = useId();
  const { apiBase, onSession, notice } = props;

  useEffect(() => {
    if (!probe) return undefined;
    const abort = new AbortController();
    void fetchDevToken(apiBase, abort.signal).then((session) => {
      if (abort.signal.aborted) return;
      if (session) return onSession(session);
      if (probe === 'manual') {
        setError('No dev token here: the server does not run with --dev, or this page is not opened on its machine.');
      }
      setProbe(null);
    });
    return () => abort.abort();
  }, [apiBase, onSession, probe]);

  const submit = (e: FormEvent): void => {
    e.preventDefault();
    const session = readToken(token);
    if (typeof session === 'string') setError(session);
    else onSession(session);
  };

  return (
    <main className="sign-in">
      <h1>
        <span className="logo" aria-hidden="true" /> taskwire
      </h1>
      {probe === 'auto' ? (
        <p className="muted">Signing in…</p>
      ) : (
        <form onSubmit={submit}>
          {notice && (
            <p className={notice.error ? 'error' : 'muted'} role={notice.error ? 'alert' : 'status'}>
              {notice.text}
            </p>
          )}
          <label htmlFor={id}>Client token</label>
          <textarea
            id={id}
            rows={4}
            spellCheck={false}
            autoComplete="off"
            placeholder="eyJhbGciOi…"
            value={token}
            onChange={(e) => setToken(e.target.value)}
            aria-describedby={`${id}-help`}
            aria-invalid={error !== null}
          />
          {error && (
            <p className="error" role="alert">
              {error}
            </p>
          )}
          <div className="actions">
            <button type="submit" className="primary" disabled={token.trim() === ''}>
              Sign in
            </button>
            <button type="button" className="ghost" disabled={probe !== null} onClick={() => setProbe('manual')}>
              Use the dev token
            </button>
          </div>
          <p id={`${id}-help`} className="muted help">
            A JWT for this server: <code>npx taskwire token --sub alice</code> (add <code>--admin</code> for every task,
            the stats and the channel inspector). It stays in this tab only. A server started with{' '}
            <code>taskwire serve --dev</code> signs in a page opened on the same machine by itself.
          </p>
        </form>
      )}
    </main>
  );
}
