// The packed formats of src/wire.rs on the JS side: a send's messages encoded into one
// little-endian buffer (checked while encoding, before anything is copied into wasm memory),
// and a poll's chunks decoded into messages whose keys and values are views, not copies.

import { BrookError, brief } from "./errors.js";
import { describe, isWellFormed, setOwn } from "./args.js";

// ---- Send buffers (wire.rs, "Send"): every message of a send in one little-endian buffer ----

const FLAG_KEY = 1;
const FLAG_VALUE = 2;
const FLAG_PARTITION = 4;
const FLAG_TIMESTAMP = 8;
const MESSAGE_FIELDS = ["key", "value", "partition", "timestamp", "headers"];
const SEND_BUFFER_BYTES_INITIAL = 64 * 1024;
/** A buffer grown past this is let go a while after the send that grew it (see `reset`). */
const SEND_BUFFER_BYTES_KEPT_MAX = 4 * 1024 * 1024;
const SEND_BUFFER_LARGE_KEPT_MS = 1000;
/** The most bytes one send may carry (wire.rs SEND_BYTES_MAX): checked while encoding, before
 * anything is copied into wasm memory, where a failed allocation would abort the instance. */
const SEND_BYTES_MAX = 64 * 1024 * 1024;
/** The most messages one send may carry (the core's SEND_MESSAGES_MAX). */
export const SEND_MESSAGES_MAX = 100_000;
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

function sendTooLarge() {
  return new BrookError(
    "MESSAGE_TOO_LARGE",
    `a send may carry at most ${SEND_BYTES_MAX} bytes (64 MiB) of keys, values and headers; split it into several sends`,
  );
}

/** Strings up to this many UTF-16 units are encoded by a loop when ASCII (see `#ascii`);
 * longer ones by TextEncoder.encodeInto. What a call of encodeInto costs differs by host:
 * measured against the loop, it breaks even at about 30 characters in Node (a fast API
 * call), 150 in Firefox, 400 in Chromium (about 800 ns a call, whatever the length up to
 * 100) and 1,000 in WebKit. */
const SHORT_TEXT = globalThis.process?.versions?.node ? 32 : 128;

/** Strings up to this many UTF-16 units go through the host's writer when it has one (see
 * `useTextWriter`): room for the worst case, 3 bytes a unit, is reserved first. */
const WRITER_TEXT_MAX = 64 * 1024;

/** Makes, over a Uint8Array, an object whose `write(text, at)` writes all of `text` as UTF-8
 * at `at` and returns the bytes written; null: TextEncoder.encodeInto. */
let textWriterOver = null;

/** The Node entry point passes Buffer here: Buffer#write writes at an offset, where
 * encodeInto needs a fresh view and returns a fresh object for every string (a value of
 * 100 B: 71 ns instead of 89, and two allocations fewer per message). */
export function useTextWriter(over) {
  textWriterOver = over;
  sendBuffer.useWriter();
}

/** A growable byte buffer. One serves every send: encoding and `core.send` run without an
 * await in between, so sends never interleave in it (one started by a message's getter while
 * it is being encoded gets a buffer of its own: see `encodeMessages`). */
class SendBuffer {
  constructor() {
    this.#replace(new Uint8Array(SEND_BUFFER_BYTES_INITIAL));
    this.length = 0;
  }

