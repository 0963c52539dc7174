// The browser engines the page tests run in, behind one small interface, so that one test
// code covers all three:
//
//   chromium  Debian's /usr/bin/chromium through puppeteer-core (Chrome DevTools Protocol)
//   firefox   Debian's /usr/bin/firefox-esr through puppeteer-core (WebDriver BiDi; there is
//             no geckodriver package, and puppeteer speaks BiDi to Firefox itself)
//   webkit    WebKitGTK's MiniBrowser through Debian's WebKitWebDriver (classic WebDriver,
//             the only protocol it has), under a private Xvfb (MiniBrowser has no headless mode)
//
// Nothing here downloads a browser. A context is a fresh profile (its own IndexedDB, locks and
// channels); a page is a tab of it. Page methods take functions that run in the page with one
// JSON-able argument, as Playwright's and puppeteer's evaluate do; DOM helpers (click, fill, ...)
// act through the page's own DOM API, the same in every engine.
//
// BROOK_ENGINES=chromium,firefox limits the engines a run uses (default: all three).

import { existsSync } from "node:fs";
import puppeteer from "puppeteer-core";
import { Session, startDriver, startXvfb } from "./webdriver.mjs";

export const ENGINES = ["chromium", "firefox", "webkit"];

const BINARIES = {
  chromium: "/usr/bin/chromium",
  firefox: "/usr/bin/firefox-esr",
  webkit: "/usr/bin/WebKitWebDriver",
};
const MINIBROWSER = "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser";
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
];
const FIREFOX_PREFS = {
  // navigator.storage.persist() prompts in Firefox; headless, a prompt would hang the test.
  "dom.storageManager.prompt.testing": true,
  "dom.storageManager.prompt.testing.allow": true,
};

/** The engines to test: those listed in BROOK_ENGINES (or all), each present on the machine. */
export function enginesUnderTest() {
  const wanted = process.env.BROOK_ENGINES ? process.env.BROOK_ENGINES.split(",") : ENGINES;
  for (const engine of wanted) {
    if (!ENGINES.includes(engine)) throw new Error(`BROOK_ENGINES: unknown engine ${engine}`);
    if (!existsSync(BINARIES[engine])) {
      throw new Error(`${engine} is not installed (${BINARIES[engine]}); run scripts/setup.sh`);
    }
  }
  return wanted;
}

const source = (fn) => (typeof fn === "function" ? fn.toString() : `() => (${fn})`);

