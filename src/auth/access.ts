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
}

export type AccessDecision =
  | { readonly allowed: true; readonly subject: string | undefined }
  | { readonly allowed: false; readonly challenge: string | undefined; readonly reason: string };

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
