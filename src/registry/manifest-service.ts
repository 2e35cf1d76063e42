// Manifests: get by tag or digest, put (validate, verify digest, store with references and tag in
// one metadata transaction), delete by digest (with its tags) or by tag (untag only).
import { ProtectedTagError, QuotaExceededError, type ManifestRow, type MetadataStore } from '../metadata/store.js';
import type { ChangeRecorder, OriginSource } from './changes.js';
import { digestAlgorithm, digestOf, isDigest, parseDigest, type Digest } from './digest.js';
import { digestInvalid, manifestBlobUnknown, manifestChildUnknown, manifestUnknown, nameUnknown, quotaExceeded, tagImmutable } from './errors.js';
import { LifecyclePolicy, NO_LIFECYCLE_RULES } from './lifecycle-policy.js';
import { parseManifest } from './manifest-kinds.js';
import { isTag, parseTag, type RepositoryName, type Tag } from './names.js';
import type { PullThrough } from './proxy-service.js';
import type { QuotaChecker } from './quota.js';

export type Reference = { readonly tag: Tag } | { readonly digest: Digest };

/** A reference path segment is a digest when it has the digest grammar, otherwise a tag. */
export function parseReference(value: string): Reference {
  return isDigest(value) ? { digest: parseDigest(value) } : { tag: parseTag(value) };
}

/**
 * A reference to look up (GET, HEAD, DELETE): a string that is no tag cannot name a stored manifest,
 * so it is unknown (404 MANIFEST_UNKNOWN, as the conformance suite expects), not invalid.
 */
export function parseLookupReference(value: string): Reference {
  if (!isDigest(value) && !isTag(value)) throw manifestUnknown(value);
  return parseReference(value);
}

export interface StoredManifest {
  readonly digest: Digest;
  readonly mediaType: string;
  readonly payload: Buffer;
}

export interface PutManifestOutcome {
  readonly digest: Digest;
  readonly subject: Digest | undefined;
}

export class ManifestService {
  readonly #metadata: MetadataStore;
  readonly #policy: LifecyclePolicy;
  readonly #quotas: QuotaChecker | undefined;
  readonly #events: ChangeRecorder | undefined;
  readonly #proxy: PullThrough | undefined;

  constructor(metadata: MetadataStore, policy: LifecyclePolicy = new LifecyclePolicy(NO_LIFECYCLE_RULES), quotas?: QuotaChecker, events?: ChangeRecorder, proxy?: PullThrough) {
    this.#metadata = metadata;
    this.#policy = policy;
    this.#quotas = quotas;
    this.#events = events;
    this.#proxy = proxy;
  }

