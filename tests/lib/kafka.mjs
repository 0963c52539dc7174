// Reading a topic back from a Kafka-protocol broker with KafkaJS, for the tests of the bridge,
// the relay and syncTo; and the order check they share.

import assert from "node:assert/strict";
import { Kafka, logLevel } from "kafkajs";

/** Reads `topic` with a fresh group until `count` records came (then a little longer, so that
 * duplicates show); records as { partition, offset, key, value, timestamp, headers } strings. */
export async function readKafka(broker, topic, count, timeoutMs = 60_000) {
  const kafka = new Kafka({ clientId: "test", brokers: [broker], logLevel: logLevel.NOTHING, retry: { retries: 2 } });
  const consumer = kafka.consumer({ groupId: `reader-${Math.random()}`, sessionTimeout: 6000, heartbeatInterval: 1000 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen = [];
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      seen.push({
        partition,
        offset: Number(message.offset),
        key: message.key?.toString() ?? null,
        value: message.value?.toString() ?? null,
        timestamp: Number(message.timestamp),
        headers: Object.fromEntries(Object.entries(message.headers).map(([k, v]) => [k, v.toString()])),
      });
    },
  });
  try {
    const deadline = Date.now() + timeoutMs;
    while (seen.length < count) {
      if (Date.now() > deadline) throw new Error(`read ${seen.length} of ${count} records of ${topic}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
  } finally {
    await consumer.disconnect();
  }
  return seen;
}

/** In each partition, the first occurrence of each value (`v<number>`) comes in the order it
 * was produced: a resend after a crash repeats a tail, never reorders. */
export function assertPartitionsInOrder(seen, partitions) {
  for (let partition = 0; partition < partitions; partition++) {
    const firsts = [];
    const had = new Set();
    for (const r of seen.filter((s) => s.partition === partition).sort((a, b) => a.offset - b.offset)) {
      if (!had.has(r.value)) firsts.push(Number(r.value.slice(1)));
      had.add(r.value);
    }
    assert.deepEqual(firsts, [...firsts].sort((a, b) => a - b), `partition ${partition} in order`);
  }
}
