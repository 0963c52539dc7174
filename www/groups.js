// Consumer groups: members that share a topic's partitions, each processing one record at a
// time at the group's speed, committing automatically (on delivery) or by hand (after
// processing). A member can be made to crash mid-record to show what each commit mode means.

import { BrookError } from "brook";
import { el, literal, logCall, sequenceOf, text } from "./util.js";

/** How long an armed crash lets the record be "processed" before the member dies, so that
 * its pill is seen on the lane first. */
const CRASH_AFTER_MS = 350;

/** A delivered message as plain data: keys and values are decoded at once (brook reuses the
 * buffer they point into). */
export function recordOf(topic, partition, message) {
  return {
    topic,
    partition,
    offset: message.offset,
    timestamp: message.timestamp,
    key: text(message.key),
    value: text(message.value),
    seq: sequenceOf(message),
    story: message.headers?.story ? text(message.headers.story) : null,
  };
}

/**
 * A consumer group as the page runs it: its members (KafkaJS-style consumers of one log), how
 * fast each processes, its commit mode, and what it last read about commits and lag.
 */
export class Group {
  /**
   * @param log the open brook Log
   * @param options.id the groupId
   * @param options.topics what its members subscribe to
   * @param options.rateFor (topic, partition) -> records per second a member processes
   * @param options.autoCommit the commit mode of new members
   * @param options.fromBeginning where a member starts without a commit
   * @param options.onConsumed ({ group, member, record }) after a record is processed
   * @param options.onCrash ({ group, member, record }) when a member crashes mid-record
   * @param options.onChange () when anything drawn changed
   * @param options.onError (error) an unexpected failure of a member
   */
  constructor(log, options) {
    this.log = log;
    this.id = options.id;
    this.label = options.label ?? options.id;
    this.topics = options.topics;
    this.rateFor = options.rateFor;
    this.autoCommit = options.autoCommit ?? true;
    this.fromBeginning = options.fromBeginning ?? true;
    this.onConsumed = options.onConsumed ?? (() => {});
    this.onCrash = options.onCrash ?? (() => {});
    this.onChange = options.onChange ?? (() => {});
    this.onError = options.onError ?? ((error) => console.error(error));
    this.members = [];
    this.memberCount = 0;
    this.crashArmed = false;
    /** topic -> [{ partition, low, high, committed, lag }], the last read. */
    this.lags = new Map();
    this.closed = false;
  }

  /**
   * Adds a member: a new consumer joins the group (the group rebalances at once) and starts
   * its loop. `beforeRun(consumer)` runs between joining and the first poll (to seek).
   */
  async addMember({ beforeRun } = {}) {
    if (this.closed) return null;
    this.memberCount += 1;
    const member = {
      name: `${this.id}-${this.memberCount}`,
      busy: null,
      finish: null,
      state: "joining",
      autoCommit: this.autoCommit,
    };
    // maxRecords 1: a poll hands over one record, so that auto commit commits exactly the
    // record being processed (a crash then skips that record only), and a rebalance or a
    // speed change takes effect at the next record.
    const settings = { groupId: this.id, autoCommit: this.autoCommit, fromBeginning: this.fromBeginning, maxRecords: 1 };
    member.consumer = this.log.consumer(settings);
    logCall(`const consumer = log.consumer(${literal(settings)})  // ${member.name}`);
    this.members.push(member);
    await member.consumer.subscribe({ topics: this.topics, fromBeginning: this.fromBeginning });
    logCall(`await consumer.subscribe({ topics: ${JSON.stringify(this.topics)} })  // joins "${this.id}": rebalance`);
    await beforeRun?.(member.consumer);
    await member.consumer.run({
      eachMessage: ({ topic, partition, message }) => this.#handle(member, topic, partition, message),
      onError: (error) => this.#failed(member, error),
    });
    logCall(`await consumer.run({ eachMessage })  // ${member.name}`);
    member.state = "running";
    this.refresh();
    this.onChange();
    return member;
  }

