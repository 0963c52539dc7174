// Every entry point driven with wrong types, missing fields, out-of-range numbers and huge
// values: each is refused with a BrookError of the right code, and the log works afterwards
// (no input may panic, and so poison, the wasm instance).

import assert from "node:assert/strict";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { BrookError, Log } from "../../js/node.js";
import { tempDir, text } from "./helpers.mjs";

const BAD_NUMBERS = ["3", -1, 1.5, NaN, Infinity, 2 ** 60, {}, [], null];

async function refused(promiseOrCall, code, label) {
  let outcome;
  try {
    outcome = await (typeof promiseOrCall === "function" ? promiseOrCall() : promiseOrCall);
  } catch (error) {
    assert.ok(error instanceof BrookError, `${label}: ${error} is a BrookError`);
    assert.equal(error.code, code, `${label}: ${error.message}`);
    assert.ok(error.message.length > 10, `${label}: says what is wrong`);
    return;
  }
  assert.fail(`${label}: accepted (${JSON.stringify(outcome)})`);
}

/** Sends one record to "t" and reads it back through a fresh group: the log still works. */
async function assertStillWorks(log) {
  const [{ partition, offset }] = await log
    .producer()
    .send({ topic: "t", messages: [{ key: "ok", value: "still works" }] });
  const consumer = log.consumer({ groupId: `check-${Math.random()}`, fromBeginning: true });
  await consumer.subscribe({ topic: "t" });
  const messages = await consumer.poll({ maxRecords: 10_000 });
  const last = messages.find((m) => m.partition === partition && m.offset === offset);
  assert.equal(text(last.value), "still works");
  await consumer.disconnect();
}

async function openLog(t) {
  const log = await Log.open();
  t.after(() => log.close());
  await log.createTopic({ topic: "t", partitions: 3 });
  return log;
}

test("Log.open refuses bad options", async (t) => {
  const path = tempDir(t);
  const cases = [
    ["a string", "data", "INVALID_ARGUMENT"],
    ["null", null, "INVALID_ARGUMENT"],
    ["an array", [], "INVALID_ARGUMENT"],
    ["an unknown option", { pth: path }, "INVALID_ARGUMENT"],
    ["a numeric path", { path: 5 }, "INVALID_ARGUMENT"],
    ["an empty path", { path: "" }, "INVALID_ARGUMENT"],
    ["path and name", { path, name: "shop" }, "INVALID_ARGUMENT"],
    ["an IndexedDB name (not yet)", { name: "shop" }, "INVALID_ARGUMENT"],
    ["an unknown durability", { durability: "fast" }, "INVALID_ARGUMENT"],
    ["cacheBytes as a string", { cacheBytes: "16" }, "INVALID_ARGUMENT"],
    ["a negative cacheBytes", { cacheBytes: -1 }, "INVALID_ARGUMENT"],
    ["a fractional cacheBytes", { cacheBytes: 1.5 }, "INVALID_ARGUMENT"],
    ["a cacheBytes of 2 TiB", { cacheBytes: 2 ** 41 }, "INVALID_ARGUMENT"],
    ["a NaN cacheBytes", { cacheBytes: NaN }, "INVALID_ARGUMENT"],
    ["cacheBytes on a file log, too large", { path, cacheBytes: 2 ** 53 }, "INVALID_ARGUMENT"],
    ["a path that is a file", { path: fileURLToPath(import.meta.url) }, "IO_ERROR"],
  ];
  for (const [label, options, code] of cases) await refused(() => Log.open(options), code, label);
  await refused(() => new Log(), "INVALID_ARGUMENT", "new Log()");
});