  /** Records a pull of the manifest (a GET served in full), when an endpoint wants pulls. */
  pulled(repository: RepositoryName, reference: Reference, manifest: StoredManifest, origin: OriginSource): void {
    if (this.#events?.recordsPulls !== true) return;
    const tag = 'tag' in reference ? reference.tag : undefined;
    this.#events.pulled({ action: 'pull', kind: 'manifest', repository, digest: manifest.digest, mediaType: manifest.mediaType, size: manifest.payload.length, tag }, origin);
  }

  async get(repository: RepositoryName, reference: Reference): Promise<StoredManifest> {
    if (this.#proxy?.covers(repository) === true) {
      // A proxied tag may be stale: the pull-through cache decides. A digest is immutable: stored is final.
      if ('tag' in reference) return (await this.#proxy.manifestByTag(repository, reference.tag)) as StoredManifest;
      return (await this.#proxy.manifestByDigest(repository, reference.digest)) as StoredManifest;
    }
    const row: ManifestRow | undefined =
      'tag' in reference
        ? await this.#metadata.getManifestByTag(repository, reference.tag)
        : await this.#metadata.getManifestByDigest(repository, reference.digest);
    if (row === undefined) {
      if (!(await this.#metadata.hasRepository(repository))) throw nameUnknown(repository);
      throw manifestUnknown('tag' in reference ? reference.tag : reference.digest);
    }
    return { digest: row.digest as Digest, mediaType: row.mediaType, payload: row.payload };
  }

  async put(repository: RepositoryName, reference: Reference, contentType: string | undefined, payload: Buffer, origin?: OriginSource): Promise<PutManifestOutcome> {
    const parsed = parseManifest(payload, contentType);
    const digest = digestOf(payload, 'digest' in reference ? digestAlgorithm(reference.digest) : 'sha256');
    if ('digest' in reference && reference.digest !== digest) throw digestInvalid(`manifest hashes to ${digest}`, reference.digest);
    const blobs = unique(parsed.blobs.map((blob) => blob.digest));
    const tag = 'tag' in reference ? reference.tag : null;
    const recorder = this.#events;
    const events =
      recorder === undefined
        ? undefined
        : [
            recorder.event(
              {
                action: 'push',
                kind: 'manifest',
                repository,
                digest,
                mediaType: parsed.mediaType,
                size: payload.length,
                tag: tag ?? undefined,
                ...(recorder.includesReferences ? { references: [...parsed.blobs, ...parsed.manifests].map((d) => ({ mediaType: d.mediaType, digest: d.digest, size: d.size })) } : {}),
              },
              origin,
            ),
          ];
    const result = await this.#metadata.putManifest({
      repository,
      digest,
      mediaType: parsed.mediaType,
      payload,
      artifactType: parsed.artifactType ?? null,
      annotations: parsed.annotations === undefined ? null : JSON.stringify(parsed.annotations),
      subject: parsed.subject?.digest ?? null,
      blobs,
      manifests: unique(parsed.manifests.map((child) => child.digest)),
      tag,
      immutableTag: tag !== null && this.#policy.isImmutable(repository, tag),
      // Checked by the store inside the transaction that records the manifest (atomic across pushes).
      ...(this.#quotas === undefined ? {} : { quotas: this.#policy.quotasFor(repository) }),
    }, events).catch((error: unknown) => {
      if (error instanceof QuotaExceededError) throw quotaExceeded(error.scope, error.limitBytes, error.usedBytes, error.addedBytes);
      throw error;
    });
    if (!result.ok) {
      if (result.missing === undefined) throw tagImmutable(repository, tag ?? '', result.current);
      throw result.missing === 'blob' ? manifestBlobUnknown(result.digest) : manifestChildUnknown(result.digest);
    }
    return { digest, subject: parsed.subject?.digest };
  }

  async delete(repository: RepositoryName, reference: Reference, origin?: OriginSource): Promise<void> {
    if ('tag' in reference && this.#policy.isImmutable(repository, reference.tag)) {
      // Never deletable, whatever it names: the refusal names the manifest it points at.
      const current = await this.#metadata.getManifestByTag(repository, reference.tag);
      if (current !== undefined) throw tagImmutable(repository, reference.tag, current.digest);
    }
    const recorder = this.#events;
    // By digest, the tags that go with the manifest are checked inside the delete's transaction, so
    // an immutable tag put on the manifest meanwhile is never deleted with it.
    const isProtected = this.#policy.hasImmutableTags ? (tag: string) => this.#policy.isImmutable(repository, tag) : undefined;
    let deleted: boolean;
    try {
      deleted =
        'tag' in reference
          ? await this.#metadata.deleteTag(repository, reference.tag, recorder && [recorder.event({ action: 'delete', kind: 'tag', repository, tag: reference.tag }, origin)])
          : await this.#metadata.deleteManifest(repository, reference.digest, recorder && [recorder.event({ action: 'delete', kind: 'manifest', repository, digest: reference.digest }, origin)], isProtected);
    } catch (error) {
      if (error instanceof ProtectedTagError && 'digest' in reference) throw tagImmutable(repository, error.tag, reference.digest);
      throw error;
    }
    if (!deleted) {
      if (!(await this.#metadata.hasRepository(repository))) throw nameUnknown(repository);
      throw manifestUnknown('tag' in reference ? reference.tag : reference.digest);
    }
  }
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}
