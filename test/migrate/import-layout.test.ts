// berth import from a hand-written distribution layout: what comes over (exact bytes, tags, untagged
// manifests, index children, subjects, hard links), what is refused by name (a missing blob, a
// corrupt blob, a schema1 manifest, dangling links) without stopping the rest, the journal's second
// pass, tags removed at the source, and --dry-run.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SqliteStore } from '../../src/metadata/sqlite/sqlite-store.js';
import { FilesystemLayout } from '../../src/migrate/filesystem-layout.js';
import { Importer, type ImportOptions, type ImportReport } from '../../src/migrate/importer.js';
import { parseDigest } from '../../src/registry/digest.js';
import { blobKey } from '../../src/registry/blob-keys.js';
import { FilesystemDriver } from '../../src/storage/filesystem/filesystem-driver.js';
import { LayoutWriter, sha256 } from '../support/distribution-layout.js';

const SCHEMA1 = Buffer.from(JSON.stringify({ schemaVersion: 1, name: 'broken/app', tag: 'old', architecture: 'amd64', fsLayers: [], history: [], signatures: [] }));

let dir: string;
let layout: LayoutWriter;
let dataDir: string;
let store: SqliteStore;
let driver: FilesystemDriver;
const d: Record<string, string> = {};

function runImport(options: ImportOptions = {}): Promise<ImportReport> {
  return new Importer(new FilesystemLayout(layout.root), store, store, driver, { concurrency: 2, ...options }).run();
}

