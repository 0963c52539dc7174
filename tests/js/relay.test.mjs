// The relay (js/relay.js) and syncTo (js/sync.js) against a Kafka-protocol broker (Tansu) on
// loopback: records produced while the relay is down wait in the log and flow when it is up;
// a relay stopped mid-upload and started again gets everything, each partition in order;
// tokens, sizes and bodies are checked. (tests/browser has the page-side story.)

import assert from "node:assert/strict";
import { connect } from "node:net";
import { test } from "node:test";
import { Log, syncTo } from "../../js/node.js";
import { startRelay } from "../../js/relay.js";
import { freePort, startTansu } from "../../bench/lib/servers.mjs";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { eventually } from "./helpers.mjs";
import { assertPartitionsInOrder, readKafka } from "../lib/kafka.mjs";

const TOKEN = "a-shared-secret-of-some-length";
const TIMEOUT = { timeout: 120_000 };


function keyed(count, from = 0) {
  return Array.from({ length: count }, (_, i) => ({ key: `k${(from + i) % 5}`, value: `v${from + i}`, headers: { h: `h${from + i}` } }));
}


test("offline first: records wait while the relay is down, flow when it is up, and survive its restart mid-upload", TIMEOUT, async (t) => {
  const tansu = await startTansu();
  t.after(() => tansu.stop());
  const log = await Log.open();
  t.after(() => log.close());
  await log.createTopic({ topic: "events", partitions: 3 });
  const placed = await log.producer().send({ topic: "events", messages: keyed(300) });
  const port = await freePort();
  const sync = syncTo(log, `http://127.0.0.1:${port}`, { token: TOKEN, topics: ["events"], clientId: "device-1", maxRequestBytes: 2000, retry: { initialMs: 50, maxMs: 200 } });
  t.after(() => sync.stop());
  const states = [];
  sync.on("state", (state) => states.push(state));
  await eventually(() => sync.state === "offline", 10_000);
  assert.equal(log.lag({ groupId: "brook-sync", topic: "events" }).reduce((n, p) => n + p.lag, 0), 300, "nothing committed while offline");

  let relay = await startRelay({ kafka: { brokers: [tansu.broker] }, token: TOKEN, port });
  // Stopped once part of the log went up, then started again.
  await eventually(() => log.lag({ groupId: "brook-sync", topic: "events" }).reduce((n, p) => n + p.lag, 0) < 300, 30_000);
  await relay.close();
  await log.producer().send({ topic: "events", messages: keyed(50, 300) });
  await eventually(() => sync.state === "offline", 10_000);
  relay = await startRelay({ kafka: { brokers: [tansu.broker] }, token: TOKEN, port });
  t.after(() => relay.close());
  await eventually(() => log.lag({ groupId: "brook-sync", topic: "events" }).every((p) => p.lag === 0), 30_000);
  assert.equal(sync.state, "syncing");
  assert.ok(states.includes("offline") && states.includes("syncing"));

  const seen = await readKafka(tansu.broker, "events", 350);
  assert.equal(new Set(seen.map((r) => r.value)).size, 350, "everything reached Kafka");
  const partitionOf = Object.fromEntries(placed.map((p, i) => [`v${i}`, p.partition]));
  for (const r of seen.filter((s) => Number(s.value.slice(1)) < 300)) assert.equal(r.partition, partitionOf[r.value], "same partition");
  for (const r of seen) assert.equal(r.headers.h, `h${r.value.slice(1)}`);
  assertPartitionsInOrder(seen, 3);
});

test("a page that uploads again what it could not commit is not written twice (the relay remembers the client)", TIMEOUT, async (t) => {
  const tansu = await startTansu();
  t.after(() => tansu.stop());
  const relay = await startRelay({ kafka: { brokers: [tansu.broker] }, token: TOKEN, port: 0 });
  t.after(() => relay.close());
  const upload = (records) =>
    fetch(`${relay.url}/v1/produce`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ client: "c", topic: "twice", partition: 0, partitions: 1, records }),
    });
  const records = (from, to) => Array.from({ length: to - from }, (_, i) => ({ offset: from + i, key: null, value: btoa(`v${from + i}`), timestamp: 1 }));
  for (const [from, to, next] of [[0, 5, 5], [0, 5, 5], [3, 8, 8], [8, 10, 10]]) {
    const response = await upload(records(from, to));
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { next });
  }
  const seen = await readKafka(tansu.broker, "twice", 10);
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.deepEqual(seen.map((r) => r.value), Array.from({ length: 10 }, (_, i) => `v${i}`));
  // The status a page shows: the topic's partitions in Kafka and their high watermarks.
  const status = (topic, token = TOKEN) => fetch(`${relay.url}/v1/status?topic=${topic}`, { headers: { authorization: `Bearer ${token}` } });
  assert.deepEqual(await (await status("twice")).json(), { partitions: [{ partition: 0, high: 10 }] });
  assert.deepEqual(await (await status("not-there")).json(), { partitions: [] });
  assert.equal((await status("twice", "wrong-token-wrong-token")).status, 401);
  assert.equal((await status("..%2F")).status, 400);
});

