// The packed npm tarball, installed into fresh apps the way a user would: Node ESM, a plain
// browser page with an import map (the .wasm fetched relative to the module), and a Vite
// build, the pages in every engine of tests/lib/engines.mjs. Nothing here imports from the
// source tree.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, readdirSync } from "node:fs";
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, extname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { enginesUnderTest, launch } from "../lib/engines.mjs";

const repo = resolve(fileURLToPath(new URL("../..", import.meta.url)));
let work;
let app;

function run(command, args, cwd) {
  const result = spawnSync(command, args, { cwd, encoding: "utf8", env: { ...process.env, npm_config_audit: "false", npm_config_fund: "false" } });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(" ")} failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
  }
  return result.stdout;
}

before(() => {
  work = mkdtempSync(join(tmpdir(), "brook-pack-"));
  // `npm pack` runs the prepack build, as it would for a release.
  const output = run("npm", ["pack", "--json", "--pack-destination", work], repo);
  const [{ filename, files }] = JSON.parse(output.slice(output.indexOf("[")));
  const paths = files.map((f) => f.path);
  for (const needed of ["js/node.js", "js/browser.js", "js/brook.js", "pkg/brook_core.js", "pkg/brook_core_bg.wasm", "pkg/node/brook_core.js", "pkg/node/brook_core_bg.wasm", "index.d.ts", "package.json"]) {
    assert.ok(paths.includes(needed), `tarball holds ${needed}: ${paths.join(", ")}`);
  }
  assert.ok(!paths.some((p) => p.startsWith("src/") || p.startsWith("target/")), "no sources or build output in the tarball");
  app = join(work, "app");
  mkdirSync(app);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  run("npm", ["install", "--no-audit", "--no-fund", join(work, filename)], app);
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

// What every app below does: keyed and explicit sends, then a consumer group reads them back.
const story = `
  await log.createTopic({ topic: "inventory", partitions: 3 });
  const producer = log.producer();
  const sent = await producer.send({ topic: "inventory", messages: [
    { key: "abc-123", value: JSON.stringify({ action: "new_product", stock: 2 }) },
    { value: "no key", partition: 2, headers: { source: "web" } },
  ]});
  const consumer = log.consumer({ groupId: "app", autoCommit: false });
  await consumer.subscribe({ topics: ["inventory"], fromBeginning: true });
  const messages = await consumer.poll({ maxRecords: 10 });
  const decoder = new TextDecoder();
  const result = {
    sent: sent.map((s) => [s.partition, s.offset]),
    read: messages.map((m) => [m.partition, m.offset, decoder.decode(m.value)]).sort(),
    header: decoder.decode(messages.find((m) => m.partition === 2).headers.source),
  };
  await consumer.disconnect();
`;
const expected = {
  sent: [[1, 0], [2, 0]],
  read: [[1, 0, '{"action":"new_product","stock":2}'], [2, 0, "no key"]],
  header: "web",
};

test("Node ESM app: file storage through the installed package", () => {
  const data = join(work, "data");
  writeFileSync(join(app, "node-app.mjs"), `
    import { Log, BrookError } from "brook";
    const log = await Log.open({ path: ${JSON.stringify(data)} });
    ${story}
    let code = null;
    try { await log.createTopic({ topic: "inventory", partitions: 3 }); } catch (e) { code = e instanceof BrookError && e.code; }
    await log.close();
    const again = await Log.open({ path: ${JSON.stringify(data)} });
    result.reopened = again.offsets("inventory").map((o) => o.high);
    await again.close();
    result.code = code;
    console.log(JSON.stringify(result));
  `);
  const result = JSON.parse(run("node", ["node-app.mjs"], app));
  assert.deepEqual(result, { ...expected, code: "TOPIC_ALREADY_EXISTS", reopened: [0, 1, 1] });
  assert.ok(readdirSync(data).includes("inventory-1"), "segments are on disk");
});

// KafkaJS's getting-started calls through brook/kafkajs, as an app that moved from KafkaJS has them.
const kafkaStory = `
  const kafka = new Kafka({ clientId: "my-app", brokers: ["localhost:9092"], logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  const sent = await producer.send({ topic: "test-topic", messages: [{ key: "k1", value: "Hello KafkaJS user!" }] });
  const consumer = kafka.consumer({ groupId: "test-group" });
  await consumer.connect();
  await consumer.subscribe({ topic: "test-topic", fromBeginning: true });
  const message = await new Promise((resolve) => consumer.run({ eachMessage: async ({ message }) => resolve(message) }));
  const result = { sent: sent[0].baseOffset, offset: message.offset, key: message.key.toString(), value: message.value.toString(), isUint8Array: message.value instanceof Uint8Array };
  await consumer.disconnect();
  await producer.disconnect();
`;
const kafkaExpected = { sent: "0", offset: "0", key: "k1", value: "Hello KafkaJS user!", isUint8Array: true };

test("Node ESM app: brook/kafkajs runs KafkaJS's getting-started calls, with Buffers", () => {
  writeFileSync(join(app, "kafka-app.mjs"), `
    import { Kafka, logLevel } from "brook/kafkajs";
    ${kafkaStory}
    result.isBuffer = Buffer.isBuffer(message.value);
    console.log(JSON.stringify(result));
  `);
  assert.deepEqual(JSON.parse(run("node", ["kafka-app.mjs"], app)), { ...kafkaExpected, isBuffer: true });
});

const browserPage = (importMap) => `<!doctype html><meta charset="utf-8"><title>brook</title><link rel="icon" href="data:,">
  ${importMap}
  <script type="module">
    import { Log } from "brook";
    try {
      const log = await Log.open();
      ${story}
      await log.close();
      window.__result = result;
    } catch (error) {
      window.__result = { error: String(error && error.stack || error) };
    }
  </script>`;

const types = { ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm", ".json": "application/json" };

async function serve(root) {
  const server = createServer(async (request, response) => {
    const path = decodeURIComponent(new URL(request.url, "http://x").pathname);
    const file = join(root, path.endsWith("/") ? path + "index.html" : path);
    if (!file.startsWith(root)) return response.writeHead(403).end();
    try {
      const body = await readFile(file);
      response.writeHead(200, { "content-type": types[extname(file)] || "application/octet-stream" }).end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  return { server, url: `http://127.0.0.1:${server.address().port}/` };
}

async function resultOfPage(engine, root, pagePath) {
  const { server, url } = await serve(root);
  const browser = await launch(engine);
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(url + pagePath);
    const result = await page.waitFor(() => window.__result, null, { timeout: 20_000 });
    assert.deepEqual(await page.errors(), []);
    await context.close();
    return result;
  } finally {
    await browser.close();
    server.close();
  }
}

let viteSite = null;

/** The Vite build of a page that imports brook (built once, served to every engine). */
function viteBuild() {
  if (viteSite) return viteSite;
  const site = join(app, "vite-site");
  mkdirSync(site, { recursive: true });
  writeFileSync(join(site, "index.html"), browserPage(""));
  // Vite from this repository's devDependencies, building the app's own copy of brook.
  execFileSync(process.execPath, [join(repo, "node_modules/vite/bin/vite.js"), "build", "--logLevel", "warn"], { cwd: site, stdio: "pipe" });
  const assets = readdirSync(join(site, "dist/assets"));
  assert.ok(assets.some((name) => name.endsWith(".wasm")), `Vite emitted the wasm: ${assets}`);
  viteSite = join(site, "dist");
  return viteSite;
}

for (const engine of enginesUnderTest()) {
  test(`plain browser page in ${engine}: import map, .wasm fetched relative to the module`, async () => {
    const importMap = `<script type="importmap">{ "imports": { "brook": "./node_modules/brook/js/browser.js" } }</script>`;
    writeFileSync(join(app, "index.html"), browserPage(importMap));
    assert.deepEqual(await resultOfPage(engine, app, "index.html"), expected);
  });

  test(`plain browser page in ${engine}: brook/kafkajs, bytes whose toString() decodes UTF-8`, async () => {
    const importMap = `<script type="importmap">{ "imports": { "brook/kafkajs": "./node_modules/brook/js/kafkajs-browser.js" } }</script>`;
    writeFileSync(join(app, "kafka.html"), `<!doctype html><meta charset="utf-8"><title>brook</title><link rel="icon" href="data:,">
      ${importMap}
      <script type="module">
        import { Kafka, logLevel } from "brook/kafkajs";
        try {
          ${kafkaStory}
          window.__result = result;
        } catch (error) {
          window.__result = { error: String(error && error.stack || error) };
        }
      </script>`);
    assert.deepEqual(await resultOfPage(engine, app, "kafka.html"), kafkaExpected);
  });

  test(`Vite build of an app that imports brook, in ${engine}`, async () => {
    assert.deepEqual(await resultOfPage(engine, viteBuild(), "index.html"), expected);
  });
}
