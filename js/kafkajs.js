// KafkaJS's API over a brook log (`import { Kafka } from "brook/kafkajs"`), so that code written
// for KafkaJS runs on brook unchanged and moves to a Kafka cluster by changing its imports. It
// only translates: names, the shapes of requests and answers (offsets as strings, Buffers),
// errors to KafkaJS's classes, instrumentation events. Every call goes to brook's own Log,
// Producer and Consumer; nothing here keeps log state. README.md has the table of every KafkaJS
// call and how brook answers it.

import { BrookError, invalidArgument } from "./errors.js";
import { checkedFunction, describe, guarded, readArray, readOptions, setOwn } from "./args.js";

// ---- errors, as KafkaJS names them ----

export class KafkaJSError extends Error {
  constructor(message, { retriable = true, cause } = {}) {
    super(message, { cause });
    this.name = "KafkaJSError";
    this.retriable = retriable;
    /** brook's stable code (BrookError.code) of the failure behind this one, if any. */
    this.brookCode = cause instanceof BrookError ? cause.code : undefined;
  }
}

export class KafkaJSNonRetriableError extends KafkaJSError {
  constructor(message, { cause } = {}) {
    super(message, { retriable: false, cause });
    this.name = "KafkaJSNonRetriableError";
  }
}

/** A Kafka error code: `type` is Kafka's name (UNKNOWN_TOPIC_OR_PARTITION), `code` its number. */
export class KafkaJSProtocolError extends KafkaJSError {
  constructor(message, { type, code, retriable = false, cause } = {}) {
    super(message, { retriable, cause });
    this.name = "KafkaJSProtocolError";
    this.type = type;
    this.code = code;
  }
}

export class KafkaJSOffsetOutOfRange extends KafkaJSProtocolError {
  constructor(message, { topic, partition, cause } = {}) {
    super(message, { type: "OFFSET_OUT_OF_RANGE", code: 1, cause });
    this.name = "KafkaJSOffsetOutOfRange";
    this.topic = topic;
    this.partition = partition;
  }
}

export class KafkaJSNotImplemented extends KafkaJSNonRetriableError {
  constructor(message, options) {
    super(message, options);
    this.name = "KafkaJSNotImplemented";
  }
}

export class KafkaJSDeleteGroupsError extends KafkaJSError {
  constructor(message, groups = []) {
    super(message, { retriable: false });
    this.name = "KafkaJSDeleteGroupsError";
    this.groups = groups;
  }
}

/** brook's codes as Kafka's protocol errors (name, number), where Kafka has one. */
const PROTOCOL_ERRORS = {
  UNKNOWN_TOPIC: ["UNKNOWN_TOPIC_OR_PARTITION", 3],
  INVALID_PARTITION: ["UNKNOWN_TOPIC_OR_PARTITION", 3],
  OFFSET_OUT_OF_RANGE: ["OFFSET_OUT_OF_RANGE", 1],
  INVALID_TOPIC_NAME: ["INVALID_TOPIC_EXCEPTION", 17],
  TOPIC_ALREADY_EXISTS: ["TOPIC_ALREADY_EXISTS", 36],
  INVALID_PARTITIONS: ["INVALID_PARTITIONS", 37],
  MESSAGE_TOO_LARGE: ["MESSAGE_TOO_LARGE", 10],
  INVALID_RECORD: ["INVALID_RECORD", 87],
  CORRUPT_DATA: ["CORRUPT_MESSAGE", 2],
  INVALID_CONFIG: ["INVALID_CONFIG", 40],
  UNKNOWN_MEMBER_ID: ["UNKNOWN_MEMBER_ID", 25],
  REBALANCE_IN_PROGRESS: ["REBALANCE_IN_PROGRESS", 27],
  NON_EMPTY_GROUP: ["NON_EMPTY_GROUP", 68],
  GROUP_ID_NOT_FOUND: ["GROUP_ID_NOT_FOUND", 69],
  UNSUPPORTED: ["UNSUPPORTED_VERSION", 35],
};
const RETRIABLE = new Set(["LOG_LOCKED", "REBALANCE_IN_PROGRESS", "IO_ERROR"]);

/** Any failure as the KafkaJS error a KafkaJS program would catch; brook's code stays on it. */
export function kafkaError(error) {
  if (error instanceof KafkaJSError) return error;
  if (!(error instanceof BrookError)) return error;
  const protocol = PROTOCOL_ERRORS[error.code];
  if (protocol !== undefined) {
    const [type, code] = protocol;
    return new KafkaJSProtocolError(error.message, { type, code, retriable: RETRIABLE.has(error.code), cause: error });
  }
  return RETRIABLE.has(error.code)
    ? new KafkaJSError(error.message, { cause: error })
    : new KafkaJSNonRetriableError(error.message, { cause: error });
}

async function translated(call) {
  try {
    return await call();
  } catch (error) {
    throw kafkaError(error);
  }
}

function notImplemented(call, why) {
  return new KafkaJSNotImplemented(`${call} is not supported by brook: ${why}`, {
    cause: new BrookError("UNSUPPORTED", `${call}: ${why}`),
  });
}

// ---- constants KafkaJS programs import ----

export const CompressionTypes = { None: 0, GZIP: 1, Snappy: 2, LZ4: 3, ZSTD: 4 };
export const CompressionCodecs = {};
export const logLevel = { NOTHING: 0, ERROR: 1, WARN: 2, INFO: 4, DEBUG: 5 };
export const ResourceTypes = { UNKNOWN: 0, ANY: 1, TOPIC: 2, GROUP: 3, CLUSTER: 4, TRANSACTIONAL_ID: 5, DELEGATION_TOKEN: 6 };
export const ConfigResourceTypes = { UNKNOWN: 0, TOPIC: 2, BROKER: 4, BROKER_LOGGER: 8 };

/** brook places by key with Kafka's murmur2 (as KafkaJS's DefaultPartitioner and Java's do). */
function DefaultPartitioner() {
  return DEFAULT_PARTITIONER;
}
const DEFAULT_PARTITIONER = Symbol("brook's murmur2 partitioner");
export const Partitioners = {
  DefaultPartitioner,
  JavaCompatiblePartitioner: DefaultPartitioner,
  /** KafkaJS 1.x's placement of keyless messages differs; brook has only Kafka's. */
  LegacyPartitioner: DefaultPartitioner,
};

const ROUND_ROBIN = Symbol("roundRobin");
export const PartitionAssigners = { roundRobin: () => ROUND_ROBIN };

// ---- instrumentation events ----

