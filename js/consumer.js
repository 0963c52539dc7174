// A consumer: a member of a group, and the delivery loop of `run`. The core keeps the
// delivery state (src/group.rs): a fetch hands out chunks under a lease; before each record
// this loop writes how far it has handed the lease over into a table in wasm memory, and it
// compares the member's epoch (also in wasm memory) to notice a seek, pause or rebalance,
// asking the core only then whether the chunk may go on. Releasing the lease gives back what
// was not handed over. So a record costs no call into wasm; a chunk costs one, plus one
// flush under auto commit.

import { BrookError, invalidArgument } from "./errors.js";
import { Producer } from "./producer.js";
import { checkedBoolean, checkedFunction, checkedText, describe, guarded, readArray, readFields, readOptions, readPlain } from "./args.js";
import { breathe } from "./turns.js";
import { deliver } from "./delivery.js";
import { decodeLease, decodePoll, pollMessages } from "./wire.js";

const CONSUMER_OPTIONS = [
  "groupId",
  "autoCommit",
  "autoCommitInterval",
  "autoCommitThreshold",
  "assignor",
  "fromBeginning",
  "maxRecords",
  "maxBytes",
  "deadLetter",
];
/** maxAttempts of a dead-letter topic: 1 (no retry) up to the maximum; 3 unless given. */
const DEAD_LETTER_ATTEMPTS_DEFAULT = 3;
const DEAD_LETTER_ATTEMPTS_MAX = 1000;

const MAX_RECORDS_DEFAULT = 500;
const MAX_BYTES_DEFAULT = 1024 * 1024;
/** Reads that wait for IndexedDB make progress with every load; this many rounds without an
 * answer mean a fault, reported instead of looping forever. */
export const LOAD_ROUNDS_MAX = 100_000;
/** noteFailure's notes (src/group.rs FailureNote). */
const NOTE_FAILED = 0;
const NOTE_RETRY = 1;
const NOTE_DEAD_LETTERED = 2;
/** startChunk's answers. */
const SKIP = 0;
const WHEN_DURABLE = 2;

/** The key of a consumer's delivery source (for share.js, which serves other tabs' loops). */
export const SOURCE = Symbol("brook.source");

export function stalledLoads(what) {
  return new BrookError("IO_ERROR", `${what} kept waiting for IndexedDB batches that never arrived`);
}

function checkedCount(value, name) {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw invalidArgument(`${name} must be a whole number of at least 1, got ${describe(value)}`);
  }
  return value;
}

export class Consumer {
  #log;
  #groupId;
  #autoCommit;
  /** KafkaJS's autoCommitInterval (ms) and autoCommitThreshold (records): with either, auto
   * commit commits what handlers finished, every so often (at-least-once). */
  #commitInterval;
  #commitThreshold;
  #assignor;
  #fromBeginning;
  #maxRecords;
  #maxBytes;
  /** `{ topic, maxAttempts }`, or null: a failing handler stops the loop (as it always did). */
  #deadLetter;
  /** The producer of dead-lettered records, made at the first one. */
  #deadLetterProducer = null;
  /** The member id in the core's group; null until the first subscribe joins. */
  #member = null;
  #slot = 0;
  #topics = [];
  #loop = null;
  #stopping = false;
  #stop = () => this.#stopLoop();

  constructor(log, options) {
    this.#log = log;
    const settings = readOptions(options, "consumer options", CONSUMER_OPTIONS);
    if (typeof settings.groupId !== "string") {
      throw invalidArgument(`consumer needs groupId: a string, got ${describe(settings.groupId)}`);
    }
    this.#groupId = checkedText(settings.groupId, "groupId");
    this.#autoCommit = checkedBoolean(settings.autoCommit, "autoCommit") ?? true;
    this.#commitInterval = checkedCount(settings.autoCommitInterval, "autoCommitInterval");
    this.#commitThreshold = checkedCount(settings.autoCommitThreshold, "autoCommitThreshold");
    this.#assignor = settings.assignor;
    this.#fromBeginning = checkedBoolean(settings.fromBeginning, "fromBeginning");
    this.#maxRecords = settings.maxRecords ?? MAX_RECORDS_DEFAULT;
    this.#maxBytes = settings.maxBytes ?? MAX_BYTES_DEFAULT;
    log.invoke((wasm) => wasm.checkFetchLimits(this.#maxRecords, this.#maxBytes));
    this.#deadLetter = checkedDeadLetter(log, settings.deadLetter);
  }

  get #commitsProcessed() {
    return this.#autoCommit && (this.#commitInterval !== undefined || this.#commitThreshold !== undefined);
  }

  #joinGroup(topics) {
    const options = {
      groupId: this.#groupId,
      autoCommit: this.#autoCommit,
      commitProcessed: this.#commitsProcessed,
      assignor: this.#assignor,
      fromBeginning: this.#fromBeginning ?? false,
    };
    this.#member = this.#log.invoke((wasm) => wasm.joinGroup(options, topics));
    this.#slot = this.#log.invoke((wasm) => wasm.memberSlot(this.#member));
  }

