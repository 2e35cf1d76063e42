// The policy of auth.policies, auth.groups and auth.admins: which actions a caller has on a
// repository. Anonymous callers get only what `anonymous: true` rules grant; admins get everything.
import type { PolicyAction, PolicyRule } from '../config/config.js';
import type { Action, Scope } from './access.js';
import { compileRepositoryGlob } from '../registry/repository-glob.js';

/** Who is calling: a user name, or undefined for an anonymous caller. */
export interface Subject {
  readonly user: string | undefined;
}

export const ANONYMOUS: Subject = { user: undefined };

interface CompiledRule {
  readonly patterns: readonly RegExp[];
  readonly users: ReadonlySet<string>;
  readonly groups: readonly string[];
  readonly anonymous: boolean;
  readonly actions: readonly PolicyAction[];
}

export interface PolicySettings {
  readonly admins: readonly string[];
  readonly groups: Readonly<Record<string, readonly string[]>>;
  /** undefined: every authenticated user may do everything, anonymous callers nothing. */
  readonly policies: readonly PolicyRule[] | undefined;
}

const EVERYTHING: readonly PolicyAction[] = ['pull', 'push', 'delete'];

export class Policy {
  readonly #admins: ReadonlySet<string>;
  readonly #memberOf: ReadonlyMap<string, ReadonlySet<string>>;
  readonly #rules: readonly CompiledRule[];
  readonly #anyAnonymous: boolean;

  constructor(settings: PolicySettings) {
    this.#admins = new Set(settings.admins);
    const memberOf = new Map<string, Set<string>>();
    for (const [group, members] of Object.entries(settings.groups)) {
      for (const user of members) {
        const set = memberOf.get(user) ?? new Set<string>();
        set.add(group);
        memberOf.set(user, set);
      }
    }
    this.#memberOf = memberOf;
    const rules = settings.policies ?? [{ repositories: ['**'], users: ['*'], groups: [], anonymous: false, actions: EVERYTHING }];
    this.#rules = rules.map((rule) => ({
      patterns: rule.repositories.map(compileRepositoryGlob),
      users: new Set(rule.users),
      groups: rule.groups,
      anonymous: rule.anonymous,
      actions: rule.actions,
    }));
    this.#anyAnonymous = this.#rules.some((rule) => rule.anonymous && rule.actions.length > 0);
  }

  isAdmin(subject: Subject): boolean {
    return subject.user !== undefined && this.#admins.has(subject.user);
  }

  /** The actions `subject` has on `repository`. */
  actions(subject: Subject, repository: string): Set<PolicyAction> {
    if (this.isAdmin(subject)) return new Set(EVERYTHING);
    const granted = new Set<PolicyAction>();
    const groups = subject.user === undefined ? undefined : this.#memberOf.get(subject.user);
    for (const rule of this.#rules) {
      if (!this.#applies(rule, subject, groups)) continue;
      if (!rule.patterns.some((pattern) => pattern.test(repository))) continue;
      for (const action of rule.actions) granted.add(action);
    }
    return granted;
  }

  /**
   * Whether `subject` may list the catalog (filtered by `may(subject, 'pull', …)`): every
   * authenticated user, and anonymous callers when some rule grants them anything.
   */
  mayListCatalog(subject: Subject): boolean {
    return subject.user !== undefined || this.#anyAnonymous;
  }

  /** Whether the catalog shows everything to `subject` (no filtering needed). */
  seesWholeCatalog(subject: Subject): boolean {
    return this.isAdmin(subject);
  }

  may(subject: Subject, action: Action, repository: string): boolean {
    if (action === '*') return this.isAdmin(subject);
    return this.actions(subject, repository).has(action);
  }

  /** Whether every action of every scope is granted. */
  grants(subject: Subject, scope: Scope): boolean {
    if (scope.type === 'registry') return scope.name === 'catalog' && this.mayListCatalog(subject);
    const granted = this.actions(subject, scope.name);
    return scope.actions.every((action) => action !== '*' && granted.has(action));
  }

  /** The part of `scope` that is granted (the actions a token may carry). */
  intersect(subject: Subject, scope: Scope): Scope | undefined {
    if (scope.type === 'registry') return this.grants(subject, scope) ? { type: 'registry', name: 'catalog', actions: ['*'] } : undefined;
    const granted = this.actions(subject, scope.name);
    const actions = scope.actions.filter((action): action is PolicyAction => action !== '*' && granted.has(action));
    return actions.length === 0 ? undefined : { type: 'repository', name: scope.name, actions };
  }

  #applies(rule: CompiledRule, subject: Subject, groups: ReadonlySet<string> | undefined): boolean {
    if (subject.user === undefined) return rule.anonymous;
    if (rule.anonymous) return true;
    if (rule.users.has('*') || rule.users.has(subject.user)) return true;
    return groups !== undefined && rule.groups.some((group) => groups.has(group));
  }
}
