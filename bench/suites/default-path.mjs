// Node: the README's default path. The first example of the README consumes with
// eachMessage and the defaults — auto commit on, durability "strict", a file log — beside
// eachBatch on the same log. Each repetition reads with a fresh group for at most two seconds
// (or to the end of the log) and reports records per second.

import { Log } from "../../js/node.js";
import { emit, keyedMessages, payload, repeat, scaled, tempDir } from "../lib/harness.mjs";

const GROUP = "Node: the README's default path";
const RECORDS = scaled(50_000, 1000);
const SECONDS_MAX = Number(process.env.BENCH_QUICK === "1" ? 0.2 : 2);

const path = tempDir();
const log = await Log.open({ path });
await log.createTopic({ topic: "inventory", partitions: 3 });
const producer = log.producer();
const value = payload(100);
for (let first = 0; first < RECORDS; first += 10_000) {
  await producer.send({ topic: "inventory", messages: keyedMessages(Math.min(10_000, RECORDS - first), first, value) });
}

let groups = 0;
/** Records per second that `run` delivers to a fresh group within SECONDS_MAX. */
function measure(handler) {
  return repeat(async () => {
    const consumer = log.consumer({ groupId: `g${groups++}`, fromBeginning: true });
    await consumer.subscribe({ topic: "inventory" });
    let seen = 0;
    const started = performance.now();
    await new Promise((resolve, reject) => {
      const deadline = setTimeout(resolve, SECONDS_MAX * 1000);
      const count = (n) => {
        seen += n;
        if (seen >= RECORDS) {
          clearTimeout(deadline);
          resolve();
        }
      };
      consumer.run(handler(count)).catch(reject);
    });
    const seconds = (performance.now() - started) / 1000;
    await consumer.disconnect();
    return { value: seen / seconds };
  });
}

const base = { group: GROUP, workload: "100 B · 3 partitions · files, strict", metric: "throughput", unit: "msgs/s", higher: true };
emit({ ...base, system: "brook eachMessage (defaults)", ...(await measure((count) => ({ eachMessage: async () => count(1) }))) });
emit({ ...base, system: "brook eachBatch", ...(await measure((count) => ({ eachBatch: async ({ batch }) => count(batch.messages.length) }))) });
await log.close();
