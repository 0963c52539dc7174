// Reading what callers pass, once, into plain values, before anything reaches the wasm
// instance. A caller may pass a Proxy whose traps throw, an object with throwing getters, a
// revoked Proxy, a Symbol, a BigInt, a frozen object: each field is read exactly once inside a
// try, and whatever a read throws becomes INVALID_ARGUMENT (the thrown value as its `cause`) —
// never "absent", and never an exception unwinding through Rust frames, which would leave the
// wasm log borrowed for good. Leaf values (numbers, strings) pass on unchanged: the core checks
// their types and ranges, and gives each its own code.

import { BrookError, brief, invalidArgument } from "./errors.js";

/** Reads caller data; anything the read throws becomes INVALID_ARGUMENT naming `what`. */
export function guarded(what, read) {
  try {
    return read();
  } catch (error) {
    if (error instanceof BrookError) throw error;
    throw invalidArgument(`${what} could not be read (${brief(error)})`, { cause: error });
  }
}

function isArray(value) {
  try {
    return Array.isArray(value);
  } catch {
    return false; // a revoked Proxy
  }
}

/** What a value is, for messages, running as little of its code as possible: `"3" (a string)`. */
export function describe(value) {
  if (value === null) return "null";
  switch (typeof value) {
    case "string": {
      const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
      return `${JSON.stringify(shown)} (a string)`;
    }
    case "number":
      return String(value);
    case "bigint":
      return `${value}n (a BigInt)`;
    case "undefined":
      return "undefined";
    case "object": {
      if (isArray(value)) return "an array";
      try {
        const name = Object.getPrototypeOf(value)?.constructor?.name;
        return typeof name === "string" && name !== "Object" ? `a ${name}` : "an object";
      } catch {
        return "an object";
      }
    }
    default:
      return `a ${typeof value}`;
  }
}

/** `value` as an options object (undefined = none), read once into a fresh object without a
 * prototype, holding only the `known` names that are set; an unknown name is an error, so that
 * a typo is refused instead of silently ignored. */
export function readOptions(value, what, known) {
  const options = Object.create(null);
  if (value === undefined) return options;
  if (typeof value !== "object" || value === null || isArray(value)) {
    throw invalidArgument(`${what} must be an object, got ${describe(value)}`);
  }
  const names = guarded(what, () => Object.keys(value));
  for (const name of names) {
    if (!known.includes(name)) {
      throw invalidArgument(
        `${what} has an unknown option ${JSON.stringify(name)}; known options: ${known.join(", ")}`,
      );
    }
  }
  for (const name of known) {
    const field = guarded(`${what}.${name}`, () => value[name]);
    if (field !== undefined) options[name] = field;
  }
  return options;
}

/** `value` as an array of at most `lengthMax` elements, read once into a fresh array. */
export function readArray(value, what, lengthMax) {
  if (!isArray(value)) throw invalidArgument(`${what} must be an array, got ${describe(value)}`);
  const length = guarded(what, () => value.length);
  if (!Number.isSafeInteger(length) || length < 0 || length > lengthMax) {
    throw invalidArgument(`${what} has ${describe(length)} entries; at most ${lengthMax} are allowed`);
  }
  const elements = new Array(length);
  for (let index = 0; index < length; index++) {
    elements[index] = guarded(`${what}[${index}]`, () => value[index]);
  }
  return elements;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Whether a string is well-formed UTF-16. One that is not (a lone surrogate) would become
 * U+FFFD in UTF-8, so that "grp\ud800" and "grp\ufffd" would be one group: refused instead. */
export function isWellFormed(text) {
  return typeof text.isWellFormed === "function" ? text.isWellFormed() : !LONE_SURROGATE.test(text);
}

/** Refuses a string that is not well-formed UTF-16; anything else passes to the core's check. */
export function checkedText(value, what, code = "INVALID_ARGUMENT") {
  if (typeof value === "string" && !isWellFormed(value)) {
    throw new BrookError(
      code,
      `${what} is not well-formed UTF-16 (it has a lone surrogate, which UTF-8 cannot hold); fix the string`,
    );
  }
  return value;
}

export function checkedFunction(value, name) {
  if (value !== undefined && typeof value !== "function") {
    throw invalidArgument(`${name} must be a function, got ${describe(value)}`);
  }
  return value;
}

export function checkedBoolean(value, name) {
  if (value !== undefined && typeof value !== "boolean") {
    throw invalidArgument(`${name} must be true or false, got ${describe(value)}`);
  }
  return value;
}

/** Sets `object[name] = value` as an own field: a header named "__proto__" would otherwise
 * replace the object's prototype and vanish. */
export function setOwn(object, name, value) {
  if (name === "__proto__") {
    Object.defineProperty(object, name, { value, enumerable: true, writable: true, configurable: true });
  } else {
    object[name] = value;
  }
}

/** Every enumerable own field of `value` (at most `fieldsMax`), read once into a fresh object
 * without a prototype; which names are allowed is the core's to say. */
export function readPlain(value, what, fieldsMax = 64) {
  if (typeof value !== "object" || value === null || isArray(value)) {
    throw invalidArgument(`${what} must be an object, got ${describe(value)}`);
  }
  const names = guarded(what, () => Object.keys(value));
  if (names.length > fieldsMax) {
    throw invalidArgument(`${what} has ${names.length} fields; at most ${fieldsMax} are known`);
  }
  const plain = Object.create(null);
  for (const name of names) plain[name] = guarded(`${what}.${name}`, () => value[name]);
  return plain;
}

/** The named fields of `value` (others are ignored), each read once. */
export function readFields(value, what, names) {
  if (typeof value !== "object" || value === null) {
    throw invalidArgument(`${what} must be an object, got ${describe(value)}`);
  }
  const fields = Object.create(null);
  for (const name of names) fields[name] = guarded(`${what}.${name}`, () => value[name]);
  return fields;
}
