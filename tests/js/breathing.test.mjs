// A producer that sends as fast as it can must not take the thread: timers and in-process
// consumers keep running while `await producer.send()` loops, whatever the storage.

import assert from "node:assert/strict";
import { test } from "node:test";
import { Log } from "../../js/node.js";
import { tempDir } from "./helpers.mjs";

for (const [label, options] of [
  ["memory", () => ({})],
  ["files, relaxed", (t) => ({ path: tempDir(t), durability: "relaxed" })],
  ["files, strict", (t) => ({ path: tempDir(t) })],
]) {
  test(`a send loop lets timers and consumers run (${label})`, async (t) => {
    const log = await Log.open(options(t));
    t.after(() => log.close());
    await log.createTopic({ topic: "t", partitions: 2 });
    const consumer = log.consumer({ groupId: "g", fromBeginning: true });
    await consumer.subscribe({ topic: "t" });
    let delivered = 0;
    await consumer.run({ eachMessage: async () => void delivered++ });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const producer = log.producer();
    let sent = 0;
    const end = Date.now() + 500;
    while (Date.now() < end) {
      await producer.send({ topic: "t", messages: [{ value: `v${sent}` }] });
      sent += 1;
    }
    clearInterval(timer);
    // 50 ticks would be perfect; before brook yielded, there were none.
    assert.ok(ticks >= 10, `${ticks} ticks of a 10 ms timer in 500 ms of sending`);
    assert.ok(delivered >= sent * 0.05, `${delivered} of ${sent} records delivered meanwhile`);
  });
}
