// File logs at the edges of the file system: a descriptor limit far below the number of
// files, and a topic whose creation fails half-way.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
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

test("a log far larger than its cache is read end to end after a reopen", async (t) => {
  const path = tempDir(t);
  let log = await Log.open({ path, cacheBytes: 64 * 1024 });
  await log.createTopic({ topic: "t", partitions: 2, segmentBytes: 1024 * 1024 });
  const producer = log.producer();
  const value = (i) => `${i}:${"x".repeat(4000)}`;
  for (let i = 0; i < 4000; i += 100) {
    const messages = Array.from({ length: 100 }, (_, j) => ({ value: value(i + j), partition: (i + j) % 2 }));
    await producer.send({ topic: "t", messages });
  }
  await log.close();
  log = await Log.open({ path, cacheBytes: 64 * 1024 });
  t.after(() => log.close());
  const consumer = log.consumer({ groupId: "all", fromBeginning: true, maxRecords: 333 });
  await consumer.subscribe({ topic: "t" });
  const next = [0, 0];
  let count = 0;
  for (let batch; (batch = await consumer.poll()).length > 0; ) {
    for (const m of batch) {
      assert.equal(m.offset, next[m.partition]++, "offsets in order, once each");
      const text = new TextDecoder().decode(m.value);
      assert.equal(text, value(2 * m.offset + m.partition));
      count++;
    }
  }
  assert.equal(count, 4000);
});

test("damage in the middle of a partition fails only its own offsets; a scan reports it in recovery()", async (t) => {
  const path = tempDir(t);
  let log = await Log.open({ path });
  await log.createTopic({ topic: "t", partitions: 1 });
  const producer = log.producer();
  for (let i = 0; i < 10; i++) await producer.send({ topic: "t", messages: [{ value: `record ${i}` }] });
  await log.close();
  // Flip a byte inside the fifth batch's records (each send is one batch of equal size).
  const segment = join(path, "t-0", "00000000000000000000.log");
  const bytes = readFileSync(segment);
  const batchLength = bytes.length / 10;
  bytes[4 * batchLength + batchLength - 3] ^= 0xff;
  writeFileSync(segment, bytes);

  const readBack = async (log) => {
    const consumer = log.consumer({ groupId: `g${Math.random()}`, fromBeginning: true });
    await consumer.subscribe({ topic: "t" });
    const first = await consumer.poll();
    assert.deepEqual(first.map((m) => m.offset), [0, 1, 2, 3]);
    await assert.rejects(consumer.poll(), (error) => {
      assert.equal(error.code, "CORRUPT_DATA");
      assert.match(error.message, /offsets 4 to 4 are damaged/);
      return true;
    });
    consumer.seek({ topic: "t", partition: 0, offset: 5 });
    const rest = await consumer.poll();
    assert.deepEqual(rest.map((m) => new TextDecoder().decode(m.value)), [5, 6, 7, 8, 9].map((i) => `record ${i}`));
  };
  // After a clean close the index is trusted and nothing is scanned: the read finds the damage.
  log = await Log.open({ path });
  assert.equal(log.recovery().clean, true);
  assert.equal(log.offsets("t")[0].high, 10, "nothing after the damage was cut");
  await readBack(log);
  await log.close();
  // Without its index the segment is scanned at open, and the report names the damage.
  rmSync(join(path, "t-0", "00000000000000000000.index"));
  log = await Log.open({ path });
  t.after(() => log.close());
  const report = log.recovery();
  assert.equal(report.clean, false);
  assert.deepEqual(
    report.partitions.map((p) => [p.topic, p.partition, p.damaged.map((d) => [d.from, d.to])]),
    [["t", 0, [[4, 5]]]],
  );
  assert.equal(log.offsets("t")[0].high, 10, "nothing after the damage was cut");
  await readBack(log);
});
