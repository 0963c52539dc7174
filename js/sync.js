// syncTo(log, relayUrl, options): uploads a log's topics to a relay (js/relay.js), which puts
// them in Kafka. Offline-first: what the app sends while the relay cannot be reached waits in
// the log (IndexedDB in a page) and flows once it can. A brook consumer group (autoCommit off)
// reads each partition in order and commits only what the relay acknowledged, so that a page
// closed mid-upload resumes on its next load from there — nothing lost, no partition reordered
// (the relay drops what it already had from this client).

import { BrookError, invalidArgument } from "./errors.js";
import { describe, readArray, readOptions } from "./args.js";
import { Status } from "./status.js";

const SYNC_OPTIONS = ["token", "topics", "groupId", "clientId", "maxRequestBytes", "retry"];

/** A stop of the loop, thrown out of the handler so that nothing after it is handed over. */
class Stopped extends Error {}

function base64(bytes) {
  if (bytes === null) return null;
  let text = "";
  for (let at = 0; at < bytes.length; at += 0x8000) {
    text += String.fromCharCode.apply(null, bytes.subarray(at, at + 0x8000));
  }
  return btoa(text);
}

/** An id for this device's uploads, kept across page loads where there is localStorage. */
function deviceClientId(groupId) {
  const key = `brook-sync:${groupId}`;
  try {
    const kept = globalThis.localStorage?.getItem(key);
    if (kept) return kept;
    const made = globalThis.crypto.randomUUID();
    globalThis.localStorage?.setItem(key, made);
    return made;
  } catch {
    return globalThis.crypto.randomUUID();
  }
}

/** Starts uploading; returns `{ state, lastError, on(event, listener), stop() }`. States:
 * "syncing" (uploads go through, or nothing waits), "offline" (the relay cannot be reached;
 * retrying), "refused" (the relay said no — a bad token, a record over its size limit;
 * retrying slowly), "stopped". */
export function syncTo(log, relayUrl, options) {
  return new Sync(log, relayUrl, options);
}

class Sync {
  #log;
  #url;
  #token;
  #topics;
  #groupId;
  #clientId;
  #maxRequestBytes;
  #retry;
  #status = new Status("syncTo", [], "syncing");
  #consumer = null;
  #stopping = false;
  #wake = null;
  #onOnline = () => this.#wake?.();

