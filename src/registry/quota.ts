// Storage quotas (lifecycle.quotas, docs/lifecycle.md): a push that would take a repository or a
// namespace over its limit is refused with 403 DENIED: at upload start when the scope is already
// full (before any byte is stored), and at the manifest PUT when the manifest would add more than
// the room left (the point where usage, which counts referenced blobs, grows).
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

  /** Refuses a manifest whose new blobs (and payload) would not fit. */
  async checkManifest(repository: string, digest: string, payloadBytes: number, blobs: readonly string[]): Promise<void> {
    for (const quota of this.#policy.quotasFor(repository)) {
      const scope = quota.per === 'repository' ? { repository: quota.scope } : { namespace: quota.scope };
      const added = await this.#usage.usageIncrease(scope, digest, payloadBytes, blobs);
      if (added === 0) continue;
      const used = await this.#usage.usage(scope);
      const total = used.blobBytes + used.manifestBytes;
      if (total + added > quota.limitBytes) throw quotaExceeded(quota.scope, quota.limitBytes, total, added);
    }
  }
}
