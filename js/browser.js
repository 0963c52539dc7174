// brook for browsers and bundlers: the wasm loads on the first Log.open (no top-level await,
// so importing brook costs nothing until it is used). Logs live in memory or, with { name },
// in an IndexedDB database of that name, guarded by a Web Lock so that two tabs never write
// one log at once: a second tab's open fails with LOG_LOCKED, or waits with waitForLock.

import init, * as core from "../pkg/brook_core.js";
import { createApi, BrookError, translate } from "./brook.js";
import { describe, readPlain } from "./args.js";
import { RemoteLog, serveLog } from "./share.js";

/** Locks of logs that a shared tab already holds because it is taking the log over. */
const heldLocks = new Map();

/** Takes the Web Lock of a log; resolves with its release function. */
function acquireLock(name, wait) {
  const held = heldLocks.get(name);
  if (held) {
    heldLocks.delete(name);
    return Promise.resolve(held);
  }
  const locks = globalThis.navigator?.locks;
  // Without Web Locks nothing keeps a second tab from writing the same database: refuse.
  if (!locks) {
    return Promise.reject(
      new BrookError(
        "UNSUPPORTED",
        "this browser has no Web Locks (navigator.locks), which brook needs so that two tabs never write one IndexedDB log; open the log in memory (Log.open()), or use a browser with Web Locks (Chrome 69, Firefox 96, Safari 15.4 or later)",
      ),
    );
  }
  return new Promise((resolve, reject) => {
    locks
      .request(`brook:${name}`, { ifAvailable: !wait }, (lock) => {
        if (!lock) {
          reject(
            new BrookError(
              "LOG_LOCKED",
              `the log ${JSON.stringify(name)} is open in another tab or window; close it there, or open with { waitForLock: true }`,
            ),
          );
          return undefined;
        }
        // The lock is held until this promise settles: on close, or when the page goes away.
        return new Promise((release) => resolve(release));
      })
      .catch(reject);
  });
}

async function load(name) {
  try {
    return await core.loadIndexedDb(name);
  } catch (error) {
    throw translate(error);
  }
}

/** Where brook notes, outside IndexedDB, that this origin made a log: an IndexedDB that comes
 * back empty while the note is there was evicted (or cleared), not new. */
const MARKER_PREFIX = "brook:log:";

function readMarker(name) {
  try {
    const text = globalThis.localStorage?.getItem(MARKER_PREFIX + name);
    return text ? JSON.parse(text) : null;
  } catch {
    return null; // no localStorage (a worker, a sandboxed frame), or not brook's note
  }
}

function writeMarker(name, marker) {
  try {
    globalThis.localStorage?.setItem(MARKER_PREFIX + name, JSON.stringify(marker));
  } catch {
    // No localStorage, or it is full: eviction then goes unnoticed, as without the note.
  }
}

function evictedError(name, marker) {
  let since = "";
  try {
    since = ` (made ${new Date(marker.created).toISOString()})`;
  } catch {
    // Not a date brook wrote: said without it.
  }
  return new BrookError(
    "STORAGE_EVICTED",
    `the IndexedDB data of log ${JSON.stringify(name)}${since} is gone: the browser evicted it, or this site's data was cleared. Open it with { evicted: "open" } to start it empty (recovery().evicted says so), and with { persist: true } to ask the browser to keep it`,
  );
}

/** Opens the IndexedDB log `name`: lock first, then read it back, and tell a log whose data
 * was evicted from a new one. */
async function namedStorage({ name, waitForLock, persist, evicted: whenEvicted }) {
  if (!globalThis.indexedDB) {
    throw new BrookError(
      "UNSUPPORTED",
      "IndexedDB is not available here; open the log with { path } in Node, or without options in memory",
    );
  }
  const release = await acquireLock(name, waitForLock);
  try {
    // Asked, not awaited: Firefox asks the user, who may take a while; storage() tells the answer.
    const persisted = persist ? askPersistence() : Promise.resolve(false);
    const loaded = await load(name);
    const marker = readMarker(name);
    const evicted = loaded.isEmpty && marker !== null ? { created: Number(marker.created) || null } : null;
    if (evicted && whenEvicted !== "open") {
      loaded.close();
      throw evictedError(name, marker);
    }
    const created = (!evicted && Number(marker?.created)) || Date.now();
    return { loaded, reload: () => load(name), release, persisted, evicted, opened: () => writeMarker(name, { created }) };
  } catch (error) {
    release();
    throw error;
  }
}

