// The web UI in a real browser: Debian's Chromium, headless, driven by playwright-core (it uses the
// system browser; nothing is downloaded), over a running Berth with pushed images, an index, a
// cosign-style signature and an SBOM. A person logs in, searches, opens an index, a platform's image
// and a referrer, deletes a tag after the confirmation, sees a read-only user's refusal, logs out;
// axe-core finds no serious or critical violation on any page, light or dark; no CSP violation is
// reported. The screenshots of docs/ui.md are taken here. Render times are reported, not asserted.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { call, pushBlobAs, putManifestAs, htpasswdLine, pushImageAs, startAuthRegistry, tempDir, type AuthRegistry } from '../support/auth.js';
import { artifactManifest, content, EMPTY_CONFIG, indexOf, type ManifestBody } from '../support/content.js';

const CHROMIUM = process.env.BERTH_TEST_CHROMIUM ?? '/usr/bin/chromium';
const SCREENSHOTS = new URL('../../../docs/ui/', import.meta.url);
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const alice = { user: 'alice', password: 'alice-Secret-1' };
const bob = { user: 'bob', password: 'bob-Secret-2' };
const root = { user: 'root', password: 'root-Secret-3' };

const CONFIG = `
auth:
  htpasswd: { realm: "Berth", path: \${dir}/htpasswd }
  admins: [root]
  policies:
    - { repositories: ["public/**"], anonymous: true, actions: [pull] }
    - { repositories: ["team/**", "public/**"], users: [alice], actions: [pull, push, delete] }
    - { repositories: ["team/**"], users: [bob], actions: [pull] }
  ratelimit: { attempts: 1000, delay: 0s }
lifecycle:
  immutable:
    - { repositories: ["team/**"], tags: ["release-.*"] }
  retention:
    - { repositories: ["team/app"], keeptags: ["multi"], keepyoungerthan: 720h }
`;

const COSIGN = 'application/vnd.dev.cosign.artifact.sig.v1+json';
const SBOM = 'application/spdx+json';

interface AxeResult {
  violations: { id: string; impact: string | null; help: string; nodes: { target: string[] }[] }[];
}

