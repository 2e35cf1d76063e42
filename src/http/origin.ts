// The `scheme://host` a client reached Berth at, which every absolute URL Berth sends (Location,
// Link, the token realm, event `url`s) starts with.
import type { IncomingMessage } from 'node:http';

const HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

function first(value: string | string[] | undefined): string | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  const head = text?.split(',')[0]?.trim();
  return head === '' ? undefined : head;
}

/**
 * `http.host` when it is set; else built from the request, as distribution does: the scheme from
 * `X-Forwarded-Proto` (`http` or `https`) or the connection, the host from `X-Forwarded-Host` or
 * `Host` (the first value of a list; a malformed value is ignored). Those two headers are trusted
 * from any client, which can only redirect its own requests with them; behind a proxy, the proxy
 * must set or strip them. Undefined when no well-formed host is known (an HTTP/1.0 request).
 */
export function externalOrigin(req: IncomingMessage, baseUrl: string | undefined): string | undefined {
  if (baseUrl !== undefined) return baseUrl;
  const forwardedProto = first(req.headers['x-forwarded-proto'])?.toLowerCase();
  const encrypted = (req.socket as { encrypted?: boolean }).encrypted === true;
  const scheme = forwardedProto === 'http' || forwardedProto === 'https' ? forwardedProto : encrypted ? 'https' : 'http';
  const forwardedHost = first(req.headers['x-forwarded-host']);
  const host = forwardedHost !== undefined && HOST.test(forwardedHost) ? forwardedHost : req.headers.host;
  if (host === undefined || !HOST.test(host)) return undefined;
  return `${scheme}://${host}`;
}
