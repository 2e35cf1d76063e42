// The built-in Docker token service: `GET /auth/token` (Basic credentials or none, `scope`,
// `service`, `offline_token`) and `POST /auth/token` (OAuth2 form: `grant_type=password` or
// `refresh_token`). Tokens carry only the scopes the policy grants; users come from htpasswd.
// Refresh tokens are JWTs with another audience, so they are never accepted as access tokens.
import { randomUUID } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import type { Logger } from 'pino';
import { scopeString, type Scope } from './access.js';
import { isAnonymous, parseBasic } from './credentials.js';
import type { LoginLimiter } from './failure-limiter.js';
import type { HtpasswdFile } from './htpasswd.js';
import { ANONYMOUS, type Policy, type Subject } from './policy.js';
import { parseScopes } from './scopes.js';
import type { SigningKey } from './token-keys.js';

export interface TokenServiceOptions {
  readonly key: SigningKey;
  readonly users: HtpasswdFile;
  readonly policy: Policy;
  readonly limiter: LoginLimiter;
  readonly log: Logger;
  readonly issuer: string;
  readonly service: string;
  /** Realm of the Basic challenge sent for bad credentials. */
  readonly realm: string;
  readonly expirationMs: number;
  readonly refreshExpirationMs: number;
}

export interface TokenRequest {
  readonly method: 'GET' | 'POST';
  readonly authorization: string | undefined;
  readonly remoteAddress: string | undefined;
  /** The query (GET) or the form body (POST). */
  readonly params: URLSearchParams;
}

export interface TokenResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: object;
}

const JSON_NO_STORE = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };

export class TokenService {
  readonly #options: TokenServiceOptions;

  constructor(options: TokenServiceOptions) {
    this.#options = options;
  }

  /** The public signing key, as served at /auth/jwks.json. */
  jwks(): object {
    return { keys: [this.#options.key.jwk] };
  }

  async issue(request: TokenRequest): Promise<TokenResponse> {
    const { params } = request;
    const service = params.get('service');
    if (service !== null && service !== '' && service !== this.#options.service) return oauthError(400, 'invalid_request', 'unknown service');
    let subject: Subject;
    let offline = false;
    if (request.method === 'GET') {
      offline = params.get('offline_token') === 'true';
      if (isAnonymous(request.authorization)) {
        subject = ANONYMOUS;
        offline = false;
      } else {
        const credentials = parseBasic(request.authorization);
        if (credentials === undefined) return this.#unauthorized('Basic credentials required');
        const checked = await this.#login(credentials.user, credentials.password, request.remoteAddress);
        if ('status' in checked) return checked;
        subject = checked;
      }
    } else {
      const grant = params.get('grant_type');
      if (grant === 'password') {
        const user = params.get('username') ?? '';
        const password = params.get('password') ?? '';
        if (user === '') return oauthError(400, 'invalid_request', 'username is required');
        const checked = await this.#login(user, password, request.remoteAddress);
        if ('status' in checked) return checked;
        subject = checked;
        offline = params.get('access_type') === 'offline';
      } else if (grant === 'refresh_token') {
        const user = await this.#refreshSubject(params.get('refresh_token') ?? '');
        if (user === undefined) return oauthError(400, 'invalid_grant', 'refresh token not accepted');
        subject = { user };
        offline = true;
      } else {
        return oauthError(400, 'unsupported_grant_type', 'grant_type must be password or refresh_token');
      }
    }
    const granted = this.#grant(subject, parseScopes(params.getAll('scope')));
    const now = Math.floor(Date.now() / 1000);
    const expiresIn = Math.max(1, Math.floor(this.#options.expirationMs / 1000));
    const token = await this.#sign({ access: granted.map((scope) => ({ type: scope.type, name: scope.name, actions: scope.actions })) }, subject.user ?? '', this.#options.service, now, expiresIn);
    const body: Record<string, unknown> = {
      token,
      access_token: token,
      expires_in: expiresIn,
      issued_at: new Date(now * 1000).toISOString(),
      scope: granted.map(scopeString).join(' '),
    };
    if (offline && subject.user !== undefined) {
      body.refresh_token = await this.#sign({}, subject.user, this.#refreshAudience(), now, Math.max(1, Math.floor(this.#options.refreshExpirationMs / 1000)));
    }
    return { status: 200, headers: { 'Content-Type': 'application/json', ...JSON_NO_STORE }, body };
  }

  async #login(user: string, password: string, client: string | undefined): Promise<Subject | TokenResponse> {
    const { limiter } = this.#options;
    const retryAfter = await limiter.blocked(client);
    if (retryAfter !== undefined) {
      return {
        status: 429,
        headers: { 'Content-Type': 'application/json', 'Retry-After': String(retryAfter) },
        body: { errors: [{ code: 'TOOMANYREQUESTS', message: 'too many failed logins', detail: null }] },
      };
    }
    if (await this.#options.users.verify(user, password)) return { user };
    this.#options.log.info({ user, client }, 'failed login at the token endpoint');
    await limiter.fail(client);
    return this.#unauthorized('invalid credentials');
  }

  #grant(subject: Subject, requested: readonly Scope[]): Scope[] {
    const granted: Scope[] = [];
    for (const scope of requested) {
      const part = this.#options.policy.intersect(subject, scope);
      if (part !== undefined) granted.push(part);
    }
    return granted;
  }

  async #sign(claims: Record<string, unknown>, subject: string, audience: string, now: number, lifetime: number): Promise<string> {
    const { key, issuer } = this.#options;
    return new SignJWT(claims)
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
      .setIssuer(issuer)
      .setSubject(subject)
      .setAudience(audience)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + lifetime)
      .setJti(randomUUID())
      .sign(key.privateKey);
  }

  #refreshAudience(): string {
    return `${this.#options.service}#refresh`;
  }

  /** The user of a valid refresh token who is still in the htpasswd file, else undefined. */
  async #refreshSubject(token: string): Promise<string | undefined> {
    const { key, issuer } = this.#options;
    try {
      const { payload } = await jwtVerify(token, key.publicKey, { issuer, audience: this.#refreshAudience(), algorithms: [key.alg], requiredClaims: ['exp', 'sub'] });
      const user = payload.sub ?? '';
      return user !== '' && (await this.#options.users.has(user)) ? user : undefined;
    } catch {
      return undefined;
    }
  }

  #unauthorized(message: string): TokenResponse {
    return {
      status: 401,
      headers: { 'Content-Type': 'application/json', 'WWW-Authenticate': `Basic realm="${this.#options.realm.replace(/["\\]/g, '\\$&')}"` },
      body: { errors: [{ code: 'UNAUTHORIZED', message, detail: null }] },
    };
  }
}

function oauthError(status: number, error: string, description: string): TokenResponse {
  return { status, headers: { 'Content-Type': 'application/json', ...JSON_NO_STORE }, body: { error, error_description: description } };
}
