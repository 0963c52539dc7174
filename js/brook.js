// brook's JavaScript layer, shared by the Node and browser entry points: the KafkaJS-shaped API
// over the wasm core. It adapts and schedules — argument encoding, delivery loops, group-commit
// flushes, wake-ups of idle consumers — and keeps no log state: topics, offsets, groups,
// positions and commits all live in Rust. Each runtime supplies how the wasm is initialised and
// which storages exist (see createApi).

import { BrookError, brief, invalidArgument, translate } from "./errors.js";
import {
  checkedBoolean,
  checkedFunction,
  checkedText,
  describe,
  guarded,
  isWellFormed,
  readArray,
  readFields,
  readOptions,
  readPlain,
} from "./args.js";
import { breathe } from "./turns.js";

export { BrookError, translate };

/** Runs a wasm call, translating its error. */
function translated(operation) {
  try {
    return operation();
  } catch (error) {
    throw translate(error);
  }
}

// ---- Send buffers (wire.rs, "Send"): every message of a send in one little-endian buffer ----

const FLAG_KEY = 1;
const FLAG_VALUE = 2;
const FLAG_PARTITION = 4;
const FLAG_TIMESTAMP = 8;
const MESSAGE_FIELDS = ["key", "value", "partition", "timestamp", "headers"];
const SEND_BUFFER_BYTES_INITIAL = 64 * 1024;
/** Above this, a send's buffer is dropped afterwards rather than kept for the next send. */
const SEND_BUFFER_BYTES_KEPT_MAX = 4 * 1024 * 1024;
/** The most bytes one send may carry (wire.rs SEND_BYTES_MAX): checked while encoding, before
 * anything is copied into wasm memory, where a failed allocation would abort the instance. */
const SEND_BYTES_MAX = 64 * 1024 * 1024;
/** The most messages one send may carry (the core's SEND_MESSAGES_MAX). */
const SEND_MESSAGES_MAX = 100_000;
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

function sendTooLarge() {
  return new BrookError(
    "MESSAGE_TOO_LARGE",
    `a send may carry at most ${SEND_BYTES_MAX} bytes (64 MiB) of keys, values and headers; split it into several sends`,
  );
}

/** A growable byte buffer. One serves every send: encoding and `core.send` run without an
 * await in between, so sends never interleave in it. */
class SendBuffer {
  constructor() {
    this.#replace(new Uint8Array(SEND_BUFFER_BYTES_INITIAL));
    this.length = 0;
  }

  #replace(bytes) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer);
  }

  /** Empty, and small again after an unusually large send. */
  reset() {
    if (this.bytes.length > SEND_BUFFER_BYTES_KEPT_MAX) {
      this.#replace(new Uint8Array(SEND_BUFFER_BYTES_INITIAL));
    }
    this.length = 0;
  }

  /** Room for `count` more bytes; a send past SEND_BYTES_MAX is refused. */
  reserve(count) {
    const needed = this.length + count;
    if (needed <= this.bytes.length) return;
    if (needed > SEND_BYTES_MAX) throw sendTooLarge();
    const bytes = new Uint8Array(Math.min(Math.max(needed, this.bytes.length * 2), SEND_BYTES_MAX));
    bytes.set(this.bytes.subarray(0, this.length));
    this.#replace(bytes);
  }

  u8(value) {
    this.reserve(1);
    this.bytes[this.length++] = value;
  }

  u32(value) {
    this.reserve(4);
    this.view.setUint32(this.length, value, true);
    this.length += 4;
  }

  f64(value) {
    this.reserve(8);
    this.view.setFloat64(this.length, value, true);
    this.length += 8;
  }

  /** u32 length, then the bytes. */
  data(bytes) {
    this.reserve(4 + bytes.length);
    this.view.setUint32(this.length, bytes.length, true);
    this.bytes.set(bytes, this.length + 4);
    this.length += 4 + bytes.length;
  }

  /** u32 length, then the UTF-8 bytes, encoded in place. */
  text(text) {
    const start = this.length;
    this.reserve(4 + text.length);
    const { read, written } = textEncoder.encodeInto(text, this.bytes.subarray(start + 4));
    // Counted before any growth, so that growing keeps the bytes just written.
    this.length = start + 4 + written;
    if (read < text.length) {
      // Not ASCII: room for the worst case (3 bytes per UTF-16 unit) of the rest, up to the
      // limit; what does not fit even then is too large.
      this.reserve(Math.min((text.length - read) * 3, SEND_BYTES_MAX - this.length));
      const rest = this.bytes.subarray(this.length);
      const tail = textEncoder.encodeInto(text.slice(read), rest);
      if (read + tail.read < text.length) throw sendTooLarge();
      this.length += tail.written;
    }
    this.view.setUint32(start, this.length - start - 4, true);
  }

  contents() {
    return this.bytes.subarray(0, this.length);
  }
}

