// The history of garbage-collector runs (what each removed and reclaimed), kept in the metadata
// store so that every instance, the `berth gc` command and the web UI see the same runs.

export interface GcRunRow {
  readonly startedAt: number;
  readonly finishedAt: number;
  /** Who ran it: the server's schedule, or `berth gc`. */
  readonly trigger: 'server' | 'command';
  readonly manifests: number;
  readonly blobs: number;
  readonly bytesReclaimed: number;
  readonly orphans: number;
  readonly orphanBytes: number;
  /** Tags retention deleted, and manifests the retention and untagged policies removed. */
  readonly policyTags: number;
  readonly policyManifests: number;
}

export interface GcRunStore {
  /** Records a finished run (not a dry run); only the newest GC_RUNS_KEPT runs are kept. */
  recordGcRun(run: GcRunRow): Promise<void>;
  /** The newest runs first. */
  listGcRuns(limit: number): Promise<GcRunRow[]>;
}

export const GC_RUNS_KEPT = 100;