test("createTopic and createPartitions refuse bad requests", async (t) => {
  const log = await openLog(t);
  for (const partitions of BAD_NUMBERS) {
    await refused(
      log.createTopic({ topic: "p", partitions }),
      "INVALID_PARTITIONS",
      `partitions ${String(partitions)}`,
    );
  }
  const cases = [
    [undefined, "INVALID_ARGUMENT"],
    [null, "INVALID_ARGUMENT"],
    ["t2", "INVALID_ARGUMENT"],
    [[], "INVALID_ARGUMENT"],
    [{}, "INVALID_ARGUMENT"],
    [{ topic: 5 }, "INVALID_ARGUMENT"],
    [{ topic: "x".repeat(300) }, "INVALID_TOPIC_NAME"],
    [{ topic: "../x" }, "INVALID_TOPIC_NAME"],
    [{ topic: ".." }, "INVALID_TOPIC_NAME"],
    [{ topic: "" }, "INVALID_TOPIC_NAME"],
    [{ topic: "t" }, "TOPIC_ALREADY_EXISTS"],
    [{ topic: "p", partitions: 10_001 }, "INVALID_PARTITIONS"],
    [{ topic: "p", partitions: 0 }, "INVALID_PARTITIONS"],
    [{ topic: "p", retentionMS: 5 }, "INVALID_ARGUMENT"],
    [{ topic: "p", maxMessageBytes: "1" }, "INVALID_CONFIG"],
    [{ topic: "p", retentionMs: -5 }, "INVALID_CONFIG"],
    [{ topic: "p", segmentBytes: 10 }, "INVALID_CONFIG"],
    [{ topic: "p", segmentBytes: 2 ** 60 }, "INVALID_CONFIG"],
    [{ topic: "p", cleanupPolicy: "zap" }, "INVALID_CONFIG"],
    [{ topic: "p", deleteRetentionMs: NaN }, "INVALID_CONFIG"],
  ];
  for (const [request, code] of cases)
    await refused(log.createTopic(request), code, `createTopic ${JSON.stringify(request)}`);

  for (const count of [...BAD_NUMBERS, 2]) {
    await refused(
      log.createPartitions({ topic: "t", count }),
      "INVALID_PARTITIONS",
      `count ${String(count)}`,
    );
  }
  await refused(
    log.createPartitions({ topic: "nope", count: 5 }),
    "UNKNOWN_TOPIC",
    "unknown topic",
  );
  await refused(log.createPartitions({ topic: "t" }), "INVALID_PARTITIONS", "no count");
  await refused(
    log.createPartitions({ topic: "t", count: 5, extra: 1 }),
    "INVALID_ARGUMENT",
    "unknown option",
  );
  await refused(log.createPartitions("t"), "INVALID_ARGUMENT", "a string");
  assert.deepEqual(
    log.topics().map((topic) => topic.topic),
    ["t"],
    "nothing was created",
  );
  await assertStillWorks(log);
});

test("offsets and producer refuse bad arguments", async (t) => {
  const log = await openLog(t);
  await refused(() => log.offsets(5), "INVALID_ARGUMENT", "numeric topic");
  await refused(() => log.offsets(), "INVALID_ARGUMENT", "no topic");
  await refused(() => log.offsets("../x"), "UNKNOWN_TOPIC", "unknown topic");
  await refused(
    () => log.producer({ partitioner: "sticky" }),
    "INVALID_ARGUMENT",
    "unknown partitioner",
  );
  await refused(
    () => log.producer({ partitioner: () => 0 }),
    "INVALID_ARGUMENT",
    "a partitioner function",
  );
  await refused(() => log.producer({ idempotent: true }), "INVALID_ARGUMENT", "unknown option");
  await refused(() => log.producer("random"), "INVALID_ARGUMENT", "a string");
  await assertStillWorks(log);
});

