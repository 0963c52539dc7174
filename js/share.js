// Tab sharing for IndexedDB logs opened with { name, share: true }. One tab owns the log (it
// holds the Web Lock); the others reach it over a BroadcastChannel: they produce, consume (as
// members of the owner's groups, so consumers in different tabs split partitions), and hear
// of every change. This module only relays calls; the log logic stays in the owner's core.
//
// Protocol on channel "brook:<name>": a client posts { to: "owner", id, client, op, args };
// the owner answers { to: client, id, result } or { to: client, id, error: { code, message } },
// and announces { type: "changed" } after every change and { type: "closed" } when it closes.
// Each client holds the Web Lock "brook:<name>:client:<id>" while it lives; the owner waits
// on that lock to learn that a client tab went away and removes its consumers from groups.

import { BrookError, WATCH } from "./brook.js";
import { brief } from "./errors.js";

const CALL_TIMEOUT_MS = 15_000;

function channelName(name) {
  return `brook:${name}`;
}

function errorData(error) {
  return { code: error?.code ?? "IO_ERROR", message: String(error?.message ?? error) };
}

/** Serves the owner's log to the other tabs until it closes. */
export function serveLog(name, log, releaseServing = () => {}) {
  const channel = new BroadcastChannel(channelName(name));
  const producers = new Map();
  const consumers = new Map(); // "<client>/<consumer>" -> Consumer
  const watchedClients = new Set();

  const consumer = (client, id) => {
    const found = consumers.get(`${client}/${id}`);
    if (!found) throw new BrookError("UNKNOWN_MEMBER_ID", "this consumer is not known to the owning tab; subscribe again");
    return found;
  };

  function forgetClient(client) {
    for (const [key, member] of consumers) {
      if (key.startsWith(`${client}/`)) {
        consumers.delete(key);
        member.disconnect().catch(() => {});
      }
    }
  }

  /** The owner learns that a client tab is gone when the client's lock becomes free. */
  function watchClient(client) {
    if (watchedClients.has(client) || !globalThis.navigator?.locks) return;
    watchedClients.add(client);
    navigator.locks.request(`${channelName(name)}:client:${client}`, () => forgetClient(client)).catch(() => {});
  }

  const operations = {
    snapshot: () => {
      const topics = log.topics();
      return { topics, offsets: Object.fromEntries(topics.map((t) => [t.topic, log.offsets(t.topic)])) };
    },
    createTopic: (request) => log.createTopic(request),
    createPartitions: (request) => log.createPartitions(request),
    maintain: () => log.maintain(),
    lag: (request) => log.lag(request),
    describeGroup: (groupId) => log.describeGroup(groupId),
    groups: () => log.groups(),
    send: ({ partitioner, request }) => {
      const key = partitioner ?? "default";
      if (!producers.has(key)) producers.set(key, log.producer(partitioner ? { partitioner } : undefined));
      return producers.get(key).send(request);
    },
    consumer: (client, { id, options }) => {
      consumers.get(`${client}/${id}`)?.disconnect().catch(() => {});
      consumers.set(`${client}/${id}`, log.consumer(options));
    },
    subscribe: (client, { id, subscription }) => consumer(client, id).subscribe(subscription),
    poll: async (client, { id, options }) => {
      const member = consumer(client, id);
      const messages = await member.poll(options);
      return { messages, assignment: member.assignment() };
    },
    commit: (client, { id, message }) => consumer(client, id).commit(message),
    commitOffsets: (client, { id, offsets }) => consumer(client, id).commitOffsets(offsets),
    seek: (client, { id, target }) => consumer(client, id).seek(target),
    pause: (client, { id, topics }) => consumer(client, id).pause(topics),
    resume: (client, { id, topics }) => consumer(client, id).resume(topics),
    assignment: (client, { id }) => consumer(client, id).assignment(),
    disconnect: async (client, { id }) => {
      const member = consumers.get(`${client}/${id}`);
      consumers.delete(`${client}/${id}`);
      await member?.disconnect();
    },
  };
  const perClient = new Set(["consumer", "subscribe", "poll", "commit", "commitOffsets", "seek", "pause", "resume", "assignment", "disconnect"]);

  channel.onmessage = async ({ data }) => {
    if (data?.to !== "owner" || !Object.hasOwn(operations, data.op)) return;
    const { id, client, op, args = [] } = data;
    watchClient(client);
    try {
      const result = await (perClient.has(op) ? operations[op](client, ...args) : operations[op](...args));
      channel.postMessage({ to: client, id, result });
    } catch (error) {
      channel.postMessage({ to: client, id, error: errorData(error) });
    }
  };
  // One announcement per turn, however many changes it made (a burst of sends is one refresh).
  let announced = false;
  const unwatch = log[WATCH](() => {
    if (announced) return;
    announced = true;
    queueMicrotask(() => {
      announced = false;
      if (!closing) channel.postMessage({ type: "changed" });
    });
  });
  // Clients that were talking to a previous owner re-register their consumers here.
  channel.postMessage({ type: "owner" });
  const close = log.close.bind(log);
  let closing = null;
  log.close = () => {
    closing ??= (async () => {
      unwatch();
      channel.onmessage = null;
      await Promise.allSettled([...consumers.values()].map((member) => member.disconnect()));
      try {
        return await close();
      } finally {
        releaseServing();
        channel.postMessage({ type: "closed" });
        channel.close();
      }
    })();
    return closing;
  };
}