  #replace(bytes) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer);
    this.writer = textWriterOver?.(bytes) ?? null;
  }

  useWriter() {
    this.writer = textWriterOver?.(this.bytes) ?? null;
  }

  /** Set while a large buffer waits to be let go. */
  #shrink = null;

  /** Empty. A large buffer stays for the sends of the next second, then goes: sends of 10 MB
   * each grew it from 64 KiB again every time (a quarter of their time, with the garbage),
   * and an app that sent one large batch should not hold its buffer for good. Between two
   * sends nothing refers to the buffer (encoding and core.send share one turn). */
  reset() {
    this.length = 0;
    if (this.bytes.length > SEND_BUFFER_BYTES_KEPT_MAX && this.#shrink === null) {
      this.#shrink = setTimeout(() => {
        this.#shrink = null;
        this.#replace(new Uint8Array(SEND_BUFFER_BYTES_INITIAL));
      }, SEND_BUFFER_LARGE_KEPT_MS);
      this.#shrink.unref?.();
    }
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
    if (text.length <= SHORT_TEXT && this.#ascii(text, start + 4)) {
      this.view.setUint32(start, text.length, true);
      this.length = start + 4 + text.length;
      return;
    }
    if (this.writer !== null && text.length <= WRITER_TEXT_MAX) {
      this.reserve(4 + text.length * 3);
      // After the reserve: growing replaces the buffer and its writer.
      const written = this.writer.write(text, start + 4);
      this.view.setUint32(start, written, true);
      this.length = start + 4 + written;
      return;
    }
    const { read, written } = textEncoder.encodeInto(text, new Uint8Array(this.bytes.buffer, start + 4));
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

  /** Writes `text` at `at` when it is all ASCII (then UTF-8 is its code units); false, having
   * written nothing that counts, when it is not. For short strings (keys, header names) this
   * loop takes a fifth of the time of an encodeInto call. */
  #ascii(text, at) {
    const bytes = this.bytes;
    for (let index = 0; index < text.length; index++) {
      const unit = text.charCodeAt(index);
      if (unit >= 0x80) return false;
      bytes[at + index] = unit;
    }
    return true;
  }

  contents() {
    return this.bytes.subarray(0, this.length);
  }
}

const sendBuffer = new SendBuffer();
/** Set while `sendBuffer` is being filled: a getter or Proxy of a message may send (or
 * encode) meanwhile, and that send must not reset the buffer under the one it interrupted. */
