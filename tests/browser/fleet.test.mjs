// The web console over two clusters, in Debian's chromium driven by puppeteer-core, against the
// gateway that dashboard_browser_test.cpp runs in-process over fake backends (clusters "prod",
// degraded, and "staging", without quorum). Environment:
//   CONSOLE_URL   the gateway's base URL ("http://127.0.0.1:PORT/")
//   CHROMIUM      the browser binary (default /usr/bin/chromium)
// Checks: without ?cluster= the page picks the worst cluster (staging) into its address; the
// fleet table lists both, worst first, with their states; the picker shows staging's members,
// and choosing prod shows prod's; no console error and no answer >= 400 on the way. Prints one
// line per check; the first failure ends the run with exit code 1.

import { launchChromium, openWatchedPage } from "./browser_session.mjs";

const url = process.env.CONSOLE_URL;
if (!url) throw new Error("CONSOLE_URL is not set");

const started = Date.now();
const log = (line) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${line}`);
class CheckFailed extends Error {}
const check = (ok, what) => {
  if (!ok) throw new CheckFailed(what);
  log(`ok: ${what}`);
};

const chromium = await launchChromium();
const problems = [];
let page;
let exitCode = 1;
try {
  page = await openWatchedPage(chromium.browser, problems);

  const response = await page.goto(url, { waitUntil: "load" });
  check(response.status() === 200, "the page answers 200");
  await page.waitForFunction(() => Number(document.body.dataset.refreshes) >= 1);
  check(new URL(page.url()).searchParams.get("cluster") === "staging",
    `the worst cluster is chosen into the address (${page.url()})`);

  const fleet = await page.$$eval("#fleet tbody tr[data-cluster]",
    (rows) => rows.map((r) => `${r.dataset.cluster}:${r.dataset.state}`));
  check(fleet.join(",") === "staging:no_quorum,prod:degraded",
    `the fleet table lists the clusters worst first (${fleet.join(", ")})`);
  check(await page.$eval("#fleet-section", (e) => !e.hidden && e.offsetParent !== null), "the fleet table is shown");
  const link = await page.$eval("#fleet tr[data-cluster='prod'] a", (a) => a.getAttribute("href"));
  check(new URLSearchParams(link.replace(/^\?/, "").split("#")[0]).get("cluster") === "prod",
    `a cluster's name links to its page (${link})`);
  const stateText = await page.$eval("#fleet tr[data-cluster='staging'] td", (td) => td.textContent);
  check(stateText.includes("\u2716") && stateText.includes("no quorum"), `a state is a word and a symbol (${stateText})`);

  check(await page.$eval("#cluster-picker-label", (e) => !e.hidden), "the cluster picker is shown");
  check(await page.$eval("#cluster-picker", (s) => s.value) === "staging", "the picker names the cluster shown");
  const stagingMembers = await page.$$eval("#members tbody tr[data-member]", (rows) => rows.map((r) => r.dataset.member));
  check(stagingMembers.join(",") === "stage-1,stage-2,stage-3", `staging's members are listed (${stagingMembers.join(", ")})`);
  check(await page.$eval("#state", (e) => e.dataset.state) === "no_quorum", "the header shows staging's state");

  // Choosing another cluster loads the page for it.
  await Promise.all([page.waitForNavigation({ waitUntil: "load" }), page.select("#cluster-picker", "prod")]);
  await page.waitForFunction(() => Number(document.body.dataset.refreshes) >= 1);
  check(new URL(page.url()).searchParams.get("cluster") === "prod", `the address names prod (${page.url()})`);
  await page.waitForFunction(() => document.querySelector("#members tbody tr[data-member='etcd-1']"));
  const prodMembers = await page.$$eval("#members tbody tr[data-member]", (rows) => rows.map((r) => r.dataset.member));
  check(prodMembers.join(",") === "etcd-1,etcd-2,etcd-3", `the picker switches the member table (${prodMembers.join(", ")})`);
  check(await page.$eval("#state", (e) => e.dataset.state) === "degraded", "the header shows prod's state");
  check(await page.$eval("#cluster-picker", (s) => s.value) === "prod", "the picker names prod");
  // One more refresh round, so that every section's calls have answered.
  await page.waitForFunction(() => Number(document.body.dataset.refreshes) >= 2, { timeout: 10000 });

  check(problems.length === 0, `no console error and no answer >= 400 (${problems.join(" | ")})`);
  exitCode = 0;
} catch (e) {
  console.log(`FAILED: ${e instanceof CheckFailed ? e.message : e.stack}`);
  if (problems.length) console.log(`problems: ${problems.join(" | ")}`);
  if (page) {
    const err = await page.$eval("#err", (e) => e.textContent).catch(() => "");
    if (err) console.log(`the page's error line: ${err}`);
  }
} finally {
  await chromium.close();
}
process.exit(exitCode);
