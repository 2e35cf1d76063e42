// TLS (http.tls.certificate / http.tls.key) with a throwaway CA, and client certificates
// (http.tls.clientcas): required when no auth.* is configured, one more way to log in when it is.
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { htpasswdLine, makeTestPki, startAuthRegistry, tempDir, type AuthRegistry, type TestPki } from '../support/auth.js';

interface TlsResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(url: string, path: string, options: { ca?: string; cert?: string; key?: string; authorization?: string }): Promise<TlsResponse> {
  return new Promise((resolve, reject) => {
    const target = new URL(path, url);
    const req = request(
      {
        hostname: target.hostname,
        port: target.port,
        path: target.pathname,
        method: 'GET',
        agent: false,
        ...(options.ca === undefined ? {} : { ca: readFileSync(options.ca) }),
        ...(options.cert === undefined ? {} : { cert: readFileSync(options.cert) }),
        ...(options.key === undefined ? {} : { key: readFileSync(options.key) }),
        headers: options.authorization === undefined ? {} : { Authorization: options.authorization },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const alice = { user: 'alice', password: 'alice-Secret-1' };
const basic = `Basic ${Buffer.from(`${alice.user}:${alice.password}`).toString('base64')}`;

describe('TLS and client certificates', () => {
  let dir: string;
  let pki: TestPki;

  before(() => {
    dir = tempDir('berth-tls-');
    pki = makeTestPki(dir);
    writeFileSync(join(dir, 'htpasswd'), `${htpasswdLine(alice.user, alice.password)}\n`);
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  describe('HTTPS with htpasswd and client certificates as a second way in', () => {
    let registry: AuthRegistry;
    before(async () => {
      registry = await startAuthRegistry(
        `auth:
  htpasswd: { realm: tls, path: ${join(dir, 'htpasswd')} }
  policies:
    - { repositories: ["team/**"], users: [alice, ci-robot], actions: [pull, push] }`,
        tempDir('berth-tls-reg-'),
        { http: `{ addr: 127.0.0.1:0, tls: { certificate: ${pki.certificate}, key: ${pki.key}, clientcas: [${pki.ca}] } }` },
      );
    });
    after(async () => {
      await registry.stop();
    });

    it('a client that trusts the throwaway CA gets the Basic challenge, then 200 with credentials', async () => {
      const challenged = await get(registry.url, '/v2/', { ca: pki.ca });
      assert.equal(challenged.status, 401);
      assert.equal(challenged.headers['www-authenticate'], 'Basic realm="tls"');
      assert.equal((await get(registry.url, '/v2/', { ca: pki.ca, authorization: basic })).status, 200);
    });

    it('a client that does not trust the CA refuses the connection', async () => {
      await assert.rejects(get(registry.url, '/v2/', {}), /self[- ]signed|unable to (verify|get local issuer)/i);
    });

    it('a client certificate signed by a clientcas CA logs in as its CN; one from another CA does not', async () => {
      const robot = pki.client('ci-robot');
      assert.equal((await get(registry.url, '/v2/team/app/tags/list', { ca: pki.ca, cert: robot.certificate, key: robot.key })).status, 404, 'allowed: NAME_UNKNOWN for a repository never pushed');
      const stranger = pki.client('ci-robot', 'other');
      const refused = await get(registry.url, '/v2/team/app/tags/list', { ca: pki.ca, cert: stranger.certificate, key: stranger.key });
      assert.equal(refused.status, 401);
      assert.equal((JSON.parse(refused.body) as { errors: { code: string }[] }).errors[0]?.code, 'UNAUTHORIZED');
      const outsider = pki.client('mallory');
      const denied = await get(registry.url, '/v2/team/app/tags/list', { ca: pki.ca, cert: outsider.certificate, key: outsider.key });
      assert.equal(denied.status, 403);
      assert.equal((JSON.parse(denied.body) as { errors: { code: string }[] }).errors[0]?.code, 'DENIED');
    });
  });

  describe('HTTPS with clientcas and no auth.*: a client certificate is required', () => {
    let registry: AuthRegistry;
    before(async () => {
      registry = await startAuthRegistry('', tempDir('berth-tls-reg-'), {
        http: `{ addr: 127.0.0.1:0, tls: { certificate: ${pki.certificate}, key: ${pki.key}, clientcas: [${pki.ca}], minimumtls: tls1.2 } }`,
      });
    });
    after(async () => {
      await registry.stop();
    });

    it('no certificate → the handshake fails; a certificate from the CA → 200', async () => {
      await assert.rejects(get(registry.url, '/v2/', { ca: pki.ca }));
      const client = pki.client('anyone');
      assert.equal((await get(registry.url, '/v2/', { ca: pki.ca, cert: client.certificate, key: client.key })).status, 200);
    });
  });
});