/** DOM helpers, run in the page: the same events a user's action fires, in every engine. */
const dom = {
  click: (selector) => {
    const element = document.querySelector(selector);
    if (!element) throw new Error(`no element matches ${selector}`);
    element.scrollIntoView({ block: "center" });
    element.click();
  },
  fill: ([selector, text]) => {
    const element = document.querySelector(selector);
    if (!element) throw new Error(`no element matches ${selector}`);
    element.focus();
    element.value = text;
    element.dispatchEvent(new Event("input", { bubbles: true }));
    element.dispatchEvent(new Event("change", { bubbles: true }));
  },
  select: ([selector, value]) => {
    const element = document.querySelector(selector);
    if (!element) throw new Error(`no element matches ${selector}`);
    // Setting a value no option has would leave the old choice in place, silently.
    if (![...element.options].some((option) => option.value === value)) throw new Error(`${selector} has no option ${value}`);
    element.value = value;
    element.dispatchEvent(new Event("input", { bubbles: true }));
    element.dispatchEvent(new Event("change", { bubbles: true }));
  },
  check: ([selector, checked]) => {
    const element = document.querySelector(selector);
    if (!element) throw new Error(`no element matches ${selector}`);
    if (element.checked !== checked) element.click();
  },
  text: (selector) => document.querySelector(selector)?.textContent ?? null,
  texts: (selector) => [...document.querySelectorAll(selector)].map((element) => element.textContent),
  attribute: ([selector, name]) => document.querySelector(selector)?.getAttribute(name) ?? null,
  count: (selector) => document.querySelectorAll(selector).length,
  focus: (selector) => {
    const element = document.querySelector(selector);
    if (!element) throw new Error(`no element matches ${selector}`);
    element.focus();
  },
  /** Whether an element is there and rendered (not display:none, hidden or zero-sized). */
  visible: (selector) => {
    const element = document.querySelector(selector);
    if (!element || element.hidden) return false;
    const style = getComputedStyle(element);
    const box = element.getBoundingClientRect();
    return style.display !== "none" && style.visibility !== "hidden" && box.width > 0 && box.height > 0;
  },
  box: (selector) => {
    const element = document.querySelector(selector);
    if (!element) return null;
    const { x, y, width, height } = element.getBoundingClientRect();
    return { x, y, width, height };
  },
  disabled: (selector) => document.querySelector(selector)?.disabled ?? null,
  /** Records uncaught errors and rejections, for engines whose driver does not report them. */
  watchErrors: () => {
    if (window.__pageErrors) return;
    window.__pageErrors = [];
    addEventListener("error", (event) => window.__pageErrors.push(`pageerror: ${event.error?.message ?? event.message}`));
    addEventListener("unhandledrejection", (event) => window.__pageErrors.push(`pageerror: ${event.reason?.message ?? event.reason}`));
    const consoleError = console.error;
    console.error = (...args) => {
      window.__pageErrors.push(`console.error: ${args.map(String).join(" ")}`);
      consoleError.apply(console, args);
    };
  },
};

/** What every page offers, on top of `evaluate`, `goto`, `reload` and the engine's extras. */
function withHelpers(page) {
  const run = (helper, argument) => page.evaluate(helper, argument);
  return Object.assign(page, {
    click: (selector) => run(dom.click, selector),
    fill: (selector, text) => run(dom.fill, [selector, text]),
    select: (selector, value) => run(dom.select, [selector, value]),
    check: (selector, checked = true) => run(dom.check, [selector, checked]),
    text: (selector) => run(dom.text, selector),
    texts: (selector) => run(dom.texts, selector),
    attribute: (selector, name) => run(dom.attribute, [selector, name]),
    count: (selector) => run(dom.count, selector),
    focus: (selector) => run(dom.focus, selector),
    visible: (selector) => run(dom.visible, selector),
    box: (selector) => run(dom.box, selector),
    disabled: (selector) => run(dom.disabled, selector),
    /** Polls `fn(argument)` in the page until it returns something truthy; returns that. */
    async waitFor(fn, argument, { timeout = 15_000, interval = 25 } = {}) {
      const deadline = Date.now() + timeout;
      let lastError = null;
      for (;;) {
        try {
          const value = await page.evaluate(fn, argument);
          if (value) return value;
        } catch (error) {
          // A page between two documents (a reload) cannot run scripts for a moment.
          lastError = error;
        }
        if (Date.now() > deadline) {
          throw new Error(`timed out after ${timeout} ms waiting for ${source(fn).slice(0, 120)}${lastError ? ` (${lastError.message})` : ""}`);
        }
        await new Promise((resolve) => setTimeout(resolve, interval));
      }
    },
  });
}

// ---- puppeteer-core: Chromium (CDP) and Firefox (BiDi) ----

