// Files, crashes and locks, with real child processes: what a send acknowledged survives
// SIGKILL, commits decide what a crashed consumer sees again, and the LOCK file keeps a
// second writer out without ever locking a user out after a crash.

import assert from "node:assert/strict";
import { once } from "node:events";
import fs, { readdirSync, statSync } from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import { join } from "node:path";
import { test } from "node:test";
import { BrookError, Log } from "../../js/node.js";
import { WasmLog } from "../../pkg/node/brook_core.js";
import { countCalls, eventually, sleep, spawnFixture, tempDir, text } from "./helpers.mjs";

async function openFiles(t, path, options = {}) {
  const log = await Log.open({ path, ...options });
  t.after(() => log.close());
  return log;
}

/** The log at `path` with topic "events" holding `count` records "value-<i>". */
async function prepareEvents(t, path, count) {
  const log = await openFiles(t, path);
  await log.createTopic({ topic: "events", partitions: 1 });
  if (count > 0) {
    const messages = Array.from({ length: count }, (_, i) => ({ value: `value-${i}` }));
    await log.producer().send({ topic: "events", messages });
  }
  await log.close();
}

/** Where group "crashy" resumes after its consumer died handling the first record. */
async function resumeAfterCrash(t, autoCommit) {
  const path = tempDir(t);
  await prepareEvents(t, path, 3);
  const { lines, exit } = spawnFixture(t, "crash-consumer.mjs", [path, String(autoCommit)]);
  const [[line], { signal }] = await Promise.all([once(lines, "line"), exit]);
  assert.equal(line, "handling 0");
  assert.equal(signal, "SIGKILL");

  const log = await openFiles(t, path);
  const consumer = log.consumer({ groupId: "crashy", autoCommit, maxRecords: 1 });
  await consumer.subscribe({ topic: "events", fromBeginning: true });
  const [next] = await consumer.poll();
  return next.offset;
}

test("after a crash mid-handler, manual commit delivers the record again", async (t) => {
  assert.equal(await resumeAfterCrash(t, false), 0);
});

test("after a crash mid-handler, auto commit has already moved past the record", async (t) => {
  assert.equal(await resumeAfterCrash(t, true), 1);
});

/** Where group "crashy" resumes after its consumer, fetching `maxRecords` at a time, died
 * handling offset 2 of 10 records. */
async function resumeAfterCrashAt2(t, extra = []) {
  const path = tempDir(t);
  await prepareEvents(t, path, 10);
  const { lines, exit } = spawnFixture(t, "crash-consumer.mjs", [path, "true", "500", "2", ...extra]);
  const handled = [];
  for await (const line of lines) handled.push(line);
  assert.equal((await exit).signal, "SIGKILL");
  assert.deepEqual(handled, ["handling 0", "handling 1", "handling 2"]);
  const log = await openFiles(t, path);
  const consumer = log.consumer({ groupId: "crashy" });
  await consumer.subscribe({ topic: "events", fromBeginning: true });
  return (await consumer.poll({ maxRecords: 100 })).map((m) => m.offset);
}

test("auto commit in run() commits each chunk as it starts: a crash skips the rest of that chunk (at-most-once)", async (t) => {
  assert.deepEqual(await resumeAfterCrashAt2(t), []);
});

test("auto commit with autoCommitThreshold commits what was handled: a crash redelivers the record in hand (at-least-once)", async (t) => {
  assert.deepEqual(await resumeAfterCrashAt2(t, ["1"]), [2, 3, 4, 5, 6, 7, 8, 9]);
});

test("every send acknowledged before SIGKILL survives, offsets contiguous from 0", async (t) => {
  const path = tempDir(t);
  await prepareEvents(t, path, 0);
  const { child, lines, exit } = spawnFixture(t, "writer.mjs", [path]);
  const acknowledged = [];
  for await (const line of lines) {
    acknowledged.push(Number(line));
    if (acknowledged.length === 200) break;
  }
  child.kill("SIGKILL");
  await exit;
  assert.deepEqual(
    acknowledged,
    acknowledged.map((_, i) => i),
  );

  // The dead writer's LOCK names a pid that no longer runs: the open takes it over.
  const log = await openFiles(t, path);
  const [{ low, high }] = log.offsets("events");
  assert.equal(low, 0);
  assert.ok(high >= 200, `high watermark ${high}`);
  const consumer = log.consumer({ groupId: "audit", fromBeginning: true });
  await consumer.subscribe({ topic: "events" });
  const records = await consumer.poll({ maxRecords: high });
  assert.deepEqual(
    records.map((r) => r.offset),
    records.map((_, i) => i),
  );
  assert.equal(records.length, high);
  for (const offset of acknowledged) assert.equal(text(records[offset].value), `value-${offset}`);
});

