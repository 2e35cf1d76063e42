// Matches a request path to a route of the table and checks its parameters' grammar.
import { parseDigest } from '../registry/digest.js';
import { methodNotAllowed, nameInvalid, notFound } from '../registry/errors.js';
import { parseRepositoryName } from '../registry/names.js';
import type { RouteParams } from './context.js';
import { ROUTES, type Method, type Operation, type Route } from './routes.js';

export interface Match {
  readonly route: Route;
  readonly operation: Operation;
  readonly params: RouteParams;
}

/**
 * Splits the raw request target into a decoded path and its query. An encoded slash (`%2F`) is a
 * slash, as in distribution (the Azure SDK encodes whole repository names): the decoded path is the
 * one spelling every later check sees, and `..` or empty segments it forms are refused there by the
 * name grammar. What no valid path holds is refused here: backslashes and control characters (NUL,
 * CR, LF, ...), encoded or not.
 */
export function splitTarget(target: string): { path: string; query: URLSearchParams } {
  const mark = target.indexOf('?');
  const rawPath = mark === -1 ? target : target.slice(0, mark);
  const query = new URLSearchParams(mark === -1 ? '' : target.slice(mark + 1));
  if (rawPath.includes('\\')) throw nameInvalid('backslashes are not allowed in paths');
  if (!rawPath.includes('%')) return { path: rawPath, query };
  if (/%5c|%[01][0-9a-f]|%7f/i.test(rawPath)) throw nameInvalid('encoded backslashes and control characters are not allowed in paths');
  try {
    return { path: decodeURIComponent(rawPath), query };
  } catch {
    throw nameInvalid('malformed percent-encoding in path');
  }
}

export function match(method: string, path: string): Match {
  for (const route of ROUTES) {
    const found = route.pattern.exec(path);
    if (found === null) continue;
    const operation = route.methods[method as Method];
    if (operation === undefined) throw methodNotAllowed(Object.keys(route.methods));
    const groups = found.groups ?? {};
    const params: RouteParams = {};
    if (groups.name !== undefined) params.name = parseRepositoryName(groups.name);
    if (groups.digest !== undefined) params.digest = parseDigest(groups.digest);
    if (groups.reference !== undefined) params.reference = groups.reference;
    if (groups.uploadId !== undefined) params.uploadId = groups.uploadId;
    return { route, operation, params };
  }
  throw notFound();
}
