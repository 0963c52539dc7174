// Views: a live read model of a topic kept by a consumer group of its own — the latest value
// per key (tombstones delete), or a value folded with `reduce` — ready once caught up, the
// same after a reopen and across rebalances.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Log } from "../../js/node.js";
import { eventually, tempDir } from "./helpers.mjs";

/** The seed's inventory story: each product is created, restocked and sold twice. */
function inventoryEvents(products) {
  const events = [];
  for (let product = 0; product < products; product++) {
    const id = `product-${product}`;
    for (const [action, stock] of [["new_product", 2], ["increase_inventory", 3 + product], ["reduce_inventory", 4], ["reduce_inventory", 1]]) {
      events.push({ key: id, value: JSON.stringify({ id, action, stock }) });
    }
  }
  return events;
}

/** The stock table as the demo computes it. */
function stockTable(events) {
  const stock = new Map();
  for (const { value } of events) {
    const { id, action, stock: amount } = JSON.parse(value);
    if (action === "new_product") stock.set(id, amount);
    else stock.set(id, stock.get(id) + (action === "increase_inventory" ? amount : -amount));
  }
  return stock;
}

const applyStock = (previous, event) => (event.action === "new_product" ? event.stock : previous + (event.action === "increase_inventory" ? event.stock : -event.stock));
const sorted = (entries) => [...entries].sort(([a], [b]) => (a < b ? -1 : 1));

test("the inventory view over keyed inventory events equals the stock table, after a reopen too", async (t) => {
  const path = tempDir(t);
  let log = await Log.open({ path });
  await log.createTopic({ topic: "inventory", partitions: 3 });
  const events = inventoryEvents(12);
  await log.producer().send({ topic: "inventory", messages: events });
  const expected = sorted(stockTable(events));

  let view = log.view({ topic: "inventory", groupId: "stock-view", decode: "json", reduce: applyStock });
  await view.ready;
  assert.deepEqual(sorted(view.entries()), expected);
  assert.equal(view.size, 12);
  assert.equal(view.get("product-3"), 2 + 6 - 5);
  // Its group commits what it applied.
  assert.ok(log.lag({ groupId: "stock-view", topic: "inventory" }).every((p) => p.lag === 0));

  // Live: a change arrives and is told.
  const changes = [];
  view.onChange((change) => changes.push(change));
  await log.producer().send({ topic: "inventory", messages: [{ key: "product-0", value: JSON.stringify({ id: "product-0", action: "increase_inventory", stock: 10 }) }] });
  await eventually(() => changes.length === 1);
  assert.equal(changes[0].key, "product-0");
  assert.equal(changes[0].previous, 0);
  assert.equal(changes[0].value, 10);
  expected.find(([key]) => key === "product-0")[1] = 10;
  await view.close();
  await log.close();

  // Reopened: rebuilt from the topic, the same table.
  log = await Log.open({ path });
  view = log.view({ topic: "inventory", groupId: "stock-view", decode: "json", reduce: applyStock });
  await view.ready;
  assert.deepEqual(sorted(view.entries()), expected);
  await log.close();
});

test("without reduce a view holds the latest value per key; a tombstone deletes it; bad records do not stop it", async () => {
  const log = await Log.open();
  await log.createTopic({ topic: "users", partitions: 2 });
  await log.producer().send({
    topic: "users",
    messages: [
      { key: "ann", value: '{"age":30}' },
      { key: "bob", value: '{"age":40}' },
      { key: "ann", value: '{"age":31}' },
      { key: "bob", value: null },
      { value: '{"no":"key"}' },
      { key: "cid", value: "not json" },
    ],
  });
  const errors = [];
  const view = log.view({ topic: "users", groupId: "users-view", decode: "json", onError: (error) => errors.push(error) });
  await view.ready;
  assert.deepEqual([...view.entries()], [["ann", { age: 31 }]]);
  assert.equal(view.has("bob"), false);
  assert.equal(errors.length, 1, "the record that is not JSON");
  assert.ok(errors[0] instanceof SyntaxError);
  await view.close();
  await log.close();
});

test("two views of one group split the partitions; when one closes the other rebuilds the whole table", async () => {
  const log = await Log.open();
  await log.createTopic({ topic: "inventory", partitions: 3 });
  const events = inventoryEvents(9);
  await log.producer().send({ topic: "inventory", messages: events });
  const expected = sorted(stockTable(events));
  const options = { topic: "inventory", groupId: "shared-view", decode: "json", reduce: applyStock };
  const first = log.view(options);
  await first.ready;
  assert.deepEqual(sorted(first.entries()), expected);
  const second = log.view(options);
  await second.ready;
  // The rebalance split the partitions: each view holds its own partitions' keys.
  await eventually(() => first.size + second.size === 9 && first.size > 0 && second.size > 0);
  assert.deepEqual(sorted([...first.entries(), ...second.entries()]), expected);
  // Records arrive while the second holds some partitions, then it leaves.
  const more = inventoryEvents(9).map((e) => ({ ...e, value: e.value.replace('"new_product","stock":2', '"increase_inventory","stock":1') }));
  await log.producer().send({ topic: "inventory", messages: more.slice(0, 9) });
  await second.close();
  const after = sorted(stockTable([...events, ...more.slice(0, 9)]));
  await eventually(() => JSON.stringify(sorted(first.entries())) === JSON.stringify(after), 5000);
  await first.close();
  await log.close();
});

test("view options are checked", async () => {
  const log = await Log.open();
  await log.createTopic({ topic: "t", partitions: 1 });
  for (const options of [undefined, null, "t", {}, { topic: "t" }, { groupId: "g" }, { topic: 1, groupId: "g" }, { topic: "t", groupId: "g", decode: "xml" }, { topic: "t", groupId: "g", reduce: 1 }, { topic: "t", groupId: "g", extra: 1 }, { topic: "t", groupId: "g", maxRecords: 0 }]) {
    assert.throws(() => log.view(options), (error) => error.code === "INVALID_ARGUMENT", JSON.stringify(options) ?? String(options));
  }
  assert.throws(() => log.view({ topic: "missing", groupId: "g" }), { code: "UNKNOWN_TOPIC" });
  const view = log.view({ topic: "t", groupId: "g" });
  assert.throws(() => view.onChange(5), { code: "INVALID_ARGUMENT" });
  await view.ready; // an empty topic: ready at once
  await view.close();
  await view.close();
  await log.close();
});
