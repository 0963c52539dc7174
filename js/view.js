// A view: a live read model of a topic — the latest value per key (Kafka Streams' KTable), or
// with `reduce` a value folded from each key's records — kept by a consumer group of its own.
// The topic is the view's durable state: each partition the view is assigned is read from its
// start (a compacted topic keeps that short), its records applied in order, and what was
// applied is committed, so that lag() and describeGroup show how far the view has got. Two
// views of one groupId split the partitions, as Kafka Streams instances do, each holding its
// own partitions' keys; a rebalance drops the keys of a revoked partition and rebuilds an
// assigned one from its start.

import { BrookError, invalidArgument, reportThrown } from "./errors.js";
import { checkedFunction, checkedText, describe, readOptions } from "./args.js";

const VIEW_OPTIONS = ["topic", "groupId", "decode", "reduce", "onError", "maxRecords"];
const DECODERS = ["json", "text", "bytes"];
const textDecoder = new TextDecoder();

function decoderOf(decode) {
  if (typeof decode === "function") return decode;
  switch (decode ?? "text") {
    case "json":
      return (bytes) => JSON.parse(textDecoder.decode(bytes));
    case "text":
      return (bytes) => textDecoder.decode(bytes);
    case "bytes":
      // A copy: a view of the poll's buffer would keep all of that buffer alive.
      return (bytes) => bytes.slice();
    default:
      throw invalidArgument(`decode must be ${DECODERS.map((d) => JSON.stringify(d)).join(", ")} or a function, got ${describe(decode)}`);
  }
}

export class View {
  #log;
  #topic;
  #consumer;
  #decode;
  #reduce;
  #onError;
  /** key -> { partition, value } */
  #entries = new Map();
  /** partition -> Set of its keys in #entries, for the partitions being read or read. */
  #partitions = new Map();
  /** partition -> the next offset to apply (only for partitions read from their start). */
  #applied = new Map();
  /** partition -> the high watermark when the view was made: `ready` waits for these. */
  #targets = new Map();
  /** partition -> the seek to its start, while it is on its way. */
  #seeking = new Map();
  #listeners = new Set();
  #resolveReady;
  #rejectReady;
  #closed = false;
  /** Resolves once each partition the view is assigned has been applied up to its high
   * watermark at the time the view was made; rejects if the view stops before. */
  ready;

  #unwatch;
  #watching;
  #isReady = false;

