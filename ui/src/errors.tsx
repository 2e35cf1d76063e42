// An error from the registry, said plainly, with a way forward when it is about access.
import { ApiError } from './api.js';

export function ErrorMessage({ error }: { error: unknown }) {
  if (error instanceof ApiError) {
    const access = error.status === 401 || error.status === 403;
    return (
      <div class="error" role="alert">
        <p>
          <strong>{error.status === 401 ? 'Log in to see this.' : error.status === 403 ? 'Refused: you may not do this here.' : 'The registry answered with an error.'}</strong>{' '}
          <code>{error.code}</code> {error.message}
        </p>
        {access && error.status === 401 && <p><a href="#/login">Log in</a></p>}
      </div>
    );
  }
  return <div class="error" role="alert"><p>{error instanceof Error ? error.message : String(error)}</p></div>;
}
