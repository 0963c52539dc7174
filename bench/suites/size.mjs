// What a browser downloads: the .wasm and the JS modules that js/browser.js loads, as
// `npm pack` packs them (scripts/bench.sh builds the package first), raw, gzip -9 and brotli.

import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { emit, tempDir } from "../lib/harness.mjs";

const root = fileURLToPath(new URL("../..", import.meta.url));
const destination = tempDir();
execFileSync("npm", ["pack", "--ignore-scripts", "--silent", "--pack-destination", destination], { cwd: root });
const tarball = readdirSync(destination).find((name) => name.endsWith(".tgz"));
execFileSync("tar", ["-xzf", join(destination, tarball), "-C", destination]);
const packed = join(destination, "package");

/** The files a browser fetches: the wasm, its glue, and every module browser.js imports. */
function browserFiles() {
  const files = new Set(["pkg/brook_core_bg.wasm"]);
  const pending = ["js/browser.js"];
  while (pending.length) {
    const file = pending.pop();
    if (files.has(file)) continue;
    files.add(file);
    const source = readFileSync(join(packed, file), "utf8");
    for (const [, target] of source.matchAll(/^(?:import|export)[^;]*?from\s+"(\.[^"]+)"/gms)) {
      pending.push(join(file, "..", target));
    }
  }
  return [...files];
}

const files = browserFiles();
const sizes = { raw: {}, gzip: {}, brotli: {} };
for (const file of files) {
  const bytes = readFileSync(join(packed, file));
  sizes.raw[file] = bytes.length;
  sizes.gzip[file] = gzipSync(bytes, { level: 9 }).length;
  sizes.brotli[file] = brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
}
const kib = (n) => n / 1024;
for (const encoding of ["raw", "gzip", "brotli"]) {
  const wasm = sizes[encoding]["pkg/brook_core_bg.wasm"];
  const all = Object.values(sizes[encoding]).reduce((a, b) => a + b, 0);
  const base = { group: "What a browser downloads", metric: "size", unit: "KiB", higher: false };
  emit({ ...base, workload: `${encoding}`, system: ".wasm", samples: [kib(wasm)] });
  emit({ ...base, workload: `${encoding}`, system: `.wasm + JS (${files.length - 1} modules)`, samples: [kib(all)] });
}