const sendBuffer = new SendBuffer();

/** Whether a view's memory was detached (transferred to a worker, or a closed buffer): its
 * length reads as 0 then, which must not pass as an empty value. */
function isDetached(view) {
  if (view.byteLength !== 0) return false;
  try {
    void new Uint8Array(view.buffer, 0, 0);
    return false;
  } catch {
    return true;
  }
}

/** Bytes of a key, value or header value: Uint8Array (Buffer too) as is, other views and
 * ArrayBuffers as a Uint8Array over the same memory; null when not bytes. */
function asBytes(value) {
  let bytes = null;
  if (value instanceof Uint8Array) bytes = value;
  else if (ArrayBuffer.isView(value))
    bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  else if (value instanceof ArrayBuffer) bytes = new Uint8Array(value);
  if (bytes !== null && isDetached(bytes)) {
    throw new BrookError("INVALID_RECORD", "its ArrayBuffer was detached (transferred or closed); pass bytes you still own");
  }
  return bytes;
}

function writePayload(out, value, name) {
  if (typeof value === "string") {
    if (!isWellFormed(value)) {
      throw new BrookError(
        "INVALID_RECORD",
        `${name} is not well-formed UTF-16 (a lone surrogate, which UTF-8 cannot hold); fix the string or pass bytes`,
      );
    }
    return out.text(value);
  }
  const bytes = asBytes(value);
  if (bytes === null) {
    throw new BrookError(
      "INVALID_RECORD",
      `${name} must be a string, a Uint8Array (or Buffer), or null; got ${describe(value)} (convert it, e.g. with JSON.stringify)`,
    );
  }
  out.data(bytes);
}

function writeHeaders(out, headers) {
  const countAt = out.length;
  out.u32(0);
  if (headers == null) return;
  const prototype = typeof headers === "object" ? Object.getPrototypeOf(headers) : undefined;
  if (prototype !== Object.prototype && prototype !== null) {
    throw new BrookError(
      "INVALID_RECORD",
      `headers must be an object of name -> string, Uint8Array or null, got ${describe(headers)}`,
    );
  }
  let count = 0;
  for (const name of Object.keys(headers)) {
    const value = headers[name];
    if (!isWellFormed(name)) {
      throw new BrookError("INVALID_RECORD", `a header name is not well-formed UTF-16 (a lone surrogate); fix it`);
    }
    out.text(name);
    if (value == null) {
      out.u8(0);
    } else {
      out.u8(1);
      writePayload(out, value, `header ${JSON.stringify(name)}`);
    }
    count += 1;
  }
  out.view.setUint32(countAt, count, true);
}

function writeMessage(out, message) {
  if (typeof message !== "object" || message === null || Array.isArray(message)) {
    throw new BrookError(
      "INVALID_RECORD",
      `it must be an object like { key, value, headers }, got ${describe(message)}`,
    );
  }
  for (const field of Object.keys(message)) {
    if (!MESSAGE_FIELDS.includes(field)) {
      throw new BrookError(
        "INVALID_RECORD",
        `it has an unknown field ${JSON.stringify(field)}; a message has ${MESSAGE_FIELDS.join(", ")}`,
      );
    }
  }
  // Each field is read once: a getter or a Proxy may answer differently the second time.
  const { key, value, partition, timestamp, headers } = message;
  if (partition != null && typeof partition !== "number") {
    throw new BrookError("INVALID_PARTITION", `partition must be a number, got ${describe(partition)}`);
  }
  if (timestamp != null && typeof timestamp !== "number") {
    throw new BrookError(
      "INVALID_RECORD",
      `timestamp must be a number of milliseconds since 1970 (Date.now()), got ${describe(timestamp)}`,
    );
  }
  out.u8(
    (key != null ? FLAG_KEY : 0) |
      (value != null ? FLAG_VALUE : 0) |
      (partition != null ? FLAG_PARTITION : 0) |
      (timestamp != null ? FLAG_TIMESTAMP : 0),
  );
  // The core checks the numbers (whole, in range); JS only checks they are numbers.
  if (partition != null) out.f64(partition);
  if (timestamp != null) out.f64(timestamp);
  if (key != null) writePayload(out, key, "key");
  if (value != null) writePayload(out, value, "value");
  writeHeaders(out, headers);
}

