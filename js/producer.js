// A producer: its placement state lives in the core (a WasmProducer); a send is one packed
// buffer across the boundary and resolves once durable.

import { BrookError, invalidArgument } from "./errors.js";
import { describe, guarded } from "./args.js";
import { breathe } from "./turns.js";
import { SEND_MESSAGES_MAX, encodeMessages } from "./wire.js";
import { readOptions } from "./args.js";


export class Producer {
  #log;
  #producer;

  constructor(log, producer) {
    this.#log = log;
    this.#producer = producer;
  }

  /** Appends `messages` to `topic`; resolves with `[{ topic, partition, offset }]`, one per
   * message in order, once they are durable under the log's setting. */
  async send(request) {
    this.#log.assertOpen();
    const { topic, messages } = readOptions(request, "send", ["topic", "messages"]);
    const list = readMessages(messages);
    const packed = encodeMessages(list);
    const placements = this.#log.invoke((wasm) =>
      wasm.send(this.#producer, topic, list.length, packed),
    );
    try {
      await this.#log.durable();
    } finally {
      this.#log.notify();
    }
    await breathe();
    const metadata = new Array(list.length);
    for (let index = 0; index < metadata.length; index++) {
      metadata[index] = {
        topic,
        partition: placements[2 * index],
        offset: placements[2 * index + 1],
      };
    }
    return metadata;
  }
}

/** A send's messages, read once into a fresh array (its elements are read as they encode). */
function readMessages(messages) {
  let array = false;
  try {
    array = Array.isArray(messages);
  } catch {
    // A revoked Proxy: not an array.
  }
  if (!array) {
    throw invalidArgument(
      `send needs messages: an array of { key, value, partition, headers, timestamp }, got ${describe(messages)}`,
    );
  }
  return guarded("messages", () => {
    const length = messages.length;
    if (!Number.isSafeInteger(length) || length < 0) {
      throw invalidArgument(`messages has a length of ${describe(length)}`);
    }
    if (length > SEND_MESSAGES_MAX) {
      throw new BrookError(
        "MESSAGE_TOO_LARGE",
        `${length} messages in one send; send at most ${SEND_MESSAGES_MAX} at once`,
      );
    }
    const list = new Array(length);
    for (let index = 0; index < length; index++) list[index] = messages[index];
    return list;
  });
}
