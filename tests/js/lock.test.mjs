// The lock of a file log: exactly one open Log per directory, whoever races for it — processes,
// worker threads of one process, aliases of one directory — and a holder that died never locks
// a user out, while a live one (even a thread of this very process) is never taken over.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { Worker } from "node:worker_threads";
import { BrookError, Log } from "../../js/node.js";
import { spawnFixture, tempDir, text } from "./helpers.mjs";

async function assertLocked(path, pattern) {
  await assert.rejects(Log.open({ path }), (error) => {
    assert.ok(error instanceof BrookError, String(error));
    assert.equal(error.code, "LOG_LOCKED");
    assert.match(error.message, pattern);
    return true;
  });
}

/** Starts `processes` children that each open `path` from `threads` workers and their main
 * thread at one instant; resolves with every opener's line and the children (still running). */
async function race(t, path, processes, threads) {
  const startAt = Date.now() + 700;
  const children = [];
  const lines = [];
  for (let index = 0; index < processes; index++) {
    const child = spawnFixture(t, "open-race.mjs", [path, String(threads), String(startAt)]);
    children.push(child);
    child.lines.on("line", (line) => lines.push(line));
  }
  const expected = processes * (threads + 1);
  const deadline = Date.now() + 15_000;
  while (lines.length < expected && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return { lines, children };
}

test("openers racing from processes and worker threads: exactly one wins, every time, also over a dead holder's lock", async (t) => {
  const path = tempDir(t);
  const log = await Log.open({ path });
  await log.createTopic({ topic: "events", partitions: 1 });
  await log.producer().send({ topic: "events", messages: [{ value: "before the races" }] });
  await log.close();
  for (let trial = 0; trial < 8; trial++) {
    const { lines, children } = await race(t, path, 3, 2);
    assert.equal(lines.length, 9, `trial ${trial}: every opener answered: ${lines}`);
    const won = lines.filter((line) => line.startsWith("won"));
    const locked = lines.filter((line) => line.startsWith("locked"));
    assert.equal(won.length, 1, `trial ${trial}: ${lines.join(", ")}`);
    assert.equal(locked.length, 8, `trial ${trial}: ${lines.join(", ")}`);
    // The winner dies holding the lock: the next trial races over a stale lock.
    for (const child of children) child.child.kill("SIGKILL");
    await Promise.all(children.map((child) => child.exit));
  }
  const reopened = await Log.open({ path });
  t.after(() => reopened.close());
  const consumer = reopened.consumer({ groupId: "check", fromBeginning: true });
  await consumer.subscribe({ topic: "events" });
  assert.deepEqual((await consumer.poll()).map((m) => text(m.value)), ["before the races"]);
  const lockFiles = readdirSync(path).filter((name) => name.startsWith("LOCK"));
  assert.ok(lockFiles.length <= 3, `old lock generations are cleaned up: ${lockFiles}`);
});

/** Runs `source` (an ES module body) in a worker thread; resolves with what it posts. */
function inWorker(source, data) {
  const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(source)}`), {
    workerData: data,
  });
  return new Promise((resolve, reject) => {
    worker.once("message", (message) => {
      worker.terminate();
      resolve(message);
    });
    worker.once("error", reject);
  });
}

const OPEN_IN_WORKER = `
  import { parentPort, workerData } from "node:worker_threads";
  const { Log } = await import(workerData.brook);
  try {
    const log = await Log.open({ path: workerData.path });
    const [{ offset }] = await log.producer().send({ topic: "events", messages: [{ value: "from the worker" }] });
    await log.close();
    parentPort.postMessage({ offset });
  } catch (error) {
    parentPort.postMessage({ code: error.code, message: error.message });
  }
`;

test("a worker thread cannot open a log that the main thread holds (they share the pid)", async (t) => {
  const path = tempDir(t);
  const log = await Log.open({ path });
  await log.createTopic({ topic: "events", partitions: 1 });
  const brook = new URL("../../js/node.js", import.meta.url).href;
  const refused = await inWorker(OPEN_IN_WORKER, { path, brook });
  assert.equal(refused.code, "LOG_LOCKED", refused.message);
  assert.match(refused.message, /already open in this process \(thread 0/);
  // The refused open took nothing away: this thread still writes, then lets go.
  await log.producer().send({ topic: "events", messages: [{ value: "main" }] });
  await log.close();
  assert.deepEqual(await inWorker(OPEN_IN_WORKER, { path, brook }), { offset: 1 });
});

test("a second open through another name of the directory (symlink, bind mount) is refused, and its failure keeps the first lock", async (t) => {
  const root = tempDir(t);
  const path = join(root, "log");
  mkdirSync(path);
  const alias = join(root, "alias");
  symlinkSync(path, alias);
  const log = await Log.open({ path });
  t.after(() => log.close());
  for (const spelling of [alias, `${alias}/`, `${path}/./`, join(root, ".", "log")]) {
    await assertLocked(spelling, /already open in this process/);
  }
  let mounted = null;
  try {
    const target = join(root, "mount");
    mkdirSync(target);
    execFileSync("mount", ["--bind", path, target], { stdio: "ignore" });
    mounted = target;
  } catch {
    t.diagnostic("bind mounts are not permitted here; the symlink spellings stand in for them");
  }
  if (mounted !== null) {
    try {
      await assertLocked(mounted, /already open in this process/);
    } finally {
      execFileSync("umount", [mounted]);
    }
  }
  await assertLocked(path, /already open in this process/);
});

/** Writes a lock generation naming `holder` (what a brook that died or runs elsewhere left). */
function writeLock(path, generation, holder) {
  const name = `LOCK.${String(generation).padStart(20, "0")}`;
  writeFileSync(join(path, name), holder === "free" ? "free" : `held ${JSON.stringify(holder)}`);
}

function me() {
  const stat = readFileSync(`/proc/${process.pid}/stat`, "utf8");
  const start = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  const boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  return { pid: process.pid, start, boot, host: hostname(), thread: 0, token: "t" };
}

test("a lock whose holder is gone is taken over: a dead pid, a reused pid, our pid from before a restart, another boot", async (t) => {
  const { child, exit } = spawnFixture(t, "hold-lock.mjs", [tempDir(t)]);
  await new Promise((resolve) => setTimeout(resolve, 50));
  const reusedPid = { ...me(), pid: child.pid, start: "1" };
  const cases = {
    "a dead pid": { ...me(), pid: 2 ** 22 + 17, start: "5" },
    "a pid now running something else": reusedPid,
    "this pid before a container restart": { ...me(), start: "1" },
    "another boot": { ...me(), boot: "00000000-0000-0000-0000-000000000000" },
  };
  for (const [label, holder] of Object.entries(cases)) {
    const path = tempDir(t);
    writeLock(path, 7, holder);
    const log = await Log.open({ path });
    await log.createTopic({ topic: "events", partitions: 1 });
    await log.close();
    assert.ok(readdirSync(path).includes(`LOCK.${"9".padStart(20, "0")}`), `${label}: released as 9`);
  }
  child.kill("SIGKILL");
  await exit;
});

test("a lock held by this process, or by another host, is never taken over", async (t) => {
  const path = tempDir(t);
  writeLock(path, 3, { ...me(), thread: 4 });
  await assertLocked(path, /already open in this process \(thread 4, or another copy of brook\)/);
  writeLock(path, 4, { ...me(), host: "elsewhere.example" });
  await assertLocked(path, /open in process \d+, thread 0 on elsewhere\.example.*delete .*LOCK\.0+4/);
  writeLock(path, 5, "free");
  const log = await Log.open({ path });
  await log.close();
});

test("brook 0.1's LOCK file: a live pid in it keeps the log locked; empty, garbled, dead or our own pid does not", async (t) => {
  const path = tempDir(t);
  const { child, lines, exit } = spawnFixture(t, "sleep.mjs", []);
  await new Promise((resolve) => lines.once("line", resolve));
  writeFileSync(join(path, "LOCK"), `${child.pid}\n`);
  await assertLocked(path, new RegExp(`open in process ${child.pid} \\(an older brook\\)`));
  for (const contents of ["", "not a pid", `${process.pid}\n`, `${2 ** 22 + 17}\n`]) {
    writeFileSync(join(path, "LOCK"), contents);
    const log = await Log.open({ path });
    // While open, brook 0.1 finds this live pid in LOCK and stays out.
    assert.equal(readFileSync(join(path, "LOCK"), "utf8"), `${process.pid}\n`);
    await log.close();
  }
  child.kill("SIGKILL");
  await exit;
});

test("a process holding the lock is named; once it is killed, the lock is taken over", async (t) => {
  const path = tempDir(t);
  const { child, lines, exit } = spawnFixture(t, "hold-lock.mjs", [path]);
  await new Promise((resolve) => lines.once("line", resolve));
  await assertLocked(path, new RegExp(`open in process ${child.pid}, thread 0`));
  child.kill("SIGKILL");
  await exit;
  const log = await Log.open({ path });
  await log.close();
});
