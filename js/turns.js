// Letting the app breathe. brook's own work — acknowledging sends, delivering to consumers —
// runs in promise callbacks, and all of those run before the event loop takes its next task:
// a loop of `await producer.send()` that never waits for anything else would keep timers, I/O
// callbacks and rendering out for as long as it runs. So brook notes when it starts working in
// a turn of the event loop, and once it has held the thread for a slice, it waits for the next
// turn before it goes on. Sends issued in one turn still share one flush.

/** How long brook's promise callbacks may hold the thread before letting a task run. */
export const SLICE_MS = 10;

const now = () => performance.now();

/** Runs `callback` as a task of its own: setImmediate in Node; a MessageChannel message in
 * browsers (setTimeout(0) is clamped to 4 ms when nested, and to a second in hidden tabs). */
const task =
  typeof setImmediate === "function"
    ? setImmediate
    : (() => {
        const channel = new MessageChannel();
        const callbacks = [];
        channel.port1.onmessage = () => callbacks.shift()?.();
        return (callback) => {
          callbacks.push(callback);
          channel.port2.postMessage(null);
        };
      })();

let turnStartedAt = 0;
/** A task is scheduled that marks the end of the turn in which brook started working. */
let watching = false;

function turned() {
  watching = false;
}

/** What every caller that breathes in this turn waits for: one task, not a task each. Tasks
 * run their microtasks before the next task starts, so senders let go by a task each would
 * each send and flush alone, and a strict file log would fsync once per send. */
let nextTurn = null;

/** Undefined while brook's share of this turn is young; past a slice, a promise that
 * resolves in the next task. `await breathe()` costs one microtask in the common case. */
export function breathe() {
  if (!watching) {
    watching = true;
    turnStartedAt = now();
    task(turned);
    return undefined;
  }
  if (now() - turnStartedAt < SLICE_MS) return undefined;
  nextTurn ??= new Promise((resolve) =>
    task(() => {
      nextTurn = null;
      resolve();
    }),
  );
  return nextTurn;
}
