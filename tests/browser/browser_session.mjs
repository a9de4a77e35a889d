// Debian's chromium driven by puppeteer-core, as the browser tests (console.test.mjs,
// fleet.test.mjs) start it, and the page they drive, which records every fault a user would
// meet on it. Environment:
//   CHROMIUM      the browser binary (default /usr/bin/chromium)

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import puppeteer from "puppeteer-core";

// Starts headless chromium on a profile of its own. close() ends the browser and removes the
// profile; it never throws, so that it can run in a `finally`.
export async function launchChromium() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "etcdmon-chromium-"));
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    userDataDir: profile,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
    protocolTimeout: 60000,
  });
  return {
    browser,
    close: async () => {
      await browser.close().catch(() => {});
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

// A new 1280x900 page of `browser` that appends to `problems` every console error, uncaught
// exception, failed request and answer >= 400, as one line each.
export async function openWatchedPage(browser, problems) {
  const page = await browser.newPage();
  page.setDefaultTimeout(30000);
  page.on("console", (m) => { if (m.type() === "error") problems.push(m.text()); });
  page.on("pageerror", (e) => problems.push("uncaught: " + e.message));
  page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  // The page asks only for what exists: any answer >= 400 is an error, named with its URL.
  page.on("response", (r) => { if (r.status() >= 400) problems.push(`${r.status()} for ${r.request().method()} ${r.url()}`); });
  await page.setViewport({ width: 1280, height: 900 });
  return page;
}
