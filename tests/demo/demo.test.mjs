// The demo page (www/) in every engine of tests/lib/engines.mjs: placement, the inventory
// story, rebalances, crashes under both commit modes, persistence across a reload, a second
// tab, a phone screen, reduced motion, keyboard use. Every test opens its own browser context
// (its own IndexedDB) and fails on any page error or console error.  Run: node --test tests/demo/

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startServer } from "../../scripts/serve.mjs";
import { enginesUnderTest, launch } from "../lib/engines.mjs";

let server;
let url;

before(async () => {
  ({ server, url } = await startServer(0));
});

after(() => server?.close());

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const lane = (partition, topic = "inventory") => `#lanes [data-topic="${topic}"] .lane[data-partition="${partition}"]`;

async function ready(page) {
  await page.waitFor(() => document.body?.dataset.ready === "true", null, { timeout: 15_000 });
}

const waitVisible = (page, selector, visible = true) =>
  page.waitFor(
    ([selector, visible]) => {
      const element = document.querySelector(selector);
      const shown = !!element && !element.hidden && getComputedStyle(element).display !== "none" && element.getBoundingClientRect().height > 0;
      return shown === visible;
    },
    [selector, visible],
  );

/** Sends one event from the form; resolves with where the page says it landed. */
async function send(page, { key, value = "hello", placement = "keyed" }) {
  await page.check(`input[name="placement"][value="${placement}"]`);
  await page.select("#send-topic", "inventory");
  if (key === null) {
    await page.check("#send-no-key");
  } else {
    await page.check("#send-no-key", false);
    await page.fill("#send-key", key);
  }
  await page.fill("#send-value", value);
  const previous = [await page.attribute("#send-result", "data-offset"), await page.text("#send-result")];
  await page.click('#send-form button[type="submit"]');
  await page.waitFor(([offset, text]) => {
    const result = document.querySelector("#send-result");
    return result.dataset.state === "ok" && (result.dataset.offset !== offset || result.textContent !== text);
  }, previous);
  return {
    partition: Number(await page.attribute("#send-result", "data-partition")),
    offset: Number(await page.attribute("#send-result", "data-offset")),
  };
}

/** Owner of each inventory partition for `group`, as the lanes show it. */
function owners(page, group) {
  return page.evaluate(
    (group) =>
      [...document.querySelectorAll('#lanes [data-topic="inventory"] .lane')].map(
        (lane) => lane.querySelector(`.lane-group[data-group="${group}"] .owner`)?.dataset.owner ?? null,
      ),
    group,
  );
}

async function runStory(page, mode) {
  const runs = await page.count("#story-runs li");
  await page.click(`[data-story="${mode}"]`);
  await page.waitFor((count) => document.querySelectorAll("#story-runs li").length > count, runs, { timeout: 20_000 });
  return {
    outcome: await page.attribute("#story-verdict", "data-outcome"),
    problems: Number(await page.text("#stock-problems")),
    verdict: await page.text("#story-verdict"),
  };
}

const offsetRows = (page, card) =>
  page.evaluate((card) => [...document.querySelectorAll(`${card} .offsets tbody tr`)].map((row) => [...row.children].map((cell) => cell.textContent)), card);

