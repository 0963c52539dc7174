// Poison messages: a record that a handler keeps failing on is retried, counted durably (a
// crash between attempts does not reset the count), and after maxAttempts goes to the
// dead-letter topic with headers that say where it came from and why; its partition goes on.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Log } from "../../js/node.js";
import { eventually, spawnFixture, tempDir, text } from "./helpers.mjs";

const headerText = (headers) => Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, text(value)]));

async function dlqRecords(log, topic = "events-dlq") {
  if (!log.topics().some((t) => t.topic === topic)) return [];
  const reader = log.consumer({ groupId: `reader-${Math.random()}`, fromBeginning: true });
  await reader.subscribe({ topic });
  const messages = await reader.poll({ maxRecords: 100 });
  await reader.disconnect();
  return messages;
}

for (const autoCommit of [false, true]) {
  test(`a poison record is retried maxAttempts times, then dead-lettered; its partition goes on (autoCommit ${autoCommit})`, async () => {
    const log = await Log.open();
    await log.createTopic({ topic: "events", partitions: 2 });
    await log.producer().send({
      topic: "events",
      messages: [
        { partition: 0, value: "a" },
        { partition: 0, key: "k", value: "poison", headers: { source: "web", __proto__x: null } },
        { partition: 0, value: "b" },
        { partition: 1, value: "c" },
      ],
    });
    const seen = [];
    const errors = [];
    const consumer = log.consumer({ groupId: "g", autoCommit, deadLetter: { topic: "events-dlq", maxAttempts: 3 } });
    await consumer.subscribe({ topic: "events", fromBeginning: true });
    await consumer.run({
      onError: (error) => errors.push(error),
      eachMessage: async ({ message }) => {
        seen.push(`${text(message.value)}#${message.attempts}`);
        if (text(message.value) === "poison") throw new Error(`bad ${"\ud800"}record`);
        if (!autoCommit) await consumer.commit(message);
      },
    });
    await eventually(() => seen.includes("b#1") && seen.includes("c#1"), 5000);
    assert.deepEqual(seen.filter((s) => s.startsWith("poison")), ["poison#1", "poison#2", "poison#3"]);
    assert.deepEqual(seen.filter((s) => !s.startsWith("poison")).sort(), ["a#1", "b#1", "c#1"]);
    assert.deepEqual(errors, [], "the loop did not stop");
    const [dead, ...more] = await dlqRecords(log);
    assert.equal(more.length, 0);
    assert.equal(text(dead.key), "k");
    assert.equal(text(dead.value), "poison");
    assert.deepEqual(headerText(dead.headers), {
      source: "web",
      __proto__x: null,
      "brook.dlq.group": "g",
      "brook.dlq.topic": "events",
      "brook.dlq.partition": "0",
      "brook.dlq.offset": "1",
      "brook.dlq.attempts": "3",
      "brook.dlq.error": "bad \ufffdrecord",
    });
    assert.equal(log.topics().find((t) => t.topic === "events-dlq").partitions, 1);
    await eventually(() => log.lag({ groupId: "g", topic: "events" }).every((p) => p.lag === 0), 5000);
    await consumer.disconnect();
    // The group went past it: a new member of the group does not see it again.
    const again = log.consumer({ groupId: "g", autoCommit });
    await again.subscribe({ topic: "events" });
    assert.deepEqual(await again.poll(), []);
    await log.close();
  });

  test(`crashes between attempts do not reset the count: SIGKILL mid-attempt, reopen, dead-lettered after 3 failures (autoCommit ${autoCommit})`, async (t) => {
    const path = tempDir(t);
    const setup = await Log.open({ path });
    await setup.createTopic({ topic: "events", partitions: 1 });
    await setup.producer().send({ topic: "events", messages: ["a", "poison", "b"].map((value) => ({ value })) });
    await setup.close();
    const run = async (killAt, until) => {
      const { child, lines, exit } = spawnFixture(t, "poison-consumer.mjs", [path, String(autoCommit), String(killAt)]);
      const deliveries = [];
      // A run that neither dies nor gets there fails the assertions below instead of hanging.
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      t.after(() => clearTimeout(timer));
      for await (const line of lines) {
        deliveries.push(JSON.parse(line));
        if (until?.(deliveries)) break;
      }
      if (until) child.kill("SIGKILL");
      return { deliveries, exit: await exit };
    };
    // Attempt 1 fails (counted); the process dies at the start of attempt 2 (not counted).
    const first = await run(2);
    assert.equal(first.exit.signal, "SIGKILL");
    assert.deepEqual(first.deliveries.map((d) => `${d.value}#${d.attempts}`), ["a#1", "poison#1", "poison#2"]);
    // Attempt 2 fails again, and then the process dies at the start of attempt 3.
    const second = await run(3);
    assert.deepEqual(second.deliveries.map((d) => `${d.value}#${d.attempts}`), ["poison#2", "poison#3"]);
    // Attempt 3 is the last: dead-lettered, and "b" comes.
    const third = await run(0, (deliveries) => deliveries.some((d) => d.value === "b"));
    assert.deepEqual(third.deliveries.map((d) => `${d.value}#${d.attempts}`), ["poison#3", "b#1"]);
    const log = await Log.open({ path });
    const dead = await dlqRecords(log);
    assert.deepEqual(dead.map((m) => [text(m.value), text(m.headers["brook.dlq.attempts"]), text(m.headers["brook.dlq.offset"])]), [["poison", "3", "1"]]);
    await log.close();
  });
}

