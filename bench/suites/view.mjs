// Node, memory: a view's catch-up. From a cold start (a new view over a filled log), records
// per second until `ready`: brook's log.view (JSON values, latest per key) beside the loop an
// app would write by hand — a manual-commit consumer's eachBatch parsing each value into a Map
// and committing each batch — over the same log.

import { Log } from "../../js/node.js";
import { emit, keyOf, repeat, scaled } from "../lib/harness.mjs";

const GROUP = "Node, memory: a view's catch-up";
const total = scaled(100_000, 1000);
const PARTITIONS = 3;

const log = await Log.open();
await log.createTopic({ topic: "bench", partitions: PARTITIONS });
const producer = log.producer();
const pad = "x".repeat(70);
for (let first = 0; first < total; first += 10_000) {
  const messages = [];
  for (let index = first; index < Math.min(total, first + 10_000); index++) {
    messages.push({ key: keyOf(index), value: JSON.stringify({ n: index, pad }) });
  }
  await producer.send({ topic: "bench", messages });
}

let groups = 0;
const workload = `${total.toLocaleString("en-US")} keyed records (10,000 keys, 100 B JSON), ${PARTITIONS} partitions · cold start to caught up`;
const base = { group: GROUP, workload, metric: "records into the view", unit: "msgs/s", higher: true };

emit({
  ...base,
  system: "brook log.view",
  ...(await repeat(async () => {
    const started = performance.now();
    const view = log.view({ topic: "bench", groupId: `view-${groups++}`, decode: "json" });
    await view.ready;
    const seconds = (performance.now() - started) / 1000;
    if (view.size !== Math.min(total, 10_000)) throw new Error(`the view holds ${view.size} keys`);
    await view.close();
    return { value: total / seconds };
  })),
});

const decoder = new TextDecoder();
emit({
  ...base,
  system: "eachBatch into a Map, by hand",
  ...(await repeat(async () => {
    const started = performance.now();
    const table = new Map();
    const consumer = log.consumer({ groupId: `hand-${groups++}`, autoCommit: false, fromBeginning: true });
    await consumer.subscribe({ topic: "bench" });
    let seen = 0;
    await new Promise((resolve, reject) => {
      consumer
        .run({
          eachBatch: async ({ batch }) => {
            for (const message of batch.messages) table.set(decoder.decode(message.key), JSON.parse(decoder.decode(message.value)));
            const last = batch.messages[batch.messages.length - 1].offset;
            await consumer.commitOffsets([{ topic: "bench", partition: batch.partition, offset: last + 1 }]);
            seen += batch.messages.length;
            if (seen >= total) resolve();
          },
        })
        .catch(reject);
    });
    const seconds = (performance.now() - started) / 1000;
    await consumer.disconnect();
    return { value: total / seconds };
  })),
});

await log.close();
