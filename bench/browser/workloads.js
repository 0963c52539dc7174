// The browser workloads of bench/suites/browser.mjs, run in the page: persisted produce into
// IndexedDB through brook and its baselines, and reading everything back after a reload.
// Every function resolves with { value } (records per second) or data for the next step.

import { Log, deleteLog } from "brook";
import Dexie from "dexie";
import { openDB, deleteDB } from "idb";

const PARTITIONS = 3;

function payload(bytes) {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  let text = "";
  for (let index = 0; index < bytes; index++) text += alphabet[(index * 7) % alphabet.length];
  return text;
}

function messages(total, size) {
  const value = payload(100);
  const sends = [];
  for (let first = 0; first < total; first += size) {
    const batch = [];
    for (let i = first; i < Math.min(total, first + size); i++) batch.push({ key: `key-${i % 10000}`, value });
    sends.push(batch);
  }
  return sends;
}

const rate = (records, started) => ({ value: records / ((performance.now() - started) / 1000) });

function request(operation) {
  return new Promise((resolve, reject) => {
    operation.onsuccess = () => resolve(operation.result);
    operation.onerror = () => reject(operation.error);
  });
}

function done(transaction) {
  return new Promise((resolve, reject) => {
    transaction.oncomplete = resolve;
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error);
  });
}

