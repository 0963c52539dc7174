// The open log: the wasm object and what JS schedules around it — group-commit flushes (one
// in flight), reads of IndexedDB batches, wake-ups of idle consumers, retention by itself,
// close. It keeps no log state of its own: that is all in the core.

import { BrookError, brief, translate } from "./errors.js";
import { LOAD_ROUNDS_MAX, stalledLoads } from "./consumer.js";

/** How often, at most, a log applies retention and compaction by itself. */
const MAINTAIN_INTERVAL_MS = 1000;

/** Runs a wasm call, translating its error. */
export function translated(operation) {
  try {
    return operation();
  } catch (error) {
    throw translate(error);
  }
}

/** The wasm log plus what JS schedules around it: shared flushes, wake-ups, running consumers. */
export class OpenLog {
  #wasm;
  #durability;
  /** The flush that the sends of this turn (and those since the running flush began) share. */
  #next = null;
  /** The flush whose write is under way (IndexedDB: its transaction): one at a time. */
  #running = null;
  /** The read of IndexedDB batches that waiting reads asked for, while it runs. */
  #loading = null;
  /** Bumped when a failed flush took back what was not durable; `#failure` is why. */
  #generation = 0;
  #failure = null;
  /** Set when the log could not be brought back to its durable state: sends fail with it. */
  #broken = null;
  #change = null;
  #maintainedAt = 0;
  #maintainTimer = null;
  /** Consumers waiting for records: member id -> wake function. */
  #waiting = new Map();
  /** Views of the core's delivery tables in wasm memory (see consumer.js). */
  #tables = null;
  /** Stop functions of the consumers whose loops may be running. */
  consumers = new Set();
  closing = false;

  /** For IndexedDB logs: `{ reload() }` reads the database again; `release()` frees the lock. */
  #store;

  /** The wasm-bindgen module, for its memory. */
  #core;

  constructor(core, wasm, durability, store = null) {
    this.#core = core;
    this.#wasm = wasm;
    this.#durability = durability;
    this.#store = store;
  }

  get closed() {
    return this.#wasm === null;
  }

  assertOpen() {
    if (this.#wasm === null) {
      throw new BrookError("CLOSED", "the log is closed; open it again with Log.open");
    }
  }

  /** Calls of the core on the stack. Firefox can run an event handler, and then microtasks,
   * at a point inside a running wasm call (seen with tabs sharing a log: another tab's
   * request handled inside `releaseLeaseAt`, a flush's continuation inside `assignment`); a
   * call of the core from there finds the wasm log borrowed and is refused before it starts. */
  #depth = 0;

  /** Whether a call of the core is running: what starts now would be refused (see #depth). */
  get busy() {
    return this.#depth > 0;
  }

