// The UI's pages as hash routes (#/, #/r/<name>, #/r/<name>/m/<reference>, #/ns/<prefix>, #/login).
export type Route =
  | { readonly page: 'repositories'; readonly q: string }
  | { readonly page: 'repository'; readonly name: string }
  | { readonly page: 'manifest'; readonly name: string; readonly reference: string }
  | { readonly page: 'namespaces'; readonly prefix: string }
  | { readonly page: 'login' }
  | { readonly page: 'gc' };

export function parseRoute(hash: string): Route {
  const path = decodeURIComponent(hash.replace(/^#/, ''));
  if (path === '/login') return { page: 'login' };
  if (path === '/gc') return { page: 'gc' };
  const namespaces = /^\/ns(?:\/(.*))?$/.exec(path);
  if (namespaces !== null) return { page: 'namespaces', prefix: namespaces[1] ?? '' };
  const manifest = /^\/r\/(.+)\/m\/([^/]+)$/.exec(path);
  if (manifest !== null) return { page: 'manifest', name: manifest[1] ?? '', reference: manifest[2] ?? '' };
  const repository = /^\/r\/(.+)$/.exec(path);
  if (repository !== null) return { page: 'repository', name: repository[1] ?? '' };
  const search = /^\/\?q=(.*)$/.exec(path);
  return { page: 'repositories', q: search?.[1] ?? '' };
}

export const href = {
  repositories: (): string => '#/',
  repository: (name: string): string => `#/r/${name}`,
  manifest: (name: string, reference: string): string => `#/r/${name}/m/${reference}`,
  namespaces: (prefix: string): string => (prefix === '' ? '#/ns' : `#/ns/${prefix}`),
  login: (): string => '#/login',
  gc: (): string => '#/gc',
};
