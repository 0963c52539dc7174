// What the browser test files share: one browser per engine's describe block, and the test
// page (tests/browser/page.html) opened once its module has loaded brook (window.ready).
import { after, before } from "node:test";
import { launch } from "./engines.mjs";

/** Launches `engine` before the enclosing describe block's tests and closes it after them;
 * returns a getter of the browser. */
export function browserFor(engine) {
  let browser;
  before(async () => {
    browser = await launch(engine);
  });
  after(() => browser?.close());
  return () => browser;
}

/** A new page of `context` at `url`, once brook is loaded there. */
export async function openTestPage(context, url) {
  const page = await context.newPage();
  await page.goto(url);
  await page.waitFor(() => window.ready === true);
  return page;
}