  /** `watch(listener)`: calls it after every change of the log (a rebalance among them). */
  constructor(log, options, watch) {
    const settings = readOptions(options, "view options", VIEW_OPTIONS);
    if (typeof settings.topic !== "string" || typeof settings.groupId !== "string") {
      throw invalidArgument(`view needs { topic, groupId }: two strings, got ${describe(settings.topic)} and ${describe(settings.groupId)}`);
    }
    this.#log = log;
    this.#topic = checkedText(settings.topic, "topic");
    this.#decode = decoderOf(settings.decode);
    this.#reduce = checkedFunction(settings.reduce, "reduce") ?? null;
    this.#onError = checkedFunction(settings.onError, "onError") ?? null;
    for (const { partition, high } of log.offsets(this.#topic)) this.#targets.set(partition, high);
    this.ready = new Promise((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    this.ready.catch(() => {}); // a view nobody awaits must not be an unhandled rejection
    this.#consumer = log.consumer({
      groupId: settings.groupId,
      autoCommit: false,
      fromBeginning: true,
      ...(settings.maxRecords === undefined ? {} : { maxRecords: settings.maxRecords }),
    });
    this.#watching = watch !== undefined;
    this.#unwatch = watch ? watch(() => this.#followLog()) : () => {};
    this.#start().catch((error) => this.#stopped(error));
  }

  async #start() {
    await this.#consumer.subscribe({ topic: this.#topic });
    this.#followAssignment();
    await this.#consumer.run({
      eachBatch: (payload) => this.#applyBatch(payload.batch),
      onError: (error) => this.#stopped(error),
    });
    this.#checkReady();
  }

  #stopped(error) {
    this.#unwatch();
    this.#rejectReady(error);
    // The log closing stops the view as it stops every consumer: nothing to report.
    if (!this.#closed && error?.code !== "CLOSED") reportThrown(error, this.#onError, `view of ${JSON.stringify(this.#topic)} stopped`);
  }

  async #applyBatch({ partition, messages }) {
    if (this.#closed) return;
    // A log that tells of its changes has told of the rebalance already (see the constructor).
    if (!this.#watching) this.#followAssignment();
    // Not the view's (any more), or fetched before the seek to its start took effect.
    if (!this.#partitions.has(partition) || this.#seeking.has(partition)) return;
    const from = this.#applied.get(partition);
    for (const message of messages) {
      // Below `from`: applied already (a redelivery). Offsets may skip: compaction.
      if (message.offset >= from) this.#apply(partition, message);
    }
    const next = Math.max(from, messages[messages.length - 1].offset + 1);
    this.#applied.set(partition, next);
    try {
      await this.#consumer.commitOffsets([{ topic: this.#topic, partition, offset: next }]);
    } catch (error) {
      // A rebalance took the partition meanwhile: its keys go at the next look.
      if (error?.code !== "REBALANCE_IN_PROGRESS") throw error;
    }
    this.#checkReady();
  }

  /** After a change of the log: a rebalance, perhaps; once the log closed, nothing more. */
  #followLog() {
    try {
      this.#followAssignment();
    } catch (error) {
      if (error?.code === "CLOSED") {
        this.#unwatch();
        this.#rejectReady(new BrookError("CLOSED", "the log closed before the view caught up"));
      } else reportThrown(error, this.#onError, `view of ${JSON.stringify(this.#topic)}`);
    }
  }

  /** Follows a rebalance: drops what the view held of partitions taken away, and reads each
   * newly assigned one from its start, whatever its group committed. */
  #followAssignment() {
    if (this.#closed) return;
    const owned = new Set(this.#consumer.assignment().map((tp) => tp.partition));
    for (const partition of [...this.#partitions.keys()]) {
      if (!owned.has(partition)) this.#dropPartition(partition);
    }
    for (const partition of owned) {
      if (this.#partitions.has(partition)) continue;
      const low = this.#log.offsets(this.#topic)[partition]?.low ?? 0;
      this.#partitions.set(partition, new Set());
      this.#applied.set(partition, low);
      // Synchronous for a consumer of this tab's log; through the owning tab, batches fetched
      // before the seek arrives are ignored.
      const seeking = Promise.resolve(this.#consumer.seek({ topic: this.#topic, partition, offset: low }))
        .catch((error) => reportThrown(error, this.#onError, `view of ${JSON.stringify(this.#topic)}: partition ${partition} could not be read from its start`))
        .finally(() => {
          if (this.#seeking.get(partition) === seeking) this.#seeking.delete(partition);
        });
      this.#seeking.set(partition, seeking);
    }
  }

  #dropPartition(partition) {
    const keys = this.#partitions.get(partition);
    this.#partitions.delete(partition);
    this.#applied.delete(partition);
    this.#seeking.delete(partition);
    for (const key of keys ?? []) {
      const entry = this.#entries.get(key);
      if (entry?.partition !== partition) continue;
      this.#entries.delete(key);
      this.#changed({ key, value: undefined, previous: entry.value, partition, offset: null });
    }
  }

  #apply(partition, message) {
    // No key: nothing to keep it under. A partition dropped meanwhile: not the view's now.
    if (message.key === null || !this.#partitions.has(partition)) return;
    const key = textDecoder.decode(message.key);
    const entry = this.#entries.get(key);
    const previous = entry?.value;
    let value;
    try {
      if (message.value === null) value = undefined; // a tombstone deletes the key
      else {
        const decoded = this.#decode(message.value);
        value = this.#reduce ? this.#reduce(previous, decoded, message) : decoded;
      }
    } catch (error) {
      // One bad record must not stop the view: reported, and the key keeps its value.
      reportThrown(error, this.#onError, `view of ${JSON.stringify(this.#topic)}: record ${message.offset} of partition ${partition} could not be applied`);
      return;
    }
    if (value === undefined) {
      if (!entry) return;
      this.#entries.delete(key);
      this.#partitions.get(entry.partition)?.delete(key);
    } else if (entry?.partition === partition) {
      entry.value = value; // the common case: no allocation
    } else {
      if (entry) this.#partitions.get(entry.partition)?.delete(key);
      this.#entries.set(key, { partition, value });
      this.#partitions.get(partition)?.add(key);
    }
    // No listener: no change object either (a catch-up applies every record of the topic).
    if (this.#listeners.size > 0) this.#changed({ key, value, previous, partition, offset: message.offset });
  }

  #changed(change) {
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch (error) {
        reportThrown(error, this.#onError, "a view's onChange listener threw");
      }
    }
  }

  #checkReady() {
    if (this.#isReady) return;
    const owned = this.#consumer.assignment().map((tp) => tp.partition);
    const caughtUp = owned.every((partition) => {
      const target = this.#targets.get(partition) ?? 0;
      const low = this.#log.offsets(this.#topic)[partition]?.low ?? 0;
      return target <= low || (this.#applied.get(partition) ?? -1) >= target;
    });
    if (caughtUp) {
      this.#isReady = true;
      this.#resolveReady();
    }
  }

  get topic() {
    return this.#topic;
  }

  get size() {
    return this.#entries.size;
  }

  get(key) {
    return this.#entries.get(key)?.value;
  }

  has(key) {
    return this.#entries.has(key);
  }

  *entries() {
    for (const [key, { value }] of this.#entries) yield [key, value];
  }

  keys() {
    return this.#entries.keys();
  }

  *values() {
    for (const { value } of this.#entries.values()) yield value;
  }

  [Symbol.iterator]() {
    return this.entries();
  }

  forEach(callback, thisArg) {
    checkedFunction(callback, "forEach callback");
    for (const [key, value] of this.entries()) callback.call(thisArg, value, key, this);
  }

  /** Calls `listener({ key, value, previous, partition, offset })` after each change (value
   * undefined: the key was deleted); returns a function that stops it. */
  onChange(listener) {
    if (typeof listener !== "function") throw invalidArgument(`onChange needs a function, got ${describe(listener)}`);
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Stops the view's consumer (it leaves its group); the view keeps what it holds. */
  async close() {
    if (this.#closed) return;
    this.#closed = true;
    this.#rejectReady(new BrookError("CLOSED", "the view was closed before it caught up"));
    this.#listeners.clear();
    this.#unwatch();
    await this.#consumer.disconnect();
  }
}
