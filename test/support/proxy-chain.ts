// A pull-through cache in front of a real upstream for HTTP tests: an upstream Berth, a FaultProxy
// in front of it (counting requests, injecting faults), and a mirror Berth whose proxy.remoteurl is
// the FaultProxy; stop() stops them mirror first.
import { FaultProxy } from './fault-proxy.js';
import { startTestRegistry, type TestRegistry } from './test-registry.js';

export interface ProxyChain {
  readonly upstream: TestRegistry;
  readonly faults: FaultProxy;
  readonly mirror: TestRegistry;
  stop(): Promise<void>;
}

/** `env`: more REGISTRY_* variables of the mirror (REGISTRY_PROXY_REMOTEURL is set). */
export async function startProxyChain(env: Record<string, string> = {}): Promise<ProxyChain> {
  const upstream = await startTestRegistry();
  const faults = await FaultProxy.start(upstream.url);
  const mirror = await startTestRegistry({ env: { REGISTRY_PROXY_REMOTEURL: faults.url, ...env } });
  return {
    upstream,
    faults,
    mirror,
    stop: async () => {
      await mirror.stop();
      await faults.stop();
      await upstream.stop();
    },
  };
}
