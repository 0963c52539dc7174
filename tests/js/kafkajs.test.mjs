// brook/kafkajs: KafkaJS programs run on brook unchanged. Each test is written as KafkaJS's
// documentation writes its calls, and checks what KafkaJS would give back: Buffers, offsets as
// strings, KafkaJS's error classes and Kafka's error names, instrumentation events, commits.

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { test as nodeTest } from "node:test";
import {
  CompressionTypes,
  Kafka,
  KafkaJSDeleteGroupsError,
  KafkaJSError,
  KafkaJSNonRetriableError,
  KafkaJSNotImplemented,
  KafkaJSProtocolError,
  PartitionAssigners,
  Partitioners,
  logLevel,
} from "../../js/kafkajs-node.js";
import { Log } from "../../js/node.js";
import { eventually, tempDir } from "./helpers.mjs";

const quiet = { logLevel: logLevel.NOTHING };

/** A failing wait must fail the test, not hang the run on consumers left running. */
function test(name, run) {
  return nodeTest(name, { timeout: 30_000 }, run);
}

/** Runs `consumer` until `count` messages came, collecting KafkaJS's eachMessage payloads. */
async function collect(consumer, count, config = {}) {
  const seen = [];
  await consumer.run({
    ...config,
    eachMessage: async (payload) => {
      seen.push(payload);
      await config.eachMessage?.(payload);
    },
  });
  await eventually(() => seen.length >= count, 5000);
  return seen;
}

async function rejectsWith(promise, check) {
  let error;
  try {
    await promise;
  } catch (caught) {
    error = caught;
  }
  assert.ok(error, "rejected");
  check(error);
  return error;
}

test("KafkaJS's getting-started program runs unchanged and reads back what it sent", async () => {
  const kafka = new Kafka({ clientId: "my-app", brokers: ["kafka1:9092", "kafka2:9092"], ...quiet });
  const producer = kafka.producer();
  await producer.connect();
  const sent = await producer.send({
    topic: "test-topic",
    messages: [{ value: "Hello KafkaJS user!" }],
  });
  // The topic was created on first use, with one partition (Kafka's num.partitions default).
  assert.deepEqual(sent, [{ topicName: "test-topic", partition: 0, errorCode: 0, baseOffset: "0", logAppendTime: "-1", logStartOffset: "0" }]);
  await producer.disconnect();

  const consumer = kafka.consumer({ groupId: "test-group" });
  await consumer.connect();
  await consumer.subscribe({ topic: "test-topic", fromBeginning: true });
  const [payload] = await collect(consumer, 1);
  const { topic, partition, message } = payload;
  assert.equal(topic, "test-topic");
  assert.equal(partition, 0);
  assert.ok(Buffer.isBuffer(message.value), "value is a Buffer");
  assert.equal(message.value.toString(), "Hello KafkaJS user!");
  assert.equal(message.key, null);
  assert.equal(message.offset, "0");
  assert.equal(typeof message.timestamp, "string");
  assert.ok(Math.abs(Number(message.timestamp) - Date.now()) < 60_000);
  assert.deepEqual(message.headers, {});
  // A plain object: spreading or JSON-serialising it keeps its fields.
  assert.deepEqual(Object.keys({ ...message }).sort(), ["attributes", "batchContext", "headers", "isControlRecord", "key", "magicByte", "offset", "timestamp", "value"]);
  assert.equal(typeof payload.heartbeat, "function");
  await payload.heartbeat();
  await consumer.disconnect();
});

