// The wasm boundary: what crossing into wasm costs. One send of 10,000 messages beside 10,000
// sends of 1 (memory log, 100 B values, 1 partition), as microseconds per record; and sends of
// 10,000 whose values are strings beside the same bytes as Uint8Arrays.

import { Log } from "../../js/node.js";
import { emit, keyedMessages, payload, repeat, scaled, timedSends } from "../lib/harness.mjs";

const GROUP = "Wasm boundary";
const value = payload(100);
const bytes = new TextEncoder().encode(value);

async function perRecord(size, count, messagesOf) {
  return repeat(async () => {
    const log = await Log.open();
    await log.createTopic({ topic: "bench", partitions: 1 });
    const producer = log.producer();
    const sends = Array.from({ length: Math.min(count, 100) }, (_, i) => messagesOf(i));
    const { value: rate, latencies } = await timedSends(count, size, (index) =>
      producer.send({ topic: "bench", messages: sends[index % sends.length] }),
    );
    await log.close();
    return { value: 1e6 / rate, latencies };
  });
}

const base = { group: GROUP, metric: "cost per record", unit: "µs", higher: false };
const records = scaled(10_000, 200);
emit({
  ...base,
  workload: "100 B · per record",
  system: "brook, sends of 1",
  ...(await perRecord(1, records, (i) => keyedMessages(1, i, value))),
});
emit({
  ...base,
  workload: "100 B · per record",
  system: "brook, one send of 10,000",
  ...(await perRecord(records, 20, () => keyedMessages(records, 0, value))),
});
const withBytes = keyedMessages(records, 0, value).map((m) => ({ key: m.key, value: bytes }));
emit({
  ...base,
  workload: "100 B values, sends of 10,000 · per record",
  system: "brook, string values",
  ...(await perRecord(records, 20, () => keyedMessages(records, 0, value))),
});
emit({
  ...base,
  workload: "100 B values, sends of 10,000 · per record",
  system: "brook, Uint8Array values",
  ...(await perRecord(records, 20, () => withBytes)),
});