async function launchPuppeteer(engine, { reducedMotion = false } = {}) {
  // Firefox over BiDi cannot emulate media features per page; its profile can prefer less motion.
  const prefs = reducedMotion ? { ...FIREFOX_PREFS, "ui.prefersReducedMotion": 1 } : FIREFOX_PREFS;
  const browser = await puppeteer.launch(
    engine === "firefox"
      ? { browser: "firefox", executablePath: BINARIES.firefox, headless: true, extraPrefsFirefox: prefs }
      : { browser: "chrome", executablePath: BINARIES.chromium, headless: true, args: CHROMIUM_ARGS },
  );
  const version = await browser.version();
  const wrapPage = (page) => {
    const errors = [];
    page.on("pageerror", (error) => errors.push(`pageerror: ${error.message ?? error}`));
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(`console.error: ${message.text()}`);
    });
    return withHelpers({
      goto: (url) => page.goto(url, { waitUntil: "load" }),
      reload: () => page.reload({ waitUntil: "load" }),
      evaluate: (fn, argument) =>
        page.evaluate((text, value) => (0, eval)(`(${text})`)(value), source(fn), argument ?? null),
      errors: async () => [...errors],
      /** Kills the renderer (Chromium only): a crash, not a close. */
      async crash() {
        if (engine !== "chromium") throw new Error(`${engine} cannot crash a tab on request`);
        const session = await page.createCDPSession();
        const crashed = new Promise((resolve) => page.once("error", resolve));
        session.send("Page.crash").catch(() => {});
        await crashed;
      },
      /** Clears the origin's IndexedDB through the DevTools protocol, as the browser's own
       * "clear site data" does (Chromium only); other storage (localStorage) stays. */
      async clearIndexedDb() {
        if (engine !== "chromium") throw new Error(`${engine} cannot clear IndexedDB from outside`);
        const session = await page.createCDPSession();
        await session.send("Storage.clearDataForOrigin", { origin: new URL(page.url()).origin, storageTypes: "indexeddb" });
        await session.detach();
      },
      screenshot: (path, options = {}) => page.screenshot({ path, ...options }),
      setViewport: (width, height, deviceScaleFactor = 1) => page.setViewport({ width, height, deviceScaleFactor }),
      press: (key) => page.keyboard.press(key),
      /** Moves the mouse over the element's centre (real pointer events). */
      hover: (selector) => page.hover(selector),
      moveMouse: (x, y) => page.mouse.move(x, y),
      reduceMotion: async () => {
        if (engine === "firefox") {
          if (!reducedMotion) throw new Error("firefox: launch(\"firefox\", { reducedMotion: true }) to prefer reduced motion");
          return;
        }
        await page.emulateMediaFeatures([{ name: "prefers-reduced-motion", value: "reduce" }]);
      },
      close: () => page.close({ runBeforeUnload: false }),
    });
  };
  return {
    engine,
    version: engine === "firefox" ? `Firefox ${version.replace(/^firefox\//, "")}` : version.replace(/^(Headless)?Chrome\//, "Chromium "),
    async newContext() {
      const context = await browser.createBrowserContext();
      return { newPage: async () => wrapPage(await context.newPage()), close: () => context.close() };
    },
    close: () => browser.close(),
  };
}

// ---- WebKitWebDriver: WebKitGTK ----

