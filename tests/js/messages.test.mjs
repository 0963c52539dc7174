// Every field of a message survives the trip through the packed send and poll buffers:
// strings of any script (including the encoder's growth path), each kind of byte input,
// null keys, tombstones, headers and explicit timestamps.

import assert from "node:assert/strict";
import { test } from "node:test";
import { Log } from "../../js/node.js";
import { tempDir, text } from "./helpers.mjs";

async function roundTrip(t, messages) {
  const log = await Log.open();
  t.after(() => log.close());
  await log.createTopic({ topic: "t", partitions: 1, maxMessageBytes: 8 * 1024 * 1024 });
  await log.producer().send({ topic: "t", messages });
  const consumer = log.consumer({ groupId: "g", fromBeginning: true });
  await consumer.subscribe({ topic: "t" });
  return consumer.poll({ maxRecords: messages.length });
}

test("keys, values and headers of every input kind come back as the same bytes", async (t) => {
  const bytes = new Uint8Array([0, 1, 2, 255]);
  const inputs = [
    ["ascii", "plain text"],
    ["two-byte", "é".repeat(40_000)],
    ["astral", "🦀 brook ".repeat(10_000)],
    // In Node, strings up to 65,536 units go through Buffer#write, with room for 3 bytes a unit.
    ["three-byte, filling the worst case", "✓".repeat(65_536)],
    ["astral pairs up to the writer's limit", "🦀".repeat(32_768)],
    ["one unit past the writer's limit", `${"é".repeat(65_536)}x`],
    ["empty string", ""],
    // Short strings take an ASCII loop (wire.js); each of these leaves it at another place.
    ["short, non-ASCII first", "é-key"],
    ["short, non-ASCII last", "key-1234é"],
    ["short, astral in the middle", "k🦀y"],
    ["32 ASCII units", "k".repeat(32)],
    ["33 ASCII units", "k".repeat(33)],
    ["32 units ending in a non-ASCII one", `${"k".repeat(31)}ü`],
    ["a control character and DEL", "a\u0000b\u007f"],
    ["Uint8Array", bytes],
    ["Buffer", Buffer.from(bytes)],
    ["a view into a larger buffer", new Uint8Array([9, 9, 0, 1, 2, 255, 9]).subarray(2, 6)],
    ["DataView", new DataView(bytes.buffer)],
    ["ArrayBuffer", bytes.buffer],
  ];
  const expected = (input) =>
    typeof input === "string"
      ? new TextEncoder().encode(input)
      : new Uint8Array(input.buffer ?? input, input.byteOffset ?? 0, input.byteLength);
  const messages = inputs.map(([label, input]) => ({
    key: input,
    value: input,
    headers: { label, copy: input },
  }));
  const delivered = await roundTrip(t, messages);
  for (const [index, [label, input]] of inputs.entries()) {
    const message = delivered[index];
    assert.deepEqual(message.key, expected(input), `${label} key`);
    assert.deepEqual(message.value, expected(input), `${label} value`);
    assert.equal(text(message.headers.label), label);
    assert.deepEqual(message.headers.copy, expected(input), `${label} header`);
  }
});

test("null keys, tombstones, null headers and explicit timestamps", async (t) => {
  const [keyless, tombstone, stamped] = await roundTrip(t, [
    { value: "no key", headers: { gone: null, missing: undefined } },
    { key: "k", value: null },
    { key: "k", value: "v", timestamp: 1_700_000_000_123 },
  ]);
  assert.equal(keyless.key, null);
  assert.deepEqual(keyless.headers, { gone: null, missing: null });
  assert.equal(tombstone.value, null);
  assert.equal(text(tombstone.key), "k");
  assert.equal(stamped.timestamp, 1_700_000_000_123);
  assert.ok(Math.abs(keyless.timestamp - Date.now()) < 60_000, "default timestamp is now");
  assert.deepEqual(
    [keyless, tombstone, stamped].map((m) => m.offset),
    [0, 1, 2],
  );
});

test("a header named __proto__ is a header like any other, not the headers object's prototype", async (t) => {
  const headers = JSON.parse('{"__proto__": "p", "constructor": "c", "toString": "s"}');
  const [message] = await roundTrip(t, [{ value: "v", headers }]);
  assert.deepEqual(Object.keys(message.headers).sort(), ["__proto__", "constructor", "toString"]);
  assert.equal(text(Object.getOwnPropertyDescriptor(message.headers, "__proto__").value), "p");
  assert.equal(Object.getPrototypeOf(message.headers), Object.prototype);
  assert.equal(text(message.headers.toString), "s");
});

