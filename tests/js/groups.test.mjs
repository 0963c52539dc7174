// Consumer groups and the delivery loop through the public API: each group sees every record,
// members split partitions and take over a leaver's, run() delivers in order without busy
// polling, stops on disconnect, and stops delivering a partition the moment it is revoked.

import assert from "node:assert/strict";
import { test } from "node:test";
import { Log } from "../../js/node.js";
import { countCalls, eventually, fillPartitions, sleep, spawnFixture, text } from "./helpers.mjs";

/** A memory log with topic "orders", closed when the test ends (also when it fails). */
async function openWithTopic(t, partitions) {
  const log = await Log.open();
  t.after(() => log.close());
  await log.createTopic({ topic: "orders", partitions });
  return log;
}

/** Starts `consumer` on "orders"; returns the messages it delivers, as they come. */
async function running(consumer, options = {}) {
  const delivered = [];
  await consumer.subscribe({ topic: "orders", fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      delivered.push(message);
    },
    ...options,
  });
  return delivered;
}

/** Starts `consumer` on "orders", holding its handler at the `holdAt`-th message until
 * `release()`: a member caught mid-delivery, for rebalance tests. */
async function runningHeld(consumer, holdAt) {
  const seen = [];
  let release;
  const gate = new Promise((resolve) => (release = resolve));
  await consumer.subscribe({ topic: "orders", fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      seen.push(message);
      if (seen.length === holdAt) await gate;
    },
  });
  await eventually(() => seen.length === holdAt);
  return { seen, release };
}

function byPartition(messages) {
  const lanes = new Map();
  for (const m of messages) {
    if (!lanes.has(m.partition)) lanes.set(m.partition, []);
    lanes.get(m.partition).push(m.offset);
  }
  return lanes;
}

test("two groups each see every record", async (t) => {
  const log = await openWithTopic(t, 3);
  await fillPartitions(log, "orders", 3, 10);
  for (const groupId of ["billing", "shipping"]) {
    const consumer = log.consumer({ groupId, fromBeginning: true });
    await consumer.subscribe({ topic: "orders" });
    const messages = await consumer.poll({ maxRecords: 100 });
    assert.equal(messages.length, 30, groupId);
    assert.deepEqual(
      consumer.lag().map((p) => p.lag),
      [0, 0, 0],
    );
  }
  await log.close();
});

test("members of a group split the partitions", async (t) => {
  const log = await openWithTopic(t, 4);
  const members = [];
  for (let i = 0; i < 3; i++) {
    const consumer = log.consumer({ groupId: "split" });
    await consumer.subscribe({ topic: "orders" });
    members.push(consumer);
  }
  assert.deepEqual(members.map((m) => m.assignment().length).sort(), [1, 1, 2]);
  const owned = members.flatMap((m) => m.assignment().map((tp) => tp.partition));
  assert.deepEqual(owned.sort(), [0, 1, 2, 3], "each partition owned exactly once");
  await members[2].disconnect();
  assert.deepEqual(
    members.slice(0, 2).map((m) => m.assignment().length),
    [2, 2],
  );
  await log.close();
});

test("a member leaving hands its partitions to the others, who continue from its last commit", async (t) => {
  const log = await openWithTopic(t, 4);
  const leaver = log.consumer({ groupId: "sync", autoCommit: false, fromBeginning: true });
  const stayer = log.consumer({ groupId: "sync", autoCommit: false, fromBeginning: true });
  await leaver.subscribe({ topic: "orders" });
  await stayer.subscribe({ topic: "orders" });
  await fillPartitions(log, "orders", 4, 5);
  const leaverPartitions = leaver.assignment().map((tp) => tp.partition);
  assert.equal(leaverPartitions.length, 2);

  // The leaver processes its partitions but commits only up to offset 2 of each.
  const processed = await leaver.poll({ maxRecords: 100 });
  assert.equal(processed.length, 10);
  for (const message of processed.filter((m) => m.offset === 2)) await leaver.commit(message);
  await leaver.disconnect();

  assert.equal(stayer.assignment().length, 4);
  const lanes = byPartition(await stayer.poll({ maxRecords: 100 }));
  for (const partition of leaverPartitions) assert.deepEqual(lanes.get(partition), [3, 4]);
  for (const partition of [0, 1, 2, 3].filter((p) => !leaverPartitions.includes(p))) {
    assert.deepEqual(lanes.get(partition), [0, 1, 2, 3, 4]);
  }
  await log.close();
});

