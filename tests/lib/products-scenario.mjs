// One scenario in KafkaJS's API, for two systems: brook/kafkajs, and KafkaJS talking to a
// Kafka-protocol broker. It is the seed's story: a `products` topic of 3 partitions, keyed
// inventory events, two consumer groups (a MySQL sync and a search index) that each see every
// event once, and a manual-commit consumer that crashes in the middle of an event and is
// replaced. It returns what an app could observe, so that the two systems can be compared.

const PRODUCTS = ["abc-123", "def-456", "ghi-789", "jkl-012", "mno-345", "pqr-678"];
const EVENTS_PER_PRODUCT = 5;
const TOTAL = PRODUCTS.length * EVENTS_PER_PRODUCT;
/** The event the manual-commit consumer crashes on: processed, never committed. */
const CRASH_ON = { product: "def-456", seq: 2 };

/** `consumer` settings a broker's group protocol needs to join quickly (brook ignores them). */
const TIMING = { sessionTimeout: 6000, heartbeatInterval: 1000, retry: { retries: 0, initialRetryTime: 100 } };

async function waitFor(predicate, what, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Runs a consumer of `groupId` until it saw `count` events; returns them in delivery order. */
async function consumeAll(kafka, groupId, count) {
  const consumer = kafka.consumer({ groupId, ...TIMING });
  await consumer.connect();
  await consumer.subscribe({ topic: "products", fromBeginning: true });
  const seen = [];
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      const source = message.headers.source?.toString();
      seen.push({ partition, offset: message.offset, key: message.key.toString(), source, ...JSON.parse(message.value.toString()) });
    },
  });
  await waitFor(() => seen.length >= count, `${groupId} to see ${count} events`);
  await consumer.disconnect();
  return seen;
}

/** Counts per "product/seq", and whether each product's events came in order. */
function summarize(seen) {
  const deliveries = {};
  const lastSeq = {};
  let inOrder = true;
  for (const event of seen) {
    const id = `${event.product}/${event.seq}`;
    deliveries[id] = (deliveries[id] ?? 0) + 1;
    if ((lastSeq[event.product] ?? -1) >= event.seq && deliveries[id] === 1) inOrder = false;
    lastSeq[event.product] = Math.max(lastSeq[event.product] ?? -1, event.seq);
  }
  const perPartitionOrdered = [0, 1, 2].every((p) => {
    const offsets = seen.filter((e) => e.partition === p).map((e) => Number(e.offset));
    return offsets.every((o, i) => i === 0 || o > offsets[i - 1]);
  });
  const headersKept = seen.every((e) => e.source === undefined || e.source === "scenario");
  return { deliveries, inOrder, perPartitionOrdered, headersKept };
}

/** `kafka`: a KafkaJS `Kafka` (real or brook's). Returns the observations. */
export async function runProductsScenario(kafka) {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: "products", numPartitions: 3 }] });

  const producer = kafka.producer();
  await producer.connect();
  // Interleaved products, one send per round, so that each partition gets several keys.
  for (let seq = 0; seq < EVENTS_PER_PRODUCT; seq++) {
    await producer.send({
      topic: "products",
      acks: -1,
      messages: PRODUCTS.map((product) => ({
        key: product,
        value: JSON.stringify({ product, seq, stock: 10 - seq }),
        headers: { source: "scenario" },
      })),
    });
  }

  const mysql = await consumeAll(kafka, "mysql", TOTAL);
  const search = await consumeAll(kafka, "elasticsearch", TOTAL);

  // Manual commit: commit after processing each event; crash (throw, no restart) while
  // processing CRASH_ON, then a replacement member of the group takes over.
  const processed = [];
  const first = kafka.consumer({ groupId: "mysql-manual", ...TIMING, retry: { ...TIMING.retry, restartOnFailure: async () => false } });
  let crashed = false;
  first.on(first.events.CRASH, () => {
    crashed = true;
  });
  await first.connect();
  await first.subscribe({ topic: "products", fromBeginning: true });
  await first.run({
    autoCommit: false,
    eachMessage: async ({ topic, partition, message }) => {
      const event = JSON.parse(message.value.toString());
      processed.push({ partition, offset: message.offset, key: message.key.toString(), ...event });
      if (event.product === CRASH_ON.product && event.seq === CRASH_ON.seq) throw new Error("crash while processing");
      await first.commitOffsets([{ topic, partition, offset: String(Number(message.offset) + 1) }]);
    },
  });
  await waitFor(() => crashed, "the manual-commit consumer to crash");
  await first.disconnect();
  const crashedAfter = processed.length;
  const replacement = kafka.consumer({ groupId: "mysql-manual", ...TIMING });
  await replacement.connect();
  await replacement.subscribe({ topic: "products", fromBeginning: true });
  await replacement.run({
    autoCommit: false,
    eachMessage: async ({ topic, partition, message }) => {
      processed.push({ partition, offset: message.offset, key: message.key.toString(), ...JSON.parse(message.value.toString()) });
      await replacement.commitOffsets([{ topic, partition, offset: String(Number(message.offset) + 1) }]);
    },
  });
  const seenOnce = () => new Set(processed.map((e) => `${e.product}/${e.seq}`)).size === TOTAL;
  await waitFor(seenOnce, "the replacement to process the rest");
  await replacement.disconnect();
  const manual = summarize(processed);
  const twice = Object.entries(manual.deliveries).filter(([, n]) => n > 1).map(([id]) => id);

  const partitionOf = {};
  for (const event of mysql) partitionOf[event.product] = event.partition;

  await producer.disconnect();
  await admin.disconnect();
  return {
    partitionOf,
    mysql: summarize(mysql),
    elasticsearch: summarize(search),
    manual: { inOrder: manual.inOrder, deliveredTwice: twice, processedBeforeCrashIncludesIt: processed.slice(0, crashedAfter).some((e) => e.product === CRASH_ON.product && e.seq === CRASH_ON.seq) },
    headersSeen: mysql.every((e) => e.source === "scenario"),
  };
}
