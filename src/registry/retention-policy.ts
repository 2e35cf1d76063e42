// What a retention policy (lifecycle.retention, docs/lifecycle.md) decides for one tag: the rule
// that applies to its repository (the first whose glob matches), what keeps the tag (immutability,
// keeptags, keepnewest, keepyoungerthan), and when nothing keeps it any more. The collector
// (src/gc/policies.ts) deletes what this says nothing keeps; the web UI shows the same decision.
import { compileTagPattern } from './lifecycle-policy.js';
import { compileRepositoryGlob } from './repository-glob.js';

export interface RetentionPolicyRule {
  readonly repositories: readonly string[];
  readonly keepTags: readonly string[];
  readonly keepNewest: number | undefined;
  readonly keepYoungerThanMs: number | undefined;
}

export type RetentionKeep = 'immutable' | 'keeptags' | 'keepnewest' | 'keepyoungerthan';

export interface RetentionDecision {
  /** The position of the applying rule in lifecycle.retention. */
  readonly rule: number;
  /** What keeps the tag now; empty when the next collector run deletes it. */
  readonly keptBy: readonly RetentionKeep[];
  /**
   * When nothing keeps the tag any more (ms since the epoch), if nothing else changes: now when
   * nothing keeps it, its push time plus keepyoungerthan when only that keeps it, null when
   * immutability, keeptags or keepnewest keep it (keepnewest until newer pushes outrank it).
   */
  readonly deletableAt: number | null;
}

export interface CompiledRetentionRule {
  readonly index: number;
  readonly rule: RetentionPolicyRule;
  readonly keep: readonly RegExp[];
}

export class RetentionPolicy {
  readonly #rules: { globs: RegExp[]; compiled: CompiledRetentionRule }[];

  constructor(rules: readonly RetentionPolicyRule[]) {
    this.#rules = rules.map((rule, index) => ({ globs: rule.repositories.map(compileRepositoryGlob), compiled: { index, rule, keep: rule.keepTags.map(compileTagPattern) } }));
  }

  get empty(): boolean {
    return this.#rules.length === 0;
  }

  /** The rule that applies to a repository: the first whose globs match it. */
  ruleFor(repository: string): CompiledRetentionRule | undefined {
    return this.#rules.find((entry) => entry.globs.some((glob) => glob.test(repository)))?.compiled;
  }
}

/**
 * The decision for one tag. `rank` is its position among the repository's tags, newest push first
 * (ties by name), counting every tag; `immutable` whether a lifecycle.immutable rule protects it.
 */
export function retentionDecision(rule: CompiledRetentionRule, tag: { readonly name: string; readonly pushedAt: number }, rank: number, immutable: boolean, now: number): RetentionDecision {
  const keptBy: RetentionKeep[] = [];
  if (immutable) keptBy.push('immutable');
  if (rule.keep.some((pattern) => pattern.test(tag.name))) keptBy.push('keeptags');
  if (rule.rule.keepNewest !== undefined && rank < rule.rule.keepNewest) keptBy.push('keepnewest');
  const youngUntil = rule.rule.keepYoungerThanMs === undefined ? undefined : tag.pushedAt + rule.rule.keepYoungerThanMs;
  if (youngUntil !== undefined && now < youngUntil) keptBy.push('keepyoungerthan');
  const lasting = keptBy.some((reason) => reason !== 'keepyoungerthan');
  const deletableAt = lasting ? null : keptBy.length === 0 ? now : (youngUntil ?? now);
  return { rule: rule.index, keptBy, deletableAt };
}