test("send refuses bad records, and writes nothing of a refused send", async (t) => {
  const log = await openLog(t);
  await log.createTopic({ topic: "compacted", cleanupPolicy: "compact" });
  const producer = log.producer();
  const send = (messages, topic = "t") => producer.send({ topic, messages });
  for (const partition of BAD_NUMBERS.filter((p) => p !== null)) {
    await refused(
      send([{ value: "x", partition }]),
      "INVALID_PARTITION",
      `partition ${String(partition)}`,
    );
  }
  await refused(send([{ value: "x", partition: 3 }]), "INVALID_PARTITION", "partition 3 of 3");
  for (const timestamp of ["now", -1, 1.5, NaN, Infinity, 2 ** 60, new Date(), {}]) {
    await refused(
      send([{ value: "x", timestamp }]),
      "INVALID_RECORD",
      `timestamp ${String(timestamp)}`,
    );
  }
  const badRecords = [
    [null, "a null message"],
    [[], "an array message"],
    ["text", "a string message"],
    [{ value: 5 }, "a numeric value"],
    [{ value: {} }, "an object value"],
    [{ key: true, value: "x" }, "a boolean key"],
    [{ value: "x", headers: "h" }, "string headers"],
    [{ value: "x", headers: [] }, "array headers"],
    [{ value: "x", headers: new Map([["a", "1"]]) }, "Map headers"],
    [{ value: "x", headers: { a: 5 } }, "a numeric header value"],
    [{ value: "x", headers: { a: ["x"] } }, "an array header value"],
    [{ vaule: "x" }, "a misspelt field"],
    [{ topic: "t", value: "x" }, "a consumed message's field"],
    [
      new Proxy({ value: "x" }, {
        ownKeys: () => ["value", "vaule"],
        getOwnPropertyDescriptor: () => ({ value: "x", enumerable: true, configurable: true }),
      }),
      "a Proxy that lists a misspelt field",
    ],
  ];
  for (const [message, label] of badRecords)
    await refused(send([{ value: "fine" }, message]), "INVALID_RECORD", label);
  // Only a message's own fields count, as Object.keys sees them: inherited ones are not read.
  const inherits = Object.assign(Object.create({ vaule: "inherited" }), { value: "own" });
  await assert.rejects(send([inherits, { vaule: "x" }]), (error) => error.code === "INVALID_RECORD" && /^message 1: /.test(error.message));
  await refused(
    send([{ value: "x" }], "compacted"),
    "INVALID_RECORD",
    "no key on a compacted topic",
  );
  await refused(
    send([{ value: new Uint8Array(20 * 1024 * 1024) }]),
    "MESSAGE_TOO_LARGE",
    "a 20 MB value",
  );
  await refused(
    send([{ value: "x".repeat(2 * 1024 * 1024) }]),
    "MESSAGE_TOO_LARGE",
    "a 2 MB string",
  );
  const tooMany = Array.from({ length: 100_001 }, () => ({ value: "x" }));
  await refused(send(tooMany), "MESSAGE_TOO_LARGE", "100,001 messages");
  await refused(send([]), "INVALID_ARGUMENT", "no messages");
  await refused(send("x"), "INVALID_ARGUMENT", "messages a string");
  await refused(send(undefined), "INVALID_ARGUMENT", "messages missing");
  await refused(producer.send({ messages: [{ value: "x" }] }), "INVALID_ARGUMENT", "topic missing");
  await refused(send([{ value: "x" }], 5), "INVALID_ARGUMENT", "numeric topic");
  await refused(send([{ value: "x" }], "x".repeat(300)), "UNKNOWN_TOPIC", "300-char topic");
  await refused(send([{ value: "x" }], "../x"), "UNKNOWN_TOPIC", "../x");
  await refused(
    send([{ value: "x" }], "__consumer_offsets"),
    "INVALID_ARGUMENT",
    "the internal topic",
  );
  await refused(
    producer.send({ topic: "t", messages: [{ value: "x" }], acks: -1 }),
    "INVALID_ARGUMENT",
    "unknown send option",
  );
  await refused(producer.send(), "INVALID_ARGUMENT", "no record");
  assert.deepEqual(
    log.offsets("t").map((p) => p.high),
    [0, 0, 0],
    "nothing written",
  );
  await assertStillWorks(log);
});

