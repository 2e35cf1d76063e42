// Plain HTTP reads of the registry under test, used to check what the clients left there.
import { isIndex, parseJson, sha256, MT, type Manifest } from './digests.js';

export const ACCEPT_ALL_MANIFESTS = [MT.ociManifest, MT.ociIndex, MT.dockerManifest, MT.dockerList].join(', ');

export interface HttpReply {
  method: string;
  url: string;
  status: number;
  headers: Headers;
  body: Buffer;
}

export function describeReply(r: HttpReply): string {
  const hs = [...r.headers.entries()].map(([k, v]) => `${k}: ${v}`).join('\n  ');
  const text = r.body.subarray(0, 1500).toString('utf8');
  return `${r.method} ${r.url} → ${r.status}\n  ${hs}\n${text}`;
}

export class RegistryApi {
  constructor(readonly url: string) {}

  async request(method: string, pathAndQuery: string, headers: Record<string, string> = {}): Promise<HttpReply> {
    const url = `${this.url}${pathAndQuery}`;
    const res = await fetch(url, { method, headers, signal: AbortSignal.timeout(60_000) });
    const body = Buffer.from(await res.arrayBuffer());
    return { method, url, status: res.status, headers: res.headers, body };
  }

  getManifest(repo: string, ref: string): Promise<HttpReply> {
    return this.request('GET', `/v2/${repo}/manifests/${ref}`, { Accept: ACCEPT_ALL_MANIFESTS });
  }

  /** The manifest bytes, throwing with the reply unless 200. */
  async manifestBytes(repo: string, ref: string): Promise<Buffer> {
    const r = await this.getManifest(repo, ref);
    if (r.status !== 200) throw new Error(`manifest ${repo}:${ref} not readable:\n${describeReply(r)}`);
    return r.body;
  }

  /** Tags of a repo; [] when the repo has none (2.8.2 says `tags: null`) or is unknown. */
  async tags(repo: string): Promise<string[]> {
    const r = await this.request('GET', `/v2/${repo}/tags/list`);
    if (r.status === 404) return [];
    if (r.status !== 200) throw new Error(`tags list failed:\n${describeReply(r)}`);
    return parseJson<{ tags: string[] | null }>(r.body).tags ?? [];
  }

  async catalog(): Promise<string[]> {
    const r = await this.request('GET', '/v2/_catalog?n=1000');
    if (r.status !== 200) throw new Error(`catalog failed:\n${describeReply(r)}`);
    return parseJson<{ repositories: string[] | null }>(r.body).repositories ?? [];
  }

  /**
   * Checks the image `ref` in `repo` is whole: the manifest hashes to its digest (when `ref`
   * is a digest), and every child manifest, config and layer is there with the right size
   * (HEAD) and, for manifests and configs, the right content (GET). Returns problems.
   */
  async checkImage(repo: string, ref: string): Promise<string[]> {
    const problems: string[] = [];
    const r = await this.getManifest(repo, ref);
    if (r.status !== 200) return [`manifest ${repo}:${ref}: ${describeReply(r)}`];
    const digest = sha256(r.body);
    if (ref.startsWith('sha256:') && digest !== ref) problems.push(`manifest ${ref} hashes to ${digest}`);
    const header = r.headers.get('docker-content-digest');
    if (header !== null && header !== digest) problems.push(`manifest ${repo}:${ref}: Docker-Content-Digest ${header}, body hashes to ${digest}`);
    const m = parseJson<Manifest>(r.body);
    if (isIndex(m)) {
      for (const child of m.manifests ?? []) problems.push(...(await this.checkImage(repo, child.digest)));
      return problems;
    }
    const blobs = [...(m.config ? [m.config] : []), ...(m.layers ?? [])];
    for (const b of blobs) {
      const head = await this.request('HEAD', `/v2/${repo}/blobs/${b.digest}`);
      if (head.status !== 200) problems.push(`blob ${repo}@${b.digest}: HEAD ${head.status}`);
      else if (head.headers.get('content-length') !== String(b.size)) problems.push(`blob ${repo}@${b.digest}: Content-Length ${head.headers.get('content-length')}, manifest says ${b.size}`);
    }
    if (m.config) {
      const c = await this.request('GET', `/v2/${repo}/blobs/${m.config.digest}`);
      if (c.status !== 200 || sha256(c.body) !== m.config.digest) problems.push(`config ${repo}@${m.config.digest}: GET ${c.status}, hashes to ${sha256(c.body)}`);
    }
    return problems;
  }
}
