// The confirmation before a delete: what goes (tags, the manifest), what stays (referrers, an index
// that still lists it) and when the bytes can be reclaimed; then the spec's DELETE.
import { useEffect, useRef, useState } from 'preact/hooks';
import { request, type DeletionPlan } from './api.js';
import { ErrorMessage } from './errors.js';
import { formatDuration, formatTime, shortDigest } from './format.js';

export interface DeleteTarget {
  readonly repository: string;
  /** The tag or digest given to DELETE /v2/<name>/manifests/<reference>. */
  readonly reference: string;
  readonly kind: 'tag' | 'manifest';
  readonly plan: DeletionPlan;
}

export function ConfirmDelete({ target, onClose, onDeleted }: { target: DeleteTarget; onClose: () => void; onDeleted: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    dialog.current?.showModal();
  }, []);
  const { plan } = target;
  const referrers = Object.entries(plan.referrers);
  const confirm = async (): Promise<void> => {
    setBusy(true);
    try {
      await request(`/v2/${target.repository}/manifests/${target.reference}`, { method: 'DELETE' });
      dialog.current?.close();
      onDeleted();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return (
    <dialog ref={dialog} aria-labelledby="confirm-title" onClose={onClose}>
      <h2 id="confirm-title">Delete {target.kind === 'tag' ? `tag ${target.reference}` : `manifest ${shortDigest(target.reference)}`} from {target.repository}?</h2>
      <ul class="plan">
        {target.kind === 'tag' ? (
          <>
            <li>The tag <code>{target.reference}</code> goes. The manifest {plan.digest === undefined ? '' : <code>{shortDigest(plan.digest)}</code>} stays in the repository{plan.otherTags !== undefined && plan.otherTags.length > 0 ? <> and keeps its other tags: {plan.otherTags.join(', ')}</> : ', untagged (an untagged-manifest policy may remove it later)'}.</li>
            <li>No bytes are freed by this: they stay referenced by the manifest.</li>
          </>
        ) : (
          <>
            <li>The manifest leaves the repository{plan.tags.length > 0 ? <> with its tags: <strong>{plan.tags.join(', ')}</strong></> : ' (it has no tags)'}.</li>
            {referrers.length > 0 && <li>Its referrers stay, without their subject, until deleted or a policy removes them: {referrers.map(([type, n]) => `${n} × ${type === '' ? 'no artifactType' : type}`).join(', ')}.</li>}
            {plan.parents.length > 0 && <li>An index still lists it ({plan.parents.map(shortDigest).join(', ')}): its blobs stay referenced.</li>}
            <li>
              {plan.reclaimableAfter === null
                ? plan.gc.enabled ? 'Its bytes stay while something references them.' : 'The online garbage collector is off: bytes are reclaimed by `berth gc`.'
                : <>Bytes only it references are reclaimed by the first garbage-collector run after {formatTime(plan.reclaimableAfter)} (review delay {formatDuration(plan.gc.reviewDelayMs)}, a run every {formatDuration(plan.gc.intervalMs)}).</>}
            </li>
          </>
        )}
      </ul>
      {plan.immutableTags.length > 0 && <p class="warning">Immutable tags refuse this delete: {plan.immutableTags.join(', ')}.</p>}
      {error !== undefined && <ErrorMessage error={error} />}
      <div class="buttons">
        <button type="button" onClick={() => dialog.current?.close()}>Cancel</button>
        <button type="button" class="danger" disabled={busy} onClick={() => void confirm()}>Delete</button>
      </div>
    </dialog>
  );
}
