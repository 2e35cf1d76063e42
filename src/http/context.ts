// The per-request context: the request and response, the route's typed parameters, the App's
// services, and a request id that every log line and error response of the request carries.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { AccessDecision } from '../auth/access.js';
import type { Digest } from '../registry/digest.js';
import type { RepositoryName } from '../registry/names.js';
import type { OriginSource, RequestOrigin } from '../registry/changes.js';
import type { Registry } from '../registry/registry.js';
import type { Metrics } from '../telemetry/metrics.js';
import { externalOrigin } from './origin.js';

export interface RouteParams {
  name?: RepositoryName;
  reference?: string;
  digest?: Digest;
  uploadId?: string;
}

export interface HttpSettings {
  /** http.host: the external base URL absolute URLs start with; from the request when undefined. */
  readonly baseUrl: string | undefined;
  /** http.relativeurls: Location and Link headers are paths. */
  readonly relativeUrls: boolean;
  /** Headers added to every response. */
  readonly headers: Readonly<Record<string, string[]>>;
  /** Where handlers report what only they know (bytes served, refusals); undefined when metrics are off. */
  readonly metrics?: Metrics | undefined;
}

export class RequestContext implements OriginSource {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly id: string;
  readonly registry: Registry;
  readonly log: Logger;
  readonly settings: HttpSettings;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly params: RouteParams = {};
  routeId = 'unmatched';
  /** What access control allowed for this request (set by dispatch before the handler runs). */
  access: Extract<AccessDecision, { allowed: true }> | undefined;

  constructor(req: IncomingMessage, res: ServerResponse, id: string, registry: Registry, log: Logger, settings: HttpSettings, path: string, query: URLSearchParams) {
    this.req = req;
    this.res = res;
    this.id = id;
    this.registry = registry;
    this.log = log;
    this.settings = settings;
    this.path = path;
    this.query = query;
  }

  /** Whether the caller may also do `action` on `repository` (e.g. pull a mount source). */
  may(action: 'pull' | 'push' | 'delete', repository: string): boolean {
    return this.access?.may === undefined || this.access.may(action, repository);
  }

  get isHead(): boolean {
    return this.req.method === 'HEAD';
  }

  get name(): RepositoryName {
    return this.params.name as RepositoryName;
  }

  get digest(): Digest {
    return this.params.digest as Digest;
  }

  get uploadId(): string {
    return this.params.uploadId as string;
  }

  get reference(): string {
    return this.params.reference as string;
  }

  header(name: string): string | undefined {
    const value = this.req.headers[name];
    return Array.isArray(value) ? value.join(', ') : value;
  }

  /**
   * The one function every Location header Berth builds goes through: the path itself with
   * http.relativeurls, else the absolute URL (http.host, or the origin the client reached).
   */
  url(path: string): string {
    if (this.settings.relativeUrls) return path;
    const origin = externalOrigin(this.req, this.settings.baseUrl);
    return origin === undefined ? path : origin + path;
  }

  /** A paging Link target: a path, as distribution sends it, or absolute under http.host when that is set. */
  linkUrl(pathAndQuery: string): string {
    return this.settings.baseUrl === undefined || this.settings.relativeUrls ? pathAndQuery : this.settings.baseUrl + pathAndQuery;
  }

  /** Ends the response with an optional body; HEAD sends the headers only. */
  send(status: number, headers: Record<string, string | number>, body?: string | Buffer): void {
    if (body !== undefined && headers['Content-Length'] === undefined) headers['Content-Length'] = Buffer.byteLength(body);
    if (headers['Content-Length'] === undefined) headers['Content-Length'] = 0;
    this.res.writeHead(status, headers);
    if (body === undefined || this.isHead) this.res.end();
    else this.res.end(body);
  }

  /** The request as a notification event reports it (built only when an event is). */
  requestOrigin(): RequestOrigin {
    const socket = this.req.socket;
    const host = this.req.headers.host ?? '';
    return {
      id: this.id,
      addr: `${socket.remoteAddress ?? ''}:${socket.remotePort ?? ''}`,
      host,
      method: this.req.method ?? '',
      userAgent: this.header('user-agent') ?? '',
      actor: this.access?.subject,
      baseUrl: externalOrigin(this.req, this.settings.baseUrl) ?? `http://${host}`,
    };
  }

  sendJson(status: number, value: unknown, headers: Record<string, string | number> = {}): void {
    const body = JSON.stringify(value);
    this.send(status, { 'Content-Type': 'application/json', ...headers }, body);
  }
}
