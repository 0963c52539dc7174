// Saves docs/demo.png: the demo page on a desktop screen after the inventory story ran
// (keyed, then random, so the last run shown is the one that goes wrong).
//   node tests/demo/screenshot.mjs [out.png] [--phone]
// --phone: a 375 px wide full-page shot instead (for checking the small layout).

import { chromium } from "playwright-core";
import { fileURLToPath } from "node:url";
import { startServer } from "../../scripts/serve.mjs";
import { LAUNCH } from "./browser.mjs";

const args = process.argv.slice(2);
const phone = args.includes("--phone");
const out = args.find((a) => !a.startsWith("--")) ?? fileURLToPath(new URL("../../docs/demo.png", import.meta.url));

const { server, url } = await startServer(0);
const browser = await chromium.launch(LAUNCH);
try {
  const context = await browser.newContext({
    viewport: phone ? { width: 375, height: 740 } : { width: 1440, height: 1050 },
    deviceScaleFactor: phone ? 2 : 1,
  });
  const page = await context.newPage();
  page.on("pageerror", (error) => console.error("page error:", error.message));
  page.on("console", (message) => message.type() === "error" && console.error("console:", message.text()));
  await page.goto(url);
  await page.waitForSelector("body[data-ready=true]");
  await page.selectOption("#story-speed", "fast");
  for (const mode of ["keyed", "random"]) {
    const runs = await page.locator("#story-runs li").count();
    await page.click(`[data-story="${mode}"]`);
    await page.waitForFunction((n) => document.querySelectorAll("#story-runs li").length > n, runs, { timeout: 30_000 });
  }
  // Let the landing highlights fade; the groups keep consuming (lag, pills) meanwhile.
  await page.waitForTimeout(1800);
  await page.mouse.move(0, 0);
  await page.screenshot({ path: out, fullPage: phone });
  console.log(`saved ${out}`);
} finally {
  await browser.close();
  server.close();
}
