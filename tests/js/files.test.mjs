// File logs at the edges of the file system: a descriptor limit far below the number of
// files, and a topic whose creation fails half-way.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { BrookError, Log } from "../../js/node.js";
import { tempDir } from "./helpers.mjs";

test("with `ulimit -n 256`, logs of 1,000 partitions and 1,500 segments write, reopen and read", async (t) => {
  const path = tempDir(t);
  const script = fileURLToPath(new URL("./fixtures/many-files.mjs", import.meta.url));
  const child = spawn("bash", ["-c", `ulimit -n 256 && exec "${process.execPath}" "${script}" "${path}"`], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  child.stderr.on("data", (chunk) => (output += chunk));
  await once(child, "exit");
  assert.equal(output.trim(), "ok 1000 2500");
});

test("a topic whose creation fails half-way does not exist, now or after a reopen; fixed, it can be created", async (t) => {
  const path = tempDir(t);
  let log = await Log.open({ path });
  // A file where partition 137's directory must go: creating it fails there.
  writeFileSync(join(path, "wide-137"), "in the way");
  await assert.rejects(log.createTopic({ topic: "wide", partitions: 300 }), (error) => {
    assert.ok(error instanceof BrookError);
    assert.equal(error.code, "IO_ERROR");
    return true;
  });
  assert.deepEqual(log.topics(), []);
  await log.close();
  log = await Log.open({ path });
  assert.deepEqual(log.topics(), [], "after a reopen too");
  rmSync(join(path, "wide-137"));
  await log.createTopic({ topic: "wide", partitions: 300 });
  assert.equal(log.offsets("wide").length, 300);
  await log.close();
  log = await Log.open({ path });
  assert.equal(log.offsets("wide").length, 300);
  await log.close();
});
