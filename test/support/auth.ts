// Helpers for the access-control suites: htpasswd files written by the real `htpasswd -B`, a
// registry started in-process from a YAML config with its log lines kept, and requests that carry
// Basic or Bearer credentials.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { bodyOf, imageParts, ociManifest, type Content, type ManifestBody } from './content.js';

export interface AuthRegistry {
  readonly url: string;
  readonly app: App;
  readonly dir: string;
  /** Every log line written so far (JSON text). */
  logs(): string;
  stop(): Promise<void>;
}

/** One `user:bcrypt` line from `htpasswd -Bbn` (cost 5 unless given). */
export function htpasswdLine(user: string, password: string, cost = 5): string {
  return execFileSync('htpasswd', ['-Bbn', '-C', String(cost), user, password], { encoding: 'utf8' }).trim();
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface TestPki {
  /** The throwaway CA (certificate file). */
  readonly ca: string;
  /** A server certificate for 127.0.0.1 and localhost signed by the CA, and its key. */
  readonly certificate: string;
  readonly key: string;
  /** Issues a client certificate with subject CN `cn`, signed by the CA (or by `other`, a second CA). */
  client(cn: string, signer?: 'ca' | 'other'): { certificate: string; key: string };
  /** A second CA nobody trusts. */
  readonly otherCa: string;
}

/** A throwaway CA and a server certificate in `dir`, made by openssl. */
export function makeTestPki(dir: string): TestPki {
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { stdio: 'ignore' });
  };
  const path = (name: string): string => join(dir, name);
  const makeCa = (name: string, cn: string): void => {
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path(`${name}.key`), '-out', path(`${name}.pem`), '-subj', `/CN=${cn}`, '-days', '2',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  };
  makeCa('ca', 'Berth Test CA');
  makeCa('other-ca', 'Untrusted Test CA');
  const issue = (name: string, cn: string, ext: string, signer: string): void => {
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', path(`${name}.key`), '-out', path(`${name}.csr`), '-subj', `/CN=${cn}`);
    writeFileSync(path(`${name}.ext`), `${ext}\n`);
    openssl('x509', '-req', '-in', path(`${name}.csr`), '-CA', path(`${signer}.pem`), '-CAkey', path(`${signer}.key`), '-CAcreateserial', '-out', path(`${name}.pem`), '-days', '2', '-extfile', path(`${name}.ext`));
  };
  issue('server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth', 'ca');
  return {
    ca: path('ca.pem'),
    otherCa: path('other-ca.pem'),
    certificate: path('server.pem'),
    key: path('server.key'),
    client: (cn, signer = 'ca') => {
      const name = `client-${cn}-${signer}`;
      issue(name, cn, 'extendedKeyUsage=clientAuth', signer === 'ca' ? 'ca' : 'other-ca');
      return { certificate: path(`${name}.pem`), key: path(`${name}.key`) };
    },
  };
}

/**
 * Starts Berth in-process with `config` (YAML text under the top level; `${dir}` is replaced by
 * the temp dir). `http` replaces the default `{ addr: 127.0.0.1:0 }` (keep addr in it).
 */
export async function startAuthRegistry(config: string, dir = tempDir('berth-auth-'), options: { http?: string } = {}): Promise<AuthRegistry> {
  const file = join(dir, 'config.yml');
  const tls = options.http?.includes('tls') === true;
  writeFileSync(
    file,
    [
      'version: 0.1',
      'log: { level: debug }',
      `http: ${options.http?.replaceAll('${dir}', dir) ?? '{ addr: 127.0.0.1:0 }'}`,
      `storage: { inmemory: {}, delete: { enabled: true } }`,
      config.replaceAll('${dir}', dir),
    ].join('\n'),
  );
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  const log = pino({ level: 'debug' }, sink);
  const app = createApp(loadConfig(file, {}), log);
  const address = await app.listen();
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${address.port}`,
    app,
    dir,
    logs: () => lines.join(''),
    stop: async () => {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export type Credentials = { user: string; password: string } | { token: string } | undefined;

export function authorization(credentials: Credentials): Record<string, string> {
  if (credentials === undefined) return {};
  if ('token' in credentials) return { Authorization: `Bearer ${credentials.token}` };
  return { Authorization: `Basic ${Buffer.from(`${credentials.user}:${credentials.password}`).toString('base64')}` };
}

export async function call(url: string, method: string, path: string, credentials: Credentials, init: { headers?: Record<string, string>; body?: Buffer } = {}): Promise<Response> {
  return fetch(`${url}${path}`, {
    method,
    headers: { ...authorization(credentials), ...init.headers },
    ...(init.body === undefined ? {} : { body: bodyOf(init.body) }),
    redirect: 'manual',
  });
}

/** Pushes one blob (a monolithic POST) with `credentials`; asserts the 201. */
export async function pushBlobAs(url: string, repository: string, blob: Content, credentials: Credentials): Promise<void> {
  const response = await call(url, 'POST', `/v2/${repository}/blobs/uploads/?digest=${blob.digest}`, credentials, {
    headers: { 'Content-Type': 'application/octet-stream' },
    body: blob.bytes,
  });
  await response.arrayBuffer();
  assert.equal(response.status, 201, `pushing blob to ${repository}`);
}

/** PUTs a manifest by tag or digest with `credentials`; asserts the 201. */
export async function putManifestAs(url: string, repository: string, reference: string, manifest: ManifestBody, credentials: Credentials): Promise<void> {
  const response = await call(url, 'PUT', `/v2/${repository}/manifests/${reference}`, credentials, { headers: { 'Content-Type': manifest.mediaType }, body: manifest.bytes });
  await response.arrayBuffer();
  assert.equal(response.status, 201, `pushing manifest to ${repository}:${reference}`);
}

/** Pushes config, layers (monolithic POSTs) and a manifest with `credentials`; asserts 201s. */
export async function pushImageAs(url: string, repository: string, tag: string, credentials: Credentials): Promise<{ manifest: ManifestBody; blobs: Content[] }> {
  const parts = imageParts(`${repository}:${tag}`);
  const blobs = [parts.config, ...parts.layers];
  for (const blob of blobs) await pushBlobAs(url, repository, blob, credentials);
  const manifest = ociManifest(parts);
  await putManifestAs(url, repository, tag, manifest, credentials);
  return { manifest, blobs };
}

/** The error code of a spec error envelope (consumes the body). */
export async function codeOf(response: Response): Promise<string | undefined> {
  const text = await response.text();
  try {
    return (JSON.parse(text) as { errors?: { code?: string }[] }).errors?.[0]?.code;
  } catch {
    return undefined;
  }
}

/** Asserts status and code of an error response. */
export async function expectError(response: Response, status: number, code: string, context: string): Promise<void> {
  const got = await codeOf(response);
  assert.equal(response.status, status, `${context}: status`);
  assert.equal(got, code, `${context}: code`);
}
