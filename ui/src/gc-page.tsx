// The garbage collector: its schedule and its last runs, what each removed and reclaimed (admins).
import { useEffect, useState } from 'preact/hooks';
import { browsePath, getJson } from './api.js';
import { ErrorMessage } from './errors.js';
import { formatDuration, formatSize, formatTime } from './format.js';

interface GcRun {
  readonly startedAt: number;
  readonly finishedAt: number;
  readonly trigger: 'server' | 'command';
  readonly manifests: number;
  readonly blobs: number;
  readonly bytesReclaimed: number;
  readonly orphans: number;
  readonly orphanBytes: number;
  readonly policyTags: number;
  readonly policyManifests: number;
}

interface GcRuns {
  readonly gc: { readonly enabled: boolean; readonly reviewDelayMs: number; readonly intervalMs: number };
  readonly runs: readonly GcRun[];
}

export function GcPage() {
  const [data, setData] = useState<GcRuns | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => {
    getJson<GcRuns>(browsePath('gc-runs?n=20')).then(setData, setError);
  }, []);
  return (
    <section>
      <h1>Garbage collection</h1>
      {error !== undefined && <ErrorMessage error={error} />}
      {data !== undefined && (
        <>
          <p>
            {data.gc.enabled
              ? `The collector runs every ${formatDuration(data.gc.intervalMs)}; bytes go once nothing has referenced them for ${formatDuration(data.gc.reviewDelayMs)}.`
              : 'The online collector is off; run berth gc to collect.'}
          </p>
          {data.runs.length === 0 ? (
            <p>No run recorded yet.</p>
          ) : (
            <div class="table" role="region" aria-label="Collector runs" tabIndex={0}>
              <table>
                <thead><tr><th scope="col">Finished</th><th scope="col">By</th><th scope="col">Manifests</th><th scope="col">Blobs</th><th scope="col">Reclaimed</th><th scope="col">Orphans</th><th scope="col">Policies</th><th scope="col">Took</th></tr></thead>
                <tbody>
                  {data.runs.map((run) => (
                    <tr key={`${run.finishedAt}-${run.trigger}`}>
                      <td>{formatTime(run.finishedAt)}</td>
                      <td>{run.trigger === 'server' ? 'schedule' : 'berth gc'}</td>
                      <td>{run.manifests}</td>
                      <td>{run.blobs}</td>
                      <td>{formatSize(run.bytesReclaimed)}</td>
                      <td>{run.orphans} ({formatSize(run.orphanBytes)})</td>
                      <td>{run.policyTags} tags, {run.policyManifests} manifests</td>
                      <td>{run.finishedAt - run.startedAt} ms</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
    </section>
  );
}
