// The size ratchet: fails when a .wasm that npm pack ships (built by scripts/build.sh) grows
// past its figures in scripts/size-limits.json, raw or gzipped: pkg/ (what a browser
// downloads) under "wasm", pkg/node/ under "nodeWasm". Lower the limits with every gain; the
// budget (BENCHMARKS.md, "What a browser downloads") is 150 KiB raw, 60 KiB gzip for the
// browser's .wasm and its JS together.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const limits = JSON.parse(readFileSync(new URL("./size-limits.json", import.meta.url), "utf8"));
let failed = false;
for (const [entry, path] of [
  ["wasm", "pkg/brook_core_bg.wasm"],
  ["nodeWasm", "pkg/node/brook_core_bg.wasm"],
]) {
  const wasm = readFileSync(new URL(`../${path}`, import.meta.url));
  const sizes = { raw: wasm.length, gzip: gzipSync(wasm, { level: 9 }).length };
  for (const [name, size] of Object.entries(sizes)) {
    const limit = limits[entry][name];
    const verdict = size <= limit ? "ok" : "TOO LARGE";
    console.log(`size: ${path} ${name} ${size} bytes (limit ${limit}): ${verdict}`);
    failed ||= !(size <= limit);
  }
}
if (failed) {
  console.error("size: a .wasm grew past its ratchet (scripts/size-limits.json); find what grew (twiggy top) or, for a reason a reviewer accepts, raise the limit in the same commit");
  process.exit(1);
}
