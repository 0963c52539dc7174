// What a log written by brook 0.1 holds (tests/fixtures/README.md), checked against what a
// newer brook reads from it. The compacted topic may have been compacted since (0.1 had not
// got to it): what is left must be records 0.1 stored, at their offsets, with the latest
// value of every key among them. Everything else must match exactly.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

export const fixture = (name) => new URL(`../fixtures/${name}`, import.meta.url);

export const expected = JSON.parse(readFileSync(fixture("brook-0.1-expected.json"), "utf8"));

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
