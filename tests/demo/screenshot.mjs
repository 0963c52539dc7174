// Saves docs/demo.png: the demo page on a desktop screen after the inventory story ran
// (keyed, then random, so the last run shown is the one that goes wrong), in Chromium.
//   node tests/demo/screenshot.mjs [out.png] [--phone]
// --phone: a 375 px wide full-page shot instead (for checking the small layout).

import { fileURLToPath } from "node:url";
import { startServer } from "../../scripts/serve.mjs";
import { launch } from "../lib/engines.mjs";

const args = process.argv.slice(2);
const phone = args.includes("--phone");
const out = args.find((a) => !a.startsWith("--")) ?? fileURLToPath(new URL("../../docs/demo.png", import.meta.url));

const { server, url } = await startServer(0);
const browser = await launch("chromium");
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.setViewport(phone ? 375 : 1440, phone ? 740 : 1050, phone ? 2 : 1);
  await page.goto(url);
  await page.waitFor(() => document.body?.dataset.ready === "true");
  const paint = await page.evaluate(() => performance.getEntriesByType("paint").find((p) => p.name === "first-contentful-paint")?.startTime);
  const ready = await page.evaluate(() => performance.now());
  console.log(`first contentful paint ${Math.round(paint)} ms; ready (log open, groups joined) by ${Math.round(ready)} ms`);
  await page.select("#story-speed", "fast");
  for (const mode of ["keyed", "random"]) {
    const runs = await page.count("#story-runs li");
    await page.click(`[data-story="${mode}"]`);
    await page.waitFor((n) => document.querySelectorAll("#story-runs li").length > n, runs, { timeout: 30_000 });
  }
  // Let the landing highlights fade; the groups keep consuming (lag, pills) meanwhile.
  await new Promise((resolve) => setTimeout(resolve, 1800));
  await page.moveMouse(0, 0);
  await page.screenshot(out, { fullPage: phone });
  for (const error of await page.errors()) console.error(error);
  console.log(`saved ${out}`);
} finally {
  await browser.close();
  server.close();
}