test("keys place as Kafka places them, headers and timestamps round-trip, options are honoured or checked", async () => {
  const log = await Log.open();
  const kafka = new Kafka({ clientId: "c", brokers: [], log, ...quiet });
  const admin = kafka.admin();
  await admin.connect();
  assert.equal(await admin.createTopics({ topics: [{ topic: "orders", numPartitions: 3 }] }), true);
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, idempotent: true });
  assert.equal(producer.isIdempotent(), true);
  await producer.connect();
  const sent = await producer.send({
    topic: "orders",
    acks: -1,
    timeout: 30000,
    compression: CompressionTypes.GZIP,
    messages: [
      { key: "key1", value: "a", headers: { "correlation-id": "2bfb68bb", system: Buffer.from("web") }, timestamp: "1700000000000" },
      { key: Buffer.from("key2"), value: Buffer.from("b") },
      { key: "key1", value: null },
    ],
  });
  // Kafka's murmur2, as brook's own producer places (tests/partitioner.rs checks it against
  // Kafka's figures): the same partitions for the same keys.
  await log.createTopic({ topic: "same", partitions: 3 });
  const native = await log.producer().send({ topic: "same", messages: [{ key: "key1", value: "a" }, { key: "key2", value: "b" }] });
  assert.deepEqual(
    sent.map((r) => r.partition).sort(),
    [...new Set(native.map((r) => r.partition))].sort(),
  );
  assert.ok(sent.every((r) => r.baseOffset === "0"));
  for (const bad of [{ acks: 2 }, { timeout: -1 }, { compression: 9 }]) {
    await rejectsWith(producer.send({ topic: "orders", messages: [{ value: "x" }], ...bad }), (e) => {
      assert.ok(e instanceof KafkaJSNonRetriableError, `${JSON.stringify(bad)}: ${e}`);
      assert.equal(e.brookCode, "INVALID_ARGUMENT");
    });
  }
  await rejectsWith(producer.send({ topic: "orders", messages: [{ value: "x", headers: { a: ["1", "2"] } }] }), (e) => {
    assert.equal(e.brookCode, "INVALID_ARGUMENT");
    assert.match(e.message, /one value per header/);
  });

  const consumer = kafka.consumer({ groupId: "readers" });
  await consumer.connect();
  await consumer.subscribe({ topics: ["orders"], fromBeginning: true });
  const seen = await collect(consumer, 3);
  const byKey = seen.map(({ partition, message }) => [message.key.toString(), partition, message.offset, message.value?.toString() ?? null]);
  const first = byKey.find(([key, , , value]) => key === "key1" && value === "a");
  const tombstone = byKey.find(([key, , , value]) => key === "key1" && value === null);
  assert.equal(first[1], tombstone[1], "one key, one partition");
  assert.ok(Number(tombstone[2]) > Number(first[2]), "after the first record of its key");
  const withHeaders = seen.find(({ message }) => message.value?.toString() === "a").message;
  assert.equal(withHeaders.timestamp, "1700000000000");
  assert.equal(withHeaders.headers["correlation-id"].toString(), "2bfb68bb");
  assert.ok(Buffer.isBuffer(withHeaders.headers.system));
  assert.equal(withHeaders.headers.system.toString(), "web");
  await consumer.disconnect();
  await producer.disconnect();
  await admin.disconnect();
  // The log was given, not opened by this Kafka: it stays open.
  assert.deepEqual(log.offsets("orders").reduce((n, p) => n + p.high, 0), 3);
  await log.close();
});

test("a custom partitioner is called per message with the topic's partition metadata", async () => {
  const kafka = new Kafka({ brokers: [], ...quiet });
  const calls = [];
  const producer = kafka.producer({
    createPartitioner: () => ({ topic, partitionMetadata, message }) => {
      calls.push([topic, partitionMetadata.length, message.key]);
      return partitionMetadata.length - 1;
    },
  });
  await producer.connect();
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: "t", numPartitions: 4 }] });
  const sent = await producer.send({ topic: "t", messages: [{ key: "a", value: "1" }, { key: "b", value: "2", partition: 1 }] });
  assert.deepEqual(calls, [["t", 4, "a"]]);
  assert.deepEqual(sent.map((r) => r.partition).sort(), [1, 3]);
  await producer.disconnect();
  await admin.disconnect();
});

