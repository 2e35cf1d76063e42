// Retention and untagged-manifest policies (docs/lifecycle.md), applied at the start of each
// collector run (and by `berth gc --dry-run`, which only reports). They remove tags and manifests
// from repositories; what that leaves unreferenced is then collected like anything else, after the
// review delay.
import type { RemovalEvents } from '../metadata/event-store.js';
import type { PolicyStore } from '../metadata/lifecycle.js';
import type { SystemActor } from '../registry/changes.js';
import type { LifecyclePolicy } from '../registry/lifecycle-policy.js';
import { compileRepositoryGlob } from '../registry/repository-glob.js';
import { RetentionPolicy, retentionDecision, type RetentionPolicyRule } from '../registry/retention-policy.js';

export type { RetentionPolicyRule } from '../registry/retention-policy.js';

export interface PolicyRules {
  readonly untagged: readonly { readonly repositories: readonly string[]; readonly olderThanMs: number }[];
  readonly retention: readonly RetentionPolicyRule[];
}

export interface PolicyReport {
  /** `repository:tag` deleted by retention (or that would be). */
  readonly tags: string[];
  /** `repository@digest` removed from their repository (or that would be). */
  readonly manifests: string[];
}

export async function applyPolicies(store: PolicyStore, rules: PolicyRules, immutability: LifecyclePolicy, dryRun: boolean, events?: (actor: SystemActor) => RemovalEvents): Promise<PolicyReport> {
  const retentionEvents = events?.('retention');
  const untaggedEvents = events?.('untagged');
  const report: PolicyReport = { tags: [], manifests: [] };
  if (rules.untagged.length === 0 && rules.retention.length === 0) return report;
  const retention = new RetentionPolicy(rules.retention);
  const untagged = rules.untagged.map((rule) => ({ rule, globs: rule.repositories.map(compileRepositoryGlob) }));
  for (const repository of await store.listAllRepositories()) {
    const now = Date.now();
    const retain = retention.ruleFor(repository);
    if (retain !== undefined) {
      const tags = await store.listTagRows(repository); // newest first
      const doomed = tags
        .filter((tag, index) => retentionDecision(retain, { name: tag.name, pushedAt: tag.updatedAt }, index, immutability.isImmutable(repository, tag.name), now).keptBy.length === 0)
        .map((tag) => tag.name);
      if (doomed.length > 0) {
        const removed = await store.removeUntagged(repository, { deleteTags: doomed }, dryRun, retentionEvents);
        report.tags.push(...removed.tags.map((tag) => `${repository}:${tag}`));
        report.manifests.push(...removed.manifests.map((digest) => `${repository}@${digest}`));
      }
    }
    const prune = untagged.find((entry) => entry.globs.some((glob) => glob.test(repository)));
    if (prune !== undefined) {
      const removed = await store.removeUntagged(repository, { untaggedBefore: now - prune.rule.olderThanMs }, dryRun, untaggedEvents);
      report.manifests.push(...removed.manifests.map((digest) => `${repository}@${digest}`));
    }
  }
  return report;
}