let sendBufferBusy = false;

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
  for (const field in message) {
    if (!MESSAGE_FIELDS.includes(field) && Object.hasOwn(message, field)) {
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
export function encodeMessages(messages) {
  // A send from inside another's encoding (a message's getter) gets a buffer of its own.
  const out = sendBufferBusy ? new SendBuffer() : sendBuffer;
  const shared = out === sendBuffer;
  sendBufferBusy = true;
  out.reset();
  let index = 0;
  try {
    for (; index < messages.length; index++) writeMessage(out, messages[index]);
  } catch (error) {
    out.reset();
    if (error instanceof BrookError) {
      if (error.code === "MESSAGE_TOO_LARGE") throw error;
      throw new BrookError(error.code, `message ${index}: ${error.message}`, { cause: error.cause });
    }
    throw new BrookError("INVALID_RECORD", `message ${index} could not be read (${brief(error)})`, {
      cause: error,
    });
  } finally {
    if (shared) sendBufferBusy = false;
  }
  return out.contents();
}

// ---- Poll buffers (wire.rs, "Poll"): chunks of records, one partition each ----
//
// A chunk holds runs of records as their batches store them (Kafka's record encoding), so the
// core copies each batch once and decodes nothing; the records are decoded here, once.

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

  /** Kafka's zigzag varint (32-bit). */
  varint() {
    const bytes = this.bytes;
    let byte = bytes[this.position++];
    let raw = byte & 0x7f;
    for (let shift = 7; byte & 0x80; shift += 7) {
      if (shift > 28) throw damaged("a varint runs past 5 bytes");
      byte = bytes[this.position++];
      raw |= (byte & 0x7f) << shift;
    }
    return (raw >>> 1) ^ -(raw & 1);
  }

  /** Kafka's zigzag varlong, exact within a JS number's 53 bits (timestamps are). */
  varlong() {
    const bytes = this.bytes;
    let byte = bytes[this.position++];
    if ((byte & 0x80) === 0) return (byte >>> 1) ^ -(byte & 1);
    let raw = byte & 0x7f;
    let scale = 128;
    do {
      if (scale > 2 ** 63) throw damaged("a varlong runs past 10 bytes");
      byte = bytes[this.position++];
      raw += (byte & 0x7f) * scale;
      scale *= 128;
    } while (byte & 0x80);
    return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
  }

  /** varint length (-1 = null), then the bytes (a view: `new Uint8Array` on the buffer
   * makes one in about half the time `subarray` takes, twice per record). */
  nullable() {
    const length = this.varint();
    if (length < 0) return null;
    const start = this.position;
    this.position += length;
    if (this.position > this.bytes.length) throw damaged("a key or value runs past its buffer");
    return new Uint8Array(this.bytes.buffer, this.bytes.byteOffset + start, length);
  }
}

function damaged(what) {
  return new BrookError("CORRUPT_DATA", `a poll buffer does not decode: ${what}`);
}

/** The `count` records of a run that ends at `end`, into `messages` from `at`. */
function readRun(reader, end, count, chunk, messages, at) {
  const { topic, partition, failedOffset, failures } = chunk;
  const baseOffset = reader.f64();
  const baseTimestamp = reader.f64();
  reader.position += 8; // the count and byte length, read by the caller
  for (let index = 0; index < count; index++) {
    const length = reader.varint();
    const recordEnd = reader.position + length;
    reader.position += 1; // attributes: unused
    const timestamp = baseTimestamp + reader.varlong();
    const offset = baseOffset + reader.varint();
    const key = reader.nullable();
    const value = reader.nullable();
    const headers = {};
    for (let left = reader.varint(); left > 0; left--) {
      const nameLength = reader.varint();
      const start = reader.position;
      reader.position += nameLength;
      setOwn(headers, textDecoder.decode(reader.bytes.subarray(start, reader.position)), reader.nullable());
    }
    if (reader.position !== recordEnd || recordEnd > end) throw damaged(`the record at offset ${offset} does not end where its length says`);
    // The delivery attempt this is: one more than the handler failures counted for it.
    const attempts = offset === failedOffset ? failures + 1 : 1;
    messages[at + index] = { topic, partition, offset, timestamp, key, value, headers, attempts };
  }
  if (reader.position !== end) throw damaged("a run's records do not fill it");
}

/** A poll buffer as chunks `{ topic, partition, highWatermark, messages, deadLettered }`;
 * `deadLettered` is the offset of a record in it that went to the dead-letter topic (the
 * group goes past it: it is never handed to the app again), else -1. */
export function decodePoll(bytes) {
  const reader = new PollReader(bytes);
  const chunks = new Array(reader.u32());
  for (let index = 0; index < chunks.length; index++) {
    const topic = reader.text();
    const partition = reader.u32();
    const highWatermark = reader.f64();
    const failedOffset = reader.f64();
    const failures = reader.u32();
    const deadLettered = reader.f64();
    const messages = new Array(reader.u32());
    const runs = reader.u32();
    const chunk = { topic, partition, failedOffset, failures };
    let at = 0;
    for (let run = 0; run < runs; run++) {
      // f64 base offset, f64 base timestamp, u32 count, u32 byte length
      const count = reader.view.getUint32(reader.position + 16, true);
      const end = reader.position + 24 + reader.view.getUint32(reader.position + 20, true);
      if (at + count > messages.length || end > bytes.length) throw damaged("a run is larger than its chunk");
      readRun(reader, end, count, chunk, messages, at);
      reader.position = end;
      at += count;
    }
    if (at !== messages.length) throw damaged("a chunk's runs do not hold its records");
    chunks[index] = { topic, partition, highWatermark, messages, deadLettered };
  }
  return chunks;
}

/** A leased fetch's buffer (an f64 lease id, then a poll buffer) as `{ lease, chunks }`. */
export function decodeLease(bytes) {
  const lease = new DataView(bytes.buffer, bytes.byteOffset, 8).getFloat64(0, true);
  return { lease, chunks: decodePoll(bytes.subarray(8)) };
}

/** The messages of a poll's chunks, in order, without those that went to the dead-letter
 * topic. (A loop: Array.prototype.flatMap took a sixth of a 1 KiB poll's time in Node.) */
export function pollMessages(chunks) {
  if (chunks.length === 1) return undeadMessages(chunks[0]);
  const messages = [];
  for (const chunk of chunks) {
    const list = undeadMessages(chunk);
    for (let index = 0; index < list.length; index++) messages.push(list[index]);
  }
  return messages;
}

/** A chunk's messages without the one that went to the dead-letter topic, if any. */
export function undeadMessages(chunk) {
  return chunk.deadLettered < 0 ? chunk.messages : chunk.messages.filter((m) => m.offset !== chunk.deadLettered);
}
