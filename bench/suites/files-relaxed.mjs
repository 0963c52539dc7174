// Node, files, durability "relaxed": produce MB/s (of keys and values). brook's send to a file
// log, beside writeSync of the same RecordBatch bytes brook wrote, in the same batches and the
// same files (what brook adds: placement, encoding, CRC-32C, bookkeeping); better-sqlite3 in
// WAL mode, 100 rows per transaction, synchronous=NORMAL (no sync per commit); lmdb-js puts
// with noSync (written to the OS, not synced), awaited per send.

import Database from "better-sqlite3";
import { closeSync, openSync, readdirSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { open as openLmdb } from "lmdb";
import { Log } from "../../js/node.js";
import { PlainLog } from "../lib/plain-log.mjs";
import { emit, keyedMessages, label, payload, repeat, scaled, tempDir, timedSends } from "../lib/harness.mjs";

const GROUP = "Node, files, relaxed: produce";
const SIZES = [100, 1024];
const PARTITIONS = 3;
const SENDS = [1, 100, 10_000];
const MESSAGES = { 1: 20_000, 100: 200_000, 10_000: 300_000 };

function batches(size, value) {
  const count = Math.max(1, Math.ceil(10_000 / size));
  return Array.from({ length: count }, (_, index) => keyedMessages(size, index * size, value));
}

/** Bytes of keys and values per message, for MB/s. */
function payloadBytes(messages) {
  return messages.reduce((sum, m) => sum + Buffer.byteLength(m.key) + Buffer.byteLength(m.value), 0) / messages.length;
}

const toMB = (bytesPerMessage) => (result) => ({
  value: (result.value * bytesPerMessage) / 1e6,
  latencies: result.latencies,
});

/** brook's segment files of a log directory as batches: [{ partition, bytes }], in order. */
function storedBatches(path) {
  const perPartition = [];
  for (let partition = 0; partition < PARTITIONS; partition++) {
    const directory = join(path, `bench-${partition}`);
    const list = [];
    for (const name of readdirSync(directory).filter((n) => n.endsWith(".log")).sort()) {
      const file = readFileSync(join(directory, name));
      for (let at = 0; at < file.length; ) {
        const size = file.readInt32BE(at + 8) + 12;
        list.push(file.subarray(at, at + size));
        at += size;
      }
    }
    perPartition.push(list);
  }
  // Round-robin over partitions: as many writes, of the same sizes, as brook made.
  const ordered = [];
  for (let index = 0; perPartition.some((list) => index < list.length); index++) {
    perPartition.forEach((list, partition) => index < list.length && ordered.push({ partition, bytes: list[index] }));
  }
  return ordered;
}

async function brook(size, sends, total, perMessage) {
  let lastPath = null;
  const figure = await repeat(async () => {
    const path = tempDir();
    const log = await Log.open({ path, durability: "relaxed" });
    await log.createTopic({ topic: "bench", partitions: PARTITIONS, segmentBytes: 1 << 30 });
    const producer = log.producer();
    const result = await timedSends(total / size, size, (index) =>
      producer.send({ topic: "bench", messages: sends[index % sends.length] }),
    );
    await log.close();
    lastPath = path;
    return toMB(perMessage)(result);
  });
  return { figure, path: lastPath };
}

async function raw(stored, size, total, perMessage) {
  const writes = stored.length;
  return repeat(async () => {
    const directory = tempDir();
    const files = Array.from({ length: PARTITIONS }, (_, p) => openSync(join(directory, `p${p}.log`), "a"));
    const started = performance.now();
    for (const { partition, bytes } of stored) {
      for (let done = 0; done < bytes.length; ) done += writeSync(files[partition], bytes, done);
    }
    const seconds = (performance.now() - started) / 1000;
    files.forEach(closeSync);
    return { value: ((total * perMessage) / 1e6) / seconds, writes };
  });
}

async function sqlite(sends, size, total, perMessage) {
  const placement = new PlainLog(PARTITIONS);
  return repeat(async () => {
    const database = new Database(join(tempDir(), "bench.db"));
    database.pragma("journal_mode = WAL");
    database.pragma("synchronous = NORMAL");
    database.exec("CREATE TABLE records (partition INTEGER, offset INTEGER, key TEXT, value TEXT, PRIMARY KEY (partition, offset))");
    const insert = database.prepare("INSERT INTO records VALUES (?, ?, ?, ?)");
    const next = new Array(PARTITIONS).fill(0);
    let pending = [];
    const commit = database.transaction((rows) => {
      for (const row of rows) insert.run(row);
    });
    const result = await timedSends(total / size, size, async (index) => {
      const messages = sends[index % sends.length];
      const placed = placement.send(messages);
      for (let at = 0; at < messages.length; at++) {
        const { partition } = placed[at];
        pending.push([partition, next[partition]++, messages[at].key, messages[at].value]);
        if (pending.length === 100) {
          commit(pending);
          pending = [];
        }
      }
    });
    if (pending.length) commit(pending);
    database.close();
    return toMB(perMessage)(result);
  });
}

async function lmdb(sends, size, total, perMessage) {
  const placement = new PlainLog(PARTITIONS);
  return repeat(async () => {
    const database = openLmdb({ path: join(tempDir(), "bench.lmdb"), encoding: "binary", noSync: true });
    const next = new Array(PARTITIONS).fill(0);
    const result = await timedSends(total / size, size, async (index) => {
      const messages = sends[index % sends.length];
      const placed = placement.send(messages);
      let last;
      for (let at = 0; at < messages.length; at++) {
        const { partition } = placed[at];
        last = database.put([partition, next[partition]++], Buffer.from(messages[at].value));
      }
      await last;
    });
    await database.close();
    return toMB(perMessage)(result);
  });
}

for (const bytes of SIZES) {
  const value = payload(bytes);
  for (const size of SENDS) {
    const total = scaled(Math.max(size, Math.round(MESSAGES[size] / (bytes > 100 ? 4 : 1))), size);
    const sends = batches(size, value);
    const perMessage = payloadBytes(sends[0]);
    const workload = `${label(bytes)} · ${PARTITIONS} partitions · sends of ${size.toLocaleString("en")}`;
    const base = { group: GROUP, workload, metric: "throughput", unit: "MB/s", higher: true };
    const { figure, path } = await brook(size, sends, total, perMessage);
    emit({ ...base, system: "brook", ...figure });
    emit({ ...base, system: "writeSync of the same bytes", ...(await raw(storedBatches(path), size, total, perMessage)) });
    emit({ ...base, system: "better-sqlite3", ...(await sqlite(sends, size, total, perMessage)) });
    emit({ ...base, system: "lmdb-js", ...(await lmdb(sends, size, total, perMessage)) });
  }
}