test("without deadLetter a failing handler stops the loop as before, and a redelivery says which attempt it is", async () => {
  const log = await Log.open();
  await log.createTopic({ topic: "events", partitions: 1 });
  await log.producer().send({ topic: "events", messages: [{ value: "poison" }] });
  const consumer = log.consumer({ groupId: "g", autoCommit: false });
  await consumer.subscribe({ topic: "events", fromBeginning: true });
  for (let attempt = 1; attempt <= 3; attempt++) {
    const errors = [];
    const seen = [];
    await consumer.run({
      onError: (error) => errors.push(error),
      eachMessage: async ({ message }) => {
        seen.push(message.attempts);
        throw new Error("no");
      },
    });
    await eventually(() => errors.length === 1);
    assert.deepEqual(seen, [attempt]);
  }
  assert.equal(log.topics().length, 1, "no dead-letter topic was made");
  await log.close();
});

test("a dead-lettered record is skipped by poll and eachBatch of its group too, under manual commit before any commit", async () => {
  const log = await Log.open();
  await log.createTopic({ topic: "events", partitions: 1 });
  await log.producer().send({ topic: "events", messages: ["poison", "ok"].map((value) => ({ value })) });
  const consumer = log.consumer({ groupId: "g", autoCommit: false, deadLetter: { topic: "dead", maxAttempts: 1 } });
  await consumer.subscribe({ topic: "events", fromBeginning: true });
  const seen = [];
  await consumer.run({
    eachMessage: async ({ message }) => {
      seen.push(text(message.value));
      if (text(message.value) === "poison") throw new Error("no");
    },
  });
  await eventually(() => seen.includes("ok"));
  await consumer.disconnect(); // nothing committed: the group starts at 0 again
  const puller = log.consumer({ groupId: "g", autoCommit: false, fromBeginning: true });
  await puller.subscribe({ topic: "events" });
  assert.deepEqual((await puller.poll()).map((m) => text(m.value)), ["ok"]);
  await puller.disconnect();
  const batches = [];
  const batcher = log.consumer({ groupId: "g", autoCommit: false, fromBeginning: true });
  await batcher.subscribe({ topic: "events" });
  await batcher.run({ eachBatch: async ({ batch }) => batches.push(batch.messages.map((m) => text(m.value))) });
  await eventually(() => batches.length === 1);
  assert.deepEqual(batches, [["ok"]]);
  assert.equal((await dlqRecords(log, "dead")).length, 1);
  await log.close();
});