  /** What a member does with one record: "process" it for 1/rate seconds, commit if manual. */
  async #handle(member, topic, partition, message) {
    const record = recordOf(topic, partition, message);
    member.busy = record;
    this.onChange();
    const outcome = await this.#process(member, topic, partition);
    if (outcome === "crash") {
      this.#crash(member, record);
      return;
    }
    if (!member.autoCommit) {
      try {
        await member.consumer.commit(message);
      } catch (error) {
        if (error?.code === "CLOSED") return;
        // A rebalance moved the partition away while the record was processed: Kafka refuses
        // such a commit too. The partition's new owner resumes from the last commit, so the
        // record is processed again there (at-least-once), which the timeline shows.
        if (!(error instanceof BrookError)) throw error;
        record.commitRefused = error.message;
      }
    }
    member.busy = null;
    this.onConsumed({ group: this, member, record });
    this.onChange();
  }

  /** Resolves "done" after 1/rate seconds of work (re-read as the slider moves; rate 0 holds
   * the record), or "crash" for an armed crash. `member.finish(outcome)` ends it early. */
  #process(member, topic, partition) {
    return new Promise((resolve) => {
      const finish = (outcome) => {
        if (member.finish !== finish) return;
        member.finish = null;
        clearTimeout(member.timer);
        resolve(outcome);
      };
      member.finish = finish;
      if (this.crashArmed) {
        this.crashArmed = false;
        member.timer = setTimeout(() => finish("crash"), CRASH_AFTER_MS);
        this.onChange();
        return;
      }
      let progress = 0;
      let last = performance.now();
      const tick = () => {
        const now = performance.now();
        progress += ((now - last) / 1000) * this.rateFor(topic, partition);
        last = now;
        if (progress >= 1) return finish("done");
        const rate = this.rateFor(topic, partition);
        const remaining = rate > 0 ? ((1 - progress) / rate) * 1000 : 100;
        member.timer = setTimeout(tick, Math.min(100, Math.max(4, remaining)));
      };
      tick();
    });
  }

  /** The member dies mid-record: it leaves without committing anything more, and a
   * replacement joins (as a restarted process would). Called inside its handler, so the
   * disconnect is started but not awaited (it waits for this very handler). */
  #crash(member, record) {
    member.state = "crashed";
    member.busy = null;
    const leaving = member.consumer.disconnect();
    logCall(`// ${member.name} crashed while processing ${record.topic} P${record.partition}@${record.offset}`);
    this.onChange();
    leaving
      .then(async () => {
        this.members = this.members.filter((m) => m !== member);
        let committed;
        const replacement = await this.addMember({
          // The group's commit for that partition, as the replacement finds it on joining.
          beforeRun: (consumer) => {
            committed = consumer
              .lag()
              .find((l) => l.topic === record.topic && l.partition === record.partition)?.committed;
          },
        });
        this.onCrash({ group: this, member, record, replacement, committed });
      })
      .catch((error) => this.#failed(member, error));
  }

  /** Crash the member processing a record now; if none is, the next one to start. */
  crash() {
    const busy = this.members.find((m) => m.busy && m.finish && m.state === "running");
    if (busy) {
      busy.finish("crash");
      return "now";
    }
    this.crashArmed = !this.crashArmed;
    this.onChange();
    return this.crashArmed ? "armed" : "disarmed";
  }

  /** A member leaves cleanly: it finishes its record at once (and commits it if manual),
   * then disconnects; its partitions move to the others. */
  async removeMember(member = this.members.at(-1)) {
    if (!member || member.state !== "running") return;
    member.state = "leaving";
    this.onChange();
    member.finish?.("done");
    await member.consumer.disconnect();
    logCall(`await consumer.disconnect()  // ${member.name} leaves "${this.id}": rebalance`);
    this.members = this.members.filter((m) => m !== member);
    this.refresh();
    this.onChange();
  }

  /** Commit mode is a consumer setting: the members are replaced by as many new ones. */
  async setAutoCommit(autoCommit) {
    if (autoCommit === this.autoCommit) return;
    const count = this.members.filter((m) => m.state === "running").length;
    this.autoCommit = autoCommit;
    for (const member of [...this.members]) await this.removeMember(member);
    for (let i = 0; i < count; i++) await this.addMember();
  }

  /** Every member leaves (reset, end of the story). */
  async shutdown() {
    this.closed = true;
    this.crashArmed = false;
    for (const member of [...this.members]) {
      member.finish?.("done");
      if (member.state === "running") member.state = "leaving";
    }
    await Promise.all(
      this.members.map((member) => member.consumer.disconnect().catch((error) => {
        if (error?.code !== "CLOSED") throw error;
      })),
    );
    this.members = [];
  }

  #failed(member, error) {
    if (error?.code === "CLOSED" || this.closed) return;
    member.state = "failed";
    this.onError(error);
  }

  /** Reads the group's commits and lag (any member can tell; with none, the last reading
   * stays and only the high watermarks move). */
  refresh() {
    const reader = this.members.find((m) => m.state === "running");
    for (const topic of this.topics) {
      try {
        const read = reader?.consumer.lag().filter((l) => l.topic === topic);
        if (read?.length) {
          this.lags.set(topic, read);
        } else {
          const old = new Map((this.lags.get(topic) ?? []).map((l) => [l.partition, l]));
          this.lags.set(
            topic,
            this.log.offsets(topic).map(({ partition, low, high }) => {
              const committed = old.get(partition)?.committed;
              return { topic, partition, low, high, committed, lag: high - (committed ?? low) };
            }),
          );
        }
      } catch (error) {
        if (error?.code !== "CLOSED") throw error;
      }
    }
  }

  /** partition -> owner name, per topic, from each member's consumer.assignment(). */
  owners(topic) {
    const owners = new Map();
    for (const member of this.members) {
      if (member.state === "crashed") continue;
      for (const tp of this.#assignment(member)) if (tp.topic === topic) owners.set(tp.partition, member.name);
    }
    return owners;
  }

  /** What the lanes draw for this group on `topic`: per partition its owner, the group's
   * commit and lag, and where each member is — on the record it is processing, or, idle, at
   * its position (the next offset it will read). Members here take one record at a time and
   * commit each (on delivery or after processing), so an idle member's position is the
   * group's committed offset; without a commit it is where the group starts. */
  view(topic) {
    const partitions = new Map();
    for (const { partition, low, high, committed, lag } of this.lags.get(topic) ?? []) {
      const start = this.fromBeginning ? low : high;
      partitions.set(partition, { owner: null, committed, lag, position: committed ?? start, busy: [] });
    }
    for (const member of this.members) {
      if (member.state === "crashed") continue;
      const owned = new Set(this.#assignment(member).filter((tp) => tp.topic === topic).map((tp) => tp.partition));
      const busy = member.busy?.topic === topic ? member.busy : null;
      if (busy && partitions.has(busy.partition)) {
        partitions.get(busy.partition).busy.push({ offset: busy.offset, member: member.name });
      }
      for (const partition of owned) {
        const state = partitions.get(partition);
        if (!state) continue;
        state.owner = member.name;
        if (busy?.partition === partition) continue;
        state.busy.push({ offset: state.position, member: member.name, idle: true });
      }
    }
    return { id: this.id, label: this.label, partitions };
  }

  #assignment(member) {
    try {
      return member.consumer.assignment();
    } catch (error) {
      if (error?.code !== "CLOSED") throw error;
      return [];
    }
  }
}

