// Shared by the JS tests: temporary log directories, child processes, text of byte fields.

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { WasmLog } from "../../pkg/node/brook_core.js";

const decoder = new TextDecoder();

/** A fresh directory, removed when the test ends. */
export function tempDir(t) {
  const path = mkdtempSync(join(tmpdir(), "brook-test-"));
  t.after(() => rmSync(path, { recursive: true, force: true }));
  return path;
}

export function text(bytes) {
  return bytes === null ? null : decoder.decode(bytes);
}

/** Runs tests/js/fixtures/<name> in a child node; its stdout comes back line by line. */
export function spawnFixture(t, name, args) {
  const script = fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
  const child = spawn(process.execPath, [script, ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exit = new Promise((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  t.after(() => child.kill("SIGKILL"));
  return { child, lines: createInterface({ input: child.stdout }), exit };
}

/** Resolves once `predicate()` holds, checking every few milliseconds; fails after `timeoutMs`. */
export async function eventually(predicate, timeoutMs = 2000) {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Sends `count` messages to each partition of `topic`, values "p<partition>-<i>". */
export async function fillPartitions(log, topic, partitions, count) {
  const messages = [];
  for (let partition = 0; partition < partitions; partition++) {
    for (let i = 0; i < count; i++) messages.push({ partition, value: `p${partition}-${i}` });
  }
  return log.producer().send({ topic, messages });
}

/** Counts calls of the wasm log's `names` methods (test instrumentation of the generated class). */
export function countCalls(t, names) {
  const counts = Object.fromEntries(names.map((name) => [name, 0]));
  for (const name of names) {
    const original = WasmLog.prototype[name];
    WasmLog.prototype[name] = function (...args) {
      counts[name] += 1;
      return original.apply(this, args);
    };
    t.after(() => (WasmLog.prototype[name] = original));
  }
  return counts;
}