test("consumer entry points refuse bad arguments", async (t) => {
  const log = await openLog(t);
  await log.producer().send({ topic: "t", messages: [{ value: "a", partition: 0 }] });
  for (const options of [
    undefined,
    {},
    { groupId: 5 },
    { groupId: "g", autoCommit: "yes" },
    { groupId: "g", sessionTimeout: 1 },
  ]) {
    await refused(
      () => log.consumer(options),
      "INVALID_ARGUMENT",
      `consumer ${JSON.stringify(options)}`,
    );
  }
  const fresh = log.consumer({ groupId: "g" });
  await refused(
    fresh.run({ eachMessage: async () => {} }),
    "INVALID_ARGUMENT",
    "run before subscribe",
  );
  await refused(fresh.poll(), "INVALID_ARGUMENT", "poll before subscribe");
  await refused(
    () => fresh.seek({ topic: "t", partition: 0, offset: 0 }),
    "INVALID_ARGUMENT",
    "seek before subscribe",
  );

  const subscriptions = [
    [undefined, "INVALID_ARGUMENT"],
    [{}, "INVALID_ARGUMENT"],
    [{ topic: "t", topics: ["t"] }, "INVALID_ARGUMENT"],
    [{ topics: [] }, "INVALID_ARGUMENT"],
    [{ topics: [5] }, "INVALID_ARGUMENT"],
    [{ topic: /t/ }, "INVALID_ARGUMENT"],
    [{ topics: ["nope"] }, "UNKNOWN_TOPIC"],
    [{ topic: "__consumer_offsets" }, "INVALID_ARGUMENT"],
    [{ topic: "t", fromBeginning: "yes" }, "INVALID_ARGUMENT"],
  ];
  for (const [subscription, code] of subscriptions) {
    await refused(
      fresh.subscribe(subscription),
      code,
      `subscribe ${String(JSON.stringify(subscription))}`,
    );
  }
  await refused(
    log.consumer({ groupId: "" }).subscribe({ topic: "t" }),
    "INVALID_ARGUMENT",
    "empty groupId",
  );
  await refused(
    log.consumer({ groupId: "x".repeat(300) }).subscribe({ topic: "t" }),
    "INVALID_ARGUMENT",
    "long groupId",
  );
  await refused(
    log.consumer({ groupId: "a", assignor: "zap" }).subscribe({ topic: "t" }),
    "INVALID_ARGUMENT",
    "unknown assignor",
  );

  const consumer = log.consumer({ groupId: "g", autoCommit: false, fromBeginning: true });
  await consumer.subscribe({ topic: "t" });
  await refused(
    consumer.subscribe({ topic: "t", fromBeginning: false }),
    "INVALID_ARGUMENT",
    "changing fromBeginning",
  );
  for (const maxRecords of BAD_NUMBERS.filter((n) => n !== null).concat([0, 2_000_000])) {
    await refused(
      consumer.poll({ maxRecords }),
      "INVALID_ARGUMENT",
      `maxRecords ${String(maxRecords)}`,
    );
  }
  await refused(consumer.poll({ maxBytes: 0 }), "INVALID_ARGUMENT", "maxBytes 0");
  await refused(consumer.poll({ limit: 5 }), "INVALID_ARGUMENT", "unknown poll option");

  for (const config of [
    undefined,
    {},
    { eachMessage: 5 },
    { eachMessage: async () => {}, eachBatch: async () => {} },
    { eachMessage: async () => {}, autoCommit: true },
    { eachMessage: async () => {}, onError: 5 },
  ]) {
    await refused(
      consumer.run(config),
      "INVALID_ARGUMENT",
      `run ${String(config && Object.keys(config))}`,
    );
  }
  for (const limits of [{ maxRecords: -1 }, { maxRecords: 2e6 }, { maxBytes: 0 }, { maxBytes: 2 ** 40 }]) {
    await refused(
      () => log.consumer({ groupId: "limits", ...limits }),
      "INVALID_ARGUMENT",
      `consumer ${JSON.stringify(limits)}`,
    );
  }

  for (const message of [undefined, null, {}, { topic: "t", partition: 0, offset: "0" }]) {
    await refused(
      consumer.commit(message),
      "INVALID_ARGUMENT",
      `commit ${JSON.stringify(message)}`,
    );
  }
  const offsets = [
    ["x", "INVALID_ARGUMENT"],
    [[null], "INVALID_ARGUMENT"],
    [[{ topic: "t", partition: "0", offset: 0 }], "INVALID_PARTITION"],
    [[{ topic: "t", partition: 7, offset: 0 }], "INVALID_PARTITION"],
    [[{ topic: "t", partition: 0, offset: "1" }], "OFFSET_OUT_OF_RANGE"],
    [[{ topic: "t", partition: 0, offset: -1 }], "OFFSET_OUT_OF_RANGE"],
    [[{ topic: "t", partition: 0, offset: 2 ** 60 }], "OFFSET_OUT_OF_RANGE"],
    [[{ topic: "t", partition: 0, offset: 5 }], "OFFSET_OUT_OF_RANGE"],
    [[{ topic: "nope", partition: 0, offset: 0 }], "UNKNOWN_TOPIC"],
    [[{ topic: "t", partition: 0, offset: 0, extra: 1 }], "INVALID_ARGUMENT"],
  ];
  for (const [list, code] of offsets)
    await refused(consumer.commitOffsets(list), code, `commitOffsets ${JSON.stringify(list)}`);

  const seeks = [
    ["t", "INVALID_ARGUMENT"],
    [{ topic: "t", partition: 0, offset: 5 }, "OFFSET_OUT_OF_RANGE"],
    [{ topic: "t", partition: 0, offset: "0" }, "OFFSET_OUT_OF_RANGE"],
    [{ topic: "t", partition: 9, offset: 0 }, "INVALID_PARTITION"],
    [{ topic: "t", partition: NaN, offset: 0 }, "INVALID_PARTITION"],
    [{ topic: "nope", partition: 0, offset: 0 }, "UNKNOWN_TOPIC"],
    [{ topic: "t", partition: 0, offset: 0, metadata: "" }, "INVALID_ARGUMENT"],
  ];
  for (const [target, code] of seeks)
    await refused(() => consumer.seek(target), code, `seek ${JSON.stringify(target)}`);

  const pauses = [
    ["t", "INVALID_ARGUMENT"],
    [[{ topic: "t", partitions: [7] }], "INVALID_PARTITION"],
    [[{ topic: "t", partitions: ["0"] }], "INVALID_PARTITION"],
    [[{ topic: "t", partitions: 0 }], "INVALID_ARGUMENT"],
    [[{ topic: "nope" }], "UNKNOWN_TOPIC"],
    [[{ topics: ["t"] }], "INVALID_ARGUMENT"],
  ];
  for (const [list, code] of pauses) {
    await refused(() => consumer.pause(list), code, `pause ${JSON.stringify(list)}`);
    await refused(() => consumer.resume(list), code, `resume ${JSON.stringify(list)}`);
  }

  await consumer.run({ eachMessage: async () => {} });
  await refused(consumer.run({ eachMessage: async () => {} }), "INVALID_ARGUMENT", "run twice");
  await refused(consumer.poll(), "INVALID_ARGUMENT", "poll while running");
  await consumer.disconnect();
  await assertStillWorks(log);
});

