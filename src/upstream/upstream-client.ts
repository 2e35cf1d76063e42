// An OCI client for one upstream registry: requests under /v2/ that answer the upstream's 401
// challenge with Basic credentials or the Bearer token flow (a token per scope from the realm,
// cached until it expires), anonymously when no credentials are set. Bodies are not read here:
// callers stream them.

import { parseChallenges, type Challenge } from './challenge.js';

export interface UpstreamOptions {
  /** The upstream's origin, e.g. `https://registry-1.docker.io`. */
  readonly url: string;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  /** Per request (headers, and each token fetch); the body may take longer. Default 30 s. */
  readonly timeoutMs?: number;
  /** Tokens are reused until this long before they expire. Default 10 s. */
  readonly expiryMarginMs?: number;
  readonly now?: () => number;
}

interface CachedToken {
  readonly token: string;
  readonly expiresAt: number;
}

/** A token response with neither `token` nor `access_token`, or a token endpoint that refuses. */
export class UpstreamAuthError extends Error {
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.name = 'UpstreamAuthError';
    this.status = status;
  }
}

/** The upstream did not answer (headers, or a token) within the client's timeout. */
export class UpstreamTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UpstreamTimeoutError';
  }
}

/** Without `expires_in` a token lives 60 s (Docker's token specification). */
const DEFAULT_TOKEN_SECONDS = 60;

export class UpstreamClient {
  readonly url: string;
  readonly #username: string | undefined;
  readonly #password: string | undefined;
  readonly #timeoutMs: number;
  readonly #marginMs: number;
  readonly #now: () => number;
  readonly #tokens = new Map<string, CachedToken>();
  /** Token fetches in flight per scope, shared by concurrent requests. */
  readonly #pending = new Map<string, Promise<string>>();
  /** The last challenge seen; a later request answers it without a round trip. */
  #challenge: Challenge | undefined;
  /** Token fetches made (for tests and metrics). */
  tokenFetches = 0;

  constructor(options: UpstreamOptions) {
    this.url = options.url.replace(/\/+$/, '');
    this.#username = options.username;
    this.#password = options.password;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#marginMs = options.expiryMarginMs ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Sends `method path` (a path under /v2/) with credentials for `scope` (`repository:<name>:pull`).
   * A 401 is answered once with its challenge; the upstream's second answer is returned as it is.
   */
  async request(method: string, path: string, scope: string, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
    let authorization = this.#cachedAuthorization(scope);
    let response = await this.#send(method, path, headers, authorization, signal);
    if (response.status !== 401) return response;
    const challenge = pickChallenge(parseChallenges(response.headers.get('www-authenticate')));
    if (challenge === undefined) return response;
    this.#challenge = challenge;
    const fresh = await this.#authorization(challenge, scope, authorization);
    if (fresh === undefined) return response;
    await response.body?.cancel();
    authorization = fresh;
    response = await this.#send(method, path, headers, authorization, signal);
    return response;
  }

  async #send(method: string, path: string, headers: Record<string, string>, authorization: string | undefined, signal: AbortSignal | undefined): Promise<Response> {
    // The timeout covers the exchange only until headers: bodies of large blobs take longer (their
    // reader watches for a stall itself). A signal passed to fetch would also abort the body.
    const headersArrived = new AbortController();
    const timer = setTimeout(() => headersArrived.abort(new UpstreamTimeoutError(`${method} ${this.url}${path}: no answer within ${this.#timeoutMs} ms`)), this.#timeoutMs);
    try {
      return await fetch(`${this.url}${path}`, {
        method,
        headers: authorization === undefined ? headers : { ...headers, authorization },
        redirect: 'follow',
        signal: signal === undefined ? headersArrived.signal : AbortSignal.any([signal, headersArrived.signal]),
      });
    } finally {
      clearTimeout(timer);
    }
  }

  #basic(): string | undefined {
    if (this.#username === undefined) return undefined;
    return `Basic ${Buffer.from(`${this.#username}:${this.#password ?? ''}`).toString('base64')}`;
  }

  /** What to send before any challenge: a cached token for the scope, or Basic when that was asked. */
  #cachedAuthorization(scope: string): string | undefined {
    const challenge = this.#challenge;
    if (challenge?.scheme === 'basic') return this.#basic();
    if (challenge?.scheme !== 'bearer') return undefined;
    const cached = this.#tokens.get(scope);
    if (cached !== undefined && cached.expiresAt - this.#marginMs > this.#now()) return `Bearer ${cached.token}`;
    return undefined;
  }

  async #authorization(challenge: Challenge, scope: string, sent: string | undefined): Promise<string | undefined> {
    if (challenge.scheme === 'basic') {
      const basic = this.#basic();
      return basic === sent ? undefined : basic;
    }
    // A token was refused (revoked, or the scope changed): drop it and ask once more.
    if (sent?.startsWith('Bearer ') === true) this.#tokens.delete(scope);
    const token = await this.#token(challenge, scope);
    return `Bearer ${token}`;
  }

  #token(challenge: Challenge, scope: string): Promise<string> {
    const pending = this.#pending.get(scope);
    if (pending !== undefined) return pending;
    const promise = this.#fetchToken(challenge, scope).finally(() => this.#pending.delete(scope));
    this.#pending.set(scope, promise);
    return promise;
  }

  async #fetchToken(challenge: Challenge, scope: string): Promise<string> {
    const realm = challenge.params.realm;
    if (realm === undefined) throw new UpstreamAuthError('Bearer challenge without a realm', 401);
    const url = new URL(realm);
    if (challenge.params.service !== undefined) url.searchParams.set('service', challenge.params.service);
    url.searchParams.set('scope', scope);
    const basic = this.#basic();
    this.tokenFetches += 1;
    const response = await fetch(url, { headers: basic === undefined ? {} : { authorization: basic }, signal: AbortSignal.timeout(this.#timeoutMs) });
    if (!response.ok) {
      await response.body?.cancel();
      throw new UpstreamAuthError(`token endpoint ${url.origin}${url.pathname} answered ${response.status}`, response.status);
    }
    const body = (await response.json()) as { token?: unknown; access_token?: unknown; expires_in?: unknown; issued_at?: unknown };
    const token = typeof body.token === 'string' && body.token !== '' ? body.token : typeof body.access_token === 'string' ? body.access_token : undefined;
    if (token === undefined || token === '') throw new UpstreamAuthError('token response without a token', 502);
    const seconds = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : DEFAULT_TOKEN_SECONDS;
    const issued = typeof body.issued_at === 'string' ? Date.parse(body.issued_at) : Number.NaN;
    // The local clock decides: an upstream's issued_at far from it would make the cache useless or stale.
    const start = Number.isFinite(issued) && Math.abs(issued - this.#now()) < 60_000 ? issued : this.#now();
    this.#tokens.set(scope, { token, expiresAt: start + seconds * 1000 });
    return token;
  }
}

/** Bearer when offered (it carries scopes), else Basic. */
function pickChallenge(challenges: readonly Challenge[]): Challenge | undefined {
  return challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
}

/** The scope that pulling from `repository` needs. */
export function pullScope(repository: string): string {
  return `repository:${repository}:pull`;
}
