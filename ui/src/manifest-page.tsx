// A tag or digest: an index's platforms; an image's layers, config (entrypoint, cmd, env, labels,
// history) and annotations; its referrers as a tree by artifactType; deleting it where allowed.
import { useEffect, useState } from 'preact/hooks';
import { browsePath, getJson, MANIFEST_TYPES, request, type ManifestView } from './api.js';
import { ConfirmDelete, type DeleteTarget } from './confirm-delete.js';
import { ErrorMessage } from './errors.js';
import { formatSize, formatTime, shortDigest } from './format.js';
import { href } from './routes.js';
import { PullCommands } from './repository-page.js';

interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly artifactType?: string;
  readonly annotations?: Record<string, string>;
  readonly platform?: { os: string; architecture: string; variant?: string };
}

interface Manifest {
  readonly mediaType?: string;
  readonly artifactType?: string;
  readonly config?: Descriptor;
  readonly layers?: Descriptor[];
  readonly manifests?: Descriptor[];
  readonly subject?: Descriptor;
  readonly annotations?: Record<string, string>;
}

interface ImageConfig {
  readonly architecture?: string;
  readonly os?: string;
  readonly created?: string;
  readonly config?: { Entrypoint?: string[] | null; Cmd?: string[] | null; Env?: string[] | null; Labels?: Record<string, string> | null; WorkingDir?: string; User?: string };
  readonly history?: { created?: string; created_by?: string; comment?: string; empty_layer?: boolean }[];
}

const IMAGE_CONFIGS = ['application/vnd.oci.image.config.v1+json', 'application/vnd.docker.container.image.v1+json'];

