// The browser entry point, loaded in Node: a fetch that serves file: URLs stands in for the
// browser's (Node's own fetch has none). It must import nothing from Node, load the wasm only
// on the first Log.open, and refuse file storage.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { test } from "node:test";

const fetched = [];
globalThis.fetch = async (url) => {
  fetched.push(String(url));
  return new Response(await readFile(url), { headers: { "Content-Type": "application/wasm" } });
};
const { BrookError, Log } = await import("../../js/browser.js");

test("the shared wrapper and the browser entry import nothing from Node", () => {
  for (const file of ["brook.js", "browser.js"]) {
    const source = readFileSync(new URL(`../../js/${file}`, import.meta.url), "utf8");
    assert.doesNotMatch(source, /from\s+["']node:/, file);
  }
});

test("the wasm loads once, on the first open, and a memory log works", async () => {
  assert.deepEqual(fetched, [], "importing loads nothing");
  const log = await Log.open();
  const second = await Log.open({ durability: "relaxed" });
  assert.equal(fetched.length, 1);
  assert.match(fetched[0], /brook_core_bg\.wasm$/);
  await log.createTopic({ topic: "t", partitions: 2 });
  const [placed] = await log.producer().send({ topic: "t", messages: [{ key: "k", value: "v" }] });
  const consumer = log.consumer({ groupId: "g", fromBeginning: true });
  await consumer.subscribe({ topic: "t" });
  const [message] = await consumer.poll();
  assert.deepEqual([message.partition, message.offset], [placed.partition, placed.offset]);
  await log.close();
  await second.close();
});

test("file storage is refused in browsers; without IndexedDB a named log says so", async () => {
  for (const [options, pattern, code] of [
    [{ path: "./data" }, /Node-only/, "INVALID_ARGUMENT"],
    [{ name: "shop" }, /IndexedDB is not available here/, "UNSUPPORTED"],
  ]) {
    await assert.rejects(Log.open(options), (error) => {
      assert.ok(error instanceof BrookError);
      assert.equal(error.code, code);
      assert.match(error.message, pattern);
      return true;
    });
  }
});