const PRODUCER_EVENTS = {
  CONNECT: "producer.connect",
  DISCONNECT: "producer.disconnect",
  REQUEST: "producer.network.request",
  REQUEST_TIMEOUT: "producer.network.request_timeout",
  REQUEST_QUEUE_SIZE: "producer.network.request_queue_size",
};
const CONSUMER_EVENTS = {
  HEARTBEAT: "consumer.heartbeat",
  COMMIT_OFFSETS: "consumer.commit_offsets",
  GROUP_JOIN: "consumer.group_join",
  FETCH_START: "consumer.fetch_start",
  FETCH: "consumer.fetch",
  START_BATCH_PROCESS: "consumer.start_batch_process",
  END_BATCH_PROCESS: "consumer.end_batch_process",
  CONNECT: "consumer.connect",
  DISCONNECT: "consumer.disconnect",
  STOP: "consumer.stop",
  CRASH: "consumer.crash",
  REBALANCING: "consumer.rebalancing",
  RECEIVED_UNSUBSCRIBED_TOPICS: "consumer.received_unsubscribed_topics",
  REQUEST: "consumer.network.request",
  REQUEST_TIMEOUT: "consumer.network.request_timeout",
  REQUEST_QUEUE_SIZE: "consumer.network.request_queue_size",
};
const ADMIN_EVENTS = {
  CONNECT: "admin.connect",
  DISCONNECT: "admin.disconnect",
  REQUEST: "admin.network.request",
  REQUEST_TIMEOUT: "admin.network.request_timeout",
  REQUEST_QUEUE_SIZE: "admin.network.request_queue_size",
};

let eventIds = 0;

/** KafkaJS's `on(eventName, listener)`: returns the function that removes the listener. */
class Instrumentation {
  #events;
  #listeners = new Map();

  constructor(events) {
    this.#events = Object.values(events);
  }

  on(eventName, listener) {
    if (!this.#events.includes(eventName)) {
      throw new KafkaJSNonRetriableError(`Event name should be one of ${this.#events.join(", ")}`);
    }
    checkedFunction(listener, "listener");
    if (!this.#listeners.has(eventName)) this.#listeners.set(eventName, new Set());
    // A function per registration, so that one listener added twice is removed once per call.
    const entry = (event) => listener(event);
    this.#listeners.get(eventName).add(entry);
    return () => this.#listeners.get(eventName)?.delete(entry);
  }

  emit(type, payload) {
    const listeners = this.#listeners.get(type);
    if (listeners === undefined || listeners.size === 0) return;
    const event = { id: ++eventIds, type, timestamp: Date.now(), payload };
    for (const listener of listeners) {
      try {
        const result = listener(event);
        // KafkaJS ignores what listeners return; a rejected promise must not go unhandled.
        if (result && typeof result.catch === "function") result.catch(() => {});
      } catch {
        // A failing listener does not break the client (as in KafkaJS).
      }
    }
  }
}

// ---- what every client (producer, consumer, admin) shares ----

const KAFKA = Symbol("the client's Kafka");
const FORGET_TOPIC = Symbol("forgets that a topic exists");
const LOG = Symbol("the client's log, null while not connected");
const EMIT = Symbol("emits an instrumentation event");
const CONNECTED = Symbol("called with the log as the client connects");
const DISCONNECTING = Symbol("called as the client disconnects");

/** connect/disconnect (the Kafka opens and closes the log), on/events, logger. */
class KafkaClient {
  #kafka;
  #log = null;
  #eventNames;
  #events;

  constructor(kafka, eventNames) {
    this.#kafka = kafka;
    this.#eventNames = eventNames;
    this.#events = new Instrumentation(eventNames);
  }

  get [KAFKA]() {
    return this.#kafka;
  }

  get [LOG]() {
    return this.#log;
  }

  [EMIT](type, payload) {
    this.#events.emit(type, payload);
  }

  [CONNECTED]() {}

  async [DISCONNECTING]() {}

  get events() {
    return this.#eventNames;
  }

  on(eventName, listener) {
    return this.#events.on(eventName, listener);
  }

  logger() {
    return this.#kafka.logger();
  }