describe('web UI in Chromium (playwright-core, axe-core)', () => {
  let registry: AuthRegistry;
  let browser: Browser;
  let page: Page;
  let url: string;
  const cspViolations: string[] = [];
  const timings: Record<string, number> = {};
  let image: ManifestBody;

  before(async () => {
    const dir = tempDir('berth-ui-');
    writeFileSync(join(dir, 'htpasswd'), [htpasswdLine(alice.user, alice.password), htpasswdLine(bob.user, bob.password), htpasswdLine(root.user, root.password), ''].join('\n'));
    registry = await startAuthRegistry(CONFIG, dir);
    url = registry.url;
    image = (await pushImageAs(url, 'team/app', 'v1', alice)).manifest;
    await putManifestAs(url, 'team/app', 'release-1', image, alice);
    await pushImageAs(url, 'team/app', 'v2', alice);
    await pushImageAs(url, 'team/web', 'v1', alice);
    await pushImageAs(url, 'public/base', 'v1', alice);
    const signature = content('{"critical":{"identity":{"docker-reference":"team/app"}}}');
    const sbom = content('{"spdxVersion":"SPDX-2.3","name":"team/app"}');
    for (const blob of [EMPTY_CONFIG, signature, sbom]) await pushBlobAs(url, 'team/app', blob, alice);
    const subject = { bytes: image.bytes, digest: image.digest, size: image.size, mediaType: image.mediaType };
    const sig = artifactManifest(COSIGN, [signature], { subject, annotations: { 'org.opencontainers.image.created': '2026-12-02T12:00:00Z' } });
    await putManifestAs(url, 'team/app', sig.digest, sig, alice);
    const spdx = artifactManifest(SBOM, [sbom], { subject });
    await putManifestAs(url, 'team/app', spdx.digest, spdx, alice);
    await putManifestAs(url, 'team/app', 'multi', indexOf([image]), alice);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'light' });
    page = await context.newPage();
    page.on('console', (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) cspViolations.push(message.text());
    });
    mkdirSync(SCREENSHOTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await registry?.stop();
  });

  async function axe(t: TestContext, label: string): Promise<void> {
    await page.evaluate(axeSource);
    const result = await page.evaluate<AxeResult>('axe.run(document, { resultTypes: ["violations"] })');
    const serious = result.violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical');
    t.diagnostic(`axe ${label}: ${result.violations.length} violations, ${serious.length} serious or critical`);
    assert.deepEqual(serious.map((violation) => `${violation.id}: ${violation.help} at ${violation.nodes.map((node) => node.target.join(' ')).join('; ')}`), [], label);
  }

  async function shot(name: string): Promise<void> {
    await page.screenshot({ path: new URL(`${name}.png`, SCREENSHOTS).pathname, fullPage: false });
  }

  /** Navigates and waits for `selector`; the time from navigation start to it is the page's render time. */
  async function open(label: string, hash: string, selector: string): Promise<void> {
    const started = Date.now();
    await page.goto(`${url}/ui/${hash}`);
    await page.locator(selector).first().waitFor();
    timings[label] = Date.now() - started;
  }

  it('anonymous: the repositories page shows only what anonymous users may pull', async (t) => {
    await open('repositories (anonymous)', '', 'table a');
    assert.deepEqual(await page.locator('tbody a').allTextContents(), ['public/base']);
    assert.equal(await page.getByRole('link', { name: 'Log in' }).count(), 1);
    await axe(t, 'repositories, anonymous');
  });

  it('log in as alice, search by name on the server', async (t) => {
    await page.getByRole('link', { name: 'Log in' }).click();
    await page.getByLabel('User').fill(alice.user);
    await page.getByLabel('Password').fill(alice.password);
    await axe(t, 'login');
    await shot('login');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByText('Signed in as').waitFor();
    await page.locator('tbody a', { hasText: 'team/app' }).waitFor();
    assert.deepEqual(await page.locator('tbody a').allTextContents(), ['public/base', 'team/app', 'team/web']);
    const searching = page.waitForResponse((response) => response.url().includes('/v2/_berth/browse/repositories?') && response.url().includes('q=web'));
    await page.getByLabel('Search repositories by name').fill('web');
    await searching;
    await page.waitForFunction(() => document.querySelectorAll('tbody a').length === 1);
    assert.deepEqual(await page.locator('tbody a').allTextContents(), ['team/web']);
    await page.getByLabel('Search repositories by name').fill('');
    await page.locator('tbody a', { hasText: 'team/app' }).waitFor();
    await axe(t, 'repositories');
    await shot('repositories');
  });

  it('a repository: tags sortable by name and push time, digest, size, platforms, immutability, retention, pull commands', async (t) => {
    await page.locator('tbody a', { hasText: 'team/app' }).click();
    await page.getByRole('heading', { name: 'team/app' }).waitFor();
    await page.getByRole('region', { name: 'Tags' }).waitFor();
    assert.deepEqual(await page.locator('tbody tr td:first-child a').allTextContents(), ['multi', 'release-1', 'v1', 'v2']);
    const release = page.locator('tbody tr', { hasText: 'release-1' });
    assert.equal(await release.locator('.badge', { hasText: 'immutable' }).count(), 1);
    assert.equal(await release.getByRole('button', { name: /Delete/ }).count(), 0);
    assert.match((await release.textContent()) ?? '', /Kept by immutable, its age/);
    assert.match((await page.locator('tbody tr', { hasText: 'v1' }).textContent()) ?? '', /Kept by its age until \d{4}-\d\d-\d\d/);
    assert.match((await page.locator('tbody tr', { hasText: 'multi' }).textContent()) ?? '', /Kept by a keeptags pattern, its age/);
    assert.match((await page.locator('tbody tr', { hasText: 'multi' }).textContent()) ?? '', /linux\/amd64/);
    assert.match((await page.locator('.pull').textContent()) ?? '', /docker pull 127\.0\.0\.1:\d+\/team\/app:multi/);
    await page.getByRole('button', { name: 'Newest first' }).click();
    await page.waitForFunction(() => document.querySelector('tbody tr td a')?.textContent === 'multi' && document.querySelector('[aria-pressed="true"]')?.textContent === 'Newest first');
    assert.equal((await page.locator('tbody tr td:first-child a').allTextContents()).length, 4);
    await axe(t, 'repository');
    await shot('repository');
  });

  it('an index: its platforms; a platform\'s image: layers, config, history; its referrers by artifactType', async (t) => {
    await page.locator('tbody a', { hasText: 'multi' }).click();
    await page.getByRole('region', { name: 'Platforms' }).waitFor();
    assert.match((await page.getByRole('region', { name: 'Platforms' }).textContent()) ?? '', /linux\/amd64/);
    await axe(t, 'index');
    await shot('index');
    await page.getByRole('region', { name: 'Platforms' }).getByRole('link').first().click();
    await page.getByRole('region', { name: 'Layers' }).waitFor();
    assert.equal(await page.getByRole('region', { name: 'Layers' }).locator('tbody tr').count(), 2);
    await page.getByRole('heading', { name: 'Config' }).waitFor();
    assert.match((await page.locator('.facts').nth(1).textContent()) ?? '', /linux\/amd64/);
    const tree = page.getByRole('list', { name: 'Referrers by artifact type' });
    await tree.waitFor();
    assert.match((await tree.textContent()) ?? '', new RegExp(`${COSIGN.replaceAll('.', '\\.').replaceAll('+', '\\+')} \\(1\\)`));
    assert.match((await tree.textContent()) ?? '', /application\/spdx\+json \(1\)/);
    await axe(t, 'image');
    await shot('image');
    await tree.locator('li', { hasText: COSIGN }).getByRole('link').first().click();
    await page.getByText('Artifact type').waitFor();
    assert.match((await page.locator('.facts').first().textContent()) ?? '', new RegExp(COSIGN.replaceAll('.', '\\.').replaceAll('+', '\\+')));
    assert.equal(await page.getByRole('link', { name: image.digest.slice(0, 19) }).count(), 1, 'links back to its subject');
    await axe(t, 'referrer');
    await shot('referrer');
  });

  it('delete a tag: the confirmation says what goes and what stays; the tag is gone from the registry', async (t) => {
    await open('repository (alice)', '#/r/team/app', 'tbody tr');
    await page.getByRole('button', { name: 'Delete tag v2' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    assert.match((await dialog.textContent()) ?? '', /The tag v2 goes\. The manifest sha256:[0-9a-f]{12} stays in the repository, untagged/);
    await axe(t, 'delete confirmation');
    await shot('delete-tag');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await page.getByRole('button', { name: 'Delete tag v2' }).click();
    await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'Deleted tag v2.' }).waitFor();
    await page.waitForFunction(() => ![...document.querySelectorAll('tbody tr td:first-child a')].some((a) => a.textContent === 'v2'));
    const tags = (await (await call(url, 'GET', '/v2/team/app/tags/list', alice)).json()) as { tags: string[] };
    assert.deepEqual(tags.tags, ['multi', 'release-1', 'v1']);
  });

  it('a manifest\'s delete confirmation names its tags, its referrers and when bytes are reclaimed', async () => {
    await page.goto(`${url}/ui/#/r/team/app/m/v1`);
    await page.getByRole('button', { name: 'Delete this manifest…' }).click();
    const text = (await page.getByRole('dialog').textContent()) ?? '';
    assert.match(text, /with its tags: release-1, v1/);
    assert.match(text, /Its referrers stay/);
    assert.match(text, /An index still lists it/);
    assert.match(text, /Immutable tags refuse this delete: release-1/);
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
  });

  it('a read-only user sees the refusal: no delete buttons, and says so; logging out returns to anonymous', async (t) => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('link', { name: 'Log in' }).click();
    await page.getByLabel('User').fill(bob.user);
    await page.getByLabel('Password').fill(bob.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByText('Signed in as').waitFor();
    await open('repository (bob)', '#/r/team/app', 'tbody tr');
    await page.getByText('Read-only for you: you may pull here but not delete.').waitFor();
    assert.equal(await page.getByRole('button', { name: /^Delete/ }).count(), 0);
    await axe(t, 'repository, read-only');
    await shot('read-only');
    // The registry refuses it too, whatever the page shows.
    const refused = await page.evaluate(async (auth) => (await fetch('/v2/team/app/manifests/v1', { method: 'DELETE', headers: { Authorization: auth }, credentials: 'omit' })).status, `Basic ${Buffer.from(`${bob.user}:${bob.password}`).toString('base64')}`);
    assert.equal(refused, 403);
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('link', { name: 'Log in' }).waitFor();
    await page.goto(`${url}/ui/#/r/team/app`);
    await page.getByRole('alert').filter({ hasText: 'Log in to see this.' }).waitFor();
    await axe(t, 'anonymous refusal');
  });

  it('an admin sees the garbage collector\'s last runs and what they reclaimed', async (t) => {
    await registry.app.collectGarbage({ reviewDelayMs: 0 });
    await page.getByRole('navigation', { name: 'Session' }).getByRole('link', { name: 'Log in' }).click();
    await page.getByLabel('User').fill(root.user);
    await page.getByLabel('Password').fill(root.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByText('Signed in as').waitFor();
    await page.getByRole('link', { name: 'Garbage collection' }).click();
    const runs = page.getByRole('region', { name: 'Collector runs' });
    await runs.waitFor();
    assert.ok((await runs.locator('tbody tr').count()) >= 1, 'the run just made, and any the schedule made');
    assert.match((await runs.textContent()) ?? '', /schedule/);
    await axe(t, 'gc');
    await shot('gc');
  });

  it('the namespace tree: namespaces and repositories with their usage, each openable', async (t) => {
    const started = Date.now();
    await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Namespaces' }).click();
    const tree = page.getByRole('region', { name: 'Namespace contents' });
    await tree.waitFor();
    timings['namespaces (root)'] = Date.now() - started;
    assert.deepEqual(await tree.locator('tbody td:first-child a').allTextContents(), ['public/', 'team/']);
    assert.match((await tree.locator('tbody tr', { hasText: 'team/' }).textContent()) ?? '', /namespace\d+(\.\d)? (B|KiB)\d+\d+/);
    await tree.getByRole('link', { name: 'team/' }).click();
    await page.getByRole('heading', { name: 'Namespace team' }).waitFor();
    await page.waitForFunction(() => document.querySelectorAll('tbody td:first-child a').length === 2 && document.querySelector('tbody td:first-child a')?.textContent === 'app');
    assert.deepEqual(await tree.locator('tbody td:first-child a').allTextContents(), ['app', 'web']);
    await axe(t, 'namespaces');
    await shot('namespaces');
    await tree.getByRole('link', { name: 'app' }).click();
    await page.getByRole('heading', { name: 'team/app' }).waitFor();
    await page.getByRole('button', { name: 'Log out' }).click();
  });

  it('dark theme and a phone-sized screen pass axe too', async (t) => {
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.goto(`${url}/ui/#/r/public/base`);
    await page.locator('tbody tr').first().waitFor();
    await axe(t, 'dark');
    await shot('dark');
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${url}/ui/#/`);
    await page.locator('tbody a').first().waitFor();
    await axe(t, 'phone');
    await shot('phone');
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('with the keyboard alone: Tab reaches the search, typing searches, Tab and Enter open a result; focus is visible', async () => {
    await page.goto(`${url}/ui/#/`);
    await page.locator('tbody a').first().waitFor();
    /** Presses Tab until `matches` holds for the focused element (at most 30 times); returns its description. */
    const tabTo = async (what: string, matches: (element: { tag: string; label: string; text: string }) => boolean): Promise<void> => {
      const seen: string[] = [];
      for (let i = 0; i < 30; i++) {
        await page.keyboard.press('Tab');
        const focused = await page.evaluate(() => {
          const element = document.activeElement as HTMLElement | null;
          const labelled = (element as HTMLInputElement | null)?.labels?.[0]?.textContent ?? element?.getAttribute('aria-label') ?? '';
          return { tag: element?.tagName.toLowerCase() ?? '', label: labelled.trim(), text: element?.textContent?.trim() ?? '' };
        });
        if (matches(focused)) return;
        seen.push(`${focused.tag}[${focused.label || focused.text.slice(0, 30)}]`);
      }
      assert.fail(`Tab never reached ${what}; it went to ${seen.join(', ')}`);
    };
    await tabTo('the search field', (element) => element.tag === 'input' && element.label === 'Search repositories by name');
    await page.keyboard.type('base');
    await page.waitForFunction(() => document.querySelectorAll('tbody a').length === 1);
    await tabTo('the result', (element) => element.tag === 'a' && element.text === 'public/base');
    const ring = await page.evaluate(() => {
      const style = getComputedStyle(document.activeElement as Element);
      return { outline: `${style.outlineStyle} ${style.outlineWidth}`, shadow: style.boxShadow };
    });
    assert.ok(!ring.outline.startsWith('none') || ring.shadow !== 'none', `the focused link shows where focus is (outline ${ring.outline}, box-shadow ${ring.shadow})`);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'public/base' }).waitFor();
  });

  it('no Content-Security-Policy violation was reported; render times (reported, not asserted)', (t) => {
    assert.deepEqual(cspViolations, []);
    for (const [label, ms] of Object.entries(timings)) t.diagnostic(`render ${label}: ${ms} ms`);
  });
});
