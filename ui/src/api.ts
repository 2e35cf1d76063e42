// Talks to the registry: /v2 and the API extensions (docs/api.md), with the credentials of the
// session. Basic credentials go as they are; a Bearer challenge (the token service) is answered by
// fetching a token for the challenged scope (widened to pull and delete on repositories, which the
// token service narrows to what the policy grants), cached per scope. `credentials: 'omit'` keeps
// the browser from showing its own login dialog on a 401.

export interface Session {
  readonly user: string;
  readonly password: string;
}

const SESSION_KEY = 'berth.session';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const tokens = new Map<string, string>();

export function currentSession(): Session | undefined {
  const text = sessionStorage.getItem(SESSION_KEY);
  if (text === null) return undefined;
  try {
    return JSON.parse(text) as Session;
  } catch {
    return undefined;
  }
}

export function logout(): void {
  sessionStorage.removeItem(SESSION_KEY);
  tokens.clear();
  lastBearer = undefined;
}

/** Checks the credentials against GET /v2/ and keeps them for the session when they work. */
export async function login(session: Session): Promise<void> {
  tokens.clear();
  lastBearer = undefined;
  await request('/v2/', {}, session);
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
}

function basic(session: Session): string {
  const bytes = new TextEncoder().encode(`${session.user}:${session.password}`);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return `Basic ${btoa(binary)}`;
}

function parseChallenge(header: string): Record<string, string> {
  const params: Record<string, string> = {};
  for (const match of header.replace(/^Bearer\s+/i, '').matchAll(/([a-z_]+)="([^"]*)"/gi)) params[(match[1] ?? '').toLowerCase()] = match[2] ?? '';
  return params;
}

/** Repository scopes asked as pull,delete so that the API can tell whether delete is allowed. */
function widen(scope: string): string {
  return scope
    .split(' ')
    .map((part) => (part.startsWith('repository:') ? `${part.slice(0, part.lastIndexOf(':'))}:pull,delete` : part))
    .join(' ');
}

async function fetchToken(challenge: string, session: Session | undefined): Promise<string | undefined> {
  const params = parseChallenge(challenge);
  if (params.realm === undefined) return undefined;
  const url = new URL(params.realm, location.href);
  if (url.origin !== location.origin) return undefined;
  if (params.service !== undefined) url.searchParams.set('service', params.service);
  const scope = params.scope === undefined ? '' : widen(params.scope);
  if (scope !== '') url.searchParams.set('scope', scope);
  const cached = tokens.get(scope);
  if (cached !== undefined && params.error === undefined) return cached;
  const response = await fetch(url, { headers: session === undefined ? {} : { Authorization: basic(session) }, credentials: 'omit' });
  if (!response.ok) return undefined;
  const body = (await response.json()) as { token?: string; access_token?: string };
  const token = body.token ?? body.access_token;
  if (token !== undefined) tokens.set(scope, token);
  return token;
}

let lastBearer: string | undefined;

export async function request(path: string, init: { method?: string; accept?: string } = {}, session: Session | undefined = currentSession()): Promise<Response> {
  const headers: Record<string, string> = {};
  if (init.accept !== undefined) headers.Accept = init.accept;
  const send = (authorization: string | undefined): Promise<Response> =>
    fetch(path, { method: init.method ?? 'GET', headers: authorization === undefined ? headers : { ...headers, Authorization: authorization }, credentials: 'omit', cache: 'no-store' });
  let response = await send(lastBearer !== undefined ? `Bearer ${lastBearer}` : session === undefined ? undefined : basic(session));
  if (response.status === 401) {
    const challenge = response.headers.get('www-authenticate') ?? '';
    if (/^Bearer /i.test(challenge)) {
      const token = await fetchToken(challenge, session);
      if (token !== undefined) {
        lastBearer = token;
        response = await send(`Bearer ${token}`);
      }
    }
  }
  if (!response.ok && response.status !== 202) {
    let code = 'UNKNOWN';
    let message = `${response.status} ${response.statusText}`;
    try {
      const body = (await response.json()) as { errors?: { code?: string; message?: string }[] };
      code = body.errors?.[0]?.code ?? code;
      message = body.errors?.[0]?.message ?? message;
    } catch {
      // not the JSON envelope
    }
    throw new ApiError(response.status, code, message);
  }
  return response;
}

export async function getJson<T>(path: string): Promise<T> {
  return (await (await request(path)).json()) as T;
}

export const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

// ---- the JSON API's shapes (docs/api.md) ----

export interface Actions {
  readonly pull: boolean;
  readonly push: boolean;
  readonly delete: boolean;
}

export interface RepositorySummary {
  readonly name: string;
  readonly tags: number;
  readonly pushedAt: number | null;
}

export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
  readonly digest: string;
}

export interface TagView {
  readonly name: string;
  readonly digest: string;
  readonly mediaType: string;
  readonly size: number;
  readonly pushedAt: number;
  readonly immutable: boolean;
  readonly platforms?: readonly Platform[];
  readonly retention: RetentionStatus | null;
}

export interface Usage {
  readonly scope: string;
  readonly blobs: number;
  readonly blobBytes: number;
  readonly manifests: number;
  readonly manifestBytes: number;
  readonly tags: number;
}

/** A child of a namespace prefix (docs/api.md, namespaces). */
export interface NamespaceChild {
  readonly name: string;
  readonly path: string;
  readonly repository: boolean;
  readonly namespace: boolean;
  readonly usage: Usage | null;
}

export type RetentionKeep = 'immutable' | 'keeptags' | 'keepnewest' | 'keepyoungerthan';

/** What lifecycle.retention will do to a tag (docs/api.md). */
export interface RetentionStatus {
  readonly rule: number;
  readonly keptBy: readonly RetentionKeep[];
  readonly deletableAt: number | null;
  readonly deleteBy: number | null;
}

export interface DeletionPlan {
  readonly tags: readonly string[];
  readonly otherTags?: readonly string[];
  readonly immutableTags: readonly string[];
  readonly manifestRemoved: boolean;
  readonly referrers: Readonly<Record<string, number>>;
  readonly parents: readonly string[];
  readonly reclaimableAfter: number | null;
  readonly gc: { readonly enabled: boolean; readonly reviewDelayMs: number; readonly intervalMs: number };
  readonly digest?: string;
}

export interface ManifestView {
  readonly digest: string;
  readonly mediaType: string;
  readonly size: number;
  readonly artifactType: string | null;
  readonly subject: string | null;
  readonly createdAt: number;
  readonly tags: readonly string[];
  readonly parents: readonly string[];
  readonly referrers: Readonly<Record<string, number>>;
  readonly platforms?: readonly Platform[];
  readonly deleteManifest: DeletionPlan;
  readonly actions: Actions;
}

export function browsePath(rest: string): string {
  return `/v2/_berth/browse/${rest}`;
}
