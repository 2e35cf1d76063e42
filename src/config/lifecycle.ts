// The lifecycle keys (`lifecycle.*`, docs/lifecycle.md): immutable tags, storage quotas, the
// untagged-manifest policy and retention policies, each a list of rules chosen by repository glob.
import type { LifecycleConfig, RetentionRule } from './config.js';
import { parseDuration } from './duration.js';
import { parseSize } from './size.js';

type Fail = (message: string, key: string) => never;
type Get = <T>(path: string) => T;

const GLOB = /^[a-z0-9._\-*/]+$/;

export function parseLifecycle(get: Get, fail: Fail): LifecycleConfig {
  const immutable = rules(get('lifecycle.immutable'), 'lifecycle.immutable', ['repositories', 'tags'], fail, (entry, key) => ({
    repositories: repositories(entry, key, fail),
    tags: patterns(entry, 'tags', key, fail, true),
  }));
  const quotas = rules(get('lifecycle.quotas'), 'lifecycle.quotas', ['repositories', 'limit', 'per'], fail, (entry, key): LifecycleConfig['quotas'][number] => {
    const per: unknown = entry.per ?? 'repository';
    const scope = per === 'repository' || per === 'namespace' ? per : fail('per must be repository or namespace', key);
    return { repositories: repositories(entry, key, fail), limitBytes: parseSize(entry.limit, key, fail), per: scope };
  });
  const untagged = rules(get('lifecycle.untagged'), 'lifecycle.untagged', ['repositories', 'olderthan'], fail, (entry, key) => ({
    repositories: repositories(entry, key, fail),
    olderThanMs: duration(entry.olderthan, `${key}.olderthan`, fail) ?? fail('olderthan is required', key),
  }));
  const retention = rules(
    get('lifecycle.retention'),
    'lifecycle.retention',
    ['repositories', 'keeptags', 'keepnewest', 'keepyoungerthan'],
    fail,
    (entry, key): RetentionRule => {
      const keepNewest = entry.keepnewest;
      if (keepNewest !== undefined && (typeof keepNewest !== 'number' || !Number.isInteger(keepNewest) || keepNewest < 0)) fail('keepnewest must be a whole number', key);
      const rule: RetentionRule = {
        repositories: repositories(entry, key, fail),
        keepTags: patterns(entry, 'keeptags', key, fail, false),
        keepNewest: keepNewest,
        keepYoungerThanMs: duration(entry.keepyoungerthan, `${key}.keepyoungerthan`, fail),
      };
      if (rule.keepTags.length === 0 && rule.keepNewest === undefined && rule.keepYoungerThanMs === undefined) {
        fail('a retention rule needs keeptags, keepnewest or keepyoungerthan (it would delete every tag)', key);
      }
      return rule;
    },
  );
  return { immutable, quotas, untagged, retention };
}

function rules<T>(value: unknown, path: string, fields: readonly string[], fail: Fail, build: (entry: Record<string, unknown>, key: string) => T): T[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) fail('expected a list of rules', path);
  return (value as unknown[]).map((entry, index) => {
    const key = `${path}[${index}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) fail('must be a mapping', key);
    const record = entry as Record<string, unknown>;
    for (const field of Object.keys(record)) if (!fields.includes(field)) fail(`unknown field ${field} (known: ${fields.join(', ')})`, key);
    return build(record, key);
  });
}

function repositories(entry: Record<string, unknown>, key: string, fail: Fail): string[] {
  const value = entry.repositories;
  if (!Array.isArray(value) || value.length === 0 || !value.every((glob) => typeof glob === 'string' && GLOB.test(glob))) {
    fail('repositories must be a non-empty list of globs (a-z 0-9 . _ - / and *)', key);
  }
  return value as string[];
}

function patterns(entry: Record<string, unknown>, field: string, key: string, fail: Fail, required: boolean): string[] {
  const value = entry[field] ?? [];
  if (!Array.isArray(value) || !value.every((pattern) => typeof pattern === 'string')) fail(`${field} must be a list of regular expressions`, key);
  const list = value;
  if (required && list.length === 0) fail(`${field} must name at least one pattern`, key);
  for (const pattern of list) {
    try {
      new RegExp(pattern);
    } catch {
      fail(`${JSON.stringify(pattern)} is not a regular expression`, key);
    }
  }
  return list;
}

function duration(value: unknown, key: string, fail: Fail): number | undefined {
  if (value === undefined) return undefined;
  const ms = typeof value === 'string' ? parseDuration(value) : undefined;
  return ms ?? fail('must be a duration such as 30d… written in hours, e.g. 720h, or 10m, 30s', key);
}
