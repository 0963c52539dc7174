// The Kafka side. Where a relay runs on this machine (`brook relay`, which produces to a Kafka
// cluster), the page uploads its inventory topic with syncTo and shows, per partition, how far
// brook, the upload and Kafka have got — the same partition numbers on both sides. Without a
// relay, it says how to start one. ?relay=<url>&token=<secret> in the page's address set both.

import { syncTo } from "brook";
import { el, logCall } from "./util.js";

const DEFAULT_RELAY = "http://127.0.0.1:8787";
const REFRESH_MS = 1000;
const SYNC_GROUP = "brook-sync";

export class KafkaSide {
  #log;
  #topic;
  #root;
  #onError;
  #sync = null;
  #timer = null;

  constructor({ log, topic, root, onError }) {
    this.#log = log;
    this.#topic = topic;
    this.#root = root;
    this.#onError = onError;
    const params = new URLSearchParams(location.search);
    this.#field("#relay-url").value = params.get("relay") ?? DEFAULT_RELAY;
    this.#field("#relay-token").value = params.get("token") ?? "";
    root.querySelector("#relay-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.#connect().catch(onError);
    });
    // Only asked for: a request to a port where nothing listens is an error in the console.
    if (params.has("relay") || params.has("token")) this.#probe(params.has("token")).catch(onError);
    else this.#instructions("");
  }

  #instructions(before) {
    const token = "demo-relay-token-0123";
    this.#say(
      [
        `${before}To watch these events arrive in Kafka, start a Kafka broker on 127.0.0.1:9092, then a relay:`,
        el("code", "command", `BROOK_RELAY_TOKEN=${token} npx brook relay --brokers 127.0.0.1:9092 --allow-origin ${location.origin}`),
        `and reload this page with ?token=${token} (or give the token above and upload).`,
      ],
      "absent",
    );
  }

  #field(selector) {
    return this.#root.querySelector(selector);
  }

  #say(text, state) {
    const status = this.#field("#relay-status");
    status.dataset.state = state;
    status.replaceChildren(...(Array.isArray(text) ? text : [text]));
  }

  get #url() {
    return this.#field("#relay-url").value.replace(/\/+$/, "");
  }

  /** Whether a relay answers at the address. */
  async #probe(connect) {
    try {
      // OPTIONS: answered without a token, so that no 401 shows in the console.
      await fetch(`${this.#url}/v1/status`, { method: "OPTIONS" });
    } catch {
      this.#instructions(`No relay answers at ${this.#url}. `);
      return;
    }
    if (connect) await this.#connect();
    else this.#say(`A relay answers at ${this.#url}: give its token to upload the inventory topic.`, "found");
  }

  async #connect() {
    const token = this.#field("#relay-token").value;
    await this.#sync?.stop();
    clearInterval(this.#timer);
    this.#sync = syncTo(this.#log, this.#url, { token, topics: [this.#topic], groupId: SYNC_GROUP });
    logCall(`syncTo(log, "${this.#url}", { token, topics: ["${this.#topic}"] })  // uploads through the relay to Kafka`);
    this.#sync.on("state", () => this.#refresh().catch(this.#onError));
    this.#timer = setInterval(() => this.#refresh().catch(() => {}), REFRESH_MS);
    await this.#refresh();
  }

  /** brook's high watermark, what the upload committed, and Kafka's high watermark. */
  async #refresh() {
    const sync = this.#sync;
    if (!sync) return;
    let kafka = null;
    try {
      const response = await fetch(`${this.#url}/v1/status?topic=${this.#topic}`, {
        headers: { authorization: `Bearer ${this.#field("#relay-token").value}` },
      });
      if (response.ok) kafka = (await response.json()).partitions;
    } catch {
      // The relay went away: the table says so; syncTo retries by itself.
    }
    const offsets = this.#log.offsets(this.#topic);
    const uploaded = this.#log.lag({ groupId: SYNC_GROUP, topic: this.#topic });
    const rows = offsets.map(({ partition, high }) => {
      const up = uploaded.find((l) => l.partition === partition)?.committed ?? 0;
      const there = kafka?.find((k) => k.partition === partition)?.high;
      const row = el("tr");
      row.dataset.partition = String(partition);
      row.dataset.brook = String(high);
      row.dataset.kafka = there === undefined ? "" : String(there);
      row.append(
        el("th", null, `P${partition}`),
        el("td", null, String(high)),
        el("td", null, String(up)),
        el("td", null, there === undefined ? "–" : String(there)),
        el("td", null, high - up === 0 ? "in Kafka" : `${high - up} waiting`),
      );
      return row;
    });
    this.#field("#kafka-table tbody").replaceChildren(...rows);
    this.#field("#kafka-table").hidden = false;
    const state = {
      syncing: "Uploading to Kafka through the relay.",
      offline: "The relay or Kafka is away: events wait in this page's log and go up when it is back.",
      refused: `The relay refused the upload (${sync.lastError?.message ?? "a wrong token?"}).`,
      stopped: "Stopped.",
    }[sync.state];
    this.#say(state, sync.state);
  }
}