/** Encodes `messages` (read once, each element and field) into the send buffer. Anything a
 * caller's object throws while being read becomes INVALID_RECORD naming the message. */
function encodeMessages(messages) {
  sendBuffer.reset();
  let index = 0;
  try {
    for (; index < messages.length; index++) writeMessage(sendBuffer, messages[index]);
  } catch (error) {
    sendBuffer.reset();
    if (error instanceof BrookError) {
      if (error.code === "MESSAGE_TOO_LARGE") throw error;
      throw new BrookError(error.code, `message ${index}: ${error.message}`, { cause: error.cause });
    }
    throw new BrookError("INVALID_RECORD", `message ${index} could not be read (${brief(error)})`, {
      cause: error,
    });
  }
  return sendBuffer.contents();
}

// ---- Poll buffers (wire.rs, "Poll"): chunks of records, one partition each ----

/** Reads a poll buffer; keys, values and header values are views into it, not copies. */
class PollReader {
  constructor(bytes) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.position = 0;
  }

  u32() {
    const value = this.view.getUint32(this.position, true);
    this.position += 4;
    return value;
  }

  f64() {
    const value = this.view.getFloat64(this.position, true);
    this.position += 8;
    return value;
  }

  text() {
    const length = this.u32();
    const start = this.position;
    this.position += length;
    return textDecoder.decode(this.bytes.subarray(start, this.position));
  }

  /** i32 length (-1 = null), then the bytes. */
  nullable() {
    const length = this.view.getInt32(this.position, true);
    this.position += 4;
    if (length < 0) return null;
    const start = this.position;
    this.position += length;
    return this.bytes.subarray(start, this.position);
  }
}

function readMessage(reader, topic, partition) {
  const offset = reader.f64();
  const timestamp = reader.f64();
  const key = reader.nullable();
  const value = reader.nullable();
  const headers = {};
  for (let count = reader.u32(); count > 0; count--) {
    const name = reader.text();
    headers[name] = reader.nullable();
  }
  return { topic, partition, offset, timestamp, key, value, headers };
}

/** A poll buffer as chunks `{ topic, partition, highWatermark, messages }`. */
function decodePoll(bytes) {
  const reader = new PollReader(bytes);
  const chunks = new Array(reader.u32());
  for (let index = 0; index < chunks.length; index++) {
    const topic = reader.text();
    const partition = reader.u32();
    const highWatermark = reader.f64();
    const messages = new Array(reader.u32());
    for (let at = 0; at < messages.length; at++) {
      messages[at] = readMessage(reader, topic, partition);
    }
    chunks[index] = { topic, partition, highWatermark, messages };
  }
  return chunks;
}

// ---- The open log: the wasm object and the scheduling around it ----

const DURABILITIES = ["strict", "relaxed"];

/** The wasm log plus what JS schedules around it: shared flushes, wake-ups, running consumers. */
class OpenLog {
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
  /** Bumped by every call that can rebalance a group (join, leave, subscribe, a topic growing,
   * a reload): delivery loops ask the core about their assignment only when it moved, instead
   * of crossing into wasm before every record. */
  membershipEpoch = 0;
  /** Stop functions of the consumers whose loops may be running. */
  consumers = new Set();
  closing = false;

  /** For IndexedDB logs: `{ reload() }` reads the database again; `release()` frees the lock. */
  #store;

