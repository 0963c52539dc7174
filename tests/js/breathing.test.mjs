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
    // Before brook yielded, the timer never fired while the loop ran, however long. The
    // deadline only bounds a failing run; on a loaded machine the ticks come later, not never.
    const deadline = Date.now() + 10_000;
    while ((ticks < 5 || delivered < 5) && Date.now() < deadline) {
      await producer.send({ topic: "t", messages: [{ value: `v${sent}` }] });
      sent += 1;
    }
    clearInterval(timer);
    assert.ok(ticks >= 5, `${ticks} ticks of a 10 ms timer in ${sent} sends`);
    assert.ok(delivered >= 5, `${delivered} of ${sent} records delivered meanwhile`);
  });
}
