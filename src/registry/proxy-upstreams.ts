// Which upstream registry a repository mirrors, and under which name the upstream knows it.
import type { UpstreamConfig } from '../config/config.js';
import { UpstreamClient } from '../upstream/upstream-client.js';

/** One configured upstream with its client (credentials, token cache). */
export interface Upstream {
  readonly config: UpstreamConfig;
  readonly client: UpstreamClient;
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
      .map((config) => ({ config, client: new UpstreamClient({ url: config.url, username: config.username, password: config.password, ...(timeoutMs === undefined ? {} : { timeoutMs }) }) }));
  }

  get all(): readonly Upstream[] {
    return this.#upstreams;
  }

  /** The upstream `repository` mirrors, or undefined for a hosted repository. */
  resolve(repository: string): ProxiedRepository | undefined {
    for (const upstream of this.#upstreams) {
      const prefix = upstream.config.prefix;
      if (prefix === '' || (repository.startsWith(prefix) && repository.length > prefix.length)) {
        return { upstream, remoteName: repository.slice(prefix.length) };
      }
    }
    return undefined;
  }
}
