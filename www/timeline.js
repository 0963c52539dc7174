// Consumption order: what each group processed, in the order it processed it. A record
// processed after one produced later is marked (with the one that overtook it): that only
// ever happens across partitions. Within a partition the offsets always go up, which each
// row checks and states; a record processed a second time (after a crash or a rebalance) is
// marked "again", which is not disorder but redelivery.

import { applyKeyColours, el, formatTime } from "./util.js";

const MAX_CHIPS = 120;

export class Timeline {
  #root;
  #rows = new Map();

  constructor(root) {
    this.#root = root;
  }

  /** The row of a group (created on first use, in call order). */
  row(id, label, note) {
    let row = this.#rows.get(id);
    if (row) return row;
    const element = el("section", `timeline-row group-${id}`);
    element.dataset.group = id;
    const head = el("h3", "timeline-head");
    head.append(el("span", "timeline-label", label));
    if (note) head.append(" ", el("small", null, note));
    const stats = el("p", "timeline-stats");
    const chips = el("ol", "chips");
    chips.setAttribute("aria-label", `records ${label} processed, in processing order`);
    element.append(head, stats, chips);
    this.#root.append(element);
    row = { id, element, stats, chips, ...emptyCounts() };
    this.#rows.set(id, row);
    this.#wireKeys(row);
    this.#renderStats(row);
    return row;
  }

  clear(id) {
    const row = this.#rows.get(id);
    if (!row) return;
    Object.assign(row, emptyCounts());
    row.chips.replaceChildren();
    this.#renderStats(row);
  }

  /** A record processed by `member` of group `id`; `crashed`: its member died processing it. */
  consumed(id, { record, member, crashed = false }) {
    const row = this.#rows.get(id);
    if (!row) return;
    const partitionKey = `${record.topic}/${record.partition}`;
    const seen = row.seen.get(partitionKey) ?? new Set();
    row.seen.set(partitionKey, seen);
    const again = seen.has(record.offset);
    const last = row.lastOffset.get(partitionKey);
    // Disorder within a partition: a new (not redelivered) record below one already processed.
    const broken = !again && last !== undefined && record.offset < last;

    const chip = el("li", "chip");
    chip.tabIndex = row.chips.children.length === 0 ? 0 : -1;
    applyKeyColours(chip, record.key);
    chip.dataset.partition = String(record.partition);
    chip.dataset.offset = String(record.offset);
    chip.dataset.seq = String(record.seq);
    chip.append(el("span", "chip-where", `P${record.partition}·${record.offset}`));
    if (record.key != null) chip.append(el("span", "chip-key", record.key));
    const notes = [];
    if (crashed) {
      chip.classList.add("crashed");
      chip.append(el("span", "chip-flag", "💥"));
      notes.push(`${member} crashed while processing it`);
      // Delivered, though not processed: a second delivery of it is "again".
      seen.add(record.offset);
    } else {
      row.count += 1;
      if (again) {
        chip.classList.add("again");
        chip.append(el("span", "chip-flag", "again"));
        row.again += 1;
        notes.push("delivered again (after a crash or a rebalance)");
      } else if (row.newest && row.newest.seq > record.seq) {
        // Overtaken: something produced after this record was processed before it.
        chip.classList.add("overtaken");
        chip.dataset.overtakenBy = row.newest.chipId;
        chip.append(el("span", "chip-flag", "↶"));
        row.overtaken += 1;
        notes.push(
          `produced before P${row.newest.partition}·${row.newest.offset} (${row.newest.key ?? "no key"}) but processed after it: they are on different partitions, which is allowed`,
        );
      }
      if (record.commitRefused) {
        chip.classList.add("refused");
        notes.push(`its commit was refused (${record.commitRefused}): the partition had moved to another member, which processes it again`);
      }
      if (broken) {
        chip.classList.add("broken");
        row.broken += 1;
        notes.push(`out of order within partition ${record.partition}!`);
      }
      seen.add(record.offset);
      row.lastOffset.set(partitionKey, Math.max(last ?? -1, record.offset));
    }
    chip.id = `chip-${id}-${++row.sequence}`;
    if (!crashed && (!row.newest || record.seq > row.newest.seq)) {
      row.newest = { ...record, chipId: chip.id };
    }
    const label = `${record.topic} partition ${record.partition} offset ${record.offset}, key ${record.key ?? "none"}, processed by ${member} at ${formatTime(Date.now())}`;
    chip.setAttribute("aria-label", [label, ...notes].join("; "));
    chip.title = [label, ...notes].join("\n");
    // Follow the newest chips, unless the reader has scrolled back to look at older ones.
    const following = row.chips.scrollTop + row.chips.clientHeight >= row.chips.scrollHeight - 24;
    row.chips.append(chip);
    while (row.chips.children.length > MAX_CHIPS) row.chips.firstElementChild.remove();
    if (following) row.chips.scrollTop = row.chips.scrollHeight;
    // The tab stop may have left with an old chip: the newest takes it.
    if (!row.chips.querySelector('[tabindex="0"]')) row.chips.lastElementChild.tabIndex = 0;
    this.#renderStats(row);
  }

  #renderStats(row) {
    const parts = [`${row.count} processed`];
    parts.push(`${row.overtaken} after a record produced later (across partitions: allowed)`);
    if (row.again) parts.push(`${row.again} delivered again`);
    const within = row.broken === 0 ? "within each partition: in offset order ✓" : `within partitions: ${row.broken} out of order ✗`;
    row.stats.replaceChildren(el("span", null, parts.join(" · ") + " · "), el("b", row.broken ? "bad" : "good", within));
    row.element.dataset.overtaken = String(row.overtaken);
    row.element.dataset.broken = String(row.broken);
    row.element.dataset.count = String(row.count);
  }

  /** Roving focus over the chips; focusing an overtaken record outlines the one that
   * overtook it, so the pair can be seen. */
  #wireKeys(row) {
    const pairOn = (chip) => {
      for (const marked of row.chips.querySelectorAll(".overtaker")) marked.classList.remove("overtaker");
      const other = chip?.dataset.overtakenBy && document.getElementById(chip.dataset.overtakenBy);
      if (other) other.classList.add("overtaker");
    };
    row.chips.addEventListener("focusin", (event) => {
      const chip = event.target.closest(".chip");
      if (!chip) return;
      for (const other of row.chips.querySelectorAll('[tabindex="0"]')) other.tabIndex = -1;
      chip.tabIndex = 0;
      pairOn(chip);
    });
    row.chips.addEventListener("pointerover", (event) => pairOn(event.target.closest(".chip")));
    row.chips.addEventListener("pointerleave", () => pairOn(null));
    row.chips.addEventListener("focusout", () => pairOn(null));
    row.chips.addEventListener("keydown", (event) => {
      const chip = event.target.closest(".chip");
      if (!chip) return;
      let target = null;
      if (event.key === "ArrowRight") target = chip.nextElementSibling;
      else if (event.key === "ArrowLeft") target = chip.previousElementSibling;
      else if (event.key === "Home") target = row.chips.firstElementChild;
      else if (event.key === "End") target = row.chips.lastElementChild;
      else return;
      event.preventDefault();
      target?.focus();
    });
  }
}

function emptyCounts() {
  return {
    count: 0,
    overtaken: 0,
    again: 0,
    broken: 0,
    sequence: 0,
    newest: null,
    seen: new Map(),
    lastOffset: new Map(),
  };
}
