// Logs larger than memory should be: a 2 GiB file log in Node and a 300 MB IndexedDB log in
// Chromium, each opened in a fresh process (page) and read end to end. Reported: how much
// the process grew (Node: resident set; browser: the wasm memory plus the JS heap, garbage
// included), and how much of that is brook's own wasm memory (index, cache, buffers), beside
// the log's own size, which is what an engine that loads the log would need at least.
// Each measurement runs once per repetition in a fresh child process or after a reload.

import { execFileSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readFileSync } from "node:fs";
import * as core from "../../pkg/node/brook_core.js";
import { Log } from "../../js/node.js";
import { emit, payload, repeat, scaled, tempDir } from "../lib/harness.mjs";

const GROUP = "Logs larger than memory: growth at open and read";
const MiB = 2 ** 20;

function sizeOf(directory) {
  let bytes = 0;
  for (const name of readdirSync(directory)) {
    const full = join(directory, name);
    bytes += statSync(full).isDirectory() ? sizeOf(full) : statSync(full).size;
  }
  return bytes;
}

/** The wasm memory of brook's instance (its index, cache and buffers), in bytes. */
function wasmMemory() {
  // brook instantiated the module already; initSync hands back that instance's exports.
  return core.initSync({ module: readFileSync(new URL("../../pkg/node/brook_core_bg.wasm", import.meta.url)) }).memory.buffer.byteLength;
}

async function child(path, records) {
  const rss = () => process.memoryUsage().rss;
  // The module is instantiated before the first reading: its code is not the log's.
  await Log.open().then((log) => log.close());
  globalThis.gc();
  const before = { rss: rss(), wasm: wasmMemory() };
  const log = await Log.open({ path });
  const total = log.offsets("bench").reduce((sum, o) => sum + o.high, 0);
  const opened = rss();
  const consumer = log.consumer({ groupId: "reader", fromBeginning: true, autoCommit: false, maxRecords: 1000 });
  await consumer.subscribe({ topic: "bench" });
  let read = 0;
  let peak = opened;
  while (read < records) {
    const batch = await consumer.poll();
    if (batch.length === 0) break;
    read += batch.length;
    if (read % 100_000 === 0) peak = Math.max(peak, rss());
  }
  const wasm = wasmMemory();
  await log.close();
  if (read !== records || total !== records) throw new Error(`read ${read} of ${records} (offsets say ${total})`);
  return { open: opened - before.rss, read: peak - before.rss, wasm: wasm - before.wasm };
}

if (process.argv[2] === "child") {
  process.stdout.write(`${JSON.stringify(await child(process.argv[3], Number(process.argv[4])))}\n`);
} else {
  const script = fileURLToPath(import.meta.url);
  const measure = (path, records) => JSON.parse(execFileSync(process.execPath, ["--expose-gc", script, "child", path, String(records)], { encoding: "utf8" }));

  // Node: 2,000,000 records of 1 KiB in 3 partitions, about 2 GiB of segments.
  const records = scaled(2_000_000, 20_000);
  const path = tempDir();
  const writer = await Log.open({ path, durability: "relaxed" });
  await writer.createTopic({ topic: "bench", partitions: 3, segmentBytes: 256 * MiB });
  const producer = writer.producer();
  const value = payload(1024);
  for (let first = 0; first < records; first += 10_000) {
    const messages = Array.from({ length: Math.min(10_000, records - first) }, (_, i) => ({ key: `key-${first + i}`, value }));
    await producer.send({ topic: "bench", messages });
  }
  await writer.close();
  const workload = `Node, files: ${records.toLocaleString("en")} records · 1 KiB · 3 partitions`;
  const base = { group: GROUP, metric: "memory", unit: "MiB", higher: false };
  emit({ ...base, workload, system: "the log's size", samples: [sizeOf(path) / MiB] });
  const runs = [];
  const samples = await repeat(async () => {
    const run = measure(path, records);
    runs.push(run);
    return { value: run.open / MiB };
  }, { warmups: 0 });
  emit({ ...base, workload, system: "brook: growth at open", ...samples });
  emit({ ...base, workload, system: "brook: peak growth reading it all (16 MiB cache)", samples: runs.map((r) => r.read / MiB) });
  emit({ ...base, workload, system: "brook's wasm memory after reading it all", samples: runs.map((r) => r.wasm / MiB) });

  // Chromium: 300,000 records of 1 KiB in IndexedDB, about 300 MB.
  const { startServer } = await import("../../scripts/serve.mjs");
  const { launch } = await import("../lib/browsers.mjs");
  const { server, url } = await startServer(0, { extra: ["/bench/browser/", "/bench/node_modules/dexie/", "/bench/node_modules/idb/"] });
  const browser = await launch("chromium");
  try {
    const page = await browser.newPage();
    await page.goto(url.replace(/www\/$/, "bench/browser/page.html"));
    await page.waitFor(() => window.ready === true);
    const call = (name, argument) => page.evaluate(({ name, argument }) => window.workloads[name](argument), { name, argument });
    const total = scaled(300_000, 3000);
    const { bytes } = await call("brookLargeFill", { name: "large", total, valueBytes: 1024 });
    const browserWorkload = `Browser (${browser.version}), IndexedDB: ${total.toLocaleString("en")} records · 1 KiB · 3 partitions`;
    emit({ ...base, workload: browserWorkload, system: "the log's size", samples: [bytes / MiB] });
    const reads = [];
    const opens = await repeat(async () => {
      await page.reload();
      await page.waitFor(() => window.ready === true);
      const run = await call("brookLargeRead", { name: "large", total });
      reads.push(run);
      return { value: run.open / MiB };
    }, { warmups: 0 });
    emit({ ...base, workload: browserWorkload, system: "brook: growth at open", ...opens });
    emit({ ...base, workload: browserWorkload, system: "brook: peak growth reading it all (16 MiB cache)", samples: reads.map((r) => r.read / MiB) });
    emit({ ...base, workload: browserWorkload, system: "brook's wasm memory after reading it all", samples: reads.map((r) => r.wasm / MiB) });
  } finally {
    await browser.close();
    server.close();
  }
}
