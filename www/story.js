// The seed article's inventory story. A shop emits new_product, increase_inventory and
// reduce_inventory events; a "stock-service" group of three members applies them to a stock
// table, each member reading one partition, at different speeds (as three servers would).
// Random placement spreads a product's events over partitions, so a later event can be
// applied before an earlier one: unknown products, negative stock. Keyed by product id, a
// product's events share one partition, which is consumed in order: it never goes wrong.

import { Group } from "./groups.js";
import { applyKeyColours, el, literal, logCall, produceSequence, PRODUCTS, sleep } from "./util.js";

export const STORY_TOPIC = "inventory";
export const STORY_GROUP = "stock-service";

/** Per speed: pause between two produced events, and the time a member takes per event on
 * each partition. The spread between partitions is what makes random placement go wrong:
 * with these, a random run escapes every problem well under 1 time in 100. */
export const SPEEDS = {
  slow: { produceMs: 150, perPartitionMs: [250, 800, 2000] },
  normal: { produceMs: 60, perPartitionMs: [100, 320, 900] },
  fast: { produceMs: 15, perPartitionMs: [20, 70, 220] },
};

/** Each product's life: its initial stock, a delivery, and two sales. The first sale is larger
 * than the initial stock, so applying it before the delivery drives the stock negative. */
const LIVES = [
  [2, 3, 4, 1],
  [5, 2, 6, 1],
  [1, 4, 3, 1],
  [3, 5, 7, 1],
  [0, 6, 2, 3],
];
const ACTIONS = ["new_product", "increase_inventory", "reduce_inventory", "reduce_inventory"];

/** The story's events in the order the shop emits them: products are created one after
 * another, and each is restocked and sold while the next ones are being created (a
 * staggered order, so that a product's events are close together but interleaved). */
export function storyEvents() {
  const events = [];
  for (let time = 0; time < PRODUCTS.length + ACTIONS.length - 1; time++) {
    PRODUCTS.forEach((product, index) => {
      const step = time - index;
      if (step < 0 || step >= ACTIONS.length) return;
      events.push({ id: product.id, action: ACTIONS[step], stock: LIVES[index][step] });
    });
  }
  return events;
}

function expectedStock(index) {
  const [initial, delivered, sold, soldAgain] = LIVES[index];
  return initial + delivered - sold - soldAgain;
}

export class Story {
  constructor({ log, lanes, timeline, root, onStart, onChange, onError }) {
    this.log = log;
    this.lanes = lanes;
    this.timeline = timeline;
    this.onStart = onStart;
    this.onChange = onChange;
    this.onError = onError;
    this.group = null;
    this.running = false;
    this.runs = 0;
    this.buttons = [...root.querySelectorAll("[data-story]")];
    this.speed = root.querySelector("#story-speed");
    this.table = root.querySelector("#stock-table tbody");
    this.problemsCount = root.querySelector("#stock-problems");
    this.problemsList = root.querySelector("#story-problems");
    this.verdict = root.querySelector("#story-verdict");
    this.history = root.querySelector("#story-runs");
    for (const button of this.buttons) {
      button.addEventListener("click", () => this.run(button.dataset.story).catch(this.onError));
    }
    this.#drawTable(new Map());
  }

  /** Runs the story once with "random" or "keyed" placement; resolves when every event has
   * been applied to the stock table. */
  async run(mode) {
    if (this.running) return;
    this.running = true;
    this.runs += 1;
    const run = this.runs;
    for (const button of this.buttons) button.disabled = true;
    this.onStart();
    const speed = SPEEDS[this.speed.value] ?? SPEEDS.normal;
    const runId = `${mode}-${run}-${Date.now()}`;
    const events = storyEvents();
    const state = {
      mode,
      runId,
      stock: new Map(),
      placed: new Map(PRODUCTS.map((p) => [p.id, new Set()])),
      problems: 0,
      applied: 0,
      done: null,
    };
    const finished = new Promise((resolve) => (state.done = resolve));
    this.state = state;
    this.problemsList.replaceChildren();
    this.#setProblems(0);
    this.verdict.dataset.outcome = "running";
    this.verdict.dataset.mode = mode;
    this.verdict.textContent = `Run ${run} (${mode === "keyed" ? "keyed by product id" : "random placement"}) is running…`;
    this.timeline.clear(STORY_GROUP);
    this.#drawTable(state.placed, state.stock);

    try {
      // Start where the topic ends now: the stock service must see this run's events only.
      const start = new Map(this.log.offsets(STORY_TOPIC).map(({ partition, high }) => [partition, high]));
      const group = new Group(this.log, {
        id: STORY_GROUP,
        topics: [STORY_TOPIC],
        rateFor: (_topic, partition) => 1000 / speed.perPartitionMs[partition % speed.perPartitionMs.length],
        autoCommit: true,
        fromBeginning: false,
        onConsumed: ({ member, record }) => this.#apply(state, member, record),
        onChange: this.onChange,
        onError: this.onError,
      });
      this.group = group;
      const seekToStart = (consumer) => {
        for (const { topic, partition } of consumer.assignment()) {
          consumer.seek({ topic, partition, offset: start.get(partition) ?? 0 });
        }
      };
      // Three members: the group gives each one partition (each starts at the run's start).
      for (let i = 0; i < 3; i++) await group.addMember({ beforeRun: seekToStart });
      logCall(`consumer.seek({ topic: "${STORY_TOPIC}", partition, offset: high })  // ×3: this run's events only`);

      const options = mode === "random" ? { partitioner: "random" } : undefined;
      const producer = this.log.producer(options);
      logCall(`const producer = log.producer(${options ? literal(options) : ""})`);
      logCall(
        `await producer.send({ topic: "${STORY_TOPIC}", messages: [{ key: id, value: JSON.stringify({ action, id, stock }) }] })  // ×${events.length}`,
      );
      for (const event of events) {
        if (state.stopped) return;
        const [placed] = await producer.send({
          topic: STORY_TOPIC,
          messages: [
            {
              key: event.id,
              value: JSON.stringify(event),
              headers: { seq: produceSequence(), story: runId },
            },
          ],
        });
        state.placed.get(event.id).add(placed.partition);
        this.lanes.highlight(STORY_TOPIC, placed.partition, placed.offset);
        this.#drawTable(state.placed, state.stock);
        await sleep(speed.produceMs);
      }
      state.expected = events.length;
      if (state.applied >= events.length) state.done();
      await finished;
      await group.shutdown();
      if (!state.stopped) this.#conclude(run, state);
    } finally {
      this.group = null;
      this.running = false;
      for (const button of this.buttons) button.disabled = false;
      this.onChange();
    }
  }

