// Log in with a user Berth knows (htpasswd; the token service uses the same users).
import { useState } from 'preact/hooks';
import { login } from './api.js';
import { ErrorMessage } from './errors.js';

export function LoginPage({ onLogin }: { onLogin: () => void }) {
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await login({ user, password });
      onLogin();
      location.hash = '#/';
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="login">
      <h1>Log in</h1>
      <form onSubmit={(event) => void submit(event)}>
        <label for="user">User</label>
        <input id="user" name="user" autocomplete="username" required value={user} onInput={(event) => setUser(event.currentTarget.value)} />
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required value={password} onInput={(event) => setPassword(event.currentTarget.value)} />
        <button type="submit" disabled={busy}>Log in</button>
      </form>
      {error !== undefined && <ErrorMessage error={error} />}
      <p class="hint">Without logging in you see what anonymous users may pull.</p>
    </section>
  );
}
