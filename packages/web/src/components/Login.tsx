import { useState } from 'preact/hooks';
import { api, ApiError } from '../api.js';

/** Asks for the daemon's API token once; the server keeps it in an HttpOnly cookie the page cannot read. */
export function Login({ onDone }: { onDone: () => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    try {
      await api.login(token);
      setToken('');
      onDone();
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'That token is not valid.' : (err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login">
      <form onSubmit={submit} class="stack" aria-label="Sign in">
        <h1>spritzle</h1>
        <p>This daemon needs its API token (the <code>--token</code> it was started with).</p>
        <label><span>API token</span>
          <input type="password" name="token" autocomplete="current-password" required value={token}
            onInput={(e) => setToken((e.target as HTMLInputElement).value)} /></label>
        {error && <p class="error" role="alert">{error}</p>}
        <button type="submit" class="primary" disabled={busy || token === ''}>Sign in</button>
      </form>
    </main>
  );
}
