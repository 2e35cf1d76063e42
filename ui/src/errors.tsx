// An error from the registry, said plainly, with a way forward when it is about access.
import { ApiError, currentSession } from './api.js';

export function ErrorMessage({ error }: { error: unknown }) {
  if (error instanceof ApiError) {
    // Anonymous and refused: with Basic auth the registry says 401; with the token service an
    // anonymous token is issued and then refused (403). Either way, logging in may help.
    const login = error.status === 401 || (error.status === 403 && currentSession() === undefined);
    return (
      <div class="error" role="alert">
        <p>
          <strong>{login ? 'Log in to see this.' : error.status === 403 ? 'Refused: you may not do this here.' : 'The registry answered with an error.'}</strong>{' '}
          <code>{error.code}</code> {error.message}
        </p>
        {login && <p><a href="#/login">Log in</a></p>}
      </div>
    );
  }
  return <div class="error" role="alert"><p>{error instanceof Error ? error.message : String(error)}</p></div>;
}