test("running members share the work and the remaining one takes over after a disconnect", async (t) => {
  const log = await openWithTopic(t, 4);
  const first = log.consumer({ groupId: "workers" });
  const second = log.consumer({ groupId: "workers" });
  const firstSeen = await running(first);
  const secondSeen = await running(second);
  await fillPartitions(log, "orders", 4, 10);
  await eventually(() => firstSeen.length + secondSeen.length === 40);
  assert.ok(firstSeen.length > 0 && secondSeen.length > 0, "both members delivered");

  await first.disconnect();
  await fillPartitions(log, "orders", 4, 10);
  await eventually(() => secondSeen.length + firstSeen.length === 80);
  assert.equal(firstSeen.length + secondSeen.length, 80, "no record twice");
  assert.equal(byPartition(secondSeen).size, 4);
  await log.close();
});

test("run delivers each partition in order, every record once", async (t) => {
  const log = await openWithTopic(t, 3);
  const consumer = log.consumer({ groupId: "ordered", maxRecords: 7 });
  const delivered = [];
  let inFlight = 0;
  let overlaps = 0;
  await running(consumer, {
    eachMessage: async ({ message }) => {
      inFlight += 1;
      if (inFlight > 1) overlaps += 1;
      await sleep(0);
      inFlight -= 1;
      delivered.push(message);
    },
  });
  const producer = log.producer();
  for (let batch = 0; batch < 10; batch++) {
    const messages = Array.from({ length: 30 }, (_, i) => ({
      key: `k${i % 11}`,
      value: `${batch}-${i}`,
    }));
    await producer.send({ topic: "orders", messages });
  }
  await eventually(() => delivered.length === 300, 5000);
  assert.equal(overlaps, 0, "one handler at a time");
  for (const [partition, offsets] of byPartition(delivered)) {
    assert.deepEqual(
      offsets,
      offsets.map((_, i) => i),
      `partition ${partition} in order`,
    );
  }
  await log.close();
});

test("an idle loop waits without polling and wakes at once when a record arrives", async (t) => {
  const log = await openWithTopic(t, 2);
  const consumer = log.consumer({ groupId: "idle" });
  const delivered = await running(consumer);
  const calls = countCalls(t, ["fetchLease", "readyMembers"]);
  const cpuBefore = process.cpuUsage();
  await sleep(300);
  const cpu = process.cpuUsage(cpuBefore);
  assert.deepEqual(calls, { fetchLease: 0, readyMembers: 0 }, "no polling while idle");
  assert.ok(
    cpu.user + cpu.system < 60_000,
    `idle for 300 ms used ${(cpu.user + cpu.system) / 1000} ms of CPU`,
  );

  const sentAt = performance.now();
  await log.producer().send({ topic: "orders", messages: [{ value: "wake up" }] });
  await eventually(() => delivered.length === 1);
  assert.ok(performance.now() - sentAt < 100, "delivered promptly");
  assert.ok(calls.fetchLease <= 3, `${calls.fetchLease} fetches for one record`);

  await consumer.disconnect();
  await log.producer().send({ topic: "orders", messages: [{ value: "after disconnect" }] });
  await sleep(20);
  assert.equal(delivered.length, 1, "nothing delivered after disconnect");
  assert.deepEqual(consumer.assignment(), []);
  await log.close();
});

test("close stops a running loop, waiting for the handler in flight", async (t) => {
  const log = await openWithTopic(t, 1);
  let started = 0;
  let finished = 0;
  const consumer = log.consumer({ groupId: "slow" });
  await consumer.subscribe({ topic: "orders", fromBeginning: true });
  await consumer.run({
    eachMessage: async () => {
      started += 1;
      await sleep(30);
      finished += 1;
    },
  });
  await fillPartitions(log, "orders", 1, 5);
  await eventually(() => started === 1);
  await log.close();
  assert.deepEqual([started, finished], [1, 1], "the handler in flight finished, no other began");
  await sleep(50);
  assert.deepEqual([started, finished], [1, 1], "nothing after close");
});