await describe('berth import from a distribution filesystem layout', async () => {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'berth-import-'));
    layout = new LayoutWriter(join(dir, 'old'));
    dataDir = join(dir, 'new');
    driver = new FilesystemDriver(dataDir);
    store = new SqliteStore({ path: join(dir, 'berth.db') });

    // good/app: two images under an index, an untagged manifest, an artifact with a subject, a cosign tag.
    d.amd = layout.image('good/app', ['layer amd64'], 'amd64');
    d.arm = layout.image('good/app', ['layer arm64', 'shared layer']);
    const size = (digest: string): number => statSync(join(layout.root, 'docker/registry/v2/blobs/sha256', digest.slice(7, 9), digest.slice(7), 'data')).size;
    d.index = layout.index('good/app', [{ digest: d.amd, size: size(d.amd) }, { digest: d.arm, size: size(d.arm) }], 'latest');
    d.untagged = layout.image('good/app', ['an old layer']);
    d.artifact = layout.image('good/app', ['signature payload'], undefined, { artifactType: 'application/vnd.example.sig', subject: { mediaType: 'application/vnd.oci.image.index.v1+json', digest: d.index, size: size(d.index) } });
    layout.tag('good/app', `sha256-${d.index.slice(7)}.sig`, d.artifact);
    layout.upload('good/app', 'c0ffee00-0000-4000-8000-000000000000', 'half an upload');
    d.other = layout.image('good/other', ['shared layer'], 'v1');

    // broken/app: each refusal once, beside an image that is fine.
    d.fine = layout.image('broken/app', ['fine layer'], 'fine');
    d.missingLayer = sha256('a layer whose data is gone');
    layout.layerLink('broken/app', d.missingLayer);
    d.corrupt = layout.blob('these bytes are not what the digest says', sha256('the original bytes'));
    layout.layerLink('broken/app', d.corrupt);
    d.needsMissing = layout.manifest(
      'broken/app',
      Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: d.missingLayer, size: 3 }, layers: [] })),
      'needs-missing',
    );
    d.schema1 = layout.manifest('broken/app', SCHEMA1, 'old');
    d.danglingRevision = sha256('a revision whose manifest bytes are gone');
    layout.revisionLink('broken/app', d.danglingRevision);
    layout.tag('broken/app', 'dangling', sha256('no such revision'));
  });

  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  await it('a dry run reports what would come and changes nothing', async () => {
    const report = await runImport({ dryRun: true });
    assert.equal(report.dryRun, true);
    assert.equal(report.repositories.total, 3);
    assert.ok(report.manifests >= 6, `would import ${report.manifests} manifests`);
    assert.deepEqual(await store.listRepositories({ limit: 10 }), []);
    assert.ok(report.refusals.some((r) => r.kind === 'corrupt-blob' && r.digest === d.corrupt));
  });

  await it('imports everything Berth accepts and names each refusal', async () => {
    const report = await runImport();
    assert.deepEqual(await store.listRepositories({ limit: 10 }), ['broken/app', 'good/app', 'good/other']);
    // Exact bytes and media types, tags, untagged manifests, index children, subjects.
    for (const digest of [d.amd, d.arm, d.index, d.untagged, d.artifact]) {
      const row = await store.getManifestByDigest('good/app', digest as string);
      assert.ok(row, `manifest ${digest} in good/app`);
      assert.equal(sha256(row.payload), digest);
    }
    assert.equal((await store.getManifestByDigest('good/app', d.index as string))?.mediaType, 'application/vnd.oci.image.index.v1+json');
    assert.deepEqual(await store.listTags('good/app', { limit: 10 }), ['amd64', 'latest', `sha256-${(d.index as string).slice(7)}.sig`]);
    assert.deepEqual((await store.listReferrers('good/app', d.index as string)).map((r) => r.digest), [d.artifact]);
    assert.equal((await store.getManifestByTag('good/other', 'v1'))?.digest, d.other);
    // Each repository sees exactly its own blobs.
    const shared = sha256('shared layer');
    assert.ok(await store.getRepositoryBlob('good/other', shared));
    assert.equal(await store.getRepositoryBlob('good/other', sha256('layer amd64')), undefined);
    // Hard-linked, not copied: the same inode.
    const source = statSync(join(layout.root, 'docker/registry/v2/blobs/sha256', shared.slice(7, 9), shared.slice(7), 'data'));
    const target = statSync(join(dataDir, blobKey(parseDigest(shared))));
    assert.equal(target.ino, source.ino);
    assert.equal(report.blobs.copied, 0);
    assert.ok(report.blobs.hardLinked >= 8);
    assert.equal(report.unfinishedUploadsSkipped, 1);
    // The refusals, by name; the fine image of the same repository came over.
    assert.equal((await store.getManifestByTag('broken/app', 'fine'))?.digest, d.fine);
    const refusals = report.refusals.map((r) => `${r.kind} ${r.repository} ${r.tag ?? r.digest ?? ''}`).sort();
    assert.deepEqual(
      refusals,
      [
        `corrupt-blob broken/app ${d.corrupt}`,
        `dangling-tag broken/app dangling`,
        `dangling-tag broken/app needs-missing`,
        `dangling-tag broken/app old`,
        `manifest-references-missing broken/app ${d.needsMissing}`,
        `missing-blob broken/app ${d.missingLayer}`,
        `missing-manifest broken/app ${d.danglingRevision}`,
        `schema1-manifest broken/app ${d.schema1}`,
      ].sort(),
    );
    assert.equal(await store.getBlob(d.corrupt as string), undefined, 'a corrupt blob is not recorded');
    assert.equal(report.repositories.imported, 2);
    assert.equal(report.repositories.withRefusals, 1);
  });

  await it('a second pass skips unchanged repositories and brings only what changed, removed tags too', async () => {
    d.newer = layout.image('good/other', ['a newer layer'], 'v2');
    unlinkSync(join(layout.root, 'docker/registry/v2/repositories/good/app/_manifests/tags/amd64/current/link'));
    rmSync(join(layout.root, 'docker/registry/v2/repositories/good/app/_manifests/tags/amd64'), { recursive: true });
    const report = await runImport();
    assert.equal(report.repositories.imported, 2, 'good/app and good/other changed');
    assert.equal(report.manifests, 1, 'only the new manifest');
    assert.equal(report.tagsRemoved, 1);
    assert.deepEqual(await store.listTags('good/other', { limit: 10 }), ['v1', 'v2']);
    assert.ok(!(await store.listTags('good/app', { limit: 10 }))?.includes('amd64'));
    const third = await runImport();
    assert.equal(third.repositories.unchanged, 2);
    assert.equal(third.manifests, 0);
  });

  await it('a later pass removes a manifest deleted at the source since (its revision and tags gone), as distribution deleted it', async () => {
    const doomed = layout.image('good/other', ['a layer deleted later'], 'v3');
    await runImport();
    assert.notEqual(await store.getManifestByDigest('good/other', doomed), undefined);
    const other = 'docker/registry/v2/repositories/good/other/_manifests';
    const hex = doomed.split(':')[1] as string;
    rmSync(join(layout.root, other, 'tags/v3'), { recursive: true });
    rmSync(join(layout.root, other, 'revisions/sha256', hex), { recursive: true });
    const dry = await new Importer(new FilesystemLayout(layout.root), store, store, driver, { concurrency: 2, dryRun: true }).run();
    assert.equal(dry.manifestsRemoved, 1, 'a dry run counts it');
    assert.notEqual(await store.getManifestByDigest('good/other', doomed), undefined, 'and removes nothing');
    const report = await runImport();
    assert.equal(report.manifestsRemoved, 1);
    assert.equal(report.tagsRemoved, 1);
    assert.equal(await store.getManifestByDigest('good/other', doomed), undefined);
    assert.deepEqual(await store.listTags('good/other', { limit: 10 }), ['v1', 'v2'], 'the rest of the repository stays');
    assert.equal((await runImport()).manifestsRemoved, 0, 'once');
  });

  await it('a pass skips repositories by their directory and tag-link mtimes, and still sees a tag rewritten in place', async () => {
    // Every mtime here is within the default racy window (3 s): quick fingerprints need a window of 0.
    const quick = (): Promise<ImportReport> => new Importer(new FilesystemLayout(layout.root, { racyWindowMs: 0 }), store, store, driver, { concurrency: 2 }).run();
    const recording = await quick();
    assert.equal(recording.repositories.unchangedUnread, 0, 'the first quick pass reads every repository and records its quick fingerprint');
    const skipping = await quick();
    assert.equal(skipping.repositories.unchangedUnread, skipping.repositories.unchanged);
    assert.equal(skipping.repositories.unchanged, 2);
    // distribution rewrites current/link in place when a tag moves: no directory changes.
    const link = join(layout.root, 'docker/registry/v2/repositories/good/other/_manifests/tags/v2/current/link');
    writeFileSync(link, d.other as string);
    utimesSync(link, new Date('2001-01-01T00:00:00Z'), new Date('2001-01-01T00:00:00Z')); // a distinct mtime, whatever the clock's granularity
    const moved = await quick();
    assert.equal(moved.repositories.imported, 1);
    assert.equal(moved.tags, 1);
    assert.equal((await store.getManifestByTag('good/other', 'v2'))?.digest, d.other);
    // Within the racy window nothing is trusted: the links are read.
    const untrusted = await new Importer(new FilesystemLayout(layout.root), store, store, driver, { concurrency: 2 }).run();
    assert.equal(untrusted.repositories.unchangedUnread, 0);
    assert.equal(untrusted.repositories.unchanged, 3 - untrusted.repositories.withRefusals);
  });
});
