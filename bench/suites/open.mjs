// Node, files: open. A log of 200,000 and one of 2,000,000 records (100 B values, 3 partitions)
// is opened in a fresh process until offsets() answers — the first open, wasm module
// instantiation included — beside readFileSync of all its files, also in a fresh process.
// Both after a first read, so that the page cache holds the files for both.

import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Log } from "../../js/node.js";
import { emit, keyedMessages, payload, repeat, scaled, tempDir } from "../lib/harness.mjs";

const GROUP = "Node, files: open";
const child = fileURLToPath(new URL("./open-child.mjs", import.meta.url));

function run(mode, path) {
  return JSON.parse(execFileSync(process.execPath, [child, mode, path], { encoding: "utf8" }));
}

const value = payload(100);
for (const records of [scaled(200_000, 10_000), scaled(2_000_000, 20_000)]) {
  const path = tempDir();
  const log = await Log.open({ path, durability: "relaxed" });
  await log.createTopic({ topic: "bench", partitions: 3 });
  const producer = log.producer();
  for (let first = 0; first < records; first += 10_000) {
    await producer.send({ topic: "bench", messages: keyedMessages(Math.min(10_000, records - first), first, value) });
  }
  await log.close();
  const workload = `${records.toLocaleString("en")} records · 100 B · 3 partitions`;
  const base = { group: GROUP, workload, metric: "time to open", unit: "ms", higher: false };
  emit({
    ...base,
    system: "brook Log.open + offsets()",
    ...(await repeat(async () => {
      const { ms, records: found } = run("brook", path);
      if (found !== records) throw new Error(`opened ${found} of ${records} records`);
      return { value: ms };
    })),
  });
  emit({ ...base, system: "readFileSync of its files", ...(await repeat(async () => ({ value: run("raw", path).ms }))) });
}
