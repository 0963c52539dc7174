// The bridge between brook and a Kafka-protocol broker (Tansu, memory storage, on loopback),
// driven through KafkaJS on the Kafka side: mirrors up and down keep key, value, headers,
// timestamp and partition numbers; a bridge killed mid-stream and restarted loses nothing; a
// broker restarted without its data is noticed, the topic re-created and sent again.

import assert from "node:assert/strict";
import { test } from "node:test";
import { Kafka, logLevel } from "kafkajs";
import { Log } from "../../js/node.js";
import { BRIDGE_HEADER, bridge } from "../../js/bridge.js";
import { startTansu } from "../../bench/lib/servers.mjs";
import { eventually, spawnFixture, tempDir } from "./helpers.mjs";
import { assertPartitionsInOrder, readKafka } from "../lib/kafka.mjs";

const TIMEOUT = { timeout: 120_000 };
/** A Tansu group join takes about half the session timeout. */
const FAST_JOIN = { sessionTimeout: 6000, heartbeatInterval: 1000 };
const decoder = new TextDecoder();

function kafkaOf(broker) {
  return new Kafka({ clientId: "test", brokers: [broker], logLevel: logLevel.NOTHING, retry: { retries: 2 } });
}


function keyed(count, from = 0) {
  return Array.from({ length: count }, (_, i) => ({
    key: `k${(from + i) % 7}`,
    value: `v${from + i}`,
    headers: { trace: `t${from + i}` },
    timestamp: 1_700_000_000_000 + from + i,
  }));
}

test("up: brook's records reach Kafka on the same partitions with key, value, headers and timestamp; lag drains", TIMEOUT, async (t) => {
  const tansu = await startTansu();
  t.after(() => tansu.stop());
  const log = await Log.open({ path: tempDir(t) });
  t.after(() => log.close());
  await log.createTopic({ topic: "orders", partitions: 3 });
  const placed = await log.producer().send({ topic: "orders", messages: keyed(60) });
  const up = bridge({ log, kafka: { brokers: [tansu.broker] }, topics: ["orders"], direction: "up" });
  t.after(() => up.stop());
  const states = [];
  up.on("state", (state) => states.push(state));
  // Connected first: a reader's subscribe would let the broker create the topic its own way.
  await eventually(() => up.state === "connected", 30_000);
  const seen = await readKafka(tansu.broker, "orders", 60);
  assert.equal(seen.length, 60);
  const partitionOfValue = Object.fromEntries(placed.map((p, i) => [`v${i}`, p.partition]));
  for (const record of seen) {
    const i = Number(record.value.slice(1));
    assert.equal(record.partition, partitionOfValue[record.value], `${record.value}: the same partition`);
    assert.equal(record.key, `k${i % 7}`);
    assert.equal(record.timestamp, 1_700_000_000_000 + i);
    assert.deepEqual(record.headers, { trace: `t${i}`, [BRIDGE_HEADER]: "up" });
  }
  const deadline = Date.now() + 10_000;
  let lag = await up.lag();
  while (lag.up.some((p) => p.lag > 0) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    lag = await up.lag();
  }
  assert.deepEqual(lag.up.map((p) => p.lag), [0, 0, 0]);
  assert.deepEqual(lag.down, []);
  await up.stop();
  assert.equal(up.state, "stopped");
  assert.deepEqual(states, ["connected", "stopped"]);
  // Tansu has no producer ids: "auto" went on without the idempotent producer, at once.
  assert.equal(up.idempotent, false);
});