async function launchWebKit() {
  const xvfb = await startXvfb();
  const sessions = new Set();
  let version = "WebKitGTK";
  const capabilities = {
    browserName: "MiniBrowser",
    "webkitgtk:browserOptions": {
      binary: MINIBROWSER,
      // The Storage API (navigator.storage.persist, estimate) is off in MiniBrowser by default.
      args: ["--automation", "--features=+StorageAPI,+StorageAPIEstimate"],
    },
  };
  return {
    engine: "webkit",
    get version() {
      return version;
    },
    /** One driver and session per context: WebKitWebDriver holds one session at a time, and
     * each session starts with empty storage. */
    async newContext() {
      const driver = await startDriver(BINARIES.webkit, { DISPLAY: xvfb.display });
      const session = await Session.create(driver.base, capabilities);
      const entry = { session, driver };
      sessions.add(entry);
      version = `WebKitGTK ${session.capabilities.browserVersion}`;
      await session.setTimeouts({ script: 60_000, pageLoad: 30_000 });
      // Closing a session's last window would end the session, so a blank spare window is
      // opened before the last page closes, and the next page takes it. Pages are windows of
      // their own: a background tab would be throttled.
      const idle = [await session.window()];
      const open = new Set();
      const wrapPage = (handle) => {
        const on = async (operation) => {
          await session.switchTo(handle);
          return operation();
        };
        const watch = () => session.evaluate(source(dom.watchErrors), null).catch(() => {});
        return withHelpers({
          goto: (url) => on(async () => {
            await session.navigate(url);
            await watch();
          }),
          reload: () => on(async () => {
            await session.refresh();
            await watch();
          }),
          evaluate: (fn, argument) => on(() => session.evaluate(source(fn), argument)),
          errors: () => on(() => session.evaluate("() => window.__pageErrors ?? []", null)),
          crash: async () => {
            throw new Error("webkit cannot crash a tab on request");
          },
          screenshot: async (path) => {
            const { writeFileSync } = await import("node:fs");
            writeFileSync(path, await on(() => session.screenshot()));
          },
          setViewport: (width, height) => on(() => session.command("POST", "/window/rect", { width, height })),
          hover: (selector) => on(async () => {
            const element = await session.command("POST", "/element", { using: "css selector", value: selector });
            await session.command("POST", "/actions", {
              actions: [{ type: "pointer", id: "mouse", parameters: { pointerType: "mouse" }, actions: [{ type: "pointerMove", duration: 0, origin: element, x: 0, y: 0 }] }],
            });
          }),
          moveMouse: (x, y) => on(() => session.command("POST", "/actions", {
            actions: [{ type: "pointer", id: "mouse", parameters: { pointerType: "mouse" }, actions: [{ type: "pointerMove", duration: 0, origin: "viewport", x, y }] }],
          })),
          reduceMotion: async () => {
            throw new Error("webkit: WebKitWebDriver cannot emulate prefers-reduced-motion");
          },
          press: (key) => on(() => session.command("POST", "/actions", {
            actions: [{ type: "key", id: "keyboard", actions: [{ type: "keyDown", value: KEYS[key] ?? key }, { type: "keyUp", value: KEYS[key] ?? key }] }],
          })),
          close: () => on(async () => {
            open.delete(handle);
            if (open.size === 0 && idle.length === 0) idle.push(await session.newWindow("window"));
            await session.switchTo(handle);
            await session.closeWindow();
          }),
        });
      };
      return {
        async newPage() {
          let handle = idle.pop();
          if (handle === undefined) {
            // New Window needs a current window that is still open.
            await session.switchTo([...open][0]);
            handle = await session.newWindow("window");
          }
          open.add(handle);
          return wrapPage(handle);
        },
        async close() {
          sessions.delete(entry);
          await session.quit().catch(() => {});
          await driver.stop();
        },
      };
    },
    async close() {
      for (const { session, driver } of sessions) {
        await session.quit().catch(() => {});
        await driver.stop();
      }
      sessions.clear();
      await xvfb.stop();
    },
  };
}

/** WebDriver's code points for the keys the tests press. */
const KEYS = {
  Tab: "\uE004",
  Enter: "\uE007",
  Escape: "\uE00C",
  Space: " ",
  End: "\uE010",
  Home: "\uE011",
  ArrowLeft: "\uE012",
  ArrowUp: "\uE013",
  ArrowRight: "\uE014",
  ArrowDown: "\uE015",
};

/** `options.reducedMotion`: a browser whose pages prefer reduced motion (Firefox needs it at
 * launch; Chromium emulates it per page). */
export async function launch(engine, options = {}) {
  const start = () => (engine === "webkit" ? launchWebKit() : launchPuppeteer(engine, options));
  try {
    return await start();
  } catch (error) {
    // A browser that did not start (once, after a heavy run: no DevTools endpoint within 30 s)
    // is not the code under test: try once more, and say so.
    console.error(`${engine} did not start (${error?.message ?? error}); trying once more`);
    return start();
  }
}
