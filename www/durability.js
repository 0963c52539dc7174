// Durability made visible: a "slow disk" that holds each IndexedDB write open for a while (so
// that records stay written-but-not-durable long enough to see, and consumers visibly wait at
// the durable end), a crash of this tab in the middle of a burst of sends (a reload without
// closing the log), and, after the reload, what opening the log found: its recovery report and
// whether every acknowledged record of the burst is still there.

import { el, literal, logCall } from "./util.js";

/** What the crash button leaves in localStorage for the page after the reload. */
const CRASH_KEY = "brook-demo:crash";
/** Sends awaited before the crash, and sends still on their way when the tab "dies". */
const ACKED_FIRST = 10;
const BURST = 20;
const CRASH_AFTER_MS = 5;

let holdMs = 0;

/** The slow disk: while `holdMs` > 0, each readwrite IndexedDB transaction is kept busy with
 * cheap reads until that much time has passed, so that it commits — and brook's flush
 * completes — that much later. Nothing of brook changes: this is the disk being slow. */
function installSlowDisk() {
  const transaction = IDBDatabase.prototype.transaction;
  IDBDatabase.prototype.transaction = function (names, mode, options) {
    const tx = transaction.call(this, names, mode, options);
    if (mode === "readwrite" && holdMs > 0) {
      const until = performance.now() + holdMs;
      const store = tx.objectStore(tx.objectStoreNames[0]);
      const spin = () => {
        if (performance.now() < until) store.count().onsuccess = spin;
      };
      spin();
    }
    return tx;
  };
}

export class Durability {
  #log;
  #topic;
  #root;
  #onError;

  constructor({ log, topic, root, beforeCrash, onError }) {
    this.#log = log;
    this.#topic = topic;
    this.#root = root;
    this.#onError = onError;
    installSlowDisk();
    const hold = root.querySelector("#flush-hold");
    holdMs = Number(hold.value);
    hold.addEventListener("change", () => {
      holdMs = Number(hold.value);
      logCall(holdMs > 0 ? `// slow disk: each IndexedDB write takes ${holdMs / 1000} s longer to commit` : "// slow disk off");
    });
    root.querySelector("#crash-tab").addEventListener("click", () => {
      beforeCrash();
      this.#crash().catch(onError);
    });
    this.#report();
  }

  /** Sends ACKED_FIRST events and waits for them, then BURST more without waiting, noting each
   * acknowledgement as it comes (localStorage is written at once, so it outlives the tab), and
   * reloads while those are in flight — without closing the log, as a crash would. */
  async #crash() {
    const highs = this.#log.offsets(this.#topic).map((o) => o.high);
    const note = { at: Date.now(), sent: ACKED_FIRST + BURST, highs, acked: [] };
    const save = () => localStorage.setItem(CRASH_KEY, JSON.stringify(note));
    save();
    const producer = this.#log.producer();
    const send = (index) => {
      const id = `crash-${index % 5}`;
      return producer
        .send({ topic: this.#topic, messages: [{ key: id, value: JSON.stringify({ action: "increase_inventory", id, stock: 1 }) }] })
        .then(([placed]) => {
          note.acked.push([placed.partition, placed.offset]);
          save();
        });
    };
    logCall(`await producer.send(...) ×${ACKED_FIRST}; producer.send(...) ×${BURST}; location.reload()  // a crash mid-write: no log.close()`);
    await Promise.all(Array.from({ length: ACKED_FIRST }, (_, index) => send(index)));
    for (let index = ACKED_FIRST; index < ACKED_FIRST + BURST; index++) send(index).catch(() => {}); // the tab is going away
    await new Promise((resolve) => setTimeout(resolve, CRASH_AFTER_MS));
    location.reload();
  }

  /** What this open found; after a crash, also what became of the burst. */
  #report() {
    const panel = this.#root.querySelector("#recovery");
    const recovery = this.#log.recovery();
    const parts = [];
    const cut = recovery.partitions.filter((p) => p.truncatedBytes > 0);
    const damaged = recovery.partitions.filter((p) => p.damaged.length > 0);
    const summary = recovery.clean
      ? "clean: nothing torn to cut, nothing damaged, no commit past its partition's end"
      : [
          cut.length ? `${cut.length} torn tail(s) cut (${cut.map((p) => `${p.topic}/${p.partition} at ${p.truncatedAt}`).join(", ")})` : "",
          damaged.length ? `damaged ranges in ${damaged.map((p) => `${p.topic}/${p.partition}`).join(", ")}` : "",
          recovery.clampedCommits.length ? `${recovery.clampedCommits.length} commit(s) clamped to their partition's end` : "",
          recovery.evicted ? "the browser had cleared this log's data" : "",
        ]
          .filter(Boolean)
          .join("; ");
    parts.push(el("p", null, `This open's recovery report (log.recovery()): ${summary}.`));
    panel.dataset.clean = String(recovery.clean);
    logCall(`log.recovery()  // ${literal({ clean: recovery.clean, partitions: recovery.partitions.length, clampedCommits: recovery.clampedCommits.length })}`);

    const text = localStorage.getItem(CRASH_KEY);
    if (text) {
      localStorage.removeItem(CRASH_KEY);
      try {
        parts.push(...this.#crashReport(JSON.parse(text)));
      } catch (error) {
        this.#onError(error);
      }
    }
    panel.replaceChildren(...parts);
  }

  #crashReport({ sent, highs, acked }) {
    const offsets = this.#log.offsets(this.#topic);
    // An offset is never reused: an acknowledged record is there if its partition reaches past it.
    const missing = acked.filter(([partition, offset]) => !(offsets[partition]?.high > offset && offsets[partition]?.low <= offset));
    const landed = offsets.reduce((sum, o, partition) => sum + Math.max(0, o.high - (highs[partition] ?? 0)), 0);
    const unacknowledged = Math.max(0, landed - acked.length);
    const lost = Math.max(0, sent - landed);
    const panel = this.#root.querySelector("#recovery");
    panel.dataset.crash = "true";
    panel.dataset.acked = String(acked.length);
    panel.dataset.ackedMissing = String(missing.length);
    const verdict = missing.length === 0
      ? `All ${acked.length} acknowledged records are here.`
      : `${missing.length} of ${acked.length} acknowledged records are missing.`;
    const list = el("ul");
    list.append(
      el("li", null, `${acked.length} of the ${sent} sends were acknowledged (durable) before the tab died.`),
      el("li", null, `${unacknowledged} more had reached the disk without their acknowledgement: they are in the log, and their senders never heard.`),
      el("li", null, `${lost} never reached the disk: gone, and never acknowledged — nothing an app acted on.`),
    );
    return [el("p", missing.length === 0 ? "verdict ok" : "verdict bad", `After the crash: ${verdict}`), list];
  }
}
