// Listeners of a few named events, for the bridge and syncTo: `on` returns the remover, and a
// listener that throws breaks neither the emitter nor the other listeners.

import { invalidArgument } from "./errors.js";
import { checkedFunction, describe } from "./args.js";

export class Listeners {
  #what;
  #events;
  #listeners = new Map();

  constructor(what, events) {
    this.#what = what;
    this.#events = events;
  }

  on(event, listener) {
    if (!this.#events.includes(event)) {
      throw invalidArgument(`${this.#what} events are ${this.#events.map((e) => JSON.stringify(e)).join(", ")}; got ${describe(event)}`);
    }
    checkedFunction(listener, "listener");
    if (!this.#listeners.has(event)) this.#listeners.set(event, new Set());
    // One entry per registration: the same listener added twice is removed once per call.
    const entry = (payload) => listener(payload);
    this.#listeners.get(event).add(entry);
    return () => this.#listeners.get(event).delete(entry);
  }

  emit(event, payload) {
    for (const listener of this.#listeners.get(event) ?? []) {
      try {
        listener(payload);
      } catch {
        // Not the emitter's failure.
      }
    }
  }
}
