// What the registry tells the notification system (src/events/): each change it makes, with the
// request that made it. The registry asks the recorder for the outbox rows of a write before the
// write and hands them to the metadata store, which appends them in the write's own transaction;
// pulls change nothing and are handed over after the response (batched, see src/events/). Without
// notification endpoints there is no recorder and nothing is built.
import type { OutboxEvent } from '../metadata/event-store.js';

/** The request behind a change, as distribution's event `request`, `actor` and target URLs need it. */
export interface RequestOrigin {
  readonly id: string;
  /** The client's address and port. */
  readonly addr: string;
  /** The Host the client asked for. */
  readonly host: string;
  readonly method: string;
  readonly userAgent: string;
  /** The authenticated user, if any. */
  readonly actor: string | undefined;
  /** `scheme://host` for the target URL (http.host when set). */
  readonly baseUrl: string;
}

/** Something that can tell where a change came from (the HTTP request context), asked only when an event is built. */
export interface OriginSource {
  requestOrigin(): RequestOrigin;
}

export interface Reference {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
}

export type Change =
  | { readonly action: 'push' | 'pull'; readonly kind: 'manifest'; readonly repository: string; readonly digest: string; readonly mediaType: string; readonly size: number; readonly tag?: string | undefined; readonly references?: readonly Reference[] }
  | { readonly action: 'push' | 'pull'; readonly kind: 'blob'; readonly repository: string; readonly digest: string; readonly size: number }
  | { readonly action: 'mount'; readonly kind: 'blob'; readonly repository: string; readonly digest: string; readonly size: number; readonly fromRepository?: string | undefined }
  | { readonly action: 'delete'; readonly kind: 'manifest' | 'blob'; readonly repository: string; readonly digest: string }
  | { readonly action: 'delete'; readonly kind: 'tag'; readonly repository: string; readonly tag: string };

/** Who made a change that no request made (the collector, a policy, the pull-through cache filling itself). */
export type SystemActor = 'gc' | 'retention' | 'untagged' | 'proxy';

export interface ChangeRecorder {
  /** The outbox row of a change about to be written (it is appended only if the write commits). */
  event(change: Change, origin: OriginSource | RequestOrigin | SystemActor | undefined): OutboxEvent;
  /** Whether some endpoint wants pull events (else do not even build them). */
  readonly recordsPulls: boolean;
  /** Whether manifest push events carry their references (notifications.events.includereferences). */
  readonly includesReferences: boolean;
  /** A pull: recorded after the fact, in a batch. */
  pulled(change: Change, origin: OriginSource | undefined): void;
}
