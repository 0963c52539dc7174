// Topics as lanes: each partition is a row of offset cells, coloured by key. Under the cells,
// one rail per consumer group: a line up to the group's committed offset (what it will never
// be given again), and a pill on the record a member is processing right now. The record
// cells are only ever appended (a partition is append-only), so a redraw never rebuilds them.

import { applyKeyColours, el, formatTime, reducedMotion } from "./util.js";

/** Cells kept per partition: older ones leave the page (not the log) to keep it light. */
const MAX_CELLS = 240;
/** Width of one cell plus the gap, in px; must match --step in style.css. */
const STEP = 36;

const ACTION_GLYPHS = {
  new_product: "new",
  increase_inventory: "+",
  reduce_inventory: "−",
};

/** A short mark of what a record is, under its offset: the inventory action if it has one. */
function glyphOf(value) {
  if (value == null) return "∅";
  if (value.startsWith("{")) {
    try {
      const action = JSON.parse(value).action;
      if (action in ACTION_GLYPHS) {
        const amount = JSON.parse(value).stock;
        return action === "new_product" ? "new" : `${ACTION_GLYPHS[action]}${amount ?? ""}`;
      }
    } catch {
      // Not JSON after all: fall through to plain text.
    }
  }
  return value.length > 3 ? `${value.slice(0, 3)}…` : value;
}

export class Lanes {
  #root;
  #tooltip;
  #describe;
  /** topic -> { section, partitions: [row] } */
  #topics = new Map();
  /** "topic/partition/offset" of records to highlight when they appear (placed before drawn). */
  #pendingFlash = new Set();
  /** The cell the tooltip describes, while it shows. */
  #anchor = null;

  /**
   * @param root where the topics go
   * @param tooltip the shared tooltip element
   * @param describe (topic, partition, offset) -> lines about groups, for the tooltip
   */
  constructor(root, tooltip, describe) {
    this.#root = root;
    this.#tooltip = tooltip;
    this.#describe = describe;
    // The tooltip is placed by its cell: any scroll (the page, a column, a lane) moves it along.
    window.addEventListener("scroll", () => this.#anchor && this.#placeTooltip(this.#anchor), { passive: true, capture: true });
  }

  hasTopic(topic) {
    return this.#topics.has(topic);
  }

  /** Draws a topic (or the partitions it gained). */
  ensureTopic(topic, partitions) {
    let view = this.#topics.get(topic);
    if (!view) {
      const section = el("section", "topic");
      section.dataset.topic = topic;
      const heading = el("h3", "topic-name");
      heading.append(el("span", "topic-label", "topic "), el("code", null, topic));
      const count = el("span", "topic-count");
      heading.append(" ", count);
      section.append(heading);
      view = { section, count, partitions: [] };
      this.#topics.set(topic, view);
      // Topics in name order, as log.topics() lists them.
      const after = [...this.#root.children].find((s) => s.dataset.topic > topic);
      this.#root.insertBefore(section, after ?? null);
    }
    while (view.partitions.length < partitions) {
      const row = this.#makeRow(topic, view.partitions.length);
      view.partitions.push(row);
      view.section.append(row.element);
    }
    view.count.textContent = `· ${partitions} partition${partitions === 1 ? "" : "s"}`;
  }

  #makeRow(topic, partition) {
    const element = el("div", "lane");
    element.dataset.partition = String(partition);
    element.setAttribute("role", "group");
    element.setAttribute("aria-label", `${topic}, partition ${partition}`);

    const head = el("div", "lane-head");
    const name = el("span", "lane-name", `P${partition}`);
    name.title = `partition ${partition}`;
    const watermarks = el("span", "watermarks");
    const groups = el("span", "lane-groups");
    head.append(name, watermarks, groups);

    const track = el("div", "track");
    const inner = el("div", "track-inner");
    const cells = el("ol", "cells");
    cells.setAttribute("aria-label", `records of ${topic} partition ${partition}, oldest first`);
    const next = el("li", "cell next");
    next.setAttribute("aria-hidden", "true");
    cells.append(next);
    const rails = el("div", "rails");
    inner.append(cells, rails);
    track.append(inner);
    element.append(head, track);

    const row = {
      topic,
      partition,
      element,
      watermarks,
      groups,
      track,
      cells,
      next,
      rails,
      railViews: new Map(),
      /** Offset of the first cell drawn. */
      first: 0,
      /** Next offset expected (high watermark as far as drawn). */
      high: 0,
      low: 0,
      records: new Map(),
      focusOffset: null,
      /** Cells of records written but not durable yet: the log has them, its consumers not. */
      pending: [],
      durable: 0,
    };
    this.#wireKeyboard(row);
    this.#updateNext(row);
    return row;
  }

  #row(topic, partition) {
    return this.#topics.get(topic)?.partitions[partition];
  }