test("a handler that throws crashes the consumer, which restarts and gets the message again; commits follow what was handled", async () => {
  const kafka = new Kafka({ brokers: [], ...quiet });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: "jobs", messages: ["a", "b", "c", "d"].map((value) => ({ value })) });
  const consumer = kafka.consumer({ groupId: "workers", retry: { initialRetryTime: 20 } });
  const crashes = [];
  const joins = [];
  consumer.on(consumer.events.CRASH, (event) => crashes.push(event.payload));
  consumer.on(consumer.events.GROUP_JOIN, (event) => joins.push(event.payload));
  await consumer.connect();
  await consumer.subscribe({ topic: "jobs", fromBeginning: true });
  let failOnce = true;
  const handled = [];
  await consumer.run({
    eachMessage: async ({ message }) => {
      if (message.value.toString() === "c" && failOnce) {
        failOnce = false;
        throw new Error("the database is down");
      }
      handled.push(message.value.toString());
    },
  });
  await eventually(() => handled.length >= 4, 5000);
  assert.deepEqual(handled, ["a", "b", "c", "d"], "c again after the crash, nothing before it again");
  assert.equal(crashes.length, 1);
  assert.equal(crashes[0].restart, true);
  assert.equal(crashes[0].groupId, "workers");
  assert.match(crashes[0].error.message, /database is down/);
  assert.equal(joins.length, 2, "joined, then rejoined after the crash");
  assert.deepEqual(joins[0].memberAssignment, { jobs: [0] });
  assert.equal(joins[0].isLeader, true);
  await consumer.stop();

  const admin = kafka.admin();
  await admin.connect();
  const [offsets] = await admin.fetchOffsets({ groupId: "workers", topics: ["jobs"] });
  assert.deepEqual(offsets, { topic: "jobs", partitions: [{ partition: 0, offset: "4", metadata: null }] });
  await consumer.disconnect();
  await producer.disconnect();
  await admin.disconnect();
});

test("restartOnFailure false: the crash is final, and what was not handled stays uncommitted", async () => {
  const kafka = new Kafka({ brokers: [], ...quiet });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: "jobs", messages: [{ value: "a" }, { value: "b" }] });
  const consumer = kafka.consumer({ groupId: "g", retry: { restartOnFailure: async () => false } });
  const crashes = [];
  consumer.on(consumer.events.CRASH, (event) => crashes.push(event.payload));
  await consumer.connect();
  await consumer.subscribe({ topic: "jobs", fromBeginning: true });
  let calls = 0;
  await consumer.run({
    eachMessage: async ({ message }) => {
      calls++;
      if (message.value.toString() === "b") throw new Error("no");
    },
  });
  await eventually(() => crashes.length === 1, 5000);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(calls, 2);
  assert.equal(crashes[0].restart, false);
  const admin = kafka.admin();
  await admin.connect();
  const [{ partitions }] = await admin.fetchOffsets({ groupId: "g", topics: ["jobs"] });
  assert.equal(partitions[0].offset, "1", "a is committed, b is not");
  // The consumer can run again, and gets b.
  const again = await collect(consumer, 1);
  assert.equal(again[0].message.value.toString(), "b");
  await consumer.disconnect();
  await producer.disconnect();
  await admin.disconnect();
});