test("a partition revoked by a rebalance stops delivering at once; its new owner gets it", async (t) => {
  const log = await openWithTopic(t, 2);
  await fillPartitions(log, "orders", 2, 5);
  const first = log.consumer({ groupId: "handover", autoCommit: false });
  const { seen: firstSeen, release } = await runningHeld(first, 1);

  // While the first handler waits, a second member joins and takes one partition.
  const second = log.consumer({ groupId: "handover", autoCommit: false });
  const secondSeen = await running(second);
  const [{ partition: moved }] = second.assignment();
  release();
  await eventually(() => secondSeen.length === 5);
  await sleep(20);
  const firstAfter = firstSeen.slice(1);
  assert.ok(
    firstAfter.every((m) => m.partition !== moved),
    "nothing of the revoked partition after the rebalance",
  );
  assert.equal(
    firstSeen.filter((m) => m.partition !== moved).length,
    5,
    "the kept partition complete",
  );
  await log.close();
});

test("a failing handler stops the loop; without auto commit a later run delivers that record again", async (t) => {
  const log = await openWithTopic(t, 1);
  await fillPartitions(log, "orders", 1, 5);
  const consumer = log.consumer({ groupId: "fragile", autoCommit: false });
  await consumer.subscribe({ topic: "orders", fromBeginning: true });
  const errors = [];
  const seen = [];
  await consumer.run({
    eachMessage: async ({ message }) => {
      if (message.offset === 2) throw new Error("cannot process 2");
      seen.push(message.offset);
      await consumer.commit(message);
    },
    onError: (error) => errors.push(error.message),
  });
  await eventually(() => errors.length === 1);
  assert.deepEqual(errors, ["cannot process 2"]);
  assert.deepEqual(seen, [0, 1]);

  // The failed consumer left its group; run() rejoins and resumes at the last commit.
  await consumer.run({ eachMessage: async ({ message }) => void seen.push(message.offset) });
  await eventually(() => seen.length === 5);
  assert.deepEqual(seen, [0, 1, 2, 3, 4]);
  await log.close();
});

test("a failing handler under auto commit of processed records: what it finished is committed, durably, when onError hears", async (t) => {
  const log = await openWithTopic(t, 1);
  await fillPartitions(log, "orders", 1, 5);
  // A threshold larger than the chunk: nothing is due before the failure.
  const consumer = log.consumer({ groupId: "fragile", autoCommitThreshold: 1000 });
  await consumer.subscribe({ topic: "orders", fromBeginning: true });
  const committed = [];
  await consumer.run({
    eachMessage: async ({ message }) => {
      if (message.offset === 2) throw new Error("cannot process 2");
    },
    onError: () => committed.push(log.lag({ groupId: "fragile", topic: "orders" })[0].committed),
  });
  await eventually(() => committed.length === 1);
  assert.deepEqual(committed, [2], "0 and 1 were handled: the group resumes at 2");
  const seen = [];
  await consumer.run({ eachMessage: async ({ message }) => void seen.push(message.offset) });
  await eventually(() => seen.length === 3);
  assert.deepEqual(seen, [2, 3, 4]);
  await log.close();
});

test("eachBatch gets one partition's run of records with its high watermark", async (t) => {
  const log = await openWithTopic(t, 2);
  await fillPartitions(log, "orders", 2, 3);
  const consumer = log.consumer({ groupId: "batches" });
  await consumer.subscribe({ topic: "orders", fromBeginning: true });
  const batches = [];
  await consumer.run({
    eachBatch: async ({ batch, isRunning, isStale }) => {
      assert.ok(isRunning() && !isStale());
      batches.push(batch);
    },
  });
  await eventually(() => batches.length === 2);
  for (const batch of batches) {
    assert.equal(batch.highWatermark, 3);
    assert.deepEqual(
      batch.messages.map((m) => text(m.value)),
      [0, 1, 2].map((i) => `p${batch.partition}-${i}`),
    );
  }
  await log.close();
});

test("run({ maxRecords }) fetches that many at a time instead of the consumer's option", async (t) => {
  const log = await openWithTopic(t, 1);
  await fillPartitions(log, "orders", 1, 7);
  const consumer = log.consumer({ groupId: "small", maxRecords: 100 });
  await consumer.subscribe({ topic: "orders", fromBeginning: true });
  for (const maxRecords of [0, 1.5, "3", -1]) {
    await assert.rejects(consumer.run({ eachBatch: () => {}, maxRecords }), { code: "INVALID_ARGUMENT" });
  }
  const sizes = [];
  await consumer.run({ eachBatch: ({ batch }) => void sizes.push(batch.messages.length), maxRecords: 3 });
  await eventually(() => sizes.reduce((a, b) => a + b, 0) === 7);
  assert.deepEqual(sizes, [3, 3, 1]);
  await log.close();
});

