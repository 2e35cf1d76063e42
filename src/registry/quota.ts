// Storage quotas (lifecycle.quotas, docs/lifecycle.md): a push that would take a repository or a
// namespace over its limit is refused with 403 DENIED: here at upload start when the scope is already
// full (before any byte is stored); at the manifest PUT (where usage, which counts referenced blobs,
// grows) the metadata store checks the quotas inside the transaction that records the manifest
// (NewManifest.quotas), so concurrent pushes cannot together pass a limit.
import type { UsageStore } from '../metadata/lifecycle.js';
import { quotaExceeded } from './errors.js';
import type { LifecyclePolicy } from './lifecycle-policy.js';

export class QuotaChecker {
  readonly #usage: UsageStore;
  readonly #policy: LifecyclePolicy;

  constructor(usage: UsageStore, policy: LifecyclePolicy) {
    this.#usage = usage;
    this.#policy = policy;
  }

  /** Refuses a new upload into a repository whose quota is already used up. */
  async checkUpload(repository: string): Promise<void> {
    for (const quota of this.#policy.quotasFor(repository)) {
      const used = await this.#usage.usage(quota.per === 'repository' ? { repository: quota.scope } : { namespace: quota.scope });
      const total = used.blobBytes + used.manifestBytes;
      if (total >= quota.limitBytes) throw quotaExceeded(quota.scope, quota.limitBytes, total, 0);
    }
  }
}
