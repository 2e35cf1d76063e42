// Thin instrumented proxies of a storage driver or metadata store, built only when metrics or
// tracing are on (otherwise the App uses the object itself and pays nothing). Every method of the
// object (its prototype chain) is wrapped: a probe starts before the call and ends when its promise
// settles. Properties that are not methods read through; optional methods the object lacks stay
// absent, so capability checks (`driver.copyTo !== undefined`) still see the truth.
// `performance` from perf_hooks, not the global: in Node 20 the global is a lazy getter.
import { performance } from 'node:perf_hooks';

/** Started before a call; the returned function ends it (failed: the call threw or rejected). */
export type ProbeStart = () => (failed: boolean) => void;
/** Per action (method name), once when the proxy is built: how to probe its calls, or undefined. */
export type ActionProbe = (action: string) => ProbeStart | undefined;
/** Called with the duration of one call in seconds and whether it failed. */
export type ActionObserver = (seconds: number, failed: boolean) => void;

/** Composes probes: each call starts all of them and ends them in reverse order. */
export function probes(...list: ReadonlyArray<ActionProbe | undefined>): ActionProbe | undefined {
  const present = list.filter((probe): probe is ActionProbe => probe !== undefined);
  if (present.length === 0) return undefined;
  if (present.length === 1) return present[0];
  return (action) => {
    const starts = present.map((probe) => probe(action)).filter((start): start is ProbeStart => start !== undefined);
    if (starts.length === 0) return undefined;
    return () => {
      const ends = starts.map((start) => start());
      return (failed) => {
        for (let i = ends.length - 1; i >= 0; i--) ends[i]?.(failed);
      };
    };
  };
}

/** timingProbe()'s mark: its observer factory, so that instrument() can take the fast path. */
const TIMING = Symbol('timing');
type TimingProbe = ActionProbe & { readonly [TIMING]: (action: string) => ActionObserver | undefined };

export function instrument<T extends object>(target: T, probe: ActionProbe | undefined): T {
  if (probe === undefined) return target;
  const timing = (probe as Partial<TimingProbe>)[TIMING];
  const wrapMethod = (name: string, method: (...args: unknown[]) => unknown): ((...args: unknown[]) => unknown) => {
    if (timing === undefined) return wrap(target, method, probe(name));
    const observe = timing(name);
    return observe === undefined ? (...args) => method.apply(target, args) : timed(target, method, observe);
  };
  // The wrapped methods and getters of the prototype chain live on a prototype of the proxy, not on
  // the proxy: an object given some 50 properties one by one turns into a dictionary (V8's slow
  // mode), and every `store.method` load then costs a hash lookup; a prototype is kept in fast mode.
  const methods: Record<string, unknown> = {};
  const proxy = Object.create(methods) as Record<string, unknown>;
  const seen = new Set<string>(['constructor']);
  for (let proto: object | null = Object.getPrototypeOf(target) as object | null; proto !== null && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (seen.has(name)) continue;
      seen.add(name);
      const descriptor = Object.getOwnPropertyDescriptor(proto, name);
      if (descriptor === undefined) continue;
      if (typeof descriptor.value === 'function') {
        methods[name] = wrapMethod(name, descriptor.value as (...args: unknown[]) => unknown);
      } else if (descriptor.get !== undefined) {
        Object.defineProperty(methods, name, { get: () => (target as Record<string, unknown>)[name], enumerable: false });
      }
    }
  }
  for (const name of Object.keys(target)) {
    if (seen.has(name)) continue;
    const value = (target as Record<string, unknown>)[name];
    if (typeof value === 'function') proxy[name] = wrapMethod(name, value as (...args: unknown[]) => unknown);
    else Object.defineProperty(proxy, name, { get: () => (target as Record<string, unknown>)[name], enumerable: true });
  }
  return proxy as T;
}

function wrap(target: object, method: (...args: unknown[]) => unknown, start: ProbeStart | undefined): (...args: unknown[]) => unknown {
  if (start === undefined) return (...args) => method.apply(target, args);
  return (...args) => {
    const end = start();
    let result: unknown;
    try {
      result = method.apply(target, args);
    } catch (error) {
      end(true);
      throw error;
    }
    if (result instanceof Promise) {
      // Observed beside the caller, not in front of it: the caller awaits the call's own promise
      // (one settlement fewer than a derived one), and the observer runs first, having been attached first.
      result.then(
        () => end(false),
        () => end(true),
      );
      return result;
    }
    end(false);
    return result;
  };
}

/**
 * The metrics probe: the call's duration in seconds and whether it failed, to a per-action observer.
 * Alone (no tracing), instrument() recognises it and wraps with timed(): one clock read before and
 * one after, and no start/end closures per call.
 */
export function timingProbe(observer: (action: string) => ActionObserver | undefined): ActionProbe {
  const probe: ActionProbe = (action) => {
    const observe = observer(action);
    if (observe === undefined) return undefined;
    return () => {
      const started = performance.now();
      return (failed) => observe((performance.now() - started) / 1000, failed);
    };
  };
  return Object.assign(probe, { [TIMING]: observer });
}

/** The metrics-only wrapper: the same outcome as wrap() with timingProbe(), with fewer allocations per call. */
function timed(target: object, method: (...args: unknown[]) => unknown, observe: ActionObserver): (...args: unknown[]) => unknown {
  return (...args) => {
    const started = performance.now();
    let result: unknown;
    try {
      result = method.apply(target, args);
    } catch (error) {
      observe((performance.now() - started) / 1000, true);
      throw error;
    }
    if (result instanceof Promise) {
      result.then(
        () => observe((performance.now() - started) / 1000, false),
        () => observe((performance.now() - started) / 1000, true),
      );
      return result;
    }
    observe((performance.now() - started) / 1000, false);
    return result;
  };
}
