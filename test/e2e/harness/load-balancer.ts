// A real load balancer in front of several registry instances: Debian's HAProxy, round robin, no session
// affinity, HTTP mode (every request may go to another instance, as behind a production balancer), health
// checks on /readyz so that a killed (or draining) instance is taken out of rotation.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawnDaemon, type Daemon } from './daemon.js';
import { waitFor } from './exec.js';
import { freePort } from './registry-process.js';

export interface LoadBalancer {
  /** `127.0.0.1:PORT`, the form clients take in image references. */
  readonly host: string;
  readonly url: string;
  readonly daemon: Daemon;
  stop(): Promise<void>;
}

/** Starts HAProxy on a free port in front of `backends` (`127.0.0.1:PORT` each). */
export async function startLoadBalancer(dir: string, backends: readonly string[]): Promise<LoadBalancer> {
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const config = path.join(dir, 'haproxy.cfg');
  writeFileSync(
    config,
    [
      'global',
      '  maxconn 4096',
      'defaults',
      '  mode http',
      '  timeout connect 5s',
      '  timeout client 10m',
      '  timeout server 10m',
      '  timeout http-request 60s',
      // A check may take a while on a loaded CI machine (/readyz asks S3 and PostgreSQL): not a failure.
      '  timeout check 5s',
      '  option http-server-close',
      '  option forwardfor',
      // A request that an instance killed mid-way left unanswered is not retried elsewhere: the client sees it.
      '  retries 0',
      'frontend registry',
      `  bind ${host}`,
      '  default_backend instances',
      'backend instances',
      '  balance roundrobin',
      '  option httpchk GET /readyz',
      '  http-check expect status 200',
      ...backends.map((backend, i) => `  server i${i} ${backend} check inter 1s fall 3 rise 2`),
      '',
    ].join('\n'),
  );
  const daemon = spawnDaemon('haproxy', 'haproxy', ['-db', '-f', config], path.join(dir, 'haproxy.log'));
  await waitFor(
    `haproxy on ${host}`,
    async () => {
      if (daemon.exited()) throw new Error(`haproxy exited early:\n${daemon.logTail()}`);
      try {
        // Every backend in rotation: a round of requests each answered by an instance, not HAProxy's 503.
        for (let i = 0; i < backends.length * 2; i++) {
          const res = await fetch(`http://${host}/v2/`, { signal: AbortSignal.timeout(2000) });
          await res.arrayBuffer();
          if (res.headers.get('docker-distribution-api-version') !== 'registry/2.0') return false;
        }
        return true;
      } catch {
        return false;
      }
    },
    30_000,
  );
  return {
    host,
    url: `http://${host}`,
    daemon,
    stop: async () => {
      await daemon.stop(5000);
    },
  };
}