test("down: Kafka's records reach brook on the same partitions, durable before Kafka's commit", TIMEOUT, async (t) => {
  const tansu = await startTansu();
  t.after(() => tansu.stop());
  const kafka = kafkaOf(tansu.broker);
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: "payments", numPartitions: 3 }] });
  const producer = kafka.producer();
  await producer.connect();
  const sent = await producer.send({ topic: "payments", acks: -1, messages: keyed(40).map((m) => ({ ...m, timestamp: String(m.timestamp) })) });
  assert.ok(sent.length > 1, "spread over partitions");
  await producer.disconnect();
  await admin.disconnect();

  const path = tempDir(t);
  const log = await Log.open({ path });
  const down = bridge({ log, kafka: { brokers: [tansu.broker] }, topics: ["payments"], direction: "down", kafkaConsumer: FAST_JOIN });
  await eventually(() => log.topics().length === 1 && log.offsets("payments").reduce((n, p) => n + p.durable, 0) === 40, 60_000);
  await down.stop();
  await log.close();

  // What a fresh brook reader sees after a reopen: every record, with its Kafka partition.
  const reopened = await Log.open({ path });
  t.after(() => reopened.close());
  assert.equal(reopened.topics()[0].partitions, 3, "created with Kafka's partition count");
  const consumer = reopened.consumer({ groupId: "reader", fromBeginning: true });
  await consumer.subscribe({ topic: "payments" });
  const seen = [];
  for (let round = 0; round < 50 && seen.length < 40; round++) seen.push(...(await consumer.poll({ maxRecords: 100 })));
  assert.equal(seen.length, 40);
  const kafkaPartition = new Map();
  for (const record of await readKafka(tansu.broker, "payments", 40)) kafkaPartition.set(record.value, record.partition);
  for (const message of seen) {
    const value = decoder.decode(message.value);
    const i = Number(value.slice(1));
    assert.equal(message.partition, kafkaPartition.get(value), `${value}: the same partition`);
    assert.equal(decoder.decode(message.key), `k${i % 7}`);
    assert.equal(message.timestamp, 1_700_000_000_000 + i);
    assert.equal(decoder.decode(message.headers.trace), `t${i}`);
    assert.equal(decoder.decode(message.headers[BRIDGE_HEADER]), "down");
  }
  // Kafka's commits followed: a new bridge of the same group brings nothing twice.
  const again = bridge({ log: reopened, kafka: { brokers: [tansu.broker] }, topics: ["payments"], direction: "down", kafkaConsumer: FAST_JOIN });
  await eventually(() => again.state === "connected", 30_000);
  await new Promise((resolve) => setTimeout(resolve, 4000));
  await again.stop();
  assert.equal(reopened.offsets("payments").reduce((n, p) => n + p.high, 0), 40);
});

test("both: records go each way once; nothing comes back to where it came from", TIMEOUT, async (t) => {
  const tansu = await startTansu();
  t.after(() => tansu.stop());
  const log = await Log.open();
  t.after(() => log.close());
  await log.createTopic({ topic: "shared", partitions: 2 });
  await log.producer().send({ topic: "shared", messages: [{ key: "from-brook", value: "b" }] });
  const both = bridge({ log, kafka: { brokers: [tansu.broker] }, topics: ["shared"], direction: "both", kafkaConsumer: FAST_JOIN });
  t.after(() => both.stop());
  await eventually(() => both.state === "connected", 30_000);
  const producer = kafkaOf(tansu.broker).producer();
  await producer.connect();
  await producer.send({ topic: "shared", acks: -1, messages: [{ key: "from-kafka", value: "k" }] });
  await producer.disconnect();
  await eventually(() => log.offsets("shared").reduce((n, p) => n + p.durable, 0) === 2, 60_000);
  const onKafka = await readKafka(tansu.broker, "shared", 2);
  await new Promise((resolve) => setTimeout(resolve, 3000));
  assert.equal(log.offsets("shared").reduce((n, p) => n + p.high, 0), 2, "brook: its own record and Kafka's");
  assert.deepEqual(onKafka.map((r) => r.key).sort(), ["from-brook", "from-kafka"]);
  const later = await readKafka(tansu.broker, "shared", 2);
  assert.equal(later.length, 2, "Kafka: nothing sent back up");
});