  /** Appends delivered records `[{ offset, key, value, timestamp }]` of one partition. */
  add(topic, partition, records) {
    const row = this.#row(topic, partition);
    if (!row || records.length === 0) return;
    // Follow the newest records unless the reader scrolled back; a smooth scroll of ours still
    // on its way counts as following.
    const atEnd =
      performance.now() < (row.scrollingUntil ?? 0) ||
      row.track.scrollLeft + row.track.clientWidth >= row.track.scrollWidth - STEP * 2;
    const fragment = document.createDocumentFragment();
    for (const record of records) {
      if (record.offset < row.high) continue; // already drawn (a viewer restart re-reads)
      if (row.records.size === 0) row.first = record.offset;
      row.records.set(record.offset, record);
      fragment.append(this.#makeCell(row, record));
      row.high = record.offset + 1;
    }
    row.cells.insertBefore(fragment, row.pending[0] ?? row.next);
    // Keep the page light: drop the oldest cells, never the newest.
    while (row.records.size > MAX_CELLS) {
      row.records.delete(row.first);
      row.cells.firstElementChild.remove();
      row.first += 1;
    }
    // The partition's tab stop may have left with an old cell: the newest takes it.
    if (!row.cells.querySelector('[tabindex="0"]')) row.next.previousElementSibling?.setAttribute("tabindex", "0");
    this.#updateNext(row);
    this.#updatePending(row);
    this.#updateWatermarks(row);
    if (atEnd) this.#scrollToEnd(row, false);
  }

  #makeCell(row, record) {
    const cell = el("li", "cell");
    cell.dataset.offset = String(record.offset);
    cell.dataset.key = record.key ?? "";
    cell.tabIndex = -1;
    applyKeyColours(cell, record.key);
    cell.append(el("span", "cell-offset", String(record.offset)), el("span", "cell-glyph", glyphOf(record.value)));
    cell.setAttribute(
      "aria-label",
      `offset ${record.offset}, key ${record.key ?? "none"}, value ${record.value ?? "null"}, at ${formatTime(record.timestamp)}`,
    );
    if (!reducedMotion.matches) cell.classList.add("arrived");
    const flashKey = `${row.topic}/${row.partition}/${record.offset}`;
    if (this.#pendingFlash.delete(flashKey)) this.#flashCell(cell);
    return cell;
  }

  /** Highlights where a just-produced record landed (now, or when it is drawn). */
  highlight(topic, partition, offset) {
    const row = this.#row(topic, partition);
    const cell = row?.cells.querySelector(`[data-offset="${offset}"]`);
    if (cell) {
      this.#flashCell(cell);
      this.#scrollToEnd(row);
    } else {
      this.#pendingFlash.add(`${topic}/${partition}/${offset}`);
    }
  }

  #flashCell(cell) {
    cell.classList.remove("landed");
    // Restart the animation: a reflow between removing and adding the class.
    void cell.offsetWidth;
    cell.classList.add("landed");
    setTimeout(() => cell.classList.remove("landed"), 1600);
  }

