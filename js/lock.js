// The lock of a file log (Node): one open Log per directory at a time — across processes,
// across worker threads of one process, and across two copies of brook in one thread — and a
// crash never locks a user out.
//
// Node has no OS file lock, so the lock is made of files whose creation is atomic and
// exclusive, and whose holder can be checked for life:
//
//   LOCK.<20-digit generation>   "held <identity JSON>" or "free"
//
// The file with the highest generation decides. To acquire, an opener lists the directory,
// reads the highest generation g, and if it is free, or names a holder that no longer runs,
// creates generation g+1 naming itself. Creation is exclusive (a complete temporary file is
// hard-linked to the name, which fails with EEXIST when it exists), so of any number of
// openers that judged g at the same instant exactly one gets g+1; the others read g+1 and
// find it held. Closing creates g+2 "free" the same way. Generation files are only ever
// removed below the highest two, and a winner lists again after creating its file: finding a
// higher generation there means it recreated an old, cleaned-up number after sleeping (SIGSTOP,
// a long GC) and lost, so it removes its file and tries again.
//
// A holder is its pid, the start time of that process (Linux: /proc/<pid>/stat) and the boot
// id, plus the host name, thread id and a random token of this open. A holder is gone when
// its pid does not run, or runs with another start time (the pid was reused, e.g. by a
// restarted container) or under another boot. A lock naming this very process is never taken
// over: another thread, another copy of brook, or a log of this thread that was never closed
// holds it. A lock of another host cannot be checked and is never taken over either.
//
// The file LOCK holds the holder's pid, for brook 0.1 (which knew only that file): while a
// current brook holds the log, 0.1 sees a live pid and refuses to open it too.

import { randomBytes } from "node:crypto";
import {
  closeSync,
  linkSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { threadId } from "node:worker_threads";

const PREFIX = "LOCK.";
const TEMPORARY_PREFIX = "LOCK.tmp-";
const LEGACY_LOCK = "LOCK";
const GENERATION_DIGITS = 20;
/** Rounds of list / judge / create before giving up; each round that loses sleeps a little. */
const ATTEMPTS_MAX = 50;
/** A temporary file this old belongs to an opener that died between writing and linking it. */
const TEMPORARY_AGE_MAX_MS = 60_000;

function lockedError(message) {
  return Object.assign(new Error(message), { code: "LOG_LOCKED" });
}

/** Sleeps the thread (lock() is synchronous: the core calls it while opening). */
function sleepSync(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function readText(path) {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    if (error.code === "ENOENT") return null;
    throw error;
  }
}

/** Linux: when the process started, in clock ticks since boot; null where /proc is missing. */
function processStartTime(pid) {
  const stat = readText(`/proc/${pid}/stat`);
  if (stat === null) return null;
  // The command name (field 2) is in parentheses and may hold spaces; field 22 is the start.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return fields[19] ?? null;
}

let bootId;
function currentBootId() {
  bootId ??= readText("/proc/sys/kernel/random/boot_id")?.trim() ?? null;
  return bootId;
}

let self;
/** This process as a lock holder names it (the token is added per open). */
function selfIdentity() {
  self ??= {
    pid: process.pid,
    start: processStartTime(process.pid),
    boot: currentBootId(),
    host: hostname(),
  };
  return self;
}

function runs(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return error.code === "EPERM";
  }
}

/** "this process", "live" (another process that runs, or cannot be checked) or "gone". */
function holderState(holder) {
  const me = selfIdentity();
  if (holder.host !== me.host) return "live";
  if (holder.boot && me.boot && holder.boot !== me.boot) return "gone";
  if (holder.pid === me.pid && (holder.start ?? null) === me.start) return "this process";
  if (!runs(holder.pid)) return "gone";
  if (holder.start && holder.pid !== me.pid) {
    const start = processStartTime(holder.pid);
    if (start !== null && start !== holder.start) return "gone";
  }
  // Our own pid with another start time: a process before ours (a restarted container).
  if (holder.pid === me.pid) return "gone";
  return "live";
}

function generationName(generation) {
  return PREFIX + String(generation).padStart(GENERATION_DIGITS, "0");
}

/** The generations present, ascending. */
function generations(root) {
  const found = [];
  for (const name of readdirSync(root)) {
    if (!name.startsWith(PREFIX) || name.length !== PREFIX.length + GENERATION_DIGITS) continue;
    const digits = name.slice(PREFIX.length);
    if (/^\d+$/.test(digits)) found.push(Number(digits));
  }
  return found.sort((a, b) => a - b);
}

/** A generation file's contents: { free: true }, { holder }, or null when it vanished. */
function readGeneration(root, generation) {
  const text = readText(join(root, generationName(generation)));
  if (text === null) return null;
  if (text === "free") return { free: true };
  if (text.startsWith("held ")) {
    try {
      const holder = JSON.parse(text.slice(5));
      if (Number.isSafeInteger(holder.pid) && typeof holder.token === "string") return { holder };
    } catch {
      // Falls through: not written by brook.
    }
  }
  return { garbled: text };
}

