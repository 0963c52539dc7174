// `import { Kafka } from "brook/kafkajs"` in Node: KafkaJS's API over brook's Node Log, with
// keys, values and header values as Buffers (views of the delivered bytes, as KafkaJS's are).

import { Buffer } from "node:buffer";
import { Log } from "./node.js";
import { createKafka } from "./kafkajs.js";

export * from "./kafkajs-exports.js";

export const { Kafka } = createKafka({
  Log,
  bytes: (view) => Buffer.from(view.buffer, view.byteOffset, view.byteLength),
});
