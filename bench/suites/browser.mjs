// Browsers (headless Chromium and Firefox, WebKitGTK under Xvfb), IndexedDB: persisted produce and reading everything back after a reload.
// Produce: brook's send (sends of 1,000 keyed 100 B messages, 3 partitions) beside one
// transaction per message; idb, one put per message and 1,000 per transaction; Dexie's
// bulkPut of 1,000; and the floor — the very batch values brook stored, written in as many
// transactions as brook used. All transactions use the durability brook's run uses
// ("relaxed"; brook's default "strict" is shown too). Read back, after a reload: brook's open
// and consume of every record, beside Dexie's toArray and a raw getAll of brook's batches.

import { startServer } from "../../scripts/serve.mjs";
import { ENGINES, launch } from "../lib/browsers.mjs";
import { emit, repeat, scaled } from "../lib/harness.mjs";

const RECORDS = scaled(50_000, 2000);
const NAIVE_RECORDS = scaled(1000, 50);
const SIZE = 1000;

const { server, url } = await startServer(0, {
  extra: ["/bench/browser/", "/bench/node_modules/dexie/", "/bench/node_modules/idb/"],
});
const pageUrl = url.replace(/www\/$/, "bench/browser/page.html");
const engines = (process.env.BENCH_ENGINES ?? ENGINES.join(",")).split(",");

try {
  for (const engine of engines) {
    const browser = await launch(engine);
    try {
      const page = await browser.newPage();
      await page.goto(pageUrl);
      await page.waitFor(() => window.ready === true);
      const call = (name, argument) => page.evaluate(({ name, argument }) => window.workloads[name](argument), { name, argument });
      const produce = { group: `Browser (${browser.version}), IndexedDB: persisted produce`, metric: "throughput", unit: "msgs/s", higher: true };
      const workload = `${RECORDS.toLocaleString("en")} records · 100 B · 3 partitions · sends of ${SIZE.toLocaleString("en")}`;
      let run = 0;
      let source = null;
      const brookRun = (durability) => () => {
        const name = `brook-${durability}-${run++}`;
        if (durability === "relaxed") source = name;
        return call("brookProduce", { name, total: RECORDS, size: SIZE, durability });
      };
      emit({ ...produce, workload, system: "brook (relaxed)", ...(await repeat(brookRun("relaxed"))) });
      emit({ ...produce, workload, system: "brook (strict)", ...(await repeat(brookRun("strict"))) });
      emit({ ...produce, workload, system: "one transaction per message", ...(await repeat(() => call("naiveProduce", { name: "naive", total: NAIVE_RECORDS, durability: "relaxed" }))) });
      emit({ ...produce, workload, system: "idb, 1,000 puts per transaction", ...(await repeat(() => call("idbProduce", { name: "idb", total: RECORDS, durability: "relaxed" }))) });
      emit({ ...produce, workload, system: "Dexie bulkPut", ...(await repeat(() => call("dexieProduce", { name: "dexie", total: RECORDS }))) });
      emit({ ...produce, workload, system: "the floor: brook's batches, as many transactions", ...(await repeat(() => call("floorProduce", { name: "floor", source, total: RECORDS, size: SIZE, durability: "relaxed" }))) });

      const read = { group: `Browser (${browser.version}): read everything back after a reload`, metric: "throughput", unit: "msgs/s", higher: true };
      const readWorkload = `${RECORDS.toLocaleString("en")} records · 100 B · 3 partitions`;
      const afterReload = (name, argument) => async () => {
        await page.reload();
        await page.waitFor(() => window.ready === true);
        return call(name, argument);
      };
      emit({ ...read, workload: readWorkload, system: "brook open + consume", ...(await repeat(afterReload("brookRead", { name: source, total: RECORDS }))) });
      emit({ ...read, workload: readWorkload, system: "Dexie toArray", ...(await repeat(afterReload("dexieRead", { name: "dexie", total: RECORDS }))) });
      emit({ ...read, workload: readWorkload, system: "raw getAll of brook's batches", ...(await repeat(afterReload("rawRead", { name: source, total: RECORDS }))) });
      await page.close();
    } finally {
      await browser.close();
    }
  }
} finally {
  server.close();
}