test("a bridge killed mid-stream and started again loses nothing; partitions keep their order", TIMEOUT, async (t) => {
  const tansu = await startTansu();
  t.after(() => tansu.stop());
  const path = tempDir(t);
  const log = await Log.open({ path, durability: "relaxed" });
  await log.createTopic({ topic: "orders", partitions: 3 });
  const producer = log.producer();
  for (let from = 0; from < 3000; from += 500) await producer.send({ topic: "orders", messages: keyed(500, from) });
  await log.close();

  const first = spawnFixture(t, "bridge-up.mjs", [path, tansu.broker]);
  // Killed once it has sent some, but not all.
  for await (const line of first.lines) {
    const lag = line.startsWith("lag ") ? Number(line.slice(4)) : NaN;
    if (lag < 3000 && lag > 0) break;
  }
  first.child.kill("SIGKILL");
  await first.exit;
  const second = spawnFixture(t, "bridge-up.mjs", [path, tansu.broker]);
  for await (const line of second.lines) if (line === "lag 0") break;
  second.child.kill("SIGKILL");
  await second.exit;

  const seen = await readKafka(tansu.broker, "orders", 3000);
  const values = new Set(seen.map((r) => r.value));
  assert.equal(values.size, 3000, "every record reached Kafka");
  assertPartitionsInOrder(seen, 3);
});

test("a broker restarted without its data: the bridge retries, re-creates the topic and sends it again", TIMEOUT, async (t) => {
  let tansu = await startTansu();
  const port = Number(tansu.broker.split(":")[1]);
  t.after(() => tansu.stop());
  const log = await Log.open();
  t.after(() => log.close());
  await log.createTopic({ topic: "orders", partitions: 2 });
  await log.producer().send({ topic: "orders", messages: keyed(20) });
  const up = bridge({ log, kafka: { brokers: [tansu.broker] }, topics: ["orders"], direction: "up", retry: { initialMs: 100, maxMs: 500 } });
  t.after(() => up.stop());
  const states = [];
  const recreated = [];
  up.on("state", (state) => states.push(state));
  up.on("topicRecreated", (event) => recreated.push(event));
  await eventually(() => up.state === "connected", 30_000);
  assert.equal((await readKafka(tansu.broker, "orders", 20)).length, 20);

  await tansu.stop();
  await log.producer().send({ topic: "orders", messages: keyed(10, 20) });
  await eventually(() => up.state === "retrying", 30_000);
  tansu = await startTansu(port);
  await eventually(() => up.state === "connected", 60_000);
  assert.deepEqual(recreated, [{ topic: "orders", kafkaTopic: "orders" }]);
  const seen = await readKafka(tansu.broker, "orders", 30);
  assert.deepEqual(new Set(seen.map((r) => r.value)).size, 30, "the lost 20 and the 10 sent during the outage");
  assert.ok(up.lastError !== null);
  assert.ok(states.includes("retrying"));
});

test("a bridge whose log is closed under it stops instead of retrying", TIMEOUT, async (t) => {
  const tansu = await startTansu();
  t.after(() => tansu.stop());
  const log = await Log.open();
  await log.createTopic({ topic: "orders", partitions: 1 });
  const up = bridge({ log, kafka: { brokers: [tansu.broker] }, topics: ["orders"], retry: { initialMs: 50, maxMs: 100 } });
  await eventually(() => up.state === "connected", 30_000);
  await log.close();
  await eventually(() => up.state === "stopped", 10_000);
  assert.equal(up.lastError?.code, "CLOSED");
  await up.stop();
});

test("bad bridge options are refused with codes", async (t) => {
  const log = await Log.open();
  t.after(() => log.close());
  const kafka = { brokers: ["127.0.0.1:1"] };
  const cases = [
    [{}, /log/],
    [{ log: {}, kafka, topics: ["t"] }, /log/],
    [{ log, topics: ["t"] }, /kafka/],
    [{ log, kafka: {}, topics: ["t"] }, /brokers/],
    [{ log, kafka, topics: [] }, /at least one topic/],
    [{ log, kafka, topics: [{ topic: 3 }] }, /topics\[0\]/],
    [{ log, kafka, topics: ["t"], direction: "sideways" }, /direction/],
    [{ log, kafka, topics: ["t"], groupId: "" }, /groupId/],
    [{ log, kafka, topics: ["t"], retry: { initialMs: 0 } }, /retry/],
    [{ log, kafka: { ...kafka, color: "red" }, topics: ["t"] }, /unknown option/],
  ];
  for (const [options, message] of cases) {
    assert.throws(() => bridge(options), (e) => e.code === "INVALID_ARGUMENT" && message.test(e.message));
  }
});
