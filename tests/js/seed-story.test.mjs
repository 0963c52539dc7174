// The seed article's shop through the public API: people, products, sales and inventory
// topics, random versus keyed placement, and Kafka's own placement of known keys.

import assert from "node:assert/strict";
import { test } from "node:test";
import { Log } from "../../js/node.js";
import { text } from "./helpers.mjs";

/** Each product's inventory events, in the order they happen. */
function inventoryEvents(products) {
  const events = [];
  for (let product = 0; product < products; product++) {
    const id = `product-${product}`;
    for (const [action, stock] of [
      ["new_product", 2],
      ["increase_inventory", 3],
      ["reduce_inventory", 4],
      ["reduce_inventory", 1],
    ]) {
      events.push({ key: id, value: JSON.stringify({ id, action, stock }) });
    }
  }
  return events;
}

/** Which partitions each product's events landed on, sending one event per send as a shop would. */
async function placeEach(producer, events) {
  const partitionsByKey = new Map();
  for (const event of events) {
    const [{ partition }] = await producer.send({ topic: "inventory", messages: [event] });
    if (!partitionsByKey.has(event.key)) partitionsByKey.set(event.key, new Set());
    partitionsByKey.get(event.key).add(partition);
  }
  return partitionsByKey;
}

test("the shop's topics: people, products and sales reach every group; inventory has 3 partitions", async () => {
  const log = await Log.open();
  await log.createTopic({ topic: "people", partitions: 1 });
  await log.createTopic({ topic: "products", partitions: 1 });
  await log.createTopic({ topic: "sales", partitions: 2 });
  await log.createTopic({ topic: "inventory", partitions: 3 });
  assert.deepEqual(
    log.topics().map(({ topic, partitions }) => [topic, partitions]),
    [
      ["inventory", 3],
      ["people", 1],
      ["products", 1],
      ["sales", 2],
    ],
  );

  const producer = log.producer();
  await producer.send({
    topic: "people",
    messages: [{ key: "ada", value: JSON.stringify({ name: "Ada" }) }],
  });
  await producer.send({
    topic: "products",
    messages: [{ key: "abc-123", value: JSON.stringify({ name: "Lamp" }) }],
  });
  const sales = await producer.send({
    topic: "sales",
    messages: [
      {
        key: "ada",
        value: JSON.stringify({ product: "abc-123", quantity: 1 }),
        headers: { source: "web" },
      },
      { key: "bob", value: JSON.stringify({ product: "abc-123", quantity: 2 }) },
    ],
  });
  assert.equal(sales.length, 2);

  for (const groupId of ["mysql-sync", "analytics"]) {
    const consumer = log.consumer({ groupId });
    await consumer.subscribe({ topics: ["people", "products", "sales"], fromBeginning: true });
    const seen = await consumer.poll();
    assert.deepEqual(seen.map((m) => m.topic).sort(), ["people", "products", "sales", "sales"]);
    const sale = seen.find((m) => m.topic === "sales" && text(m.key) === "ada");
    assert.equal(text(sale.headers.source), "web");
    assert.deepEqual(JSON.parse(text(sale.value)), { product: "abc-123", quantity: 1 });
  }
  await log.close();
});

/** Applies inventory events to a stock table; returns what went wrong (unknown products,
 * negative stock). */
function applyInventory(messages) {
  const stock = new Map();
  const problems = [];
  for (const message of messages) {
    const { id, action, stock: amount } = JSON.parse(text(message.value));
    if (action === "new_product") {
      stock.set(id, amount);
    } else if (!stock.has(id)) {
      problems.push(`${action} for unknown ${id}`);
    } else {
      const level = stock.get(id) + (action === "increase_inventory" ? amount : -amount);
      if (level < 0) problems.push(`${id} went negative`);
      stock.set(id, level);
    }
  }
  return { stock, problems };
}

test("random placement scatters a product's events; keyed placement keeps each product on one partition", async () => {
  const events = inventoryEvents(6);
  const randomLog = await Log.open();
  await randomLog.createTopic({ topic: "inventory", partitions: 3 });
  const random = await placeEach(randomLog.producer({ partitioner: "random" }), events);
  // Each product stays on one partition by chance with probability (1/3)^3; all six, ~1e-9.
  assert.ok([...random.values()].some((partitions) => partitions.size > 1));
  await randomLog.close();

  const log = await Log.open();
  await log.createTopic({ topic: "inventory", partitions: 3 });
  const keyed = await placeEach(log.producer(), events);
  for (const [key, partitions] of keyed)
    assert.equal(partitions.size, 1, `${key} on one partition`);

  // One poll hands over whole partitions one after another, the most out of step a reader of
  // the three partitions can be; each product's events still apply in the order they happened.
  const consumer = log.consumer({ groupId: "stock", fromBeginning: true });
  await consumer.subscribe({ topic: "inventory" });
  const messages = await consumer.poll({ maxRecords: 1000 });
  assert.equal(messages.length, events.length);
  const { stock, problems } = applyInventory(messages);
  assert.deepEqual(problems, []);
  assert.deepEqual([...stock.values()], [0, 0, 0, 0, 0, 0]);
  await log.close();
});

test("keys land where Kafka puts them: foobar, 21 and abc on 0, abc-123 on 1 of 3", async () => {
  const log = await Log.open();
  await log.createTopic({ topic: "inventory", partitions: 3 });
  const placed = await log.producer().send({
    topic: "inventory",
    messages: ["foobar", "21", "abc", "abc-123"].map((key) => ({ key, value: key })),
  });
  assert.deepEqual(
    placed.map((p) => p.partition),
    [0, 0, 0, 1],
  );
  // Bytes and strings are the same key.
  const [bytes] = await log.producer().send({
    topic: "inventory",
    messages: [{ key: new TextEncoder().encode("abc-123"), value: "again" }],
  });
  assert.equal(bytes.partition, 1);
  await log.close();
});
