// syncTo in real browsers (Chromium, Firefox, WebKit): a page's IndexedDB log uploads through
// the relay (another origin: CORS with a token) to a Kafka-protocol broker (Tansu). Records
// sent while the relay is down wait and flow when it is up; a page closed in the middle of the
// upload resumes on its next load: every record in Kafka once, each partition in order.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startServer } from "../../scripts/serve.mjs";
import { enginesUnderTest } from "../lib/engines.mjs";
import { browserFor, openTestPage } from "../lib/test-page.mjs";
import { freePort, startTansu } from "../../bench/lib/servers.mjs";
import { startRelay } from "../../js/relay.js";
import { assertPartitionsInOrder, readKafka } from "../lib/kafka.mjs";

const TOKEN = "a-shared-secret-of-some-length";
let server;
let url;
let tansu;

before(async () => {
  ({ server, url } = await startServer(0, { extra: ["/tests/browser/"] }));
  url = url.replace(/www\/$/, "tests/browser/page.html");
  tansu = await startTansu();
});

after(async () => {
  server?.close();
  await tansu?.stop();
});

async function until(read, done, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!done(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    value = await read();
  }
  return value;
}


for (const engine of enginesUnderTest()) {
  describe(engine, () => {
    const browser = browserFor(engine);

    test("a page's records wait offline, go up through the relay, and a page closed mid-upload resumes on its next load", { timeout: 180_000 }, async () => {
      const topic = `outbox-${engine}`;
      const port = await freePort();
      const relayUrl = `http://127.0.0.1:${port}`;
      const context = await browser().newContext();
      try {
        const startSync = async (page, extra) =>
          page.evaluate(
            async ({ relayUrl, token, topic, extra }) => {
              const log = await brook.Log.open({ name: "shop", waitForLock: true });
              if (!log.topics().some((t) => t.topic === topic)) await log.createTopic({ topic, partitions: 2 });
              window.log = log;
              const waiting = log.lag({ groupId: "brook-sync", topic }).reduce((n, p) => n + p.lag, 0);
              window.sync = brook.syncTo(log, relayUrl, { token, topics: [topic], maxRequestBytes: 400, retry: { initialMs: 50, maxMs: 300 } });
              if (extra > 0) {
                const messages = Array.from({ length: extra }, (_, i) => ({ key: `k${i % 3}`, value: `v${window.sent + i}` }));
                await log.producer().send({ topic, messages });
              }
              return waiting;
            },
            { relayUrl, token: TOKEN, topic, extra },
          );
        const lagOf = (page) => page.evaluate((topic) => window.log.lag({ groupId: "brook-sync", topic }).reduce((n, p) => n + p.lag, 0), topic);

        let page = await openTestPage(context, url);
        await page.evaluate(() => (window.sent = 0));
        await startSync(page, 40);
        assert.equal(await until(() => page.evaluate(() => window.sync.state), (s) => s === "offline"), "offline");
        assert.equal(await lagOf(page), 40, "waiting in IndexedDB");

        const relay = await startRelay({ kafka: { brokers: [tansu.broker] }, token: TOKEN, port });
        try {
          assert.equal(await until(() => lagOf(page), (lag) => lag === 0), 0, "went up once the relay was there");
          // More records, and the page closes while they go up.
          await page.evaluate(async (topic) => {
            const messages = Array.from({ length: 300 }, (_, i) => ({ key: `k${i % 3}`, value: `v${40 + i}` }));
            await window.log.producer().send({ topic, messages });
          }, topic);
          await until(() => lagOf(page), (lag) => lag < 300);
          await page.close();

          page = await openTestPage(context, url);
          await page.evaluate(() => (window.sent = 340));
          const waitingAtReload = await startSync(page, 0);
          assert.ok(waitingAtReload > 0 && waitingAtReload < 300, `closed mid-upload (${waitingAtReload} waiting)`);
          assert.equal(await until(() => lagOf(page), (lag) => lag === 0, 60_000), 0, "the rest went up after the reload");
          assert.deepEqual(await page.errors(), []);
          await page.evaluate(async () => {
            await window.sync.stop();
            await window.log.close();
          });
        } finally {
          await relay.close();
        }
        const seen = await readKafka(tansu.broker, topic, 340);
        const values = seen.map((r) => r.value);
        assert.equal(new Set(values).size, 340, "every record");
        assert.equal(values.length, 340, "none twice: the relay knew this page's uploads");
        assertPartitionsInOrder(seen, 2);
      } finally {
        await context.close();
      }
    });
  });
}