for (const engine of enginesUnderTest()) {
  describe(engine, () => {
    let browser;

    before(async () => {
      browser = await launch(engine);
    });

    after(() => browser?.close());

    /** A page in a fresh context, ready; its errors fail the test when it ends. */
    async function openPage(t, { width = 1280, height = 900, context, reduceMotion = false } = {}) {
      const owned = context === undefined;
      context ??= await browser.newContext();
      const page = await context.newPage();
      await page.setViewport(width, height);
      if (reduceMotion) await page.reduceMotion();
      t.after(async () => {
        const errors = await page.errors().catch(() => []);
        if (owned) await context.close();
        assert.deepEqual(errors, [], "the page logged errors");
      });
      await page.goto(url);
      await ready(page);
      return { page, context };
    }

    test("keyed placement puts keys where Kafka does; the record shows on hover and focus", async (t) => {
      const { page } = await openPage(t);
      for (const [key, partition] of [["foobar", 0], ["21", 0], ["abc", 0], ["abc-123", 1]]) {
        const placed = await send(page, { key, value: `value of ${key}` });
        assert.equal(placed.partition, partition, `key ${key}`);
        const cell = `${lane(partition)} .cell[data-offset="${placed.offset}"]`;
        await waitVisible(page, cell);
        assert.equal(await page.attribute(cell, "data-key"), key);
      }
      // No key: still placed, drawn with no key.
      const placed = await send(page, { key: null, value: "keyless" });
      await waitVisible(page, `${lane(placed.partition)} .cell.no-key[data-offset="${placed.offset}"]`);

      await page.hover(`${lane(1)} .cell[data-key="abc-123"]`);
      await waitVisible(page, "#tooltip");
      const shown = await page.text("#tooltip");
      for (const part of ["offset", "abc-123", "value of abc-123", "timestamp"]) assert.match(shown, new RegExp(part));
      await page.moveMouse(0, 0);
      await waitVisible(page, "#tooltip", false);
      // Keyboard: one tab stop per partition, arrows move, focus shows the record too.
      await page.focus(`${lane(0)} .cell[tabindex="0"]`);
      await page.press("Home");
      await waitVisible(page, "#tooltip");
      assert.match(await page.text("#tooltip"), /offset\s*0/);
      await page.press("ArrowRight");
      assert.equal(await page.evaluate(() => document.activeElement.dataset.offset), "1");
    });

    test("random placement ignores the key and spreads it over the partitions", async (t) => {
      const { page } = await openPage(t);
      const partitions = new Set();
      for (let i = 0; i < 12; i++) partitions.add((await send(page, { key: "same-key", placement: "random", value: `n${i}` })).partition);
      assert.ok(partitions.size > 1, `12 random placements all went to ${[...partitions]}`);
      let drawn = 0;
      for (const partition of partitions) drawn += await page.count(`${lane(partition)} .cell[data-key="same-key"]`);
      assert.equal(drawn, 12);

      // A new topic gets its lanes and can be produced to.
      await page.click(".new-topic summary");
      await page.fill("#topic-name", "clicks");
      await page.fill("#topic-partitions", "2");
      await page.click('#topic-form button[type="submit"]');
      await waitVisible(page, '#lanes [data-topic="clicks"] .lane[data-partition="1"]');
      // The lanes show a topic as soon as the log has it; the form lists it once it is created.
      await page.waitFor(() => document.querySelector("#topic-result").dataset.state === "ok");
      await page.select("#send-topic", "clicks");
      await page.fill("#send-key", "foobar");
      await page.click('#send-form button[type="submit"]');
      await waitVisible(page, '#lanes [data-topic="clicks"] .cell[data-key="foobar"]');
      // A name Kafka refuses is refused with its code, on the page.
      await page.fill("#topic-name", "clicks");
      await page.click('#topic-form button[type="submit"]');
      await page.waitFor(() => document.querySelector("#topic-result").dataset.state === "error");
      assert.match(await page.text("#topic-result"), /TOPIC_ALREADY_EXISTS/);
    });

    test("the inventory story goes wrong with random placement, never when keyed", async (t) => {
      const { page } = await openPage(t);
      await page.select("#story-speed", "fast");
      // Random placement goes wrong with high probability (a product's events must all land
      // in partition order of speed to escape); the page says "lucky" when not: run again.
      let random;
      for (let attempt = 0; attempt < 4; attempt++) {
        random = await runStory(page, "random");
        if (random.outcome !== "lucky") break;
      }
      assert.equal(random.outcome, "problems", random.verdict);
      assert.ok(random.problems > 0);
      assert.equal(await page.count("#story-problems li"), random.problems);
      const overtaken = Number(await page.attribute('.timeline-row[data-group="stock-service"]', "data-overtaken"));
      assert.ok(overtaken > 0, "random placement: something was processed after a later event");
      // Focusing an overtaken event outlines the one that overtook it: the pair.
      await page.focus('.timeline-row[data-group="stock-service"] .chip.overtaken');
      assert.equal(await page.count('.timeline-row[data-group="stock-service"] .chip.overtaker'), 1);

      const keyed = await runStory(page, "keyed");
      assert.equal(keyed.outcome, "ok", keyed.verdict);
      assert.equal(keyed.problems, 0);
      // Every product's events on one partition; the stock table ends as expected.
      const rows = await page.evaluate(() =>
        [...document.querySelectorAll("#stock-table tbody tr")].map((tr) => [...tr.children].map((cell) => cell.textContent.trim())),
      );
      assert.equal(rows.length, 5);
      for (const [product, where, now, expected] of rows) {
        assert.equal(where.split(" ").length, 1, `${product}: ${where}`);
        assert.equal(now, expected, product);
      }
      // Within a partition, the order always held, in both runs and for every group.
      const broken = await page.evaluate(() => [...document.querySelectorAll(".timeline-row")].map((row) => row.dataset.broken));
      for (const count of broken) assert.equal(count, "0");
      assert.equal(await page.attribute('.timeline-row[data-group="stock-service"]', "data-count"), "20");
      // Every table on the page has rows once the story ran (a stray copy of a group card's
      // table once rendered empty under the groups).
      const empty = await page.evaluate(() =>
        [...document.querySelectorAll("table")].filter((table) => !table.closest("[hidden]") && table.querySelectorAll("tbody tr").length === 0).map((table) => table.querySelector("caption")?.textContent || table.className || table.id),
      );
      assert.deepEqual(empty, []);
    });

    test("adding and removing members rebalances the partitions", async (t) => {
      const { page } = await openPage(t);
      const card = '.group-card[data-group="mysql"]';
      await page.waitFor(() => document.querySelectorAll('#lanes .lane-group[data-group="elasticsearch"] .owner').length === 3);
      assert.deepEqual(new Set(await owners(page, "mysql")), new Set(["mysql-1", "mysql-2"]));
      assert.deepEqual(await owners(page, "elasticsearch"), ["elasticsearch-1", "elasticsearch-1", "elasticsearch-1"]);

      await page.click(`${card} .add-member`);
      await page.waitFor((card) => document.querySelectorAll(`${card} .members li[data-member]`).length === 3, card);
      await page.waitFor(() => {
        const names = [...document.querySelectorAll('#lanes .lane-group[data-group="mysql"] .owner')].map((o) => o.dataset.owner);
        return new Set(names).size === 3;
      });
      assert.deepEqual(new Set(await owners(page, "mysql")), new Set(["mysql-1", "mysql-2", "mysql-3"]));

      await page.click(`${card} .remove-member`);
      await page.click(`${card} .remove-member`);
      await page.waitFor((card) => document.querySelectorAll(`${card} .members li[data-member]`).length === 1, card);
      await page.waitFor(() => {
        const names = [...document.querySelectorAll('#lanes .lane-group[data-group="mysql"] .owner')].map((o) => o.dataset.owner);
        return names.length === 3 && names.every((name) => name === "mysql-1");
      });
      // The other group was not affected: each group has its own members.
      assert.deepEqual(await owners(page, "elasticsearch"), ["elasticsearch-1", "elasticsearch-1", "elasticsearch-1"]);
    });

    test("a crash while processing: manual commit delivers the record again, auto commit skips it", async (t) => {
      const { page } = await openPage(t);
      const card = '.group-card[data-group="mysql"]';
      const members = (card) => document.querySelectorAll(`${card} .members li[data-member]`).length === 2;
      await page.fill(`${card} .speed`, "10");

      await page.check(`${card} input[value="manual"]`);
      await page.waitFor(members, card);
      await page.click(`${card} .crash`);
      await send(page, { key: "abc-123", value: "crash me (manual)" });
      await page.waitFor((card) => document.querySelector(`${card} .crash-result`).dataset.outcome === "redelivered", card, { timeout: 10_000 });
      assert.match(await page.text(`${card} .crash-result`), /delivered again/);
      const manual = await page.evaluate((card) => ({ ...document.querySelector(`${card} .crash-result`).dataset }), card);
      // The timeline shows the crash, then the same record again.
      assert.equal(await page.count(`.timeline-row[data-group="mysql"] .chip.again[data-partition="${manual.partition}"][data-offset="${manual.offset}"]`), 1);
      assert.equal(await page.count('.timeline-row[data-group="mysql"] .chip.crashed'), 1);

      await page.check(`${card} input[value="auto"]`);
      await page.waitFor(members, card);
      await page.click(`${card} .crash`);
      await send(page, { key: "abc-123", value: "crash me (auto)" });
      await page.waitFor((card) => document.querySelector(`${card} .crash-result`).dataset.outcome === "skipped", card, { timeout: 10_000 });
      assert.match(await page.text(`${card} .crash-result`), /skipped/);
      const auto = await page.evaluate((card) => ({ ...document.querySelector(`${card} .crash-result`).dataset }), card);
      // Give the group time to move on: the skipped record is never processed.
      await sleep(800);
      assert.equal(await page.count(`.timeline-row[data-group="mysql"] .chip:not(.crashed)[data-partition="${auto.partition}"][data-offset="${auto.offset}"]`), 0);
      // A replacement joined each time: still two members.
      assert.equal(await page.count(`${card} .members li[data-member]`), 2);
    });

    test("a reload finds the log and the groups' commits", async (t) => {
      const { page } = await openPage(t);
      const persistent = await page.attribute("#storage-status", "data-persistent");
      if (persistent !== "true") {
        t.skip(`the log is not persistent here: ${await page.attribute("#storage-status", "title")}`);
        return;
      }
      const card = '.group-card[data-group="mysql"]';
      await page.fill(`${card} .speed`, "10");
      for (const key of ["foobar", "abc-123", "ghi-789", "abc-123"]) await send(page, { key });
      // Wait until mysql has committed all four records (the table is redrawn a few times a
      // second: its high watermarks must show all four before its lag means anything).
      await page.waitFor((card) => {
        const rows = [...document.querySelectorAll(`${card} .offsets tbody tr`)];
        const high = rows.reduce((sum, row) => sum + Number(row.children[3].textContent), 0);
        return rows.length === 3 && high === 4 && rows.every((row) => row.children[4].textContent === "0");
      }, card, { timeout: 10_000 });
      const cells = () => page.count("#lanes .cell:not(.next)");
      const commits = async () => (await offsetRows(page, card)).map((row) => row[2]);
      const cellsBefore = await cells();
      const commitsBefore = await commits();
      assert.equal(cellsBefore, 4);

      await page.reload();
      await ready(page);
      await page.waitFor((count) => document.querySelectorAll("#lanes .cell:not(.next)").length === count, cellsBefore);
      await page
        .waitFor(
          ([card, expected]) => {
            const rows = [...document.querySelectorAll(`${card} .offsets tbody tr`)];
            return rows.length === 3 && rows.every((row, i) => row.children[2].textContent === expected[i]);
          },
          [card, commitsBefore],
          { timeout: 5000 },
        )
        .catch(async () => assert.deepEqual(await commits(), commitsBefore, "commits after the reload"));
      // The default members are back, resuming from the commits: nothing to do.
      assert.equal(await page.count(`${card} .members li[data-member]`), 2);
    });

    test("a slow disk: a record written but not durable shows dashed, and its send and the consumers wait for it", async (t) => {
      const { page } = await openPage(t);
      await page.select("#flush-hold", "2000");
      await page.check('input[name="placement"][value="keyed"]');
      await page.select("#send-topic", "inventory");
      await page.fill("#send-key", "abc-123");
      await page.click('#send-form button[type="submit"]');
      const pending = await page.waitFor(() => {
        const cell = document.querySelector("#lanes .cell.pending:not(.durable)");
        if (!cell) return null;
        const marks = cell.closest(".lane").querySelector(".watermarks").dataset;
        return { offset: Number(cell.dataset.offset), durable: Number(marks.durable), high: Number(marks.high), sent: document.querySelector("#send-result").dataset.state ?? "" };
      }, null, { timeout: 3000 });
      assert.ok(pending.durable <= pending.offset && pending.offset < pending.high, JSON.stringify(pending));
      assert.notEqual(pending.sent, "ok", "the send has not resolved: its record is not durable");
      // Once the write commits, the record is drawn like any other and the send resolves.
      await page.waitFor(() => document.querySelector("#send-result").dataset.state === "ok" && !document.querySelector("#lanes .cell.pending"), null, { timeout: 8000 });
      await page.select("#flush-hold", "0");
    });

    test("a crash mid-write: after the reload the page shows the recovery report and every acknowledged record", async (t) => {
      const { page } = await openPage(t);
      if ((await page.attribute("#storage-status", "data-persistent")) !== "true") {
        t.skip("the log is not persistent here");
        return;
      }
      await page.click("#crash-tab");
      // The page reloads itself, without closing the log.
      await page.waitFor(() => document.querySelector("#recovery")?.dataset.crash === "true" && document.body.dataset.ready === "true", null, { timeout: 20_000 });
      assert.equal(await page.attribute("#recovery", "data-acked-missing"), "0");
      const text = await page.text("#recovery");
      assert.match(text, /recovery report/);
      assert.match(text, /All \d+ acknowledged records are here/);
      assert.match(text, /of the 30 sends were acknowledged/);
    });

    test("reset deletes the log: the page starts empty", async (t) => {
      const { page } = await openPage(t);
      const card = '.group-card[data-group="mysql"]';
      await page.fill(`${card} .speed`, "10");
      for (const key of ["foobar", "abc-123"]) await send(page, { key });
      await page.waitFor((card) => [...document.querySelectorAll(`${card} .offsets tbody tr`)].some((row) => row.children[2].textContent !== "–"), card);
      await page.click("#reset");
      assert.match(await page.text("#reset"), /again/);
      // The second click deletes the log and reloads: wait for the new document to be ready.
      await page.evaluate(() => (window.beforeReset = true));
      await page.click("#reset");
      await page.waitFor(() => window.beforeReset !== true && document.body?.dataset.ready === "true", null, { timeout: 15_000 });
      assert.equal(await page.count("#lanes .cell:not(.next)"), 0);
      // The tables are drawn at the next animation frame after ready (WebKit's can come late).
      await page.waitFor((card) => document.querySelectorAll(`${card} .offsets tbody tr`).length === 3, card);
      assert.deepEqual((await offsetRows(page, card)).map((row) => row[2]), ["–", "–", "–"]);
    });

    test("a second tab is told the log is open elsewhere", async (t) => {
      const { page, context } = await openPage(t);
      if ((await page.attribute("#storage-status", "data-persistent")) !== "true") {
        t.skip("the log is not persistent here, so it is not shared between tabs");
        return;
      }
      const second = await context.newPage();
      await second.goto(url);
      await waitVisible(second, "#banner");
      assert.match(await second.text("#banner"), /brook-demo is open in another tab/);
      assert.equal(await second.disabled("#send-form button"), true);
      // Once the first tab is gone, the second takes the log over by itself.
      await send(page, { key: "abc-123", value: "from the first tab" });
      await page.close();
      await ready(second);
      assert.equal(await second.visible("#banner"), false);
      assert.equal(await second.disabled("#send-form button"), false);
      await waitVisible(second, `${lane(1)} .cell[data-key="abc-123"]`);
      assert.deepEqual(await second.errors(), []);
    });

    test("a phone screen: no horizontal overflow, the story still works", async (t) => {
      const { page } = await openPage(t, { width: 375, height: 740 });
      const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.equal(await overflow(), 0);
      await page.select("#story-speed", "fast");
      await runStory(page, "keyed");
      for (let i = 0; i < 3; i++) await send(page, { key: `k${i}` });
      assert.equal(await overflow(), 0);
      // Controls stay large enough to hit.
      const box = await page.box('[data-story="random"]');
      assert.ok(box.height >= 32 && box.width <= 375, JSON.stringify(box));
    });

    test("reduced motion: no animation runs", async (t) => {
      if (engine === "webkit") {
        t.skip("WebKitWebDriver cannot emulate prefers-reduced-motion");
        return;
      }
      let context;
      if (engine === "firefox") {
        const preferring = await launch(engine, { reducedMotion: true });
        t.after(() => preferring.close());
        context = await preferring.newContext();
        t.after(() => context.close());
      }
      const { page } = await openPage(t, { reduceMotion: true, context });
      await send(page, { key: "abc-123" });
      const animated = await page.evaluate(() => [...document.querySelectorAll("#lanes .cell")].filter((cell) => getComputedStyle(cell).animationName !== "none").length);
      assert.equal(animated, 0);
    });

    test("every control is labelled and reachable with Tab; focus is visible", async (t) => {
      const { page } = await openPage(t);
      const unlabelled = await page.evaluate(() =>
        [...document.querySelectorAll("button, input, select")]
          .filter((control) => {
            const name = control.getAttribute("aria-label") || [...(control.labels ?? [])].map((l) => l.textContent).join("") || (control.tagName === "BUTTON" ? control.textContent : "");
            return name.trim() === "";
          })
          .map((control) => control.outerHTML),
      );
      assert.deepEqual(unlabelled, []);
      await send(page, { key: "abc-123" });
      // From the first control on, in document order (where Tab goes after the last control
      // differs: Chromium wraps around the page, Firefox moves into its own window).
      await page.focus("#reset");
      const reached = new Set(["reset"]);
      let outlined = 0;
      for (let i = 0; i < 80; i++) {
        await page.press("Tab");
        const focused = await page.evaluate(() => {
          const element = document.activeElement;
          const style = getComputedStyle(element);
          return {
            id: element.id || element.dataset.story || element.className || element.tagName,
            outlined: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2,
          };
        });
        if (focused.id === "BODY") break;
        reached.add(focused.id);
        if (focused.outlined) outlined += 1;
      }
      for (const id of ["reset", "random", "keyed", "story-speed", "send-key", "stream-toggle", "stream-rate", "add-member", "crash"]) {
        assert.ok(reached.has(id), `Tab reaches ${id}: ${[...reached].join(", ")}`);
      }
      assert.ok([...reached].some((id) => String(id).startsWith("cell")), "Tab reaches the lanes' cells");
      assert.ok(outlined > 20, "focused controls show an outline");
    });
  });
}
