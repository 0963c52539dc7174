// Small helpers shared by the demo's modules: text of record bytes, colours by key, time,
// a change bus, and the "API calls" log that shows a Kafka user what the page is doing.

const decoder = new TextDecoder();

/** Record bytes as text. Delivered keys and values are views into a buffer brook reuses, so
 * they are decoded at once, never kept. */
export function text(bytes) {
  return bytes == null ? null : decoder.decode(bytes);
}

/** The products of the inventory story and of the stream: fixed colours, so that a product
 * keeps its colour in the lanes, the timeline and the stock table. */
export const PRODUCTS = [
  { id: "abc-123", name: "T-shirt" },
  { id: "def-456", name: "Mug" },
  { id: "ghi-789", name: "Cap" },
  { id: "jkl-012", name: "Socks" },
  { id: "mno-345", name: "Tote bag" },
];

const FIXED_HUES = new Map([
  ["abc-123", 205],
  ["def-456", 135],
  ["ghi-789", 35],
  ["jkl-012", 285],
  ["mno-345", 350],
]);

/** A stable hue for any other key (FNV-1a of its text), so that equal keys look equal. */
function hueOf(key) {
  if (FIXED_HUES.has(key)) return FIXED_HUES.get(key);
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % 360;
}

/** CSS colours of a key: a light fill with dark text keeps the offsets readable (contrast),
 * a darker border tells neighbouring keys apart. `null` = no key: neutral, dashed in CSS. */
export function keyColours(key) {
  if (key == null) return null;
  const hue = hueOf(key);
  return { fill: `hsl(${hue} 75% 84%)`, border: `hsl(${hue} 55% 38%)` };
}

export function applyKeyColours(element, key) {
  const colours = keyColours(key);
  if (colours === null) {
    element.classList.add("no-key");
    return;
  }
  element.style.setProperty("--key-fill", colours.fill);
  element.style.setProperty("--key-border", colours.border);
}

export function formatTime(timestamp) {
  const date = new Date(timestamp);
  const pad = (n, width = 2) => String(n).padStart(width, "0");
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");

/** A header that carries produce order across partitions: offsets only order a partition,
 * and timestamps tie within a millisecond. Wall-clock based, so it still orders records
 * produced before a reload. */
let lastSequence = 0;
export function produceSequence() {
  const now = Math.round((performance.timeOrigin + performance.now()) * 1000);
  lastSequence = Math.max(now, lastSequence + 1);
  return String(lastSequence);
}

/** Produce order of a delivered record: its `seq` header, else its timestamp. */
export function sequenceOf(message) {
  const header = message.headers?.seq;
  if (header != null) return Number(text(header));
  return message.timestamp * 1000;
}

/** A minimal change bus: modules announce, the renderer redraws on the next frame. */
export class Bus extends EventTarget {
  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
  on(type, listener) {
    this.addEventListener(type, (event) => listener(event.detail));
  }
}

export const bus = new Bus();

/** Runs `draw` at most once per animation frame however often it is asked for. */
export function frameScheduler(draw) {
  let pending = false;
  return () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      draw();
    });
  };
}

const API_LOG_MAX = 40;

/** Records a brook call the page made, for the "API calls" panel. */
export function logCall(code) {
  bus.emit("api-call", { code, at: Date.now() });
}

export function startApiLog(list) {
  bus.on("api-call", ({ code, at }) => {
    const item = document.createElement("li");
    const time = document.createElement("time");
    time.textContent = formatTime(at);
    const call = document.createElement("code");
    call.textContent = code;
    item.append(time, " ", call);
    list.prepend(item);
    while (list.children.length > API_LOG_MAX) list.lastElementChild.remove();
  });
}

/** An element with a class and optional text, the only DOM builder the demo needs. */
export function el(tag, className, content) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (content != null) element.textContent = content;
  return element;
}

/** An object as JS source, the way one writes it: `{ groupId: "mysql", autoCommit: true }`. */
export function literal(value) {
  if (Array.isArray(value)) return `[${value.map(literal).join(", ")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    return `{ ${entries.map(([k, v]) => `${k}: ${literal(v)}`).join(", ")} }`;
  }
  return JSON.stringify(value);
}