test("eachBatch: resolveOffset, eachBatchAutoResolve false, commitOffsetsIfNecessary, batch helpers and batch events", async () => {
  const kafka = new Kafka({ brokers: [], ...quiet });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: "t", messages: Array.from({ length: 10 }, (_, i) => ({ value: `m${i}` })) });
  const consumer = kafka.consumer({ groupId: "batches", retry: { initialRetryTime: 20 } });
  const events = [];
  for (const name of ["START_BATCH_PROCESS", "END_BATCH_PROCESS", "COMMIT_OFFSETS"]) {
    consumer.on(consumer.events[name], (event) => events.push([name, event.payload]));
  }
  await consumer.connect();
  await consumer.subscribe({ topic: "t", fromBeginning: true });
  const batches = [];
  let crashed = false;
  await consumer.run({
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, commitOffsetsIfNecessary, uncommittedOffsets, isRunning, isStale, heartbeat }) => {
      batches.push({
        first: batch.firstOffset(),
        last: batch.lastOffset(),
        high: batch.highWatermark,
        lag: batch.offsetLag(),
        empty: batch.isEmpty(),
        values: batch.messages.map((m) => m.value.toString()),
      });
      assert.equal(isRunning(), true);
      assert.equal(isStale(), false);
      await heartbeat();
      for (const message of batch.messages) {
        if (message.offset === "6" && !crashed) {
          crashed = true;
          await commitOffsetsIfNecessary();
          throw new Error("stop at 6");
        }
        resolveOffset(message.offset);
        if (message.offset === "2") {
          assert.deepEqual(uncommittedOffsets(), { topics: [{ topic: "t", partitions: [{ partition: 0, offset: "3" }] }] });
        }
      }
    },
  });
  await eventually(() => batches.length >= 2 && batches.at(-1).last === "9", 5000);
  assert.deepEqual(batches[0], { first: "0", last: "9", high: "10", lag: "0", empty: false, values: batches[0].values });
  assert.deepEqual(batches[1].values, ["m6", "m7", "m8", "m9"], "after the crash, from the first unresolved offset");
  await eventually(() => events.some(([name, payload]) => name === "COMMIT_OFFSETS" && payload.topics[0].partitions[0].offset === "10"), 5000);
  const start = events.find(([name]) => name === "START_BATCH_PROCESS")[1];
  assert.deepEqual(
    { topic: start.topic, partition: start.partition, batchSize: start.batchSize, firstOffset: start.firstOffset, lastOffset: start.lastOffset, highWatermark: start.highWatermark },
    { topic: "t", partition: 0, batchSize: 10, firstOffset: "0", lastOffset: "9", highWatermark: "10" },
  );
  assert.ok(events.some(([name, payload]) => name === "END_BATCH_PROCESS" && typeof payload.duration === "number"));
  await consumer.disconnect();
  await producer.disconnect();
});

test("autoCommit false: only commitOffsets commits (strings), seek moves, pause and resume hold a partition", async () => {
  const kafka = new Kafka({ brokers: [], ...quiet });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: "t", numPartitions: 2 }] });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: "t", messages: [0, 1, 2, 3].flatMap((i) => [{ partition: 0, value: `p0-${i}` }, { partition: 1, value: `p1-${i}` }]) });
  const consumer = kafka.consumer({ groupId: "manual" });
  await consumer.connect();
  assert.throws(() => consumer.seek({ topic: "t", partition: 0, offset: "2" }), (e) => e instanceof KafkaJSNonRetriableError && /run must be called first/.test(e.message));
  await consumer.subscribe({ topic: "t", fromBeginning: true });
  const seen = [];
  await consumer.run({ autoCommit: false, eachMessage: async ({ partition, message }) => { seen.push(`${partition}:${message.offset}`); } });
  await eventually(() => seen.length === 8, 5000);
  assert.deepEqual(await admin.fetchOffsets({ groupId: "manual", topics: ["t"] }), [
    { topic: "t", partitions: [{ partition: 0, offset: "-1", metadata: null }, { partition: 1, offset: "-1", metadata: null }] },
  ]);
  await consumer.commitOffsets([{ topic: "t", partition: 0, offset: "3" }, { topic: "t", partition: 1, offset: "1", metadata: null }]);
  const [{ partitions }] = await admin.fetchOffsets({ groupId: "manual", topics: ["t"] });
  assert.deepEqual(partitions.map((p) => p.offset), ["3", "1"]);

  consumer.pause([{ topic: "t", partitions: [1] }]);
  assert.deepEqual(consumer.paused(), [{ topic: "t", partitions: [1] }]);
  seen.length = 0;
  consumer.seek({ topic: "t", partition: 0, offset: "2" });
  consumer.seek({ topic: "t", partition: 1, offset: "0" });
  await eventually(() => seen.length === 2, 5000);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(seen, ["0:2", "0:3"], "partition 1 is paused");
  consumer.resume([{ topic: "t" }]);
  await eventually(() => seen.length === 6, 5000);
  assert.deepEqual(seen.slice(2), ["1:0", "1:1", "1:2", "1:3"]);
  assert.throws(() => consumer.seek({ topic: "t", partition: 0, offset: "two" }), (e) => e instanceof KafkaJSError && e.brookCode === "INVALID_ARGUMENT");
  await rejectsWith(consumer.commitOffsets([{ topic: "t", partition: 0, offset: "99" }]), (e) => {
    assert.ok(e instanceof KafkaJSProtocolError);
    assert.equal(e.type, "OFFSET_OUT_OF_RANGE");
  });
  await consumer.disconnect();
  await producer.disconnect();
  await admin.disconnect();
});