test("deadLetter options and their misuse are refused with codes", async () => {
  const log = await Log.open();
  await log.createTopic({ topic: "events", partitions: 1 });
  let index = 0;
  const refused = (options, code = "INVALID_ARGUMENT") =>
    assert.throws(() => log.consumer({ groupId: "g", deadLetter: options }), (error) => error.code === code, `case ${index++}`);
  refused("dlq");
  refused(null);
  refused({});
  refused({ topic: 5 });
  refused({ topic: "bad name!" }, "INVALID_TOPIC_NAME");
  refused({ topic: "a\ud800" });
  for (const maxAttempts of [0, -1, 1.5, "3", 1001, Number.NaN, null]) refused({ topic: "dlq", maxAttempts });
  refused({ topic: "dlq", maxAttempts: 3, extra: 1 });
  refused(new Proxy({}, { get: () => { throw new Error("trap"); } }));
  const consumer = log.consumer({ groupId: "g", deadLetter: { topic: "events" } });
  await assert.rejects(consumer.subscribe({ topic: "events" }), { code: "INVALID_ARGUMENT" });
  const batcher = log.consumer({ groupId: "g", deadLetter: { topic: "dlq" } });
  await batcher.subscribe({ topic: "events" });
  await assert.rejects(batcher.run({ eachBatch: async () => {} }), { code: "INVALID_ARGUMENT" });
  await log.close();
});

test("under auto commit a record that fails once and then succeeds does not hold the group's commit back", async (t) => {
  const path = tempDir(t);
  let log = await Log.open({ path });
  await log.createTopic({ topic: "events", partitions: 1 });
  await log.producer().send({ topic: "events", messages: ["a", "flaky", "b", "c"].map((value) => ({ value })) });
  const consumer = log.consumer({ groupId: "g", deadLetter: { topic: "dead", maxAttempts: 3 } });
  await consumer.subscribe({ topic: "events", fromBeginning: true });
  const seen = [];
  await consumer.run({
    eachMessage: async ({ message }) => {
      seen.push(`${text(message.value)}#${message.attempts}`);
      if (text(message.value) === "flaky" && message.attempts === 1) throw new Error("once");
    },
  });
  await eventually(() => seen.includes("c#1"));
  assert.deepEqual(seen, ["a#1", "flaky#1", "flaky#2", "b#1", "c#1"]);
  await consumer.disconnect();
  await log.close();
  // The retried chunk committed only up to the record as it started; handed over whole, its
  // end is committed as the lease is released (without that, the commit stayed at 1 and a
  // clean restart delivered b and c again).
  log = await Log.open({ path });
  assert.equal(log.lag({ groupId: "g", topic: "events" })[0].committed, 4);
  await log.close();
});

test("a seek the app makes while its handler fails is kept: the retry does not undo it", async () => {
  const log = await Log.open();
  await log.createTopic({ topic: "events", partitions: 1 });
  await log.producer().send({ topic: "events", messages: ["a", "poison", "b", "c"].map((value) => ({ value })) });
  const consumer = log.consumer({ groupId: "g", autoCommit: false, deadLetter: { topic: "dead", maxAttempts: 3 } });
  await consumer.subscribe({ topic: "events", fromBeginning: true });
  const seen = [];
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      seen.push(`${text(message.value)}#${message.attempts}`);
      if (text(message.value) === "poison") {
        consumer.seek({ topic, partition, offset: 3 });
        throw new Error("skip to c");
      }
      await consumer.commit(message);
    },
  });
  await eventually(() => seen.includes("c#1"));
  assert.deepEqual(seen, ["a#1", "poison#1", "c#1"]);
  await log.close();
});