/** Creates generation `generation` with `text`, atomically; false when it exists already. */
function createGeneration(root, generation, text, token) {
  const temporary = join(root, `${TEMPORARY_PREFIX}${token}-${generation}`);
  writeFileSync(temporary, text, { flag: "wx" });
  try {
    linkSync(temporary, join(root, generationName(generation)));
    return true;
  } catch (error) {
    if (error.code === "EEXIST") return false;
    if (error.code === "ENOENT") return false; // a cleaner removed our temporary file: retry
    if (!["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS", "EXDEV"].includes(error.code)) throw error;
    // A file system without hard links: exclusive create, then write (a reader that finds it
    // empty waits for the writer; see judge()).
    return createExclusively(join(root, generationName(generation)), text);
  } finally {
    try {
      unlinkSync(temporary);
    } catch {
      // Already gone.
    }
  }
}

function createExclusively(path, text) {
  let fd;
  try {
    fd = openSync(path, "wx");
  } catch (error) {
    if (error.code === "EEXIST") return false;
    throw error;
  }
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  return true;
}

function describeHolder(holder) {
  const thread = Number.isInteger(holder.thread) ? `, thread ${holder.thread}` : "";
  return `process ${holder.pid}${thread} on ${holder.host}`;
}

/** Whether generation `current` may be taken over; throws LOG_LOCKED when it may not. */
function judge(root, generation, state) {
  if (state.free) return true;
  if (state.garbled !== undefined) {
    // Only a file system without hard links shows a lock before its contents are written.
    throw lockedError(
      `the log at ${root} has a lock file brook cannot read (${generationName(generation)}); if no process uses the log, delete it`,
    );
  }
  const { holder } = state;
  switch (holderState(holder)) {
    case "gone":
      return true;
    case "this process":
      throw lockedError(
        holder.thread === threadId
          ? `the log at ${root} is already open in this process; close it first`
          : `the log at ${root} is already open in this process (thread ${holder.thread}, or another copy of brook); close it there first`,
      );
    default:
      throw lockedError(
        `the log at ${root} is open in ${describeHolder(holder)}; close it there first (if that process does not use brook, delete ${join(root, generationName(generation))})`,
      );
  }
}

/** brook 0.1's LOCK file naming a live process that holds no generation: an old brook has it. */
function checkLegacyLock(root, holder) {
  const text = readText(join(root, LEGACY_LOCK));
  if (text === null || !/^\d+\n?$/.test(text)) return;
  const pid = Number(text);
  if (pid === process.pid || pid === holder?.pid || !runs(pid)) return;
  throw lockedError(
    `the log at ${root} is open in process ${pid} (an older brook); close it there first (if process ${pid} is not using brook, delete ${join(root, LEGACY_LOCK)})`,
  );
}

/** Removes generations below `keepFrom` and temporary files of openers that died. */
function cleanUp(root, keepFrom) {
  for (const generation of generations(root)) {
    if (generation >= keepFrom) break;
    try {
      unlinkSync(join(root, generationName(generation)));
    } catch {
      // Another opener cleaned it.
    }
  }
  const now = Date.now();
  for (const name of readdirSync(root)) {
    if (!name.startsWith(TEMPORARY_PREFIX)) continue;
    try {
      if (now - statSync(join(root, name)).mtimeMs > TEMPORARY_AGE_MAX_MS) {
        unlinkSync(join(root, name));
      }
    } catch {
      // Gone already.
    }
  }
}

/**
 * Takes the lock of the log directory `root` (which exists); returns its release function.
 * Throws an error with code LOG_LOCKED naming the holder when the log is open elsewhere.
 */
export function acquireLock(root) {
  const token = randomBytes(12).toString("hex");
  const identity = { ...selfIdentity(), thread: threadId, token };
  const text = `held ${JSON.stringify(identity)}`;
  for (let attempt = 0; attempt < ATTEMPTS_MAX; attempt++) {
    const present = generations(root);
    const highest = present.at(-1) ?? 0;
    let state = present.length === 0 ? { free: true } : readGeneration(root, highest);
    if (state === null) continue; // cleaned up under us: look again
    if (state.garbled === "") {
      // Written without hard links and not yet filled in: give its writer a moment.
      sleepSync(5);
      state = readGeneration(root, highest) ?? { free: false, garbled: "" };
    }
    checkLegacyLock(root, state.holder);
    if (!judge(root, highest, state)) continue;
    const mine = highest + 1;
    if (!createGeneration(root, mine, text, token)) {
      sleepSync(1 + Math.random() * 4);
      continue;
    }
    // A higher generation than ours: we recreated a number that was cleaned up long ago.
    if (generations(root).at(-1) !== mine) {
      unlinkSync(join(root, generationName(mine)));
      continue;
    }
    cleanUp(root, mine - 1);
    writeFileSync(join(root, LEGACY_LOCK), `${process.pid}\n`);
    return () => release(root, mine, token);
  }
  throw lockedError(`the log at ${root} is being opened by other processes at this instant; try again`);
}

/** Marks the lock free (generation + 1), unless another opener took it over meanwhile. */
function release(root, generation, token) {
  try {
    const state = readGeneration(root, generation);
    if (state?.holder?.token !== token || generations(root).at(-1) !== generation) return;
    try {
      if (readText(join(root, LEGACY_LOCK)) === `${process.pid}\n`) unlinkSync(join(root, LEGACY_LOCK));
    } catch {
      // Gone already.
    }
    if (createGeneration(root, generation + 1, "free", token)) {
      unlinkSync(join(root, generationName(generation)));
    }
  } catch {
    // Releasing is best effort: a lock left behind names this process, which will be gone.
  }
}
