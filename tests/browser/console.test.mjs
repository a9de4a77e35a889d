// The web console in a real browser against the real product: Debian's chromium, driven by
// puppeteer-core, on the all-in-one `etcd-monitor` watching a real 3-member etcd cluster.
// console_browser_test.cpp starts the cluster and the monitor, then runs this script with:
//   CONSOLE_URL          the gateway's base URL ("http://127.0.0.1:PORT/")
//   API_TOKEN, BENCHMARK_TOKEN   the monitor's tokens (typed into the page like a user would)
//   ETCD_ENDPOINTS       the members' client URLs, comma-separated (for etcdctl)
//   ETCD_MEMBER_PIDS     JSON {"member name": pid}: the script stops one follower itself, so
//                        that the 5 s it allows the page is measured from the moment it stops
//   ARTIFACT_DIR         where screenshots go
//   CHROMIUM             the browser binary (default /usr/bin/chromium)
// Every step is bounded; the first failure ends the run with exit code 1 and says what the page
// showed. Prints one line per check.

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

import { launchChromium, openWatchedPage } from "./browser_session.mjs";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const url = env("CONSOLE_URL");
const apiToken = env("API_TOKEN");
const benchmarkToken = env("BENCHMARK_TOKEN");
const endpoints = env("ETCD_ENDPOINTS");
const memberPids = JSON.parse(env("ETCD_MEMBER_PIDS"));
const artifacts = env("ARTIFACT_DIR");
fs.mkdirSync(artifacts, { recursive: true });
for (const old of fs.readdirSync(artifacts)) {
  if (/^console-.*\.png$/.test(old)) fs.rmSync(path.join(artifacts, old)); // a previous run's
}

