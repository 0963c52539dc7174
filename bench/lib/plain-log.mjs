// The plain-JS baseline: a partitioned log written the way a careful JS developer would write
// one, doing the same work as brook's send — Kafka's murmur2 placement of each key, framing of
// each record (offset, timestamp, key and value lengths), and a CRC-32C over each partition's
// batch — without wasm. Batches are kept in memory, or written with fs.writeSync to one file
// per partition.

import { closeSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";

/** Kafka's murmur2 (Utils.murmur2), on the bytes of `bytes`. */
export function murmur2(bytes) {
  const length = bytes.length;
  const m = 0x5bd1e995;
  let h = (0x9747b28c ^ length) | 0;
  const blocks = length >> 2;
  for (let i = 0; i < blocks; i++) {
    const at = i << 2;
    let k = bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  const tail = blocks << 2;
  switch (length & 3) {
    case 3:
      h ^= bytes[tail + 2] << 16;
    // falls through
    case 2:
      h ^= bytes[tail + 1] << 8;
    // falls through
    case 1:
      h ^= bytes[tail];
      h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

// CRC-32C, slicing by 8 (as fast as plain JS gets it).
const TABLES = (() => {
  const tables = Array.from({ length: 8 }, () => new Int32Array(256));
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    tables[0][n] = c;
  }
  for (let n = 0; n < 256; n++) {
    for (let t = 1; t < 8; t++) {
      const previous = tables[t - 1][n];
      tables[t][n] = (previous >>> 8) ^ tables[0][previous & 0xff];
    }
  }
  return tables;
})();
const [T0, T1, T2, T3, T4, T5, T6, T7] = TABLES;

export function crc32c(bytes, start = 0, end = bytes.length) {
  let crc = ~0;
  let at = start;
  for (; at + 8 <= end; at += 8) {
    const low = (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) ^ crc;
    crc =
      T7[low & 0xff] ^
      T6[(low >>> 8) & 0xff] ^
      T5[(low >>> 16) & 0xff] ^
      T4[low >>> 24] ^
      T3[bytes[at + 4]] ^
      T2[bytes[at + 5]] ^
      T1[bytes[at + 6]] ^
      T0[bytes[at + 7]];
  }
  for (; at < end; at++) crc = T0[(crc ^ bytes[at]) & 0xff] ^ (crc >>> 8);
  return ~crc >>> 0;
}

const encoder = new TextEncoder();
const RECORD_OVERHEAD = 4 + 8 + 8 + 4 + 4;
const BATCH_OVERHEAD = 8 + 4 + 4 + 4; // base offset, count, length, CRC

/** A log of `partitions` partitions; `directory` set: batches go to files, else to memory. */
export class PlainLog {
  constructor(partitions, directory = null) {
    this.partitions = partitions;
    this.next = new Array(partitions).fill(0);
    this.batches = Array.from({ length: partitions }, () => []);
    this.files = directory
      ? Array.from({ length: partitions }, (_, p) => openSync(join(directory, `p${p}.log`), "a"))
      : null;
    this.scratch = new Uint8Array(1 << 16);
    this.view = new DataView(this.scratch.buffer);
    this.keyScratch = new Uint8Array(1024);
    this.placed = new Int32Array(1024);
  }

  #grow(bytes) {
    if (bytes <= this.scratch.length) return;
    this.scratch = new Uint8Array(Math.max(bytes, this.scratch.length * 2));
    this.view = new DataView(this.scratch.buffer);
  }

  /** Places, frames and checksums `messages` ({ key, value } strings) without allocating per
   * message: keys are encoded into a scratch buffer to hash them, records straight into the
   * batch. Returns [{ partition, offset }] in message order. */
  send(messages) {
    const count = messages.length;
    if (this.placed.length < count) this.placed = new Int32Array(count);
    const placed = this.placed;
    let worst = 0;
    for (let index = 0; index < count; index++) {
      const { key, value } = messages[index];
      const { written } = encoder.encodeInto(key, this.keyScratch);
      placed[index] = (murmur2(this.keyScratch.subarray(0, written)) & 0x7fffffff) % this.partitions;
      worst = Math.max(worst, RECORD_OVERHEAD + 3 * (key.length + value.length));
    }
    const now = Date.now();
    const result = new Array(count);
    for (let partition = 0; partition < this.partitions; partition++) {
      let records = 0;
      for (let index = 0; index < count; index++) if (placed[index] === partition) records++;
      if (records === 0) continue;
      this.#grow(BATCH_OVERHEAD + records * worst);
      const bytes = this.scratch;
      const view = this.view;
      const base = this.next[partition];
      let at = BATCH_OVERHEAD;
      let offset = base;
      for (let index = 0; index < count; index++) {
        if (placed[index] !== partition) continue;
        const { key, value } = messages[index];
        const start = at;
        view.setFloat64(at + 4, offset);
        view.setFloat64(at + 12, now);
        const keyLength = encoder.encodeInto(key, bytes.subarray(at + 24)).written;
        view.setUint32(at + 20, keyLength);
        at += 24 + keyLength;
        const valueLength = encoder.encodeInto(value, bytes.subarray(at + 4)).written;
        view.setUint32(at, valueLength);
        at += 4 + valueLength;
        view.setUint32(start, at - start);
        result[index] = { partition, offset };
        offset += 1;
      }
      view.setFloat64(0, base);
      view.setUint32(8, records);
      view.setUint32(12, at);
      view.setUint32(16, crc32c(bytes, BATCH_OVERHEAD, at));
      this.next[partition] = offset;
      if (this.files) writeSync(this.files[partition], bytes, 0, at);
      else this.batches[partition].push(bytes.slice(0, at));
    }
    return result;
  }

  close() {
    for (const fd of this.files ?? []) closeSync(fd);
  }
}
