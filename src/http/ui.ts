// Serves the web UI (docs/ui.md): the files `npm run build` puts in dist/ui, at ui.path on the main
// address. index.html is never cached; hashed assets are immutable. Every answer carries a strict
// Content-Security-Policy: only this origin's scripts, styles and API, no inline code, no frames.
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { methodNotAllowed, notFound } from '../registry/errors.js';
import type { RequestContext } from './context.js';

export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const SECURITY_HEADERS = {
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
};

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
};

/** Where the built UI is: dist/ui beside dist/src. */
export const DEFAULT_UI_DIRECTORY = fileURLToPath(new URL('../../ui/', import.meta.url));

export class UiFiles {
  readonly path: string;
  readonly #directory: string;
  readonly #index: Buffer | undefined;

  constructor(path: string, directory: string = DEFAULT_UI_DIRECTORY) {
    this.path = path;
    this.#directory = normalize(directory);
    const index = join(this.#directory, 'index.html');
    this.#index = existsSync(index) ? readFileSync(index) : undefined;
  }

  /** Whether the UI was built (npm run build); without it, ui.path answers 404 and the log says why. */
  get built(): boolean {
    return this.#index !== undefined;
  }

  matches(path: string): boolean {
    return path.startsWith(this.path) || path === this.path.slice(0, -1);
  }

  serve(ctx: RequestContext): void {
    if (ctx.req.method !== 'GET' && ctx.req.method !== 'HEAD') throw methodNotAllowed(['GET', 'HEAD']);
    if (ctx.path === this.path.slice(0, -1)) {
      ctx.send(301, { Location: ctx.url(this.path), ...SECURITY_HEADERS });
      return;
    }
    const rest = ctx.path.slice(this.path.length);
    if (rest === '' || rest === 'index.html') {
      if (this.#index === undefined) throw notFound();
      ctx.send(200, { 'Content-Type': TYPES['.html'] ?? '', 'Cache-Control': 'no-cache', ...SECURITY_HEADERS }, this.#index);
      return;
    }
    const file = normalize(join(this.#directory, rest));
    if (!file.startsWith(this.#directory.endsWith(sep) ? this.#directory : this.#directory + sep) || !/^[A-Za-z0-9._/-]+$/.test(rest)) throw notFound();
    let size: number;
    try {
      const stat = statSync(file);
      if (!stat.isFile()) throw notFound();
      size = stat.size;
    } catch {
      throw notFound();
    }
    const hashed = rest.startsWith('assets/');
    ctx.res.writeHead(200, {
      'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
      'Content-Length': size,
      'Cache-Control': hashed ? 'public, max-age=31536000, immutable' : 'no-cache',
      ...SECURITY_HEADERS,
    });
    if (ctx.isHead) {
      ctx.res.end();
      return;
    }
    const stream = createReadStream(file);
    stream.on('error', () => ctx.res.destroy());
    ctx.res.once('close', () => stream.destroy());
    stream.pipe(ctx.res);
  }
}