export function ManifestPage({ name, reference }: { name: string; reference: string }) {
  const [manifest, setManifest] = useState<Manifest | undefined>(undefined);
  const [view, setView] = useState<ManifestView | undefined>(undefined);
  const [config, setConfig] = useState<ImageConfig | undefined>(undefined);
  const [referrers, setReferrers] = useState<Descriptor[]>([]);
  const [error, setError] = useState<unknown>(undefined);
  const [deleting, setDeleting] = useState<DeleteTarget | undefined>(undefined);
  const [deleted, setDeleted] = useState(false);

  useEffect(() => {
    void (async () => {
      try {
        const response = await request(`/v2/${name}/manifests/${reference}`, { accept: MANIFEST_TYPES });
        const digest = response.headers.get('docker-content-digest') ?? reference;
        const body = (await response.json()) as Manifest;
        setManifest(body);
        const [summary, index] = await Promise.all([
          getJson<ManifestView>(browsePath(`repositories/${name}/manifests/${digest}`)),
          getJson<{ manifests: Descriptor[] }>(`/v2/${name}/referrers/${digest}`),
        ]);
        setView(summary);
        setReferrers(index.manifests);
        if (body.config !== undefined && IMAGE_CONFIGS.includes(body.config.mediaType)) {
          setConfig(await getJson<ImageConfig>(`/v2/${name}/blobs/${body.config.digest}`));
        }
      } catch (failure) {
        setError(failure);
      }
    })();
  }, []);

  const byType = new Map<string, Descriptor[]>();
  for (const referrer of referrers) {
    const type = referrer.artifactType ?? '(no artifactType)';
    byType.set(type, [...(byType.get(type) ?? []), referrer]);
  }
  const isIndex = manifest?.manifests !== undefined;
  return (
    <section>
      <p class="crumbs"><a href={href.repositories()}>Repositories</a> / <a href={href.repository(name)}>{name}</a> / {reference.startsWith('sha256:') ? shortDigest(reference) : reference}</p>
      <h1>{name}{reference.startsWith('sha256:') ? '@' : ':'}{reference.startsWith('sha256:') ? shortDigest(reference) : reference}</h1>
      {error !== undefined && <ErrorMessage error={error} />}
      {deleted && <p class="notice" role="status">Deleted. <a href={href.repository(name)}>Back to {name}</a></p>}
      {view !== undefined && manifest !== undefined && !deleted && (
        <>
          <dl class="facts">
            <div><dt>Digest</dt><dd><code>{view.digest}</code></dd></div>
            <div><dt>Media type</dt><dd><code>{view.mediaType}</code></dd></div>
            {view.artifactType !== null && <div><dt>Artifact type</dt><dd><code>{view.artifactType}</code></dd></div>}
            <div><dt>Size</dt><dd>{formatSize(view.size)}</dd></div>
            <div><dt>Stored</dt><dd>{formatTime(view.createdAt)}</dd></div>
            <div><dt>Tags</dt><dd>{view.tags.length === 0 ? 'none' : view.tags.join(', ')}</dd></div>
            {view.subject !== null && <div><dt>Refers to</dt><dd><a href={href.manifest(name, view.subject)}>{shortDigest(view.subject)}</a></dd></div>}
          </dl>
          <PullCommands name={name} reference={view.digest} />
          {isIndex && (
            <>
              <h2>Platforms</h2>
              <div class="table" role="region" aria-label="Platforms" tabIndex={0}>
                <table>
                  <thead><tr><th scope="col">Platform</th><th scope="col">Manifest</th><th scope="col">Size</th></tr></thead>
                  <tbody>
                    {(manifest.manifests ?? []).map((child) => (
                      <tr key={child.digest}>
                        <td>{child.platform === undefined ? '—' : `${child.platform.os}/${child.platform.architecture}${child.platform.variant === undefined ? '' : `/${child.platform.variant}`}`}</td>
                        <td><a href={href.manifest(name, child.digest)}>{shortDigest(child.digest)}</a></td>
                        <td>{formatSize(child.size)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </>
          )}
          {manifest.layers !== undefined && (
            <>
              <h2>Layers</h2>
              <div class="table" role="region" aria-label="Layers" tabIndex={0}>
                <table>
                  <thead><tr><th scope="col">#</th><th scope="col">Digest</th><th scope="col">Media type</th><th scope="col">Size</th></tr></thead>
                  <tbody>
                    {manifest.layers.map((layer, i) => (
                      <tr key={`${i}-${layer.digest}`}><td>{i + 1}</td><td><code title={layer.digest}>{shortDigest(layer.digest)}</code></td><td><code>{layer.mediaType}</code></td><td>{formatSize(layer.size)}</td></tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </>
          )}
          {config !== undefined && <ConfigView config={config} />}
          {manifest.annotations !== undefined && (
            <>
              <h2>Annotations</h2>
              <dl class="facts">{Object.entries(manifest.annotations).map(([key, value]) => <div key={key}><dt><code>{key}</code></dt><dd>{value}</dd></div>)}</dl>
            </>
          )}
          <h2>Referrers</h2>
          {byType.size === 0 ? (
            <p>No signatures, SBOMs or attestations refer to it.</p>
          ) : (
            <ul class="tree" aria-label="Referrers by artifact type">
              {[...byType].map(([type, items]) => (
                <li key={type}>
                  <code>{type}</code> ({items.length})
                  <ul>
                    {items.map((item) => (
                      <li key={item.digest}>
                        <a href={href.manifest(name, item.digest)}>{shortDigest(item.digest)}</a> {formatSize(item.size)}
                        {item.annotations?.['org.opencontainers.image.created'] !== undefined && <> · {item.annotations['org.opencontainers.image.created']}</>}
                      </li>
                    ))}
                  </ul>
                </li>
              ))}
            </ul>
          )}
          {view.actions.delete ? (
            <p><button type="button" class="danger" onClick={() => setDeleting({ repository: name, reference: view.digest, kind: 'manifest', plan: view.deleteManifest })}>Delete this manifest…</button></p>
          ) : (
            <p class="note">Read-only for you: you may pull here but not delete.</p>
          )}
        </>
      )}
      {deleting !== undefined && <ConfirmDelete target={deleting} onClose={() => setDeleting(undefined)} onDeleted={() => { setDeleting(undefined); setDeleted(true); }} />}
    </section>
  );
}

function ConfigView({ config }: { config: ImageConfig }) {
  const c = config.config ?? {};
  return (
    <>
      <h2>Config</h2>
      <dl class="facts">
        <div><dt>Platform</dt><dd>{config.os ?? '?'}/{config.architecture ?? '?'}</dd></div>
        {config.created !== undefined && <div><dt>Created</dt><dd>{config.created}</dd></div>}
        <div><dt>Entrypoint</dt><dd><code>{JSON.stringify(c.Entrypoint ?? null)}</code></dd></div>
        <div><dt>Cmd</dt><dd><code>{JSON.stringify(c.Cmd ?? null)}</code></dd></div>
        {c.WorkingDir !== undefined && c.WorkingDir !== '' && <div><dt>Working dir</dt><dd><code>{c.WorkingDir}</code></dd></div>}
        {c.User !== undefined && c.User !== '' && <div><dt>User</dt><dd><code>{c.User}</code></dd></div>}
        <div><dt>Env</dt><dd>{(c.Env ?? []).length === 0 ? 'none' : <ul>{(c.Env ?? []).map((line) => <li key={line}><code>{line}</code></li>)}</ul>}</dd></div>
        <div><dt>Labels</dt><dd>{Object.keys(c.Labels ?? {}).length === 0 ? 'none' : <ul>{Object.entries(c.Labels ?? {}).map(([key, value]) => <li key={key}><code>{key}={value}</code></li>)}</ul>}</dd></div>
      </dl>
      {(config.history ?? []).length > 0 && (
        <>
          <h2>History</h2>
          <ol class="history">{(config.history ?? []).map((step, i) => <li key={i}><code>{step.created_by ?? step.comment ?? ''}</code>{step.empty_layer === true ? ' (no layer)' : ''}</li>)}</ol>
        </>
      )}
    </>
  );
}
