// The bridge between a brook log and a Kafka cluster (Node; `import { bridge } from
// "brook/bridge"`), built on KafkaJS (an optional peer dependency: install kafkajs).
//
// Up (brook → Kafka): a brook consumer group reads the topics and produces each run of a
// partition's records to the same partition number in Kafka; the brook commit follows Kafka's
// acknowledgement (acks: all), so a crash or an outage resumes from what Kafka has not
// acknowledged: nothing is lost, and what was in flight may be sent twice (at-least-once).
// Down (Kafka → brook): a Kafka consumer group appends each batch to the same partition number
// in brook; the Kafka commit follows brook's durable write. Records keep key, value, headers
// and timestamp; each mirrored record carries the header `x-brook-bridge` ("up" or "down"),
// which the other direction skips, so that "both" does not send records back where they came
// from. Failures (the broker gone, a send refused) stop the directions, set the state to
// "retrying", and start them again after a backoff.

import { Buffer } from "node:buffer";
import { BrookError, invalidArgument } from "./errors.js";
import { describe, readArray, readOptions, setOwn } from "./args.js";
import { Status } from "./status.js";

/** The header that marks a mirrored record, and where it went. */
export const BRIDGE_HEADER = "x-brook-bridge";
const DIRECTIONS = ["up", "down", "both"];
/** How brokers without producer ids answer KafkaJS's idempotent producer. */
const REFUSED_IDEMPOTENCE = new Set(["UNKNOWN", "UNSUPPORTED_VERSION", "CLUSTER_AUTHORIZATION_FAILED", "UNSUPPORTED_FOR_MESSAGE_FORMAT"]);
const KAFKA_OPTIONS = ["brokers", "clientId", "ssl", "sasl", "connectionTimeout", "requestTimeout", "logLevel", "logCreator"];

async function loadKafkaJS() {
  try {
    return await import("kafkajs");
  } catch (error) {
    throw new BrookError("UNSUPPORTED", "the bridge needs KafkaJS: npm install kafkajs", { cause: error });
  }
}

