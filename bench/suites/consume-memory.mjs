// Node, memory: consume. A log filled beforehand is read to its end by a fresh consumer
// group — brook's eachBatch, eachMessage and poll (1,000 records per poll), with the default
// auto commit — beside Redis Streams: XREADGROUP COUNT 1000 over one stream per partition,
// then XACK of what was read, until nothing is left.

import Redis from "ioredis";
import { Log } from "../../js/node.js";
import { PlainLog } from "../lib/plain-log.mjs";
import { startRedis } from "../lib/servers.mjs";
import { emit, keyedMessages, label, payload, repeat, scaled } from "../lib/harness.mjs";

const GROUP = "Node, memory: consume";
const SIZES = [100, 1024];
// 1,000: a member owning many partitions, most of them with little to read per poll.
const PARTITIONS = [1, 3, 12, 1000];

function recordsFor(bytes) {
  return scaled(bytes > 100 ? 25_000 : 100_000, 1000);
}

async function filledLog(partitions, value, total) {
  const log = await Log.open();
  await log.createTopic({ topic: "bench", partitions });
  const producer = log.producer();
  for (let first = 0; first < total; first += 10_000) {
    await producer.send({ topic: "bench", messages: keyedMessages(Math.min(10_000, total - first), first, value) });
  }
  return log;
}

/** Reads all `total` records through a new group with `read(consumer, done)`; msgs/s. */
let groups = 0;

async function brookRead(log, total, read) {
  return repeat(async () => {
    const consumer = log.consumer({ groupId: `g${groups++}`, fromBeginning: true });
    await consumer.subscribe({ topic: "bench" });
    const started = performance.now();
    await read(consumer);
    const seconds = (performance.now() - started) / 1000;
    await consumer.disconnect();
    return { value: total / seconds };
  });
}

function untilCount(total, run) {
  return async (consumer) => {
    let seen = 0;
    await new Promise((resolve, reject) => {
      run(consumer, (count) => {
        seen += count;
        if (seen >= total) resolve();
      }).catch(reject);
    });
  };
}

async function redis(port, partitions, value, total) {
  const client = new Redis({ port, host: "127.0.0.1", lazyConnect: true });
  await client.connect();
  await client.flushall();
  const streams = Array.from({ length: partitions }, (_, p) => `bench-${p}`);
  const placement = new PlainLog(partitions);
  for (let first = 0; first < total; first += 1000) {
    const messages = keyedMessages(Math.min(1000, total - first), first, value);
    const placed = placement.send(messages);
    const pipeline = client.pipeline();
    messages.forEach((m, i) => pipeline.xadd(streams[placed[i].partition], "*", "k", m.key, "v", m.value));
    await pipeline.exec();
  }
  let group = 0;
  try {
    return await repeat(async () => {
      const name = `g${group++}`;
      for (const stream of streams) await client.xgroup("CREATE", stream, name, "0");
      const started = performance.now();
      let read = 0;
      for (;;) {
        const reply = await client.xreadgroup("GROUP", name, "c", "COUNT", 1000, "STREAMS", ...streams, ...streams.map(() => ">"));
        if (!reply) break;
        const acks = client.pipeline();
        for (const [stream, entries] of reply) {
          if (entries.length === 0) continue;
          read += entries.length;
          acks.xack(stream, name, ...entries.map((entry) => entry[0]));
        }
        await acks.exec();
        if (read >= total) break;
      }
      if (read !== total) throw new Error(`redis read ${read} of ${total}`);
      return { value: total / ((performance.now() - started) / 1000) };
    });
  } finally {
    client.disconnect();
  }
}

const server = await startRedis();
try {
  for (const bytes of SIZES) {
    const value = payload(bytes);
    const total = recordsFor(bytes);
    for (const partitions of PARTITIONS) {
      const workload = `${label(bytes)} · ${partitions.toLocaleString("en")} partition${partitions > 1 ? "s" : ""} · ${total.toLocaleString("en")} records`;
      const base = { group: GROUP, workload, metric: "throughput", unit: "msgs/s", higher: true };
      const log = await filledLog(partitions, value, total);
      emit({
        ...base,
        system: "brook eachBatch",
        ...(await brookRead(log, total, untilCount(total, (c, count) => c.run({ eachBatch: async ({ batch }) => count(batch.messages.length) })))),
      });
      emit({
        ...base,
        system: "brook eachMessage",
        ...(await brookRead(log, total, untilCount(total, (c, count) => c.run({ eachMessage: async () => count(1) })))),
      });
      emit({
        ...base,
        system: "brook poll",
        ...(await brookRead(log, total, async (consumer) => {
          for (let read = 0; read < total; ) read += (await consumer.poll({ maxRecords: 1000 })).length;
        })),
      });
      await log.close();
      emit({ ...base, system: "Redis Streams", ...(await redis(server.port, partitions, value, total)) });
    }
  }
} finally {
  await server.stop();
}
