// A file log written by brook 0.1 (the first engine: segments without .index files) opens
// with every record, header and commit where 0.1 left them, and is upgraded in place.

import assert from "node:assert/strict";
import { cpSync, existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { Log } from "../../js/node.js";
import { assertUpgraded, expected, fixture, readContents } from "../lib/upgrade.mjs";
import { tempDir } from "./helpers.mjs";

const fixtures = fileURLToPath(fixture(""));

test("a file log written by brook 0.1 opens with all its records and commits, and stays that way", async (t) => {
  const path = tempDir(t);
  cpSync(join(fixtures, "brook-0.1-files"), path, { recursive: true });
  assert.equal(existsSync(join(path, "orders-0", "00000000000000000000.index")), false);
  let log = await Log.open({ path });
  assert.equal(log.recovery().clean, true, JSON.stringify(log.recovery()));
  assertUpgraded(await readContents(log));
  await log.close();
  assert.equal(existsSync(join(path, "orders-0", "00000000000000000000.index")), true, "indexes were written");
  // Opened again, from the indexes this time, and after new writes.
  log = await Log.open({ path });
  t.after(() => log.close());
  assertUpgraded(await readContents(log));
  const [{ offset }] = await log.producer().send({ topic: "orders", messages: [{ value: "new", partition: 0 }] });
  assert.equal(offset, expected.offsets.orders[0].high);
});