function bytes(view) {
  return view === null ? null : Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts a bridge; it connects (and reconnects) by itself. See the module comment. */
export function bridge(options) {
  return new Bridge(options);
}

export class Bridge {
  #log;
  #kafkaConfig;
  #kafkaConsumer;
  #topics;
  #direction;
  #groupId;
  #idempotent;
  #retry;
  #status = new Status("bridge", ["topicRecreated"], "connecting");
  #stopping = false;
  #stopped;
  #wake = null;
  /** What runs while connected: the KafkaJS clients and the brook consumer. */
  #session = null;

  constructor(options) {
    const settings = readOptions(options, "bridge options", ["log", "kafka", "kafkaConsumer", "topics", "direction", "groupId", "idempotent", "retry"]);
    if (settings.log === undefined || typeof settings.log?.consumer !== "function") {
      throw invalidArgument(`bridge needs log: an open brook Log, got ${describe(settings.log)}`);
    }
    this.#log = settings.log;
    this.#kafkaConfig = readOptions(settings.kafka, "kafka", KAFKA_OPTIONS);
    if (this.#kafkaConfig.brokers === undefined) throw invalidArgument("kafka needs brokers: [\"host:port\", ...]");
    // The down direction's KafkaJS consumer: its group timings, as KafkaJS takes them.
    this.#kafkaConsumer = readOptions(settings.kafkaConsumer, "kafkaConsumer", ["sessionTimeout", "rebalanceTimeout", "heartbeatInterval", "maxBytes", "maxWaitTimeInMs"]);
    this.#topics = readArray(settings.topics, "topics", 1000).map((entry, index) => {
      if (typeof entry === "string") return { topic: entry, kafkaTopic: entry };
      const { topic, kafkaTopic = topic } = readOptions(entry, `topics[${index}]`, ["topic", "kafkaTopic"]);
      if (typeof topic !== "string" || typeof kafkaTopic !== "string") {
        throw invalidArgument(`topics[${index}] needs topic (and optionally kafkaTopic): strings`);
      }
      return { topic, kafkaTopic };
    });
    if (this.#topics.length === 0) throw invalidArgument("bridge needs at least one topic");
    this.#direction = settings.direction ?? "up";
    if (!DIRECTIONS.includes(this.#direction)) {
      throw invalidArgument(`direction must be "up", "down" or "both", got ${describe(this.#direction)}`);
    }
    this.#groupId = settings.groupId ?? "brook-bridge";
    if (typeof this.#groupId !== "string" || this.#groupId === "") {
      throw invalidArgument(`groupId must be a non-empty string, got ${describe(this.#groupId)}`);
    }
    this.#idempotent = settings.idempotent ?? "auto";
    if (![true, false, "auto"].includes(this.#idempotent)) {
      throw invalidArgument(`idempotent must be true, false or "auto", got ${describe(this.#idempotent)}`);
    }
    const { initialMs = 300, maxMs = 30_000 } = readOptions(settings.retry, "retry", ["initialMs", "maxMs"]);
    if (!(initialMs > 0) || !(maxMs >= initialMs)) throw invalidArgument("retry needs 0 < initialMs <= maxMs");
    this.#retry = { initialMs, maxMs };
    this.#stopped = this.#run();
  }

  /** "connecting", "connected", "retrying" (after a failure, until connected again) or "stopped". */
  get state() {
    return this.#status.state;
  }

  /** Whether up sends with KafkaJS's idempotent producer: with "auto", until the broker
   * refuses it (some Kafka-protocol brokers do not implement producer ids). */
  get idempotent() {
    return this.#idempotent !== false;
  }

  /** The failure behind the last "retrying", or null. */
  get lastError() {
    return this.#status.lastError;
  }

  /** Events: "state" (the new state), "error" (a failure, before the retry), "topicRecreated"
   * ({ topic, kafkaTopic }: the topic was gone from Kafka while brook had sent it records —
   * a broker that lost its data —, so it was created again and is sent again from the start). */
  on(event, listener) {
    return this.#status.on(event, listener);
  }


  /** Records not mirrored yet, per direction and partition (down: Kafka's view, as KafkaJS's
   * admin gives it). */
  async lag() {
    const up = [];
    if (this.#direction !== "down") {
      for (const { topic } of this.#topics) {
        for (const p of this.#log.lag({ groupId: this.#groupId, topic })) up.push({ topic, partition: p.partition, lag: p.lag });
      }
    }
    const down = [];
    const admin = this.#session?.admin;
    if (this.#direction !== "up" && admin) {
      for (const { kafkaTopic } of this.#topics) {
        const [committed] = await admin.fetchOffsets({ groupId: this.#groupId, topics: [kafkaTopic] });
        const offsets = await admin.fetchTopicOffsets(kafkaTopic);
        for (const { partition, high } of offsets) {
          const at = Number(committed?.partitions.find((p) => p.partition === partition)?.offset ?? -1);
          down.push({ topic: kafkaTopic, partition, lag: Math.max(0, Number(high) - Math.max(at, 0)) });
        }
      }
    }
    return { up, down };
  }

  /** Stops both directions (after the batch in flight) and disconnects from Kafka. */
  async stop() {
    this.#stopping = true;
    this.#wake?.();
    await this.#stopped;
  }

  async #run() {
    let attempt = 0;
    while (!this.#stopping) {
      let failed;
      const failure = new Promise((resolve) => {
        failed = resolve;
        this.#wake = () => resolve(null);
      });
      // A log closed under the bridge stops its consumer loop without an error: look for it.
      const watch = setInterval(() => {
        try {
          this.#log.offsets(this.#topics[0].topic);
        } catch (error) {
          if (error instanceof BrookError && error.code === "CLOSED") failed(error);
        }
      }, 500);
      try {
        await this.#connect((error) => failed(error));
        attempt = 0;
        this.#status.set("connected");
        const error = await failure;
        if (error) throw error;
      } catch (error) {
        if (!this.#stopping) {
          this.#status.failed(error);
        }
        // The log was closed under the bridge: nothing to retry for.
        if (error instanceof BrookError && error.code === "CLOSED") this.#stopping = true;
      } finally {
        clearInterval(watch);
      }
      await this.#disconnect();
      if (this.#stopping) break;
      this.#status.set("retrying");
      const delay = Math.min(this.#retry.maxMs, this.#retry.initialMs * 2 ** attempt++);
      await Promise.race([sleep(delay * (0.8 + 0.4 * Math.random())), new Promise((resolve) => (this.#wake = resolve))]);
    }
    this.#status.set("stopped");
  }

  async #connect(fail) {
    const { Kafka, logLevel } = await loadKafkaJS();
    const kafka = new Kafka({ logLevel: logLevel.NOTHING, ...this.#kafkaConfig, retry: { retries: 3, initialRetryTime: 200 } });
    const session = { admin: kafka.admin(), producer: null, kafkaConsumer: null, brookConsumer: null };
    this.#session = session;
    await session.admin.connect();
    const recreated = await this.#matchTopics(session.admin);
    if (this.#direction !== "down") await this.#startUp(kafka, session, recreated, fail);
    if (this.#direction !== "up") await this.#startDown(kafka, session, fail);
  }

  /** Makes each topic exist on both sides with the same partition count (the larger one);
   * returns the topics Kafka had lost although brook had sent them records. */
  async #matchTopics(admin) {
    const existing = new Set(await admin.listTopics());
    const recreated = [];
    for (const pair of this.#topics) {
      const { topic, kafkaTopic } = pair;
      const local = this.#log.topics().find((t) => t.topic === topic)?.partitions;
      let remote = existing.has(kafkaTopic)
        ? (await admin.fetchTopicMetadata({ topics: [kafkaTopic] })).topics[0].partitions.length
        : undefined;
      if (local === undefined && remote === undefined) {
        throw new BrookError("UNKNOWN_TOPIC", `bridge: topic ${JSON.stringify(topic)} exists neither in brook nor in Kafka; create it on one side`);
      }
      if (remote === undefined) {
        await admin.createTopics({ topics: [{ topic: kafkaTopic, numPartitions: local }] });
        remote = local;
        const sent = this.#log.lag({ groupId: this.#groupId, topic }).some((p) => (p.committed ?? 0) > 0);
        if (this.#direction !== "down" && sent) {
          recreated.push(pair);
          this.#status.emit("topicRecreated", { topic, kafkaTopic });
        }
      }
      if (local === undefined) await this.#log.createTopic({ topic, partitions: remote });
      else if (local < remote) await this.#log.createPartitions({ topic, count: remote });
      else if (remote < local) await admin.createPartitions({ topicPartitions: [{ topic: kafkaTopic, count: local }] });
    }
    return recreated;
  }

  async #startUp(kafka, session, recreated, fail) {
    const producerOf = (idempotent) =>
      kafka.producer({ allowAutoTopicCreation: false, idempotent, ...(idempotent ? { maxInFlightRequests: 1 } : {}) });
    session.producer = producerOf(this.#idempotent !== false);
    // "auto" and the broker refuses the idempotent producer before any send went through:
    // without it from the next connect on (what was not acknowledged is sent again).
    const refused = (error) => {
      if (this.#idempotent === "auto" && error?.name === "KafkaJSProtocolError" && REFUSED_IDEMPOTENCE.has(error.type)) {
        this.#idempotent = false;
      }
      return error;
    };
    const send = async (request) => {
      try {
        await session.producer.send(request);
      } catch (error) {
        throw refused(error);
      }
      if (this.#idempotent === "auto") this.#idempotent = true;
    };
    try {
      await session.producer.connect();
    } catch (error) {
      const wasAuto = this.#idempotent === "auto";
      refused(error);
      if (!wasAuto || this.#idempotent !== false) throw error;
      // Refused at once (InitProducerId): go on without, in this same connect.
      await session.producer.disconnect().catch(() => {});
      session.producer = producerOf(false);
      await session.producer.connect();
    }
    const consumer = this.#log.consumer({ groupId: this.#groupId, autoCommit: false, fromBeginning: true });
    session.brookConsumer = consumer;
    const kafkaTopic = new Map(this.#topics.map((t) => [t.topic, t.kafkaTopic]));
    await consumer.subscribe({ topics: this.#topics.map((t) => t.topic) });
    // A broker that lost a topic gets it again from the start (what brook still keeps).
    for (const { topic } of recreated) {
      for (const { partition, low } of this.#log.offsets(topic)) consumer.seek({ topic, partition, offset: low });
    }
    await consumer.run({
      eachBatch: async ({ batch }) => {
        const { topic, partition, messages } = batch;
        const out = [];
        for (const message of messages) {
          if (message.headers[BRIDGE_HEADER] !== undefined) continue; // mirrored from Kafka
          const headers = { [BRIDGE_HEADER]: "up" };
          for (const [name, value] of Object.entries(message.headers)) setOwn(headers, name, bytes(value) ?? Buffer.alloc(0));
          out.push({ key: bytes(message.key), value: bytes(message.value), headers, timestamp: String(message.timestamp), partition });
        }
        if (out.length > 0) await send({ topic: kafkaTopic.get(topic), acks: -1, messages: out });
        await consumer.commitOffsets([{ topic, partition, offset: messages[messages.length - 1].offset + 1 }]);
      },
      onError: (error) => fail(error),
    });
  }

  async #startDown(kafka, session, fail) {
    const consumer = kafka.consumer({ ...this.#kafkaConsumer, groupId: this.#groupId, allowAutoTopicCreation: false, retry: { retries: 2 } });
    session.kafkaConsumer = consumer;
    consumer.on(consumer.events.CRASH, ({ payload }) => fail(payload.error));
    const producer = this.#log.producer();
    const brookTopic = new Map(this.#topics.map((t) => [t.kafkaTopic, t.topic]));
    await consumer.connect();
    await consumer.subscribe({ topics: this.#topics.map((t) => t.kafkaTopic), fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const { topic, partition, messages } = batch;
        if (messages.length === 0) return;
        const out = [];
        for (const message of messages) {
          if (message.headers?.[BRIDGE_HEADER] !== undefined) continue; // mirrored from brook
          const headers = { [BRIDGE_HEADER]: "down" };
          for (const [name, value] of Object.entries(message.headers ?? {})) {
            // brook keeps one value per header name: of a repeated header, the last one.
            setOwn(headers, name, Array.isArray(value) ? value[value.length - 1] : value);
          }
          out.push({ key: message.key, value: message.value, headers, timestamp: Number(message.timestamp), partition });
        }
        // Durable in brook before Kafka hears that the batch is done.
        if (out.length > 0) await producer.send({ topic: brookTopic.get(topic), messages: out });
        await consumer.commitOffsets([{ topic, partition, offset: String(Number(messages[messages.length - 1].offset) + 1) }]);
      },
    });
  }

  async #disconnect() {
    const session = this.#session;
    this.#session = null;
    if (session === null) return;
    const quietly = (promise) => Promise.resolve(promise).catch(() => {});
    await quietly(session.brookConsumer?.disconnect());
    await quietly(session.kafkaConsumer?.disconnect());
    await quietly(session.producer?.disconnect());
    await quietly(session.admin.disconnect());
  }
}
