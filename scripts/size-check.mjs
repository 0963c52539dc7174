// The size ratchet: fails when the .wasm that npm pack ships (pkg/, built by scripts/build.sh)
// grows past the figures in scripts/size-limits.json, raw or gzipped. Lower the limits with
// every gain; the budget (BENCHMARKS.md, "What a browser downloads") is 150 KiB raw, 60 KiB
// gzip for the .wasm and its JS together.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const limits = JSON.parse(readFileSync(new URL("./size-limits.json", import.meta.url), "utf8"));
const wasm = readFileSync(new URL("../pkg/brook_core_bg.wasm", import.meta.url));
const sizes = { raw: wasm.length, gzip: gzipSync(wasm, { level: 9 }).length };
let failed = false;
for (const [name, size] of Object.entries(sizes)) {
  const limit = limits.wasm[name];
  const verdict = size <= limit ? "ok" : "TOO LARGE";
  console.log(`size: pkg/brook_core_bg.wasm ${name} ${size} bytes (limit ${limit}): ${verdict}`);
  failed ||= size > limit;
}
if (failed) {
  console.error("size: the .wasm grew past its ratchet (scripts/size-limits.json); find what grew (twiggy top) or, for a reason a reviewer accepts, raise the limit in the same commit");
  process.exit(1);
}