/** The card of a group: speed, commit mode, members, offsets, and the crash control. */
export class GroupCard {
  constructor(group, root, { onSpeed }) {
    this.group = group;
    this.root = root;
    this.members = root.querySelector(".members");
    this.offsets = root.querySelector(".offsets tbody");
    this.crashButton = root.querySelector(".crash");
    this.crashResult = root.querySelector(".crash-result");
    this.addButton = root.querySelector(".add-member");
    this.removeButton = root.querySelector(".remove-member");
    const speed = root.querySelector(".speed");
    const speedOut = root.querySelector(".speed-out");
    const showSpeed = () => {
      const rate = Number(speed.value);
      speedOut.textContent = rate === 0 ? "paused" : `${rate} record${rate === 1 ? "" : "s"}/s per member`;
      onSpeed(rate);
    };
    speed.addEventListener("input", showSpeed);
    showSpeed();

    this.addButton.addEventListener("click", () => this.#busy(this.addButton, () => group.addMember()));
    this.removeButton.addEventListener("click", () => this.#busy(this.removeButton, () => group.removeMember()));
    for (const radio of root.querySelectorAll(".commit-mode input")) {
      radio.addEventListener("change", () => {
        if (!radio.checked) return;
        this.crashResult.textContent = "";
        this.#busy(null, () => group.setAutoCommit(radio.value === "auto"));
      });
    }
    this.crashButton.addEventListener("click", () => {
      const what = group.crash();
      if (what === "armed") {
        this.crashResult.textContent = `Armed: the next record a ${group.label} member picks up crashes it.`;
      } else if (what === "disarmed") {
        this.crashResult.textContent = "Crash disarmed.";
      } else {
        this.crashResult.textContent = "Crashing…";
      }
    });
  }

  async #busy(button, work) {
    if (button) button.disabled = true;
    try {
      await work();
    } finally {
      if (button) button.disabled = false;
      this.render();
    }
  }

  /** The verdict of a crash, in words, once the replacement has joined. */
  crashed({ member, record, replacement, committed }) {
    const where = `${record.topic} P${record.partition}@${record.offset}`;
    const result = this.crashResult;
    result.dataset.partition = String(record.partition);
    result.dataset.offset = String(record.offset);
    if (committed != null && committed > record.offset) {
      result.dataset.outcome = "skipped";
      result.textContent =
        `💥 ${member.name} crashed while processing ${where}. Auto commit had already committed ` +
        `offset ${committed} when the record was delivered, so ${replacement?.name ?? "the group"} ` +
        `goes on from ${committed}: offset ${record.offset} was skipped — never processed (at-most-once).`;
    } else {
      result.dataset.outcome = "pending";
      result.textContent =
        `💥 ${member.name} crashed while processing ${where}. With manual commit the group's ` +
        `committed offset is still ${committed ?? "unset"}, so offset ${record.offset} will be delivered again…`;
    }
  }

  /** Called for every processed record: completes a pending "delivered again". */
  consumed({ member, record }) {
    const result = this.crashResult;
    if (result.dataset.outcome !== "pending") return;
    if (Number(result.dataset.partition) !== record.partition || Number(result.dataset.offset) !== record.offset) return;
    result.dataset.outcome = "redelivered";
    result.textContent += ` ✓ delivered again to ${member.name} and processed (at-least-once).`;
  }

  render() {
    const group = this.group;
    const running = group.members.filter((m) => m.state !== "crashed");
    const owners = new Map();
    for (const topic of group.topics) {
      for (const [partition, owner] of group.owners(topic)) {
        if (!owners.has(owner)) owners.set(owner, []);
        owners.get(owner).push(group.topics.length > 1 ? `${topic} P${partition}` : `P${partition}`);
      }
    }
    const items = running.map((member) => {
      const item = el("li", `member state-${member.state}`);
      item.dataset.member = member.name;
      const owned = owners.get(member.name) ?? [];
      item.append(el("b", null, member.name), " ", el("span", "owns", owned.length ? owned.join(", ") : "no partitions"));
      if (member.busy) item.append(" ", el("span", "doing", `processing P${member.busy.partition}@${member.busy.offset}`));
      else if (member.state !== "running") item.append(" ", el("span", "doing", member.state));
      return item;
    });
    if (items.length === 0) items.push(el("li", "member none", "No members: nothing is consumed. The group's commits wait in the log."));
    // Redrawn several times a second: only touch the DOM when something changed.
    const membersHtml = items.map((item) => item.outerHTML).join("");
    if (membersHtml !== this.membersHtml) {
      this.membersHtml = membersHtml;
      this.members.replaceChildren(...items);
    }
    this.removeButton.disabled = running.length === 0;
    this.crashButton.disabled = running.length === 0;
    this.crashButton.setAttribute("aria-pressed", String(group.crashArmed));

    const rows = [];
    for (const topic of group.topics) {
      const owned = group.owners(topic);
      for (const { partition, high, committed, lag } of group.lags.get(topic) ?? []) {
        const row = el("tr");
        row.append(
          el("th", null, `P${partition}`),
          el("td", null, owned.get(partition) ?? "–"),
          el("td", null, committed ?? "–"),
          el("td", null, String(high)),
          el("td", lag > 0 ? "lagging" : null, String(lag)),
        );
        rows.push(row);
      }
    }
    const offsetsHtml = rows.map((row) => row.outerHTML).join("");
    if (offsetsHtml !== this.offsetsHtml) {
      this.offsetsHtml = offsetsHtml;
      this.offsets.replaceChildren(...rows);
    }
  }
}