/** navigator.storage.persist()'s answer; false where there is none (workers, old browsers). */
async function askPersistence() {
  try {
    return (await globalThis.navigator?.storage?.persist?.()) === true;
  } catch {
    return false;
  }
}

async function storageEstimate() {
  try {
    const { usage = null, quota = null } = (await globalThis.navigator?.storage?.estimate?.()) ?? {};
    return { usage, quota };
  } catch {
    return { usage: null, quota: null };
  }
}

/** Deletes the IndexedDB database of a log (close the log first), and brook's note of it. */
export async function deleteLog(name) {
  await init();
  try {
    await core.deleteIndexedDb(name);
  } catch (error) {
    throw translate(error);
  }
  try {
    globalThis.localStorage?.removeItem(MARKER_PREFIX + name);
  } catch {
    // No localStorage: there was no note.
  }
}

const api = createApi({ core, initialize: () => init(), namedStorage, storageEstimate });

/** `Log.open({ name, share: true })`: the first tab owns the log and serves it to the others
 * over a BroadcastChannel; a tab that finds it owned gets a RemoteLog that works through the
 * owner (produce, consume as members of the same groups, change notifications). */
export class Log extends api.Log {
  /** Logs opened here are the shared wrapper's logs: `log instanceof Log` holds for them. */
  static [Symbol.hasInstance](value) {
    return value instanceof api.Log;
  }

  static async open(options) {
    const settings = readPlain(options ?? {}, "Log.open options");
    if (settings.share === undefined) return api.Log.open(settings);
    const { share, ...rest } = settings;
    if (typeof share !== "boolean") {
      throw new BrookError("INVALID_ARGUMENT", `share must be true or false, got ${describe(share)}`);
    }
    if (!share) return api.Log.open(rest);
    if (typeof rest.name !== "string" || rest.waitForLock !== undefined) {
      throw new BrookError("INVALID_ARGUMENT", "share needs { name } (an IndexedDB log) and no waitForLock");
    }
    if (typeof BroadcastChannel !== "function") {
      throw new BrookError(
        "UNSUPPORTED",
        "share needs BroadcastChannel, which this browser (or worker) lacks; open the log without share (one tab at a time)",
      );
    }
    const { name } = rest;
    // A sharing owner holds a second lock besides the log's, so that a tab can tell an owner
    // that shares (connect to it) from one that does not (fail at once: nobody would answer).
    const openOwner = async (heldLock) => {
      // Taking over, wait for the old owner's serving lock: it frees just after its log lock.
      const releaseServing = await takeServingLock(name, heldLock !== undefined);
      if (heldLock) heldLocks.set(name, heldLock);
      try {
        const log = await api.Log.open(rest);
        serveLog(name, log, releaseServing);
        return log;
      } catch (error) {
        await releaseServing();
        throw error;
      } finally {
        heldLocks.delete(name);
      }
    };
    try {
      return await openOwner();
    } catch (error) {
      if (error?.code !== "LOG_LOCKED") throw error;
      if (!(await isServed(name))) {
        throw new BrookError(
          "LOG_LOCKED",
          `the log ${JSON.stringify(name)} is open in another tab that does not share it; open it with { share: true } in every tab (or close it there)`,
        );
      }
      return RemoteLog.connect(name, openOwner);
    }
  }
}

function servingLockName(name) {
  return `brook:${name}:serving`;
}

/** Takes the "serving" lock of a shared log; LOG_LOCKED when another tab serves it (or waits
 * for it, with `wait`). */
function takeServingLock(name, wait) {
  const locks = globalThis.navigator?.locks;
  if (!locks) return Promise.resolve(() => {});
  return new Promise((resolve, reject) => {
    let release;
    const held = new Promise((settle) => (release = settle));
    const request = locks
      .request(servingLockName(name), { ifAvailable: !wait }, (lock) => {
        if (!lock) {
          reject(new BrookError("LOG_LOCKED", `the log ${JSON.stringify(name)} is served by another tab`));
          return undefined;
        }
        // The release function resolves once the lock is free again (request settles then).
        resolve(() => {
          release();
          return request;
        });
        return held;
      });
    request.catch(reject);
  });
}

/** Whether a tab serves the log (holds its serving lock, or waits for it). */
async function isServed(name) {
  const locks = globalThis.navigator?.locks;
  if (!locks?.query) return true;
  const { held = [], pending = [] } = await locks.query();
  return [...held, ...pending].some((lock) => lock.name === servingLockName(name));
}

export { BrookError, RemoteLog };
export { syncTo } from "./sync.js";
