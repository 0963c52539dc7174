// Compiled with tsc --noEmit --strict (never run): the declarations describe the API as used.
import { BrookError, Log, type BrookErrorCode, type KafkaMessage } from "../../index.js";

async function main(): Promise<void> {
  const log = await Log.open({ path: "./data", durability: "relaxed", cacheBytes: 1 << 20 });
  await log.createTopic({ topic: "inventory", partitions: 3, retentionMs: 60_000 });
  const partitions: number = log.topics()[0].partitions;
  const high: number = log.offsets("inventory")[0].high;
  const durable: number = log.offsets("inventory")[0].durable;
  const report = log.recovery();
  const cut: number[] = report.partitions.map((p) => p.truncatedBytes + p.damaged.length + durable);
  void [report.clean, report.clampedCommits[0]?.end, cut];

  const producer = log.producer({ partitioner: "random" });
  const placed = await producer.send({
    topic: "inventory",
    messages: [
      {
        key: "abc-123",
        value: JSON.stringify({ stock: 2 }),
        headers: { source: "web", trace: null },
      },
      { value: new Uint8Array([1, 2]), partition: 1, timestamp: Date.now() },
      { key: "abc-123", value: null },
    ],
  });
  const offset: number = placed[0].offset;

  const consumer = log.consumer({ groupId: "sync", autoCommit: false, assignor: "range" });
  await consumer.subscribe({ topics: ["inventory"], fromBeginning: true });
  await consumer.subscribe({ topic: "inventory" });
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      const value: Uint8Array | null = message.value;
      const source: Uint8Array | null | undefined = message.headers.source;
      await consumer.commit(message);
      void [topic, partition, value, source];
    },
    onError: (error) => console.error(error),
  });
  await consumer.disconnect();

  const batches = log.consumer({ groupId: "batches" });
  await batches.subscribe({ topic: "inventory" });
  await batches.run({
    eachBatch: async ({ batch, isRunning, isStale }) => {
      const last: KafkaMessage | undefined = batch.messages.at(-1);
      if (isRunning() && !isStale() && last) await batches.commit(last);
      void batch.highWatermark;
    },
  });
  await batches.disconnect();

  const puller = log.consumer({ groupId: "pull", maxRecords: 10 });
  await puller.subscribe({ topics: ["inventory"] });
  const messages: KafkaMessage[] = await puller.poll({ maxRecords: 100 });
  await puller.commitOffsets([{ topic: "inventory", partition: 0, offset: 5 }]);
  puller.seek({ topic: "inventory", partition: 0, offset: 0 });
  puller.pause([{ topic: "inventory", partitions: [0] }]);
  puller.resume([{ topic: "inventory" }]);
  const owned: number = puller.assignment().length + puller.paused().length;
  const lag: number = puller.lag()[0].lag;

  try {
    await log.createTopic({ topic: "../x" });
  } catch (error) {
    if (error instanceof BrookError) {
      const code: BrookErrorCode = error.code;
      void code;
    }
  }
  await log.maintain();
  await log.close();
  void [partitions, high, offset, messages, owned, lag];
}

// @ts-expect-error partitions is a number, not a string
void Log.open().then((log) => log.createTopic({ topic: "t", partitions: "3" }));
// @ts-expect-error a consumer needs a groupId
void Log.open().then((log) => log.consumer({}));

void main;

// Group inspection without joining (admin-style) and a consumer's position.
export async function inspect(log: import("../../index.js").Log, consumer: import("../../index.js").Consumer): Promise<void> {
  const lag: number[] = log.lag({ groupId: "g", topic: "t" }).map((l) => l.lag);
  const group = log.describeGroup("g");
  const names: string[] = group ? group.members.map((m) => m.name) : log.groups();
  const position: number | null = consumer.position({ topic: "t", partition: 0 });
  void lag; void names; void position;
}

// Offline-first: storage, dead letters, views.
export async function offlineFirst(): Promise<void> {
  const log = await Log.open({ name: "outbox", persist: true, evicted: "open" });
  const { persisted, usage, quota } = await log.storage();
  const evictedAt: number | null | undefined = log.recovery().evicted?.created;
  const consumer = log.consumer({ groupId: "g", autoCommit: false, deadLetter: { topic: "dead", maxAttempts: 3 } });
  await consumer.run({ eachMessage: async ({ message }) => void (message.attempts satisfies number) });
  const view = log.view<number>({ topic: "inventory", groupId: "v", decode: "json", reduce: (previous, event) => (previous ?? 0) + event.stock });
  await view.ready;
  const stock: number | undefined = view.get("abc");
  const stop: () => void = view.onChange(({ key, value, offset }) => void [key, value, offset]);
  for (const [key, value] of view) void [key, value];
  stop();
  await view.close();
  void [persisted, usage, quota, evictedAt, stock];
}
// @ts-expect-error evicted is "error" or "open"
void Log.open({ name: "x", evicted: "ignore" });
