// Authorization header values: Basic user:password and Bearer tokens. Nothing here logs them.

export interface BasicCredentials {
  readonly user: string;
  readonly password: string;
}

/** `Basic base64(user:password)`, or undefined when the header is not well-formed Basic. */
export function parseBasic(header: string | undefined): BasicCredentials | undefined {
  const match = header === undefined ? null : /^Basic +([A-Za-z0-9+/=]+) *$/i.exec(header);
  if (match === null) return undefined;
  const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** The token of `Bearer <token>`, or undefined. */
export function parseBearer(header: string | undefined): string | undefined {
  const match = header === undefined ? null : /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i.exec(header);
  return match === null ? undefined : match[1];
}

/** A quoted-string for a WWW-Authenticate parameter. */
export function quoted(value: string): string {
  return `"${value.replace(/["\\]/g, '\\$&')}"`;
}

/**
 * Whether the header carries no credentials at all: absent, empty, or Basic with an empty user and
 * password (`Basic Og==`, what containers/image sends for a Basic challenge when it has no login).
 */
export function isAnonymous(header: string | undefined): boolean {
  if (header === undefined || header.trim() === '') return true;
  const match = /^Basic +([A-Za-z0-9+/=]*) *$/i.exec(header);
  return match !== null && Buffer.from(match[1] as string, 'base64').toString('utf8') === ':';
}
