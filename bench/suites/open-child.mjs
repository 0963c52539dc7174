// One cold start in a fresh process (spawned by open.mjs): "brook" imports brook, opens the log
// at argv[3] and asks for its offsets; "raw" reads every file under argv[3] with readFileSync.
// Prints the milliseconds from before the import (module instantiation included) to the end.
const started = performance.now();
const [mode, path] = process.argv.slice(2);
if (mode === "brook") {
  const { Log } = await import("../../js/node.js");
  const log = await Log.open({ path });
  const topics = log.topics();
  const records = topics.reduce((sum, t) => sum + log.offsets(t.topic).reduce((s, o) => s + o.high - o.low, 0), 0);
  const elapsed = performance.now() - started;
  await log.close();
  process.stdout.write(`${JSON.stringify({ ms: elapsed, records })}\n`);
} else {
  const { readdirSync, readFileSync, statSync } = await import("node:fs");
  const { join } = await import("node:path");
  let bytes = 0;
  const walk = (directory) => {
    for (const name of readdirSync(directory)) {
      const full = join(directory, name);
      if (statSync(full).isDirectory()) walk(full);
      else bytes += readFileSync(full).length;
    }
  };
  walk(path);
  process.stdout.write(`${JSON.stringify({ ms: performance.now() - started, bytes })}\n`);
}
