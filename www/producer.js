// Producing: one event by hand, a stream at an adjustable rate, and new topics. Placement is
// a producer setting, as in KafkaJS: the default partitioner places by key (Kafka's murmur2,
// so a key lands where a real Kafka cluster would put it); "random" ignores the key.

import { BrookError } from "brook";
import { literal, logCall, produceSequence, PRODUCTS } from "./util.js";

export class Producers {
  constructor({ log, lanes, root, onTopicCreated, onError }) {
    this.log = log;
    this.lanes = lanes;
    this.onTopicCreated = onTopicCreated;
    this.onError = onError;
    // One producer per placement, made once: a producer carries placement state (the random
    // generator), as a KafkaJS producer does.
    this.producers = {
      keyed: log.producer(),
      random: log.producer({ partitioner: "random" }),
    };
    logCall("const keyed = log.producer()  // default partitioner: murmur2(key) % partitions");
    logCall(`const random = log.producer(${literal({ partitioner: "random" })})`);

    const $ = (selector) => root.querySelector(selector);
    this.form = $("#send-form");
    this.topicSelect = $("#send-topic");
    this.keyInput = $("#send-key");
    this.noKey = $("#send-no-key");
    this.valueInput = $("#send-value");
    this.partitionSelect = $("#send-partition");
    this.result = $("#send-result");
    this.streamButton = $("#stream-toggle");
    this.streamRate = $("#stream-rate");
    this.streamRateOut = $("#stream-rate-out");
    this.streamStatus = $("#stream-status");
    this.placementInputs = [...root.querySelectorAll('input[name="placement"]')];
    this.streaming = false;
    this.streamed = 0;

    this.noKey.addEventListener("change", () => {
      this.keyInput.disabled = this.noKey.checked;
    });
    this.topicSelect.addEventListener("change", () => this.#fillPartitions());
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.sendOne().catch((error) => this.#show(this.result, error));
    });
    this.streamButton.addEventListener("click", () => (this.streaming ? this.stopStream() : this.startStream()));
    const showRate = () => {
      this.streamRateOut.textContent = `${this.streamRate.value} events/s`;
    };
    this.streamRate.addEventListener("input", showRate);
    showRate();

    const topicForm = $("#topic-form");
    const topicResult = $("#topic-result");
    topicForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this.createTopic($("#topic-name").value.trim(), Number($("#topic-partitions").value))
        .then((message) => {
          topicResult.dataset.state = "ok";
          topicResult.textContent = message;
        })
        .catch((error) => this.#show(topicResult, error));
    });
    this.refreshTopics();
  }

  get placement() {
    return this.placementInputs.find((input) => input.checked)?.value ?? "keyed";
  }

  /** Fills the topic list from log.topics(), keeping the selection. */
  refreshTopics() {
    const selected = this.topicSelect.value || "inventory";
    const topics = this.log.topics();
    this.topicSelect.replaceChildren(
      ...topics.map(({ topic }) => new Option(topic, topic, false, topic === selected)),
    );
    this.#fillPartitions();
  }

  #fillPartitions() {
    const topic = this.log.topics().find((t) => t.topic === this.topicSelect.value);
    const selected = this.partitionSelect.value;
    const options = [new Option("by placement", "")];
    for (let p = 0; p < (topic?.partitions ?? 0); p++) options.push(new Option(`partition ${p}`, String(p)));
    this.partitionSelect.replaceChildren(...options);
    if ([...this.partitionSelect.options].some((o) => o.value === selected)) this.partitionSelect.value = selected;
  }

  /** Sends the form's event; says where it landed and why. */
  async sendOne() {
    const topic = this.topicSelect.value;
    const key = this.noKey.checked ? null : this.keyInput.value;
    const value = this.valueInput.value;
    const partition = this.partitionSelect.value === "" ? undefined : Number(this.partitionSelect.value);
    const placement = this.placement;
    const message = { key, value, headers: { seq: produceSequence() } };
    if (partition !== undefined) message.partition = partition;
    const [placed] = await this.producers[placement].send({ topic, messages: [message] });
    logCall(
      `await ${placement}.send(${literal({ topic, messages: [{ key, value, partition }] })})  // → partition ${placed.partition}, offset ${placed.offset}`,
    );
    this.lanes.highlight(topic, placed.partition, placed.offset);
    let why;
    if (partition !== undefined) why = "the partition you chose";
    else if (placement === "random") why = "picked at random (the key is ignored)";
    else if (key === null) why = "no key: spread over the partitions";
    else why = `murmur2("${key}") % ${this.log.topics().find((t) => t.topic === topic).partitions}, as Kafka computes it`;
    this.result.dataset.state = "ok";
    this.result.dataset.partition = String(placed.partition);
    this.result.dataset.offset = String(placed.offset);
    this.result.textContent = `${key === null ? "No key" : `Key "${key}"`} → ${topic} partition ${placed.partition}, offset ${placed.offset} (${why}).`;
    return placed;
  }

  startStream() {
    if (this.streaming) return;
    this.streaming = true;
    this.streamButton.setAttribute("aria-pressed", "true");
    this.streamButton.textContent = "Stop stream";
    logCall(`setInterval(() => producer.send({ topic: "inventory", messages: [event] }), 1000 / rate)  // stream`);
    const tick = async () => {
      if (!this.streaming) return;
      const began = performance.now();
      try {
        await this.#sendStreamEvent();
      } catch (error) {
        this.stopStream();
        if (error?.code !== "CLOSED") this.onError(error);
        return;
      }
      const wait = 1000 / Number(this.streamRate.value) - (performance.now() - began);
      this.streamTimer = setTimeout(tick, Math.max(0, wait));
    };
    tick();
  }

  stopStream() {
    if (!this.streaming) return;
    this.streaming = false;
    clearTimeout(this.streamTimer);
    this.streamButton.setAttribute("aria-pressed", "false");
    this.streamButton.textContent = "Start stream";
  }

  /** A shop event: a random product sells or is restocked. */
  async #sendStreamEvent() {
    const product = PRODUCTS[Math.floor(Math.random() * PRODUCTS.length)];
    const action = Math.random() < 0.6 ? "reduce_inventory" : "increase_inventory";
    const event = { id: product.id, action, stock: 1 + Math.floor(Math.random() * 3) };
    const placement = this.placement;
    const [placed] = await this.producers[placement].send({
      topic: "inventory",
      messages: [{ key: product.id, value: JSON.stringify(event), headers: { seq: produceSequence() } }],
    });
    this.streamed += 1;
    this.lanes.highlight("inventory", placed.partition, placed.offset);
    this.streamStatus.textContent = `${this.streamed} sent · last: "${product.id}" → partition ${placed.partition}, offset ${placed.offset} (${placement})`;
  }

  async createTopic(topic, partitions) {
    await this.log.createTopic({ topic, partitions });
    logCall(`await log.createTopic(${literal({ topic, partitions })})`);
    this.onTopicCreated(topic);
    this.refreshTopics();
    return `Created topic "${topic}" with ${partitions} partition${partitions === 1 ? "" : "s"}.`;
  }

  /** An error the user caused (a bad name, a missing topic) is said where they acted. */
  #show(output, error) {
    if (!(error instanceof BrookError)) {
      this.onError(error);
      return;
    }
    output.dataset.state = "error";
    output.textContent = `${error.code}: ${error.message}`;
  }
}
