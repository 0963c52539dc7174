// brook for Node.js: the wasm is read from disk (Node's fetch has no file: URLs) and `{ path }`
// logs get NodeFileStorage, the host object through which the core reaches node:fs.

import { webcrypto } from "node:crypto";
import {
  closeSync,
  constants,
  fdatasyncSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  realpathSync,
  renameSync,
  rmdirSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import * as core from "../pkg/brook_core.js";
import { createApi } from "./brook.js";

const WASM_URL = new URL("../pkg/brook_core_bg.wasm", import.meta.url);
const LOCK_FILE = "LOCK";
/** Every write lands at the end of the file, whatever else moved it. */
const APPEND_FLAGS = constants.O_RDWR | constants.O_APPEND;
/** Platforms (Windows) and file systems that cannot fsync a directory say so with these. */
const DIRECTORY_SYNC_UNSUPPORTED = ["EISDIR", "EPERM", "EINVAL"];

/** Real paths of the roots locked by logs open in this process: a second open of one fails
 * even though the LOCK file names this (live) process. */
const lockedRoots = new Set();

function lockedError(message) {
  return Object.assign(new Error(message), { code: "LOG_LOCKED" });
}

/** Makes a new, renamed or removed directory entry durable, where the platform can. */
function syncDirectory(directory) {
  let fd;
  try {
    fd = openSync(directory, "r");
    fsyncSync(fd);
  } catch (error) {
    if (!DIRECTORY_SYNC_UNSUPPORTED.includes(error.code)) throw error;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Creates the lock file holding our pid; false when it exists. */
function createLockFile(path) {
  let fd;
  try {
    fd = openSync(path, "wx");
  } catch (error) {
    if (error.code === "EEXIST") return false;
    throw error;
  }
  try {
    writeSync(fd, `${process.pid}\n`);
  } finally {
    closeSync(fd);
  }
  return true;
}

/** The pid in a lock file; null when it is gone, empty or garbled. */
function lockHolder(path) {
  let text;
  try {
    text = readFileSync(path, "utf8").trim();
  } catch (error) {
    if (error.code === "ENOENT") return null;
    throw error;
  }
  return /^\d+$/.test(text) ? Number(text) : null;
}

function removeStaleLock(path) {
  try {
    unlinkSync(path);
  } catch (error) {
    if (error.code !== "ENOENT") throw error;
  }
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return error.code === "EPERM";
  }
}

/**
 * The files of a log under `root`, for the core (src/bindings/host_storage.rs). Paths from the
 * core are relative and "/"-separated. Every method is synchronous: byte arguments are views
 * into wasm memory, valid only during the call.
 */
class NodeFileStorage {
  #root;
  /** Open descriptors by path: the log appends to and reads the same few files over and over. */
  #files = new Map();
  /** The real path whose LOCK we hold, or null. */
  #lockedRoot = null;

  constructor(root) {
    this.#root = resolve(root);
  }

  #full(path) {
    return join(this.#root, path);
  }

  #descriptor(path) {
    let fd = this.#files.get(path);
    if (fd === undefined) {
      fd = openSync(this.#full(path), APPEND_FLAGS);
      this.#files.set(path, fd);
    }
    return fd;
  }

  #forget(path) {
    const fd = this.#files.get(path);
    if (fd === undefined) return;
    this.#files.delete(path);
    closeSync(fd);
  }

  /** Opens, creating the file and its directory when missing; returns its length. */
  open(path) {
    if (!this.#files.has(path)) {
      const full = this.#full(path);
      // A new partition directory is a new entry in its parent: durable only once that syncs.
      const created = mkdirSync(dirname(full), { recursive: true });
      if (created !== undefined) syncDirectory(dirname(created));
      const existed = statSync(full, { throwIfNoEntry: false }) !== undefined;
      this.#files.set(path, openSync(full, APPEND_FLAGS | constants.O_CREAT));
      if (!existed) syncDirectory(dirname(full));
    }
    return fstatSync(this.#files.get(path)).size;
  }

  append(path, bytes) {
    const fd = this.#descriptor(path);
    for (let written = 0; written < bytes.length;) {
      written += writeSync(fd, bytes, written, bytes.length - written);
    }
  }

  /** Up to `length` bytes from `position`; fewer only at the end of the file. */
  readAt(path, position, length) {
    const fd = this.#descriptor(path);
    const buffer = new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      const count = readSync(fd, buffer, filled, length - filled, position + filled);
      if (count === 0) break;
      filled += count;
    }
    return buffer.subarray(0, filled);
  }

  truncate(path, length) {
    ftruncateSync(this.#descriptor(path), length);
  }

  sync(path) {
    fdatasyncSync(this.#descriptor(path));
  }

  list(directory) {
    try {
      return readdirSync(this.#full(directory));
    } catch (error) {
      if (error.code === "ENOENT") return [];
      throw error;
    }
  }

  /** Replaces `to` with `from`, durably (the core uses it to swap in a new manifest). */
  rename(from, to) {
    this.#forget(from);
    this.#forget(to);
    renameSync(this.#full(from), this.#full(to));
    syncDirectory(dirname(this.#full(to)));
  }

  /** Removes a file or an empty directory; something missing is already removed. */
  remove(path) {
    this.#forget(path);
    const full = this.#full(path);
    const stats = statSync(full, { throwIfNoEntry: false });
    if (stats === undefined) return;
    if (stats.isDirectory()) rmdirSync(full);
    else unlinkSync(full);
    syncDirectory(dirname(full));
  }

  /** Takes the root's LOCK file, which names the holder's pid; a lock whose holder no longer
   * runs (killed, crashed) is taken over, so a crash never locks a user out. */
  lock() {
    mkdirSync(this.#root, { recursive: true });
    const root = realpathSync(this.#root);
    if (lockedRoots.has(root)) {
      throw lockedError(`the log at ${root} is already open in this process; close it first`);
    }
    const lockPath = join(root, LOCK_FILE);
    if (!createLockFile(lockPath)) {
      const holder = lockHolder(lockPath);
      // Our own pid without an entry in lockedRoots: a log of this process that was never closed.
      if (holder !== null && holder !== process.pid && isAlive(holder)) {
        throw lockedError(
          `the log at ${root} is open in process ${holder}; close it there first (if process ${holder} is not using brook, delete ${lockPath})`,
        );
      }
      removeStaleLock(lockPath);
      if (!createLockFile(lockPath)) {
        throw lockedError(`the log at ${root} was just taken by another process`);
      }
    }
    lockedRoots.add(root);
    this.#lockedRoot = root;
  }

  /** Closes every file and releases the lock. Never throws: the core calls it while closing. */
  unlock() {
    for (const fd of this.#files.values()) {
      try {
        closeSync(fd);
      } catch {
        // Closing is best effort here; every byte was already synced or was never promised.
      }
    }
    this.#files.clear();
    if (this.#lockedRoot === null) return;
    try {
      unlinkSync(join(this.#lockedRoot, LOCK_FILE));
    } catch {
      // Already gone: nothing left to release.
    }
    lockedRoots.delete(this.#lockedRoot);
    this.#lockedRoot = null;
  }
}

export const { Log, BrookError } = createApi({
  core,
  initialize: () => core.initSync({ module: readFileSync(WASM_URL) }),
  fileStorage: (path) => new NodeFileStorage(path),
  // globalThis.crypto needs a flag on Node 18.
  getRandomValues: (array) => webcrypto.getRandomValues(array),
});

/** IndexedDB is for browsers; in Node a log's files are removed with the directory. */
export async function deleteLog(name) {
  throw new BrookError(
    "INVALID_ARGUMENT",
    `deleteLog(${JSON.stringify(name)}) is for IndexedDB logs in browsers; in Node remove the log's directory`,
  );
}
