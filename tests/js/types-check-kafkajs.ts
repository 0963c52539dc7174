// Compiled with tsc --noEmit --strict (never run): kafkajs.d.ts describes brook/kafkajs as a
// KafkaJS program uses it.
import { CompressionTypes, Kafka, KafkaJSProtocolError, Partitioners, logLevel, type EachMessagePayload } from "../../kafkajs.js";
import { Log } from "../../index.js";

async function main(): Promise<void> {
  const kafka = new Kafka({ clientId: "app", brokers: ["localhost:9092"], logLevel: logLevel.ERROR, log: await Log.open() });
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const sent = await producer.send({ topic: "t", acks: -1, compression: CompressionTypes.None, messages: [{ key: "k", value: "v", headers: { a: "b" } }] });
  const base: string | undefined = sent[0].baseOffset;
  await producer.sendBatch({ topicMessages: [{ topic: "t", messages: [{ value: null }] }] });
  const consumer = kafka.consumer({ groupId: "g", sessionTimeout: 6000 });
  await consumer.connect();
  await consumer.subscribe({ topics: ["t", /^x/], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ topic, partition, message }: EachMessagePayload) => {
      const text: string | undefined = message.value?.toString();
      const offset: string = message.offset;
      void [topic, partition, text, offset];
    },
  });
  consumer.seek({ topic: "t", partition: 0, offset: "0" });
  await consumer.commitOffsets([{ topic: "t", partition: 0, offset: "1" }]);
  const admin = kafka.admin();
  await admin.connect();
  const created: boolean = await admin.createTopics({ topics: [{ topic: "u", numPartitions: 3, configEntries: [{ name: "retention.ms", value: "1000" }] }] });
  const offsets = await admin.fetchTopicOffsets("u");
  const high: string = offsets[0].high;
  try {
    await admin.fetchTopicMetadata({ topics: ["nope"] });
  } catch (error) {
    if (error instanceof KafkaJSProtocolError) void [error.type, error.code, error.brookCode];
  }
  void [base, created, high];
  await Promise.all([producer.disconnect(), consumer.disconnect(), admin.disconnect()]);
}

void main;

import { bridge } from "../../bridge.js";

async function mirror(log: Log): Promise<void> {
  const up = bridge({ log, kafka: { brokers: ["127.0.0.1:9092"] }, topics: ["orders", { topic: "a", kafkaTopic: "b" }], direction: "both" });
  up.on("state", (state) => void (state === "retrying"));
  const { up: lag } = await up.lag();
  const behind: number = lag.reduce((n, p) => n + p.lag, 0);
  void behind;
  await up.stop();
}

void mirror;

import { startRelay } from "../../relay.js";
import { syncTo } from "../../index.js";

async function upload(log: Log): Promise<void> {
  const relay = await startRelay({ kafka: { brokers: ["127.0.0.1:9092"] }, token: "0123456789abcdef", port: 0 });
  const sync = syncTo(log, relay.url, { token: "0123456789abcdef", topics: ["orders"] });
  sync.on("state", (state) => void (state === "offline"));
  await sync.stop();
  await relay.close();
}

void upload;
