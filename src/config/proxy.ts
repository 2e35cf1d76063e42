// The pull-through cache's configuration: distribution's `proxy.remoteurl` (the whole registry
// mirrors one upstream) and `proxy.upstreams`, upstreams each mapped to a namespace beside hosted
// repositories, with their own credentials, TTL, the registry hosts (`?ns=`) they mirror, the
// repositories that mirror clients sending no `?ns=` ask for without a prefix, and allow/deny lists.
import type { ProxyConfig, UpstreamConfig } from './config.js';
import { parseDuration } from './duration.js';
import { parseSize } from './size.js';

type Fail = (message: string, key: string) => never;
type Get = <T>(path: string) => T;

const FIELDS = ['prefix', 'remoteurl', 'username', 'password', 'ttl', 'unusedfor', 'maxsize', 'hosts', 'unprefixed', 'library', 'allow', 'deny'];
const ORIGIN = /^https?:\/\/[^/\s]+\/?$/;
const PREFIX = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*\/$/;
/** A repository glob (repository-glob.ts): name characters, `/` and `*`. */
const GLOB = /^[a-z0-9._\-*/]+$/;
const DOCKER_HUB = new Set(['registry-1.docker.io', 'index.docker.io', 'docker.io']);

export function parseProxy(get: Get, fail: Fail): ProxyConfig | undefined {
  const url = get<string | undefined>('proxy.remoteurl');
  const username = get<string | undefined>('proxy.username');
  const password = get<string | undefined>('proxy.password');
  const ttlMs = get<number>('proxy.ttl');
  const unusedForMs = get<number>('proxy.unusedfor');
  const maxSetting = get<unknown>('proxy.maxsize');
  const maxBytes = maxSetting === undefined || maxSetting === null ? undefined : parseSize(maxSetting, 'proxy.maxsize', fail, 'maxsize');
  const upstreams: UpstreamConfig[] = [];
  if (url === undefined || url === '') {
    if (username !== undefined || password !== undefined) fail('needs proxy.remoteurl', username !== undefined ? 'proxy.username' : 'proxy.password');
    for (const key of ['proxy.allow', 'proxy.deny']) if (get(key) !== undefined) fail('needs proxy.remoteurl (in proxy.upstreams, each upstream has its own allow and deny)', key);
  } else {
    if (!ORIGIN.test(url)) fail('must be the origin of a registry, such as https://registry-1.docker.io', 'proxy.remoteurl');
    if (password !== undefined && username === undefined) fail('needs proxy.username', 'proxy.password');
    const allow = globs(get('proxy.allow'), 'proxy.allow', fail);
    const deny = globs(get('proxy.deny'), 'proxy.deny', fail) ?? [];
    upstreams.push({ prefix: '', url: url.replace(/\/$/, ''), username, password, ttlMs, unusedForMs, maxBytes, hosts: [], unprefixed: [], library: isDockerHub(url), allow, deny });
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
      let unusedFor = unusedForMs;
      if (fields.unusedfor !== undefined) {
        const parsed = typeof fields.unusedfor === 'string' ? parseDuration(fields.unusedfor) : undefined;
        if (parsed === undefined) fail('unusedfor must be a duration such as 720h', key);
        unusedFor = parsed;
      }
      const max = fields.maxsize === undefined || fields.maxsize === null ? maxBytes : parseSize(fields.maxsize, `${key}.maxsize`, fail, 'maxsize');
      const hosts = fields.hosts ?? [];
      if (!Array.isArray(hosts) || !hosts.every((h) => typeof h === 'string' && /^[A-Za-z0-9.-]+(?::\d+)?$/.test(h))) fail('hosts must be a list of registry host names (what containerd sends as ?ns=)', key);
      for (const host of hosts as string[]) {
        if (upstreams.some((other) => other.hosts.includes(host))) fail(`two upstreams mirror the host ${host}`, key);
      }
      const unprefixed = globs(fields.unprefixed, `${key}.unprefixed`, fail) ?? [];
      if (unprefixed.length > 0) {
        const other = upstreams.find((u) => u.unprefixed.length > 0);
        if (other !== undefined) fail(`the upstreams ${other.prefix} and ${prefix} both take repositories without a prefix: a request without ?ns= (dockerd, podman) could be either's; give unprefixed to one`, `${key}.unprefixed`);
      }
      const library = fields.library ?? isDockerHub(remote);
      if (typeof library !== 'boolean') fail('library must be true or false', `${key}.library`);
      const allow = globs(fields.allow, `${key}.allow`, fail);
      const deny = globs(fields.deny, `${key}.deny`, fail) ?? [];
      upstreams.push({ prefix, url: remote.replace(/\/$/, ''), username: user, password: secret, ttlMs: ttl, unusedForMs: unusedFor, maxBytes: max, hosts: hosts as string[], unprefixed, library, allow, deny });
    });
  }
  if (upstreams.length > 1 && upstreams.some((u) => u.prefix === '')) fail('proxy.remoteurl mirrors every repository: use proxy.upstreams alone for several', 'proxy.remoteurl');
  // An unprefixed glob that names a repository below another prefix would be taken by the prefix.
  for (const [index, upstream] of upstreams.entries()) {
    for (const glob of upstream.unprefixed) {
      const below = upstreams.find((other) => glob.startsWith(other.prefix));
      if (below !== undefined) fail(`${glob} is below the prefix ${below.prefix}, whose repositories are that upstream's`, `proxy.upstreams[${index}].unprefixed`);
    }
  }
  return upstreams.length === 0 ? undefined : { upstreams };
}

/** A list of repository globs, or undefined when the key is not set. */
function globs(value: unknown, key: string, fail: Fail): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  const list = typeof value === 'string' ? value.split(',').map((g) => g.trim()) : value;
  if (!Array.isArray(list) || list.length === 0 || !list.every((g) => typeof g === 'string' && GLOB.test(g))) fail('expected a non-empty list of repository globs, such as [library/*, grafana/**]', key);
  return list as string[];
}

function isDockerHub(url: string): boolean {
  try {
    return DOCKER_HUB.has(new URL(url).hostname);
  } catch {
    return false;
  }
}
