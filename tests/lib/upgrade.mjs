// What a log written by brook 0.1 holds (tests/fixtures/README.md), checked against what a
// newer brook reads from it. The compacted topic may have been compacted since (0.1 had not
// got to it): what is left must be records 0.1 stored, at their offsets, with the latest
// value of every key among them. Everything else must match exactly.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

export const fixture = (name) => new URL(`../fixtures/${name}`, import.meta.url);

export const expected = JSON.parse(readFileSync(fixture("brook-0.1-expected.json"), "utf8"));

/** What an open log holds, in the fixture's shape. Self-contained (it uses only its argument
 * and TextDecoder), so that the browser tests run the same function in a page: pass
 * `readContents.toString()` and eval it there. */
export async function readContents(log) {
  const found = { offsets: {}, records: {} };
  const decoder = new TextDecoder();
  for (const topic of ["orders", "profiles"]) {
    found.offsets[topic] = log.offsets(topic).map(({ partition, low, high }) => ({ partition, low, high }));
    const reader = log.consumer({ groupId: `read-${topic}-${Math.random()}`, autoCommit: false, fromBeginning: true });
    await reader.subscribe({ topic });
    const all = [];
    for (let batch; (batch = await reader.poll({ maxRecords: 1000 })).length > 0; ) all.push(...batch);
    found.records[topic] = all
      .map((m) => [m.partition, m.offset, decoder.decode(m.key), decoder.decode(m.value), m.timestamp, Object.fromEntries(Object.entries(m.headers ?? {}).map(([k, v]) => [k, decoder.decode(v)]))])
      .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    await reader.disconnect();
  }
  found.committed = log.lag({ groupId: "audit", topic: "orders" }).map(({ partition, committed }) => ({ partition, committed }));
  // As the fixture was written: JSON, where an absent commit has no key.
  return JSON.parse(JSON.stringify(found));
}

export function assertUpgraded(found) {
  const { profiles, ...records } = found.records;
  const { profiles: allProfiles, ...wantedRecords } = expected.records;
  assert.deepEqual({ ...found, records }, { ...expected, records: wantedRecords });
  const stored = new Map(allProfiles.map((r) => [r[1], JSON.stringify(r)]));
  for (const record of profiles) assert.equal(JSON.stringify(record), stored.get(record[1]));
  for (const [key, offset] of new Map(allProfiles.map((r) => [r[2], r[1]]))) {
    assert.ok(profiles.some((r) => r[1] === offset), `the latest value of ${key} (offset ${offset}) is kept`);
  }
}
