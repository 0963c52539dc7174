// brook's JavaScript layer, shared by the Node and browser entry points: the KafkaJS-shaped API
// over the wasm core. It adapts and schedules — argument encoding, delivery loops, group-commit
// flushes, wake-ups of idle consumers — and keeps no log state: topics, offsets, groups,
// positions and commits all live in Rust. Each runtime supplies how the wasm is initialised and
// which storages exist (see createApi).

import { BrookError, invalidArgument, translate } from "./errors.js";
import { checkedBoolean, checkedText, describe, readArray, readOptions, readPlain } from "./args.js";
import { Consumer } from "./consumer.js";
import { Producer } from "./producer.js";
import { View } from "./view.js";
import { OpenLog, translated } from "./open-log.js";

export { BrookError, translate };

const DURABILITIES = ["strict", "relaxed"];

/** The browser's answer now (it may grant persistence after the open asked); else the open's
 * request's answer. */
async function storagePersisted(asked) {
  try {
    const now = await globalThis.navigator?.storage?.persisted?.();
    if (now !== undefined) return now;
  } catch {
    // No StorageManager here: the request's answer is all there is.
  }
  return asked;
}

// ---- Log and the factory ----

/** The key of Log's change hook, for the runtime entry points (not part of the public API). */
export const WATCH = Symbol("brook.watch");
/** The key of Log's "is a core call on the stack" test, for tab sharing (see OpenLog.busy). */
export const BUSY = Symbol("brook.busy");

const OPEN_OPTIONS = ["path", "name", "durability", "waitForLock", "cacheBytes", "persist", "evicted"];
const EVICTED_MODES = ["error", "open"];

function openSettings(options) {
  const {
    path,
    name,
    durability = "strict",
    waitForLock,
    cacheBytes,
    persist,
    evicted,
  } = readOptions(options, "Log.open options", OPEN_OPTIONS);
  if ((persist !== undefined || evicted !== undefined) && name === undefined) {
    throw invalidArgument("persist and evicted apply to IndexedDB logs ({ name }): files and memory are not evicted");
  }
  if (persist !== undefined && typeof persist !== "boolean") {
    throw invalidArgument(`persist must be true or false, got ${describe(persist)}`);
  }
  if (evicted !== undefined && !EVICTED_MODES.includes(evicted)) {
    throw invalidArgument(`evicted must be "error" (default: STORAGE_EVICTED) or "open" (open it empty, and say so in recovery().evicted), got ${describe(evicted)}`);
  }
  if (!DURABILITIES.includes(durability)) {
    throw invalidArgument(`durability must be "strict" or "relaxed", got ${describe(durability)}`);
  }
  if (path !== undefined && name !== undefined) {
    throw invalidArgument("give path (files, Node) or name (IndexedDB, browsers), not both");
  }
  if (path !== undefined && (typeof path !== "string" || path === "")) {
    throw invalidArgument(
      `path must be a directory name (a non-empty string), got ${describe(path)}`,
    );
  }
  if (name !== undefined && (typeof name !== "string" || name === "")) {
    throw invalidArgument(`name must be a database name (a non-empty string), got ${describe(name)}`);
  }
  if (waitForLock !== undefined && name === undefined) {
    throw invalidArgument("waitForLock applies to IndexedDB logs ({ name }); a file log's lock fails at once");
  }
  if (waitForLock !== undefined && typeof waitForLock !== "boolean") {
    throw invalidArgument(`waitForLock must be true or false, got ${describe(waitForLock)}`);
  }
  checkedText(path, "path");
  checkedText(name, "name");
  // cacheBytes is checked by the core (a number from 0 to its limit).
  return { path, name, durability, waitForLock: waitForLock ?? false, cacheBytes, persist: persist ?? false, evicted: evicted ?? "error" };
}

/** 53 random bits, all a JS number holds exactly. */
function randomSeed(getRandomValues) {
  const words = getRandomValues(new Uint32Array(2));
  return (words[0] & 0x1fffff) * 2 ** 32 + words[1];
}

/**
 * The public API for one runtime.
 * - `core`: the wasm-bindgen module (`WasmLog`, `WasmProducer`).
 * - `initialize()`: instantiates the wasm (sync or async); called once, on the first open.
 * - `fileStorage(path)`: the host storage object of `{ path }` logs; absent where there are no files.
 * - `getRandomValues`: crypto.getRandomValues, for seeds.
 */
