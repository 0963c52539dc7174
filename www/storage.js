// Where the demo's log lives. One function decides (openLog) so that the rest of the page
// never cares whether the log is in IndexedDB or, where that is unavailable, in memory.

import * as brook from "brook";
import { logCall } from "./util.js";

const { Log, BrookError } = brook;

export const DATABASE = "brook-demo";

/** The log is held by another tab (LOG_LOCKED); `wait` resolves once this tab has it. */
export class LockedError extends Error {
  constructor(message, wait) {
    super(message);
    this.wait = wait;
  }
}

/**
 * Opens the demo's log: the IndexedDB database `brook-demo`, so that a reload finds the log.
 * A second tab gets LOG_LOCKED: that becomes a LockedError with a message for the user and a
 * promise of the log once the other tab lets go (brook's waitForLock).
 * Where IndexedDB storage is unavailable (a build without it, a browser that refuses it) the
 * log is kept in memory and `persistent` says so, rather than the page not working at all.
 */
export async function openLog() {
  try {
    const log = await Log.open({ name: DATABASE });
    logCall(`await Log.open({ name: "${DATABASE}" })`);
    return { log, persistent: true };
  } catch (error) {
    if (error instanceof BrookError && error.code === "LOG_LOCKED") {
      const wait = Log.open({ name: DATABASE, waitForLock: true }).then((log) => {
        logCall(`await Log.open({ name: "${DATABASE}", waitForLock: true })`);
        return { log, persistent: true };
      });
      throw new LockedError(
        `${DATABASE} is open in another tab. This tab takes over as soon as that one is closed.`,
        wait,
      );
    }
    // INVALID_ARGUMENT: this build has no IndexedDB storage; IO_ERROR: the browser refused
    // IndexedDB (private mode, disabled storage). Both still allow a working demo.
    if (!(error instanceof BrookError) || !["INVALID_ARGUMENT", "IO_ERROR"].includes(error.code)) {
      throw error;
    }
    const log = await Log.open();
    logCall("await Log.open()  // in memory");
    return { log, persistent: false, reason: error.message };
  }
}

/** Closes the log and deletes its database, so that the next open starts empty. */
export async function deleteLog(log) {
  await log.close();
  logCall("await log.close()");
  if (typeof brook.deleteLog === "function") {
    await brook.deleteLog(DATABASE);
    logCall(`await deleteLog("${DATABASE}")`);
    return;
  }
  // Builds without brook's deleteLog: IndexedDB's own call does it, since brook names the
  // database exactly as `Log.open({ name })` was given.
  await new Promise((resolve, reject) => {
    const request = indexedDB.deleteDatabase(DATABASE);
    request.onsuccess = () => resolve();
    request.onerror = () => reject(request.error);
    request.onblocked = () => reject(new LockedError(`${DATABASE} is still open in another tab; close it there to reset.`));
  });
  logCall(`indexedDB.deleteDatabase("${DATABASE}")`);
}
