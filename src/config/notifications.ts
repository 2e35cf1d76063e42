// distribution's `notifications` keys (docs/operations.md, "Notifications"): `endpoints`, a list of
// webhooks with the fields distribution's have, and `events.includereferences`.
import type { NotificationEndpoint, NotificationsConfig } from './config.js';
import { parseDuration } from './duration.js';

type Fail = (message: string, key: string) => never;
type Get = <T>(path: string) => T;

const FIELDS = ['name', 'url', 'headers', 'timeout', 'threshold', 'backoff', 'ignoredmediatypes', 'ignore', 'disabled'];
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function parseNotifications(get: Get, fail: Fail): NotificationsConfig {
  const value: unknown = get('notifications.endpoints');
  const includeReferences = get<boolean>('notifications.events.includereferences');
  if (value === undefined || value === null) return { endpoints: [], includeReferences };
  if (!Array.isArray(value)) fail('expected a list of endpoints', 'notifications.endpoints');
  const names = new Set<string>();
  const endpoints: NotificationEndpoint[] = [];
  (value as unknown[]).forEach((entry: unknown, index) => {
    const key = `notifications.endpoints[${index}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) fail('must be a mapping', key);
    const fields = entry as Record<string, unknown>;
    for (const field of Object.keys(fields)) if (!FIELDS.includes(field)) fail(`unknown field ${field}`, key);
    const name = fields.name;
    if (typeof name !== 'string' || !NAME.test(name)) fail('name is required: letters, digits, . _ - (it names the endpoint in metrics and in the outbox)', key);
    if (names.has(name)) fail(`two endpoints are named ${name}`, key);
    names.add(name);
    const url = fields.url;
    if (typeof url !== 'string' || !/^https?:\/\/[^/\s]+/.test(url)) fail('url is required: an http(s) URL', key);
    const headers: Record<string, string[]> = {};
    const rawHeaders = fields.headers ?? {};
    if (typeof rawHeaders !== 'object' || rawHeaders === null || Array.isArray(rawHeaders)) fail('headers must map names to lists of values', key);
    for (const [header, values] of Object.entries(rawHeaders as Record<string, unknown>)) {
      const list = Array.isArray(values) ? values : [values];
      if (!list.every((v) => typeof v === 'string' || typeof v === 'number')) fail(`header ${header} must be a list of strings`, key);
      headers[header] = list.map(String);
    }
    const ignore = fields.ignore ?? {};
    if (typeof ignore !== 'object' || ignore === null || Array.isArray(ignore)) fail('ignore must be a mapping of mediatypes and actions', key);
    const ignoreFields = ignore as Record<string, unknown>;
    for (const field of Object.keys(ignoreFields)) if (field !== 'mediatypes' && field !== 'actions') fail(`unknown field ignore.${field}`, key);
    const actions = strings(ignoreFields.actions, `${key}.ignore.actions`, fail);
    for (const action of actions) if (!['push', 'pull', 'delete', 'mount'].includes(action)) fail(`action ${action} is not one of push, pull, delete, mount`, `${key}.ignore.actions`);
    const threshold = fields.threshold ?? 10;
    if (typeof threshold !== 'number' || !Number.isInteger(threshold) || threshold < 0) fail('threshold must be a whole number', key);
    const disabled = fields.disabled ?? false;
    if (typeof disabled !== 'boolean') fail('disabled must be true or false', key);
    endpoints.push({
      name,
      url,
      headers,
      timeoutMs: duration(fields.timeout, `${key}.timeout`, fail) ?? 1000,
      threshold: threshold <= 0 ? 10 : threshold,
      backoffMs: duration(fields.backoff, `${key}.backoff`, fail) ?? 1000,
      ignoredMediaTypes: [...strings(fields.ignoredmediatypes, `${key}.ignoredmediatypes`, fail), ...strings(ignoreFields.mediatypes, `${key}.ignore.mediatypes`, fail)],
      ignoredActions: actions,
      disabled,
    });
  });
  return { endpoints, includeReferences };
}

function strings(value: unknown, key: string, fail: Fail): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((entry) => typeof entry === 'string')) fail('must be a list of strings', key);
  return value;
}

/** A Go duration string or a number of nanoseconds (as distribution reads it); 0 or less: the default. */
function duration(value: unknown, key: string, fail: Fail): number | undefined {
  if (value === undefined || value === null) return undefined;
  const ms = typeof value === 'number' ? value / 1e6 : typeof value === 'string' ? parseDuration(value) : undefined;
  if (ms === undefined) fail('must be a duration such as 500ms, 1s or 1m', key);
  return ms > 0 ? ms : undefined;
}
