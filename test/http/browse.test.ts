// The registry's extensions (docs/api.md): GET /v2/_oci/ext/discover and the web UI's JSON API
// under /v2/_berth/browse, behind the same access control as /v2 (htpasswd users, policies,
// anonymous pulls), paginated with `n`, `last` and a Link header.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { call, pushBlobAs, putManifestAs, expectError, htpasswdLine, pushImageAs, startAuthRegistry, tempDir, type AuthRegistry, type Credentials } from '../support/auth.js';
import { artifactManifest, content, EMPTY_CONFIG, indexOf, type ManifestBody } from '../support/content.js';

const alice = { user: 'alice', password: 'alice-Secret-1' };
const bob = { user: 'bob', password: 'bob-Secret-2' };
const root = { user: 'root', password: 'root-Secret-3' };

const CONFIG = `
auth:
  htpasswd: { realm: "Berth test", path: \${dir}/htpasswd }
  admins: [root]
  policies:
    - { repositories: ["public/**"], anonymous: true, actions: [pull] }
    - { repositories: ["team/**", "public/**"], users: [alice], actions: [pull, push, delete] }
    - { repositories: ["team/**"], users: [bob], actions: [pull] }
  ratelimit: { attempts: 1000, delay: 0s }
lifecycle:
  immutable:
    - { repositories: ["team/**"], tags: ["release-.*"] }
`;

const COSIGN = 'application/vnd.dev.cosign.artifact.sig.v1+json';
const SBOM = 'application/spdx+json';

async function json(url: string, path: string, credentials: Credentials): Promise<{ status: number; body: Record<string, unknown>; link: string | null }> {
  const response = await call(url, 'GET', path, credentials);
  const body = (await response.json()) as Record<string, unknown>;
  return { status: response.status, body, link: response.headers.get('link') };
}