  constructor(log, relayUrl, options) {
    if (typeof log?.consumer !== "function") throw invalidArgument(`syncTo needs an open Log, got ${describe(log)}`);
    let url;
    try {
      url = new URL("v1/produce", String(relayUrl).endsWith("/") ? relayUrl : `${relayUrl}/`);
    } catch {
      throw invalidArgument(`syncTo needs the relay's URL, got ${describe(relayUrl)}`);
    }
    const settings = readOptions(options, "syncTo options", SYNC_OPTIONS);
    if (typeof settings.token !== "string" || settings.token === "") throw invalidArgument("syncTo needs token: the relay's shared secret");
    this.#log = log;
    this.#url = url.href;
    this.#token = settings.token;
    this.#topics = readArray(settings.topics, "topics", 1000);
    if (this.#topics.length === 0 || this.#topics.some((t) => typeof t !== "string")) throw invalidArgument("syncTo needs topics: topic names");
    this.#groupId = settings.groupId ?? "brook-sync";
    this.#clientId = settings.clientId ?? deviceClientId(this.#groupId);
    this.#maxRequestBytes = settings.maxRequestBytes ?? 1024 * 1024;
    const { initialMs = 500, maxMs = 30_000 } = readOptions(settings.retry, "retry", ["initialMs", "maxMs"]);
    this.#retry = { initialMs, maxMs };
    globalThis.addEventListener?.("online", this.#onOnline);
    this.#start().catch((error) => this.#fail(error));
  }

  get state() {
    return this.#status.state;
  }

  get lastError() {
    return this.#status.lastError;
  }

  /** "state" (the new state) and "error" (a failed upload, before its retry). */
  on(event, listener) {
    return this.#status.on(event, listener);
  }


  #fail(error) {
    this.#status.failed(error);
    this.#status.set("stopped");
  }

  async #start() {
    const consumer = this.#log.consumer({ groupId: this.#groupId, autoCommit: false, fromBeginning: true });
    this.#consumer = consumer;
    await consumer.subscribe({ topics: this.#topics });
    const partitions = new Map(this.#log.topics().map((t) => [t.topic, t.partitions]));
    await consumer.run({
      eachBatch: async ({ batch, isStale }) => {
        const { topic, partition, messages } = batch;
        for (const chunk of this.#chunks(messages)) {
          await this.#upload({ topic, partition, partitions: partitions.get(topic) ?? partition + 1, chunk }, isStale);
          // Durable before the next chunk: a page closed now resumes after it.
          await consumer.commitOffsets([{ topic, partition, offset: chunk[chunk.length - 1].offset + 1 }]);
        }
      },
      onError: (error) => {
        if (!(error instanceof Stopped)) this.#fail(error);
      },
    });
  }

  /** Requests of at most maxRequestBytes (about: base64 and JSON around the bytes). */
  *#chunks(messages) {
    let chunk = [];
    let bytes = 0;
    for (const message of messages) {
      let size = 64 + Math.ceil(((message.key?.length ?? 0) + (message.value?.length ?? 0)) * 4 / 3);
      for (const [name, value] of Object.entries(message.headers)) size += name.length + Math.ceil((value?.length ?? 0) * 4 / 3) + 8;
      if (chunk.length > 0 && bytes + size > this.#maxRequestBytes) {
        yield chunk;
        chunk = [];
        bytes = 0;
      }
      chunk.push(message);
      bytes += size;
    }
    if (chunk.length > 0) yield chunk;
  }

  async #upload({ topic, partition, partitions, chunk }, isStale) {
    const body = JSON.stringify({
      client: this.#clientId,
      topic,
      partition,
      partitions,
      records: chunk.map((m) => ({
        offset: m.offset,
        key: base64(m.key),
        value: base64(m.value),
        headers: Object.fromEntries(Object.entries(m.headers).map(([name, value]) => [name, base64(value)])),
        timestamp: m.timestamp,
      })),
    });
    for (let attempt = 0; ; attempt++) {
      if (this.#stopping || isStale()) throw new Stopped("stopped");
      let status = 0;
      let retryAfter = null;
      let failure;
      try {
        const response = await fetch(this.#url, {
          method: "POST",
          headers: { authorization: `Bearer ${this.#token}`, "content-type": "application/json" },
          body,
        });
        status = response.status;
        retryAfter = Number(response.headers.get("retry-after")) || null;
        const answer = await response.json().catch(() => ({}));
        if (status === 200) {
          this.#status.set("syncing");
          return;
        }
        failure = new BrookError(status === 413 ? "MESSAGE_TOO_LARGE" : "IO_ERROR", `the relay answered ${status}: ${answer.error ?? ""}`);
      } catch (error) {
        failure = new BrookError("IO_ERROR", `the relay cannot be reached: ${error?.message ?? error}`, { cause: error });
      }
      this.#status.failed(failure);
      // 401, 400 and 413 will not pass by themselves; 429, 503 and no answer will.
      const refused = status === 401 || status === 400 || status === 413;
      this.#status.set(refused ? "refused" : "offline");
      const backoff = Math.min(this.#retry.maxMs, this.#retry.initialMs * 2 ** Math.min(attempt, 16));
      const delay = retryAfter !== null ? retryAfter * 1000 : refused ? this.#retry.maxMs : backoff * (0.8 + 0.4 * Math.random());
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = null;
    }
  }

  /** Stops uploading (the chunk in flight is not committed unless acknowledged) and leaves
   * the group; what was not acknowledged is uploaded by the next syncTo. */
  async stop() {
    this.#stopping = true;
    this.#wake?.();
    globalThis.removeEventListener?.("online", this.#onOnline);
    await this.#consumer?.disconnect();
    this.#status.set("stopped");
  }
}
