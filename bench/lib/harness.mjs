// What every benchmark suite shares: repetitions, timing, percentiles, payloads, temporary
// directories, and the one output format — a JSON line per measured figure, which
// bench/run.mjs gathers into BENCHMARKS.md. A suite measures brook and its baselines in the
// same process run, one after the other, on the same machine.
//
// A figure: { group, workload, system, metric, unit, higher, samples: [n...], latency? }
// `samples` holds one value per repetition; `higher` says whether more is better; `latency`
// is { p50, p99 } in milliseconds (send to acknowledgement), the median over repetitions.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Repetitions of every figure (the issue asks for at least 5). */
export const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);
/** BENCH_QUICK=1 shrinks every workload, to check that the scripts run (not for figures). */
export const QUICK = process.env.BENCH_QUICK === "1";

export function emit(figure) {
  process.stdout.write(`${JSON.stringify(figure)}\n`);
}

/** Scales a count down in quick mode. */
export function scaled(count, minimum = 1) {
  return QUICK ? Math.max(minimum, Math.ceil(count / 50)) : count;
}

export function percentile(sorted, fraction) {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1));
  return sorted[index];
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/**
 * Runs `repetition()` REPEATS times (after `warmups` unmeasured runs); each returns
 * { value, latencies? } where latencies are milliseconds. Returns samples and latency.
 */
export async function repeat(repetition, { warmups = 1 } = {}) {
  for (let index = 0; index < warmups; index++) await repetition(index, true);
  const samples = [];
  const p50s = [];
  const p99s = [];
  for (let index = 0; index < REPEATS; index++) {
    const { value, latencies } = await repetition(index, false);
    samples.push(value);
    if (latencies?.length) {
      const sorted = Float64Array.from(latencies).sort();
      p50s.push(percentile(sorted, 0.5));
      p99s.push(percentile(sorted, 0.99));
    }
  }
  const latency = p50s.length ? { p50: median(p50s), p99: median(p99s) } : undefined;
  return { samples, latency };
}

/** Calls `send(index)` for `count` operations of `size` messages each, one after the other;
 * returns messages per second and each operation's latency in ms. */
export async function timedSends(count, size, send) {
  const latencies = new Float64Array(count);
  const started = performance.now();
  for (let index = 0; index < count; index++) {
    const before = performance.now();
    await send(index);
    latencies[index] = performance.now() - before;
  }
  const seconds = (performance.now() - started) / 1000;
  return { value: (count * size) / seconds, latencies };
}

/** `senders` concurrent loops, each doing `count` operations of `size` messages. */
export async function concurrentSends(senders, count, size, send) {
  const latencies = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: senders }, async (_, sender) => {
      for (let index = 0; index < count; index++) {
        const before = performance.now();
        await send(sender, index);
        latencies.push(performance.now() - before);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { value: (senders * count * size) / seconds, latencies };
}

/** An ASCII string of `bytes` bytes (a record value). */
export function payload(bytes, seed = 0) {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  let text = "";
  for (let index = 0; index < bytes; index++) text += alphabet[(index * 7 + seed) % alphabet.length];
  return text;
}

/** The key of the i-th message: 10,000 distinct keys, so every partition gets its share. */
export function keyOf(index) {
  return `key-${index % 10_000}`;
}

/** `size` keyed messages starting at message `first`, values of `valueBytes`. */
export function keyedMessages(size, first, value) {
  const messages = new Array(size);
  for (let index = 0; index < size; index++) messages[index] = { key: keyOf(first + index), value };
  return messages;
}

const directories = [];
export function tempDir(prefix = "brook-bench-") {
  const path = mkdtempSync(join(process.env.BENCH_TMP ?? tmpdir(), prefix));
  directories.push(path);
  return path;
}

export function removeTempDirs() {
  for (const path of directories.splice(0)) rmSync(path, { recursive: true, force: true });
}

process.on("exit", removeTempDirs);

export function label(bytes) {
  return bytes >= 1024 ? `${bytes / 1024} KiB` : `${bytes} B`;
}
