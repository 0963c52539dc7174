// A small client of classic (W3C, HTTP) WebDriver, for WebKitWebDriver, which speaks nothing
// else: start the driver on a free port, open a session, and the few commands the tests use.
// Scripts run through "execute/async", so a function may return a promise.

import { spawn } from "node:child_process";
import { createServer } from "node:net";

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function stopper(child) {
  return () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once("exit", () => resolve());
      child.kill("SIGTERM");
    });
}

/** Starts a private Xvfb (it picks a free display and reports it); resolves with its name. */
export function startXvfb() {
  return new Promise((resolve, reject) => {
    const child = spawn("Xvfb", ["-displayfd", "3", "-screen", "0", "1280x1024x24", "-nolisten", "tcp", "-noreset"], {
      stdio: ["ignore", "ignore", "pipe", "pipe"],
    });
    let display = "";
    let errors = "";
    child.stderr.on("data", (chunk) => (errors += chunk));
    child.stdio[3].on("data", (chunk) => {
      display += chunk;
      if (display.includes("\n")) resolve({ display: `:${display.trim()}`, stop: stopper(child) });
    });
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`Xvfb exited (${code}): ${errors}`)));
  });
}

/** Starts a driver binary on a free port; resolves once its /status says it is ready. */
export async function startDriver(binary, environment = {}) {
  const port = await freePort();
  const child = spawn(binary, [`--port=${port}`], {
    env: { ...process.env, ...environment },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let errors = "";
  child.stderr.on("data", (chunk) => (errors = (errors + chunk).slice(-4000)));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const status = await (await fetch(`${base}/status`)).json();
      if (status.value?.ready !== false) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill("SIGKILL");
      throw new Error(`${binary} did not start: ${errors}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { base, stop: stopper(child) };
}

export class Session {
  static async create(base, capabilities) {
    const response = await fetch(`${base}/session`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ capabilities: { alwaysMatch: capabilities } }),
    });
    const body = await response.json();
    if (!response.ok) throw new Error(`WebDriver session refused: ${JSON.stringify(body.value)}`);
    return new Session(base, body.value.sessionId, body.value.capabilities);
  }

  constructor(base, id, capabilities) {
    this.base = base;
    this.id = id;
    this.capabilities = capabilities;
  }

  async command(method, path, body) {
    const response = await fetch(`${this.base}/session/${this.id}${path}`, {
      method,
      headers: { "content-type": "application/json" },
      body: body === undefined ? (method === "POST" ? "{}" : undefined) : JSON.stringify(body),
      // A driver that hangs fails the test in a minute, not after undici's five.
      signal: AbortSignal.timeout(90_000),
    });
    const reply = await response.json().catch(() => ({}));
    if (!response.ok) {
      throw new Error(`WebDriver ${method} ${path}: ${reply.value?.error}: ${reply.value?.message}`);
    }
    return reply.value;
  }

  /** Runs `source` (a function's text) with `argument` in the page; awaits what it returns. */
  async evaluate(source, argument) {
    const script = `const done = arguments[arguments.length - 1];
      Promise.resolve()
        .then(() => (${source})(arguments[0]))
        .then((value) => done({ value: value === undefined ? null : value }),
              (error) => done({ error: String((error && error.stack) || error), name: error && error.name, message: error && error.message }));`;
    const reply = await this.command("POST", "/execute/async", { script, args: [argument ?? null] });
    if (reply && "error" in reply) {
      throw Object.assign(new Error(reply.message ?? reply.error), { name: reply.name ?? "Error", stack: reply.error });
    }
    return reply?.value ?? undefined;
  }

  navigate(url) {
    return this.command("POST", "/url", { url });
  }

  refresh() {
    return this.command("POST", "/refresh");
  }

  window() {
    return this.command("GET", "/window");
  }

  async newWindow(type = "tab") {
    return (await this.command("POST", "/window/new", { type })).handle;
  }

  switchTo(handle) {
    return this.command("POST", "/window", { handle });
  }

  closeWindow() {
    return this.command("DELETE", "/window");
  }

  async screenshot() {
    return Buffer.from(await this.command("GET", "/screenshot"), "base64");
  }

  setTimeouts(timeouts) {
    return this.command("POST", "/timeouts", timeouts);
  }

  quit() {
    return this.command("DELETE", "");
  }
}