test("after close every entry point fails with CLOSED", async (t) => {
  const log = await openLog(t);
  const producer = log.producer();
  const consumer = log.consumer({ groupId: "g" });
  await consumer.subscribe({ topic: "t" });
  await log.close();
  const calls = {
    createTopic: () => log.createTopic({ topic: "u" }),
    createPartitions: () => log.createPartitions({ topic: "t", count: 4 }),
    topics: () => log.topics(),
    offsets: () => log.offsets("t"),
    maintain: () => log.maintain(),
    producer: () => log.producer(),
    consumer: () => log.consumer({ groupId: "g" }),
    send: () => producer.send({ topic: "t", messages: [{ value: "x" }] }),
    "send of a bad message": () => producer.send({ topic: "t", messages: [{ value: 5 }] }),
    subscribe: () => consumer.subscribe({ topic: "t" }),
    run: () => consumer.run({ eachMessage: async () => {} }),
    poll: () => consumer.poll(),
    commit: () => consumer.commit({ topic: "t", partition: 0, offset: 0 }),
    commitOffsets: () => consumer.commitOffsets([]),
    seek: () => consumer.seek({ topic: "t", partition: 0, offset: 0 }),
    pause: () => consumer.pause([{ topic: "t" }]),
    resume: () => consumer.resume([{ topic: "t" }]),
    assignment: () => consumer.assignment(),
    paused: () => consumer.paused(),
    lag: () => consumer.lag(),
  };
  for (const [name, call] of Object.entries(calls)) await refused(call, "CLOSED", name);
  await log.close();
  await consumer.disconnect();
});