test("subscribe takes RegExps (matched against the topics that exist) and refuses mixed fromBeginning", async () => {
  const kafka = new Kafka({ brokers: [], ...quiet });
  const producer = kafka.producer();
  await producer.connect();
  await producer.sendBatch({
    topicMessages: [
      { topic: "events.click", messages: [{ value: "c" }] },
      { topic: "events.view", messages: [{ value: "v" }] },
      { topic: "audit", messages: [{ value: "a" }] },
    ],
  });
  const consumer = kafka.consumer({ groupId: "pattern" });
  await consumer.connect();
  await consumer.subscribe({ topics: [/^events\./], fromBeginning: true });
  await rejectsWith(consumer.subscribe({ topic: "audit", fromBeginning: false }), (e) => assert.equal(e.brookCode, "INVALID_ARGUMENT"));
  await rejectsWith(consumer.subscribe({ topics: [42] }), (e) => assert.ok(e instanceof KafkaJSNonRetriableError));
  const seen = await collect(consumer, 2);
  assert.deepEqual(seen.map((p) => p.topic).sort(), ["events.click", "events.view"]);
  const description = await consumer.describeGroup();
  assert.equal(description.state, "Stable");
  assert.equal(description.members.length, 1);
  assert.ok(Buffer.isBuffer(description.members[0].memberAssignment));
  await consumer.disconnect();
  await producer.disconnect();
});

