// Offline-first essentials in browsers. Storage the browser may take away: persist() asked and
// reported, storage() estimates, and a log whose IndexedDB data is gone though this origin
// made it — cleared through the DevTools protocol in Chromium (Storage.clearDataForOrigin,
// indexeddb only), deleted by the page elsewhere — reported as STORAGE_EVICTED instead of
// silently starting empty. Dead letters and views through a shared log's owning tab.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startServer } from "../../scripts/serve.mjs";
import { enginesUnderTest } from "../lib/engines.mjs";
import { browserFor, openTestPage } from "../lib/test-page.mjs";

let server;
let url;

before(async () => {
  ({ server, url } = await startServer(0, { extra: ["/tests/browser/"] }));
  url = url.replace(/www\/$/, "tests/browser/page.html");
});

after(() => server?.close());

for (const engine of enginesUnderTest()) {
  describe(engine, () => {
    const browser = browserFor(engine);
    const openPage = (context) => openTestPage(context, url);

    async function reload(page) {
      await page.reload();
      await page.waitFor(() => window.ready === true);
    }

    test("a log whose IndexedDB data was cleared is STORAGE_EVICTED, not silently empty; evicted: \"open\" starts it again", async () => {
      const context = await browser().newContext();
      try {
        const page = await openPage(context);
        const made = await page.evaluate(async () => {
          const log = await brook.Log.open({ name: "queue", persist: true });
          await log.createTopic({ topic: "outbox", partitions: 2 });
          await log.producer().send({ topic: "outbox", messages: [{ key: "a", value: "1" }] });
          const storage = await log.storage();
          await log.close();
          return storage;
        });
        assert.equal(typeof made.persisted, "boolean");
        assert.ok(made.usage === null || Number.isFinite(made.usage));
        assert.ok(made.quota === null || made.quota > 0);
        // A reload is not an eviction.
        await reload(page);
        assert.deepEqual(
          await page.evaluate(async () => {
            const log = await brook.Log.open({ name: "queue" });
            const out = [log.topics().map((t) => t.topic), log.recovery().clean, log.recovery().evicted ?? null];
            await log.close();
            return out;
          }),
          [["outbox"], true, null],
        );
        // The origin's IndexedDB goes; localStorage stays (as when site data is cleared in part).
        if (engine === "chromium") await page.clearIndexedDb();
        else await page.evaluate(() => new Promise((resolve, reject) => Object.assign(indexedDB.deleteDatabase("queue"), { onsuccess: resolve, onerror: reject })));
        await reload(page);
        const after = await page.evaluate(async () => {
          const refused = await brook.Log.open({ name: "queue" }).then(() => null, (error) => [error.code, error.message]);
          const again = await brook.Log.open({ name: "queue" }).then(() => null, (error) => error.code);
          const log = await brook.Log.open({ name: "queue", evicted: "open" });
          const report = log.recovery();
          const topics = log.topics().length;
          await log.close();
          // Opened again, it is a log like any other.
          const next = await brook.Log.open({ name: "queue" });
          const clean = next.recovery().clean;
          await next.close();
          await brook.deleteLog("queue");
          const fresh = await brook.Log.open({ name: "queue" });
          await fresh.close();
          return { refused, again, evicted: report.evicted, clean: report.clean, topics, cleanAfter: clean };
        });
        assert.equal(after.refused[0], "STORAGE_EVICTED");
        assert.match(after.refused[1], /evicted: "open"/);
        assert.equal(after.again, "STORAGE_EVICTED", "until the app says what to do");
        assert.equal(after.clean, false);
        assert.ok(after.evicted.created > 0);
        assert.equal(after.topics, 0);
        assert.equal(after.cleanAfter, true);
        assert.deepEqual(await page.errors(), []);
      } finally {
        await context.close();
      }
    });

    test("shared tabs: a client tab's consumer dead-letters through the owner, and a client tab's view follows the owner's log", async () => {
      const context = await browser().newContext();
      try {
        const owner = await openPage(context);
        const client = await openPage(context);
        await owner.evaluate(async () => {
          window.log = await brook.Log.open({ name: "shared", share: true });
          await log.createTopic({ topic: "events", partitions: 2 });
          await log.producer().send({ topic: "events", messages: [{ key: "a", value: "1", partition: 0 }, { key: "b", value: "poison", partition: 1 }, { key: "a", value: "2", partition: 0 }, { key: "c", value: "3", partition: 1 }] });
        });
        const result = await client.evaluate(async () => {
          window.log = await brook.Log.open({ name: "shared", share: true });
          const decoder = new TextDecoder();
          window.seen = [];
          const consumer = log.consumer({ groupId: "g", autoCommit: false, deadLetter: { topic: "dead", maxAttempts: 2 } });
          await consumer.subscribe({ topic: "events", fromBeginning: true });
          await consumer.run({
            eachMessage: async ({ message }) => {
              seen.push(`${decoder.decode(message.value)}#${message.attempts}`);
              if (decoder.decode(message.value) === "poison") throw new Error("bad");
              await consumer.commit(message);
            },
          });
          const view = log.view({ topic: "events", groupId: "v" });
          await view.ready;
          const entries = [...view.entries()].sort();
          for (let i = 0; i < 200 && !seen.includes("3#1"); i++) await new Promise((resolve) => setTimeout(resolve, 25));
          await consumer.disconnect();
          await view.close();
          return { remote: log instanceof brook.RemoteLog, seen, entries };
        });
        assert.equal(result.remote, true);
        assert.deepEqual(result.seen.filter((s) => s.startsWith("poison")), ["poison#1", "poison#2"]);
        assert.ok(result.seen.includes("3#1"), "its partition went on");
        assert.deepEqual(result.entries, [["a", "2"], ["b", "poison"], ["c", "3"]]);
        const dead = await owner.evaluate(async () => {
          const reader = log.consumer({ groupId: "reader", fromBeginning: true });
          await reader.subscribe({ topic: "dead" });
          const messages = await reader.poll();
          await log.close();
          const decoder = new TextDecoder();
          return messages.map((m) => [decoder.decode(m.value), decoder.decode(m.headers["brook.dlq.attempts"])]);
        });
        assert.deepEqual(dead, [["poison", "2"]]);
        assert.deepEqual([...(await owner.errors()), ...(await client.errors())], []);
      } finally {
        await context.close();
      }
    });

    test("persist and evicted are checked; a memory log reports not persisted", async () => {
      const context = await browser().newContext();
      try {
        const page = await openPage(context);
        const codes = await page.evaluate(async () => {
          const code = (options) => brook.Log.open(options).then(() => "opened", (error) => error.code);
          const memory = await brook.Log.open();
          const storage = await memory.storage();
          await memory.close();
          return [await code({ persist: true }), await code({ name: "x", persist: "yes" }), await code({ name: "x", evicted: "ignore" }), storage.persisted];
        });
        assert.deepEqual(codes, ["INVALID_ARGUMENT", "INVALID_ARGUMENT", "INVALID_ARGUMENT", false]);
      } finally {
        await context.close();
      }
    });
  });
}
