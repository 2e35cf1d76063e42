// WWW-Authenticate challenges of an upstream registry (RFC 7235): the scheme and its parameters,
// as Docker Hub, ghcr.io, quay.io and distribution send them (`Bearer realm="…",service="…",scope="…"`).

export interface Challenge {
  /** Lower-case scheme: `basic` or `bearer` (others are kept but not answered). */
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

/** The challenges of one header value; several may be listed, separated by commas. */
export function parseChallenges(header: string | null): Challenge[] {
  if (header === null) return [];
  const challenges: Challenge[] = [];
  // token68 values are not used by registries; parameters are `name=token` or `name="quoted"`.
  const re = /\s*([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)(?:\s+|\s*$)|\s*([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?/gy;
  let current: { scheme: string; params: Record<string, string> } | undefined;
  let match: RegExpExecArray | null;
  while (re.lastIndex < header.length && (match = re.exec(header)) !== null) {
    if (match[1] !== undefined) {
      current = { scheme: match[1].toLowerCase(), params: {} };
      challenges.push(current);
    } else if (match[2] !== undefined && current !== undefined) {
      current.params[match[2].toLowerCase()] = match[3] !== undefined ? match[3].replace(/\\(.)/g, '$1') : (match[4] ?? '');
    }
    if (match[0] === '') break;
  }
  return challenges;
}
