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

import { BrookError, BUSY, WATCH } from "./brook.js";
import { View } from "./view.js";
import { brief } from "./errors.js";
import { checkedFunction, readOptions } from "./args.js";
import { SOURCE } from "./consumer.js";
import { deliver, reportError } from "./delivery.js";

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
  /** The lease each client consumer's run loop holds: "<client>/<consumer>" -> { source, lease }. */
  const leases = new Map();
  const watchedClients = new Set();

  const consumer = (client, id) => {
    const found = consumers.get(`${client}/${id}`);
    if (!found) throw new BrookError("UNKNOWN_MEMBER_ID", "this consumer is not known to the owning tab; subscribe again");
    return found;
  };

  /** The lease a client's loop names, or null when it is not the one held any more (a later
   * fetch, a reattach): the loop then skips the chunk. */
  const leased = (client, id, lease) => {
    const held = leases.get(`${client}/${id}`);
    return held && held.lease.lease === lease ? held : null;
  };

  function forgetClient(client) {
    for (const [key, member] of consumers) {
      if (key.startsWith(`${client}/`)) {
        consumers.delete(key);
        leases.delete(key);
        // A tab that went away mid-chunk is like a crash: what it claimed counts as handed.
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
    groups: (options) => log.groups(options),
    setOffsets: (request) => log.setOffsets(request),
    deleteTopic: (topic) => log.deleteTopic(topic),
    deleteGroup: (groupId) => log.deleteGroup(groupId),
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
    // The run loop of a client tab (delivery.js) over this tab's core: see remoteSource.
    fetchLease: async (client, { id, maxRecords }) => {
      const member = consumer(client, id);
      const source = member[SOURCE](maxRecords);
      const lease = await source.fetchLoaded();
      leases.set(`${client}/${id}`, { source, lease });
      return { lease: lease.lease, chunks: lease.chunks, assignment: member.assignment() };
    },
    startChunk: async (client, { id, lease, index, offset }) => {
      const held = leased(client, id, lease);
      const chunk = held?.lease.chunks[index];
      if (!chunk) return false;
      // The client hears of a rebalance only at its next chunk: the chunk is claimed whole as
      // it starts, so that the partition's next owner starts after it (nothing twice under
      // auto commit). Committing what was processed claims nothing: at-least-once anyway.
      const claimTo = held.source.commits.processed ? undefined : chunk.messages[chunk.messages.length - 1].offset;
      return (await held.source.start(held.lease, index, offset, claimTo)) !== null;
    },
    commitHanded: async (client, { id, lease, index, offset }) => {
      const held = leased(client, id, lease);
      if (!held) return;
      held.source.hand(index, offset);
      await held.source.commitHanded();
    },
    failed: (client, { id, lease, index, offset, errorText }) => {
      const held = leased(client, id, lease);
      return held ? held.source.failed(held.lease, index, offset, errorText) : false;
    },
    release: (client, { id, lease, index, offset }) => {
      const held = leased(client, id, lease);
      if (!held) return;
      leases.delete(`${client}/${id}`);
      held.source.releaseAt(held.lease, index, offset);
    },
    leave: (client, { id }) => {
      leases.delete(`${client}/${id}`);
      consumer(client, id)[SOURCE]().stoppedBy();
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
      leases.delete(`${client}/${id}`);
      await member?.disconnect();
    },
  };
  const perClient = new Set(["consumer", "subscribe", "poll", "fetchLease", "startChunk", "commitHanded", "failed", "release", "leave", "commit", "commitOffsets", "seek", "pause", "resume", "assignment", "disconnect"]);

  async function handle({ id, client, op, args = [] }) {
    watchClient(client);
    try {
      const result = await (perClient.has(op) ? operations[op](client, ...args) : operations[op](...args));
      channel.postMessage({ to: client, id, result });
    } catch (error) {
      channel.postMessage({ to: client, id, error: errorData(error) });
    }
  }
  // Firefox can dispatch a message inside a running call of this tab's core (OpenLog.busy),
  // where the request's own calls would be refused: requests wait, in arrival order, for a
  // task that runs outside any call.
  const requests = [];
  function handleRequests() {
    while (requests.length > 0) {
      if (closing) return void (requests.length = 0);
      if (log[BUSY]()) return void setTimeout(handleRequests, 0);
      handle(requests.shift());
    }
  }
  channel.onmessage = ({ data }) => {
    if (data?.to !== "owner" || !Object.hasOwn(operations, data.op)) return;
    requests.push(data);
    if (requests.length === 1) handleRequests();
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
        this.#closed = `taking over the log failed: ${error?.message ?? error}`;
        // Their loops ended quietly, as at every hand-over: say why they will not go on.
        for (const consumer of this.#consumers) consumer.failed(new BrookError("CLOSED", this.#closed));
      })
      .finally(() => (this.#takingOver = false));
    this.#ready.then(() => this.#reattachAll());
    this.#wake();
  }

  async #becomeOwner(release) {
    try {
      this.#local = await this.#openOwner(release);
    } catch (error) {
      release(); // the log did not open: nobody writes it, the next tab in line may
      throw error;
    }
    // From here the Web Lock is the open log's: it is released when that log closes.
    this.#closed = null;
  }

  /** Consumers join again where the log now is; one that cannot is reported, as its loop's
   * failure would be, and the others go on. This runs once calls work again (`#ready`):
   * a handler in flight may be making one (a commit), and its loop must end first. */
  async #reattachAll() {
    if (this.#closed) return;
    for (const consumer of this.#consumers) {
      try {
        await consumer.reattach();
      } catch (error) {
        consumer.failed(error);
      }
    }
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
      // Another tab became the owner: this tab's consumers register with it.
      this.#ready = this.#refresh().catch(() => {});
      this.#ready.then(() => this.#reattachAll());
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

  /** Wakes loops waiting for a change (a consumer that stops). */
  interrupt() {
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

  groups(options) {
    return this.#either((log) => log.groups(options), () => this.call("groups", options));
  }

  async deleteTopic(topic) {
    await this.#either((log) => log.deleteTopic(topic), () => this.call("deleteTopic", topic));
    await this.#refresh();
  }

  setOffsets(request) {
    return this.#either((log) => log.setOffsets(request), () => this.call("setOffsets", request));
  }

  deleteGroup(groupId) {
    return this.#either((log) => log.deleteGroup(groupId), () => this.call("deleteGroup", groupId));
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

  /** A view (view.js) whose consumer is a member of the owning tab's groups. */
  view(options) {
    return new View(this, options);
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
  /** Bumped by this consumer's own seeks and pauses: its loop asks the owner before it goes on. */
  #epoch = 0;
  /** Stops the running loop at once and quietly: its leases died with the owner that gave them. */
  #retire = () => {};

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

  /** After a take-over: join again, with the same subscription, where the log now is. One
   * at a time: two announcements close together must not start two loops. */
  reattach() {
    this.#reattaching = this.#reattaching.catch(() => {}).then(() => this.#reattachNow());
    return this.#reattaching;
  }

  #reattaching = Promise.resolve();

  async #reattachNow() {
    this.#retire();
    this.#log.interrupt();
    await this.#loop;
    this.#registered = false;
    const local = this.#log.local;
    if (local) {
      this.#local = local.consumer(this.#options);
      for (const subscription of this.#subscriptions) await this.#local.subscribe(subscription);
      if (this.#runConfig) await this.#runLocally(this.#runConfig);
      return;
    }
    await this.#register();
    for (const subscription of this.#subscriptions) await this.#call("subscribe", { subscription });
    if (this.#runConfig) await this.#startLoop(this.#runConfig);
  }

  /** The local twin's loop after a take-over; when it fails, run() may start it again. */
  #runLocally(config) {
    return this.#local.run({ ...config, onError: (error) => this.failed(error, config.onError) });
  }

  /** A running loop failed, or could not be re-attached: reported to the run's onError. */
  failed(error, onError = this.#runConfig?.onError) {
    if (!this.#runConfig) return;
    this.#runConfig = null;
    reportError(error, onError);
  }

  poll(options) {
    if (this.#runConfig) {
      return Promise.reject(new BrookError("INVALID_ARGUMENT", "this consumer is running (run); poll and run do not mix"));
    }
    return this.#either(
      (consumer) => consumer.poll(options),
      async () => {
        const { messages, assignment } = await this.#call("poll", { options });
        this.#assignment = assignment;
        return messages;
      },
    );
  }

  /** The same delivery loop as a consumer of this tab's log (delivery.js), over leases that the
   * owning tab's core hands out (see remoteSource). */
  async run(config) {
    const { eachMessage, eachBatch, onError, maxRecords } = readOptions(config, "run", ["eachMessage", "eachBatch", "onError", "maxRecords"]);
    checkedFunction(onError, "onError");
    if (typeof (eachMessage ?? eachBatch) !== "function" || (eachMessage && eachBatch)) {
      throw new BrookError("INVALID_ARGUMENT", "run needs one handler: eachMessage or eachBatch, a function");
    }
    if (this.#loop || this.#runConfig) {
      throw new BrookError("INVALID_ARGUMENT", "this consumer is already running; disconnect() stops it");
    }
    if (eachBatch && this.#options?.deadLetter !== undefined) {
      throw new BrookError("INVALID_ARGUMENT", "deadLetter needs eachMessage: a failing eachBatch does not say which record failed");
    }
    const runConfig = { eachMessage, eachBatch, onError, maxRecords };
    if (maxRecords === undefined) delete runConfig.maxRecords;
    this.#runConfig = runConfig;
    await this.#log.ready();
    try {
      if (this.#local) return await this.#runLocally(runConfig);
      await this.#startLoop(runConfig);
    } catch (error) {
      this.#runConfig = null;
      throw error;
    }
  }

  async #startLoop(config) {
    this.#stopping = false;
    const autoCommit = this.#options?.autoCommit ?? true;
    const processed = autoCommit && (this.#options?.autoCommitInterval !== undefined || this.#options?.autoCommitThreshold !== undefined);
    let retired = false;
    /** The owner did not know this consumer: the log moved, and this tab may not have heard. */
    let unknown = false;
    this.#retire = () => (retired = true);
    const source = remoteSource(this.#log, (op, args) => this.#call(op, args), {
      maxRecords: config.maxRecords,
      claims: !processed,
      epoch: () => this.#epoch,
      assigned: (assignment) => (this.#assignment = assignment),
      retired: () => retired,
      unknown: () => (unknown = true),
    });
    const first = await source.fetch();
    // A loop that failed stops for good (a later run starts it again); one cut off by a
    // hand-over is started again by reattach.
    const handlers = { ...config, onError: (error) => this.failed(error, config.onError) };
    const commits = { processed, threshold: this.#options?.autoCommitThreshold, interval: this.#options?.autoCommitInterval };
    // A claimed chunk is finished before the loop stops (see remoteSource); after a hand-over
    // it is not: the owner that gave it is gone (at-most-once, as a crash of that tab).
    const stopping = () => retired || ((this.#stopping || this.#log.closed) && !source.midClaim());
    this.#loop = deliver(source, handlers, commits, stopping, first).finally(() => {
      this.#loop = null;
      // Join the owner that answered (a later "owner" announcement joins again, harmlessly).
      if (unknown && !retired && !this.#stopping && this.#runConfig) this.reattach().catch((error) => this.failed(error));
    });
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

  async #moved(operation) {
    await operation;
    this.#epoch++;
  }

  seek(target) {
    return this.#moved(this.#either((c) => c.seek(target), () => this.#call("seek", { target })));
  }

  pause(topics) {
    return this.#moved(this.#either((c) => c.pause(topics), () => this.#call("pause", { topics })));
  }

  resume(topics) {
    return this.#moved(this.#either((c) => c.resume(topics), () => this.#call("resume", { topics })));
  }

  /** The partitions owned as of the last fetch (or now, after a take-over). */
  assignment() {
    return this.#local ? this.#local.assignment() : this.#assignment;
  }

  async disconnect() {
    this.#stopping = true;
    this.#runConfig = null;
    this.#log.unregister(this);
    this.#log.interrupt();
    await this.#loop;
    if (this.#local) await this.#local.disconnect();
    else if (this.#registered && !this.#log.closed) await this.#call("disconnect");
    this.#registered = false;
    this.#assignment = [];
  }
}

const isHandover = (error) => error?.handover === true || error?.code === "CLOSED";

/** The delivery source (delivery.js) of a loop whose leases the owning tab hands out. Its
 * hand-over table is in the owner's wasm memory, out of reach per record: with `claims`, the
 * owner counts each chunk as handed over whole as it starts (so that a rebalance this tab has
 * not heard of yet starts the partition's next owner after it: nothing twice under auto
 * commit), the loop finishes a claimed chunk before it stops, and a release says how far it
 * really got (a handler failure gives back the rest, unless a rebalance moved the partition
 * meanwhile). The epoch is this consumer's own: the owner's core says at each chunk (and
 * after this consumer's seeks and pauses) whether it may go on. */
function remoteSource(log, call, { maxRecords, claims, epoch, assigned, retired, unknown }) {
  let lease = 0;
  let assignment = [];
  /** How far the lease was handed over: the chunk, and its last offset handed over. */
  let handed = { index: 0, offset: -1 };
  /** The last offset of the chunk being delivered while it is claimed, else null. */
  let claimedTo = null;
  return {
    fetch: async () => {
      const fetched = await call("fetchLease", maxRecords === undefined ? {} : { maxRecords });
      ({ lease, assignment } = fetched);
      assigned(assignment);
      claimedTo = null;
      const first = fetched.chunks[0]?.messages[0];
      handed = { index: 0, offset: first ? first.offset - 1 : -1 };
      return { lease, chunks: fetched.chunks };
    },
    idle: () => log.changed(),
    start: async (leased, index, offset) => {
      handed = { index, offset };
      claimedTo = null;
      // The epoch the answer holds for: a seek or pause of this consumer while the owner
      // answers shows as a change, and the loop asks again.
      const before = epoch();
      const go = await call("startChunk", { lease: leased.lease, index, offset });
      if (!go) return null;
      if (claims) {
        const { messages } = leased.chunks[index];
        claimedTo = messages[messages.length - 1].offset;
      }
      return before;
    },
    hand: (index, offset) => {
      handed = { index, offset };
    },
    epoch,
    midClaim: () => claimedTo !== null && handed.offset < claimedTo,
    commitHanded: () => call("commitHanded", { lease, ...handed }),
    failed: (leased, index, offset, errorText) => call("failed", { lease: leased.lease, index, offset, errorText }),
    release: async (leased) => {
      claimedTo = null;
      if (leased.lease === 0) return;
      try {
        await call("release", { lease: leased.lease, ...handed });
      } catch (error) {
        // The owner went away: the lease went with it.
        if (!isHandover(error)) throw error;
      }
    },
    owns: (topic, partition) => assignment.some((tp) => tp.topic === topic && tp.partition === partition),
    stoppedBy: async (error) => {
      // A handler in flight across a hand-over may fail on its commit (its partition is in
      // a new group generation now): that is not the app's error; the new loop redelivers.
      if (retired() || isHandover(error)) return false;
      // A new owner that this tab has not heard from yet answered: join it, then go on.
      if (error?.code === "UNKNOWN_MEMBER_ID") {
        unknown();
        return false;
      }
      await call("leave").catch(() => {});
      return true;
    },
  };
}
