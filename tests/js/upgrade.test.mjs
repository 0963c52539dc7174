// A file log written by brook 0.1 (the first engine: segments without .index files) opens
// with every record, header and commit where 0.1 left them, and is upgraded in place.

import assert from "node:assert/strict";
import { cpSync, existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { Log } from "../../js/node.js";
import { assertUpgraded, expected, fixture } from "../lib/upgrade.mjs";
import { tempDir } from "./helpers.mjs";

const fixtures = fileURLToPath(fixture(""));

async function contents(log) {
  const found = { offsets: {}, records: {} };
  const decoder = new TextDecoder();
  for (const topic of ["orders", "profiles"]) {
    found.offsets[topic] = log.offsets(topic).map(({ partition, low, high }) => ({ partition, low, high }));
    const reader = log.consumer({ groupId: `read-${topic}-${Math.random()}`, autoCommit: false, fromBeginning: true });
    await reader.subscribe({ topic });
    const all = [];
    for (let batch; (batch = await reader.poll({ maxRecords: 1000 })).length > 0; ) all.push(...batch);
    found.records[topic] = all
      .map((m) => [m.partition, m.offset, decoder.decode(m.key), decoder.decode(m.value), m.timestamp, Object.fromEntries(Object.entries(m.headers ?? {}).map(([k, v]) => [k, decoder.decode(v)]))])
      .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    await reader.disconnect();
  }
  found.committed = log.lag({ groupId: "audit", topic: "orders" }).map(({ partition, committed }) => ({ partition, committed }));
  // As the fixture was written: JSON, where an absent commit has no key.
  return JSON.parse(JSON.stringify(found));
}

test("a file log written by brook 0.1 opens with all its records and commits, and stays that way", async (t) => {
  const path = tempDir(t);
  cpSync(join(fixtures, "brook-0.1-files"), path, { recursive: true });
  assert.equal(existsSync(join(path, "orders-0", "00000000000000000000.index")), false);
  let log = await Log.open({ path });
  assert.equal(log.recovery().clean, true, JSON.stringify(log.recovery()));
  assertUpgraded(await contents(log));
  await log.close();
  assert.equal(existsSync(join(path, "orders-0", "00000000000000000000.index")), true, "indexes were written");
  // Opened again, from the indexes this time, and after new writes.
  log = await Log.open({ path });
  t.after(() => log.close());
  assertUpgraded(await contents(log));
  const [{ offset }] = await log.producer().send({ topic: "orders", messages: [{ value: "new", partition: 0 }] });
  assert.equal(offset, expected.offsets.orders[0].high);
});
