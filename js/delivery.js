// The delivery loop of `run`, one for every consumer: a consumer of this tab's log and one
// whose log another tab serves (share.js) run the same loop over a different source. The
// core keeps the delivery state (src/group.rs): a fetch hands out chunks under a lease;
// before each record the loop notes how far it has handed the lease over and compares the
// member's epoch, to notice a seek, pause or rebalance and only then ask the core whether the
// chunk may go on; releasing the lease gives back what was not handed over. A source is:
//
//   fetch()                      -> { lease, chunks } (no chunks: nothing to deliver now)
//   idle(stopping)               resolves when there may be records again, or on stop
//   prefetch()                   optional: starts loading what the next fetch needs
//   start(lease, index, offset)  -> the epoch chunk `index` may go on under, or null (skip
//                                   it); `offset` is the last one handed over before it
//   hand(index, offset)          notes a hand-over (no call)
//   epoch()                      the member's epoch now (no call)
//   commitHanded()               commits what was handed over (autoCommitInterval/Threshold)
//   failed(lease, index, offset, errorText)
//                                a handler failed on that record: counted; true when the loop
//                                goes on (a dead-letter topic: the record comes again, or went
//                                there), false when it stops (the error is reported)
//   release(lease)               gives back what was not handed over
//   owns(topic, partition)       for eachBatch's isStale
//   stoppedBy(error)             the loop failed: leave the group, so that the partitions move
//                                to the other members; false when the error is not the app's
//                                (a hand-over between tabs, which restarts the loop)

import { breathe } from "./turns.js";
import { errorText } from "./errors.js";
import { undeadMessages } from "./wire.js";

/** Period of the timer that keeps a process with a running consumer alive (it does nothing). */
const KEEP_ALIVE_INTERVAL_MS = 60_000;

/** Reports the error that stopped a loop; never throws, so that close() always completes. */
export function reportError(error, onError) {
  try {
    if (onError) return onError(error);
  } catch (failure) {
    console.error("brook: onError threw:", failure);
  }
  console.error("brook: the consumer stopped because of this error:", error);
}

/** Runs until `stopping()`; `first` is the lease of the fetch that `run` made to start.
 * `commits`: `{ processed, threshold, interval }` — with `processed`, what handlers finished is
 * committed every `threshold` records or `interval` ms, and at the end of each chunk. */
export async function deliver(source, { eachMessage, eachBatch, onError }, commits, stopping, first) {
  // A running consumer keeps a Node process alive, as KafkaJS's does, until disconnect or
  // close: a service waiting for records must not exit just because none came yet.
  const keepAlive = setInterval(() => {}, KEEP_ALIVE_INTERVAL_MS);
  const handle = eachMessage
    ? (lease) => deliverMessages(source, lease, eachMessage, commits, stopping)
    : (lease) => deliverBatches(source, lease, eachBatch, commits, stopping);
  let lease = first;
  try {
    while (!stopping()) {
      if (lease.chunks.length > 0) {
        source.prefetch?.();
        let failure = null;
        try {
          await handle(lease);
        } catch (error) {
          failure = { error };
          // What handlers finished before the failure is committed (as KafkaJS does), so that
          // the failed record is the first one delivered again. A failing commit only means
          // more is delivered again; the handler's error is the one reported.
          if (commits.processed) await source.commitHanded().catch(() => {});
        }
        // Given back after a failing handler too; the handler's error is the one reported.
        try {
          await source.release(lease);
        } catch (error) {
          failure ??= { error };
        }
        if (failure) throw failure.error;
        await breathe();
      } else {
        await source.idle(stopping);
      }
      if (!stopping()) lease = await source.fetch();
    }
  } catch (error) {
    let report = true;
    try {
      report = await source.stoppedBy(error);
    } catch (failure) {
      console.error("brook: leaving the group after an error failed:", failure);
    }
    if (report) reportError(error, onError);
  } finally {
    clearInterval(keepAlive);
  }
}

/** Asks whether chunk `index` may be handed over from `offset` + 1, while the epoch moved. */
async function mayGoOn(source, lease, index, offset, epoch) {
  while (epoch !== null && source.epoch() !== epoch) epoch = await source.start(lease, index, offset);
  return epoch;
}

/** Whether what handlers finished is due for a commit (`force`: the chunk's end), counting
 * this record; synchronous, so that a record that commits nothing awaits nothing. */
function commitDue({ threshold, interval }) {
  let since = 0;
  let at = Date.now();
  return (force) => {
    since += 1;
    const due = force || (threshold !== undefined && since >= threshold) || (interval !== undefined && Date.now() - at >= interval);
    if (due) {
      since = 0;
      at = Date.now();
    }
    return due;
  };
}

async function deliverMessages(source, lease, eachMessage, commits, stopping) {
  const { processed } = commits;
  const due = processed ? commitDue(commits) : null;
  for (let index = 0; index < lease.chunks.length; index++) {
    const { topic, partition, messages, deadLettered } = lease.chunks[index];
    if (stopping()) return;
    let epoch = await source.start(lease, index, messages[0].offset - 1);
    for (let at = 0; epoch !== null && at < messages.length; at++) {
      if (stopping()) return;
      const message = messages[at];
      // A seek, pause or rebalance since: the core says whether this chunk goes on. (Asked
      // here, not awaited, when nothing moved: this runs once per record.)
      if (source.epoch() !== epoch) epoch = await mayGoOn(source, lease, index, message.offset - 1, epoch);
      if (epoch === null) break;
      // In the dead-letter topic already: the group goes past it.
      if (message.offset === deadLettered) {
        source.hand(index, message.offset);
        if (processed && due(at === messages.length - 1)) await source.commitHanded();
        continue;
      }
      if (!processed) source.hand(index, message.offset);
      try {
        await eachMessage({ topic, partition, message });
      } catch (error) {
        if (stopping() || !(await failed(source, lease, index, message, error, processed))) throw error;
        // The lease is released: the next fetch starts at the record again, or past it.
        return;
      }
      if (processed) {
        source.hand(index, message.offset);
        if (due(at === messages.length - 1)) await source.commitHanded();
      }
    }
  }
}

/** Counts a handler's failure; whether the loop goes on (see `source.failed`). A failure to
 * count it stops the loop with the handler's error, whose cause it becomes. */
async function failed(source, lease, index, message, error, processed) {
  if (!source.failed) return false;
  try {
    // What handlers finished before is committed first, as when the loop stops.
    if (processed) await source.commitHanded();
    return await source.failed(lease, index, message.offset, errorText(error));
  } catch (failure) {
    console.error("brook: counting a handler's failure failed:", failure);
    return false;
  }
}

async function deliverBatches(source, lease, eachBatch, { processed }, stopping) {
  for (let index = 0; index < lease.chunks.length; index++) {
    const chunk = lease.chunks[index];
    const { topic, partition, highWatermark } = chunk;
    if (stopping()) return;
    const before = chunk.messages[0].offset - 1;
    const epoch = await mayGoOn(source, lease, index, before, await source.start(lease, index, before));
    if (epoch === null) continue;
    const last = chunk.messages[chunk.messages.length - 1].offset;
    const messages = undeadMessages(chunk);
    if (!processed || messages.length === 0) source.hand(index, last);
    if (messages.length === 0) continue;
    await eachBatch({
      batch: { topic, partition, highWatermark, messages },
      isRunning: () => !stopping(),
      isStale: () => source.epoch() !== epoch && !source.owns(topic, partition),
    });
    if (processed) {
      source.hand(index, last);
      await source.commitHanded();
    }
  }
}
