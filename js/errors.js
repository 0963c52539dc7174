// brook's one error type in JS. Every error the package throws is a BrookError with a stable
// `code` (the core's `ErrorKind::code` strings); errors the wasm bindings throw arrive as plain
// `Error`s named "BrookError" and are turned into instances here.

/** An error with a stable `code`: UNKNOWN_TOPIC, INVALID_TOPIC_NAME, TOPIC_ALREADY_EXISTS,
 * INVALID_PARTITION, INVALID_PARTITIONS, OFFSET_OUT_OF_RANGE, MESSAGE_TOO_LARGE, INVALID_RECORD,
 * INVALID_CONFIG, INVALID_ARGUMENT, LOG_LOCKED, CORRUPT_DATA, QUOTA_EXCEEDED, CLOSED, IO_ERROR,
 * UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS, NON_EMPTY_GROUP, GROUP_ID_NOT_FOUND, STORAGE_EVICTED
 * (JS only: an IndexedDB log's data is gone) or UNSUPPORTED. */
export class BrookError extends Error {
  constructor(code, message, options) {
    super(message, options);
    this.name = "BrookError";
    this.code = code;
  }
}

export function invalidArgument(message, options) {
  return new BrookError("INVALID_ARGUMENT", message, options);
}

/** An error the bindings threw (an `Error` named BrookError) as a BrookError; any other error
 * (a JS engine's RangeError, a host's failure) as a BrookError of `code`, its cause kept. */
export function translate(error, code = "IO_ERROR") {
  if (error instanceof BrookError) return error;
  if (error?.name === "BrookError" && typeof error.code === "string") {
    return new BrookError(error.code, error.message);
  }
  return new BrookError(code, `${code === "IO_ERROR" ? "unexpected failure" : "failed"}: ${brief(error)}`, {
    cause: error,
  });
}

/** A short description of a thrown value, safe for anything (a Symbol, a Proxy, null). */
export function brief(thrown) {
  try {
    if (thrown instanceof Error) return `${thrown.name}: ${thrown.message}`;
    return typeof thrown === "symbol" || typeof thrown === "object" ? typeof thrown : String(thrown);
  } catch {
    return "a value that cannot be shown";
  }
}

/** The most characters of a handler's error kept in a dead-lettered record's header. */
const DEAD_LETTER_ERROR_CHARS_MAX = 1000;

/** The text of a handler's error for a dead-lettered record's header: well-formed, bounded. */
export function errorText(error) {
  let text;
  try {
    text = error instanceof Error ? String(error.message) : brief(error);
  } catch {
    text = brief(error);
  }
  // A lone surrogate cannot be UTF-8: replaced, as TextEncoder would.
  return text.slice(0, DEAD_LETTER_ERROR_CHARS_MAX).replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd");
}

/** Hands an error that must not stop anything to `onError`, or else to the console. */
export function reportThrown(error, onError, context) {
  try {
    if (onError) return void onError(error);
  } catch (failure) {
    console.error("brook: onError threw:", failure);
  }
  console.error(`brook: ${context}:`, error);
}