  constructor(wasm, durability, store = null) {
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

  /** Calls the wasm log; errors become BrookErrors, calls after close fail with CLOSED. */
  invoke(operation) {
    this.assertOpen();
    return translated(() => operation(this.#wasm));
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
    // A transaction was started: the core learns how it ended. (A flush refused before its
    // transaction began was settled by the core already.)
    if (started) this.#wasm.flushCompleted(failure === null);
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
    this.membershipEpoch++;
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
    return this.#wasm !== null && this.#wasm.hasPendingLoads();
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

  /** A promise that resolves at the next change a waiting consumer may care about. */
  changed() {
    if (this.#change === null) {
      let resolve;
      const promise = new Promise((settle) => (resolve = settle));
      this.#change = { promise, resolve };
    }
    return this.#change.promise;
  }

  notify() {
    const change = this.#change;
    this.#change = null;
    change?.resolve();
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
    if (now < due) {
      // A change within the interval gets a pass at its end, so that a burst followed by
      // quiet is cleaned up too. The timer does not keep a Node process alive.
      this.#maintainTimer ??= setTimeout(() => {
        this.#maintainTimer = null;
        this.#maintainNow();
      }, due - now);
      this.#maintainTimer.unref?.();
      return;
    }
    this.#maintainedAt = now;
    let changed;
    try {
      changed = this.#wasm.maintain();
    } catch {
      // A failure here shows up again on the next write, where the caller sees it.
      return;
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

/** Reads that wait for IndexedDB make progress with every load; this many rounds without an
 * answer mean a fault, reported instead of looping forever. */
const LOAD_ROUNDS_MAX = 100_000;

function stalledLoads(what) {
  return new BrookError("IO_ERROR", `${what} kept waiting for IndexedDB batches that never arrived`);
}

// ---- Producer ----

class Producer {
  #log;
  #producer;

  constructor(log, producer) {
    this.#log = log;
    this.#producer = producer;
  }

  /** Appends `messages` to `topic`; resolves with `[{ topic, partition, offset }]`, one per
   * message in order, once they are durable under the log's setting. */
  async send(request) {
    this.#log.assertOpen();
    const { topic, messages } = readOptions(request, "send", ["topic", "messages"]);
    const list = readMessages(messages);
    const packed = encodeMessages(list);
    const placements = this.#log.invoke((wasm) =>
      wasm.send(this.#producer, topic, list.length, packed),
    );
    try {
      await this.#log.durable();
    } finally {
      this.#log.notify();
    }
    await breathe();
    const metadata = new Array(list.length);
    for (let index = 0; index < metadata.length; index++) {
      metadata[index] = {
        topic,
        partition: placements[2 * index],
        offset: placements[2 * index + 1],
      };
    }
    return metadata;
  }
}

/** A send's messages, read once into a fresh array (its elements are read as they encode). */
function readMessages(messages) {
  let array = false;
  try {
    array = Array.isArray(messages);
  } catch {
    // A revoked Proxy: not an array.
  }
  if (!array) {
    throw invalidArgument(
      `send needs messages: an array of { key, value, partition, headers, timestamp }, got ${describe(messages)}`,
    );
  }
  return guarded("messages", () => {
    const length = messages.length;
    if (!Number.isSafeInteger(length) || length < 0) {
      throw invalidArgument(`messages has a length of ${describe(length)}`);
    }
    if (length > SEND_MESSAGES_MAX) {
      throw new BrookError(
        "MESSAGE_TOO_LARGE",
        `${length} messages in one send; send at most ${SEND_MESSAGES_MAX} at once`,
      );
    }
    const list = new Array(length);
    for (let index = 0; index < length; index++) list[index] = messages[index];
    return list;
  });
}

// ---- Consumer ----

const CONSUMER_OPTIONS = [
  "groupId",
  "autoCommit",
  "assignor",
  "fromBeginning",
  "maxRecords",
  "maxBytes",
];
const MAX_RECORDS_DEFAULT = 500;
const MAX_BYTES_DEFAULT = 1024 * 1024;

function partitionKey(topic, partition) {
  return `${topic}\u0000${partition}`;
}

/** Reports the error that stopped a loop; never throws, so that close() always completes. */
function reportError(error, onError) {
  try {
    if (onError) return onError(error);
  } catch (failure) {
    console.error("brook: onError threw:", failure);
  }
  console.error("brook: the consumer stopped because of this error:", error);
}

class Consumer {
  #log;
  #groupId;
  #autoCommit;
  #assignor;
  #fromBeginning;
  #maxRecords;
  #maxBytes;
  /** The member id in the core's group; null until the first subscribe joins. */
  #member = null;
  #topics = [];
  #loop = null;
  #stopping = false;
  /** Bumped by seek, pause and resume, so a delivery in progress re-checks its partitions. */
  #revision = 0;
  /** Partitions seeked since the last poll: their polled records are stale. */
  #seeked = new Set();
  #stop = () => this.#stopLoop();

  constructor(log, options) {
    this.#log = log;
    const settings = readOptions(options, "consumer options", CONSUMER_OPTIONS);
    if (typeof settings.groupId !== "string") {
      throw invalidArgument(`consumer needs groupId: a string, got ${describe(settings.groupId)}`);
    }
    this.#groupId = checkedText(settings.groupId, "groupId");
    this.#autoCommit = checkedBoolean(settings.autoCommit, "autoCommit") ?? true;
    this.#assignor = settings.assignor;
    this.#fromBeginning = checkedBoolean(settings.fromBeginning, "fromBeginning");
    this.#maxRecords = settings.maxRecords ?? MAX_RECORDS_DEFAULT;
    this.#maxBytes = settings.maxBytes ?? MAX_BYTES_DEFAULT;
    log.invoke((wasm) => wasm.checkFetchLimits(this.#maxRecords, this.#maxBytes));
  }

  #joinGroup(topics) {
    const options = {
      groupId: this.#groupId,
      autoCommit: this.#autoCommit,
      assignor: this.#assignor,
      fromBeginning: this.#fromBeginning ?? false,
    };
    this.#member = this.#log.invoke((wasm) => wasm.joinGroup(options, topics));
    this.#log.membershipEpoch++;
  }

  #joined(operation) {
    this.#log.assertOpen();
    // A consumer whose handler failed left its group; it keeps its subscription and rejoins.
    if (this.#member === null && this.#topics.length > 0) {
      this.#joinGroup(this.#topics);
      this.#log.notify();
    }
    if (this.#member === null) {
      throw invalidArgument(`subscribe before calling ${operation}`);
    }
    return this.#member;
  }

  /** A failed handler stops the loop; the member leaves its group so that its partitions move
   * to the other members at once instead of stalling (its uncommitted records go with them). */
  #leaveAfterFailure() {
    const member = this.#member;
    if (member === null || this.#log.closed) return;
    this.#member = null;
    try {
      this.#log.invoke((wasm) => wasm.leaveGroup(member));
    } finally {
      this.#log.membershipEpoch++;
      this.#log.notify();
    }
  }

  /** Joins the group on the first call; later calls add topics (the group rebalances). */
  async subscribe(subscription) {
    this.#log.assertOpen();
    const { topic, topics, fromBeginning } = readOptions(subscription, "subscribe", [
      "topic",
      "topics",
      "fromBeginning",
    ]);
    if ((topic === undefined) === (topics === undefined)) {
      throw invalidArgument("subscribe needs either topics: [names] or topic: name");
    }
    const names = topics ?? topic;
    if (guarded("subscribe", () => names instanceof RegExp)) {
      throw invalidArgument("topic patterns (RegExp) are not supported; list the topic names");
    }
    this.#settleFromBeginning(checkedBoolean(fromBeginning, "fromBeginning"));
    const added = topics !== undefined ? readArray(names, "topics", 10_000) : [names];
    const all = [...new Set([...this.#topics, ...added])];
    if (this.#member === null) {
      this.#joinGroup(all);
    } else {
      this.#log.invoke((wasm) => wasm.subscribe(this.#member, all));
      this.#log.membershipEpoch++;
    }
    this.#topics = all;
    this.#log.notify();
  }

  /** Where to start without a commit is fixed when the consumer joins (the core's offset reset). */
  #settleFromBeginning(fromBeginning) {
    if (fromBeginning === undefined) return;
    if (this.#member !== null && fromBeginning !== (this.#fromBeginning ?? false)) {
      throw invalidArgument(
        "fromBeginning is fixed by the first subscribe (or the consumer options); use seek to move within a partition",
      );
    }
    this.#fromBeginning = fromBeginning;
  }

  /** Starts the delivery loop; resolves once it runs (its first poll has succeeded). */
  async run(config) {
    this.#log.assertOpen();
    const { eachMessage, eachBatch, onError } = readOptions(config, "run", [
      "eachMessage",
      "eachBatch",
      "onError",
    ]);
    checkedFunction(onError, "onError");
    if (typeof (eachMessage ?? eachBatch) !== "function" || (eachMessage && eachBatch)) {
      throw invalidArgument("run needs one handler: eachMessage or eachBatch, a function");
    }
    this.#joined("run");
    if (this.#loop !== null || this.#log.closing) {
      throw invalidArgument(
        this.#log.closing
          ? "the log is closing"
          : "this consumer is already running; disconnect() stops it",
      );
    }
    const deliver = eachMessage
      ? (chunks) => this.#deliverMessages(chunks, eachMessage)
      : (chunks) => this.#deliverBatches(chunks, eachBatch);
    this.#stopping = false;
    const first = this.#fetch(this.#maxRecords, this.#maxBytes, "fetch");
    this.#log.consumers.add(this.#stop);
    this.#loop = this.#runLoop(deliver, first, onError);
  }

  async #runLoop(deliver, first, onError) {
    let chunks = first;
    // A running consumer keeps a Node process alive, as KafkaJS's does, until disconnect or
    // close: a service waiting for records must not exit just because none came yet.
    const keepAlive = setInterval(() => {}, KEEP_ALIVE_INTERVAL_MS);
    try {
      while (!this.#stopping) {
        if (chunks.length > 0) {
          // Batches the next poll needs load from IndexedDB while these are handled.
          if (this.#log.hasPendingLoads()) this.#log.loadPending().catch(() => {});
          await deliver(chunks);
          await this.#yieldIfBusy();
        } else if (this.#log.hasPendingLoads()) {
          await this.#log.loadPending();
        } else {
          await this.#waitForRecords();
        }
        if (!this.#stopping) chunks = this.#fetch(this.#maxRecords, this.#maxBytes, "fetch");
      }
    } catch (error) {
      this.#leaveAfterFailure();
      reportError(error, onError);
    } finally {
      clearInterval(keepAlive);
      this.#loop = null;
      this.#log.consumers.delete(this.#stop);
    }
  }

  /** Polls the core and decodes; each chunk remembers the member's assignment version and
   * this consumer's revision it was polled at, to notice a rebalance, seek or pause during
   * its delivery. */
  #fetch(maxRecords, maxBytes, read = "poll") {
    const member = this.#member;
    // "poll" auto-commits what it returns (pull style: returning is delivering); "fetch"
    // commits nothing, and the run loop commits each record as it hands it to the app.
    const bytes = this.#log.invoke((wasm) => wasm[read](member, maxRecords, maxBytes));
    this.#seeked.clear();
    const chunks = decodePoll(bytes);
    if (chunks.length > 0) {
      const version = this.#log.invoke((wasm) => wasm.assignmentVersion(member));
      for (const chunk of chunks) {
        chunk.assignmentVersion = version;
        chunk.membershipEpoch = this.#log.membershipEpoch;
        chunk.revision = this.#revision;
      }
    }
    return chunks;
  }

  /** With auto commit the poll committed what it returned: make that durable before the app
   * sees the records, so a crash while processing skips them (at-most-once), as promised. */
  async #beforeDelivery() {
    if (this.#autoCommit) await this.#log.durable();
  }

  /** Auto commit in the run loop: commits the position after `offset` as the record (or the
   * batch ending there) is handed to the app, durably before the handler runs, so a crash
   * while processing skips it (at-most-once) and records never handed over (revoked, loop
   * stopped) stay uncommitted for whoever reads the partition next. */
  async #commitHandedOver(topic, partition, offset) {
    if (!this.#autoCommit) return;
    this.#log.invoke((wasm) => wasm.commitOne(this.#member, topic, partition, offset + 1));
    await this.#log.durable();
  }

  /** Waits, without polling, until a change (send, seek, resume, rebalance, ...) makes records
   * available or the loop is stopped. */
  async #waitForRecords() {
    do {
      await this.#log.changed();
    } while (!this.#stopping && !this.#log.invoke((wasm) => wasm.hasRecords(this.#member)));
  }

  /** A loop that always has records would otherwise hold the thread: timers, I/O and the
   * page would freeze while a backlog drains. */
  async #yieldIfBusy() {
    await breathe();
  }

  async #deliverMessages(chunks, eachMessage) {
    for (let at = 0; at < chunks.length; at++) {
      const chunk = chunks[at];
      const { topic, partition, messages } = chunk;
      for (let index = 0; index < messages.length; index++) {
        if (this.#stopping) return this.#giveBack(chunks, at, index);
        if (!this.#stillDeliverable(chunk, index)) break;
        const message = messages[index];
        try {
          await this.#commitHandedOver(topic, partition, message.offset);
        } catch (error) {
          this.#giveBack(chunks, at, index);
          throw error;
        }
        try {
          await eachMessage({ topic, partition, message });
        } catch (error) {
          // Auto commit already counted the failed message as delivered (at-most-once).
          this.#giveBack(chunks, at, this.#autoCommit ? index + 1 : index);
          throw error;
        }
      }
    }
  }

  async #deliverBatches(chunks, eachBatch) {
    for (let at = 0; at < chunks.length; at++) {
      const chunk = chunks[at];
      if (this.#stopping) return this.#giveBack(chunks, at, 0);
      if (!this.#stillDeliverable(chunk, 0)) continue;
      const { topic, partition, highWatermark, messages } = chunk;
      try {
        await this.#commitHandedOver(topic, partition, messages[messages.length - 1].offset);
      } catch (error) {
        this.#giveBack(chunks, at, 0);
        throw error;
      }
      try {
        await eachBatch({
          batch: { topic, partition, highWatermark, messages },
          isRunning: () => !this.#stopping,
          isStale: () => !this.#owns(chunk),
        });
      } catch (error) {
        this.#giveBack(chunks, at, this.#autoCommit ? messages.length : 0);
        throw error;
      }
    }
  }

  #owns(chunk) {
    return this.#log.invoke((wasm) => wasm.owns(this.#member, chunk.topic, chunk.partition));
  }

  /** Whether the rest of a chunk, from `index`, may still be delivered. A rebalance (the
   * member's assignment version moved) or a seek or pause of this consumer since the poll may have
   * made it stale: a revoked partition stops at once and its new owner continues from the
   * last commit; a seek's position stands; otherwise the records go back for a later poll. */
  #stillDeliverable(chunk, index) {
    if (this.#log.membershipEpoch === chunk.membershipEpoch && this.#revision === chunk.revision) {
      return true;
    }
    chunk.membershipEpoch = this.#log.membershipEpoch;
    const version = this.#log.invoke((wasm) => wasm.assignmentVersion(this.#member));
    if (version === chunk.assignmentVersion && this.#revision === chunk.revision) return true;
    if (!this.#owns(chunk) || this.#seeked.has(partitionKey(chunk.topic, chunk.partition))) {
      return false;
    }
    if (version !== chunk.assignmentVersion || this.#isPaused(chunk)) {
      this.#rewind(chunk, index);
      return false;
    }
    chunk.revision = this.#revision;
    return true;
  }

  #isPaused(chunk) {
    return this.paused().some((p) => p.topic === chunk.topic && p.partition === chunk.partition);
  }

  /** Records polled but not delivered go back: each still-owned partition is rewound to its
   * first undelivered record, so that a later poll delivers it again. */
  #giveBack(chunks, at, index) {
    this.#rewind(chunks[at], index);
    for (let next = at + 1; next < chunks.length; next++) this.#rewind(chunks[next], 0);
  }

  #rewind(chunk, index) {
    const message = chunk.messages[index];
    const key = partitionKey(chunk.topic, chunk.partition);
    if (message === undefined || this.#seeked.has(key) || !this.#owns(chunk)) return;
    try {
      this.#log.invoke((wasm) =>
        wasm.seek(this.#member, chunk.topic, chunk.partition, message.offset),
      );
    } catch (error) {
      // Retention may have deleted the record meanwhile: the offset reset policy applies then.
      if (!(error instanceof BrookError)) throw error;
    }
  }

  /** Pull style: up to `maxRecords` messages available now (possibly none). */
  async poll(options) {
    this.#joined("poll");
    const { maxRecords = this.#maxRecords, maxBytes = this.#maxBytes } = readOptions(
      options,
      "poll",
      ["maxRecords", "maxBytes"],
    );
    if (this.#loop !== null) {
      throw invalidArgument("this consumer is running (run); poll and run do not mix");
    }
    let chunks = this.#fetch(maxRecords, maxBytes);
    // Records that IndexedDB must load first: load them and poll again.
    for (let round = 0; chunks.length === 0 && this.#log.hasPendingLoads(); round++) {
      if (round >= LOAD_ROUNDS_MAX) throw stalledLoads("poll");
      await this.#log.loadPending();
      chunks = this.#fetch(maxRecords, maxBytes);
    }
    if (chunks.length > 0) await this.#beforeDelivery();
    return chunks.flatMap((chunk) => chunk.messages);
  }

  /** Commits a delivered message: the group resumes after it. */
  async commit(message) {
    this.#log.assertOpen();
    const fields =
      typeof message === "object" && message !== null
        ? readFields(message, "message", ["topic", "partition", "offset"])
        : null;
    if (fields === null || typeof fields.offset !== "number") {
      throw invalidArgument(
        `commit takes a message this consumer delivered, got ${describe(message)}; commitOffsets([{ topic, partition, offset }]) commits explicit offsets`,
      );
    }
    const { topic, partition, offset } = fields;
    await this.commitOffsets([{ topic, partition, offset: offset + 1 }]);
  }

  /** Commits `[{ topic, partition, offset }]`, offset being the next one to read (Kafka's rule). */
  async commitOffsets(offsets) {
    const list = readArray(offsets, "offsets", 100_000).map((item, index) =>
      readPlain(item, `offsets[${index}]`),
    );
    const member = this.#joined("commitOffsets");
    this.#log.invoke((wasm) => wasm.commit(member, list));
    try {
      await this.#log.durable();
    } finally {
      this.#log.notify();
    }
    await breathe();
  }

  /** The next delivery of that partition starts at `offset`. */
  seek(target) {
    const { topic, partition, offset } = readOptions(target, "seek", [
      "topic",
      "partition",
      "offset",
    ]);
    const member = this.#joined("seek");
    this.#log.invoke((wasm) => wasm.seek(member, topic, partition, offset));
    this.#seeked.add(partitionKey(topic, partition));
    this.#changedPositions();
  }

  /** Stops delivery from `[{ topic, partitions? }]` (no partitions = the whole topic). */
  pause(topics) {
    this.#setPaused(topics, true);
  }

  resume(topics) {
    this.#setPaused(topics, false);
  }

  #setPaused(topics, paused) {
    const what = paused ? "pause" : "resume";
    const list = readArray(topics, `${what} topics`, 10_000).map((item, index) => {
      const entry = readPlain(item, `${what} topics[${index}]`);
      if (entry.partitions !== undefined) {
        entry.partitions = readArray(entry.partitions, `${what} topics[${index}].partitions`, 10_000);
      }
      return entry;
    });
    const member = this.#joined(what);
    this.#log.invoke((wasm) => wasm.setPaused(member, list, paused));
    this.#changedPositions();
  }

  #changedPositions() {
    this.#revision += 1;
    this.#log.notify();
  }

  /** The next offset this consumer will read from an owned partition (null before its first
   * read there: it then starts at the group's commit, or per fromBeginning). */
  position(target) {
    this.#log.assertOpen();
    const { topic, partition } = readOptions(target, "position", ["topic", "partition"]);
    if (this.#member === null) return null;
    return this.#log.invoke((wasm) => wasm.position(this.#member, topic, partition)) ?? null;
  }

  /** `[{ topic, partition }]` owned now. */
  assignment() {
    this.#log.assertOpen();
    if (this.#member === null) return [];
    return this.#log.invoke((wasm) => wasm.assignment(this.#member));
  }

  paused() {
    this.#log.assertOpen();
    if (this.#member === null) return [];
    return this.#log.invoke((wasm) => wasm.paused(this.#member));
  }

  /** Per partition of each subscribed topic: `{ topic, partition, low, high, committed, lag }`. */
  lag() {
    this.#log.assertOpen();
    return this.#topics.flatMap((topic) =>
      this.#log
        .invoke((wasm) => wasm.lag(this.#groupId, topic))
        .map((entry) => ({ topic, ...entry })),
    );
  }

  async #stopLoop() {
    this.#stopping = true;
    this.#log.notify();
    await this.#loop;
  }

  /** Stops the loop (after the handler in flight) and leaves the group: its partitions move to
   * the other members. Idempotent; a no-op once the log is closed. A later subscribe joins
   * again. */
  async disconnect() {
    if (this.#log.closed) return;
    await this.#stopLoop();
    const member = this.#member;
    if (member === null || this.#log.closed) return;
    this.#member = null;
    this.#topics = [];
    this.#log.invoke((wasm) => wasm.leaveGroup(member));
    this.#log.membershipEpoch++;
    this.#log.notify();
  }
}

// ---- Log and the factory ----

/** The key of Log's change hook, for the runtime entry points (not part of the public API). */
export const WATCH = Symbol("brook.watch");

/** Period of the timer that keeps a process with a running consumer alive (it does nothing). */
const KEEP_ALIVE_INTERVAL_MS = 60_000;

/** How often, at most, a log applies retention and compaction by itself. */
const MAINTAIN_INTERVAL_MS = 1000;

const OPEN_OPTIONS = ["path", "name", "durability", "waitForLock", "cacheBytes"];

function openSettings(options) {
  const {
    path,
    name,
    durability = "strict",
    waitForLock,
    cacheBytes,
  } = readOptions(options, "Log.open options", OPEN_OPTIONS);
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
  return { path, name, durability, waitForLock: waitForLock ?? false, cacheBytes };
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

    constructor(token, log) {
      if (token !== opening) throw invalidArgument("use Log.open() to open a log");
      this.#log = log;
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
        return new Log(opening, new OpenLog(openWasm(settings), settings.durability));
      }
      const store = await namedStorage(settings.name, settings.waitForLock);
      let log = null;
      try {
        const wasm = translated(() =>
          core.WasmLog.openIndexedDb(store.loaded, randomSeed(getRandomValues), settings.cacheBytes),
        );
        log = new OpenLog(wasm, settings.durability, store);
        await log.finishOpen();
        return new Log(opening, log);
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
      this.#log.membershipEpoch++;
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

    /** Ids of the groups with live members. */
    groups() {
      return this.#log.invoke((wasm) => wasm.groups());
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
      return this.#log.invoke((wasm) => wasm.recovery());
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

    /** Runtime entry points only: calls `listener` after every change; returns an unwatch. */
    [WATCH](listener) {
      this.#log.listeners.add(listener);
      return () => this.#log.listeners.delete(listener);
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
