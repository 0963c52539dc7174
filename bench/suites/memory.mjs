// Memory per record held. Each figure is measured in a fresh process (the wasm memory of an
// instance only ever grows, so a second log in one process would reuse the first one's):
// an in-memory log of 1,000,000 records (100 B values, 1 partition, sends of 10,000) and one of
// 100,000 sent one at a time — growth of V8's heap, external memory and the wasm memory, per
// record, beside the payload (key and value bytes);
// a file log (3 partitions) of 200,000 and of 2,000,000 records opened and read end to end — the same growth,
// in MiB, which should not depend on the log's size.

import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as core from "../../pkg/node/brook_core.js";
import { Log } from "../../js/node.js";
import { emit, keyedMessages, payload, repeat, scaled, tempDir } from "../lib/harness.mjs";

const GROUP = "Memory per record held";
const value = payload(100);

// Node 20 counts a WebAssembly.Memory's pages in `external`: adding the wasm memory to it would
// count brook's heap twice. Asked of this Node rather than assumed.
const EXTERNAL_HOLDS_WASM = (() => {
  const probe = new WebAssembly.Memory({ initial: 0 });
  const before = process.memoryUsage().external;
  probe.grow(16);
  return process.memoryUsage().external - before >= 16 * 65536;
})();

function used() {
  globalThis.gc();
  globalThis.gc();
  // brook instantiated the module already; initSync hands back that instance's exports.
  const wasm = core.initSync({ module: readFileSync(new URL("../../pkg/node/brook_core_bg.wasm", import.meta.url)) });
  const { heapUsed, external } = process.memoryUsage();
  return heapUsed + external + (EXTERNAL_HOLDS_WASM ? 0 : wasm.memory.buffer.byteLength);
}

async function fill(log, records, partitions, sendSize = 10_000) {
  await log.createTopic({ topic: "bench", partitions });
  const producer = log.producer();
  for (let first = 0; first < records; first += sendSize) {
    await producer.send({ topic: "bench", messages: keyedMessages(Math.min(sendSize, records - first), first, value) });
  }
}

async function child(kind, records, path) {
  await Log.open().then((log) => log.close()); // the module is instantiated before the first reading
  const before = used();
  if (kind === "memory" || kind === "memory-single") {
    const log = await Log.open();
    await fill(log, records, 1, kind === "memory" ? 10_000 : 1);
    return { grown: used() - before, log };
  }
  const log = await Log.open({ path });
  const consumer = log.consumer({ groupId: "reader", fromBeginning: true, autoCommit: false });
  await consumer.subscribe({ topic: "bench" });
  let read = 0;
  while (read < records) read += (await consumer.poll({ maxRecords: 10_000 })).length;
  return { grown: used() - before, log };
}

if (process.argv[2] === "child") {
  const [, , , kind, records, path] = process.argv;
  const { grown, log } = await child(kind, Number(records), path);
  process.stdout.write(`${grown}\n`);
  await log.close();
} else {
  const script = fileURLToPath(import.meta.url);
  const measure = (...args) =>
    Number(execFileSync(process.execPath, ["--expose-gc", script, "child", ...args.map(String)], { encoding: "utf8" }));
  const records = scaled(1_000_000, 10_000);
  const payloadPerRecord = (count) =>
    keyedMessages(count, 0, value).reduce((s, m) => s + m.key.length + m.value.length, 0) / count;
  const perRecord = payloadPerRecord(records);
  const base = { group: GROUP, metric: "memory", higher: false };
  emit({ ...base, workload: "per record, in memory", system: "payload (key + value)", unit: "B", samples: [perRecord] });
  emit({
    ...base,
    workload: "per record, in memory",
    system: "brook, memory log",
    unit: "B",
    ...(await repeat(async () => ({ value: measure("memory", records) / records }), { warmups: 0 })),
  });
  // One record per send, awaited: each send writes its own RecordBatch (61 B of header), which
  // a memory log merges 16 at a time (partition.rs).
  const singles = scaled(100_000, 2_000);
  emit({ ...base, workload: "per record, in memory, sends of 1", system: "payload (key + value)", unit: "B", samples: [payloadPerRecord(singles)] });
  emit({
    ...base,
    workload: "per record, in memory, sends of 1",
    system: "brook, memory log",
    unit: "B",
    ...(await repeat(async () => ({ value: measure("memory-single", singles) / singles }), { warmups: 0 })),
  });
  for (const size of [scaled(200_000, 10_000), scaled(2_000_000, 20_000)]) {
    const path = tempDir();
    const writer = await Log.open({ path, durability: "relaxed" });
    await fill(writer, size, 3);
    await writer.close();
    emit({
      ...base,
      workload: `file log read end to end, ${size.toLocaleString("en")} records`,
      system: "brook, file log",
      unit: "MiB",
      ...(await repeat(async () => ({ value: measure("file", size, path) / 2 ** 20 }), { warmups: 0 })),
    });
  }
}
