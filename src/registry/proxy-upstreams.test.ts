import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProxyUpstreams } from './proxy-upstreams.js';

const upstream = (prefix: string, url: string, hosts: string[] = [], more: { unprefixed?: string[]; library?: boolean; allow?: string[]; deny?: string[] } = {}) => ({
  prefix,
  url,
  username: undefined,
  password: undefined,
  ttlMs: 0,
  unusedForMs: 0,
  maxBytes: undefined,
  hosts,
  unprefixed: more.unprefixed ?? [],
  library: more.library ?? url.includes('docker.io'),
  allow: more.allow,
  deny: more.deny ?? [],
});

test('a repository below a prefix mirrors that upstream under the rest of its name; others are hosted', () => {
  const upstreams = new ProxyUpstreams([upstream('ghcr/', 'https://ghcr.io'), upstream('ghcr/special/', 'https://other.example'), upstream('dockerhub/', 'https://registry-1.docker.io', ['docker.io'])]);
  assert.equal(upstreams.resolve('ghcr/owner/app')?.remoteName, 'owner/app');
  assert.equal(upstreams.resolve('ghcr/owner/app')?.upstream.config.url, 'https://ghcr.io');
  assert.equal(upstreams.resolve('ghcr/special/app')?.upstream.config.url, 'https://other.example', 'the longest prefix wins');
  assert.equal(upstreams.resolve('hosted/app'), undefined);
  assert.equal(upstreams.resolve('ghcr'), undefined);
});

test('Docker Hub: a one-component name is an official image under library/', () => {
  const upstreams = new ProxyUpstreams([upstream('dockerhub/', 'https://registry-1.docker.io', ['docker.io']), upstream('', 'https://ghcr.io')]);
  assert.equal(upstreams.resolve('dockerhub/alpine')?.remoteName, 'library/alpine');
  assert.equal(upstreams.resolve('dockerhub/library/alpine')?.remoteName, 'library/alpine');
  assert.equal(upstreams.resolve('dockerhub/grafana/grafana')?.remoteName, 'grafana/grafana');
  assert.equal(upstreams.resolve('alpine')?.remoteName, 'alpine', 'not Docker Hub: names are kept');
});

test('?ns=<host> selects the prefix of the upstream that mirrors that host', () => {
  const upstreams = new ProxyUpstreams([upstream('dockerhub/', 'https://registry-1.docker.io', ['docker.io', 'registry-1.docker.io']), upstream('quay/', 'https://quay.io', ['quay.io'])]);
  assert.equal(upstreams.prefixForHost('docker.io'), 'dockerhub/');
  assert.equal(upstreams.prefixForHost('quay.io'), 'quay/');
  assert.equal(upstreams.prefixForHost('ghcr.io'), undefined);
  assert.equal(upstreams.prefixForHost(null), undefined);
});

test('library: true makes one-component names official images on any upstream (a Docker Hub mirror elsewhere)', () => {
  const upstreams = new ProxyUpstreams([upstream('hub/', 'http://127.0.0.1:5000', [], { library: true }), upstream('plain/', 'http://127.0.0.1:5001')]);
  assert.equal(upstreams.resolve('hub/alpine')?.remoteName, 'library/alpine');
  assert.equal(upstreams.resolve('plain/alpine')?.remoteName, 'alpine');
});

test('route: ?ns= or the unprefixed globs put a bare name below its upstream\'s prefix; official images share one name', () => {
  const upstreams = new ProxyUpstreams([
    upstream('dockerhub/', 'https://registry-1.docker.io', ['docker.io'], { unprefixed: ['library/*', 'grafana/**'] }),
    upstream('quay/', 'https://quay.io', ['quay.io']),
  ]);
  assert.equal(upstreams.route('library/alpine', null), 'dockerhub/library/alpine', 'dockerd and podman mirrors send no ?ns=');
  assert.equal(upstreams.route('grafana/loki/x', null), 'dockerhub/grafana/loki/x');
  assert.equal(upstreams.route('library/alpine', 'docker.io'), 'dockerhub/library/alpine', 'containerd sends ?ns=docker.io');
  assert.equal(upstreams.route('hosted/app', null), undefined, 'not taken by a glob: hosted, as it is');
  assert.equal(upstreams.route('quay/coreos/etcd', null), undefined, 'already below a prefix');
  assert.equal(upstreams.route('coreos/etcd', 'quay.io'), 'quay/coreos/etcd', '?ns= decides when sent');
  assert.equal(upstreams.route('library/alpine', 'ghcr.io'), undefined, 'a host nobody mirrors: taken as it is, not sent to Docker Hub');
  assert.equal(upstreams.route('dockerhub/alpine', null), 'dockerhub/library/alpine', 'the short form of an official image is cached under the long one');
  assert.equal(upstreams.route('dockerhub/library/alpine', null), undefined);
  assert.equal(upstreams.route('quay/etcd', null), undefined, 'no library rule on quay');
});

test('allow and deny lists (globs of the upstream\'s names) say which repositories come through', () => {
  const upstreams = new ProxyUpstreams([
    upstream('dockerhub/', 'https://registry-1.docker.io', [], { allow: ['library/*', 'grafana/**'], deny: ['grafana/secret'] }),
    upstream('ghcr/', 'https://ghcr.io', [], { deny: ['evil/**'] }),
  ]);
  const permits = (name: string): boolean | undefined => {
    const proxied = upstreams.resolve(name);
    return proxied?.upstream.permits(proxied.remoteName);
  };
  assert.equal(permits('dockerhub/alpine'), true, 'alpine is library/alpine, which is allowed');
  assert.equal(permits('dockerhub/library/alpine'), true);
  assert.equal(permits('dockerhub/grafana/grafana'), true);
  assert.equal(permits('dockerhub/grafana/secret'), false, 'deny wins over allow');
  assert.equal(permits('dockerhub/bitnami/redis'), false, 'not in the allow list');
  assert.equal(permits('ghcr/owner/app'), true, 'no allow list: every name not denied');
  assert.equal(permits('ghcr/evil/x/y'), false);
});
