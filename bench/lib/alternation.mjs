// Runs the registries in alternation: one step of one registry at a time, taking turns. The VM's
// speed drifts over minutes (other tenants of the host), so running one registry's whole workload
// and then the other's put whichever ran during a slow spell at a disadvantage; taking turns step by
// step makes both meet the same machine. Only the registry whose turn it is does any work; the other
// server is idle meanwhile.
export class Alternation {
  #order;
  #present;
  #holder;
  #running = null;
  #waiting = new Map();

  constructor(kinds) {
    this.#order = [...kinds];
    this.#present = new Set(kinds);
    this.#holder = this.#order[0] ?? null;
  }

  /** Ends `kind`'s current step (if any), passes the turn on and resolves when it is `kind`'s turn again. */
  async step(kind) {
    if (this.#running === kind) {
      this.#running = null;
      this.#passFrom(kind);
    }
    if (this.#holder !== kind) await new Promise((resolve) => this.#waiting.set(kind, resolve));
    this.#running = kind;
  }

  /** `kind` is done (or failed): the others go on without it. */
  leave(kind) {
    this.#present.delete(kind);
    if (this.#holder === kind) {
      this.#running = null;
      this.#passFrom(kind);
    }
  }

  #passFrom(kind) {
    const at = this.#order.indexOf(kind);
    for (let k = 1; k <= this.#order.length; k++) {
      const next = this.#order[(at + k) % this.#order.length];
      if (!this.#present.has(next)) continue;
      this.#holder = next;
      const wake = this.#waiting.get(next);
      this.#waiting.delete(next);
      wake?.();
      return;
    }
    this.#holder = null;
  }
}
