// Users from an htpasswd file (bcrypt entries only, as `htpasswd -B` writes them). The file is
// re-read when it changes (checked at most once a second). An unknown user costs the same bcrypt
// work as a wrong password, and successful checks are remembered briefly (keyed by an HMAC of user,
// password and entry under a per-process secret) so a pull of 40 layers pays one bcrypt, not 40.
import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import bcrypt from 'bcryptjs';
import type { Logger } from 'pino';

const BCRYPT = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;
const CHECK_INTERVAL_MS = 1000;
const CACHE_TTL_MS = 60_000;
const CACHE_MAX = 10_000;

interface Loaded {
  readonly entries: ReadonlyMap<string, string>;
  /** A hash of a random password at the file's highest cost: what an unknown user is checked against. */
  readonly dummy: string;
  readonly fingerprint: string;
}

export class HtpasswdFile {
  readonly #path: string;
  readonly #log: Logger;
  readonly #secret = randomBytes(32);
  readonly #verified = new Map<string, number>();
  #loaded: Loaded;
  #checkedAt = 0;
  #reloading: Promise<void> | undefined;

  /** Reads the file now; throws when it cannot be read. */
  constructor(path: string, log: Logger) {
    this.#path = path;
    this.#log = log;
    const info = statSync(path);
    this.#loaded = this.#parse(readFileSync(path, 'utf8'), fingerprintOf(info));
    this.#checkedAt = Date.now();
  }

  /** Whether the user is in the file (for refresh tokens). */
  async has(user: string): Promise<boolean> {
    await this.#fresh();
    return this.#loaded.entries.has(user);
  }

  async verify(user: string, password: string): Promise<boolean> {
    await this.#fresh();
    const { entries, dummy } = this.#loaded;
    const entry = entries.get(user);
    const key = createHmac('sha256', this.#secret).update(user).update('\0').update(password).update('\0').update(entry ?? '').digest('base64');
    const now = Date.now();
    const cached = this.#verified.get(key);
    if (entry !== undefined && cached !== undefined && cached > now) return true;
    // The same work whether or not the user exists.
    const ok = await bcrypt.compare(password, entry ?? dummy);
    if (!ok || entry === undefined) return false;
    if (this.#verified.size >= CACHE_MAX) this.#verified.clear();
    this.#verified.set(key, now + CACHE_TTL_MS);
    return true;
  }

  async #fresh(): Promise<void> {
    if (Date.now() - this.#checkedAt < CHECK_INTERVAL_MS) return;
    this.#reloading ??= this.#reload().finally(() => {
      this.#reloading = undefined;
    });
    await this.#reloading;
  }

  async #reload(): Promise<void> {
    this.#checkedAt = Date.now();
    try {
      const info = await stat(this.#path);
      const fingerprint = fingerprintOf(info);
      if (fingerprint === this.#loaded.fingerprint) return;
      this.#loaded = this.#parse(await readFile(this.#path, 'utf8'), fingerprint);
      this.#verified.clear();
      this.#log.info({ path: this.#path, users: this.#loaded.entries.size }, 'htpasswd file reloaded');
    } catch (error) {
      // Keep the last good list; a file being replaced may be missing for a moment.
      this.#log.warn({ path: this.#path, err: (error as Error).message }, 'cannot read the htpasswd file; keeping the users loaded before');
    }
  }

  #parse(text: string, fingerprint: string): Loaded {
    const entries = new Map<string, string>();
    let cost = 5;
    for (const [index, raw] of text.split('\n').entries()) {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) continue;
      const colon = line.indexOf(':');
      const user = line.slice(0, colon);
      const hash = line.slice(colon + 1);
      const match = colon > 0 ? BCRYPT.exec(hash) : null;
      if (match === null) {
        this.#log.warn({ path: this.#path, line: index + 1 }, 'htpasswd entry is not user:bcrypt-hash (use htpasswd -B); ignored');
        continue;
      }
      cost = Math.max(cost, Number(match[1]));
      entries.set(user, hash);
    }
    return { entries, dummy: bcrypt.hashSync(randomBytes(16).toString('hex'), Math.min(cost, 14)), fingerprint };
  }
}

function fingerprintOf(info: { mtimeMs: number; size: number; ino: number }): string {
  return `${info.mtimeMs}:${info.size}:${info.ino}`;
}
