// Lifecycle rules the registry enforces on requests (docs/lifecycle.md): immutable tags and storage
// quotas, each chosen by repository glob (repository-glob.ts). Tag patterns are regular expressions
// matched against the whole tag.
import { compileRepositoryGlob } from './repository-glob.js';

export interface ImmutabilityRule {
  readonly repositories: readonly string[];
  /** Regular expressions, anchored: `v.*` protects v1 and v1.2, not latest. */
  readonly tags: readonly string[];
}

export interface QuotaRule {
  readonly repositories: readonly string[];
  readonly limitBytes: number;
  /** `repository`: each matching repository on its own; `namespace`: a namespace (first component) as a whole. */
  readonly per: 'repository' | 'namespace';
}

export interface LifecycleRules {
  readonly immutable: readonly ImmutabilityRule[];
  readonly quotas: readonly QuotaRule[];
}

export const NO_LIFECYCLE_RULES: LifecycleRules = { immutable: [], quotas: [] };

export function compileTagPattern(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern})$`);
}

/** The namespace of a repository: its first path component. */
export function namespaceOf(repository: string): string {
  const slash = repository.indexOf('/');
  return slash < 0 ? repository : repository.slice(0, slash);
}

export class LifecyclePolicy {
  readonly #immutable: { repositories: RegExp[]; tags: RegExp[] }[];
  readonly #quotas: { repositories: RegExp[]; rule: QuotaRule }[];

  constructor(rules: LifecycleRules) {
    this.#immutable = rules.immutable.map((rule) => ({ repositories: rule.repositories.map(compileRepositoryGlob), tags: rule.tags.map(compileTagPattern) }));
    this.#quotas = rules.quotas.map((rule) => ({ repositories: rule.repositories.map(compileRepositoryGlob), rule }));
  }

  get hasImmutableTags(): boolean {
    return this.#immutable.length > 0;
  }

  get hasQuotas(): boolean {
    return this.#quotas.length > 0;
  }

  /** Whether the tag in the repository may be neither moved nor deleted. */
  isImmutable(repository: string, tag: string): boolean {
    return this.#immutable.some((rule) => rule.repositories.some((glob) => glob.test(repository)) && rule.tags.some((pattern) => pattern.test(tag)));
  }

  /** The quotas that apply to a repository: the first matching rule of each kind. */
  quotasFor(repository: string): { scope: string; per: 'repository' | 'namespace'; limitBytes: number }[] {
    const found: { scope: string; per: 'repository' | 'namespace'; limitBytes: number }[] = [];
    for (const per of ['repository', 'namespace'] as const) {
      const match = this.#quotas.find((quota) => quota.rule.per === per && quota.repositories.some((glob) => glob.test(repository)));
      if (match !== undefined) found.push({ scope: per === 'repository' ? repository : namespaceOf(repository), per, limitBytes: match.rule.limitBytes });
    }
    return found;
  }
}
