// The demo's Kafka side, against a real Kafka-protocol broker (Tansu) on loopback through
// `brook relay`: the page's events reach Kafka on the same partition numbers, and without a
// relay the page says how to start one. Chromium only: the relay and syncTo run in all three
// engines in tests/browser/sync.test.mjs; this is the page's panel.
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { after, before, test } from "node:test";
import { startServer } from "../../scripts/serve.mjs";
import { startTansu } from "../../bench/lib/servers.mjs";
import { startRelay } from "../../js/relay.js";
import { launch } from "../lib/engines.mjs";

const TOKEN = "demo-test-relay-token";
let server;
let url;
let browser;

before(async () => {
  ({ server, url } = await startServer(0));
  browser = await launch("chromium");
});

after(async () => {
  await browser?.close();
  server?.close();
});

async function openDemo(query) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.setViewport(1280, 900);
  await page.goto(`${url}?${query}`);
  await page.waitFor(() => document.body?.dataset.ready === "true", null, { timeout: 15_000 });
  return { page, context };
}

test("with a relay on localhost, the page's events reach Kafka on the same partition numbers", { timeout: 120_000 }, async (t) => {
  const tansu = await startTansu();
  t.after(() => tansu.stop());
  const relay = await startRelay({ kafka: { brokers: [tansu.broker] }, token: TOKEN, port: 0, allowOrigin: new URL(url).origin });
  t.after(() => relay.close());
  const { page, context } = await openDemo(`relay=${encodeURIComponent(relay.url)}&token=${TOKEN}`);
  t.after(() => context.close());
  for (const key of ["foobar", "abc-123", "21", "ghi-789"]) {
    await page.fill("#send-key", key);
    await page.click('#send-form button[type="submit"]');
    await page.waitFor((key) => document.querySelector("#send-result").textContent.includes(key), key);
  }
  const rows = await page.waitFor(() => {
    const rows = [...document.querySelectorAll("#kafka-table tbody tr")].map((row) => ({ ...row.dataset }));
    const total = rows.reduce((sum, row) => sum + Number(row.brook), 0);
    return rows.length === 3 && total === 4 && rows.every((row) => row.kafka === row.brook) ? rows : null;
  }, null, { timeout: 60_000 });
  // Kafka's partitioner: "foobar" and "21" on 0, "abc-123" on 1 — in brook and in Kafka.
  assert.equal(rows.find((row) => row.partition === "0").kafka, String(Number(rows.find((row) => row.partition === "0").brook)));
  assert.ok(Number(rows.find((row) => row.partition === "0").kafka) >= 2);
  assert.ok(Number(rows.find((row) => row.partition === "1").kafka) >= 1);
  assert.equal(await page.attribute("#relay-status", "data-state"), "syncing");
  assert.deepEqual(await page.errors(), []);
});

test("without a relay, the page says how to start one", async (t) => {
  // A port nothing listens on: taken, then let go.
  const probe = createServer();
  await new Promise((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  const { page, context } = await openDemo(`relay=http://127.0.0.1:${port}`);
  t.after(() => context.close());
  await page.waitFor(() => document.querySelector("#relay-status").dataset.state === "absent");
  assert.match(await page.text("#relay-status"), /No relay answers at http:\/\/127\.0\.0\.1:\d+\. .*npx brook relay --brokers 127\.0\.0\.1:9092 --allow-origin http:\/\/127\.0\.0\.1:\d+/);
  // The browser itself logs the refused connection; nothing else may be logged.
  assert.deepEqual((await page.errors()).filter((e) => !/ERR_CONNECTION_REFUSED/.test(e)), []);
});