for (const [durability, autoCommit] of [["strict", false], ["strict", true], ["relaxed", false]]) {
  test(`SIGKILL while producing and consuming (${durability}, autoCommit ${autoCommit}): every processed record is still there, no commit beyond the end`, async (t) => {
    const path = tempDir(t);
    const log = await openFiles(t, path);
    await log.createTopic({ topic: "events", partitions: 3 });
    await log.close();
    const { child, lines, exit } = spawnFixture(t, "produce-consume.mjs", [path, durability, String(autoCommit)]);
    const processed = [];
    for await (const line of lines) {
      const [partition, offset, value] = line.split(" ");
      processed.push({ partition: Number(partition), offset: Number(offset), value });
      if (processed.length === 1000) break;
    }
    child.kill("SIGKILL");
    await exit;

    const reopened = await openFiles(t, path);
    const offsets = reopened.offsets("events");
    for (const { partition, committed, high } of reopened.lag({ groupId: "views", topic: "events" })) {
      assert.ok(committed === null || committed <= high, `partition ${partition}: commit ${committed} beyond the end ${high}`);
      assert.equal(high, offsets[partition].high);
    }
    assert.equal(reopened.recovery().clampedCommits.length, 0, "no commit had to be clamped");
    const audit = reopened.consumer({ groupId: "audit", fromBeginning: true, maxRecords: 100_000 });
    await audit.subscribe({ topic: "events" });
    const stored = new Map();
    for (let batch; (batch = await audit.poll()).length > 0; ) {
      for (const m of batch) stored.set(`${m.partition} ${m.offset}`, text(m.value));
    }
    for (const { partition, offset, value } of processed) {
      assert.equal(stored.get(`${partition} ${offset}`), value, `processed ${partition}:${offset} is still there, unchanged`);
    }
  });
}

test("close and reopen keep topics, their configuration, records and commits", async (t) => {
  const path = tempDir(t);
  const log = await openFiles(t, path, { durability: "relaxed" });
  await log.createTopic({ topic: "people", partitions: 2, retentionMs: 60_000 });
  await log.createTopic({ topic: "sales", partitions: 3, cleanupPolicy: "compact" });
  const messages = Array.from({ length: 6 }, (_, i) => ({ key: `k${i}`, value: `v${i}` }));
  await log.producer().send({ topic: "sales", messages });
  const consumer = log.consumer({ groupId: "report", autoCommit: false, fromBeginning: true });
  await consumer.subscribe({ topic: "sales" });
  const delivered = await consumer.poll();
  await consumer.commitOffsets(
    delivered.map(({ topic, partition, offset }) => ({ topic, partition, offset: offset + 1 })),
  );
  const topicsBefore = log.topics();
  const offsetsBefore = log.offsets("sales");
  await log.close();

  const reopened = await openFiles(t, path);
  assert.deepEqual(reopened.topics(), topicsBefore);
  assert.equal(reopened.topics()[0].retentionMs, 60_000);
  assert.deepEqual(reopened.offsets("sales"), offsetsBefore);
  const resumed = reopened.consumer({ groupId: "report", autoCommit: false, fromBeginning: true });
  await resumed.subscribe({ topic: "sales" });
  assert.deepEqual(await resumed.poll(), [], "everything was committed");
  assert.ok(resumed.lag().every((p) => p.lag === 0 && p.committed === p.high));
  await reopened.producer().send({ topic: "sales", messages: [{ key: "k0", value: "new" }] });
  assert.deepEqual(
    (await resumed.poll()).map((m) => text(m.value)),
    ["new"],
  );
});

test("strict sends issued together share a flush and all resolve", async (t) => {
  const path = tempDir(t);
  await prepareEvents(t, path, 0);
  const log = await openFiles(t, path);
  const producer = log.producer();
  const calls = countCalls(t, ["persist"]);
  const sends = Array.from({ length: 50 }, (_, i) =>
    producer.send({ topic: "events", messages: [{ value: `value-${i}` }] }),
  );
  const results = await Promise.all(sends);
  assert.deepEqual(
    results.map(([r]) => r.offset),
    results.map((_, i) => i),
  );
  assert.equal(calls.persist, 1);
});

