// One repository: its tags (sortable by name or push time) with digest, size, platforms and
// immutability, the pull commands to copy, and deleting a tag where the caller may.
import { useEffect, useState } from 'preact/hooks';
import { browsePath, getJson, type Actions, type DeletionPlan, type RetentionStatus, type TagView } from './api.js';
import { ConfirmDelete, type DeleteTarget } from './confirm-delete.js';
import { ErrorMessage } from './errors.js';
import { formatSize, formatTime, shortDigest } from './format.js';
import { href } from './routes.js';

interface TagPage {
  readonly tags: TagView[];
  readonly next: string | null;
  readonly actions: Actions;
}

const PAGE = 50;

const KEPT_BY: Record<RetentionStatus['keptBy'][number], string> = {
  immutable: 'immutable',
  keeptags: 'a keeptags pattern',
  keepnewest: 'being among the newest',
  keepyoungerthan: 'its age',
};

/** What the retention policy will do to a tag, in words. */
export function RetentionCell({ retention }: { retention: RetentionStatus | null }) {
  if (retention === null) return <span class="muted">no policy</span>;
  if (retention.keptBy.length > 0) {
    const until = retention.deletableAt === null ? '' : ` until ${formatTime(retention.deletableAt)}`;
    return <span class="retention-kept" title={`lifecycle.retention rule ${retention.rule}`}>Kept by {retention.keptBy.map((reason) => KEPT_BY[reason]).join(', ')}{until}</span>;
  }
  const by = retention.deleteBy === null ? 'by the next collector run (berth gc)' : `by ${formatTime(retention.deleteBy)}`;
  return <span class="badge" title={`lifecycle.retention rule ${retention.rule}`}>Retention deletes it {by}</span>;
}

export function PullCommands({ name, reference }: { name: string; reference: string }) {
  const target = reference.startsWith('sha256:') ? `${location.host}/${name}@${reference}` : `${location.host}/${name}:${reference}`;
  const commands = [
    ['docker', `docker pull ${target}`],
    ['podman', `podman pull ${target}`],
    ['containerd', `ctr images pull ${target}`],
  ] as const;
  return (
    <section aria-labelledby="pull-title" class="pull">
      <h2 id="pull-title">Pull</h2>
      <dl>
        {commands.map(([client, command]) => (
          <div key={client}>
            <dt>{client}</dt>
            <dd>
              <code>{command}</code>{' '}
              <button type="button" aria-label={`Copy the ${client} command`} onClick={() => void navigator.clipboard?.writeText(command)}>Copy</button>
            </dd>
          </div>
        ))}
      </dl>
    </section>
  );
}

export function RepositoryPage({ name }: { name: string }) {
  const [sort, setSort] = useState<'name' | 'pushed'>('name');
  const [tags, setTags] = useState<TagView[] | undefined>(undefined);
  const [next, setNext] = useState<string | null>(null);
  const [actions, setActions] = useState<Actions | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [deleting, setDeleting] = useState<DeleteTarget | undefined>(undefined);
  const [notice, setNotice] = useState('');

  const load = async (last: string | null): Promise<void> => {
    const params = new URLSearchParams({ sort, n: String(PAGE) });
    if (last !== null) params.set('last', last);
    try {
      const page = await getJson<TagPage>(browsePath(`repositories/${name}/tags?${params.toString()}`));
      setTags((previous) => (last === null ? page.tags : [...(previous ?? []), ...page.tags]));
      setNext(page.next);
      setActions(page.actions);
      setError(undefined);
    } catch (failure) {
      setError(failure);
    }
  };
  useEffect(() => void load(null), [sort]);

  const askDelete = async (tag: string): Promise<void> => {
    try {
      const plan = await getJson<DeletionPlan>(browsePath(`repositories/${name}/tags/${tag}/deletion`));
      setDeleting({ repository: name, reference: tag, kind: 'tag', plan });
    } catch (failure) {
      setError(failure);
    }
  };

  const first = tags?.[0]?.name ?? 'latest';
  return (
    <section>
      <p class="crumbs"><a href={href.repositories()}>Repositories</a> / {name}</p>
      <h1>{name}</h1>
      {actions !== undefined && !actions.delete && <p class="note">Read-only for you: you may pull here but not delete.</p>}
      <PullCommands name={name} reference={first} />
      <h2>Tags</h2>
      <div class="sort" role="group" aria-label="Sort tags">
        <button type="button" aria-pressed={sort === 'name'} onClick={() => setSort('name')}>By name</button>
        <button type="button" aria-pressed={sort === 'pushed'} onClick={() => setSort('pushed')}>Newest first</button>
      </div>
      {notice !== '' && <p class="notice" role="status">{notice}</p>}
      {error !== undefined && <ErrorMessage error={error} />}
      {tags !== undefined && (
        <div class="table" role="region" aria-label="Tags" tabIndex={0}>
          <table>
            <thead>
              <tr><th scope="col">Tag</th><th scope="col">Digest</th><th scope="col">Size</th><th scope="col">Pushed</th><th scope="col">Platforms</th><th scope="col">Status</th><th scope="col">Retention</th>{actions?.delete === true && <th scope="col"><span class="visually-hidden">Actions</span></th>}</tr>
            </thead>
            <tbody>
              {tags.map((tag) => (
                <tr key={tag.name}>
                  <td><a href={href.manifest(name, tag.name)}>{tag.name}</a></td>
                  <td><code title={tag.digest}>{shortDigest(tag.digest)}</code></td>
                  <td>{formatSize(tag.size)}</td>
                  <td>{formatTime(tag.pushedAt)}</td>
                  <td>{tag.platforms === undefined ? '—' : tag.platforms.map((p) => `${p.os}/${p.architecture}${p.variant === undefined ? '' : `/${p.variant}`}`).join(', ')}</td>
                  <td>{tag.immutable ? <span class="badge">immutable</span> : ''}</td>
                  <td><RetentionCell retention={tag.retention} /></td>
                  {actions?.delete === true && (
                    <td>{!tag.immutable && <button type="button" class="danger" aria-label={`Delete tag ${tag.name}`} onClick={() => void askDelete(tag.name)}>Delete</button>}</td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {next !== null && <button type="button" onClick={() => void load(next)}>More tags</button>}
      {deleting !== undefined && (
        <ConfirmDelete
          target={deleting}
          onClose={() => setDeleting(undefined)}
          onDeleted={() => {
            setNotice(`Deleted tag ${deleting.reference}.`);
            setDeleting(undefined);
            void load(null);
          }}
        />
      )}
    </section>
  );
}