test("admin: topics, metadata, offsets, groups, and the calls brook refuses with KafkaJSNotImplemented", async () => {
  const kafka = new Kafka({ brokers: [], ...quiet });
  const admin = kafka.admin();
  await rejectsWith(admin.listTopics(), (e) => assert.ok(e instanceof KafkaJSNonRetriableError));
  await admin.connect();
  assert.equal(
    await admin.createTopics({
      topics: [
        { topic: "a", numPartitions: 2, replicationFactor: 1, configEntries: [{ name: "cleanup.policy", value: "compact" }, { name: "retention.ms", value: "60000" }] },
        { topic: "b" },
      ],
    }),
    true,
  );
  assert.equal(await admin.createTopics({ topics: [{ topic: "a" }] }), false);
  assert.equal(await admin.createTopics({ validateOnly: true, topics: [{ topic: "c" }] }), true);
  assert.deepEqual((await admin.listTopics()).sort(), ["a", "b"]);
  await rejectsWith(admin.createTopics({ topics: [{ topic: "x", configEntries: [{ name: "min.insync.replicas", value: "2" }] }] }), (e) => {
    assert.ok(e instanceof KafkaJSProtocolError);
    assert.equal(e.type, "INVALID_CONFIG");
  });
  await rejectsWith(admin.createTopics({ topics: [{ topic: "x", replicationFactor: 3 }] }), (e) => assert.equal(e.type, "INVALID_REPLICATION_FACTOR"));
  assert.equal(await admin.createPartitions({ topicPartitions: [{ topic: "b", count: 3 }] }), true);
  const { topics } = await admin.fetchTopicMetadata({ topics: ["a", "b"] });
  assert.deepEqual(topics.map((t) => [t.name, t.partitions.length]), [["a", 2], ["b", 3]]);
  assert.deepEqual(topics[0].partitions[1], { partitionErrorCode: 0, partitionId: 1, leader: 0, replicas: [0], isr: [0], offlineReplicas: [] });
  await rejectsWith(admin.fetchTopicMetadata({ topics: ["nope"] }), (e) => {
    assert.ok(e instanceof KafkaJSProtocolError);
    assert.equal(e.type, "UNKNOWN_TOPIC_OR_PARTITION");
    assert.equal(e.code, 3);
  });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  await rejectsWith(producer.send({ topic: "missing", messages: [{ value: "x" }] }), (e) => {
    assert.ok(e instanceof KafkaJSProtocolError);
    assert.equal(e.type, "UNKNOWN_TOPIC_OR_PARTITION");
    assert.equal(e.brookCode, "UNKNOWN_TOPIC");
  });
  await producer.send({ topic: "b", messages: [{ partition: 2, value: "1" }, { partition: 2, value: "2" }] });
  assert.deepEqual(await admin.fetchTopicOffsets("b"), [
    { partition: 0, offset: "0", high: "0", low: "0" },
    { partition: 1, offset: "0", high: "0", low: "0" },
    { partition: 2, offset: "2", high: "2", low: "0" },
  ]);

  // Offsets of a group: set while it has no members, refused while it has.
  await admin.setOffsets({ groupId: "g", topic: "b", partitions: [{ partition: 2, offset: "1" }] });
  assert.deepEqual((await admin.listGroups()).groups, [{ groupId: "g", protocolType: "consumer" }]);
  assert.deepEqual((await admin.describeGroups(["g", "none"])).groups.map((g) => [g.groupId, g.state]), [["g", "Empty"], ["none", "Dead"]]);
  const consumer = kafka.consumer({ groupId: "g" });
  await consumer.connect();
  await consumer.subscribe({ topic: "b" });
  const seen = await collect(consumer, 1);
  assert.equal(seen[0].message.value.toString(), "2", "starts at the offset set");
  await rejectsWith(admin.setOffsets({ groupId: "g", topic: "b", partitions: [{ partition: 2, offset: "0" }] }), (e) => {
    assert.equal(e.type, "NON_EMPTY_GROUP");
    assert.equal(e.brookCode, "NON_EMPTY_GROUP");
  });
  const deleteError = await rejectsWith(admin.deleteGroups(["g"]), (e) => assert.ok(e instanceof KafkaJSDeleteGroupsError));
  assert.equal(deleteError.groups[0].groupId, "g");
  await consumer.disconnect();
  await admin.resetOffsets({ groupId: "g", topic: "b", earliest: true });
  const [{ partitions }] = await admin.fetchOffsets({ groupId: "g", topics: ["b"] });
  assert.deepEqual(partitions.map((p) => p.offset), ["0", "0", "0"]);
  assert.deepEqual(await admin.deleteGroups(["g"]), [{ groupId: "g", errorCode: 0 }]);
  assert.deepEqual((await admin.listGroups()).groups, []);
  assert.deepEqual(await admin.fetchOffsets({ groupId: "g" }), []);

  // deleteTopics: gone with its commits; a send creates it again, empty.
  await admin.setOffsets({ groupId: "g", topic: "b", partitions: [{ partition: 2, offset: "2" }] });
  await admin.deleteTopics({ topics: ["b"] });
  assert.deepEqual((await admin.listTopics()).sort(), ["a"]);
  assert.deepEqual(await admin.fetchOffsets({ groupId: "g" }), []);
  const autoProducer = kafka.producer();
  await autoProducer.connect();
  await autoProducer.send({ topic: "b", messages: [{ value: "again" }] });
  assert.deepEqual(await admin.fetchTopicOffsets("b"), [{ partition: 0, offset: "1", high: "1", low: "0" }]);
  const running = kafka.consumer({ groupId: "busy" });
  await running.connect();
  await running.subscribe({ topic: "b" });
  await running.run({ eachMessage: async () => {} });
  await rejectsWith(admin.deleteTopics({ topics: ["b"] }), (e) => assert.equal(e.brookCode, "NON_EMPTY_GROUP"));
  await running.disconnect();
  await autoProducer.disconnect();

  assert.deepEqual(await admin.describeCluster(), { brokers: [{ nodeId: 0, host: "brook", port: 0 }], controller: 0, clusterId: "brook" });
  for (const call of ["deleteTopicRecords", "fetchTopicOffsetsByTimestamp", "describeConfigs", "alterConfigs", "createAcls", "describeAcls", "deleteAcls", "alterPartitionReassignments", "listPartitionReassignments"]) {
    await rejectsWith(admin[call]({}), (e) => {
      assert.ok(e instanceof KafkaJSNotImplemented, call);
      assert.equal(e.brookCode, "UNSUPPORTED", call);
    });
  }
  await rejectsWith(producer.transaction(), (e) => assert.ok(e instanceof KafkaJSNotImplemented));
  assert.throws(() => kafka.consumer({ groupId: "x", partitionAssigners: [() => ({ name: "mine" })] }), KafkaJSNotImplemented);
  kafka.consumer({ groupId: "x", partitionAssigners: [PartitionAssigners.roundRobin] });
  await producer.disconnect();
  await admin.disconnect();
});