  #joined(operation) {
    this.#log.assertOpen();
    // A consumer whose handler failed left its group; it keeps its subscription and rejoins.
    if (this.#member === null && this.#topics.length > 0) {
      this.#joinGroup(this.#topics);
      this.#log.notify();
    }
    if (this.#member === null) {
      throw invalidArgument(`subscribe before calling ${operation}`);
    }
    return this.#member;
  }

  /** Leaves the group (the core gives back what the lease did not hand over), so that its
   * partitions move to the other members at once. */
  #leave() {
    const member = this.#member;
    if (member === null || this.#log.closed) return;
    this.#member = null;
    // The core gives the slot to the next member that joins: this consumer's loop must not
    // write into it any more (a negative index writes nothing).
    this.#slot = -1;
    try {
      this.#log.invoke((wasm) => wasm.leaveGroup(member));
    } finally {
      this.#log.notify();
    }
  }

  /** This consumer's member id in its group (describeGroup's memberId); null when it is not a
   * member (before subscribe, after disconnect, after a failed handler made it leave). */
  get memberId() {
    return this.#member;
  }

  /** Joins the group on the first call; later calls add topics (the group rebalances). */
  async subscribe(subscription) {
    this.#log.assertOpen();
    const { topic, topics, fromBeginning } = readOptions(subscription, "subscribe", ["topic", "topics", "fromBeginning"]);
    if ((topic === undefined) === (topics === undefined)) {
      throw invalidArgument("subscribe needs either topics: [names] or topic: name");
    }
    const names = topics ?? topic;
    if (guarded("subscribe", () => names instanceof RegExp)) {
      throw invalidArgument("topic patterns (RegExp) are not supported; list the topic names");
    }
    this.#settleFromBeginning(checkedBoolean(fromBeginning, "fromBeginning"));
    const added = topics !== undefined ? readArray(names, "topics", 10_000) : [names];
    const all = [...new Set([...this.#topics, ...added])];
    if (this.#deadLetter && all.includes(this.#deadLetter.topic)) {
      throw invalidArgument(`${JSON.stringify(this.#deadLetter.topic)} is this consumer's dead-letter topic; a group that reads its own dead letters would fail on them again (consume it with another group)`);
    }
    if (this.#member === null) this.#joinGroup(all);
    else this.#log.invoke((wasm) => wasm.subscribe(this.#member, all));
    this.#topics = all;
    this.#log.notify();
  }

  /** Where to start without a commit is fixed when the consumer joins (the core's offset reset). */
  #settleFromBeginning(fromBeginning) {
    if (fromBeginning === undefined) return;
    if (this.#member !== null && fromBeginning !== (this.#fromBeginning ?? false)) {
      throw invalidArgument("fromBeginning is fixed by the first subscribe (or the consumer options); use seek to move within a partition");
    }
    this.#fromBeginning = fromBeginning;
  }

  /** Starts the delivery loop; resolves once it runs (its first fetch has succeeded).
   * `maxRecords` overrides the consumer's for this run. */
  async run(config) {
    this.#log.assertOpen();
    const { eachMessage, eachBatch, onError, maxRecords } = readOptions(config, "run", ["eachMessage", "eachBatch", "onError", "maxRecords"]);
    checkedFunction(onError, "onError");
    if (typeof (eachMessage ?? eachBatch) !== "function" || (eachMessage && eachBatch)) {
      throw invalidArgument("run needs one handler: eachMessage or eachBatch, a function");
    }
    if (maxRecords !== undefined) this.#log.invoke((wasm) => wasm.checkFetchLimits(maxRecords, this.#maxBytes));
    if (eachBatch && this.#deadLetter) {
      throw invalidArgument("deadLetter needs eachMessage: a failing eachBatch does not say which record failed");
    }
    this.#joined("run");
    if (this.#log.closing) throw new BrookError("CLOSED", "the log is closing");
    if (this.#loop !== null) throw invalidArgument("this consumer is already running; disconnect() stops it");
    this.#stopping = false;
    const source = this[SOURCE](maxRecords);
    const first = source.fetch();
    this.#log.consumers.add(this.#stop);
    this.#loop = deliver(source, { eachMessage, eachBatch, onError }, this.#commits(), () => this.#stopping, first).finally(() => {
      this.#loop = null;
      this.#log.consumers.delete(this.#stop);
    });
  }

  #commits() {
    return { processed: this.#commitsProcessed, threshold: this.#commitThreshold, interval: this.#commitInterval };
  }

  /** Where `run`'s loop (delivery.js) takes its leases from: this log's core, for the member
   * this consumer is now. The owning tab of a shared log serves other tabs' loops from it. */
  [SOURCE](maxRecords = this.#maxRecords) {
    const log = this.#log;
    const member = () => this.#member;
    const slot = () => this.#slot;
    const joined = () => {
        // A consumer that left meanwhile (a relayed fetch waiting for IndexedDB) fetches nothing.
        if (member() === null) throw new BrookError("UNKNOWN_MEMBER_ID", "this consumer left its group; subscribe again");
        return member();
    };
    const source = {
      fetch: () => decodeLease(log.readBuffer((wasm) => wasm.fetchLease(joined(), maxRecords, this.#maxBytes))),
      idle: (stopping) => (log.hasPendingLoads() ? log.loadPending() : log.waitForRecords(member(), stopping)),
      prefetch: () => {
        // Batches the next fetch needs load from IndexedDB while these are handled.
        log.loadInBackground();
      },
      start: async (lease, index, offset, claimTo) => {
        source.hand(index, offset);
        const start = log.invoke((wasm) => wasm.startChunk(member(), lease.lease, index));
        // A loop in another tab claims the chunk whole (up to `claimTo`) before anything can
        // rebalance: during the flush below, a new owner must already start after it.
        if (start !== SKIP && claimTo !== undefined) source.hand(index, claimTo);
        // The epoch the answer holds for: a rebalance while the flush runs shows as a change.
        const epoch = source.epoch();
        // With auto commit the chunk's end is committed first (a crash then skips the rest
        // of the chunk: at-most-once).
        if (start === WHEN_DURABLE) await log.durable();
        return start === SKIP ? null : epoch;
      },
      /** Writes "handed over up to `offset` of chunk `index`" into the core's table. */
      hand: (index, offset) => {
        if (member() === null) return;
        const { handed } = log.tables();
        handed[2 * slot()] = index;
        handed[2 * slot() + 1] = offset;
      },
      epoch: () => log.tables().epochs[slot()],
      commitHanded: async () => {
        if (log.invoke((wasm) => wasm.commitHanded(member()))) await log.durable();
      },
      release: (lease) => {
        if (log.closed || member() === null || lease.lease === 0) return;
        log.invoke((wasm) => wasm.releaseLease(member(), lease.lease));
        log.notify();
      },
      // For a loop in another tab: it claims chunks whole (`hand` of a chunk's last offset
      // as it starts) and says at release how far it got (Groups::release_at).
      releaseAt: (lease, index, offset) => {
        if (log.closed || member() === null || lease.lease === 0) return;
        log.invoke((wasm) => wasm.releaseLeaseAt(member(), lease.lease, index, offset));
        log.notify();
      },
      /** fetch, after loading from IndexedDB what it waits for; joins again after a failure. */
      fetchLoaded: async () => {
        this.#joined("run");
        let lease = source.fetch();
        for (let round = 0; lease.chunks.length === 0 && log.hasPendingLoads(); round++) {
          if (round >= LOAD_ROUNDS_MAX) throw stalledLoads("a fetch for another tab");
          await log.loadPending();
          lease = source.fetch();
        }
        return lease;
      },
      /** A handler failed on `offset` of chunk `index`: counted, durably. With a dead-letter
       * topic, true: the loop goes on (the record comes again, or, after maxAttempts, goes to
       * the dead-letter topic and the group past it); else false: the loop stops. */
      failed: async (lease, index, offset, errorText) => {
        const { topic, partition, messages } = lease.chunks[index];
        const retry = this.#deadLetter !== null;
        let failures;
        try {
          failures = log.invoke((wasm) => wasm.noteFailure(member(), topic, partition, offset, retry ? NOTE_RETRY : NOTE_FAILED));
        } catch (error) {
          // A rebalance moved the partition during the handler: the record is its new owner's
          // now — delivered again under manual commit (from the group's commit), skipped under
          // auto commit (at-most-once, as after a crash). With a dead-letter topic the loop
          // goes on.
          if (error?.code === "REBALANCE_IN_PROGRESS") return retry;
          throw error;
        }
        try {
          await log.durable();
        } finally {
          log.notify();
        }
        if (!retry) return false;
        if (failures >= this.#deadLetter.maxAttempts) {
          const message = messages.find((m) => m.offset === offset);
          await this.#sendDeadLetter(message, failures, errorText);
          log.invoke((wasm) => wasm.noteFailure(member(), topic, partition, offset, NOTE_DEAD_LETTERED));
          try {
            await log.durable();
          } finally {
            log.notify();
          }
        }
        return true;
      },
      owns: (topic, partition) => log.invoke((wasm) => wasm.owns(member(), topic, partition)),
      stoppedBy: () => {
        this.#leave();
        return true;
      },
      /** The delivery options, for a loop that runs in another tab. */
      commits: this.#commits(),
    };
    return source;
  }

  /** Writes a record a handler failed on `failures` times to the dead-letter topic (made, with
   * one partition, if it does not exist), durably: its key, value, timestamp and headers, and
   * headers that say where it came from and why. */
  async #sendDeadLetter(message, failures, errorText) {
    const { topic } = this.#deadLetter;
    try {
      this.#log.invoke((wasm) => wasm.createTopic({ topic, partitions: 1 }));
      await this.#log.durable();
    } catch (error) {
      if (error?.code !== "TOPIC_ALREADY_EXISTS") throw error;
    }
    this.#deadLetterProducer ??= new Producer(this.#log, this.#log.invoke((wasm) => wasm.producer(undefined)));
    const text = (value) => String(value);
    const headers = { ...message.headers };
    setDeadLetterHeaders(headers, {
      "brook.dlq.group": this.#groupId,
      "brook.dlq.topic": message.topic,
      "brook.dlq.partition": text(message.partition),
      "brook.dlq.offset": text(message.offset),
      "brook.dlq.attempts": text(failures),
      "brook.dlq.error": errorText,
    });
    await this.#deadLetterProducer.send({
      topic,
      messages: [{ key: message.key, value: message.value, timestamp: message.timestamp, headers }],
    });
  }

  /** Pull style: up to `maxRecords` messages available now (possibly none); with auto commit
   * they are committed, durably, before this resolves. */
  async poll(options) {
    this.#joined("poll");
    const { maxRecords = this.#maxRecords, maxBytes = this.#maxBytes } = readOptions(options, "poll", ["maxRecords", "maxBytes"]);
    if (this.#loop !== null) {
      throw invalidArgument("this consumer is running (run); poll and run do not mix");
    }
    const read = () => decodePoll(this.#log.readBuffer((wasm) => wasm.poll(this.#member, maxRecords, maxBytes)));
    let chunks = read();
    // Records that IndexedDB must load first: load them and poll again.
    for (let round = 0; chunks.length === 0 && this.#log.hasPendingLoads(); round++) {
      if (round >= LOAD_ROUNDS_MAX) throw stalledLoads("poll");
      await this.#log.loadPending();
      chunks = read();
    }
    // What the next poll needs (the core reads ahead) loads from IndexedDB meanwhile.
    if (chunks.length > 0) this.#log.loadInBackground();
    if (chunks.length > 0 && this.#autoCommit) await this.#log.durable();
    return pollMessages(chunks);
  }

  /** Commits a delivered message: the group resumes after it. */
  async commit(message) {
    this.#log.assertOpen();
    const fields = typeof message === "object" && message !== null ? readFields(message, "message", ["topic", "partition", "offset"]) : null;
    if (fields === null || typeof fields.offset !== "number") {
      throw invalidArgument(`commit takes a message this consumer delivered, got ${describe(message)}; commitOffsets([{ topic, partition, offset }]) commits explicit offsets`);
    }
    const { topic, partition, offset } = fields;
    await this.commitOffsets([{ topic, partition, offset: offset + 1 }]);
  }

  /** Commits `[{ topic, partition, offset }]`, offset being the next one to read (Kafka's rule). */
  async commitOffsets(offsets) {
    const list = readArray(offsets, "offsets", 100_000).map((item, index) => readPlain(item, `offsets[${index}]`));
    const member = this.#joined("commitOffsets");
    this.#log.invoke((wasm) => wasm.commit(member, list));
    try {
      await this.#log.durable();
    } finally {
      this.#log.notify();
    }
    await breathe();
  }

  /** The next delivery of that partition starts at `offset`. */
  seek(target) {
    const { topic, partition, offset } = readOptions(target, "seek", ["topic", "partition", "offset"]);
    const member = this.#joined("seek");
    this.#log.invoke((wasm) => wasm.seek(member, topic, partition, offset));
    this.#log.notify();
  }

  /** Stops delivery from `[{ topic, partitions? }]` (no partitions = the whole topic). */
  pause(topics) {
    this.#setPaused(topics, true);
  }

  resume(topics) {
    this.#setPaused(topics, false);
  }

  #setPaused(topics, paused) {
    const what = paused ? "pause" : "resume";
    const list = readArray(topics, `${what} topics`, 10_000).map((item, index) => {
      const entry = readPlain(item, `${what} topics[${index}]`);
      if (entry.partitions !== undefined) {
        entry.partitions = readArray(entry.partitions, `${what} topics[${index}].partitions`, 10_000);
      }
      return entry;
    });
    const member = this.#joined(what);
    this.#log.invoke((wasm) => wasm.setPaused(member, list, paused));
    this.#log.notify();
  }

  /** The next offset this consumer will read from an owned partition (null before its first
   * read there: it then starts at the group's commit, or per fromBeginning). */
  position(target) {
    this.#log.assertOpen();
    const { topic, partition } = readOptions(target, "position", ["topic", "partition"]);
    if (this.#member === null) return null;
    return this.#log.invoke((wasm) => wasm.position(this.#member, topic, partition)) ?? null;
  }

  /** `[{ topic, partition }]` owned now. */
  assignment() {
    this.#log.assertOpen();
    if (this.#member === null) return [];
    return this.#log.invoke((wasm) => wasm.assignment(this.#member));
  }

  paused() {
    this.#log.assertOpen();
    if (this.#member === null) return [];
    return this.#log.invoke((wasm) => wasm.paused(this.#member));
  }

  /** Per partition of each subscribed topic: `{ topic, partition, low, high, committed, lag }`. */
  lag() {
    this.#log.assertOpen();
    return this.#topics.flatMap((topic) => this.#log.invoke((wasm) => wasm.lag(this.#groupId, topic)).map((entry) => ({ topic, ...entry })));
  }

  async #stopLoop() {
    this.#stopping = true;
    this.#log.wake(this.#member);
    await this.#loop;
  }

  /** Stops the loop (after the handler in flight) and leaves the group: its partitions move to
   * the other members. Idempotent; a no-op once the log is closed. A later subscribe joins
   * again. */
  async disconnect() {
    if (this.#log.closed) return;
    await this.#stopLoop();
    this.#topics = [];
    this.#leave();
  }
}

function setDeadLetterHeaders(headers, added) {
  for (const [name, value] of Object.entries(added)) {
    Object.defineProperty(headers, name, { value, enumerable: true, writable: true, configurable: true });
  }
}

function checkedDeadLetter(log, deadLetter) {
  if (deadLetter === undefined) return null;
  const { topic, maxAttempts = DEAD_LETTER_ATTEMPTS_DEFAULT } = readOptions(deadLetter, "deadLetter", ["topic", "maxAttempts"]);
  if (typeof topic !== "string") {
    throw invalidArgument(`deadLetter needs topic: the name of the topic that takes records handlers keep failing on, got ${describe(topic)}`);
  }
  log.invoke((wasm) => wasm.checkTopicName(checkedText(topic, "deadLetter.topic")));
  if (topic === "__consumer_offsets") {
    throw invalidArgument(`deadLetter.topic ${JSON.stringify(topic)} is internal; name a topic of your own`);
  }
  if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > DEAD_LETTER_ATTEMPTS_MAX) {
    throw invalidArgument(`deadLetter.maxAttempts must be a whole number from 1 to ${DEAD_LETTER_ATTEMPTS_MAX}, got ${describe(maxAttempts)}`);
  }
  return { topic, maxAttempts };
}