  /** One event reaches the stock service: apply it as the article's consumer would. */
  #apply(state, member, record) {
    if (record.story !== state.runId) return; // an event of the stream or a hand send
    this.timeline.consumed(STORY_GROUP, { record, member: member.name });
    const event = JSON.parse(record.value);
    const sign = event.action === "reduce_inventory" ? "−" : "+";
    const what = `P${record.partition}·${record.offset} ${event.id} ${event.action === "new_product" ? "new" : `${sign}${event.stock}`}`;
    const known = state.stock.has(event.id);
    if (event.action === "new_product") {
      state.stock.set(event.id, event.stock);
    } else if (!known) {
      this.#problem(state, `${what}: unknown product — its new_product has not been consumed yet`);
    } else {
      const stock = state.stock.get(event.id) + (event.action === "reduce_inventory" ? -event.stock : event.stock);
      state.stock.set(event.id, stock);
      if (stock < 0) this.#problem(state, `${what}: stock becomes ${stock} — sold before it was delivered`);
    }
    state.applied += 1;
    this.#drawTable(state.placed, state.stock);
    if (state.expected !== undefined && state.applied >= state.expected) state.done();
  }

  #problem(state, description) {
    state.problems += 1;
    this.#setProblems(state.problems);
    this.problemsList.append(el("li", null, description));
  }

  #setProblems(count) {
    this.problemsCount.textContent = String(count);
    this.problemsCount.dataset.count = String(count);
    this.problemsCount.closest(".problems").classList.toggle("has-problems", count > 0);
  }

  /** `final`: the run is over, so a stock that differs from the expected one is wrong. */
  #drawTable(placed, stock = new Map(), final = false) {
    const rows = PRODUCTS.map((product, index) => {
      const row = el("tr");
      row.dataset.product = product.id;
      const name = el("th", "product");
      name.scope = "row";
      const swatch = el("span", "swatch");
      swatch.setAttribute("aria-hidden", "true");
      applyKeyColours(swatch, product.id);
      name.append(swatch, el("code", null, product.id), " ", el("span", "product-name", product.name));
      const partitions = [...(placed.get(product.id) ?? [])].sort();
      const where = el("td", partitions.length > 1 ? "spread" : null, partitions.map((p) => `P${p}`).join(" ") || "–");
      const now = stock.get(product.id);
      const nowCell = el("td", "stock", now === undefined ? "unknown" : String(now));
      if (now === undefined) nowCell.classList.add("unknown");
      else if (now < 0) nowCell.classList.add("negative");
      const expected = expectedStock(index);
      if (final && now !== expected) {
        nowCell.classList.add("wrong");
        nowCell.textContent += " ✗";
        nowCell.title = `should be ${expected}`;
      }
      const expectedCell = el("td", null, String(expected));
      row.append(name, where, nowCell, expectedCell);
      return row;
    });
    this.table.replaceChildren(...rows);
  }

  #conclude(run, state) {
    this.#drawTable(state.placed, state.stock, true);
    const spread = [...state.placed.values()].filter((set) => set.size > 1).length;
    const wrongAtEnd = PRODUCTS.filter((p, index) => state.stock.get(p.id) !== expectedStock(index)).length;
    let outcome;
    let text;
    if (state.mode === "keyed") {
      outcome = state.problems === 0 ? "ok" : "problems";
      text =
        state.problems === 0
          ? `✓ Run ${run}, keyed by product id: 0 problems. Each product's events share one partition, and a partition is always consumed in order, however fast the others go.`
          : `✗ Run ${run}, keyed: ${state.problems} problems — this should never happen; please report it.`;
    } else if (state.problems > 0) {
      outcome = "problems";
      text =
        `✗ Run ${run}, random placement: ${state.problems} problem${state.problems === 1 ? "" : "s"}` +
        `${wrongAtEnd ? `, ${wrongAtEnd} product${wrongAtEnd === 1 ? "" : "s"} with a wrong final stock` : ""}. ` +
        `The events of ${spread} products were spread over several partitions; a fast partition delivered a product's later event before a slow one delivered its earlier event.`;
    } else {
      outcome = "lucky";
      text = `Run ${run}, random placement: no problem this time — no product's event overtook an earlier one. That is luck, not a guarantee: run it again.`;
    }
    this.verdict.dataset.outcome = outcome;
    this.verdict.dataset.problems = String(state.problems);
    this.verdict.textContent = text;
    const item = el("li", `run-${outcome}`, `Run ${run} · ${state.mode} · ${state.problems} problem${state.problems === 1 ? "" : "s"}`);
    item.dataset.mode = state.mode;
    item.dataset.problems = String(state.problems);
    this.history.prepend(item);
  }

  /** Stops a run in progress (reset). */
  async stop() {
    if (this.state) this.state.stopped = true;
    await this.group?.shutdown();
    this.state?.done?.();
  }
}
