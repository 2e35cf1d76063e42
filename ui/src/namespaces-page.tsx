// The namespace tree: the children of a namespace (repositories and deeper namespaces) with their
// storage usage (docs/api.md, /v2/_berth/browse/namespaces), a page at a time.
import { useEffect, useState } from 'preact/hooks';
import { browsePath, getJson, type NamespaceChild } from './api.js';
import { ErrorMessage } from './errors.js';
import { formatSize } from './format.js';
import { href } from './routes.js';

interface Page {
  readonly children: NamespaceChild[];
  readonly next: string | null;
}

const PAGE = 50;

export function NamespacesPage({ prefix }: { prefix: string }) {
  const [rows, setRows] = useState<NamespaceChild[] | undefined>(undefined);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(undefined);

  const load = async (last: string | null): Promise<void> => {
    const params = new URLSearchParams({ n: String(PAGE) });
    if (prefix !== '') params.set('prefix', prefix);
    if (last !== null) params.set('last', last);
    try {
      const page = await getJson<Page>(browsePath(`namespaces?${params.toString()}`));
      setRows((previous) => (last === null ? page.children : [...(previous ?? []), ...page.children]));
      setNext(page.next);
      setError(undefined);
    } catch (failure) {
      setError(failure);
    }
  };
  useEffect(() => void load(null), [prefix]);

  const parts = prefix === '' ? [] : prefix.split('/');
  return (
    <section>
      <p class="crumbs">
        <a href={href.namespaces('')}>Namespaces</a>
        {parts.map((part, index) => {
          const path = parts.slice(0, index + 1).join('/');
          return <span key={path}> / {index === parts.length - 1 ? part : <a href={href.namespaces(path)}>{part}</a>}</span>;
        })}
      </p>
      <h1>{prefix === '' ? 'Namespaces' : `Namespace ${prefix}`}</h1>
      {error !== undefined && <ErrorMessage error={error} />}
      {rows !== undefined && rows.length === 0 && <p>Nothing here that you may see.</p>}
      {rows !== undefined && rows.length > 0 && (
        <div class="table" role="region" aria-label="Namespace contents" tabIndex={0}>
          <table>
            <thead>
              <tr><th scope="col">Name</th><th scope="col">Kind</th><th scope="col">Size</th><th scope="col">Manifests</th><th scope="col">Tags</th></tr>
            </thead>
            <tbody>
              {rows.map((row) => (
                <tr key={row.path}>
                  <td>
                    {row.namespace && <a href={href.namespaces(row.path)}>{row.name}/</a>}
                    {row.namespace && row.repository && ' '}
                    {row.repository && <a href={href.repository(row.path)} aria-label={`Repository ${row.path}`}>{row.namespace ? '(repository)' : row.name}</a>}
                  </td>
                  <td>{row.namespace && row.repository ? 'namespace and repository' : row.namespace ? 'namespace' : 'repository'}</td>
                  <td>{row.usage === null ? <span class="muted">—</span> : formatSize(row.usage.blobBytes + row.usage.manifestBytes)}</td>
                  <td>{row.usage?.manifests ?? '—'}</td>
                  <td>{row.usage?.tags ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <p class="hint">Sizes count each blob once per namespace or repository; a namespace's size is not the sum of its children's when they share layers.</p>
      {next !== null && <button type="button" onClick={() => void load(next)}>More</button>}
    </section>
  );
}