const started = Date.now();
const log = (line) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${line}`);
class CheckFailed extends Error {}
const check = (ok, what) => {
  if (!ok) throw new CheckFailed(what);
  log(`ok: ${what}`);
};

// etcdctl's own view of the cluster, by member name: the leader, and who follows.
function etcdctlView() {
  const run = (...args) => JSON.parse(execFileSync("etcdctl", [`--endpoints=${endpoints}`, ...args, "-w", "json"], {
    env: { ...process.env, ETCDCTL_API: "3" }, timeout: 15000, encoding: "utf8" }));
  const names = new Map(run("member", "list").members.map((m) => [BigInt(m.ID), m.name]));
  const status = run("endpoint", "status");
  const leaderId = BigInt(status[0].Status.leader);
  return { leader: names.get(leaderId), followers: [...names.entries()].filter(([id]) => id !== leaderId).map(([, n]) => n) };
}

const chromium = await launchChromium();
const consoleErrors = [];
let page;
let exitCode = 1;
try {
  page = await openWatchedPage(chromium.browser, consoleErrors);

  // ---- the page loads, with its versioned assets cached for a year and itself never ----
  const response = await page.goto(url, { waitUntil: "load" });
  check(response.status() === 200, "the page answers 200");
  check(response.headers()["cache-control"] === "no-cache", "the page is asked for again on every load");
  const assetHeaders = await page.evaluate(async () => {
    const src = document.querySelector("script[src*='assets/app.']").getAttribute("src");
    const r = await fetch(src);
    return { src, cache: r.headers.get("cache-control"), type: r.headers.get("content-type") };
  });
  check(/^assets\/app\.[0-9a-f]{12}\.js$/.test(assetHeaders.src), `the script is versioned (${assetHeaders.src})`);
  check(assetHeaders.cache.includes("immutable") && assetHeaders.cache.includes("max-age=31536000"),
    `assets are cached for a year (${assetHeaders.cache})`);
  await page.waitForFunction(() => Number(document.body.dataset.refreshes) >= 1);
  check(true, "the first refresh completed");
  await page.keyboard.press("Tab");
  check(await page.evaluate(() => document.activeElement?.classList.contains("skip")), "the first Tab reaches the skip link");

  // ---- the header names etcdctl's leader (re-read both if an election raced us) ----
  let leaderShown = "", view = null;
  for (let attempt = 0; attempt < 10; attempt++) {
    view = etcdctlView();
    leaderShown = await page.$eval("#leader", (e) => e.dataset.leader);
    if (leaderShown === view.leader) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  check(leaderShown === view.leader, `the header names the leader etcdctl reports (${view.leader}; page: ${leaderShown})`);
  // Healthy once every member has had its health check (on a loaded machine a first sample can
  // be late): bounded, and the failure says what the page showed.
  await page.waitForFunction(() => document.querySelector("#state")?.dataset.state === "healthy",
    { timeout: 20000 }).catch(() => {});
  const shown = await page.$eval("#state", (e) => `${e.dataset.state}: ${e.textContent.trim().slice(0, 200)}`);
  check(shown.startsWith("healthy:"), `the cluster is shown healthy (${shown})`);

  const memberRows = await page.$$eval("#members tbody tr[data-member]", (rows) => rows.map((r) => r.dataset.member));
  check(memberRows.length === 3, `the member table has 3 rows (${memberRows.join(", ")})`);
  check(await page.$$eval("#endpoints tbody tr[data-endpoint]", (r) => r.length) === 3, "endpoint status lists 3 endpoints");

  // ---- every chart draws points (charts redraw every 5 s on the 15 m range) ----
  await page.waitForFunction(() => {
    const charts = [...document.querySelectorAll(".chart")];
    return charts.length > 0 && charts.every((c) => Number(c.dataset.points) > 0 && c.querySelector("canvas"));
  }, { timeout: 90000 }).catch(async () => {
    const state = await page.$$eval(".chart", (cs) => cs.map((c) => `${c.id}=${c.dataset.points}`).join(" "));
    throw new CheckFailed(`every chart draws points (${state})`);
  });
  const chartState = await page.$$eval(".chart", (cs) => cs.map((c) => `${c.id.replace("chart-", "")} ${c.dataset.points}`));
  check(chartState.length === 8, `8 charts have points: ${chartState.join(", ")}`);

  // Hovering a chart shows the values under the cursor in its legend.
  // The page can move under the cursor (an alert that appears above the charts on a loaded
  // machine): the box is measured again before each of a few bounded attempts.
  const over = await page.$("#chart-write-latency .u-over");
  const legend = "#chart-write-latency .u-legend .u-series .u-value";
  for (let attempt = 0; attempt < 5; attempt++) {
    await over.hover(); // scrolls it into view
    const box = await over.boundingBox();
    await page.mouse.move(box.x + box.width * 0.9, box.y + box.height / 2, { steps: 5 });
    const shown = await page.waitForFunction(
      (sel) => [...document.querySelectorAll(sel)].slice(1).some((v) => /\d/.test(v.textContent)),
      { timeout: 2000 }, legend).then(() => true, () => false);
    if (shown) break;
  }
  const hovered = await page.$$eval(legend, (vs) => vs.map((v) => v.textContent));
  check(hovered.length >= 4 && hovered.slice(1).some((v) => /\d/.test(v)), `hovering shows values (${hovered.join(" | ")})`);

  // The 1 h range redraws from the roll-ups.
  const before = await page.evaluate(() => Number(document.body.dataset.chartRefreshes));
  await page.click("input[name=range][value='1h']");
  await page.waitForFunction((n) => Number(document.body.dataset.chartRefreshes) > n, {}, before);
  check(await page.$$eval(".chart", (cs) => cs.every((c) => Number(c.dataset.points) > 0)), "the 1 h range draws every chart");
  await page.click("input[name=range][value='15m']");
  await page.screenshot({ path: path.join(artifacts, "console-healthy.png"), fullPage: true });

  // ---- a silence, with the token typed once for this tab ----
  await page.click("#auth summary");
  await page.type("#api-token", apiToken);
  await page.click("#auth-form button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#auth-state").textContent.includes("set"));
  check(!page.url().includes(apiToken) && !(await page.content()).includes(apiToken), "the token is in neither the address nor the page");
  await page.type("#silence-form input[name=rule]", "MemberUnavailable");
  await page.select("#silence-form select[name=member]", memberRows[0]);
  await page.type("#silence-form input[name=comment]", "browser test maintenance");
  await page.click("#silence-form button[type=submit]");
  await page.waitForFunction(() => [...document.querySelectorAll("#silences tr[data-silence]")]
    .some((r) => r.textContent.includes("browser test maintenance")), { timeout: 15000 }).catch(async () => {
    throw new CheckFailed(`the silence appears (${await page.$eval("#silence-message", (e) => e.textContent)})`);
  });
  check(true, "the new silence appears in the list");
  await page.click("#silences tr[data-silence] button.expire");
  await page.waitForFunction(() => !document.querySelector("#silences tr[data-silence]"), { timeout: 15000 }).catch(async () => {
    throw new CheckFailed(`the expired silence leaves the list (${await page.$eval("#silence-message", (e) => e.textContent)})`);
  });
  check(true, "expiring it takes it off the list");

  // ---- a benchmark from the form: progress, then its result and its row in the past runs ----
  await page.$eval("#benchmark-form input[name=ops]", (e) => { e.value = "3000"; });
  await page.type("#benchmark-token", benchmarkToken);
  await page.click("#benchmark-form button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#benchmark-run")?.dataset.state === "done", { timeout: 120000 })
    .catch(async () => {
      throw new CheckFailed(`the benchmark finishes (${await page.$eval("#benchmark-message", (e) => e.textContent)} / ` +
        `${await page.$eval("#benchmark-phase", (e) => e.textContent)})`);
    });
  const result = await page.$eval("#benchmark-result", (t) => t.textContent);
  check(/throughput\s*[\d.]+ ops\/s/.test(result) && /latency p99\s*[\d.]+ ms/.test(result), "the benchmark's result shows throughput and percentiles");
  const runId = await page.$eval("#benchmark-run", (e) => e.dataset.id);
  await page.waitForSelector(`#benchmark-runs tr[data-run='${runId}']`, { timeout: 15000 });
  check(true, `the run ${runId} is listed among the past runs`);
  await page.waitForSelector("#benchmark-history tr[data-time]", { timeout: 30000 }).catch(() => {
    throw new CheckFailed("the run shows in the history's past runs within 30 s");
  });
  check(true, "the run is in the history's past runs");

  check(await page.$eval("#consistency", (e) => e.dataset.verdict) === "consistent", "the consistency check says consistent");
  check(await page.$eval("#alarms", (e) => e.textContent.includes("no alarm")), "no alarm is listed");

  // ---- a stopped member: unreachable, and the cluster degraded, within 5 s ----
  const victim = view.followers[0];
  const pid = memberPids[victim];
  check(Number.isInteger(pid) && pid > 0, `stopping follower ${victim} (pid ${pid})`);
  process.kill(pid, "SIGTERM");
  const stoppedAt = Date.now();
  await page.waitForFunction((name) => {
    const row = document.querySelector(`#members tr[data-member='${name}']`);
    return row && row.dataset.health === "unreachable" && document.querySelector("#state")?.dataset.state === "degraded";
  }, { timeout: 5000, polling: 100 }, victim).catch(async () => {
    const shown = await page.$eval(`#members tr[data-member='${victim}']`, (r) => r.dataset.health);
    const state = await page.$eval("#state", (e) => e.dataset.state);
    throw new CheckFailed(`within 5 s the page shows ${victim} unreachable and the cluster degraded (shows ${shown}, ${state})`);
  });
  check(true, `${victim} unreachable and the cluster degraded after ${Date.now() - stoppedAt} ms`);
  await page.screenshot({ path: path.join(artifacts, "console-degraded.png"), fullPage: true });

  // ---- a phone ----
  await page.setViewport({ width: 390, height: 844, isMobile: true });
  await page.reload({ waitUntil: "load" });
  await page.waitForFunction(() => Number(document.body.dataset.refreshes) >= 1);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  await page.screenshot({ path: path.join(artifacts, "console-phone.png"), fullPage: true });
  check(overflow <= 0, `on a phone the page does not scroll sideways (overflow ${overflow} px)`);

  check(consoleErrors.length === 0, `no console error (${consoleErrors.join(" | ")})`);
  exitCode = 0;
} catch (e) {
  console.log(`FAILED: ${e instanceof CheckFailed ? e.message : e.stack}`);
  if (consoleErrors.length) console.log(`console errors: ${consoleErrors.join(" | ")}`);
  if (page) {
    await page.screenshot({ path: path.join(artifacts, "console-failure.png"), fullPage: true }).catch(() => {});
    const err = await page.$eval("#err", (e) => e.textContent).catch(() => "");
    if (err) console.log(`the page's error line: ${err}`);
  }
} finally {
  await chromium.close();
}
process.exit(exitCode);