  /** Calls the wasm log; errors become BrookErrors, calls after close fail with CLOSED. */
  invoke(operation) {
    this.assertOpen();
    this.#depth++;
    try {
      return operation(this.#wasm);
    } catch (error) {
      throw this.#failed(error);
    } finally {
      this.#depth--;
    }
  }

  /** A poll's or leased fetch's buffer: `read(wasm)` returns where the core left it in wasm
   * memory (bindings `read_descriptor`: its head, with long runs of records left in the
   * batches that store them), and this copies it, put together, into one buffer of its own,
   * before any other call can change that memory. */
  readBuffer(read) {
    return this.invoke((wasm) => {
      const described = read(wasm);
      const memory = new Uint8Array(this.#core.wasmMemory().buffer);
      const [head, headLength, length] = described;
      const bytes = new Uint8Array(length);
      let from = 0; // in the head
      let to = 0; // in bytes
      for (let index = 3; index < described.length; index += 3) {
        const at = described[index];
        const start = described[index + 1];
        const pieceLength = described[index + 2];
        bytes.set(memory.subarray(head + from, head + at), to);
        to += at - from;
        bytes.set(memory.subarray(start, start + pieceLength), to);
        to += pieceLength;
        from = at;
      }
      bytes.set(memory.subarray(head + from, head + headLength), to);
      return bytes;
    });
  }

  /** Like invoke, for callers that can wait: when a core call is on the stack (an engine
   * ran this inside it, see #depth), the call waits for a later task. The test and the call
   * are one synchronous step, so nothing can start a call between them. */
  async invokeOutside(operation) {
    while (this.#depth > 0) await new Promise((resolve) => setTimeout(resolve, 0));
    return this.invoke(operation);
  }

  /** The last error a wasm call threw that the bindings did not mean to (a trap, an engine's
   * stack or memory limit): it may have left the wasm log borrowed for good. */
  #foreign = null;

  /** A wasm call's error as a BrookError. A call refused because the wasm log is still
   * borrowed says which earlier failure left it so, rather than wasm-bindgen's "recursive
   * use of an object". */
  #failed(error) {
    if (error?.name === "BrookError") return translate(error);
    const refused = String(error?.message).startsWith("recursive use of an object");
    // Refused because an outer call is running (#depth): the core is untouched and fine.
    if (refused && this.#depth > 1) {
      return new BrookError("IO_ERROR", "this ran inside another call of the log (the browser ran an event handler during it); call again from a later task", {
        cause: error,
      });
    }
    if (refused && this.#foreign !== null) {
      return new BrookError("IO_ERROR", `the log cannot go on after a failure inside it (${brief(this.#foreign)}); open it again`, {
        cause: this.#foreign,
      });
    }
    this.#foreign = error;
    return translate(error);
  }

  /** Resolves once everything sent so far is durable under the log's setting; every caller
   * in the same turn shares one flush (group commit), and callers that arrive while a flush
   * is under way share the next one. Files: one write (and, strict, one fsync); IndexedDB:
   * one transaction with the durability hint. Records become visible to consumers once
   * durable. A failed flush fails every caller whose records it took back. */
  durable() {
    if (this.#broken !== null) return Promise.reject(this.#broken);
    // A flush is shared only by sends made against the same store: those made before a
    // reload (after a failed flush) were taken back with it.
    if (this.#next === null || this.#next.generation !== this.#generation) {
      const flush = { generation: this.#generation };
      flush.promise = new Promise((resolve, reject) => {
        flush.resolve = resolve;
        flush.reject = reject;
      });
      this.#next = flush;
      queueMicrotask(() => this.#start(flush));
    }
    return this.#next.promise;
  }

  async #start(flush) {
    while (this.#running !== null) await this.#running.catch(() => {});
    if (this.#next === flush) this.#next = null;
    if (flush.generation !== this.#generation) return flush.reject(this.#failure);
    const running = this.#write();
    this.#running = running;
    try {
      await running;
      flush.resolve();
    } catch (error) {
      flush.reject(error);
    } finally {
      if (this.#running === running) this.#running = null;
    }
  }

  async #write() {
    let started;
    let failure = null;
    try {
      started = this.invoke((wasm) => wasm.persist(this.#durability === "strict"));
      if (started === undefined) return; // written (files, memory), or nothing to write
      if (started === null) throw new BrookError("IO_ERROR", "a flush is in flight already");
      await started;
    } catch (error) {
      failure = translate(error);
    }
    if (this.#wasm === null) throw failure ?? new BrookError("CLOSED", "the log closed during a flush");
    // A flush was started: the core learns how it ended (its transaction failed, or was
    // refused before it began). A flush the core refused to start was settled by the core.
    if (started) await this.invokeOutside((wasm) => wasm.flushCompleted(failure === null));
    if (failure === null) return;
    // The failed flush took back every record after the durable end: those of sends waiting
    // for the next flush, and of sends made until the reload below is done, fail with it.
    this.#failure = failure;
    try {
      await this.#recover();
    } catch (error) {
      this.#broken = new BrookError(
        "IO_ERROR",
        `a flush failed (${failure.message}) and reading the database back failed too (${error?.message}); close the log and open it again`,
      );
    } finally {
      this.#generation++;
    }
    throw failure;
  }

  /** A refused IndexedDB write (quota, I/O) leaves the working copy ahead of the database:
   * reload what is durable, keeping the consumers, so the log stays consistent and usable. */
  async #recover() {
    if (!this.#store || this.#wasm === null) return;
    const loaded = await this.#store.reload();
    this.invoke((wasm) => wasm.replaceStore(loaded));
    await this.finishOpen();
    this.notify();
  }

  /** Opening reads the committed offsets, which in IndexedDB may need batches loaded first. */
  async finishOpen() {
    for (let round = 0; !this.invoke((wasm) => wasm.finishOpen()); round++) {
      if (round >= LOAD_ROUNDS_MAX) throw stalledLoads("opening the log");
      await this.loadPending();
    }
  }

  /** Whether reads wait for IndexedDB batches (then `loadPending` and read again). */
  hasPendingLoads() {
    return this.#wasm !== null && this.invoke((wasm) => wasm.hasPendingLoads());
  }

  /** Starts the loads reads asked for (a read that waits, or one reading ahead) without
   * waiting for them; a failure comes back to the read that needs the batches. */
  loadInBackground() {
    if (this.hasPendingLoads()) this.loadPending().catch(() => {});
  }

  /** Reads from IndexedDB the batches that waiting reads asked for; one read at a time, and
   * a reader that arrives while one runs waits for it and then for its own. */
  async loadPending() {
    while (this.#loading !== null) await this.#loading.catch(() => {});
    if (!this.hasPendingLoads()) return;
    const loading = this.invoke((wasm) => wasm.loadPending());
    this.#loading = loading;
    try {
      await loading;
    } catch (error) {
      throw translate(error);
    } finally {
      this.#loading = null;
    }
  }

  /** The core's delivery tables as views of wasm memory: `epochs` (u32 per member slot) and
   * `handed` (two f64 per slot). Made again when wasm memory grew (views of the old buffer
   * are detached, and read as empty). */
  tables() {
    if (this.#tables === null || this.#tables.epochs.length === 0) {
      const [epochs, handed, slots] = this.invoke((wasm) => wasm.deliveryTables());
      const { buffer } = this.#core.wasmMemory();
      this.#tables = { epochs: new Uint32Array(buffer, epochs, slots), handed: new Float64Array(buffer, handed, 2 * slots) };
    }
    return this.#tables;
  }

  /** Resolves when `member` may have records to fetch (a send, seek, resume or rebalance gave
   * it some), or `stopped()`, or the log closes. */
  waitForRecords(member, stopped) {
    if (stopped() || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.#waiting.set(member, resolve);
      this.#wakeReady();
    });
  }

  wake(member) {
    const resolve = this.#waiting.get(member);
    this.#waiting.delete(member);
    resolve?.();
  }

  /** One call asks the core which waiting consumers have records now; only those wake. */
  #wakeReady() {
    if (this.#waiting.size === 0) return;
    // Inside another call of the core (see #depth): ask from a later task.
    if (this.busy) return void setTimeout(() => this.#wakeReady(), 0);
    if (this.#wasm === null) {
      for (const member of [...this.#waiting.keys()]) this.wake(member);
      return;
    }
    const waiting = Float64Array.from(this.#waiting.keys());
    for (const member of this.invoke((wasm) => wasm.readyMembers(waiting))) this.wake(member);
  }

  notify() {
    this.#wakeReady();
    this.#maintainNow();
    for (const listener of this.listeners) listener();
  }

  /** Called after every change (for the browser entry's tab sharing). */
  listeners = new Set();

  /** Retention and compaction run by themselves, as Kafka's cleaner does: at most once a
   * second, after a change. Each pass is cheap unless a segment was sealed or expired. */
  #maintainNow() {
    const now = Date.now();
    if (this.#wasm === null) return;
    const due = this.#maintainedAt + MAINTAIN_INTERVAL_MS;
    // Inside another call of the core (see #depth) the pass would be refused: it waits too.
    if (now < due || this.busy) {
      // A change within the interval gets a pass at its end, so that a burst followed by
      // quiet is cleaned up too. The timer does not keep a Node process alive.
      this.#maintainTimer ??= setTimeout(() => {
        this.#maintainTimer = null;
        this.#maintainNow();
      }, Math.max(0, due - now));
      this.#maintainTimer.unref?.();
      return;
    }
    this.#maintainedAt = now;
    let changed;
    this.#depth++;
    try {
      changed = this.#wasm.maintain();
    } catch (error) {
      // A failure here shows up again on the next write, where the caller sees it.
      this.#failed(error);
      return;
    } finally {
      this.#depth--;
    }
    // Compaction waits for IndexedDB batches: load them, and go on where it stopped.
    if (changed === undefined) {
      this.loadPending().then(
        () => {
          this.#maintainedAt = 0;
          this.#maintainNow();
        },
        () => {},
      );
    }
  }

  /** Retention and compaction now (Log.maintain): the segments deleted or rewritten. */
  async maintain() {
    for (let round = 0; ; round++) {
      const changed = this.invoke((wasm) => wasm.maintain());
      if (changed !== undefined) return changed;
      if (round >= LOAD_ROUNDS_MAX) throw stalledLoads("compaction");
      await this.loadPending();
    }
  }

  async close() {
    this.closing = true;
    await Promise.all([...this.consumers].map((stop) => stop()));
    // Flushes already scheduled run first; their waiters learn their outcome.
    await this.#next?.promise.catch(() => {});
    await this.#running?.catch(() => {});
    await this.#loading?.catch(() => {});
    try {
      // What is still pending is written before the log lets go (IndexedDB asynchronously;
      // files and memory inside close).
      if (this.#store) await this.#write();
      this.invoke((wasm) => wasm.close());
    } finally {
      this.#wasm?.free();
      this.#wasm = null;
      clearTimeout(this.#maintainTimer);
      this.#store?.release();
      this.notify();
    }
  }
}
