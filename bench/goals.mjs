// The goal of every benchmark row (from the benchmark issue), as checks over the medians.
// Each compares a subject figure with a reference figure — `quotient = subject ÷ reference` —
// against a bound: `atLeast` for "≥ n×", `atMost` for "≤ n×". A figure is named by its
// system and, where the workload differs or several match, a test on the workload text.

const any = () => true;
const has = (text) => (workload) => workload.includes(text);

export const GROUPS = [
  {
    group: "Node, memory: produce",
    summary: "brook's send into an in-memory log, beside Redis Streams on loopback and a plain-JS log doing the same placement, framing and CRC-32C work.",
    goals: [
      { text: "≥ 10× Redis Streams", subject: "brook", reference: "Redis Streams", workload: any, atLeast: 10 },
      { text: "≥ 1× plain JS at sends of 10,000", subject: "brook", reference: "plain JS", workload: has("sends of 10,000"), atLeast: 1 },
    ],
  },
  {
    group: "Node, memory: consume",
    summary: "A fresh consumer group reads a filled in-memory log to its end, beside Redis Streams XREADGROUP COUNT 1000 + XACK.",
    goals: ["brook eachBatch", "brook eachMessage", "brook poll"].map((subject) => ({
      text: `${subject.replace("brook ", "")} ≥ 10× Redis Streams`,
      subject,
      reference: "Redis Streams",
      workload: any,
      atLeast: 10,
    })),
  },
  {
    group: "Node: the README's default path",
    summary: "The README's first example — eachMessage with auto commit on and durability strict on a file log — beside eachBatch on the same log.",
    goals: [{ text: "eachMessage (defaults) ≥ 0.5× eachBatch", subject: "brook eachMessage (defaults)", reference: "brook eachBatch", workload: any, atLeast: 0.5 }],
  },
  {
    group: "Node, files, relaxed: produce",
    summary: "MB/s of keys and values sent to a file log that acknowledges once written to the OS.",
    goals: [
      { text: "≥ 0.5× writeSync of the same bytes at sends of 100", subject: "brook", reference: "writeSync of the same bytes", workload: (w) => w.endsWith("sends of 100"), atLeast: 0.5 },
      { text: "≥ 0.3× writeSync of the same bytes at sends of 10,000", subject: "brook", reference: "writeSync of the same bytes", workload: has("sends of 10,000"), atLeast: 0.3 },
      { text: "≥ 2× better-sqlite3", subject: "brook", reference: "better-sqlite3", workload: any, atLeast: 2 },
      { text: "≥ 1× lmdb-js", subject: "brook", reference: "lmdb-js", workload: any, atLeast: 1 },
    ],
  },
  {
    group: "Node, files, strict: produce",
    summary: "msgs/s sent to a file log that acknowledges once fsynced; concurrent senders share flushes.",
    goals: [
      { text: "16 senders of 100 ≥ 100× one fdatasync per record", subject: ["brook", has("16 senders of 100")], reference: ["fdatasync per record", any], atLeast: 100 },
      { text: "1 sender of 100 ≥ 0.9× writeSync + fdatasync per batch", subject: ["brook", has("1 sender of 100")], reference: ["writeSync + fdatasync per batch", any], atLeast: 0.9 },
      { text: "1 sender of 100 ≥ 1× hypercore 11", subject: ["brook", has("1 sender of 100")], reference: ["hypercore 11", any], atLeast: 1 },
      { text: "16 senders of 1 ≥ 8× one sender of 1", subject: ["brook", has("16 senders of 1")], reference: ["brook", (w) => w.endsWith("1 sender of 1")], atLeast: 8 },
    ],
  },
  {
    group: "Node, files: open",
    summary: "Milliseconds from a fresh process's import of brook to offsets() of an opened log (the first open, wasm instantiation included), beside readFileSync of all the log's files.",
    goals: [
      { text: "no slower than readFileSync at 200,000 records", subject: "brook Log.open + offsets()", reference: "readFileSync of its files", workload: has("200,000"), atMost: 1 },
      { text: "≥ 2× faster than readFileSync at 2,000,000", subject: "brook Log.open + offsets()", reference: "readFileSync of its files", workload: has("2,000,000"), atMost: 0.5 },
    ],
  },
  {
    group: /^Browser \(.*\), IndexedDB: persisted produce$/,
    summary: "Records per second persisted to IndexedDB; every transaction relaxed like brook's run (brook strict for comparison).",
    goals: [
      { text: "≥ 50× one transaction per message", subject: "brook (relaxed)", reference: "one transaction per message", workload: any, atLeast: 50 },
      { text: "≥ 5× idb", subject: "brook (relaxed)", reference: "idb, 1,000 puts per transaction", workload: any, atLeast: 5 },
      { text: "≥ 3× Dexie", subject: "brook (relaxed)", reference: "Dexie bulkPut", workload: any, atLeast: 3 },
      { text: "≥ 0.67× the floor", subject: "brook (relaxed)", reference: "the floor: brook's batches, as many transactions", workload: any, atLeast: 0.67 },
    ],
  },
  {
    group: /^Browser \(.*\): read everything back after a reload$/,
    summary: "Records per second from opening the log after a reload to the last record consumed.",
    goals: [
      { text: "≥ 3× Dexie toArray", subject: "brook open + consume", reference: "Dexie toArray", workload: any, atLeast: 3 },
      { text: "≥ 0.7× raw getAll", subject: "brook open + consume", reference: "raw getAll of brook's batches", workload: any, atLeast: 0.7 },
    ],
  },
  {
    group: "Wasm boundary",
    summary: "Microseconds per record sent (memory log): what crossing into wasm costs.",
    goals: [
      { text: "per-record cost in one send of 10,000 ≤ 10% of sends of 1", subject: "brook, one send of 10,000", reference: "brook, sends of 1", workload: any, atMost: 0.1 },
      { text: "string values ≤ 2× Uint8Array values", subject: "brook, string values", reference: "brook, Uint8Array values", workload: any, atMost: 2 },
    ],
  },
  {
    group: "What a browser downloads",
    summary: "KiB of the .wasm and the JS modules js/browser.js loads, as npm pack packs them.",
    goals: [
      { text: ".wasm ≤ 150 KiB raw", subject: [".wasm", (w) => w === "raw"], value: 150, atMost: 1 },
      { text: ".wasm + JS ≤ 60 KiB gzip", subject: [/^\.wasm \+ JS/, (w) => w === "gzip"], value: 60, atMost: 1 },
    ],
  },
  {
    group: "Memory per record held",
    summary: "Growth of V8's heap, external memory and the wasm memory, in a fresh process.",
    goals: [
      { text: "≤ 1.3× the payload in memory", subject: "brook, memory log", reference: "payload (key + value)", workload: any, atMost: 1.3 },
      { text: "a file log's memory independent of its size (2,000,000 ≤ 1.2× 200,000)", subject: ["brook, file log", has("2,000,000")], reference: ["brook, file log", has(" 200,000")], atMost: 1.2 },
    ],
  },
  {
    group: "Logs larger than memory: growth at open and read",
    summary: "Growth of the process (Node: resident set) or page (wasm memory + JS heap) when a fresh one opens a large log and reads it end to end, beside the log's size.",
    goals: [
      { text: "Node: opening grows memory by ≤ 2% of the log's size", subject: "brook: growth at open", reference: "the log's size", workload: has("Node"), atMost: 0.02 },
      { text: "Node: reading it all grows memory by ≤ 5% of the log's size", subject: "brook: peak growth reading it all (16 MiB cache)", reference: "the log's size", workload: has("Node"), atMost: 0.05 },
      { text: "IndexedDB: opening 300 MB grows the page by < 160 MiB (≤ 0.5× the log)", subject: "brook: growth at open", reference: "the log's size", workload: has("Browser"), atMost: 0.5 },
      { text: "IndexedDB: reading it all grows the page by ≤ 0.5× the log", subject: "brook: peak growth reading it all (16 MiB cache)", reference: "the log's size", workload: has("Browser"), atMost: 0.5 },
      { text: "brook's own memory after reading it all ≤ 5% of the log (cache + index + buffers)", subject: "brook's wasm memory after reading it all", reference: "the log's size", workload: any, atMost: 0.05 },
    ],
  },
  {
    group: "Node, memory: a view's catch-up",
    summary: "Records per second from a cold start until a new view is ready, beside the eachBatch-into-a-Map loop an app would write by hand.",
    goals: [{ text: "≥ 0.8× the hand-written loop", subject: "brook log.view", reference: "eachBatch into a Map, by hand", workload: any, atLeast: 0.8 }],
  },
  {
    group: "A Kafka client and broker on this machine",
    summary: "KafkaJS 2.2.4 against the Tansu broker (memory storage) on loopback, beside brook in memory.",
    goals: [
      { text: "produce ≥ 20× KafkaJS + Tansu", subject: "brook", reference: "KafkaJS + Tansu", workload: has("produce"), atLeast: 20 },
      { text: "consume ≥ 20× KafkaJS + Tansu", subject: "brook", reference: "KafkaJS + Tansu", workload: has("consume"), atLeast: 20 },
    ],
  },
];

export function groupOf(name) {
  return GROUPS.find(({ group }) => (group instanceof RegExp ? group.test(name) : group === name));
}