  async connect() {
    if (this.#log !== null) return;
    this.#log = await this.#kafka.acquire(this);
    this[CONNECTED](this.#log);
    this.#events.emit(this.#eventNames.CONNECT);
  }

  async disconnect() {
    await this[DISCONNECTING]();
    if (this.#log === null) return;
    this.#log = null;
    await this.#kafka.release(this);
    this.#events.emit(this.#eventNames.DISCONNECT);
  }
}

// ---- the logger KafkaJS clients expose ----

function makeLogger(level, logCreator, namespace = "") {
  const log = logCreator(level);
  const at = (value, name) => (message, extra) => {
    if (value > level) return;
    log({ namespace, level: value, label: name, log: { timestamp: new Date().toISOString(), message, ...extra } });
  };
  return {
    error: at(logLevel.ERROR, "ERROR"),
    warn: at(logLevel.WARN, "WARN"),
    info: at(logLevel.INFO, "INFO"),
    debug: at(logLevel.DEBUG, "DEBUG"),
    namespace: (name) => makeLogger(level, logCreator, name),
    setLogLevel: (value) => {
      level = value;
    },
  };
}

const consoleLogCreator = () => ({ level, label, namespace, log }) => {
  const { message, ...extra } = log;
  const line = `[${label}] ${namespace ? `${namespace}: ` : ""}${message}`;
  (level <= logLevel.ERROR ? console.error : console.warn)(line, extra);
};

// ---- conversions ----

/** An offset or timestamp as KafkaJS passes it: a string of digits (or a number). */
function toNumber(value, what) {
  if (typeof value === "number" && Number.isSafeInteger(value)) return value;
  if (typeof value === "string" && /^-?\d{1,16}$/.test(value)) {
    const number = Number(value);
    if (Number.isSafeInteger(number)) return number;
  }
  throw kafkaError(invalidArgument(`${what} must be a whole number (KafkaJS passes strings of digits), got ${describe(value)}`));
}

const PRODUCER_MESSAGE_FIELDS = ["key", "value", "partition", "headers", "timestamp"];

function toBrookMessage(message, index, partitioner, topic, partitionMetadata) {
  const { key, value = null, partition, headers, timestamp } = readOptions(message, `messages[${index}]`, PRODUCER_MESSAGE_FIELDS);
  const out = { key, value };
  if (timestamp !== undefined) out.timestamp = toNumber(timestamp, `messages[${index}].timestamp`);
  if (headers !== undefined) out.headers = toBrookHeaders(headers, index);
  if (partition !== undefined) out.partition = partition;
  else if (partitioner !== null) {
    out.partition = partitioner({ topic, partitionMetadata: partitionMetadata(), message });
  }
  return out;
}

function toBrookHeaders(headers, index) {
  if (typeof headers !== "object" || headers === null) {
    throw invalidArgument(`messages[${index}].headers must be an object, got ${describe(headers)}`);
  }
  const out = Object.create(null);
  for (const name of guarded("headers", () => Object.keys(headers))) {
    const value = guarded(`headers.${name}`, () => headers[name]);
    if (Array.isArray(value)) {
      throw invalidArgument(`messages[${index}].headers.${name} is an array: brook keeps one value per header name (join the values, or use distinct names)`);
    }
    out[name] = value;
  }
  return out;
}

// ---- Kafka ----

const KAFKA_CONFIG = [
  // KafkaJS's own; what a broker connection needs has no meaning for an embedded log.
  "clientId", "brokers", "ssl", "sasl", "connectionTimeout", "authenticationTimeout",
  "reauthenticationThreshold", "requestTimeout", "enforceRequestTimeout", "retry",
  "socketFactory", "logLevel", "logCreator",
  // brook's: the log to use (an open Log, or how to open one), and the partition count of
  // topics created on first use (Kafka's num.partitions).
  "log", "path", "name", "durability", "cacheBytes", "numPartitions",
];

/** The factory for one runtime: `Log` is its brook Log, `bytes(view)` how a delivered key or
 * value is handed over (a Buffer in Node, a Uint8Array whose toString decodes UTF-8 in browsers). */
export function createKafka({ Log, bytes }) {
  class Kafka {
    #config;
    #log = null;
    #opening = null;
    #clients = new Set();
    #logger;
    /** Topics seen to exist (brook never deletes one): a send need not ask the log again. */
    #knownTopics = new Set();

    constructor(config) {
      try {
        this.#configure(config);
      } catch (error) {
        throw kafkaError(error);
      }
    }

    #configure(config) {
      const settings = readOptions(config, "Kafka config", KAFKA_CONFIG);
      if (settings.log !== undefined && !(settings.log instanceof Log)) {
        throw invalidArgument(`log must be a brook Log (await Log.open(...)), got ${describe(settings.log)}`);
      }
      if (settings.log !== undefined && (settings.path !== undefined || settings.name !== undefined)) {
        throw invalidArgument("give log (an open Log) or path/name (to open one), not both");
      }
      const numPartitions = settings.numPartitions ?? 1;
      if (!Number.isSafeInteger(numPartitions) || numPartitions < 1) {
        throw invalidArgument(`numPartitions must be a whole number of at least 1, got ${describe(numPartitions)}`);
      }
      checkedFunction(settings.logCreator, "logCreator");
      this.#config = { ...settings, numPartitions, clientId: settings.clientId ?? "kafkajs" };
      this.#logger = makeLogger(settings.logLevel ?? logLevel.INFO, settings.logCreator ?? consoleLogCreator);
    }

    producer(config) {
      return new KafkaProducer(this, config);
    }

    consumer(config) {
      return new KafkaConsumer(this, config);
    }

    admin(config) {
      return new KafkaAdmin(this, config);
    }

    logger() {
      return this.#logger;
    }

    get clientId() {
      return this.#config.clientId;
    }

    get numPartitions() {
      return this.#config.numPartitions;
    }

    /** The log, opened on the first connect of any client of this Kafka (unless given). */
    async acquire(client) {
      if (this.#config.log !== undefined) {
        this.#clients.add(client);
        return this.#config.log;
      }
      if (this.#log === null) {
        if (this.#opening === null) {
          const { path, name, durability, cacheBytes } = this.#config;
          const options = {};
          if (path !== undefined) options.path = path;
          if (name !== undefined) options.name = name;
          if (durability !== undefined) options.durability = durability;
          if (cacheBytes !== undefined) options.cacheBytes = cacheBytes;
          this.#opening = Log.open(options).finally(() => {
            this.#opening = null;
          });
        }
        const log = await this.#opening;
        this.#log ??= log;
      }
      this.#clients.add(client);
      return this.#log;
    }

    /** The last client of a file or IndexedDB log this Kafka opened closes it (and frees its
     * lock); a memory log stays, as a broker's topics outlive its clients. */
    async release(client) {
      if (!this.#clients.delete(client) || this.#clients.size > 0) return;
      if (this.#config.log !== undefined || this.#log === null) return;
      if (this.#config.path === undefined && this.#config.name === undefined) return;
      const log = this.#log;
      this.#log = null;
      await log.close();
    }

    /** A topic deleted: the next use creates it again. */
    [FORGET_TOPIC](topic) {
      this.#knownTopics.delete(topic);
    }

    /** `topic`, created (with numPartitions) if it does not exist and auto creation is on. */
    async ensureTopic(log, topic, autoCreate) {
      if (!autoCreate || typeof topic !== "string" || this.#knownTopics.has(topic)) return;
      if (!log.topics().some((t) => t.topic === topic)) {
        try {
          await log.createTopic({ topic, partitions: this.#config.numPartitions });
        } catch (error) {
          // Another client created it meanwhile: what was wanted.
          if (!(error instanceof BrookError && error.code === "TOPIC_ALREADY_EXISTS")) throw error;
        }
      }
      this.#knownTopics.add(topic);
    }
  }

  // ---- Producer ----

  const PRODUCER_CONFIG = [
    "createPartitioner", "retry", "metadataMaxAge", "allowAutoTopicCreation", "idempotent",
    "transactionalId", "transactionTimeout", "maxInFlightRequests",
  ];
  const SEND_FIELDS = ["topic", "messages", "acks", "timeout", "compression"];

  class KafkaProducer extends KafkaClient {
    #producer = null;
    #partitioner = null;
    #autoCreate;
    #idempotent;
    #transactional;

    constructor(kafka, config) {
      super(kafka, PRODUCER_EVENTS);
      const settings = readOptions(config, "producer config", PRODUCER_CONFIG);
      this.#autoCreate = settings.allowAutoTopicCreation ?? true;
      this.#idempotent = settings.idempotent ?? false;
      this.#transactional = settings.transactionalId !== undefined;
      if (settings.createPartitioner !== undefined) {
        checkedFunction(settings.createPartitioner, "createPartitioner");
        const partitioner = settings.createPartitioner();
        if (partitioner !== DEFAULT_PARTITIONER) {
          checkedFunction(partitioner, "the partitioner createPartitioner returned");
          this.#partitioner = partitioner;
        }
      }
    }

    isIdempotent() {
      return this.#idempotent;
    }

    [CONNECTED](log) {
      this.#producer = log.producer();
    }

    async transaction() {
      throw notImplemented("producer.transaction()", "brook has no transactions; each send is appended whole or not at all, per partition");
    }

    /** Appends to one topic; resolves, once durable, with one entry per partition written. */
    async send(record) {
      const { topic, messages, ...delivery } = readOptions(record, "send", SEND_FIELDS);
      return this.#sendTopics([{ topic, messages }], delivery);
    }

    async sendBatch(batch) {
      const { topicMessages = [], ...delivery } = readOptions(batch, "sendBatch", ["topicMessages", "acks", "timeout", "compression"]);
      const list = readArray(topicMessages, "topicMessages", 10_000).map((entry, index) =>
        readOptions(entry, `topicMessages[${index}]`, ["topic", "messages"]),
      );
      return this.#sendTopics(list, delivery);
    }

    async #sendTopics(list, { acks, timeout, compression }) {
      const log = this[LOG];
      if (log === null) {
        throw new KafkaJSError("The producer is disconnected", { retriable: false });
      }
      // acks: every send waits for the log's durability ("strict": fsync) whatever it asks;
      // timeout: a local append does not wait on a network; compression: batches are kept
      // uncompressed (the RecordBatch attribute says none). All are checked, none weakens.
      if (acks !== undefined && ![-1, 0, 1].includes(acks)) {
        throw kafkaError(invalidArgument(`acks must be -1 (all), 1 or 0, got ${describe(acks)}`));
      }
      if (timeout !== undefined && (typeof timeout !== "number" || !(timeout >= 0))) {
        throw kafkaError(invalidArgument(`timeout must be a number of milliseconds, got ${describe(timeout)}`));
      }
      if (compression !== undefined && !Object.values(CompressionTypes).includes(compression)) {
        throw kafkaError(invalidArgument(`compression must be one of CompressionTypes, got ${describe(compression)}`));
      }
      return translated(async () => {
        const results = [];
        for (const { topic, messages } of list) {
          await this[KAFKA].ensureTopic(log, topic, this.#autoCreate);
          let metadata = null;
          const partitionMetadata = () => (metadata ??= partitionsOf(log, topic));
          const converted = readArray(messages, "messages", 100_000).map((message, index) =>
            toBrookMessage(message, index, this.#partitioner, topic, partitionMetadata),
          );
          let placed;
          try {
            placed = await this.#producer.send({ topic, messages: converted });
          } catch (error) {
            // Deleted since this Kafka saw it (Log.deleteTopic): created again, as on first use.
            if (!(this.#autoCreate && error instanceof BrookError && error.code === "UNKNOWN_TOPIC")) throw error;
            this[KAFKA][FORGET_TOPIC](topic);
            await this[KAFKA].ensureTopic(log, topic, true);
            placed = await this.#producer.send({ topic, messages: converted });
          }
          results.push(...perPartition(log, topic, placed));
        }
        return results;
      });
    }
  }

  /** brook's placements (one per message) as KafkaJS's answer: one per partition written. */
  function perPartition(log, topic, placed) {
    const first = new Map();
    for (const { partition, offset } of placed) {
      if (!first.has(partition)) first.set(partition, offset);
    }
    const offsets = log.offsets(topic);
    return [...first].map(([partition, baseOffset]) => ({
      topicName: topic,
      partition,
      errorCode: 0,
      baseOffset: String(baseOffset),
      logAppendTime: "-1",
      logStartOffset: String(offsets[partition]?.low ?? 0),
    }));
  }

  function partitionsOf(log, topic) {
    const count = log.topics().find((t) => t.topic === topic)?.partitions ?? 0;
    return Array.from({ length: count }, (_, partitionId) => ({
      partitionErrorCode: 0,
      partitionId,
      leader: 0,
      replicas: [0],
      isr: [0],
      offlineReplicas: [],
    }));
  }

  // ---- Consumer ----

  const CONSUMER_CONFIG = [
    "groupId", "partitionAssigners", "metadataMaxAge", "sessionTimeout", "rebalanceTimeout",
    "heartbeatInterval", "maxBytesPerPartition", "minBytes", "maxBytes", "maxWaitTimeInMs",
    "retry", "allowAutoTopicCreation", "maxInFlightRequests", "readUncommitted", "rackId",
  ];
  const RUN_CONFIG = [
    "autoCommit", "autoCommitInterval", "autoCommitThreshold", "eachBatchAutoResolve",
    "partitionsConsumedConcurrently", "eachBatch", "eachMessage",
  ];

  class KafkaConsumer extends KafkaClient {
    #groupId;
    #assignor = "roundRobin";
    #maxBytes;
    #autoCreate;
    #restartOnFailure;
    #retryTime;
    /** Topics (strings) and patterns (RegExps) subscribed, and their fromBeginning. */
    #subscriptions = [];
    #fromBeginning;
    /** The brook consumer of the running group member; null while not running. */
    #consumer = null;
    #running = false;
    #restartTimer = null;

    constructor(kafka, config) {
      super(kafka, CONSUMER_EVENTS);
      const settings = readOptions(config, "consumer config", CONSUMER_CONFIG);
      if (typeof settings.groupId !== "string" || settings.groupId === "") {
        throw new KafkaJSNonRetriableError("Consumer groupId must be a non-empty string.", {
          cause: invalidArgument(`groupId must be a non-empty string, got ${describe(settings.groupId)}`),
        });
      }
      this.#groupId = settings.groupId;
      if (settings.partitionAssigners !== undefined) {
        const assigners = readArray(settings.partitionAssigners, "partitionAssigners", 16);
        const first = assigners[0];
        if (assigners.length !== 1 || typeof first !== "function" || first() !== ROUND_ROBIN) {
          throw notImplemented("custom partitionAssigners", "brook's core assigns (roundRobin, as KafkaJS's default; Log.consumer offers range and cooperativeSticky)");
        }
      }
      this.#maxBytes = settings.maxBytes;
      this.#autoCreate = settings.allowAutoTopicCreation ?? true;
      const retry = readOptions(settings.retry, "retry", ["maxRetryTime", "initialRetryTime", "factor", "multiplier", "retries", "restartOnFailure"]);
      this.#restartOnFailure = checkedFunction(retry.restartOnFailure, "retry.restartOnFailure") ?? (async () => true);
      this.#retryTime = retry.initialRetryTime ?? 300;
    }

    async [DISCONNECTING]() {
      await this.stop();
    }

    /** `{ topic | topics, fromBeginning }`; RegExps match the topics that exist now (as KafkaJS). */
    async subscribe(subscription) {
      const log = this.#connected("subscribe");
      const { topic, topics, fromBeginning = false } = readOptions(subscription, "subscribe", ["topic", "topics", "fromBeginning"]);
      if ((topic === undefined) === (topics === undefined)) {
        throw new KafkaJSNonRetriableError('Missing required argument "topics"');
      }
      if (typeof fromBeginning !== "boolean") {
        throw kafkaError(invalidArgument(`fromBeginning must be true or false, got ${describe(fromBeginning)}`));
      }
      if (this.#running) {
        throw new KafkaJSNonRetriableError("Cannot subscribe to topic while consumer is running");
      }
      if (this.#fromBeginning !== undefined && this.#fromBeginning !== fromBeginning) {
        throw kafkaError(invalidArgument("brook fixes fromBeginning for the whole consumer (its group member); subscribe every topic with the same fromBeginning"));
      }
      const list = topics !== undefined ? readArray(topics, "topics", 10_000) : [topic];
      const names = [];
      for (const entry of list) {
        if (entry instanceof RegExp) {
          const pattern = new RegExp(entry.source, entry.flags.replace("g", ""));
          names.push(...log.topics().filter((t) => !t.internal && pattern.test(t.topic)).map((t) => t.topic));
        } else if (typeof entry === "string") {
          await this[KAFKA].ensureTopic(log, entry, this.#autoCreate);
          names.push(entry);
        } else {
          throw new KafkaJSNonRetriableError(`Invalid topic ${describe(entry)}, the topic name has to be a String or a RegExp`);
        }
      }
      this.#fromBeginning = fromBeginning;
      for (const name of names) if (!this.#subscriptions.includes(name)) this.#subscriptions.push(name);
    }

    /** Joins the group and starts delivering; resolves once the loop runs (as KafkaJS's). */
    async run(config) {
      const log = this.#connected("run");
      const settings = readOptions(config, "run", RUN_CONFIG);
      const { eachMessage, eachBatch } = settings;
      if (typeof (eachMessage ?? eachBatch) !== "function" || (eachMessage && eachBatch)) {
        throw kafkaError(invalidArgument("run needs one handler: eachMessage or eachBatch, a function"));
      }
      if (this.#running) {
        throw new KafkaJSNonRetriableError("The consumer is already running");
      }
      if (this.#subscriptions.length === 0) {
        throw new KafkaJSNonRetriableError("The consumer has no subscriptions; call subscribe before run");
      }
      const autoCommit = settings.autoCommit ?? true;
      const interval = settings.autoCommitInterval ?? undefined;
      const threshold = settings.autoCommitThreshold ?? undefined;
      const autoResolve = settings.eachBatchAutoResolve ?? true;
      // partitionsConsumedConcurrently: brook hands one partition's run of records at a time to
      // one handler (order within a partition holds either way); larger values are accepted.
      const concurrency = settings.partitionsConsumedConcurrently ?? 1;
      if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
        throw kafkaError(invalidArgument(`partitionsConsumedConcurrently must be a whole number of at least 1, got ${describe(concurrency)}`));
      }
      this.#running = true;
      this.#plan = { log, eachMessage, eachBatch, autoCommit, interval, threshold, autoResolve };
      try {
        await this.#start();
      } catch (error) {
        this.#running = false;
        throw kafkaError(error);
      }
    }

    #plan = null;

    async #start() {
      const { log, eachMessage, eachBatch, autoCommit, interval, threshold } = this.#plan;
      const started = Date.now();
      // KafkaJS commits what handlers finished (at-least-once): brook's auto commit of
      // processed records. eachMessage: per message handled; eachBatch: what the batch resolved,
      // committed here once the handler returns.
      const options = {
        groupId: this.#groupId,
        assignor: this.#assignor,
        fromBeginning: this.#fromBeginning ?? false,
        autoCommit: autoCommit && eachMessage !== undefined,
      };
      if (options.autoCommit) {
        options.autoCommitInterval = interval;
        options.autoCommitThreshold = threshold ?? (interval === undefined ? Number.MAX_SAFE_INTEGER : undefined);
      }
      if (this.#maxBytes !== undefined) options.maxBytes = this.#maxBytes;
      const consumer = log.consumer(options);
      this.#consumer = consumer;
      await consumer.subscribe({ topics: this.#subscriptions });
      const handlers = eachMessage !== undefined
        ? { eachMessage: (payload) => eachMessage(this.#messagePayload(payload)) }
        : { eachBatch: (payload) => this.#eachBatch(payload) };
      await consumer.run({ ...handlers, onError: (error) => this.#crashed(consumer, error) });
      const assignment = {};
      for (const { topic, partition } of consumer.assignment()) (assignment[topic] ??= []).push(partition);
      // brook's groups have no leader (the core assigns); the longest-standing member stands in.
      const memberId = String(consumer.memberId);
      const leaderId = String(log.describeGroup(this.#groupId)?.members[0]?.memberId ?? memberId);
      this[EMIT](CONSUMER_EVENTS.GROUP_JOIN, {
        duration: Date.now() - started,
        groupId: this.#groupId,
        isLeader: leaderId === memberId,
        leaderId,
        groupProtocol: this.#assignor === "roundRobin" ? "RoundRobinAssigner" : this.#assignor,
        memberId,
        memberAssignment: assignment,
      });
    }

    /** The loop stopped on an error (a handler's): KafkaJS's crash, and its restart. */
    async #crashed(consumer, error) {
      if (consumer !== null && this.#consumer !== consumer) return;
      // A restart that failed because stop() came meanwhile is no crash.
      if (consumer === null && !this.#running) return;
      this.#consumer = null;
      const failure = kafkaError(error);
      let restart = false;
      if (this.#running) {
        try {
          restart = Boolean(await this.#restartOnFailure(failure));
        } catch {
          restart = false;
        }
      }
      // Settled first (what was handled committed, the group left), so that listeners see it.
      await consumer?.disconnect().catch(() => {});
      this[EMIT](CONSUMER_EVENTS.CRASH, { error: failure, groupId: this.#groupId, restart });
      this.logger().error(`Crash: ${failure.name}: ${failure.message}`, { groupId: this.#groupId, retryCount: 0, stack: failure.stack });
      if (!restart || !this.#running) {
        this.#running = false;
        return;
      }
      // Records not committed are delivered again to the restarted member (at-least-once).
      this.#restartTimer = setTimeout(() => {
        this.#restartTimer = null;
        if (!this.#running || this.#consumer !== null) return;
        this.#start().catch((again) => this.#crashed(null, again));
      }, this.#retryTime);
    }

    #messagePayload({ topic, partition, message }) {
      return {
        topic,
        partition,
        message: this.#message(message),
        heartbeat: async () => {},
        pause: () => {
          this.pause([{ topic, partitions: [partition] }]);
          return () => this.resume([{ topic, partitions: [partition] }]);
        },
      };
    }

    #message(message) {
      const headers = {};
      for (const name of Object.keys(message.headers)) {
        const value = message.headers[name];
        setOwn(headers, name, value === null ? null : bytes(value));
      }
      return {
        key: message.key === null ? null : bytes(message.key),
        value: message.value === null ? null : bytes(message.value),
        timestamp: String(message.timestamp),
        attributes: 0,
        offset: String(message.offset),
        headers,
        isControlRecord: false,
        batchContext: null,
        magicByte: 2,
      };
    }

    async #eachBatch({ batch, isRunning, isStale }) {
      const { eachBatch, autoCommit, autoResolve } = this.#plan;
      const consumer = this.#consumer;
      const { topic, partition, highWatermark } = batch;
      const messages = batch.messages.map((m) => this.#message(m));
      const first = batch.messages[0]?.offset ?? null;
      const last = batch.messages.at(-1)?.offset ?? highWatermark - 1;
      let resolved = null;
      let committed = null;
      const commitResolved = async () => {
        if (!autoCommit || resolved === null || resolved === committed || consumer === null || isStale()) return;
        await consumer.commitOffsets([{ topic, partition, offset: resolved + 1 }]);
        committed = resolved;
        this[EMIT](CONSUMER_EVENTS.COMMIT_OFFSETS, {
          groupId: this.#groupId,
          memberId: "",
          groupGenerationId: 0,
          topics: [{ topic, partitions: [{ partition, offset: String(resolved + 1) }] }],
        });
      };
      const lag = () => String(Math.max(0, highWatermark - 1 - last));
      const info = {
        topic,
        partition,
        highWatermark: String(highWatermark),
        offsetLag: lag(),
        offsetLagLow: String(Math.max(0, highWatermark - 1 - (first ?? last))),
        batchSize: messages.length,
        firstOffset: first === null ? null : String(first),
        lastOffset: String(last),
      };
      const startedAt = Date.now();
      this[EMIT](CONSUMER_EVENTS.START_BATCH_PROCESS, info);
      const kafkaBatch = {
        topic,
        partition,
        highWatermark: String(highWatermark),
        messages,
        isEmpty: () => messages.length === 0,
        firstOffset: () => (first === null ? null : String(first)),
        lastOffset: () => String(last),
        offsetLag: lag,
        offsetLagLow: () => info.offsetLagLow,
      };
      try {
        await eachBatch({
          batch: kafkaBatch,
          resolveOffset: (offset) => {
            const value = toNumber(offset, "resolveOffset's offset");
            if (resolved === null || value > resolved) resolved = value;
          },
          heartbeat: async () => {},
          pause: () => {
            this.pause([{ topic, partitions: [partition] }]);
            return () => this.resume([{ topic, partitions: [partition] }]);
          },
          commitOffsetsIfNecessary: async (offsets) => {
            if (offsets === undefined) return commitResolved();
            const { topics = [] } = readOptions(offsets, "commitOffsetsIfNecessary", ["topics"]);
            const list = readArray(topics, "topics", 10_000).flatMap((entry, index) => {
              const { topic, partitions } = readOptions(entry, `topics[${index}]`, ["topic", "partitions"]);
              return readArray(partitions, `topics[${index}].partitions`, 100_000).map((p, at) => {
                const { partition, offset } = readOptions(p, `topics[${index}].partitions[${at}]`, ["partition", "offset", "metadata"]);
                return { topic, partition, offset };
              });
            });
            return this.commitOffsets(list);
          },
          uncommittedOffsets: () => ({
            topics: resolved === null || resolved === committed ? [] : [{ topic, partitions: [{ partition, offset: String(resolved + 1) }] }],
          }),
          isRunning: () => isRunning() && this.#running,
          isStale,
        });
      } catch (error) {
        // What the batch resolved before it failed stays committed; the rest is delivered again.
        await commitResolved().catch(() => {});
        throw error;
      }
      if (autoResolve && first !== null) resolved = last;
      await commitResolved();
      this[EMIT](CONSUMER_EVENTS.END_BATCH_PROCESS, { ...info, duration: Date.now() - startedAt });
    }

    /** Stops the loop and leaves the group; run() starts it again. */
    async stop() {
      const consumer = this.#consumer;
      const wasRunning = this.#running;
      this.#running = false;
      this.#consumer = null;
      if (this.#restartTimer !== null) {
        clearTimeout(this.#restartTimer);
        this.#restartTimer = null;
      }
      if (consumer !== null) await translated(() => consumer.disconnect());
      if (wasRunning) this[EMIT](CONSUMER_EVENTS.STOP);
    }

    async commitOffsets(offsets) {
      const consumer = this.#member("commitOffsets");
      const list = readArray(offsets, "offsets", 100_000).map((entry, index) => {
        const { topic, partition, offset } = readOptions(entry, `offsets[${index}]`, ["topic", "partition", "offset", "metadata"]);
        return { topic, partition, offset: toNumber(offset, `offsets[${index}].offset`) };
      });
      await translated(() => consumer.commitOffsets(list));
      const topics = new Map();
      for (const { topic, partition, offset } of list) {
        if (!topics.has(topic)) topics.set(topic, []);
        topics.get(topic).push({ partition, offset: String(offset) });
      }
      this[EMIT](CONSUMER_EVENTS.COMMIT_OFFSETS, {
        groupId: this.#groupId,
        memberId: "",
        groupGenerationId: 0,
        topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })),
      });
    }

    seek(target) {
      const consumer = this.#member("seek");
      try {
        const { topic, partition, offset } = readOptions(target, "seek", ["topic", "partition", "offset"]);
        consumer.seek({ topic, partition, offset: toNumber(offset, "seek's offset") });
      } catch (error) {
        throw kafkaError(error);
      }
    }

    pause(topics) {
      const consumer = this.#member("pause");
      try {
        consumer.pause(topics);
      } catch (error) {
        throw kafkaError(error);
      }
    }

    resume(topics) {
      const consumer = this.#member("resume");
      try {
        consumer.resume(topics);
      } catch (error) {
        throw kafkaError(error);
      }
    }

    paused() {
      if (this.#consumer === null) return [];
      const byTopic = new Map();
      for (const { topic, partition } of this.#consumer.paused()) {
        if (!byTopic.has(topic)) byTopic.set(topic, []);
        byTopic.get(topic).push(partition);
      }
      return [...byTopic].map(([topic, partitions]) => ({ topic, partitions }));
    }

    async describeGroup() {
      const log = this.#connected("describeGroup");
      return describeGroup(log, this.#groupId, this[KAFKA].clientId);
    }

    #connected(call) {
      const log = this[LOG];
      if (log === null) {
        throw new KafkaJSNonRetriableError(`The consumer is not connected; call connect() before ${call}()`);
      }
      return log;
    }

    #member(call) {
      this.#connected(call);
      if (this.#consumer === null) {
        throw new KafkaJSNonRetriableError("Consumer group was not initialized, consumer#run must be called first");
      }
      return this.#consumer;
    }
  }

  // ---- Admin ----

  /** Kafka's topic configs that brook has, and their names in createTopic. */
  const TOPIC_CONFIGS = {
    "cleanup.policy": ["cleanupPolicy", (v) => v],
    "retention.ms": ["retentionMs", Number],
    "retention.bytes": ["retentionBytes", Number],
    "segment.bytes": ["segmentBytes", Number],
    "max.message.bytes": ["maxMessageBytes", Number],
    "delete.retention.ms": ["deleteRetentionMs", Number],
  };

  class KafkaAdmin extends KafkaClient {
    constructor(kafka, config) {
      super(kafka, ADMIN_EVENTS);
      readOptions(config, "admin config", ["retry"]);
    }

    #connected() {
      const log = this[LOG];
      if (log === null) throw new KafkaJSNonRetriableError("The admin client is not connected; call connect() first");
      return log;
    }

    async listTopics() {
      return this.#connected().topics().filter((t) => !t.internal).map((t) => t.topic);
    }

    /** true if every topic was created; false if some existed already (KafkaJS's answer). */
    async createTopics(request) {
      const log = this.#connected();
      const { topics, validateOnly = false } = readOptions(request, "createTopics", ["topics", "validateOnly", "waitForLeaders", "timeout"]);
      const list = readArray(topics, "topics", 10_000).map((entry, index) => {
        const { topic, numPartitions = -1, replicationFactor = -1, replicaAssignment = [], configEntries = [] } =
          readOptions(entry, `topics[${index}]`, ["topic", "numPartitions", "replicationFactor", "replicaAssignment", "configEntries"]);
        // One copy, in this process: a replication factor has nothing to spread over.
        if (replicationFactor !== -1 && replicationFactor !== 1) {
          throw new KafkaJSProtocolError(`replicationFactor ${replicationFactor}: brook keeps one copy of a topic (use -1 or 1)`, { type: "INVALID_REPLICATION_FACTOR", code: 38 });
        }
        if (readArray(replicaAssignment, "replicaAssignment", 10_000).length > 0) {
          throw notImplemented("replicaAssignment", "brook keeps one copy of a topic");
        }
        const created = { topic, partitions: numPartitions === -1 ? this[KAFKA].numPartitions : numPartitions };
        for (const [i, config] of readArray(configEntries, "configEntries", 64).entries()) {
          const { name, value } = readOptions(config, `configEntries[${i}]`, ["name", "value"]);
          const known = TOPIC_CONFIGS[name];
          if (known === undefined) {
            throw new KafkaJSProtocolError(`unknown or unsupported topic config ${describe(name)}; brook has ${Object.keys(TOPIC_CONFIGS).join(", ")}`, { type: "INVALID_CONFIG", code: 40 });
          }
          created[known[0]] = known[1](value);
        }
        return created;
      });
      const existing = new Set(log.topics().map((t) => t.topic));
      if (validateOnly) return list.every((t) => !existing.has(t.topic));
      let all = true;
      for (const request of list) {
        try {
          await log.createTopic(request);
        } catch (error) {
          if (error instanceof BrookError && error.code === "TOPIC_ALREADY_EXISTS") all = false;
          else throw kafkaError(error);
        }
      }
      return all;
    }

    async createPartitions(request) {
      const log = this.#connected();
      const { topicPartitions } = readOptions(request, "createPartitions", ["topicPartitions", "validateOnly", "timeout"]);
      for (const [index, entry] of readArray(topicPartitions, "topicPartitions", 10_000).entries()) {
        const { topic, count } = readOptions(entry, `topicPartitions[${index}]`, ["topic", "count", "assignments"]);
        await translated(() => log.createPartitions({ topic, count }));
      }
      return true;
    }

    async deleteTopics(request) {
      const log = this.#connected();
      const { topics } = readOptions(request, "deleteTopics", ["topics", "timeout"]);
      for (const topic of readArray(topics, "topics", 10_000)) {
        await log.deleteTopic(topic);
        this[KAFKA][FORGET_TOPIC](topic);
      }
    }

    async fetchTopicMetadata(request) {
      const log = this.#connected();
      const { topics } = readOptions(request, "fetchTopicMetadata", ["topics"]);
      const all = log.topics().filter((t) => !t.internal);
      const names = topics === undefined ? all.map((t) => t.topic) : readArray(topics, "topics", 10_000);
      return {
        topics: names.map((name) => {
          if (!all.some((t) => t.topic === name)) {
            throw new KafkaJSProtocolError("This server does not host this topic-partition", { type: "UNKNOWN_TOPIC_OR_PARTITION", code: 3 });
          }
          return { name, partitions: partitionsOf(log, name) };
        }),
      };
    }

    /** Per partition: `high` is the high watermark (what is durable), `low` the first offset kept. */
    async fetchTopicOffsets(topic) {
      const log = this.#connected();
      const offsets = await translated(() => log.offsets(topic));
      return offsets.map(({ partition, low, durable }) => ({
        partition,
        offset: String(durable),
        high: String(durable),
        low: String(low),
      }));
    }

    /** The group's committed offsets ("-1": none), per topic asked (default: every topic). */
    async fetchOffsets(request) {
      const log = this.#connected();
      const { groupId, topics, resolveOffsets = false } = readOptions(request, "fetchOffsets", ["groupId", "topics", "resolveOffsets"]);
      const names = topics === undefined
        ? log.topics().filter((t) => !t.internal).map((t) => t.topic)
        : readArray(topics, "topics", 10_000);
      const answer = [];
      for (const topic of names) {
        const lag = await translated(() => log.lag({ groupId, topic }));
        const partitions = lag.map(({ partition, committed, low }) => ({
          partition,
          offset: String(committed ?? (resolveOffsets ? low : -1)),
          metadata: null,
        }));
        if (topics !== undefined || lag.some((p) => p.committed !== undefined)) answer.push({ topic, partitions });
      }
      return answer;
    }

    async setOffsets(request) {
      const log = this.#connected();
      const { groupId, topic, partitions } = readOptions(request, "setOffsets", ["groupId", "topic", "partitions"]);
      const offsets = readArray(partitions, "partitions", 100_000).map((entry, index) => {
        const { partition, offset } = readOptions(entry, `partitions[${index}]`, ["partition", "offset"]);
        return { topic, partition, offset: toNumber(offset, `partitions[${index}].offset`) };
      });
      await translated(() => log.setOffsets({ groupId, offsets }));
    }

    async resetOffsets(request) {
      const log = this.#connected();
      const { groupId, topic, earliest = false } = readOptions(request, "resetOffsets", ["groupId", "topic", "earliest"]);
      const partitions = await translated(() => log.offsets(topic));
      const offsets = partitions.map(({ partition, low, durable }) => ({ topic, partition, offset: earliest ? low : durable }));
      await translated(() => log.setOffsets({ groupId, offsets }));
    }

    async listGroups() {
      const log = this.#connected();
      return { groups: log.groups({ includeEmpty: true }).map((groupId) => ({ groupId, protocolType: "consumer" })) };
    }

    async describeGroups(groupIds) {
      const log = this.#connected();
      const ids = readArray(groupIds, "groupIds", 10_000);
      return { groups: ids.map((groupId) => describeGroup(log, groupId, this[KAFKA].clientId)) };
    }

    async deleteGroups(groupIds) {
      const log = this.#connected();
      const ids = readArray(groupIds, "groupIds", 10_000);
      const results = [];
      const failed = [];
      for (const groupId of ids) {
        try {
          await log.deleteGroup(groupId);
          results.push({ groupId, errorCode: 0 });
        } catch (error) {
          const failure = kafkaError(error);
          failed.push({ groupId, errorCode: failure.code ?? -1, error: failure });
        }
      }
      if (failed.length > 0) throw new KafkaJSDeleteGroupsError("Error in DeleteGroups", failed);
      return results;
    }

    async describeCluster() {
      this.#connected();
      return { brokers: [{ nodeId: 0, host: "brook", port: 0 }], controller: 0, clusterId: "brook" };
    }
  }

  /** Admin calls brook refuses, and why (KafkaJSNotImplemented, brookCode UNSUPPORTED). */
  const REFUSED_ADMIN_CALLS = {
    deleteTopicRecords: "use a topic's retention instead",
    fetchTopicOffsetsByTimestamp: "brook has no index by time yet",
    describeConfigs: "read a topic's settings with Log.topics()",
    alterConfigs: "a topic's settings are fixed at creation",
    createAcls: "an embedded log has no principals",
    describeAcls: "an embedded log has no principals",
    deleteAcls: "an embedded log has no principals",
    alterPartitionReassignments: "brook keeps one copy of a topic",
    listPartitionReassignments: "brook keeps one copy of a topic",
  };
  for (const [name, why] of Object.entries(REFUSED_ADMIN_CALLS)) {
    KafkaAdmin.prototype[name] = async function () {
      throw notImplemented(`admin.${name}`, why);
    };
  }

  /** A group as KafkaJS's describeGroup(s) gives it; a group with no members is "Empty". */
  function describeGroup(log, groupId, clientId) {
    const group = log.describeGroup(groupId);
    const members = (group?.members ?? []).map((member) => ({
      memberId: String(member.memberId),
      clientId,
      clientHost: "/127.0.0.1",
      memberMetadata: bytes(encodeMemberMetadata(member.topics)),
      memberAssignment: bytes(encodeMemberAssignment(member.assignment)),
    }));
    const known = group !== undefined || log.groups({ includeEmpty: true }).includes(groupId);
    return {
      errorCode: 0,
      groupId,
      members,
      protocol: members.length > 0 ? (group.assignor === "roundRobin" ? "RoundRobinAssigner" : group.assignor) : "",
      protocolType: known ? "consumer" : "",
      state: members.length > 0 ? "Stable" : known ? "Empty" : "Dead",
    };
  }

  for (const client of [Kafka, KafkaClient, KafkaProducer, KafkaConsumer, KafkaAdmin]) speaksKafkaJS(client);
  return { Kafka };
}

/** Every public method of `client` throws (or rejects with) KafkaJS's errors only: a BrookError
 * from argument checks or the log becomes its KafkaJS counterpart, its code kept. */
function speaksKafkaJS(client) {
  for (const name of Object.getOwnPropertyNames(client.prototype)) {
    const descriptor = Object.getOwnPropertyDescriptor(client.prototype, name);
    if (name === "constructor" || typeof descriptor.value !== "function") continue;
    const method = descriptor.value;
    const wrapped = method.constructor.name === "AsyncFunction"
      ? async function (...args) {
          try {
            return await method.apply(this, args);
          } catch (error) {
            throw kafkaError(error);
          }
        }
      : function (...args) {
          try {
            return method.apply(this, args);
          } catch (error) {
            throw kafkaError(error);
          }
        };
    Object.defineProperty(client.prototype, name, { ...descriptor, value: wrapped });
  }
}

// Kafka's consumer protocol encodings (big-endian; strings with an int16 length), as
// KafkaJS's AssignerProtocol decodes them.
const utf8 = new TextEncoder();

function encodeMemberMetadata(topics) {
  const parts = [int16(0), int32(topics.length), ...topics.map(string), int32(-1)];
  return concat(parts);
}

function encodeMemberAssignment(assignment) {
  const byTopic = new Map();
  for (const { topic, partition } of assignment) {
    if (!byTopic.has(topic)) byTopic.set(topic, []);
    byTopic.get(topic).push(partition);
  }
  const parts = [int16(0), int32(byTopic.size)];
  for (const [topic, partitions] of byTopic) {
    parts.push(string(topic), int32(partitions.length), ...partitions.map(int32));
  }
  parts.push(int32(-1));
  return concat(parts);
}

function int16(value) {
  const out = new Uint8Array(2);
  new DataView(out.buffer).setInt16(0, value);
  return out;
}

function int32(value) {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setInt32(0, value);
  return out;
}

function string(text) {
  const bytes = utf8.encode(text);
  return concat([int16(bytes.length), bytes]);
}

function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
