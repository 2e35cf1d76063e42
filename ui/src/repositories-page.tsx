// Find a repository: the server searches names (docs/api.md), a page at a time.
import { useEffect, useState } from 'preact/hooks';
import { browsePath, getJson, type RepositorySummary } from './api.js';
import { ErrorMessage } from './errors.js';
import { formatTime } from './format.js';
import { href } from './routes.js';

interface Page {
  readonly repositories: RepositorySummary[];
  readonly next: string | null;
}

const PAGE = 50;

export function RepositoriesPage({ initialQuery }: { initialQuery: string }) {
  const [query, setQuery] = useState(initialQuery);
  const [rows, setRows] = useState<RepositorySummary[] | undefined>(undefined);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(undefined);

  const load = async (q: string, last: string | null): Promise<void> => {
    const params = new URLSearchParams({ n: String(PAGE) });
    if (q !== '') params.set('q', q);
    if (last !== null) params.set('last', last);
    try {
      const page = await getJson<Page>(browsePath(`repositories?${params.toString()}`));
      setRows((previous) => (last === null ? page.repositories : [...(previous ?? []), ...page.repositories]));
      setNext(page.next);
      setError(undefined);
    } catch (failure) {
      setError(failure);
    }
  };

  useEffect(() => {
    const timer = setTimeout(() => void load(query.trim(), null), query === initialQuery ? 0 : 200);
    return () => clearTimeout(timer);
  }, [query]);

  return (
    <section>
      <h1>Repositories</h1>
      <form role="search" onSubmit={(event) => { event.preventDefault(); void load(query.trim(), null); }}>
        <label for="search">Search repositories by name</label>
        <input id="search" type="search" value={query} placeholder="e.g. team/app" onInput={(event) => setQuery(event.currentTarget.value)} />
      </form>
      {error !== undefined && <ErrorMessage error={error} />}
      {rows !== undefined && (
        <>
          <p class="count" aria-live="polite">{rows.length === 0 ? 'No repository matches.' : `${rows.length}${next === null ? '' : '+'} repositories`}</p>
          <div class="table" role="region" aria-label="Repositories" tabIndex={0}>
            <table>
              <thead><tr><th scope="col">Repository</th><th scope="col">Tags</th><th scope="col">Last push</th></tr></thead>
              <tbody>
                {rows.map((row) => (
                  <tr key={row.name}>
                    <td><a href={href.repository(row.name)}>{row.name}</a></td>
                    <td>{row.tags >= 1000 ? '1000+' : row.tags}</td>
                    <td>{formatTime(row.pushedAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {next !== null && <button type="button" onClick={() => void load(query.trim(), next)}>More repositories</button>}
        </>
      )}
    </section>
  );
}
