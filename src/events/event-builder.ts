// Builds distribution's event JSON (notifications/event.go's shape, media type
// application/vnd.docker.distribution.events.v1+json) for the registry's changes, so that receivers
// written for distribution work unchanged: id, timestamp, action (push, pull, delete, mount),
// target {mediaType, digest, size, length, repository, fromRepository, url, tag, references},
// request {id, addr, host, method, useragent}, actor {name}, source {addr, instanceID}. Delete
// events carry only the repository and the digest (or tag), as distribution's do.
import { randomUUID } from 'node:crypto';
import type { OutboxEvent } from '../metadata/event-store.js';
import type { Change, OriginSource, RequestOrigin, SystemActor } from '../registry/changes.js';

export const EVENTS_MEDIA_TYPE = 'application/vnd.docker.distribution.events.v1+json';
const BLOB_MEDIA_TYPE = 'application/octet-stream';

export interface EventSource {
  /** host:port of this instance (distribution: os.Hostname() and the listening port). */
  readonly addr: string;
  /** Identifies this process; changes at each restart. */
  readonly instanceID: string;
  /** Base URL for target URLs of events no request made (http.host, or http://addr). */
  readonly baseUrl: string;
}

export function buildEvent(change: Change, origin: OriginSource | RequestOrigin | SystemActor | undefined, source: EventSource): OutboxEvent {
  const request: RequestOrigin | undefined =
    origin === undefined || typeof origin === 'string' ? undefined : 'requestOrigin' in origin ? origin.requestOrigin() : origin;
  const baseUrl = request?.baseUrl ?? source.baseUrl;
  const target: Record<string, unknown> = {};
  if (change.action === 'delete') {
    target.repository = change.repository;
    if (change.kind === 'tag') target.tag = change.tag;
    else target.digest = change.digest;
  } else {
    const kind = change.kind === 'manifest' ? 'manifests' : 'blobs';
    target.mediaType = change.kind === 'manifest' ? change.mediaType : BLOB_MEDIA_TYPE;
    target.digest = change.digest;
    target.size = change.size;
    target.length = change.size;
    target.repository = change.repository;
    if (change.action === 'mount' && change.fromRepository !== undefined) target.fromRepository = change.fromRepository;
    target.url = `${baseUrl}/v2/${change.repository}/${kind}/${change.digest}`;
    if (change.kind === 'manifest' && change.tag !== undefined) target.tag = change.tag;
    if (change.kind === 'manifest' && change.references !== undefined) target.references = change.references;
  }
  const event = {
    id: randomUUID(),
    timestamp: new Date().toISOString(),
    action: change.action,
    target,
    request: request === undefined ? { id: '', method: '', useragent: '' } : { id: request.id, addr: request.addr, host: request.host, method: request.method, useragent: request.userAgent },
    actor: typeof origin === 'string' ? { name: `berth:${origin}` } : request?.actor === undefined ? {} : { name: request.actor },
    source: { addr: source.addr, instanceID: source.instanceID },
  };
  return { repository: change.repository, payload: JSON.stringify(event) };
}

/** What an endpoint filters on, read back from a stored event. */
export function eventFilterFields(payload: string): { action: string; mediaType: string | undefined } {
  const event = JSON.parse(payload) as { action?: string; target?: { mediaType?: string } };
  return { action: event.action ?? '', mediaType: event.target?.mediaType };
}
