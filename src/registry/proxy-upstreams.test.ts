import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProxyUpstreams } from './proxy-upstreams.js';

const upstream = (prefix: string, url: string, hosts: string[] = []) => ({ prefix, url, username: undefined, password: undefined, ttlMs: 0, hosts });

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
