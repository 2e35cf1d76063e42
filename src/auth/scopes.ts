// Scope strings of the Docker token protocol (`repository:<name>:pull,push`, `registry:catalog:*`)
// and the `access` claim of tokens. Anything malformed is dropped, never half-understood.
import { parseRepositoryName } from '../registry/names.js';
import type { Action, Scope } from './access.js';

const REPOSITORY_ACTIONS: readonly Action[] = ['pull', 'push', 'delete'];

/** One scope string, or undefined when malformed or naming no known action. */
export function parseScope(text: string): Scope | undefined {
  const first = text.indexOf(':');
  const last = text.lastIndexOf(':');
  if (first <= 0 || last <= first) return undefined;
  return normalizeScope(text.slice(0, first), text.slice(first + 1, last), text.slice(last + 1).split(','));
}

/** Every scope of `scope` query values (each may hold several, separated by spaces). */
export function parseScopes(values: readonly string[]): Scope[] {
  return values.flatMap((value) => value.split(' ').filter((part) => part !== '')).flatMap((part) => parseScope(part) ?? []);
}

/** The `access` claim of a token: [{type, name, actions}]. */
export function parseAccessClaim(claim: unknown): Scope[] {
  if (!Array.isArray(claim)) return [];
  return claim.flatMap((entry: unknown) => {
    if (typeof entry !== 'object' || entry === null) return [];
    const { type, name, actions } = entry as Record<string, unknown>;
    if (typeof type !== 'string' || typeof name !== 'string' || !Array.isArray(actions)) return [];
    return normalizeScope(type, name, actions.filter((a): a is string => typeof a === 'string')) ?? [];
  });
}

function normalizeScope(type: string, name: string, actions: readonly string[]): Scope | undefined {
  if (type === 'registry') {
    return name === 'catalog' && actions.includes('*') ? { type: 'registry', name: 'catalog', actions: ['*'] } : undefined;
  }
  // `repository(plugin):name` carries a resource class; the class does not change the access.
  if (!/^repository(\([a-z0-9]+\))?$/.test(type)) return undefined;
  try {
    parseRepositoryName(name);
  } catch {
    return undefined;
  }
  const wanted = actions.includes('*') ? REPOSITORY_ACTIONS : REPOSITORY_ACTIONS.filter((action) => actions.includes(action));
  return wanted.length === 0 ? undefined : { type: 'repository', name, actions: wanted };
}

/** Whether `held` scopes cover every action of `needed`. */
export function covers(held: readonly Scope[], needed: Scope): boolean {
  return needed.actions.every((action) => held.some((scope) => scope.type === needed.type && scope.name === needed.name && scope.actions.includes(action)));
}