/** A log owned by another tab, used through it. The same API as Log, where it can be. */
export class RemoteLog {
  #name;
  #openOwner;
  /** The log itself once this tab took ownership over (after the owner closed). */
  #local = null;
  /** Settles when a take-over in progress is done; calls wait for it. */
  #ready = Promise.resolve();
  #consumers = new Set();
  #channel;
  #client = crypto.randomUUID();
  #calls = new Map();
  #nextCall = 0;
  #snapshot = { topics: [], offsets: {} };
  #change = null;
  #closed = null;
  #releaseClientLock = () => {};
  /** Set while this tab takes the log over, until it serves it. */
  #takingOver = false;
  #nextConsumer = 0;

  /** `openOwner(heldLock)` opens the log as its owner under a lock this tab already holds,
   * and serves it: used to take over. */
  static async connect(name, openOwner) {
    const remote = new RemoteLog(name, openOwner);
    await remote.#holdClientLock(name);
    // An owner that is still opening its log announces itself when it starts serving, which
    // cuts the first snapshot call short (a hand-over): ask again then.
    for (let attempt = 0; ; attempt++) {
      try {
        await remote.#refresh();
        break;
      } catch (error) {
        if (!error?.handover || attempt >= 3) {
          await remote.close();
          throw error;
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    remote.#queueForOwnership();
    return remote;
  }

  #queueRelease = new AbortController();

  /** Waits in line for the owner's Web Lock: it is granted when the owner closes the log or
   * its tab goes away (crash, navigation), and the first tab in line takes over. */
  #queueForOwnership() {
    if (!globalThis.navigator?.locks) return;
    navigator.locks
      .request(channelName(this.#name), { signal: this.#queueRelease.signal }, () =>
        new Promise((release) => this.#ownerLockGranted(release)),
      )
      .catch(() => {});
  }

  #ownerLockGranted(release) {
    if (this.#closed === "closed by this tab") return release();
    // From here until this tab serves the log, a call sent over the channel would reach no
    // owner and wait out its timeout: calls fail at once as hand-overs, and are made again.
    this.#takingOver = true;
    this.#dropPendingCalls("the tab that owned this log went away; this tab is taking over");
    this.#ready = this.#becomeOwner(release)
      .catch((error) => {
        release();
        this.#closed = `taking over the log failed: ${error?.message ?? error}`;
      })
      .finally(() => (this.#takingOver = false));
    this.#wake();
  }

  async #becomeOwner(release) {
    this.#local = await this.#openOwner(release);
    this.#closed = null;
    for (const consumer of this.#consumers) await consumer.reattach();
    this.#wake();
  }

  /** Another tab became the owner: this tab's consumers register with it. */
  async #followNewOwner() {
    await this.#refresh();
    for (const consumer of this.#consumers) await consumer.reattach();
    this.#wake();
  }

  /** Calls in flight went to an owner that is gone: they fail with CLOSED, which the delivery
   * loops take as "reattach", not as an error. */
  #dropPendingCalls(reason) {
    for (const { reject } of this.#calls.values()) {
      reject(Object.assign(new BrookError("CLOSED", reason), { handover: true }));
    }
    this.#calls.clear();
  }

  /** Runs `local(log)` once this tab owns the log, else `remote()` through the owner; a call
   * cut off by a hand-over is made again where the log now is (at-least-once, like a
   * producer's retry). */
  async perform(local, remote) {
    for (let attempt = 0; ; attempt++) {
      await this.#ready;
      if (this.#local) return local(this.#local);
      try {
        return await remote();
      } catch (error) {
        if (!error?.handover || attempt >= 3) throw error;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  }

  constructor(name, openOwner) {
    this.#name = name;
    this.#openOwner = openOwner;
    this.#channel = new BroadcastChannel(channelName(name));
    this.#channel.onmessage = ({ data }) => this.#receive(data);
  }

  /** What consumers delegate to: the local log after a take-over, else null. */
  get local() {
    return this.#local;
  }

  ready() {
    return this.#ready;
  }

  register(consumer) {
    this.#consumers.add(consumer);
  }

  unregister(consumer) {
    this.#consumers.delete(consumer);
  }

  #holdClientLock(name) {
    if (!globalThis.navigator?.locks) return Promise.resolve();
    return new Promise((held) => {
      navigator.locks
        .request(`${channelName(name)}:client:${this.#client}`, () => {
          held();
          return new Promise((release) => (this.#releaseClientLock = release));
        })
        .catch(() => held());
    });
  }

  #receive(data) {
    if (data?.type === "changed") {
      this.#refresh().catch(() => {});
      return;
    }
    if (data?.type === "closed") {
      // The lock follows at once: the first tab in line takes over, the others follow it.
      this.#dropPendingCalls("the tab that owned this log closed it");
      this.#wake();
      return;
    }
    if (data?.type === "owner") {
      if (this.#local || this.#closed === "closed by this tab") return;
      this.#dropPendingCalls("the log moved to another tab");
      this.#ready = this.#followNewOwner().catch(() => {});
      return;
    }
    if (data?.to !== this.#client) return;
    const call = this.#calls.get(data.id);
    if (!call) return;
    this.#calls.delete(data.id);
    if (data.error) call.reject(new BrookError(data.error.code, data.error.message));
    else call.resolve(data.result);
  }

  /** One call to the owner; rejects with CLOSED once the owner is gone for good. */
  call(op, ...args) {
    if (this.#closed) return Promise.reject(new BrookError("CLOSED", this.#closed));
    if (this.#takingOver) {
      return Promise.reject(Object.assign(new BrookError("CLOSED", "this tab is taking the log over"), { handover: true }));
    }
    const id = this.#nextCall++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#calls.delete(id);
        reject(new BrookError("IO_ERROR", `the tab that owns the log did not answer ${op} in time`));
      }, CALL_TIMEOUT_MS);
      const settle = (f) => (value) => {
        clearTimeout(timer);
        f(value);
      };
      this.#calls.set(id, { resolve: settle(resolve), reject: settle(reject) });
      try {
        // Structured cloning reads every argument once; what it cannot copy (a Proxy, a
        // function, a getter that throws) is the caller's mistake, not a lost owner.
        this.#channel.postMessage({ to: "owner", id, client: this.#client, op, args });
      } catch (error) {
        this.#calls.delete(id);
        clearTimeout(timer);
        reject(
          new BrookError("INVALID_ARGUMENT", `${op}: its arguments cannot be sent to the tab that owns the log (${brief(error)})`, {
            cause: error,
          }),
        );
      }
    });
  }

  async #refresh() {
    if (this.#local) return this.#wake();
    this.#snapshot = await this.call("snapshot");
    this.#wake();
  }

  #wake() {
    const change = this.#change;
    this.#change = null;
    change?.resolve();
  }

  /** Resolves at the next change announced by the owner (or when it closes). */
  changed() {
    if (!this.#change) {
      let resolve;
      const promise = new Promise((r) => (resolve = r));
      this.#change = { promise, resolve };
    }
    return this.#change.promise;
  }

  get closed() {
    return this.#closed !== null;
  }

  #either(local, remote) {
    return this.perform(local, remote);
  }

  /** The topics as of the owner's last announced change. */
  topics() {
    if (this.#local) return this.#local.topics();
    return this.#snapshot.topics;
  }

  offsets(topic) {
    if (this.#local) return this.#local.offsets(topic);
    const offsets = this.#snapshot.offsets[topic];
    if (!offsets) throw new BrookError("UNKNOWN_TOPIC", `topic ${JSON.stringify(topic)} does not exist; create it with createTopic first`);
    return offsets;
  }

  async createTopic(request) {
    await this.#either((log) => log.createTopic(request), () => this.call("createTopic", request));
    await this.#refresh();
  }

  async createPartitions(request) {
    await this.#either((log) => log.createPartitions(request), () => this.call("createPartitions", request));
    await this.#refresh();
  }

  maintain() {
    return this.#either((log) => log.maintain(), () => this.call("maintain"));
  }

  lag(request) {
    return this.#either((log) => log.lag(request), () => this.call("lag", request));
  }

  describeGroup(groupId) {
    return this.#either((log) => log.describeGroup(groupId), () => this.call("describeGroup", groupId));
  }

  groups() {
    return this.#either((log) => log.groups(), () => this.call("groups"));
  }

  producer({ partitioner } = {}) {
    let local = null;
    return {
      send: (request) =>
        this.perform(
          (log) => {
            local ??= log.producer(partitioner ? { partitioner } : undefined);
            return local.send(request);
          },
          async () => {
            const placed = await this.call("send", { partitioner, request });
            await this.#refresh(); // so that offsets() reflects this send when it resolves
            return placed;
          },
        ),
    };
  }

  consumer(options) {
    return new RemoteConsumer(this, this.#nextConsumer++, options);
  }

  async close() {
    if (this.#closed === "closed by this tab") return;
    await this.#ready;
    this.#closed = "closed by this tab";
    await Promise.allSettled([...this.#consumers].map((consumer) => consumer.disconnect()));
    this.#wake();
    this.#queueRelease.abort(); // leave the line for ownership
    this.#releaseClientLock(); // the owner removes this tab's consumers from their groups
    this.#channel.close();
    await this.#local?.close();
  }
}

/** A consumer whose group membership lives in the owning tab, or, after this tab took the
 * log over, a consumer of the local log with the same subscription and handlers. */
class RemoteConsumer {
  #log;
  #id;
  #options;
  #subscriptions = [];
  #runConfig = null;
  #local = null;
  #registered = false;
  #assignment = [];
  #loop = null;
  #stopping = false;

  constructor(log, id, options) {
    this.#log = log;
    this.#id = id;
    this.#options = options;
  }

  #call(op, args = {}) {
    return this.#log.call(op, { id: this.#id, ...args });
  }

  async #register() {
    if (!this.#registered) await this.#call("consumer", { options: this.#options });
    this.#registered = true;
  }

  async subscribe(subscription) {
    await this.#log.ready();
    this.#log.register(this);
    this.#subscriptions.push(subscription);
    if (this.#local) return this.#local.subscribe(subscription);
    await this.#register();
    await this.#call("subscribe", { subscription });
  }

  /** After a take-over: join again, with the same subscription, where the log now is. */
  async reattach() {
    this.#stopping = true;
    await this.#loop;
    this.#registered = false;
    const local = this.#log.local;
    if (local) {
      this.#local = local.consumer(this.#options);
      for (const subscription of this.#subscriptions) await this.#local.subscribe(subscription);
      if (this.#runConfig) await this.#local.run(this.#runConfig);
      return;
    }
    await this.#register();
    for (const subscription of this.#subscriptions) await this.#call("subscribe", { subscription });
    if (this.#runConfig) this.#startLoop(this.#runConfig);
  }

  poll(options) {
    return this.#either(
      (consumer) => consumer.poll(options),
      async () => {
        const { messages, assignment } = await this.#call("poll", { options });
        this.#assignment = assignment;
        return messages;
      },
    );
  }

  /** Delivers in order, per partition, waiting for the owner's change announcements when idle.
   * Each poll is auto-committed by the owner as it returns (autoCommit), as with poll(). */
  async run(config = {}) {
    if (this.#loop || this.#runConfig) {
      throw new BrookError("INVALID_ARGUMENT", "this consumer is already running; disconnect() stops it");
    }
    this.#runConfig = config;
    await this.#log.ready();
    if (this.#local) return this.#local.run(config);
    this.#startLoop(config);
  }

  #startLoop({ eachMessage, eachBatch, onError, maxRecords = 100 }) {
    this.#stopping = false;
    this.#loop = (async () => {
      try {
        while (!this.#stopping && !this.#log.closed) {
          const { messages, assignment } = await this.#call("poll", { options: { maxRecords } });
          this.#assignment = assignment;
          if (messages.length === 0) {
            await this.#log.changed();
            continue;
          }
          for (const batch of byPartition(messages)) {
            if (this.#stopping) break;
            if (eachBatch) await eachBatch({ batch, isRunning: () => !this.#stopping, isStale: () => false });
            else for (const message of batch.messages) await eachMessage({ topic: batch.topic, partition: batch.partition, message });
          }
        }
      } catch (error) {
        // A take-over in progress restarts the loop (reattach); other failures are reported.
        if (!this.#stopping && error?.code !== "CLOSED") (onError ?? console.error)(error);
      } finally {
        this.#loop = null;
      }
    })();
  }

  #either(local, remote) {
    // Before it subscribed, a consumer has no local twin: the owner (maybe this tab) serves it.
    return this.#log.perform(() => (this.#local ? local(this.#local) : remote()), remote);
  }

  commit(message) {
    return this.#either(
      (c) => c.commit(message),
      () => this.#call("commit", { message: { topic: message.topic, partition: message.partition, offset: message.offset } }),
    );
  }

  commitOffsets(offsets) {
    return this.#either((c) => c.commitOffsets(offsets), () => this.#call("commitOffsets", { offsets }));
  }

  seek(target) {
    return this.#either((c) => c.seek(target), () => this.#call("seek", { target }));
  }

  pause(topics) {
    return this.#either((c) => c.pause(topics), () => this.#call("pause", { topics }));
  }

  resume(topics) {
    return this.#either((c) => c.resume(topics), () => this.#call("resume", { topics }));
  }

  /** The partitions owned as of the last poll (or now, after a take-over). */
  assignment() {
    return this.#local ? this.#local.assignment() : this.#assignment;
  }

  async disconnect() {
    this.#stopping = true;
    this.#runConfig = null;
    this.#log.unregister(this);
    await this.#loop;
    if (this.#local) await this.#local.disconnect();
    else if (this.#registered && !this.#log.closed) await this.#call("disconnect");
    this.#registered = false;
    this.#assignment = [];
  }
}

function byPartition(messages) {
  const batches = new Map();
  for (const message of messages) {
    const key = `${message.topic}\u0000${message.partition}`;
    if (!batches.has(key)) {
      batches.set(key, { topic: message.topic, partition: message.partition, messages: [] });
    }
    batches.get(key).messages.push(message);
  }
  return [...batches.values()];
}