// A poll hands long runs of records to JS to copy from the batches that store them (wire.rs
// `Gathered`): the copy must be whole and in place, stay valid after the log moves on, and
// hold when the batch cache is smaller than one read (batches evicted while it is built).
test("runs of long and short records come back whole, from memory and from files with a small cache", async (t) => {
  const sizes = [0, 1, 100, 4095, 4096, 4097, 5000, 70_000];
  const valueOf = (id) => {
    const value = new Uint8Array(sizes[id % sizes.length]);
    for (let index = 0; index < value.length; index++) value[index] = (id * 31 + index * 7) & 0xff;
    return value;
  };
  const sends = [1, 7, 40, 1, 3, 25];
  const total = sends.reduce((sum, count) => sum + count, 0);
  const dir = tempDir(t);
  for (const [name, options] of [
    ["memory", {}],
    ["files, a 64 KiB cache", { path: dir, cacheBytes: 64 * 1024 }],
  ]) {
    const log = await Log.open(options);
    await log.createTopic({ topic: "t", partitions: 3 });
    const producer = log.producer();
    let id = 0;
    for (const count of sends) {
      const messages = Array.from({ length: count }, () => ({ key: `k${id}`, value: valueOf(id++) }));
      await producer.send({ topic: "t", messages });
    }
    const check = (messages, how) => {
      for (const message of messages) {
        const id = Number(text(message.key).slice(1));
        assert.deepEqual(message.value, valueOf(id), `${name}, ${how}: the value of k${id}`);
      }
    };
    // Reads that cut batches (maxRecords 5) and reads that take them whole.
    for (const maxRecords of [5, 500]) {
      const consumer = log.consumer({ groupId: `poll-${maxRecords}`, fromBeginning: true, maxBytes: 64 * 1024 });
      await consumer.subscribe({ topic: "t" });
      const held = [];
      for (let round = 0; held.length < total && round < 1000; round++) {
        const messages = await consumer.poll({ maxRecords });
        check(messages, `poll of ${maxRecords}`);
        held.push(...messages);
      }
      assert.equal(held.length, total, `${name}: poll of ${maxRecords} read everything`);
      await consumer.disconnect();
      // The log moves on (more records, other reads); what was handed out stays as it was.
      await producer.send({ topic: "t", messages: [{ key: "later", value: new Uint8Array(9000).fill(0xee) }] });
      check(held, `poll of ${maxRecords}, held past later calls`);
    }
    const consumer = log.consumer({ groupId: "batches", fromBeginning: true });
    await consumer.subscribe({ topic: "t" });
    let seen = 0;
    await new Promise((resolve, reject) => {
      consumer
        .run({
          eachBatch: async ({ batch }) => {
            check(batch.messages.filter((m) => text(m.key) !== "later"), "eachBatch");
            seen += batch.messages.length;
            if (seen >= total + 2) resolve();
          },
        })
        .catch(reject);
    });
    await consumer.disconnect();
    await log.close();
  }
});

test("one producer sending to several topics in turn puts each send in its own topic", async (t) => {
  // The core keeps the last send's topic to skip converting it again: a different topic,
  // an equal string made anew, or a refused one in between must all land right.
  const log = await Log.open();
  t.after(() => log.close());
  for (const topic of ["a", "b", "ab"]) await log.createTopic({ topic, partitions: 1 });
  const producer = log.producer();
  const made = (name) => [...name].join("");
  const sends = ["a", "b", "a", made("a"), "ab", made("ab"), "b"];
  for (const [index, topic] of sends.entries()) {
    const [placed] = await producer.send({ topic, messages: [{ value: `${index}` }] });
    assert.equal(placed.topic, topic);
    if (index === 2) {
      await assert.rejects(producer.send({ topic: 7, messages: [{ value: "x" }] }), { code: "INVALID_ARGUMENT" });
      await assert.rejects(producer.send({ topic: "missing", messages: [{ value: "x" }] }), { code: "UNKNOWN_TOPIC" });
    }
  }
  const expected = { a: ["0", "2", "3"], b: ["1", "6"], ab: ["4", "5"] };
  for (const [topic, values] of Object.entries(expected)) {
    const consumer = log.consumer({ groupId: `g-${topic}`, fromBeginning: true });
    await consumer.subscribe({ topic });
    const got = (await consumer.poll({ maxRecords: 100 })).map((m) => text(m.value));
    assert.deepEqual(got, values, topic);
  }
});
