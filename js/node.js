// brook for Node.js: the wasm is read from disk (Node's fetch has no file: URLs) and `{ path }`
// logs get NodeFileStorage, the host object through which the core reaches node:fs.

import { webcrypto } from "node:crypto";
import {
  closeSync,
  constants,
  fdatasync,
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
import * as core from "../pkg/node/brook_core.js";
import { createApi } from "./brook.js";
import { BrookError as CoreError } from "./errors.js";
import { acquireLock } from "./lock.js";
import { useTextWriter } from "./wire.js";

const WASM_URL = new URL("../pkg/node/brook_core_bg.wasm", import.meta.url);
// Sends write their strings with Buffer#write, at an offset (see useTextWriter).
useTextWriter((bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
/** Every write lands at the end of the file, whatever else moved it. */
const APPEND_FLAGS = constants.O_RDWR | constants.O_APPEND;
/** Platforms (Windows) and file systems that cannot fsync a directory say so with these. */
const DIRECTORY_SYNC_UNSUPPORTED = ["EISDIR", "EPERM", "EINVAL"];
/** Open descriptors kept per log: a log of 20,000 partitions must not need 20,000 of them. */
const DESCRIPTORS_MAX = 64;
/** The most files a flush syncs in the background (each holds a descriptor open until done). */
const BACKGROUND_SYNC_FILES_MAX = 16;

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

/** A failed background sync as the core words host errors (host_storage.rs `from_host`). */
function syncFailure(path, error) {
  const full = error.code === "ENOSPC" || error.code === "EDQUOT";
  return new CoreError(full ? "QUOTA_EXCEEDED" : "IO_ERROR", `sync ${JSON.stringify(path)}${full ? ": no space left" : ""} (${error.message})`, { cause: error });
}

/**
 * The files of a log under `root`, for the core (src/bindings/host_storage.rs). Paths from the
 * core are relative and "/"-separated. Every method but syncInBackground is synchronous: byte arguments are views
 * into wasm memory, valid only during the call.
 */
class NodeFileStorage {
  #root;
  /** Open descriptors by path, least recently used first (a Map keeps insertion order). */
  #files = new Map();
  /** Paths written since their last sync. */
  #dirty = new Set();
  /** Gives the lock back; null while not locked. */
  #release = null;
  /** Descriptors that background syncs are using, with how many: closed only once those are
   * done, since a number closed meanwhile could be reused for another file. */
  #syncing = new Map();
  /** Descriptors let go of while a sync was using them. */
  #closeAfterSync = new Set();

  constructor(root) {
    this.#root = resolve(root);
  }

  #full(path) {
    return join(this.#root, path);
  }

  #descriptor(path) {
    let fd = this.#files.get(path);
    if (fd !== undefined) {
      this.#files.delete(path);
      this.#files.set(path, fd);
      return fd;
    }
    fd = openSync(this.#full(path), APPEND_FLAGS);
    this.#remember(path, fd);
    return fd;
  }

  #remember(path, fd) {
    if (this.#files.size >= DESCRIPTORS_MAX) {
      const [oldest] = this.#files.keys();
      this.#forget(oldest);
    }
    this.#files.set(path, fd);
  }

  /** Closes a descriptor. One with unsynced writes is synced first: after a failed writeback,
   * Linux reports the error to descriptors that were open when it happened, not to one
   * opened later, so closing first could hide a lost write from the next sync. */
  #forget(path) {
    const fd = this.#files.get(path);
    if (fd === undefined) return;
    this.#files.delete(path);
    try {
      if (this.#dirty.has(path)) fdatasyncSync(fd);
      this.#dirty.delete(path);
    } finally {
      this.#close(fd);
    }
  }

  #close(fd) {
    if (this.#syncing.has(fd)) this.#closeAfterSync.add(fd);
    else closeSync(fd);
  }

  /** Opens, creating the file and its directory when missing; returns its length. */
  open(path) {
    if (!this.#files.has(path)) {
      const full = this.#full(path);
      // A new partition directory is a new entry in its parent: durable only once that syncs.
      const created = mkdirSync(dirname(full), { recursive: true });
      if (created !== undefined) syncDirectory(dirname(created));
      const existed = statSync(full, { throwIfNoEntry: false }) !== undefined;
      const fd = openSync(full, APPEND_FLAGS | constants.O_CREAT);
      this.#remember(path, fd);
      if (!existed) syncDirectory(dirname(full));
    }
    return fstatSync(this.#descriptor(path)).size;
  }

  append(path, bytes) {
    const fd = this.#descriptor(path);
    this.#dirty.add(path);
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
    const fd = this.#descriptor(path);
    this.#dirty.add(path);
    ftruncateSync(fd, length);
  }

  sync(path) {
    fdatasyncSync(this.#descriptor(path));
    this.#dirty.delete(path);
  }

  /** A strict flush's syncs, off the thread: each group's files at once (libuv's thread
   * pool: three partitions sync in about the time of one and a half), the groups one after
   * another (the records, then the commits that name them). The core hands the promise to
   * OpenLog, which reports back how it ended; nothing is written meanwhile (the next flush
   * waits for this one). The descriptors are the ones the writes went through: a writeback
   * error is reported to those. Undefined (the core syncs in place) for many files. */
  syncInBackground(groups) {
    // Its descriptors stay open until it is done: a flush of many files syncs in place.
    if (groups.reduce((count, paths) => count + paths.length, 0) > BACKGROUND_SYNC_FILES_MAX) return undefined;
    const release = ({ fd }) => {
      const left = this.#syncing.get(fd) - 1;
      if (left > 0) return this.#syncing.set(fd, left);
      this.#syncing.delete(fd);
      if (this.#closeAfterSync.delete(fd)) closeSync(fd);
    };
    const taken = [];
    try {
      for (const paths of groups) {
        const group = [];
        taken.push(group);
        for (const path of paths) {
          const fd = this.#descriptor(path);
          this.#syncing.set(fd, (this.#syncing.get(fd) ?? 0) + 1);
          group.push({ path, fd });
        }
      }
    } catch (error) {
      // A file that cannot be opened (EMFILE): nothing is synced, and nothing stays pinned.
      taken.flat().forEach(release);
      throw error;
    }
    for (const { path } of taken.flat()) this.#dirty.delete(path);
    const syncOne = ({ path, fd }) =>
      new Promise((resolve, reject) => {
        fdatasync(fd, (error) => (error ? reject(syncFailure(path, error)) : resolve()));
      });
    return (async () => {
      try {
        for (const group of taken) await Promise.all(group.map(syncOne));
      } finally {
        taken.flat().forEach(release);
      }
    })();
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
    this.#closeWithoutSync(path);
    const full = this.#full(path);
    const stats = statSync(full, { throwIfNoEntry: false });
    if (stats === undefined) return;
    if (stats.isDirectory()) rmdirSync(full);
    else unlinkSync(full);
    syncDirectory(dirname(full));
  }

  #closeWithoutSync(path) {
    const fd = this.#files.get(path);
    this.#files.delete(path);
    this.#dirty.delete(path);
    if (fd !== undefined) this.#close(fd);
  }

  /** Takes the log's lock (see lock.js): LOG_LOCKED while another open Log holds it. */
  lock() {
    if (this.#release !== null) return;
    mkdirSync(this.#root, { recursive: true });
    this.#release = acquireLock(realpathSync(this.#root));
  }

  /** Closes every file and releases the lock. Never throws: the core calls it while closing. */
  unlock() {
    for (const fd of this.#files.values()) {
      try {
        this.#close(fd);
      } catch {
        // Closing is best effort here; every byte was already synced or was never promised.
      }
    }
    this.#files.clear();
    this.#dirty.clear();
    const release = this.#release;
    this.#release = null;
    release?.();
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
export { syncTo } from "./sync.js";
