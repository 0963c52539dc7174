// A Kafka client and broker on this machine: KafkaJS 2.2.4 against the Tansu broker (memory
// storage) on loopback, beside brook in memory doing the same: 3 partitions, keyed 100 B
// messages produced in sends of 1,000 (KafkaJS: acks -1), then read by a new consumer group
// with eachBatch to the end.

import { Kafka, logLevel } from "kafkajs";
import { Log } from "../../js/node.js";
import { startTansu } from "../lib/servers.mjs";
import { emit, keyedMessages, payload, repeat, scaled } from "../lib/harness.mjs";

const GROUP = "A Kafka client and broker on this machine";
const RECORDS = scaled(50_000, 2000);
const value = payload(100);
const sends = Array.from({ length: RECORDS / 1000 }, (_, i) => keyedMessages(1000, i * 1000, value));
const workload = `${RECORDS.toLocaleString("en")} records · 100 B · 3 partitions · sends of 1,000`;

async function consumeAll(run, total) {
  let seen = 0;
  const started = performance.now();
  await new Promise((resolve, reject) => {
    run(({ batch }) => {
      seen += batch.messages.length;
      if (seen >= total) resolve();
    }).catch(reject);
  });
  return total / ((performance.now() - started) / 1000);
}

const brookProduce = [];
const brookConsume = [];
await repeat(async (_, warmup) => {
  const log = await Log.open();
  await log.createTopic({ topic: "bench", partitions: 3 });
  const producer = log.producer();
  let started = performance.now();
  for (const messages of sends) await producer.send({ topic: "bench", messages });
  const produce = RECORDS / ((performance.now() - started) / 1000);
  const consumer = log.consumer({ groupId: "bench", fromBeginning: true });
  await consumer.subscribe({ topic: "bench" });
  started = performance.now();
  const consume = await consumeAll((each) => consumer.run({ eachBatch: async (payload) => each(payload) }), RECORDS);
  await log.close();
  if (!warmup) {
    brookProduce.push(produce);
    brookConsume.push(consume);
  }
  return { value: produce };
});

const tansu = await startTansu();
const kafkaProduce = [];
const kafkaConsume = [];
try {
  const kafka = new Kafka({ clientId: "bench", brokers: [tansu.broker], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const producer = kafka.producer();
  await producer.connect();
  await repeat(async (run, warmup) => {
    const topic = `bench-${warmup ? "w" : run}`;
    await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
    let started = performance.now();
    for (const messages of sends) await producer.send({ topic, messages, acks: -1 });
    const produce = RECORDS / ((performance.now() - started) / 1000);
    const consumer = kafka.consumer({ groupId: `g-${topic}`, sessionTimeout: 6000, heartbeatInterval: 1000 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    // Measured from the first batch on: the group join (about half the session timeout on
    // this broker) is not part of the throughput.
    let seen = 0;
    let first = null;
    await new Promise((resolve, reject) => {
      consumer
        .run({
          eachBatch: async ({ batch }) => {
            first ??= performance.now();
            seen += batch.messages.length;
            if (seen >= RECORDS) resolve();
          },
        })
        .catch(reject);
    });
    const consume = RECORDS / ((performance.now() - first) / 1000);
    await consumer.disconnect();
    if (!warmup) {
      kafkaProduce.push(produce);
      kafkaConsume.push(consume);
    }
    return { value: produce };
  });
  await producer.disconnect();
  await admin.disconnect();
} finally {
  await tansu.stop();
}

const base = { group: GROUP, metric: "throughput", unit: "msgs/s", higher: true };
emit({ ...base, workload: `produce · ${workload}`, system: "brook", samples: brookProduce });
emit({ ...base, workload: `produce · ${workload}`, system: "KafkaJS + Tansu", samples: kafkaProduce });
emit({ ...base, workload: `consume · ${workload}`, system: "brook", samples: brookConsume });
emit({ ...base, workload: `consume · ${workload}`, system: "KafkaJS + Tansu", samples: kafkaConsume });