test("instrumentation: connect and disconnect events, a remover, unknown events refused", async () => {
  const kafka = new Kafka({ brokers: [], ...quiet });
  const producer = kafka.producer();
  const seen = [];
  const remove = producer.on(producer.events.CONNECT, (event) => seen.push(event.type));
  producer.on(producer.events.DISCONNECT, (event) => seen.push(event.type));
  producer.on(producer.events.CONNECT, () => {
    throw new Error("a listener that fails breaks nothing");
  });
  assert.throws(() => producer.on("producer.nope", () => {}), KafkaJSNonRetriableError);
  await rejectsWith(producer.send({ topic: "t", messages: [] }), (e) => assert.match(e.message, /disconnected/));
  await producer.connect();
  remove();
  await producer.disconnect();
  await producer.connect();
  await producer.disconnect();
  assert.deepEqual(seen, ["producer.connect", "producer.disconnect", "producer.disconnect"]);
});

test("a Kafka with a path opens the file log on the first connect and closes it after the last disconnect", async (t) => {
  const path = tempDir(t);
  const kafka = new Kafka({ brokers: [], path, ...quiet });
  const producer = kafka.producer();
  const admin = kafka.admin();
  await Promise.all([producer.connect(), admin.connect()]);
  await producer.send({ topic: "kept", messages: [{ key: "k", value: "durable" }] });
  await producer.disconnect();
  // Still open for the admin client.
  assert.deepEqual(await admin.listTopics(), ["kept"]);
  await admin.disconnect();
  // Closed: another opener takes the lock and finds the record.
  const log = await Log.open({ path });
  assert.deepEqual(log.offsets("kept").map((p) => p.high), [1]);
  await log.close();
  const again = new Kafka({ brokers: [], path, ...quiet });
  const consumer = again.consumer({ groupId: "g" });
  await consumer.connect();
  await consumer.subscribe({ topic: "kept", fromBeginning: true });
  const [{ message }] = await collect(consumer, 1);
  assert.equal(message.value.toString(), "durable");
  await consumer.disconnect();
  assert.throws(() => new Kafka({ path, log }), (e) => e instanceof KafkaJSNonRetriableError && e.brookCode === "INVALID_ARGUMENT");
  assert.throws(() => new Kafka({ brokerz: [] }), (e) => e instanceof KafkaJSNonRetriableError && /unknown option "brokerz"/.test(e.message));
});

