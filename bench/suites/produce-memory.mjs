// Node, memory: produce. brook's send into an in-memory log, beside Redis Streams on loopback
// (XADD to one stream per partition, pipelined up to 1,000 commands per round trip, through
// ioredis) and the plain-JS log doing the same placement, framing and CRC-32C work.
// Workloads: values of 100 B and 1 KiB, keyed over 1, 3, 12 and 1,000 partitions (a topic of
// many partitions: a send's cost must follow what it sends, not the topic's size), sends of 1,
// 100 and 10,000 messages; throughput and the latency of each send until it is acknowledged.

import Redis from "ioredis";
import { Log } from "../../js/node.js";
import { PlainLog } from "../lib/plain-log.mjs";
import { startRedis } from "../lib/servers.mjs";
import { emit, keyedMessages, label, payload, repeat, scaled, timedSends } from "../lib/harness.mjs";

const GROUP = "Node, memory: produce";
const SIZES = [100, 1024];
const PARTITIONS = [1, 3, 12, 1000];
const SENDS = [1, 100, 10_000];
/** Messages per repetition, by send size: a few tenths of a second each for brook. */
const MESSAGES = { 1: 20_000, 100: 200_000, 10_000: 300_000 };
const REDIS_MESSAGES = { 1: 5_000, 100: 100_000, 10_000: 100_000 };

/** Send batches that together cover the 10,000 keys, reused cyclically. */
function batches(size, value) {
  const count = Math.max(1, Math.ceil(10_000 / size));
  return Array.from({ length: count }, (_, index) => keyedMessages(size, index * size, value));
}

function messagesFor(size, bytes, table) {
  return scaled(Math.max(size, Math.round(table[size] / (bytes > 100 ? 4 : 1))), size);
}

async function brook(partitions, size, value, total) {
  const sends = batches(size, value);
  return repeat(async () => {
    const log = await Log.open();
    await log.createTopic({ topic: "bench", partitions });
    const producer = log.producer();
    const result = await timedSends(total / size, size, (index) =>
      producer.send({ topic: "bench", messages: sends[index % sends.length] }),
    );
    await log.close();
    return result;
  });
}

async function plain(partitions, size, value, total) {
  const sends = batches(size, value);
  return repeat(async () => {
    const log = new PlainLog(partitions);
    // An async function, as a JS API would be: the caller awaits each send.
    const send = async (messages) => log.send(messages);
    return timedSends(total / size, size, (index) => send(sends[index % sends.length]));
  });
}

async function redis(port, partitions, size, value, total) {
  const client = new Redis({ port, host: "127.0.0.1", lazyConnect: true });
  await client.connect();
  const sends = batches(size, value);
  const plainLog = new PlainLog(partitions); // only its murmur2 placement is used
  const placements = sends.map((messages) => plainLog.send(messages).map((p) => p.partition));
  try {
    return await repeat(async (run) => {
      await client.flushall();
      return timedSends(total / size, size, async (index) => {
        const messages = sends[index % sends.length];
        const partitionsOf = placements[index % sends.length];
        for (let start = 0; start < messages.length; start += 1000) {
          const pipeline = client.pipeline();
          const end = Math.min(messages.length, start + 1000);
          for (let at = start; at < end; at++) {
            pipeline.xadd(`bench-${run}-${partitionsOf[at]}`, "*", "k", messages[at].key, "v", messages[at].value);
          }
          for (const [error] of await pipeline.exec()) if (error) throw error;
        }
      });
    });
  } finally {
    client.disconnect();
  }
}

const server = await startRedis();
try {
  for (const bytes of SIZES) {
    const value = payload(bytes);
    for (const partitions of PARTITIONS) {
      for (const size of SENDS) {
        const workload = `${label(bytes)} · ${partitions.toLocaleString("en")} partition${partitions > 1 ? "s" : ""} · sends of ${size.toLocaleString("en")}`;
        const total = messagesFor(size, bytes, MESSAGES);
        const base = { group: GROUP, workload, metric: "throughput", unit: "msgs/s", higher: true };
        emit({ ...base, system: "brook", ...(await brook(partitions, size, value, total)) });
        emit({ ...base, system: "plain JS", ...(await plain(partitions, size, value, total)) });
        const redisTotal = messagesFor(size, bytes, REDIS_MESSAGES);
        emit({ ...base, system: "Redis Streams", ...(await redis(server.port, partitions, size, value, redisTotal)) });
      }
    }
  }
} finally {
  await server.stop();
}
