// One scenario module (tests/lib/products-scenario.mjs), two systems: brook/kafkajs, and
// KafkaJS 2.2.4 with a Kafka-protocol broker (Tansu, memory storage) on loopback. Both must
// give the same observations: the partition of every key (Kafka's murmur2), per-partition and
// per-key order, every event once per group, and the event in hand at a crash delivered again
// under manual commits. A difference is a compatibility bug in brook.

import assert from "node:assert/strict";
import { test } from "node:test";
import { Kafka as KafkaJS, logLevel as kafkaLogLevel } from "kafkajs";
import { Kafka as BrookKafka, logLevel } from "../../js/kafkajs-node.js";
import { startTansu } from "../../bench/lib/servers.mjs";
import { runProductsScenario } from "../lib/products-scenario.mjs";

test("the products scenario observes the same on brook/kafkajs as on KafkaJS with a broker", { timeout: 240_000 }, async (t) => {
  const onBrook = await runProductsScenario(new BrookKafka({ clientId: "scenario", brokers: [], logLevel: logLevel.NOTHING }));
  const tansu = await startTansu();
  t.after(() => tansu.stop());
  const onKafka = await runProductsScenario(new KafkaJS({ clientId: "scenario", brokers: [tansu.broker], logLevel: kafkaLogLevel.NOTHING }));

  // The scenario's own expectations, on brook ...
  const once = Object.fromEntries(Object.keys(onBrook.mysql.deliveries).map((id) => [id, 1]));
  assert.equal(Object.keys(once).length, 30);
  for (const group of ["mysql", "elasticsearch"]) {
    assert.deepEqual(onBrook[group].deliveries, once, `${group}: every event once`);
    assert.equal(onBrook[group].inOrder, true, `${group}: each product's events in order`);
    assert.equal(onBrook[group].perPartitionOrdered, true);
  }
  assert.deepEqual(onBrook.manual, { inOrder: true, deliveredTwice: ["def-456/2"], processedBeforeCrashIncludesIt: true });
  assert.equal(onBrook.headersSeen, true);
  // ... and the same observations on Kafka.
  assert.deepEqual(onKafka, onBrook);
});