test("hostile values in the KafkaJS calls: KafkaJS errors only, and the log keeps working", async () => {
  const kafka = new Kafka({ brokers: [], ...quiet });
  const producer = kafka.producer();
  const admin = kafka.admin();
  const consumer = kafka.consumer({ groupId: "hostile" });
  await Promise.all([producer.connect(), admin.connect(), consumer.connect()]);
  await producer.send({ topic: "t", messages: [{ value: "first" }] });
  await consumer.subscribe({ topic: "t", fromBeginning: true });
  const seen = [];
  await consumer.run({ autoCommit: false, eachMessage: async ({ message }) => { seen.push(message.value?.toString() ?? null); } });
  await eventually(() => seen.length === 1, 5000);
  const trap = () => {
    throw new Error("trap");
  };
  const revocable = Proxy.revocable({}, {});
  revocable.revoke();
  const values = {
    null: null, number: 7, string: "x", symbol: Symbol("s"), bigint: 10n, array: [], empty: {},
    proxy: new Proxy({}, { get: trap, ownKeys: trap, getOwnPropertyDescriptor: trap }), revoked: revocable.proxy,
    huge: { length: 2 ** 40 }, getter: Object.defineProperty({}, "topic", { get: trap, enumerable: true }),
  };
  const sites = {
    send: (v) => producer.send(v),
    "send messages": (v) => producer.send({ topic: "t", messages: v }),
    "send message": (v) => producer.send({ topic: "t", messages: [v] }),
    "send value": (v) => producer.send({ topic: "t", messages: [{ value: v }] }),
    "send headers": (v) => producer.send({ topic: "t", messages: [{ value: "v", headers: v }] }),
    "send timestamp": (v) => producer.send({ topic: "t", messages: [{ value: "v", timestamp: v }] }),
    sendBatch: (v) => producer.sendBatch(v),
    "sendBatch topicMessages": (v) => producer.sendBatch({ topicMessages: v }),
    commitOffsets: (v) => consumer.commitOffsets(v),
    "commitOffsets entry": (v) => consumer.commitOffsets([v]),
    seek: (v) => consumer.seek(v),
    "seek offset": (v) => consumer.seek({ topic: "t", partition: 0, offset: v }),
    pause: (v) => consumer.pause(v),
    createTopics: (v) => admin.createTopics(v),
    "createTopics topic": (v) => admin.createTopics({ topics: [v] }),
    setOffsets: (v) => admin.setOffsets(v),
    fetchOffsets: (v) => admin.fetchOffsets(v),
    fetchTopicOffsets: (v) => admin.fetchTopicOffsets(v),
    describeGroups: (v) => admin.describeGroups(v),
    deleteGroups: (v) => admin.deleteGroups(v),
    "on listener": (v) => producer.on(producer.events.CONNECT, v),
    "Kafka config": (v) => new Kafka(v),
    "consumer config": (v) => kafka.consumer(v),
    "producer config": (v) => kafka.producer(v),
  };
  let calls = 0;
  for (const [site, call] of Object.entries(sites)) {
    for (const [name, value] of Object.entries(values)) {
      try {
        await call(value);
      } catch (error) {
        assert.ok(error instanceof KafkaJSError, `${site} with ${name}: ${error?.name}: ${error?.message}`);
      }
      calls++;
    }
  }
  assert.ok(calls > 200);
  await producer.send({ topic: "t", messages: [{ value: "still works" }] });
  // A hostile seek may have moved the running consumer (to offset 7, say): back to the start.
  consumer.resume([{ topic: "t" }]);
  consumer.seek({ topic: "t", partition: 0, offset: "0" });
  await eventually(() => seen.includes("still works"), 5000);
  await Promise.all([producer.disconnect(), admin.disconnect(), consumer.disconnect()]);
});
