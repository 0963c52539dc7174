// Micro-benchmark (not a test): messages per second through brook's send and consume (poll +
// decode) at batch sizes 1, 100 and 10,000, in memory and on files (durability relaxed), each
// beside a plain-JS baseline measured in the same run — a JS array for memory, length-prefixed
// records written with fs.writeSync to one file for files — reported as brook/baseline.
//
//   node bench/send-consume.mjs

import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Log } from "../js/node.js";

const VALUE = "v".repeat(100);
/** Messages per run, by batch size: enough for a stable rate, few enough to stay quick. */
const TOTALS = new Map([
  [1, 20_000],
  [100, 200_000],
  [10_000, 200_000],
]);

function batchOf(size, first) {
  return Array.from({ length: size }, (_, i) => ({
    key: `key-${(first + i) % 1000}`,
    value: VALUE,
  }));
}

/** Rate of `run(batchIndex)` over `total / size` batches, in messages per second. */
async function rate(total, size, run) {
  const started = performance.now();
  for (let batch = 0; batch < total / size; batch++) await run(batch);
  return total / ((performance.now() - started) / 1000);
}

async function brookRates(options, size, total) {
  const log = await Log.open(options);
  await log.createTopic({ topic: "bench", partitions: 1 });
  const producer = log.producer();
  const batch = batchOf(size, 0);
  const send = await rate(total, size, () => producer.send({ topic: "bench", messages: batch }));
  // No auto commit: this measures poll + decode, not a commit write per poll.
  const consumer = log.consumer({
    groupId: "bench",
    autoCommit: false,
    fromBeginning: true,
    maxRecords: size,
    maxBytes: 2 ** 30,
  });
  await consumer.subscribe({ topic: "bench" });
  let read = 0;
  const consume = await rate(total, size, async () => {
    read += (await consumer.poll()).length;
  });
  if (read !== total) throw new Error(`read ${read} of ${total}`);
  await log.close();
  return { send, consume };
}

async function memoryBaseline(size, total) {
  const log = [];
  const batch = batchOf(size, 0);
  const send = await rate(total, size, async () => {
    for (const message of batch)
      log.push({ key: message.key, value: message.value, timestamp: Date.now() });
  });
  let position = 0;
  let bytes = 0;
  const consume = await rate(total, size, async () => {
    for (const message of log.slice(position, position + size)) bytes += message.value.length;
    position += size;
  });
  if (bytes !== total * VALUE.length) throw new Error("baseline read short");
  return { send, consume };
}

/** One buffer of u32-length-prefixed values per batch, one writeSync per batch. */
function encodeBatch(batch) {
  const values = batch.map((message) => Buffer.from(message.value));
  const out = Buffer.allocUnsafe(values.reduce((sum, value) => sum + 4 + value.length, 0));
  let at = 0;
  for (const value of values) {
    out.writeUInt32LE(value.length, at);
    value.copy(out, at + 4);
    at += 4 + value.length;
  }
  return out;
}

async function fileBaseline(directory, size, total) {
  const path = join(directory, "baseline.log");
  const batch = batchOf(size, 0);
  const fd = openSync(path, "a+");
  const send = await rate(total, size, async () => {
    writeSync(fd, encodeBatch(batch));
  });
  const recordBytes = 4 + VALUE.length;
  const buffer = Buffer.allocUnsafe(size * recordBytes);
  let position = 0;
  let read = 0;
  const consume = await rate(total, size, async () => {
    const length = readSync(fd, buffer, 0, buffer.length, position);
    for (let at = 0; at < length;) {
      const valueLength = buffer.readUInt32LE(at);
      const value = buffer.subarray(at + 4, at + 4 + valueLength);
      read += value.length > 0 ? 1 : 0;
      at += 4 + valueLength;
    }
    position += length;
  });
  closeSync(fd);
  if (read !== total) throw new Error(`baseline read ${read} of ${total}`);
  return { send, consume };
}

function format(rate) {
  return `${Math.round(rate).toLocaleString("en-US").padStart(11)}/s`;
}

function report(label, size, brook, baseline) {
  for (const side of ["send", "consume"]) {
    const ratio = (brook[side] / baseline[side]).toFixed(2);
    console.log(
      `${label.padEnd(7)} ${String(size).padStart(6)}  ${side.padEnd(8)} brook ${format(brook[side])}   baseline ${format(baseline[side])}   brook/baseline ${ratio}`,
    );
  }
}

const directory = mkdtempSync(join(tmpdir(), "brook-bench-"));
const started = performance.now();
try {
  console.log("storage  batch  side     messages/s (key ~7 B, value 100 B, 1 partition)");
  for (const [size, total] of TOTALS) {
    report("memory", size, await brookRates({}, size, total), await memoryBaseline(size, total));
  }
  for (const [size, total] of TOTALS) {
    const path = join(directory, `brook-${size}`);
    const brook = await brookRates({ path, durability: "relaxed" }, size, total);
    report("files", size, brook, await fileBaseline(directory, size, total));
    rmSync(join(directory, "baseline.log"), { force: true });
  }
} finally {
  rmSync(directory, { recursive: true, force: true });
}
console.log(`(${((performance.now() - started) / 1000).toFixed(1)} s)`);