test("seek, pause and resume steer a running loop", async (t) => {
  const log = await openWithTopic(t, 2);
  const consumer = log.consumer({ groupId: "steer" });
  const delivered = await running(consumer);
  consumer.pause([{ topic: "orders", partitions: [1] }]);
  assert.deepEqual(consumer.paused(), [{ topic: "orders", partition: 1 }]);
  await fillPartitions(log, "orders", 2, 3);
  await eventually(() => delivered.length === 3);
  await sleep(20);
  assert.ok(
    delivered.every((m) => m.partition === 0),
    "paused partition held back",
  );

  consumer.resume([{ topic: "orders" }]);
  await eventually(() => delivered.length === 6);
  consumer.seek({ topic: "orders", partition: 0, offset: 1 });
  await eventually(() => delivered.length === 8);
  assert.deepEqual(
    delivered.slice(6).map((m) => [m.partition, m.offset]),
    [
      [0, 1],
      [0, 2],
    ],
  );
  await log.close();
});

test("auto commit: a partition revoked before its records were handed over loses none of them", async (t) => {
  const log = await openWithTopic(t, 2);
  await fillPartitions(log, "orders", 2, 10);
  const first = log.consumer({ groupId: "handover-auto" });
  const { seen: firstSeen, release } = await runningHeld(first, 2);
  const second = log.consumer({ groupId: "handover-auto" });
  const secondSeen = await running(second);
  const [{ partition: moved }] = second.assignment();
  release();
  await eventually(() => firstSeen.length + secondSeen.length >= 20);
  await sleep(20);
  const all = [...firstSeen, ...secondSeen].map((m) => `${m.partition}:${m.offset}`);
  assert.equal(new Set(all).size, 20, `every record processed once by the group: ${all}`);
  assert.ok(secondSeen.every((m) => m.partition === moved));
});

test("groups can be inspected without joining, and a consumer knows its position", async (t) => {
  const log = await openWithTopic(t, 2);
  await fillPartitions(log, "orders", 2, 4);
  const consumer = log.consumer({ groupId: "inspect", autoCommit: false });
  await consumer.subscribe({ topic: "orders", fromBeginning: true });
  assert.equal(consumer.position({ topic: "orders", partition: 0 }), null, "not read yet");
  const got = await consumer.poll({ maxRecords: 3 });
  await consumer.commit(got[got.length - 1]);
  const last = got[got.length - 1];
  assert.equal(consumer.position({ topic: last.topic, partition: last.partition }), last.offset + 1);
  const described = log.describeGroup("inspect");
  assert.equal(described.members.length, 1);
  assert.deepEqual(log.groups(), ["inspect"]);
  await consumer.disconnect();
  assert.equal(log.describeGroup("inspect"), undefined, "no live members");
  const lag = log.lag({ groupId: "inspect", topic: "orders" });
  const entry = lag.find((l) => l.partition === last.partition);
  assert.equal(entry.committed, last.offset + 1, "the commit outlives the members");
  assert.equal(entry.lag, 4 - (last.offset + 1));
});

test("a failing handler leaves the group: its partitions move to the others at once", async (t) => {
  const log = await openWithTopic(t, 2);
  const failing = log.consumer({ groupId: "survivors", autoCommit: false });
  const steady = log.consumer({ groupId: "survivors", autoCommit: false });
  await failing.subscribe({ topic: "orders", fromBeginning: true });
  const errors = [];
  await failing.run({
    eachMessage: async () => {
      throw new Error("cannot process");
    },
    onError: (error) => errors.push(error.message),
  });
  const delivered = await running(steady);
  await fillPartitions(log, "orders", 2, 3);
  await eventually(() => delivered.length === 6);
  assert.deepEqual(errors, ["cannot process"]);
  assert.deepEqual(failing.assignment(), [], "the failed member left");
  assert.equal(steady.assignment().length, 2);
  // A later run() rejoins with the same subscription.
  await failing.run({ eachMessage: async () => {} });
  await eventually(() => failing.assignment().length === 1);
});

test("a running consumer keeps a Node process alive until it is disconnected", async (t) => {
  const { lines, exit } = spawnFixture(t, "idle-consumer.mjs", []);
  const printed = [];
  lines.on("line", (line) => printed.push(line));
  await eventually(() => printed.length === 1, 5000);
  assert.deepEqual(printed, ["running"]);
  const outcome = await Promise.race([exit.then(() => "exited"), sleep(700).then(() => "alive")]);
  assert.equal(outcome, "alive", "nothing but the running consumer holds the process");
  assert.equal((await exit).code, 0, "it exits by itself once the consumer stopped");
  assert.deepEqual(printed, ["running", "disconnected"]);
});