/** Opens a database: a new one with `stores`, or one brook wrote (at its version: no version asked). */
function openRaw(name, stores) {
  return new Promise((resolve, reject) => {
    const open = stores.length > 0 ? indexedDB.open(name, 1) : indexedDB.open(name);
    open.onupgradeneeded = () => stores.forEach((store) => open.result.createObjectStore(store));
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
}

function deleteRaw(name) {
  return request(indexedDB.deleteDatabase(name));
}

/** brook: sends of `size` keyed 100 B messages into a fresh IndexedDB log. */
export async function brookProduce({ name, total, size, durability }) {
  await deleteLog(name).catch(() => {});
  const log = await Log.open({ name, durability });
  await log.createTopic({ topic: "bench", partitions: PARTITIONS });
  const producer = log.producer();
  const sends = messages(total, size);
  const started = performance.now();
  for (const batch of sends) await producer.send({ topic: "bench", messages: batch });
  const result = rate(total, started);
  await log.close();
  return result;
}

/** One readwrite transaction per message. */
export async function naiveProduce({ name, total, durability }) {
  await deleteRaw(name);
  const db = await openRaw(name, ["records"]);
  const [sends] = [messages(total, total)];
  const started = performance.now();
  let offset = 0;
  for (const message of sends[0]) {
    const transaction = db.transaction("records", "readwrite", { durability });
    transaction.objectStore("records").put(message, offset++);
    await done(transaction);
  }
  const result = rate(total, started);
  db.close();
  return result;
}

/** idb: one put per message, 1,000 per transaction. */
export async function idbProduce({ name, total, durability }) {
  await deleteDB(name);
  const db = await openDB(name, 1, { upgrade: (d) => d.createObjectStore("records") });
  const sends = messages(total, 1000);
  const started = performance.now();
  let offset = 0;
  for (const batch of sends) {
    const transaction = db.transaction("records", "readwrite", { durability });
    for (const message of batch) transaction.store.put(message, offset++);
    await transaction.done;
  }
  const result = rate(total, started);
  db.close();
  return result;
}

/** Dexie: bulkPut of 1,000 at a time. */
export async function dexieProduce({ name, total }) {
  await Dexie.delete(name);
  const db = new Dexie(name);
  db.version(1).stores({ records: "++id" });
  const sends = messages(total, 1000);
  const started = performance.now();
  for (const batch of sends) await db.table("records").bulkPut(batch);
  const result = rate(total, started);
  db.close();
  return result;
}

/** The batches brook stored (its `batches` object store), with their keys, in key order. */
export async function storedBatches({ name }) {
  const db = await openRaw(name, []);
  const transaction = db.transaction("batches", "readonly");
  const store = transaction.objectStore("batches");
  const [keys, values] = await Promise.all([request(store.getAllKeys()), request(store.getAll())]);
  db.close();
  return keys.map((key, index) => [key, values[index]]);
}

/** The floor: brook's own batch values written in as many transactions as brook used (one per
 * send, each holding that send's batch per partition), with no encoding and no bookkeeping. */
export async function floorProduce({ name, source, total, size, durability }) {
  const batches = (await storedBatches({ name: source })).filter(([key]) => key[0] === "bench");
  const perSend = Math.ceil(total / size);
  // brook wrote one batch per partition per send: group the k-th batch of every partition.
  const byPartition = Array.from({ length: PARTITIONS }, () => []);
  for (const [key, value] of batches) byPartition[key[1]].push([key, value]);
  await deleteRaw(name);
  const db = await openRaw(name, ["batches"]);
  const started = performance.now();
  for (let send = 0; send < perSend; send++) {
    const transaction = db.transaction("batches", "readwrite", { durability });
    const store = transaction.objectStore("batches");
    for (const list of byPartition) if (list[send]) store.put(list[send][1], list[send][0]);
    await done(transaction);
  }
  const result = rate(total, started);
  db.close();
  return result;
}

/** Read back: open the log and consume every record (a fresh group, poll of 10,000). */
export async function brookRead({ name, total }) {
  const started = performance.now();
  const log = await Log.open({ name });
  const consumer = log.consumer({ groupId: `g${Math.random()}`, fromBeginning: true, autoCommit: false });
  await consumer.subscribe({ topic: "bench" });
  let read = 0;
  while (read < total) {
    const batch = await consumer.poll({ maxRecords: 10_000 });
    if (batch.length === 0) break;
    read += batch.length;
  }
  const result = rate(read, started);
  await log.close();
  if (read !== total) throw new Error(`read ${read} of ${total}`);
  return result;
}

export async function dexieRead({ name, total }) {
  const started = performance.now();
  const db = new Dexie(name);
  db.version(1).stores({ records: "++id" });
  const records = await db.table("records").toArray();
  const result = rate(records.length, started);
  db.close();
  if (records.length !== total) throw new Error(`dexie read ${records.length} of ${total}`);
  return result;
}

/** Raw getAll of the batch values brook stored: reading the bytes and nothing else. */
export async function rawRead({ name, total }) {
  const started = performance.now();
  const db = await openRaw(name, []);
  const transaction = db.transaction("batches", "readonly");
  await request(transaction.objectStore("batches").getAll());
  const result = rate(total, started);
  db.close();
  return result;
}

/** A log of `total` records of `valueBytes` in 3 partitions, for brookLargeRead. */
export async function brookLargeFill({ name, total, valueBytes }) {
  await deleteLog(name);
  const log = await Log.open({ name, durability: "relaxed" });
  await log.createTopic({ topic: "bench", partitions: PARTITIONS, segmentBytes: 64 * 1024 * 1024 });
  const producer = log.producer();
  const value = payload(valueBytes);
  for (let first = 0; first < total; first += 2000) {
    const batch = [];
    for (let i = first; i < Math.min(total, first + 2000); i++) batch.push({ key: `key-${i}`, value });
    await producer.send({ topic: "bench", messages: batch });
  }
  await log.close();
  return { bytes: total * (valueBytes + 12) };
}

/** brook's wasm memory, in bytes. */
async function wasmMemory() {
  const { default: init } = await import("/pkg/brook_core.js");
  return (await init()).memory.buffer.byteLength;
}

/** The wasm memory plus the JS heap (Chromium's performance.memory), in bytes. */
async function pageMemory() {
  return (await wasmMemory()) + (performance.memory?.usedJSHeapSize ?? 0);
}

/** Opens the log of brookLargeFill and reads it end to end: the growth at open and the peak. */
export async function brookLargeRead({ name, total }) {
  await Log.open().then((log) => log.close()); // the module is instantiated first
  const before = await pageMemory();
  const wasmBefore = await wasmMemory();
  const log = await Log.open({ name });
  const opened = await pageMemory();
  const consumer = log.consumer({ groupId: `g${Math.random()}`, fromBeginning: true, autoCommit: false, maxRecords: 1000 });
  await consumer.subscribe({ topic: "bench" });
  let read = 0;
  let peak = opened;
  while (read < total) {
    const batch = await consumer.poll();
    if (batch.length === 0) break;
    read += batch.length;
    if (read % 50_000 === 0) peak = Math.max(peak, await pageMemory());
  }
  peak = Math.max(peak, await pageMemory());
  const wasm = (await wasmMemory()) - wasmBefore;
  await log.close();
  if (read !== total) throw new Error(`read ${read} of ${total}`);
  return { open: opened - before, read: peak - before, wasm };
}