export function createApi({
  core,
  initialize,
  fileStorage,
  namedStorage,
  storageEstimate = async () => ({ usage: null, quota: null }),
  getRandomValues = (array) => globalThis.crypto.getRandomValues(array),
}) {
  let initialized = null;

  function ready() {
    initialized ??= Promise.resolve()
      .then(initialize)
      .catch((error) => {
        initialized = null;
        throw error;
      });
    return initialized;
  }

  function openWasm({ path, cacheBytes }) {
    const seed = randomSeed(getRandomValues);
    if (path === undefined) return translated(() => core.WasmLog.openMemory(seed, cacheBytes));
    const host = fileStorage(path);
    return translated(() => core.WasmLog.openHost(host, seed, cacheBytes));
  }

  const opening = Symbol("Log.open");

  class Log {
    #log;
    #closing = null;
    /** `{ named, persisted, evicted }`: whether it is an IndexedDB log, what persist() answered
     * (files: true, memory: false), and what its open found evicted. */
    #storage;

    constructor(token, log, storage) {
      if (token !== opening) throw invalidArgument("use Log.open() to open a log");
      this.#log = log;
      this.#storage = storage;
    }

    /** `{}`: in memory; `{ path }`: a directory of files (Node); `durability`: "strict"
     * (default: a send resolves after fsync) or "relaxed" (after the write); `cacheBytes`:
     * memory for recently read batches (default 16 MiB; the log itself stays on disk). */
    static async open(options) {
      const settings = openSettings(options);
      if (settings.path !== undefined && !fileStorage) {
        throw invalidArgument("file storage ({ path }) is Node-only");
      }
      if (settings.name !== undefined && !namedStorage) {
        throw invalidArgument("IndexedDB storage ({ name }) is for browsers; in Node use { path }");
      }
      await ready();
      if (settings.name === undefined) {
        const storage = { named: false, persisted: settings.path !== undefined, evicted: null };
        return new Log(opening, new OpenLog(core, openWasm(settings), settings.durability), storage);
      }
      const store = await namedStorage(settings);
      let log = null;
      try {
        const wasm = translated(() =>
          core.WasmLog.openIndexedDb(store.loaded, randomSeed(getRandomValues), settings.cacheBytes),
        );
        log = new OpenLog(core, wasm, settings.durability, store);
        await log.finishOpen();
        // What opening wrote is durable before the log counts as made (its eviction marker).
        await log.durable();
        store.opened();
        return new Log(opening, log, { named: true, persisted: store.persisted, evicted: store.evicted });
      } catch (error) {
        if (log !== null) await log.close().catch(() => {});
        else store.release();
        throw error;
      }
    }

    async createTopic(request) {
      if (request === undefined) {
        throw invalidArgument("createTopic needs { topic, partitions }");
      }
      const plain = readPlain(request, "createTopic");
      this.#log.invoke((wasm) => wasm.createTopic(plain));
      await this.#log.durable();
    }

    /** Grows a topic to `count` partitions; subscribed groups rebalance. */
    async createPartitions(request) {
      this.#log.assertOpen();
      const { topic, count } = readOptions(request, "createPartitions", ["topic", "count"]);
      this.#log.invoke((wasm) => wasm.createPartitions(topic, count));
      try {
        await this.#log.durable();
      } finally {
        this.#log.notify();
      }
    }

    /** Deletes a topic, its records and every group's commits of it (KafkaJS's
     * admin.deleteTopics); resolves once durable. Sends to it that have not resolved are
     * waited for; a group member subscribed to it makes it NON_EMPTY_GROUP. */
    async deleteTopic(topic) {
      this.#log.assertOpen();
      checkedText(topic, "topic");
      // Its records must be durable first (the core refuses otherwise), and its groups'
      // commits are deleted, durably, before the topic is (the core answers false until then).
      for (let round = 0; ; round++) {
        await this.#log.durable();
        let deleted = false;
        try {
          deleted = this.#log.invoke((wasm) => wasm.deleteTopic(topic));
        } catch (error) {
          if (round >= 100 || !(error instanceof BrookError && error.code === "INVALID_ARGUMENT" && /not durable yet/.test(error.message))) throw error;
        }
        if (deleted) break;
        if (round >= 100) throw new BrookError("IO_ERROR", `deleteTopic ${JSON.stringify(topic)}: its commits did not become durable`);
      }
      try {
        await this.#log.durable();
      } finally {
        this.#log.notify();
      }
    }

    /** The user's topics with their configuration. */
    topics() {
      return this.#log.invoke((wasm) => wasm.topics(false));
    }

    /** `[{ partition, low, high }]`; high is the next offset to be written. */
    offsets(topic) {
      return this.#log.invoke((wasm) => wasm.offsets(topic));
    }

    /** A group's committed offsets and lag per partition of `topic`, members or not
     * (KafkaJS's admin.fetchOffsets): `[{ partition, low, high, committed, lag }]`. */
    lag(request) {
      const { groupId, topic } = readOptions(request, "lag", ["groupId", "topic"]);
      checkedText(groupId, "groupId");
      return this.#log.invoke((wasm) => wasm.lag(groupId, topic));
    }

    /** A group's live members and their partitions, or undefined when it has none. */
    describeGroup(groupId) {
      checkedText(groupId, "groupId");
      return this.#log.invoke((wasm) => wasm.describeGroup(groupId));
    }

    /** Ids of the groups with live members; with `{ includeEmpty: true }` also of groups
     * that have only committed offsets (Kafka's ListGroups). */
    groups(options) {
      const { includeEmpty = false } = readOptions(options, "groups options", ["includeEmpty"]);
      checkedBoolean(includeEmpty, "includeEmpty");
      return this.#log.invoke((wasm) => (includeEmpty ? wasm.knownGroups() : wasm.groups()));
    }

    /** Sets the committed offsets `[{ topic, partition, offset }]` (each the next offset to
     * read) of a group that has no live members — NON_EMPTY_GROUP while it has some. Resolves
     * once durable (KafkaJS's admin.setOffsets). */
    async setOffsets(request) {
      this.#log.assertOpen();
      const { groupId, offsets } = readOptions(request, "setOffsets", ["groupId", "offsets"]);
      checkedText(groupId, "groupId");
      const list = readArray(offsets, "offsets", 100_000).map((item, index) => readPlain(item, `offsets[${index}]`));
      this.#log.invoke((wasm) => wasm.setGroupOffsets(groupId, list));
      await this.#log.durable();
    }

    /** Deletes the committed offsets of a group that has no live members (NON_EMPTY_GROUP
     * while it has some; GROUP_ID_NOT_FOUND when it has none). Resolves once durable. */
    async deleteGroup(groupId) {
      this.#log.assertOpen();
      checkedText(groupId, "groupId");
      this.#log.invoke((wasm) => wasm.deleteGroup(groupId));
      await this.#log.durable();
    }

    /** Applies retention and compaction where due; resolves with the segments changed. */
    async maintain() {
      return this.#log.maintain();
    }

    /** What opening found and did: per partition the torn tail it cut (bytes, offset), the
     * damaged offset ranges (reading them fails with CORRUPT_DATA; seek past them), and what
     * it left alone; commits clamped to their partition's end; `clean` when there was
     * nothing to report. */
    recovery() {
      const report = this.#log.invoke((wasm) => wasm.recovery());
      const { evicted } = this.#storage;
      return evicted ? { ...report, clean: false, evicted } : report;
    }

    /** `{ persisted, usage, quota }`: whether the browser keeps this origin's storage under
     * pressure (navigator.storage.persisted(); files: true; memory: false), and its estimate
     * of the bytes used and available (null where unknown). */
    async storage() {
      this.#log.assertOpen();
      const { usage, quota } = await storageEstimate();
      const { named, persisted } = this.#storage;
      return { persisted: named ? await storagePersisted(await persisted) : persisted, usage, quota };
    }

    producer(options) {
      this.#log.assertOpen();
      const { partitioner } = readOptions(options, "producer options", ["partitioner"]);
      return new Producer(
        this.#log,
        this.#log.invoke((wasm) => wasm.producer(partitioner)),
      );
    }

    consumer(options) {
      this.#log.assertOpen();
      return new Consumer(this.#log, options);
    }

    /** A live read model of `topic`: the latest value per key (or, with `reduce`, a value
     * folded from each key's records), kept by a consumer group of its own (view.js). */
    view(options) {
      this.#log.assertOpen();
      return new View(this, options, (listener) => this[WATCH](listener));
    }

    /** Runtime entry points only: calls `listener` after every change; returns an unwatch. */
    [WATCH](listener) {
      this.#log.listeners.add(listener);
      return () => this.#log.listeners.delete(listener);
    }

    /** Runtime entry points only: whether a call of the core is running (see OpenLog.busy). */
    [BUSY]() {
      return this.#log.busy;
    }

    /** Stops every consumer loop (after its handler in flight), flushes and releases the log.
     * Idempotent. Awaiting it inside a handler would wait for that handler: don't. */
    close() {
      this.#closing ??= this.#log.close();
      return this.#closing;
    }
  }

  return { Log, BrookError };
}