test("a send wakes only the consumers whose partitions got records", async (t) => {
  const log = await openWithTopic(t, 2);
  const first = log.consumer({ groupId: "lanes", assignor: "range" });
  const second = log.consumer({ groupId: "lanes", assignor: "range" });
  const seen = [await running(first), await running(second)];
  await eventually(() => first.assignment().length === 1 && second.assignment().length === 1);
  const owner = first.assignment()[0].partition === 0 ? 0 : 1;
  const fetches = new Map();
  const { WasmLog } = await import("../../pkg/node/brook_core.js");
  const counted = WasmLog.prototype.fetchLease;
  WasmLog.prototype.fetchLease = function (member, ...rest) {
    fetches.set(member, (fetches.get(member) ?? 0) + 1);
    return counted.call(this, member, ...rest);
  };
  t.after(() => (WasmLog.prototype.fetchLease = counted));
  await sleep(20);
  for (let i = 0; i < 20; i++) await log.producer().send({ topic: "orders", messages: [{ value: `p0 ${i}`, partition: 0 }] });
  await eventually(() => seen[owner].length === 20);
  await sleep(20);
  assert.equal(seen[1 - owner].length, 0);
  assert.equal(fetches.size, 1, `only the owner of partition 0 fetched (${[...fetches.entries()]})`);
});

test("members joining and leaving while records flow: under auto commit, no record reaches the group twice and none is lost", async (t) => {
  for (let round = 0; round < 15; round++) {
    const log = await Log.open();
    await log.createTopic({ topic: "orders", partitions: 4 });
    const producer = log.producer({ partitioner: "roundRobin" });
    await producer.send({ topic: "orders", messages: Array.from({ length: 400 }, (_, i) => ({ value: `v${i}` })) });
    const delivered = [];
    const start = async () => {
      const consumer = log.consumer({ groupId: "churn", maxRecords: 7 });
      await consumer.subscribe({ topic: "orders", fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ partition, message }) => {
          delivered.push(`${partition}:${message.offset}`);
          if (delivered.length % 13 === 0) await sleep(0);
        },
      });
      return consumer;
    };
    const members = [await start()];
    members.push(await start());
    await sleep(round % 3);
    members.push(await start());
    await members[0].disconnect();
    await producer.send({ topic: "orders", messages: Array.from({ length: 100 }, (_, i) => ({ value: `w${i}` })) });
    members.push(await start());
    await members[1].disconnect();
    await eventually(() => delivered.length >= 500, 5000);
    await sleep(20);
    const unique = new Set(delivered);
    assert.equal(unique.size, delivered.length, `round ${round}: ${delivered.length - unique.size} records twice`);
    assert.equal(unique.size, 500, `round ${round}: every record once`);
    await log.close();
  }
});

test("a rebalance while a chunk's auto commit is flushing: the chunk stops, its next owner starts after what was handed over", async (t) => {
  const log = await openWithTopic(t, 2);
  await log.producer().send({ topic: "orders", messages: Array.from({ length: 20 }, (_, i) => ({ value: `v${i}`, partition: i % 2 })) });
  const { WasmLog } = await import("../../pkg/node/brook_core.js");
  const persist = WasmLog.prototype.persist;
  const joiner = log.consumer({ groupId: "race", assignor: "range" });
  let joined = false;
  WasmLog.prototype.persist = function (...args) {
    // The first flush is the first chunk's auto commit: a second member joins right then.
    if (!joined) {
      joined = true;
      void joiner.subscribe({ topic: "orders", fromBeginning: true });
    }
    return persist.apply(this, args);
  };
  t.after(() => (WasmLog.prototype.persist = persist));
  const first = log.consumer({ groupId: "race", assignor: "range" });
  const seen = [];
  await first.subscribe({ topic: "orders", fromBeginning: true });
  await first.run({ eachMessage: async ({ partition, message }) => void seen.push(`${partition}:${message.offset}`) });
  await eventually(() => joined);
  const others = [];
  await joiner.run({ eachMessage: async ({ partition, message }) => void others.push(`${partition}:${message.offset}`) });
  await eventually(() => seen.length + others.length >= 20);
  await sleep(20);
  const all = [...seen, ...others];
  assert.equal(new Set(all).size, all.length, `nothing twice: ${seen} | ${others}`);
  assert.equal(all.length, 20);
});
