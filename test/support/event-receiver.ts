// A notification endpoint for tests: an HTTP server that keeps every envelope it accepts, and can
// refuse deliveries (every Nth with 500) or be down (its port closed) for a while.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { once } from 'node:events';
import { freePort } from './registry-process.js';

export interface ReceivedEvent {
  readonly id: string;
  readonly timestamp: string;
  readonly action: string;
  readonly target: {
    readonly mediaType?: string;
    readonly digest?: string;
    readonly size?: number;
    readonly length?: number;
    readonly repository: string;
    readonly fromRepository?: string;
    readonly url?: string;
    readonly tag?: string;
    readonly references?: ReadonlyArray<{ mediaType: string; digest: string; size: number }>;
  };
  readonly request: { readonly id: string; readonly addr?: string; readonly host?: string; readonly method: string; readonly useragent: string };
  readonly actor: { readonly name?: string };
  readonly source: { readonly addr?: string; readonly instanceID?: string };
}

export class EventReceiver {
  readonly port: number;
  /** Accepted events, in arrival order (duplicates included). */
  readonly events: ReceivedEvent[] = [];
  readonly headers: IncomingHttpHeaders[] = [];
  attempts = 0;
  /** Refuse every Nth attempt with 500 (0: never). */
  failEvery = 0;
  #server: Server | undefined;

  private constructor(port: number) {
    this.port = port;
  }

  static async start(): Promise<EventReceiver> {
    const receiver = new EventReceiver(await freePort());
    await receiver.up();
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/events`;
  }

  async up(): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        this.attempts++;
        if (this.failEvery > 0 && this.attempts % this.failEvery === 0) {
          res.writeHead(500).end();
          return;
        }
        const envelope = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { events: ReceivedEvent[] };
        this.headers.push(req.headers);
        this.events.push(...envelope.events);
        res.writeHead(202).end();
      });
    });
    server.listen(this.port, '127.0.0.1');
    await once(server, 'listening');
    this.#server = server;
  }

  /** Closes the port: deliveries fail with connection refused until up() again. */
  async down(): Promise<void> {
    const server = this.#server;
    if (server === undefined) return;
    this.#server = undefined;
    const closed = once(server, 'close');
    server.close();
    server.closeAllConnections();
    await closed;
  }

  /** Distinct events (first arrival), in arrival order. */
  unique(): ReceivedEvent[] {
    const seen = new Set<string>();
    return this.events.filter((event) => !seen.has(event.id) && seen.add(event.id));
  }

  async waitFor(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms (${this.events.length} events, ${this.attempts} attempts)`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}
