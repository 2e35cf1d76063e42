// Access control: which actions a request needs (from the routes table) and who may do them.
// Controllers decide; http/ turns a refusal into 401 with a challenge, or 403.

export type Action = 'pull' | 'push' | 'delete' | '*';

/** A resource scope as Docker's token spec writes it: repository:<name>:pull,push. */
export interface Scope {
  readonly type: 'repository' | 'registry';
  readonly name: string;
  readonly actions: readonly Action[];
}

export interface AccessRequest {
  readonly scopes: readonly Scope[];
  readonly authorization: string | undefined;
  readonly remoteAddress: string | undefined;
  /** `scheme://host` the client reached (http.host when set), for challenges that name a URL. */
  readonly origin?: string | undefined;
  /** The subject CN of a client certificate verified against http.tls.clientcas, if any. */
  readonly clientCertificate?: string | undefined;
}

export type AccessDecision =
  | {
      readonly allowed: true;
      readonly subject: string | undefined;
      /** Whether the caller may do `action` on another repository (mount sources); absent: yes. */
      readonly may?: (action: Action, repository: string) => boolean;
      /** Which repositories the catalog shows the caller; absent: all. */
      readonly listable?: (repository: string) => boolean;
    }
  | {
      readonly allowed: false;
      /** A WWW-Authenticate challenge (401), or undefined (403). */
      readonly challenge: string | undefined;
      readonly reason: string;
      /** Set when the client is throttled (429 with Retry-After). */
      readonly retryAfterSeconds?: number;
    };

export interface AccessController {
  authorize(request: AccessRequest): Promise<AccessDecision>;
}

/** No access control: every request is allowed, as with distribution's default (no `auth:`). */
export class OpenAccess implements AccessController {
  authorize(): Promise<AccessDecision> {
    return Promise.resolve({ allowed: true, subject: undefined });
  }
}

export function scopeString(scope: Scope): string {
  return `${scope.type}:${scope.name}:${scope.actions.join(',')}`;
}
