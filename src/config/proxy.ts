// The pull-through cache's configuration: distribution's `proxy.remoteurl` (the whole registry
// mirrors one upstream) and `proxy.upstreams`, upstreams each mapped to a namespace beside hosted
// repositories, with their own credentials, TTL and the registry hosts (`?ns=`) they mirror.
import type { ProxyConfig, UpstreamConfig } from './config.js';
import { parseDuration } from './duration.js';

type Fail = (message: string, key: string) => never;
type Get = <T>(path: string) => T;

const FIELDS = ['prefix', 'remoteurl', 'username', 'password', 'ttl', 'hosts'];
const ORIGIN = /^https?:\/\/[^/\s]+\/?$/;
const PREFIX = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*\/$/;

export function parseProxy(get: Get, fail: Fail): ProxyConfig | undefined {
  const url = get<string | undefined>('proxy.remoteurl');
  const username = get<string | undefined>('proxy.username');
  const password = get<string | undefined>('proxy.password');
  const ttlMs = get<number>('proxy.ttl');
  const upstreams: UpstreamConfig[] = [];
  if (url === undefined || url === '') {
    if (username !== undefined || password !== undefined) fail('needs proxy.remoteurl', username !== undefined ? 'proxy.username' : 'proxy.password');
  } else {
    if (!ORIGIN.test(url)) fail('must be the origin of a registry, such as https://registry-1.docker.io', 'proxy.remoteurl');
    if (password !== undefined && username === undefined) fail('needs proxy.username', 'proxy.password');
    upstreams.push({ prefix: '', url: url.replace(/\/$/, ''), username, password, ttlMs, hosts: [] });
  }
  const list: unknown = get('proxy.upstreams');
  if (list !== undefined && list !== null) {
    if (!Array.isArray(list)) fail('expected a list of upstreams', 'proxy.upstreams');
    (list as unknown[]).forEach((entry, index) => {
      const key = `proxy.upstreams[${index}]`;
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) fail('must be a mapping', key);
      const fields = entry as Record<string, unknown>;
      for (const field of Object.keys(fields)) if (!FIELDS.includes(field)) fail(`unknown field ${field}`, key);
      const prefix = fields.prefix;
      if (typeof prefix !== 'string' || !PREFIX.test(prefix)) fail('prefix is required: a repository namespace ending in / (e.g. dockerhub/)', key);
      if (upstreams.some((other) => other.prefix === prefix)) fail(`two upstreams have the prefix ${prefix}`, key);
      const remote = fields.remoteurl;
      if (typeof remote !== 'string' || !ORIGIN.test(remote)) fail('remoteurl is required: the origin of a registry, such as https://ghcr.io', key);
      const user = fields.username;
      const secret = fields.password;
      if (user !== undefined && typeof user !== 'string') fail('username must be a string', key);
      if (secret !== undefined && typeof secret !== 'string') fail('password must be a string', key);
      if (secret !== undefined && user === undefined) fail('password needs username', key);
      let ttl = ttlMs;
      if (fields.ttl !== undefined) {
        const parsed = typeof fields.ttl === 'string' ? parseDuration(fields.ttl) : undefined;
        if (parsed === undefined) fail('ttl must be a duration such as 5m', key);
        ttl = parsed;
      }
      const hosts = fields.hosts ?? [];
      if (!Array.isArray(hosts) || !hosts.every((h) => typeof h === 'string' && /^[A-Za-z0-9.-]+(?::\d+)?$/.test(h))) fail('hosts must be a list of registry host names (what containerd sends as ?ns=)', key);
      for (const host of hosts as string[]) {
        if (upstreams.some((other) => other.hosts.includes(host))) fail(`two upstreams mirror the host ${host}`, key);
      }
      upstreams.push({ prefix, url: remote.replace(/\/$/, ''), username: user, password: secret, ttlMs: ttl, hosts: hosts as string[] });
    });
  }
  if (upstreams.length > 1 && upstreams.some((u) => u.prefix === '')) fail('proxy.remoteurl mirrors every repository: use proxy.upstreams alone for several', 'proxy.remoteurl');
  return upstreams.length === 0 ? undefined : { upstreams };
}