// brook yields the thread once its callbacks held it for a slice (turns.js): the senders it
// lets go must go on in one task, or each sends and flushes alone (an fsync per send).
test("concurrent strict senders keep sharing flushes once brook lets the event loop breathe", async (t) => {
  const path = tempDir(t);
  await prepareEvents(t, path, 0);
  const log = await openFiles(t, path);
  const producer = log.producer();
  const calls = countCalls(t, ["persist"]);
  const senders = 16;
  let sends = 0;
  // Long enough for many slices of 10 ms.
  const deadline = performance.now() + 300;
  await Promise.all(
    Array.from({ length: senders }, async (_, sender) => {
      while (performance.now() < deadline) {
        await producer.send({ topic: "events", messages: [{ value: `value-${sender}` }] });
        sends += 1;
      }
    }),
  );
  assert.ok(sends > 10 * senders, `enough sends to measure (${sends})`);
  // Sharing: about one flush per round of the 16 senders; alone: one per send.
  assert.ok(calls.persist * 4 < sends, `${calls.persist} flushes for ${sends} sends`);
});

/** Puts `wrap(original)` in the place of node:fs's callback fdatasync (js/node.js's
 * background syncs) for the rest of the test. */
function wrapFdatasync(t, wrap) {
  const original = fs.fdatasync;
  fs.fdatasync = wrap(original);
  syncBuiltinESMExports();
  t.after(() => {
    fs.fdatasync = original;
    syncBuiltinESMExports();
  });
}

/** A strict log at `path` with topic "spread" of `partitions` partitions. */
async function spreadLog(t, path, partitions) {
  const log = await openFiles(t, path);
  await log.createTopic({ topic: "spread", partitions });
  return log;
}

const spreadMessages = (count, from = 0) =>
  Array.from({ length: count }, (_, i) => ({ key: `key-${from + i}`, value: `value-${from + i}` }));

// A strict flush of several files syncs them off the thread, at once (node.js
// syncInBackground): the send resolves only once every one is done, and the event loop runs
// meanwhile.
test("a strict send over several partitions resolves after every file's fdatasync, and the event loop runs during them", async (t) => {
  const log = await spreadLog(t, tempDir(t), 3);
  const synced = [];
  wrapFdatasync(t, (original) => (fd, callback) => {
    // Each sync takes 30 ms; a timer set after the send must run before it resolves.
    setTimeout(() => original(fd, (error) => {
      synced.push(performance.now());
      callback(error);
    }), 30);
  });
  let timerRan = false;
  const sent = log.producer().send({ topic: "spread", messages: spreadMessages(30) });
  setTimeout(() => (timerRan = true), 0);
  const placed = await sent;
  const resolvedAt = performance.now();
  assert.equal(new Set(placed.map((p) => p.partition)).size, 3, "the send touched three partitions");
  assert.ok(synced.length >= 3, `every partition's file was synced (${synced.length})`);
  assert.ok(synced.every((at) => at <= resolvedAt), "the send resolved after the syncs");
  assert.ok(timerRan, "a timer ran while the files synced");
  const consumer = log.consumer({ groupId: "g", fromBeginning: true });
  await consumer.subscribe({ topic: "spread" });
  assert.equal((await consumer.poll({ maxRecords: 100 })).length, 30);
});

