// `import { Kafka } from "brook/kafkajs"` in browsers: KafkaJS's API over brook's IndexedDB
// Log. Browsers have no Buffer; keys, values and header values are Uint8Arrays whose
// toString() decodes UTF-8, so that KafkaJS code's `message.value.toString()` reads the same.

import { Log } from "./browser.js";
import { createKafka } from "./kafkajs.js";

export * from "./kafkajs-exports.js";

const utf8 = new TextDecoder();

/** Bytes as KafkaJS hands them over, for code that calls toString() on them. */
export class KafkaBytes extends Uint8Array {
  toString(encoding) {
    if (encoding === undefined || /^utf-?8$/i.test(encoding)) return utf8.decode(this);
    return super.toString();
  }
}

export const { Kafka } = createKafka({
  Log,
  bytes: (view) => new KafkaBytes(view.buffer, view.byteOffset, view.byteLength),
});
