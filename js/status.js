// The state of a long-running helper (the bridge, syncTo) and its listeners: `on` returns the
// remover, a listener that throws breaks neither the helper nor the other listeners, a change
// of state is told once ("state"), and a failure is kept (lastError) and told ("error").

import { invalidArgument } from "./errors.js";
import { checkedFunction, describe } from "./args.js";

export class Status {
  #what;
  #events;
  #listeners = new Map();
  #state;
  #lastError = null;

  constructor(what, events, state) {
    this.#what = what;
    this.#events = ["state", "error", ...events];
    this.#state = state;
  }

  get state() {
    return this.#state;
  }

  get lastError() {
    return this.#lastError;
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
        // Not the helper's failure.
      }
    }
  }

  set(state) {
    if (this.#state === state) return;
    this.#state = state;
    this.emit("state", state);
  }

  failed(error) {
    this.#lastError = error;
    this.emit("error", error);
  }
}