describe('extensions: /v2/_oci/ext/discover and /v2/_berth/browse', () => {
  let registry: AuthRegistry;
  let url: string;
  let app: ManifestBody;

  before(async () => {
    const dir = tempDir('berth-browse-');
    writeFileSync(join(dir, 'htpasswd'), [htpasswdLine(alice.user, alice.password), htpasswdLine(bob.user, bob.password), htpasswdLine(root.user, root.password), ''].join('\n'));
    registry = await startAuthRegistry(CONFIG, dir);
    url = registry.url;
    app = (await pushImageAs(url, 'team/app', 'v1', alice)).manifest;
    await putManifestAs(url, 'team/app', 'release-1', app, alice);
    await pushImageAs(url, 'team/app', 'v2', alice);
    await pushImageAs(url, 'team/web', 'v1', alice);
    await pushImageAs(url, 'public/base', 'v1', alice);
    await pushImageAs(url, 'secret/vault', 'v1', root);
    // A signature and an SBOM referring to team/app:v1, and an index of it.
    const signature = content('signature payload');
    const sbom = content('{"spdxVersion":"SPDX-2.3"}');
    for (const blob of [EMPTY_CONFIG, signature, sbom]) await pushBlobAs(url, 'team/app', blob, alice);
    const subject = { bytes: app.bytes, digest: app.digest, size: app.size, mediaType: app.mediaType };
    await putManifestAs(url, 'team/app', artifactManifest(COSIGN, [signature], { subject }).digest, artifactManifest(COSIGN, [signature], { subject }), alice);
    await putManifestAs(url, 'team/app', artifactManifest(SBOM, [sbom], { subject }).digest, artifactManifest(SBOM, [sbom], { subject }), alice);
    await putManifestAs(url, 'team/app', 'multi', indexOf([app]), alice);
  });
  after(async () => {
    await registry.stop();
  });

  it('GET /v2/_oci/ext/discover → 200 listing _oci and _berth with their endpoints', async () => {
    const { status, body } = await json(url, '/v2/_oci/ext/discover', alice);
    assert.equal(status, 200);
    const extensions = body.extensions as { name: string; endpoints: string[] }[];
    assert.deepEqual(extensions.map((extension) => extension.name), ['_oci', '_berth']);
    assert.ok(extensions[1]?.endpoints.includes('_berth/browse/repositories'));
  });

  it('GET /v2/_oci/ext/discover without credentials → 401 UNAUTHORIZED with the Basic challenge', async () => {
    const response = await call(url, 'GET', '/v2/_oci/ext/discover', undefined);
    assert.equal(response.headers.get('www-authenticate'), 'Basic realm="Berth test"');
    await expectError(response, 401, 'UNAUTHORIZED', 'discover, anonymous');
  });

  it('GET repositories shows only what the caller may pull: admin everything, bob team/* and the anonymous public/*, anonymous public/*', async () => {
    const names = async (credentials: Credentials): Promise<string[]> => ((await json(url, '/v2/_berth/browse/repositories', credentials)).body.repositories as { name: string }[]).map((row) => row.name);
    assert.deepEqual(await names(root), ['public/base', 'secret/vault', 'team/app', 'team/web']);
    assert.deepEqual(await names(bob), ['public/base', 'team/app', 'team/web']);
    assert.deepEqual(await names(alice), ['public/base', 'team/app', 'team/web']);
    assert.deepEqual(await names(undefined), ['public/base']);
  });

  it('GET repositories?q= searches names on the server; n and last page with next and a Link header', async () => {
    const web = await json(url, '/v2/_berth/browse/repositories?q=web', root);
    assert.deepEqual((web.body.repositories as { name: string }[]).map((row) => row.name), ['team/web']);
    const first = await json(url, '/v2/_berth/browse/repositories?q=a&n=2', root);
    assert.equal(first.status, 200);
    assert.deepEqual((first.body.repositories as { name: string }[]).map((row) => row.name), ['public/base', 'secret/vault']);
    assert.equal(first.body.next, 'secret/vault');
    assert.equal(first.link, '</v2/_berth/browse/repositories?q=a&n=2&last=secret%2Fvault>; rel="next"');
    const second = await json(url, '/v2/_berth/browse/repositories?q=a&n=2&last=secret%2Fvault', root);
    assert.deepEqual((second.body.repositories as { name: string }[]).map((row) => row.name), ['team/app', 'team/web']);
    assert.equal(second.body.next, null);
    assert.equal(second.link, null);
    const app = (second.body.repositories as { name: string; tags: number; pushedAt: number }[])[0];
    assert.equal(app?.tags, 4);
    assert.equal(typeof app?.pushedAt, 'number');
  });

  it('GET repositories/<name>/tags: digest, size, push time, immutability, the index platforms; the caller\'s actions', async () => {
    const { status, body } = await json(url, '/v2/_berth/browse/repositories/team/app/tags', alice);
    assert.equal(status, 200);
    const tags = body.tags as { name: string; digest: string; size: number; pushedAt: number; immutable: boolean; mediaType: string; platforms?: { os: string; architecture: string }[] }[];
    assert.deepEqual(tags.map((tag) => tag.name), ['multi', 'release-1', 'v1', 'v2']);
    const v1 = tags.find((tag) => tag.name === 'v1');
    assert.equal(v1?.digest, app.digest);
    assert.ok((v1?.size ?? 0) > app.size);
    assert.equal(v1?.immutable, false);
    assert.equal(tags.find((tag) => tag.name === 'release-1')?.immutable, true);
    assert.deepEqual(tags.find((tag) => tag.name === 'multi')?.platforms?.map((p) => `${p.os}/${p.architecture}`), ['linux/amd64']);
    assert.deepEqual(body.actions, { pull: true, push: true, delete: true });
    const asBob = await json(url, '/v2/_berth/browse/repositories/team/app/tags', bob);
    assert.deepEqual(asBob.body.actions, { pull: true, push: false, delete: false });
  });

  it('GET tags?sort=pushed: newest first, paged by the `<pushedAt>:<tag>` cursor', async () => {
    const first = await json(url, '/v2/_berth/browse/repositories/team/app/tags?sort=pushed&n=3', alice);
    const names = (first.body.tags as { name: string }[]).map((tag) => tag.name);
    assert.equal(names[0], 'multi');
    assert.match(String(first.body.next), /^\d+:.+$/);
    assert.ok(first.link?.includes('sort=pushed'));
    const second = await json(url, `/v2/_berth/browse/repositories/team/app/tags?sort=pushed&n=3&last=${encodeURIComponent(String(first.body.next))}`, alice);
    const rest = (second.body.tags as { name: string }[]).map((tag) => tag.name);
    assert.deepEqual([...names, ...rest].sort(), ['multi', 'release-1', 'v1', 'v2']);
    assert.equal(second.body.next, null);
  });

  it('GET tags with a bad sort or cursor → 400 UNSUPPORTED', async () => {
    await expectError(await call(url, 'GET', '/v2/_berth/browse/repositories/team/app/tags?sort=size', alice), 400, 'UNSUPPORTED', 'sort');
    await expectError(await call(url, 'GET', '/v2/_berth/browse/repositories/team/app/tags?sort=pushed&last=v1', alice), 400, 'UNSUPPORTED', 'cursor');
  });

  it('GET a repository the caller may not pull → 403 DENIED; anonymous → 401; unknown → 404 NAME_UNKNOWN', async () => {
    await expectError(await call(url, 'GET', '/v2/_berth/browse/repositories/secret/vault/tags', bob), 403, 'DENIED', 'bob on secret');
    await expectError(await call(url, 'GET', '/v2/_berth/browse/repositories/team/app', undefined), 401, 'UNAUTHORIZED', 'anonymous on team');
    await expectError(await call(url, 'GET', '/v2/_berth/browse/repositories/team/none/tags', alice), 404, 'NAME_UNKNOWN', 'unknown');
    const anonymous = await json(url, '/v2/_berth/browse/repositories/public/base/tags', undefined);
    assert.equal(anonymous.status, 200);
    assert.deepEqual(anonymous.body.actions, { pull: true, push: false, delete: false });
  });

  it('GET repositories/<name>/manifests/<digest>: tags, parents, referrers by artifactType, and what deleting it removes', async () => {
    const { status, body } = await json(url, `/v2/_berth/browse/repositories/team/app/manifests/${app.digest}`, alice);
    assert.equal(status, 200);
    assert.deepEqual(body.tags, ['release-1', 'v1']);
    assert.deepEqual(body.referrers, { [SBOM]: 1, [COSIGN]: 1 });
    assert.equal((body.parents as string[]).length, 1);
    const plan = body.deleteManifest as { tags: string[]; immutableTags: string[]; manifestRemoved: boolean; parents: string[]; reclaimableAfter: number | null; gc: { reviewDelayMs: number } };
    assert.deepEqual(plan.tags, ['release-1', 'v1']);
    assert.deepEqual(plan.immutableTags, ['release-1']);
    assert.equal(plan.manifestRemoved, true);
    assert.equal(plan.reclaimableAfter, null, 'an index still lists it');
    assert.equal(plan.gc.reviewDelayMs, 24 * 3600_000);
    await expectError(await call(url, 'GET', `/v2/_berth/browse/repositories/team/web/manifests/${app.digest}`, alice), 404, 'MANIFEST_UNKNOWN', 'elsewhere');
    await expectError(await call(url, 'GET', '/v2/_berth/browse/repositories/team/app/manifests/sha256:nothex', alice), 400, 'DIGEST_INVALID', 'bad digest');
  });

  it('GET repositories/<name>/tags/<tag>/deletion: the tag goes, the manifest stays, other tags named', async () => {
    const { status, body } = await json(url, '/v2/_berth/browse/repositories/team/app/tags/v1/deletion', alice);
    assert.equal(status, 200);
    assert.equal(body.digest, app.digest);
    assert.deepEqual(body.tags, ['v1']);
    assert.deepEqual(body.otherTags, ['release-1']);
    assert.equal(body.manifestRemoved, false);
    await expectError(await call(url, 'GET', '/v2/_berth/browse/repositories/team/app/tags/nope/deletion', alice), 404, 'MANIFEST_UNKNOWN', 'no tag');
  });

  it('GET gc-runs: the collector\'s schedule and its recorded runs (not dry runs), for admins; others → 403 DENIED', async () => {
    await registry.app.collectGarbage({ reviewDelayMs: 0, dryRun: true });
    const before = Date.now();
    const report = await registry.app.collectGarbage({ reviewDelayMs: 0 });
    const { status, body } = await json(url, '/v2/_berth/browse/gc-runs', root);
    assert.equal(status, 200);
    const runs = body.runs as { trigger: string; finishedAt: number; manifests: number; blobs: number; bytesReclaimed: number }[];
    assert.equal(runs.length, 1);
    assert.equal(runs[0]?.trigger, 'server');
    assert.ok((runs[0]?.finishedAt ?? 0) >= before);
    assert.equal(runs[0]?.bytesReclaimed, report.bytesReclaimed);
    assert.equal(runs[0]?.blobs, report.blobs);
    assert.deepEqual(body.gc, { enabled: true, reviewDelayMs: 24 * 3600_000, intervalMs: 3600_000 });
    await expectError(await call(url, 'GET', '/v2/_berth/browse/gc-runs', alice), 403, 'DENIED', 'alice');
    await expectError(await call(url, 'GET', '/v2/_berth/browse/gc-runs', undefined), 403, 'DENIED', 'anonymous');
  });

  it('POST to an extension → 405 UNSUPPORTED; an unknown extension path → 404', async () => {
    const post = await call(url, 'POST', '/v2/_berth/browse/repositories', root);
    assert.equal(post.status, 405);
    await post.arrayBuffer();
    const unknown = await call(url, 'GET', '/v2/_berth/nothing', root);
    assert.equal(unknown.status, 404);
    await unknown.arrayBuffer();
  });
});