  /** Shows the newest cells: smoothly for a highlight, at once while records stream in (the
   * cells' own arrival is the motion then). */
  #scrollToEnd(row, smooth = true) {
    if (smooth && !reducedMotion.matches) {
      row.scrollingUntil = performance.now() + 700;
      row.track.scrollTo({ left: row.track.scrollWidth, behavior: "smooth" });
    } else {
      row.track.scrollLeft = row.track.scrollWidth;
    }
  }

  #updateNext(row) {
    const next = Math.max(row.high, row.logHigh ?? 0);
    row.next.textContent = String(next);
    row.next.title = `next offset: ${next}`;
  }

  /** Low, durable and high watermarks from log.offsets(topic). */
  setWatermarks(topic, offsets) {
    for (const { partition, low, high, durable } of offsets) {
      const row = this.#row(topic, partition);
      if (!row) continue;
      row.low = low;
      row.logHigh = high;
      row.durable = durable ?? high;
      this.#updatePending(row);
      this.#updateWatermarks(row);
    }
  }

  /** Records from where the cells end to the log's high watermark: written, not yet durable
   * (or durable a moment ago and on their way to the lanes' consumer). Dashed, no content:
   * no consumer has seen them, and none will before they are durable. */
  #updatePending(row) {
    const from = Math.max(row.high, row.first);
    const count = Math.max(0, Math.min((row.logHigh ?? 0) - from, MAX_CELLS));
    while (row.pending.length > count) row.pending.pop().remove();
    while (row.pending.length < count) {
      const cell = el("li", "cell pending");
      cell.setAttribute("aria-hidden", "true");
      row.pending.push(cell);
      row.cells.insertBefore(cell, row.next);
    }
    row.pending.forEach((cell, index) => {
      const offset = from + index;
      const durable = offset < row.durable;
      cell.classList.toggle("durable", durable);
      if (cell.dataset.offset !== String(offset)) {
        cell.dataset.offset = String(offset);
        cell.replaceChildren(el("span", "cell-offset", String(offset)), el("span", "cell-glyph", durable ? "…" : "disk"));
      }
      cell.title = durable ? `offset ${offset}: durable, on its way to the consumers` : `offset ${offset}: written, not durable yet — consumers stop before it`;
    });
    // The pending cells sit just before the "next" cell, after the records drawn.
    const before = row.next;
    for (const cell of row.pending) row.cells.insertBefore(cell, before);
    this.#updateNext(row);
  }

  #updateWatermarks(row) {
    const high = Math.max(row.logHigh ?? 0, row.high);
    const shown = row.first > row.low && row.records.size > 0 ? ` · showing from ${row.first}` : "";
    const durable = Math.min(row.durable ?? high, high);
    row.watermarks.textContent = `low ${row.low} · durable ${durable} · high ${high}${shown}`;
    row.watermarks.dataset.durable = String(durable);
    row.watermarks.dataset.high = String(high);
    row.watermarks.title =
      "low watermark: the first offset still stored; durable: the end of what is on disk, where consumers stop; high watermark: the offset the next record will get";
  }

  /**
   * Draws each group's state on a topic's lanes.
   * groups: [{ id, label, partitions: Map(partition -> { owner, committed, lag, busy: [{ offset, member }] }) }]
   */
  setGroups(topic, groups) {
    const view = this.#topics.get(topic);
    if (!view) return;
    for (const row of view.partitions) {
      const summaries = [];
      const seen = new Set();
      for (const group of groups) {
        const state = group.partitions.get(row.partition);
        if (!state) continue;
        seen.add(group.id);
        summaries.push(this.#groupSummary(group, state));
        this.#drawRail(row, group, state);
      }
      for (const [id, rail] of row.railViews) {
        if (!seen.has(id)) {
          rail.element.remove();
          row.railViews.delete(id);
        }
      }
      const html = summaries.map((summary) => summary.outerHTML).join("");
      if (html !== row.groupsHtml) {
        row.groupsHtml = html;
        row.groups.replaceChildren(...summaries);
      }
    }
  }

  #groupSummary(group, { owner, committed, lag }) {
    const summary = el("span", `lane-group group-${group.id}`);
    summary.dataset.group = group.id;
    // Member names start with their group's ("mysql-1"), so the owner alone names both.
    const ownerEl = el("b", owner ? "owner" : "owner none", owner ?? `${group.label}: no owner`);
    ownerEl.dataset.owner = owner ?? "";
    summary.append(
      ownerEl,
      el("span", "committed", ` · committed ${committed ?? "–"}`),
      el("span", lag > 0 ? "lag behind" : "lag", ` · lag ${lag}`),
    );
    summary.title = `${group.label}: partition owned by ${owner ?? "nobody"}; committed offset ${committed ?? "none"} (the next offset the group reads); lag ${lag} records`;
    return summary;
  }

  #drawRail(row, group, { committed, lag, busy }) {
    let rail = row.railViews.get(group.id);
    if (!rail) {
      const element = el("div", `rail group-${group.id}`);
      element.setAttribute("aria-hidden", "true");
      const done = el("div", "rail-done");
      const todo = el("div", "rail-todo");
      const mark = el("div", "rail-commit");
      element.append(done, todo, mark);
      rail = { element, done, todo, mark, pills: new Map() };
      row.railViews.set(group.id, rail);
      row.rails.append(element);
    }
    // Positions are relative to the first drawn cell; a commit before it is pinned at 0.
    const x = (offset) => Math.max(0, offset - row.first) * STEP;
    const high = Math.max(row.logHigh ?? 0, row.high);
    const at = committed ?? row.low;
    rail.done.style.width = `${Math.max(0, x(at) - 2)}px`;
    rail.todo.style.left = `${x(at)}px`;
    rail.todo.style.width = `${Math.max(0, x(high) - x(at))}px`;
    rail.todo.hidden = lag === 0;
    rail.mark.style.left = `${x(at) - 3}px`;
    rail.mark.hidden = committed == null;
    rail.mark.title = `${group.label} committed ${committed}`;

    const live = new Set();
    for (const { offset, member, idle } of busy) {
      live.add(member);
      let pill = rail.pills.get(member);
      if (!pill) {
        pill = el("span", "rail-pill");
        rail.pills.set(member, pill);
        rail.element.append(pill);
      }
      pill.textContent = member.replace(/^.*-/, "m");
      pill.classList.toggle("idle", Boolean(idle));
      pill.title = idle ? `${member} waits at offset ${offset} (its position)` : `${member} is processing offset ${offset}`;
      pill.style.left = `${x(offset)}px`;
      pill.dataset.offset = String(offset);
      pill.dataset.member = member;
    }
    for (const [member, pill] of rail.pills) {
      if (!live.has(member)) {
        pill.remove();
        rail.pills.delete(member);
      }
    }
  }

  /** Owner of each partition of a topic per group, as drawn: { group: [owner per partition] }. */
  owners(topic) {
    const view = this.#topics.get(topic);
    const result = {};
    for (const row of view?.partitions ?? []) {
      for (const summary of row.groups.children) {
        const owner = summary.querySelector(".owner").dataset.owner;
        (result[summary.dataset.group] ??= [])[row.partition] = owner || null;
      }
    }
    return result;
  }

  // ---- Hover, focus and keys ----

  #wireKeyboard(row) {
    const cellOf = (target) => target.closest?.(".cell:not(.next)");
    row.cells.addEventListener("pointerover", (event) => {
      const cell = cellOf(event.target);
      if (cell) this.#showTooltip(row, cell);
    });
    row.cells.addEventListener("pointerleave", () => this.#hideTooltip());
    row.cells.addEventListener("focusin", (event) => {
      const cell = cellOf(event.target);
      if (!cell) return;
      this.#rove(row, cell);
      this.#showTooltip(row, cell);
    });
    row.cells.addEventListener("focusout", () => this.#hideTooltip());
    // One tab stop per partition; arrows move within it (a roving tabindex), so that hundreds
    // of cells do not each cost a Tab press.
    row.cells.addEventListener("keydown", (event) => {
      const cell = cellOf(event.target);
      if (!cell) return;
      let target = null;
      if (event.key === "ArrowRight") target = cell.nextElementSibling;
      else if (event.key === "ArrowLeft") target = cell.previousElementSibling;
      else if (event.key === "Home") target = row.cells.firstElementChild;
      else if (event.key === "End") target = row.next.previousElementSibling;
      else if (event.key === "Escape") return this.#hideTooltip();
      else return;
      event.preventDefault();
      if (target && !target.classList.contains("next")) target.focus();
    });
  }

  #rove(row, cell) {
    for (const other of row.cells.querySelectorAll('[tabindex="0"]')) other.tabIndex = -1;
    cell.tabIndex = 0;
    row.focusOffset = Number(cell.dataset.offset);
  }

  #showTooltip(row, cell) {
    const offset = Number(cell.dataset.offset);
    const record = row.records.get(offset);
    if (!record) return;
    const tip = this.#tooltip;
    const lines = [
      ["topic", `${row.topic} · partition ${row.partition}`],
      ["offset", String(offset)],
      ["key", record.key ?? "(none)"],
      ["value", record.value ?? "(null)"],
      ["timestamp", `${formatTime(record.timestamp)} (${record.timestamp})`],
    ];
    const list = el("dl");
    for (const [term, description] of lines) list.append(el("dt", null, term), el("dd", null, description));
    const groups = this.#describe(row.topic, row.partition, offset);
    tip.replaceChildren(list);
    if (groups.length) tip.append(el("p", "tip-groups", groups.join(" · ")));
    tip.hidden = false;
    this.#anchor = cell;
    this.#placeTooltip(cell);
  }

  #placeTooltip(cell) {
    const tip = this.#tooltip;
    const box = cell.getBoundingClientRect();
    const width = tip.offsetWidth;
    const left = Math.min(Math.max(8, box.left + box.width / 2 - width / 2), window.innerWidth - width - 8);
    const below = box.bottom + 8 + tip.offsetHeight < window.innerHeight;
    tip.style.left = `${left}px`;
    tip.style.top = `${below ? box.bottom + 8 : box.top - tip.offsetHeight - 8}px`;
  }

  #hideTooltip() {
    this.#anchor = null;
    this.#tooltip.hidden = true;
  }

  /** Forget everything drawn (reset). */
  clear() {
    this.#topics.clear();
    this.#root.replaceChildren();
  }
}
