// Node, files, durability "strict": produce msgs/s. brook's send, each acknowledged once it is
// fsynced, from 1 and from 16 concurrent senders, in sends of 100 and of 1 (keyed, 100 B, 3
// partitions); concurrent sends share one flush (group commit). Beside: one fdatasync per
// record; writeSync + fdatasync of each of the same batches brook writes; hypercore 11
// appending the same batches (one core per partition; hypercore stores in RocksDB, whose
// writes are not synced per append — it is the embedded-log peer, not a durability peer).
// Each repetition runs for about a second.

import Hypercore from "hypercore";
import { closeSync, fdatasyncSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { Log } from "../../js/node.js";
import { PlainLog } from "../lib/plain-log.mjs";
import { emit, keyedMessages, payload, repeat, tempDir } from "../lib/harness.mjs";

const GROUP = "Node, files, strict: produce";
const PARTITIONS = 3;
const SECONDS = process.env.BENCH_QUICK === "1" ? 0.1 : 1;
const value = payload(100);

/** Runs `senders` loops of `operation(sender)` (each moving `size` messages) for SECONDS. */
async function timeBoxed(senders, size, operation) {
  const latencies = [];
  let operations = 0;
  const started = performance.now();
  const deadline = started + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: senders }, async (_, sender) => {
      while (performance.now() < deadline) {
        const before = performance.now();
        await operation(sender, operations);
        latencies.push(performance.now() - before);
        operations += 1;
      }
    }),
  );
  return { value: (operations * size) / ((performance.now() - started) / 1000), latencies };
}

const sendsOf = (size) =>
  Array.from({ length: Math.ceil(10_000 / size) }, (_, index) => keyedMessages(size, index * size, value));

async function brook(senders, size) {
  const sends = sendsOf(size);
  return repeat(async () => {
    const log = await Log.open({ path: tempDir() });
    await log.createTopic({ topic: "bench", partitions: PARTITIONS });
    const producer = log.producer();
    const result = await timeBoxed(senders, size, (sender, index) =>
      producer.send({ topic: "bench", messages: sends[(index + sender) % sends.length] }),
    );
    await log.close();
    return result;
  });
}

/** The RecordBatch bytes brook writes for sends of 100 (one batch per partition per send). */
async function brookBatches() {
  const path = tempDir();
  const log = await Log.open({ path, durability: "relaxed" });
  await log.createTopic({ topic: "bench", partitions: PARTITIONS });
  const producer = log.producer();
  const batches = [];
  for (const messages of sendsOf(100)) {
    const placed = await producer.send({ topic: "bench", messages });
    const perPartition = new Map();
    placed.forEach((p, i) => perPartition.set(p.partition, [...(perPartition.get(p.partition) ?? []), messages[i]]));
    batches.push([...perPartition.entries()]);
  }
  await log.close();
  // Re-encode each send's partition batches as brook does: read them back from the files.
  const { readdirSync, readFileSync } = await import("node:fs");
  const stored = [];
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
    stored.push(list);
  }
  return { stored, sends: batches };
}

async function fsyncPerRecord() {
  const records = sendsOf(1).map(([m]) => Buffer.from(`${m.key}\u0000${m.value}`));
  return repeat(async () => {
    const fd = openSync(join(tempDir(), "records.log"), "a");
    const result = await timeBoxed(1, 1, async (_, index) => {
      writeSync(fd, records[index % records.length]);
      fdatasyncSync(fd);
    });
    closeSync(fd);
    return result;
  });
}

async function rawPerBatch(stored) {
  return repeat(async () => {
    const directory = tempDir();
    const files = Array.from({ length: PARTITIONS }, (_, p) => openSync(join(directory, `p${p}.log`), "a"));
    const result = await timeBoxed(1, 100, async (_, index) => {
      // One send of 100: its batch in each partition, each written and synced.
      for (let partition = 0; partition < PARTITIONS; partition++) {
        const list = stored[partition];
        writeSync(files[partition], list[index % list.length]);
        fdatasyncSync(files[partition]);
      }
    });
    files.forEach(closeSync);
    return result;
  });
}

async function hypercore(sends) {
  const buffers = sends.map((send) => send.map(([partition, messages]) => [partition, messages.map((m) => Buffer.from(m.value))]));
  return repeat(async () => {
    const directory = tempDir();
    const cores = Array.from({ length: PARTITIONS }, (_, p) => new Hypercore(join(directory, `p${p}`)));
    await Promise.all(cores.map((core) => core.ready()));
    const result = await timeBoxed(1, 100, async (_, index) => {
      for (const [partition, values] of buffers[index % buffers.length]) await cores[partition].append(values);
    });
    await Promise.all(cores.map((core) => core.close()));
    return result;
  });
}

const workload = (senders, size) =>
  `100 B · ${PARTITIONS} partitions · ${senders} sender${senders > 1 ? "s" : ""} of ${size}`;
const base = { group: GROUP, metric: "throughput", unit: "msgs/s", higher: true };
for (const [senders, size] of [[1, 100], [16, 100], [1, 1], [16, 1]]) {
  emit({ ...base, workload: workload(senders, size), system: "brook", ...(await brook(senders, size)) });
}
const { stored, sends } = await brookBatches();
emit({ ...base, workload: "one record per fdatasync", system: "fdatasync per record", ...(await fsyncPerRecord()) });
emit({ ...base, workload: workload(1, 100), system: "writeSync + fdatasync per batch", ...(await rawPerBatch(stored)) });
emit({ ...base, workload: workload(1, 100), system: "hypercore 11", ...(await hypercore(sends)) });
void PlainLog;
