// The web UI with the built-in token service (auth.tokenservice): a real Chromium answers Berth's
// Bearer challenges by fetching tokens from /auth/token — anonymously where the policies let
// anonymous users pull, with the user's password after logging in. Anonymous browsing, logging in,
// searching, deleting a tag, a read-only user's refusal and logging out, every request on tokens
// (the password goes only to /auth/token and to the login's GET /v2/ that learns the scheme).
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { call, htpasswdLine, pushImageAs, startAuthRegistry, tempDir, type AuthRegistry } from '../support/auth.js';

const CHROMIUM = process.env.BERTH_TEST_CHROMIUM ?? '/usr/bin/chromium';
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const alice = { user: 'alice', password: 'alice-Secret-1' };
const bob = { user: 'bob', password: 'bob-Secret-2' };

const CONFIG = `
auth:
  htpasswd: { realm: tokens, path: \${dir}/htpasswd }
  tokenservice: { enabled: true, keyfile: \${dir}/keys/token.pem }
  token: { service: berth-ui, issuer: berth-ui-issuer }
  ratelimit: { attempts: 1000, delay: 0s }
  policies:
    - { repositories: ["public/**"], anonymous: true, actions: [pull] }
    - { repositories: ["team/**", "public/**"], users: [alice], actions: [pull, push, delete] }
    - { repositories: ["team/**"], users: [bob], actions: [pull] }
`;

interface AxeResult {
  violations: { id: string; impact: string | null; help: string; nodes: { target: string[] }[] }[];
}

describe('web UI in Chromium with the token service', () => {
  let registry: AuthRegistry;
  let browser: Browser;
  let page: Page;
  let url: string;
  const sentToV2: string[] = [];

  async function token(credentials: { user: string; password: string }, scope: string): Promise<string> {
    const response = await fetch(`${url}/auth/token?service=berth-ui&scope=${encodeURIComponent(scope)}`, { headers: { Authorization: `Basic ${Buffer.from(`${credentials.user}:${credentials.password}`).toString('base64')}` } });
    assert.equal(response.status, 200);
    return ((await response.json()) as { token: string }).token;
  }

  before(async () => {
    const dir = tempDir('berth-ui-token-');
    writeFileSync(join(dir, 'htpasswd'), [htpasswdLine(alice.user, alice.password), htpasswdLine(bob.user, bob.password), ''].join('\n'));
    registry = await startAuthRegistry(CONFIG, dir);
    url = registry.url;
    for (const [name, tag] of [['team/app', 'v1'], ['team/app', 'v2'], ['team/web', 'v1'], ['public/base', 'v1']] as const) {
      await pushImageAs(url, name, tag, { token: await token(alice, `repository:${name}:pull,push`) });
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    page.on('request', (request) => {
      const path = new URL(request.url()).pathname;
      if (path.startsWith('/v2')) sentToV2.push(`${request.headers().authorization?.split(' ')[0] ?? 'none'} ${path}`);
    });
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
    assert.deepEqual(serious.map((violation) => violation.id), [], label);
  }

  async function logIn(credentials: { user: string; password: string }): Promise<void> {
    await page.getByRole('navigation', { name: 'Session' }).getByRole('link', { name: 'Log in' }).click();
    await page.getByLabel('User').fill(credentials.user);
    await page.getByLabel('Password').fill(credentials.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByText('Signed in as').waitFor();
  }

  it('anonymous browsing where the policies allow: an anonymous token shows public/* only', async (t) => {
    await page.goto(`${url}/ui/`);
    await page.locator('tbody a').first().waitFor();
    assert.deepEqual(await page.locator('tbody a').allTextContents(), ['public/base']);
    await page.locator('tbody a', { hasText: 'public/base' }).click();
    await page.getByRole('region', { name: 'Tags' }).waitFor();
    assert.deepEqual(await page.locator('tbody tr td:first-child a').allTextContents(), ['v1']);
    await axe(t, 'anonymous repository');
    await page.goto(`${url}/ui/#/r/team/app`);
    await page.getByRole('alert').filter({ hasText: 'Log in to see this.' }).waitFor();
  });

  it('a wrong password is refused by the token service; the right one logs in; search', async () => {
    await page.getByRole('navigation', { name: 'Session' }).getByRole('link', { name: 'Log in' }).click();
    await page.getByLabel('User').fill(alice.user);
    await page.getByLabel('Password').fill('wrong-password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').waitFor();
    assert.equal(await page.getByText('Signed in as').count(), 0);
    await page.getByLabel('Password').fill(alice.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByText('Signed in as').waitFor();
    await page.locator('tbody a', { hasText: 'team/app' }).waitFor();
    assert.deepEqual(await page.locator('tbody a').allTextContents(), ['public/base', 'team/app', 'team/web']);
    await page.getByLabel('Search repositories by name').fill('web');
    await page.waitForFunction(() => document.querySelectorAll('tbody a').length === 1);
    assert.deepEqual(await page.locator('tbody a').allTextContents(), ['team/web']);
  });

  it('delete a tag with a token that the token service narrowed to what the policy grants', async () => {
    await page.goto(`${url}/ui/#/r/team/app`);
    await page.getByRole('button', { name: 'Delete tag v2' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'Deleted tag v2.' }).waitFor();
    const tags = (await (await call(url, 'GET', '/v2/team/app/tags/list', { token: await token(alice, 'repository:team/app:pull') })).json()) as { tags: string[] };
    assert.deepEqual(tags.tags, ['v1']);
  });

  it('a read-only user gets no delete; logging out returns to anonymous; every /v2 request went with a token or none', async (t) => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await logIn(bob);
    await page.goto(`${url}/ui/#/r/team/app`);
    await page.getByText('Read-only for you: you may pull here but not delete.').waitFor();
    assert.equal(await page.getByRole('button', { name: /^Delete/ }).count(), 0);
    await axe(t, 'read-only with tokens');
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('navigation', { name: 'Session' }).getByRole('link', { name: 'Log in' }).waitFor();
    await page.goto(`${url}/ui/#/r/team/app`);
    await page.getByRole('alert').filter({ hasText: 'Log in to see this.' }).waitFor();
    // Logging in asks GET /v2/ with the password once, to learn the scheme (a Bearer challenge); every
    // other request goes with a token, or anonymously before the first challenge.
    assert.ok(sentToV2.some((sent) => sent.startsWith('Bearer /v2/_berth/browse/')));
    assert.ok(sentToV2.some((sent) => sent.startsWith('Bearer /v2/team/app/manifests/')), 'the delete');
    assert.deepEqual(sentToV2.filter((sent) => sent.startsWith('Basic')).sort(), ['Basic /v2/', 'Basic /v2/', 'Basic /v2/'], 'alice wrong, alice, bob: the login checks only');
  });
});
