// The web UI: a hash router over four pages, a header with the session, light and dark themes.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { currentSession, logout } from './api.js';
import { GcPage } from './gc-page.js';
import { LoginPage } from './login-page.js';
import { ManifestPage } from './manifest-page.js';
import { NamespacesPage } from './namespaces-page.js';
import { RepositoriesPage } from './repositories-page.js';
import { RepositoryPage } from './repository-page.js';
import { href, parseRoute, type Route } from './routes.js';
import './style.css';

function App() {
  const [route, setRoute] = useState<Route>(parseRoute(location.hash));
  const [session, setSession] = useState(currentSession());
  useEffect(() => {
    const onChange = (): void => {
      setRoute(parseRoute(location.hash));
      setSession(currentSession());
    };
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  useEffect(() => {
    document.getElementById('main')?.focus({ preventScroll: true });
  }, [route]);
  const signOut = (): void => {
    logout();
    setSession(undefined);
    location.hash = href.repositories();
  };
  return (
    <>
      <a class="skip" href="#main" onClick={(event) => { event.preventDefault(); document.getElementById('main')?.focus(); }}>Skip to content</a>
      <header class="top">
        <a class="brand" href={href.repositories()}>Berth</a>
        <nav aria-label="Pages"><a href={href.repositories()}>Repositories</a> <a href={href.namespaces('')}>Namespaces</a> <a href={href.gc()}>Garbage collection</a></nav>
        <nav aria-label="Session">
          {session === undefined ? (
            <a href={href.login()}>Log in</a>
          ) : (
            <>
              <span class="user">Signed in as <strong>{session.user}</strong></span>
              <button type="button" onClick={signOut}>Log out</button>
            </>
          )}
        </nav>
      </header>
      <main id="main" tabIndex={-1}>
        {route.page === 'repositories' && <RepositoriesPage key={`${session?.user ?? ''}`} initialQuery={route.q} />}
        {route.page === 'repository' && <RepositoryPage key={`${route.name}|${session?.user ?? ''}`} name={route.name} />}
        {route.page === 'manifest' && <ManifestPage key={`${route.name}|${route.reference}|${session?.user ?? ''}`} name={route.name} reference={route.reference} />}
        {route.page === 'namespaces' && <NamespacesPage key={`${route.prefix}|${session?.user ?? ''}`} prefix={route.prefix} />}
        {route.page === 'gc' && <GcPage key={session?.user ?? ''} />}
        {route.page === 'login' && <LoginPage onLogin={() => setSession(currentSession())} />}
      </main>
    </>
  );
}

const root = document.getElementById('app');
if (root !== null) render(<App />, root);
