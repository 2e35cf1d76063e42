// The access controller of `auth.*`: Basic (htpasswd) or Bearer (tokens) credentials, then the
// policy. No credentials: the anonymous policy applies, except on `GET /v2/` (so `docker login`
// checks the credentials it is given) and where it grants too little, which is 401 with a
// challenge. Wrong credentials: 401, answered late, and 429 after too many. Credentials that
// are good but grant too little: 403 (or 401 `insufficient_scope` for a token that the policy
// would let the caller widen). Credentials never reach a log line.
import type { Logger } from 'pino';
import type { AccessController, AccessDecision, AccessRequest, Action, Scope } from './access.js';
import { scopeString } from './access.js';
import { isAnonymous, parseBasic, parseBearer, quoted } from './credentials.js';
import type { LoginLimiter } from './failure-limiter.js';
import type { HtpasswdFile } from './htpasswd.js';
import { ANONYMOUS, type Policy, type Subject } from './policy.js';
import { covers } from './scopes.js';
import type { TokenVerifier } from './token-verifier.js';

export interface PolicyAccessOptions {
  readonly policy: Policy;
  readonly limiter: LoginLimiter;
  readonly log: Logger;
  readonly basic: { readonly realm: string; readonly users: HtpasswdFile } | undefined;
  readonly token:
    | {
        readonly verifier: TokenVerifier;
        /** The token endpoint; undefined: `<origin>/auth/token` (the built-in token service). */
        readonly realm: string | undefined;
        readonly service: string;
      }
    | undefined;
}

export class PolicyAccess implements AccessController {
  readonly #options: PolicyAccessOptions;

  constructor(options: PolicyAccessOptions) {
    this.#options = options;
  }

  async authorize(request: AccessRequest): Promise<AccessDecision> {
    const { policy, limiter } = this.#options;
    const { scopes } = request;
    if (isAnonymous(request.authorization)) {
      // A client certificate verified against http.tls.clientcas names its user by its CN.
      if (request.clientCertificate !== undefined) return this.#authorizeSubject({ user: request.clientCertificate }, scopes);
      if (scopes.length > 0 && scopes.every((scope) => policy.grants(ANONYMOUS, scope))) return this.#allow(ANONYMOUS);
      return this.#challenge(request, scopes.length === 0 ? 'credentials required' : 'anonymous access not granted');
    }
    const retryAfter = await limiter.blocked(request.remoteAddress);
    if (retryAfter !== undefined) return { allowed: false, challenge: undefined, reason: 'too many failed logins', retryAfterSeconds: retryAfter };
    if (this.#options.token !== undefined) return this.#authorizeToken(request);
    return this.#authorizeBasic(request);
  }

  async #authorizeBasic(request: AccessRequest): Promise<AccessDecision> {
    const basic = this.#options.basic;
    const credentials = parseBasic(request.authorization);
    if (basic === undefined || credentials === undefined) return this.#challenge(request, 'Basic credentials required');
    if (!(await basic.users.verify(credentials.user, credentials.password))) {
      this.#options.log.info({ user: credentials.user, client: request.remoteAddress }, 'failed login');
      await this.#options.limiter.fail(request.remoteAddress);
      return this.#challenge(request, 'invalid credentials');
    }
    return this.#authorizeSubject({ user: credentials.user }, request.scopes);
  }

  #authorizeSubject(subject: Subject, scopes: readonly Scope[]): AccessDecision {
    const missing = scopes.find((scope) => !this.#options.policy.grants(subject, scope));
    if (missing !== undefined) return { allowed: false, challenge: undefined, reason: `${subject.user ?? 'anonymous'} may not ${describe(missing)}` };
    return this.#allow(subject);
  }

  async #authorizeToken(request: AccessRequest): Promise<AccessDecision> {
    const token = this.#options.token;
    const raw = parseBearer(request.authorization);
    if (token === undefined || raw === undefined) return this.#challenge(request, 'Bearer token required');
    const verified = await token.verifier.verify(raw);
    if ('error' in verified) {
      this.#options.log.info({ client: request.remoteAddress, reason: verified.error }, 'token refused');
      return this.#challenge(request, verified.error, 'invalid_token');
    }
    const { policy } = this.#options;
    const subject: Subject = verified.subject === '' ? ANONYMOUS : { user: verified.subject };
    // A token of the built-in service is held to the policy of today, not of when it was issued.
    const grants = (scope: Scope): boolean => covers(verified.access, scope) && (!verified.own || policy.grants(subject, scope));
    const missing = request.scopes.find((scope) => !grants(scope));
    if (missing !== undefined) {
      if (verified.own && !policy.grants(subject, missing)) {
        return { allowed: false, challenge: undefined, reason: `${subject.user ?? 'anonymous'} may not ${describe(missing)}` };
      }
      return this.#challenge(request, 'insufficient scope', 'insufficient_scope');
    }
    return this.#allow(subject, verified.access, verified.own);
  }

  /**
   * Allowed. What the handlers may do besides the route (a mount's source, the catalog's names) is
   * bounded by the token's scopes when there is a token, and by the policy unless the token comes
   * from an external server (whose scopes are then the whole grant).
   */
  #allow(subject: Subject, tokenAccess?: readonly Scope[], own = true): AccessDecision {
    const { policy } = this.#options;
    const inToken = (action: Action, repository: string): boolean => tokenAccess === undefined || covers(tokenAccess, { type: 'repository', name: repository, actions: [action] });
    return {
      allowed: true,
      subject: subject.user,
      may: (action: Action, repository: string) => inToken(action, repository) && (!own || policy.may(subject, action, repository)),
      // The catalog lists what the policy lets the subject pull (with an external server's
      // registry:catalog:* scope, everything: its tokens name no repositories for the catalog).
      ...(own && !policy.seesWholeCatalog(subject) ? { listable: (repository: string) => policy.may(subject, 'pull', repository) } : {}),
    };
  }

  #challenge(request: AccessRequest, reason: string, error?: string): AccessDecision {
    const token = this.#options.token;
    if (token === undefined) return { allowed: false, challenge: `Basic realm=${quoted(this.#options.basic?.realm ?? 'berth')}`, reason };
    const realm = token.realm ?? `${request.origin ?? ''}/auth/token`;
    let challenge = `Bearer realm=${quoted(realm)},service=${quoted(token.service)}`;
    if (request.scopes.length > 0) challenge += `,scope=${quoted(request.scopes.map(scopeString).join(' '))}`;
    if (error !== undefined) challenge += `,error=${quoted(error)}`;
    return { allowed: false, challenge, reason };
  }
}

function describe(scope: Scope): string {
  return scope.type === 'registry' ? 'list the catalog' : `${scope.actions.join(',')} ${scope.name}`;
}
