// The browsers the benchmark drives: one small interface (newPage, goto, evaluate, reload,
// close) over headless Chromium through playwright-core and Debian's /usr/bin/chromium.

import { chromium } from "playwright-core";

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
];

export const ENGINES = ["chromium"];

export async function launch(engine) {
  if (engine !== "chromium") throw new Error(`unknown engine ${engine}`);
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
  const context = await browser.newContext();
  return {
    engine,
    version: `Chromium ${browser.version()}`,
    async newPage() {
      const page = await context.newPage();
      return {
        goto: (url) => page.goto(url),
        reload: () => page.reload(),
        waitFor: (expression) => page.waitForFunction(expression),
        evaluate: (fn, argument) => page.evaluate(fn, argument),
        close: () => page.close(),
      };
    },
    close: () => browser.close(),
  };
}
