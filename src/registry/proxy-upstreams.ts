// Which upstream registry a repository mirrors, under which name the upstream knows it, which
// prefix a transparent mirror's request (with or without `?ns=`) is served under, and whether the
// upstream's allow/deny lists let the repository through.
import type { UpstreamConfig } from '../config/config.js';
import { UpstreamClient } from '../upstream/upstream-client.js';
import { compileRepositoryGlob } from './repository-glob.js';

/** One configured upstream with its client (credentials, token cache). */
export interface Upstream {
  readonly config: UpstreamConfig;
  readonly client: UpstreamClient;
  /** Whether the upstream's allow/deny lists let a repository (its upstream name) through. */
  readonly permits: (remoteName: string) => boolean;
  /** Whether a repository asked without prefix nor `?ns=` is this upstream's (`unprefixed`). */
  readonly takesUnprefixed: (repository: string) => boolean;
}

/** A repository that mirrors an upstream: the upstream and the repository's name there. */
export interface ProxiedRepository {
  readonly upstream: Upstream;
  readonly remoteName: string;
}

export class ProxyUpstreams {
  readonly #upstreams: readonly Upstream[];

  constructor(configs: readonly UpstreamConfig[], timeoutMs?: number) {
    // The longest prefix wins, so that `hub/special/` may go elsewhere than `hub/`.
    this.#upstreams = [...configs]
      .sort((a, b) => b.prefix.length - a.prefix.length)
      .map((config) => ({
        config,
        client: new UpstreamClient({ url: config.url, username: config.username, password: config.password, ...(timeoutMs === undefined ? {} : { timeoutMs }) }),
        permits: permitsFor(config),
        takesUnprefixed: anyGlob(config.unprefixed),
      }));
  }

  get all(): readonly Upstream[] {
    return this.#upstreams;
  }

  /** The upstream `repository` mirrors, or undefined for a hosted repository. */
  resolve(repository: string): ProxiedRepository | undefined {
    for (const upstream of this.#upstreams) {
      const prefix = upstream.config.prefix;
      if (prefix === '' || (repository.startsWith(prefix) && repository.length > prefix.length)) {
        const rest = repository.slice(prefix.length);
        // Docker Hub's official images live under library/: `dockerhub/alpine` is `library/alpine`.
        return { upstream, remoteName: upstream.config.library && !rest.includes('/') ? `library/${rest}` : rest };
      }
    }
    return undefined;
  }

  /**
   * The prefix under which a transparent mirror's request for registry `host` (containerd's `?ns=`)
   * is served, or undefined when no upstream mirrors that host.
   */
  prefixForHost(host: string | null): string | undefined {
    if (host === null || host === '') return undefined;
    return this.#upstreams.find((upstream) => upstream.config.hosts.includes(host))?.config.prefix;
  }

  /**
   * The repository a request for `repository` is served as, when not that name itself: with
   * `?ns=<host>`, the name below the prefix of the upstream mirroring the host; without, below the
   * prefix of the upstream whose `unprefixed` globs take the name (dockerd's and podman's mirrors send
   * no `?ns=`). On an upstream with `library`, a one-component name below its prefix is the official
   * image's (`dockerhub/alpine` is `dockerhub/library/alpine`), so that both forms share one cache.
   */
  route(repository: string, ns: string | null): string | undefined {
    let prefix: string | undefined;
    if (ns !== null && ns !== '') prefix = this.prefixForHost(ns);
    else if (this.resolve(repository) === undefined) prefix = this.#upstreams.find((upstream) => upstream.takesUnprefixed(repository))?.config.prefix;
    const name = `${prefix ?? ''}${repository}`;
    // Below a prefix, the name is served as the prefix and the upstream's name (official images included).
    const proxied = this.resolve(name);
    const served = proxied === undefined || proxied.upstream.config.prefix === '' ? name : `${proxied.upstream.config.prefix}${proxied.remoteName}`;
    return served === repository ? undefined : served;
  }
}

function anyGlob(globs: readonly string[]): (name: string) => boolean {
  const patterns = globs.map(compileRepositoryGlob);
  return (name) => patterns.some((pattern) => pattern.test(name));
}

function permitsFor(config: UpstreamConfig): (remoteName: string) => boolean {
  const allowed = config.allow === undefined ? () => true : anyGlob(config.allow);
  const denied = anyGlob(config.deny);
  return (remoteName) => allowed(remoteName) && !denied(remoteName);
}
