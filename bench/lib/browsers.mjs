// The browsers the benchmark drives: the engines of the tests (tests/lib/engines.mjs) —
// Chromium, Firefox and WebKit — behind the same small page interface.
export { ENGINES, enginesUnderTest as benchEngines } from "../../tests/lib/engines.mjs";
import { launch as launchEngine } from "../../tests/lib/engines.mjs";

export async function launch(engine) {
  const browser = await launchEngine(engine);
  const context = await browser.newContext();
  return {
    engine,
    version: browser.version,
    async newPage() {
      const page = await context.newPage();
      return {
        goto: (url) => page.goto(url),
        reload: () => page.reload(),
        waitFor: (expression) => page.waitFor(expression),
        evaluate: (fn, argument) => page.evaluate(fn, argument),
        close: () => page.close(),
      };
    },
    async close() {
      await context.close();
      await browser.close();
    },
  };
}