test("a background fdatasync that fails rejects the send, takes its records back, and stops the partitions until a reopen", async (t) => {
  const path = tempDir(t);
  let log = await spreadLog(t, path, 3);
  const producer = log.producer();
  await producer.send({ topic: "spread", messages: spreadMessages(30) });
  let failing = true;
  wrapFdatasync(t, (original) => (fd, callback) => {
    if (!failing) return original(fd, callback);
    failing = false;
    setImmediate(() => callback(Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" })));
  });
  await assert.rejects(producer.send({ topic: "spread", messages: spreadMessages(30, 30) }), (error) => {
    assert.ok(error instanceof BrookError);
    assert.equal(error.code, "IO_ERROR");
    assert.match(error.message, /EIO/);
    return true;
  });
  await assert.rejects(producer.send({ topic: "spread", messages: spreadMessages(30, 60) }), /stopped taking writes after an earlier failure/);
  await log.close();
  log = await openFiles(t, path);
  const consumer = log.consumer({ groupId: "g", fromBeginning: true });
  await consumer.subscribe({ topic: "spread" });
  const values = (await consumer.poll({ maxRecords: 1000 })).map((m) => text(m.value)).sort();
  assert.deepEqual(values, spreadMessages(30).map((m) => m.value).sort(), "what was acknowledged, and nothing else");
  await log.producer().send({ topic: "spread", messages: spreadMessages(3, 90) });
});

// A background sync keeps its descriptors open until it is done, while the log keeps at most
// 64 open (node.js DESCRIPTORS_MAX): one evicted during the sync is closed after it, never
// under it (a closed number could be reused for another file and synced in its place).
test("descriptors evicted while a background sync uses them are closed after it", async (t) => {
  const path = tempDir(t);
  // No cache: every read below goes to the files, and opens their descriptors.
  const log = await openFiles(t, path, { cacheBytes: 0 });
  await log.createTopic({ topic: "spread", partitions: 80 });
  const producer = log.producer();
  const toEach = (count, value) => Array.from({ length: count }, (_, partition) => ({ partition, value }));
  await producer.send({ topic: "spread", messages: toEach(80, "first") }); // 80 files: in place
  const changed = [];
  let release;
  const held = new Promise((resolve) => (release = resolve));
  wrapFdatasync(t, (original) => (fd, callback) => {
    const file = fs.fstatSync(fd).ino;
    held.then(() => {
      let now;
      try {
        now = fs.fstatSync(fd).ino;
      } catch (error) {
        now = error.code;
      }
      if (now !== file) changed.push(now);
      original(fd, callback);
    });
  });
  const syncing = producer.send({ topic: "spread", messages: toEach(3, "second") });
  // Reading every partition opens all 80 files, evicting the three being synced.
  // Without auto commit: its poll would wait for the flush held below.
  const reader = log.consumer({ groupId: "reader", fromBeginning: true, autoCommit: false });
  await reader.subscribe({ topic: "spread" });
  assert.equal((await reader.poll({ maxRecords: 1000 })).length, 80);
  release();
  await syncing;
  assert.deepEqual(changed, [], "every descriptor still named its file when its sync ran");
});

test("a failed flush rejects every send that waited on it", async (t) => {
  const path = tempDir(t);
  await prepareEvents(t, path, 0);
  const log = await openFiles(t, path);
  const producer = log.producer();
  // The core reports a failed fsync once (instrumenting the wasm class). What follows a real
  // one is the core's business: it refuses writes to that partition until a reopen.
  const persist = WasmLog.prototype.persist;
  WasmLog.prototype.persist = function () {
    WasmLog.prototype.persist = persist;
    throw Object.assign(new Error("sync failed"), { name: "BrookError", code: "IO_ERROR" });
  };
  t.after(() => (WasmLog.prototype.persist = persist));
  const outcomes = await Promise.allSettled(
    [0, 1, 2].map((i) => producer.send({ topic: "events", messages: [{ value: `value-${i}` }] })),
  );
  for (const outcome of outcomes) {
    assert.equal(outcome.status, "rejected");
    assert.ok(outcome.reason instanceof BrookError);
    assert.equal(outcome.reason.code, "IO_ERROR");
  }
});

test("retention and compaction run by themselves: auto commits do not grow the log without bound", async (t) => {
  const path = tempDir(t);
  const log = await Log.open({ path, durability: "relaxed" });
  t.after(() => log.close());
  await log.createTopic({ topic: "events", partitions: 1 });
  const producer = log.producer();
  const consumer = log.consumer({ groupId: "steady" });
  await consumer.subscribe({ topic: "events", fromBeginning: true });
  let seen = 0;
  await consumer.run({ eachMessage: async () => void seen++ });
  for (let round = 0; round < 30; round++) {
    const messages = Array.from({ length: 100 }, (_, i) => ({ value: `v${round}-${i}` }));
    await producer.send({ topic: "events", messages });
    await eventually(() => seen === (round + 1) * 100);
    await sleep(40);
  }
  // 3000 per-record commits of ~90 bytes each would be ~270 KB of __consumer_offsets. The
  // cleaner runs at most once a second, and once more after the last change.
  const directory = join(path, "__consumer_offsets-0");
  const size = () => readdirSync(directory).reduce((sum, name) => sum + statSync(join(directory, name)).size, 0);
  await eventually(() => size() < 150_000, 3000).catch(() => {});
  assert.ok(size() < 150_000, `compaction kept the commits small: ${size()} bytes`);
});