test("the relay checks tokens, sizes, bodies and load; syncTo reports a refusal", TIMEOUT, async (t) => {
  const relay = await startRelay({ kafka: { brokers: ["127.0.0.1:1"] }, token: TOKEN, port: 0, maxBodyBytes: 1000 });
  t.after(() => relay.close());
  const post = (body, token = TOKEN) =>
    fetch(`${relay.url}/v1/produce`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: typeof body === "string" ? body : JSON.stringify(body) });
  const good = { client: "c", topic: "t", partition: 0, partitions: 1, records: [{ offset: 0, key: null, value: null, timestamp: 1 }] };
  assert.equal((await post(good, "wrong-token-wrong-token")).status, 401);
  assert.equal((await post(good, "")).status, 401);
  assert.equal((await post("x".repeat(2000))).status, 413);
  assert.equal((await post("{not json")).status, 400);
  for (const bad of [
    { ...good, client: "" },
    { ...good, topic: 7 },
    { ...good, partition: -1 },
    { ...good, partitions: 0 },
    { ...good, records: [] },
    { ...good, records: [{ offset: 1, timestamp: 1 }, { offset: 1, timestamp: 1 }] },
    { ...good, records: [{ offset: 0, timestamp: -5 }] },
    { ...good, records: [{ offset: 0, timestamp: 1, value: 5 }] },
  ]) {
    assert.equal((await post(bad)).status, 400, JSON.stringify(bad));
  }
  // Kafka unreachable: 503, which syncTo treats as offline (retrying).
  assert.equal((await post(good)).status, 503);
  assert.equal((await fetch(`${relay.url}/v1/status?topic=t`, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 503);
  assert.equal((await fetch(`${relay.url}/elsewhere`)).status, 404);
  // An absolute request target with a bad port: Node passes it on; the relay answers 400.
  const raw = await new Promise((resolve, reject) => {
    const socket = connect(relay.port, "127.0.0.1", () => socket.write("GET http://a:99999/ HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"));
    let text = "";
    socket.on("data", (chunk) => (text += chunk));
    socket.on("end", () => resolve(text));
    socket.on("error", reject);
  });
  assert.match(raw, /^HTTP\/1\.1 400/);
  assert.equal((await fetch(`${relay.url}/elsewhere`)).status, 404, "still serving");
  const preflight = await fetch(`${relay.url}/v1/produce`, { method: "OPTIONS" });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get("access-control-allow-headers"), "authorization, content-type");

  await assert.rejects(startRelay({ kafka: { brokers: ["x:1"] }, token: "short" }), (e) => e.code === "INVALID_ARGUMENT");

  // Back-pressure: past maxInFlight uploads at once (these wait on an unreachable Kafka), 429.
  const narrow = await startRelay({ kafka: { brokers: ["127.0.0.1:1"] }, token: TOKEN, port: 0, maxInFlight: 1 });
  t.after(() => narrow.close());
  const postTo = (body) => fetch(`${narrow.url}/v1/produce`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(body) });
  const [first, second] = await Promise.all([postTo(good), new Promise((resolve) => setTimeout(resolve, 50)).then(() => postTo(good))]);
  assert.deepEqual([first.status, second.status], [503, 429]);
  assert.equal(second.headers.get("retry-after"), "1");
  const log = await Log.open();
  t.after(() => log.close());
  await log.createTopic({ topic: "t", partitions: 1 });
  await log.producer().send({ topic: "t", messages: [{ value: "x" }] });
  const sync = syncTo(log, relay.url, { token: "wrong-token-wrong-token", topics: ["t"], retry: { initialMs: 50, maxMs: 100 } });
  await eventually(() => sync.state === "refused", 10_000);
  assert.match(sync.lastError.message, /401/);
  await sync.stop();
  assert.equal(sync.state, "stopped");
  assert.throws(() => syncTo(log, "not a url", { token: TOKEN, topics: ["t"] }), (e) => e.code === "INVALID_ARGUMENT");
  assert.throws(() => syncTo(log, relay.url, { topics: ["t"] }), (e) => e.code === "INVALID_ARGUMENT");
});

test("brook relay (the command) listens, says where, and refuses a missing token", TIMEOUT, async () => {
  const cli = fileURLToPath(new URL("../../js/cli.js", import.meta.url));
  const refused = spawn(process.execPath, [cli, "relay", "--brokers", "127.0.0.1:1"], { env: { ...process.env, BROOK_RELAY_TOKEN: "" }, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  refused.stderr.on("data", (chunk) => (stderr += chunk));
  assert.equal(await new Promise((resolve) => refused.once("exit", resolve)), 2);
  assert.match(stderr, /token/);
  const port = await freePort();
  const child = spawn(process.execPath, [cli, "relay", "--brokers", "127.0.0.1:1", "--port", String(port)], { env: { ...process.env, BROOK_RELAY_TOKEN: TOKEN }, stdio: ["ignore", "pipe", "inherit"] });
  try {
    const [line] = await new Promise((resolve) => createInterface({ input: child.stdout }).once("line", (l) => resolve([l])));
    assert.equal(line, `brook relay: listening on http://127.0.0.1:${port} (POST /v1/produce)`);
    const response = await fetch(`http://127.0.0.1:${port}/v1/produce`, { method: "POST", body: "{}" });
    assert.equal(response.status, 401);
  } finally {
    child.kill("SIGTERM");
    await new Promise((resolve) => child.once("exit", resolve));
  }
});
