// The web console: everything it shows comes from the gateway's public REST API, read with
// relative paths (so it also works behind a proxy under a path prefix). Plain modern JavaScript,
// no build step; charts are drawn by uPlot (bundled beside this file at build time).
//
// Contracts the browser tests rely on (tests/browser):
// - body[data-refreshes] counts completed overview refreshes, body[data-chart-refreshes] chart
//   rounds; each chart's container has data-metric-count and data-points (points drawn).
// - #status holds the state card (#state, data-state) and the leader (#leader, data-leader).
// - #members rows have data-member and data-health; #alerts lists firing alerts, #pending the
//   pending ones; #silences rows have data-silence (the id).
// - A value the API reports as unknown (null) shows as an en dash, never 0.
// - With several clusters: #fleet rows have data-cluster and data-state, worst first (the API's
//   order); #cluster-picker is the header's <select>; both are hidden with one cluster.
"use strict";

(() => {
  const DASH = "\u2013";
  const SYMBOL = { ok: "\u2714 ", warn: "\u26a0 ", bad: "\u2716 " };
  const STATES = {
    healthy: "ok", degraded: "warn", no_leader: "bad", no_quorum: "bad", split_brain: "bad",
    stale: "bad", unknown: "bad",
  };
  const SEVERITY_SYMBOL = { critical: "\u2716 ", warning: "\u26a0 ", info: "\u2139 " };
  // Okabe-Ito: tells series apart with the common colour-vision deficiencies; dashes tell the
  // percentiles (or the metrics of one member) apart without colour.
  const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000"];
  const DASHES = [[], [8, 4], [2, 3], [12, 3, 2, 3]];
  const TOKEN_KEY = "etcdmon.api-token";
  const BENCHMARK_TOKEN_KEY = "etcdmon.benchmark-token";
  // Every 2 s: a member that stops shows as unreachable within a few seconds. Each refresh reads
  // the gateway's cached documents (rendered once per snapshot), so it costs the gateway little.
  const OVERVIEW_PERIOD_MS = 2000;

  // With several clusters (the fleet), the one shown is named in the address: ?cluster=NAME.
  // Without one there, the first (worst) cluster is chosen once the list is known.
  let selectedCluster = new URLSearchParams(location.search).get("cluster");

  const $ = (selector, root = document) => root.querySelector(selector);
  const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

  // ---- formatting ----
  function esc(v) {
    return String(v == null ? "" : v).replace(/[&<>"']/g, (c) => (
      { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }
  function fmt(v) {
    if (v == null) return DASH;
    return typeof v === "number" ? String(Math.round(v * 100) / 100) : esc(v);
  }
  function bytes(v) {
    if (typeof v !== "number" || !isFinite(v)) return DASH;
    const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let i = 0;
    while (i < units.length - 1 && Math.abs(v) >= (i ? 1023.5 : 1024)) { v /= 1024; i++; }
    return (i === 0 ? String(Math.round(v)) : Math.abs(v) < 99.95 ? v.toFixed(1) : v.toFixed(0)) +
      " " + units[i];
  }
  function percent(v) { return typeof v === "number" && isFinite(v) ? v.toFixed(1) + " %" : DASH; }
  function ago(iso) {
    if (!iso) return "";
    const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
    if (!isFinite(s)) return "";
    if (s < 0) return "in " + duration(-s);
    return duration(s) + " ago";
  }
  function duration(s) {
    if (s < 90) return s + " s";
    if (s < 5400) return Math.round(s / 60) + " min";
    if (s < 172800) return Math.round(s / 3600) + " h";
    return Math.round(s / 86400) + " d";
  }
  function when(iso) {
    if (!iso) return DASH;
    return "<time datetime='" + esc(iso) + "' title='" + esc(iso) + "'>" +
      esc(new Date(iso).toLocaleString()) + "</time> <span class='muted'>(" + esc(ago(iso)) + ")</span>";
  }
  function marked(level, text) {
    return "<b class='" + level + "'>" + (SYMBOL[level] || "") + esc(text) + "</b>";
  }
  function severity(s) {
    return "<span class='sev-" + esc(s) + "'>" + (SEVERITY_SYMBOL[s] || "") + esc(s) + "</span>";
  }
  function rows(id, list, empty, columns) {
    $("#" + id + " tbody").innerHTML = list.length ? list.join("") :
      "<tr><td colspan='" + columns + "' class='muted'>" + esc(empty) + "</td></tr>";
  }

  // ---- the API ----
  function storedToken(key) {
    try { return sessionStorage.getItem(key) || ""; } catch (e) { return ""; }
  }
  function storeToken(key, value) {
    try {
      if (value) sessionStorage.setItem(key, value); else sessionStorage.removeItem(key);
    } catch (e) { /* storage disabled: the token lives as long as the field */ }
  }
  function withCluster(path) {
    if (!selectedCluster) return path;
    return path + (path.includes("?") ? "&" : "?") + "cluster=" + encodeURIComponent(selectedCluster);
  }
  // A JSON call; throws an Error naming the path and the API's message. The API token, when
  // the user gave one, goes with every call (needed for reading under --api-auth=all).
  // `fleet`: a call about every cluster, which takes no ?cluster=.
  async function api(path, { method = "GET", body, token, fleet = false } = {}) {
    const headers = {};
    const bearer = token !== undefined ? token : storedToken(TOKEN_KEY);
    if (bearer) headers.Authorization = "Bearer " + bearer;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(fleet ? path : withCluster(path), {
      method, headers, cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let json = null;
    try { json = await response.json(); } catch (e) { /* not JSON: the status says it */ }
    if (!response.ok) {
      const message = json && json.error ? json.error.message : response.status + " " + response.statusText;
      const error = new Error(path.split("?")[0] + ": " + message);
      error.status = response.status;
      throw error;
    }
    return json;
  }
  // Runs the calls in `tasks` (functions returning promises) at most `limit` at a time.
  async function pooled(tasks, limit) {
    const results = new Array(tasks.length);
    let next = 0;
    async function worker() {
      while (next < tasks.length) {
        const i = next++;
        try { results[i] = await tasks[i](); } catch (e) { results[i] = e; }
      }
    }
    await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
    return results;
  }

  // ---- the fleet: the cluster picker and the list of clusters ----
  // This page's address for cluster `name` (the other parameters and the fragment kept).
  function clusterHref(name) {
    const params = new URLSearchParams(location.search);
    params.set("cluster", name);
    return "?" + params.toString() + location.hash;
  }
  function fleetRow(c) {
    const level = STATES[c.state] || "bad";
    const f = c.alerts_firing;
    const firing = !f ? DASH : ["critical", "warning", "info"].filter((s) => f[s] > 0)
      .map((s) => severity(s) + " " + f[s]).join(", ") || "none";
    const current = c.name === selectedCluster;
    return "<tr data-cluster='" + esc(c.name) + "' data-state='" + esc(c.state) + "'" +
      (current ? " class='current' aria-current='true'" : "") + ">" +
      "<th scope='row'><a href='" + esc(clusterHref(c.name)) + "'>" + esc(c.name) + "</a></th>" +
      "<td>" + marked(level, c.state.replace(/_/g, " ")) + "</td>" +
      "<td>" + (c.leader ? esc(c.leader) : marked("bad", "none")) + "</td>" +
      "<td class='num'>" + fmt(c.members_up) + "/" + fmt(c.members_total) + "</td>" +
      "<td>" + firing + "</td><td>" + when(c.last_update) + "</td></tr>";
  }
  let pickerNames = "";
  // Shows the picker and the list while several clusters are monitored. With several and none
  // named in the address, the first (the worst) is chosen, in the address too, so that no call
  // goes without ?cluster= (which the API refuses then).
  function renderFleet(list) {
    const clusters = list.clusters || [];
    const several = clusters.length > 1;
    if (several && !selectedCluster) {
      selectedCluster = clusters[0].name;
      history.replaceState(null, "", clusterHref(selectedCluster));
    }
    $("#fleet-section").hidden = !several;
    $("#cluster-picker-label").hidden = !several;
    if (!several) return;
    $("#fleet-count").textContent = "(" + clusters.length + ")";
    $("#fleet tbody").innerHTML = clusters.map(fleetRow).join("");
    const names = clusters.map((c) => c.name).sort();
    if (selectedCluster && !names.includes(selectedCluster)) names.unshift(selectedCluster);
    if (names.join("\n") !== pickerNames) {
      pickerNames = names.join("\n");
      $("#cluster-picker").innerHTML = names.map((n) => "<option>" + esc(n) + "</option>").join("");
    }
    $("#cluster-picker").value = selectedCluster;
    // The footer's links to the raw documents: the cluster shown.
    for (const a of $$("footer a")) {
      const base = a.dataset.path || (a.dataset.path = a.getAttribute("href"));
      if (base.startsWith("api/")) a.setAttribute("href", withCluster(base));
    }
  }
  // The list of clusters; a gateway that does not answer it (older, or the token missing under
  // --api-auth=all) is taken as one of a single cluster.
  async function refreshFleet() {
    try { renderFleet(await api("api/v1/clusters", { fleet: true })); } catch (e) { /* one cluster */ }
  }

  // ---- overview: header, members, latency, admin ----
  let members = [];
  let knownRules = new Set();

  function clusterState(s) {
    if (typeof s.state === "string" && s.state) return s.state;
    if (s.split_brain && s.split_brain.detected) return "split_brain";
    if (!s.has_leader) return "no_leader";
    if (!s.quorum_ok) return "no_quorum";
    if (s.degraded || (s.healthy && s.healthy_members < s.member_count)) return "degraded";
    return s.healthy ? "healthy" : "unknown";
  }
  function renderStale(s) {
    const banner = $("#stale-banner");
    banner.hidden = s.stale !== true;
    banner.textContent = s.stale === true ? "\u26a0 Data is stale since " + s.stale_since +
      ": no snapshot from the aggregator since " + s.last_update + " (" +
      Math.round(s.snapshot_age_seconds) + " s ago); the figures below are its last." : "";
  }
  function renderStatus(s) {
    renderStale(s);
    $("#cluster").textContent = s.cluster + " " + s.cluster_id;
    document.title = "etcd-monitor: " + s.cluster;
    const state = clusterState(s);
    const level = STATES[state] || "bad";
    const card = (k, v, lvl) => "<span>" + k + ": " + marked(lvl, v) + "</span>";
    const membersLevel = s.healthy_members === s.member_count ? "ok" : s.quorum_ok ? "warn" : "bad";
    const leader = s.leader ? s.leader.name : "none";
    const age = typeof s.snapshot_age_seconds === "number" ? Math.round(s.snapshot_age_seconds) + " s ago" : ago(s.last_update);
    $("#status").innerHTML =
      "<span class='state " + level + "' id='state' data-state='" + esc(state) + "'>state: " +
        marked(level, state.replace(/_/g, " ")) + "</span>" +
      "<span id='leader' data-leader='" + esc(s.leader ? s.leader.name : "") + "'>leader: " +
        marked(s.has_leader ? "ok" : "bad", leader) + "</span>" +
      card("members", s.healthy_members + "/" + s.member_count + " healthy", membersLevel) +
      "<span>quorum: " + marked(s.quorum_ok ? "ok" : "bad", s.quorum_ok ? "ok" : "lost") +
        " (needs " + fmt(s.quorum_size) + ")</span>" +
      card("split brain", s.split_brain.detected ? "detected" : "no", s.split_brain.detected ? "bad" : "ok") +
      "<span>leader changes: " + fmt(s.leader_changes) + "</span>" +
      card("alarms", String(s.alarms.length), s.alarms.length ? "bad" : "ok") +
      "<span title='" + esc(s.last_update) + "'>updated " + esc(age) + "</span>" +
      (s.starting_up ? "<span>" + marked("warn", "starting up: figures are partial") + "</span>" : "") +
      (s.health_reason ? "<div class='warn reason'>" + esc(s.health_reason) + "</div>" : "");
    $("#alarms").innerHTML = s.alarms.length
      ? s.alarms.map((a) => "<li>" + marked("bad", a.type) + " on " + esc(a.member_name || a.member_id) + "</li>").join("")
      : "<li class='ok'>" + SYMBOL.ok + "no alarm</li>";
  }
  function certificate(seconds) {
    if (typeof seconds !== "number") return DASH;
    if (seconds <= 0) return marked("bad", "expired");
    const days = seconds / 86400;
    const text = days < 2 ? Math.round(seconds / 3600) + " h" : Math.round(days) + " d";
    return days < 7 ? marked("bad", text) : days < 30 ? marked("warn", text) : esc(text);
  }
  function renderMember(x) {
    const stale = x.figures_stale === true;
    const title = stale ? "stale: last figures as of " + (x.figures_as_of || "unknown") : "";
    // A figure cell; a known figure of a stale member is greyed and says when it is from.
    const fig = (v, html, extraTitle) => {
      const old = stale && v != null;
      const t = [old ? title : "", extraTitle || ""].filter(Boolean).join("; ");
      return "<td class='num" + (old ? " stale" : "") + "'" + (t ? " title='" + esc(t) + "'" : "") + ">" + html + "</td>";
    };
    const p99 = (l) => (l ? l.p99_ms : null);
    const health = x.health === "healthy" ? "ok" : x.health === "stale" || x.health === "unknown" ? "warn" : "bad";
    const quota = typeof x.db_size_bytes === "number" && x.db_quota_bytes > 0 ? 100 * x.db_size_bytes / x.db_quota_bytes : null;
    const quotaHtml = quota == null ? DASH : quota >= 80 ? marked("bad", percent(quota)) : quota >= 60 ? marked("warn", percent(quota)) : percent(quota);
    const sizeTitle = (v) => (typeof v === "number" ? v + " bytes" : "");
    const error = x.error || (Array.isArray(x.errors) && x.errors.length ? x.errors[x.errors.length - 1] : "");
    return "<tr data-member='" + esc(x.name) + "' data-health='" + esc(x.health) + "'><td>" + esc(x.label) + "</td>" +
      "<td><code>" + esc(x.id) + "</code></td><td>" + esc(x.endpoint) + "</td><td>" + marked(health, x.health) +
      (x.reason ? " (" + esc(x.reason) + ")" : "") +
      (stale ? "<span class='tag stale' tabindex='0' title='" + esc(title) + "'>stale</span>" : "") + "</td>" +
      "<td>" + (x.is_leader ? "&#9733; leader" : x.is_learner ? "learner" : "") + "</td>" +
      fig(x.raft_term, fmt(x.raft_term)) + fig(x.revision, fmt(x.revision)) + fig(x.apply_lag, fmt(x.apply_lag)) +
      fig(x.db_size_bytes, bytes(x.db_size_bytes), sizeTitle(x.db_size_bytes)) +
      fig(x.db_size_in_use_bytes, bytes(x.db_size_in_use_bytes), sizeTitle(x.db_size_in_use_bytes)) +
      fig(quota, quotaHtml, typeof x.db_quota_bytes === "number" ? "quota " + bytes(x.db_quota_bytes) : "") +
      fig(x.disk_used_percent, percent(x.disk_used_percent), x.disk_unknown_reason || "") +
      fig(x.memory_used_percent, percent(x.memory_used_percent)) +
      fig(x.certificate_expires_in_seconds, certificate(x.certificate_expires_in_seconds)) +
      fig(p99(x.read_latency), fmt(p99(x.read_latency))) + fig(p99(x.write_latency), fmt(p99(x.write_latency))) +
      "<td>" + (error ? "<span class='bad'>" + esc(error) + "</span>" : "") + "</td></tr>";
  }
  function renderEndpoint(x) {
    const errors = Array.isArray(x.errors) ? x.errors.join("; ") : x.error || "";
    return "<tr data-endpoint='" + esc(x.endpoint) + "'><td>" + esc(x.endpoint) + "</td><td><code>" + esc(x.id) +
      "</code></td><td>" + fmt(x.version) + "</td><td class='num'>" + bytes(x.db_size_bytes) + "</td><td>" +
      (x.is_leader ? "true" : x.reachable === false ? DASH : "false") + "</td><td>" + (x.is_learner ? "true" : "false") +
      "</td><td class='num'>" + fmt(x.raft_term) + "</td><td class='num'>" + fmt(x.raft_index) + "</td><td class='num'>" +
      fmt(x.raft_applied_index) + "</td><td>" + (errors ? "<span class='bad'>" + esc(errors) + "</span>" : "") + "</td></tr>";
  }
  function updateMemberSelects() {
    for (const select of $$(".member-select")) {
      const chosen = select.value;
      const first = select.options[0].outerHTML;
      select.innerHTML = first + members.map((m) => "<option>" + esc(m.name) + "</option>").join("");
      select.value = members.some((m) => m.name === chosen) ? chosen : "";
    }
  }

  // ---- alerts and silences ----
  let alerts = [];
  function alertRow(x, withResolved) {
    const state = x.state === "pending" ? "&#9711; pending" : x.state === "resolved" ? marked("ok", "resolved") : marked("bad", x.state || "firing");
    return "<tr class='" + esc(x.state) + "' data-rule='" + esc(x.rule) + "'><td>" + state + "</td><td>" +
      severity(x.severity) + "</td><td>" + esc(x.rule) + "</td><td>" + esc(x.member) + "</td><td>" + esc(x.summary) +
      "</td><td>" + when(x.started_at) + "</td>" + (withResolved ? "<td>" + when(x.resolved_at) + "</td>" : "") + "</tr>";
  }
  function renderAlerts() {
    const firing = alerts.filter((a) => a.state !== "pending");
    const pending = alerts.filter((a) => a.state === "pending");
    $("#pending-count").textContent = pending.length;
    $("#alert-counts").textContent = firing.length + " firing, " + pending.length + " pending";
    rows("alerts", firing.map((a) => alertRow(a, false)), "no firing alerts", 6);
    rows("pending", pending.map((a) => alertRow(a, false)), "no pending alerts", 6);
    for (const a of alerts) knownRules.add(a.rule);
    $("#known-rules").innerHTML = Array.from(knownRules).sort().map((r) => "<option value='" + esc(r) + "'>").join("");
  }
  function renderSilences(list) {
    const now = Date.now();
    const active = list.filter((s) => !s.expires_at || Date.parse(s.expires_at) > now);
    rows("silences", active.map((s) => "<tr data-silence='" + esc(s.id) + "'><td>" + (s.rule ? esc(s.rule) : "<i>every rule</i>") +
      "</td><td>" + (s.member ? esc(s.member) : "<i>every member</i>") + "</td><td>" + esc(s.comment) + "</td><td>" +
      when(s.created_at) + "</td><td>" + when(s.expires_at) + "</td><td><button type='button' class='expire' data-id='" +
      esc(s.id) + "'>Expire</button></td></tr>"), "no active silence", 6);
  }

  let historyToken = "";
  let historyPaged = false; // the user asked for older pages: no live reload of the first one
  async function loadAlertHistory(more) {
    historyPaged = more;
    const form = $("#history-filter");
    const params = new URLSearchParams();
    for (const name of ["rule", "severity", "member", "state", "from"]) {
      const v = form.elements[name].value.trim();
      if (v) params.set(name, v);
    }
    params.set("page_size", "50");
    if (more && historyToken) params.set("page_token", historyToken);
    const page = await api("api/v1/alerts/history?" + params.toString());
    const html = page.alerts.map((a) => alertRow(a, true));
    for (const a of page.alerts) knownRules.add(a.rule);
    if (more) {
      $("#alert-history tbody").insertAdjacentHTML("beforeend", html.join(""));
    } else {
      rows("alert-history", html, "no alert in this range", 7);
    }
    historyToken = page.next_page_token || "";
    $("#history-more").hidden = !historyToken;
  }

  // ---- tokens ----
  function renderAuthState() {
    const set = storedToken(TOKEN_KEY) !== "";
    $("#auth-state").textContent = set ? "set for this tab" : "not set";
    $("#api-token").value = "";
    $("#api-token").placeholder = set ? "(kept for this tab)" : "";
  }
  function needToken(messageId) {
    if (storedToken(TOKEN_KEY)) return storedToken(TOKEN_KEY);
    $("#auth").open = true;
    $("#api-token").focus();
    $("#" + messageId).innerHTML = marked("warn", "Enter the API token first (API token, at the top).");
    return "";
  }

  // ---- benchmarks ----
  let benchmarkPoll = null;
  let benchmarkSeconds = 0; // the run's duration when it was asked for one
  function latencyMs(result, key) {
    const l = result && result.latency_seconds;
    return l && typeof l[key] === "number" ? Math.round(l[key] * 100000) / 100 : null;
  }
  function renderBenchmark(run) {
    $("#benchmark-run").hidden = false;
    const p = run.progress || {};
    const bar = $("#benchmark-progress");
    const done = run.state !== "running" && run.state !== "started";
    if (done) {
      bar.value = 1;
    } else if (p.ops_total > 0) {
      bar.value = Math.min(1, p.ops_done / p.ops_total);
    } else if (run.duration_seconds > 0 && run.started_unix_ms) {
      bar.value = Math.min(1, (Date.now() - run.started_unix_ms) / 1000 / run.duration_seconds);
    } else {
      bar.removeAttribute("value");
    }
    const phase = done ? run.state : (p.phase || run.state).replace(/_/g, " ") + ", " + fmt(p.ops_done) + " ops, " +
      fmt(p.current_ops_per_second) + " ops/s now";
    $("#benchmark-phase").innerHTML = done ? marked(run.state === "done" ? "ok" : "bad", run.id + " " + run.state) +
      (run.error ? " " + esc(run.error) : "") : esc(run.id + ": " + phase);
    $("#benchmark-run").dataset.state = run.state;
    $("#benchmark-run").dataset.id = run.id;
    const r = run.result;
    if (!r) { $("#benchmark-result tbody").innerHTML = ""; return; }
    const line = (k, v) => "<tr><th scope='row'>" + k + "</th><td class='num'>" + v + "</td></tr>";
    $("#benchmark-result tbody").innerHTML = line("type", esc(r.type)) + line("operations", fmt(r.ops)) +
      line("succeeded", fmt(r.succeeded)) + line("failed", fmt(r.failed)) +
      line("duration", fmt(r.duration_seconds) + " s") + line("throughput", fmt(r.ops_per_second) + " ops/s") +
      ["p50", "p90", "p95", "p99", "p99_9", "max"].map((k) =>
        line("latency " + k.replace("_", "."), fmt(latencyMs(r, k)) + " ms")).join("");
  }
  async function pollBenchmark(statusPath) {
    clearTimeout(benchmarkPoll);
    try {
      const run = await api(statusPath, { token: storedToken(BENCHMARK_TOKEN_KEY) || undefined });
      run.duration_seconds = benchmarkSeconds;
      renderBenchmark(run);
      if (run.state === "running" || run.state === "started") {
        benchmarkPoll = setTimeout(() => pollBenchmark(statusPath), 500);
      } else {
        refreshBenchmarkRuns();
      }
    } catch (e) {
      $("#benchmark-message").innerHTML = marked("bad", e.message);
    }
  }
  async function refreshBenchmarkRuns() {
    const list = await api("api/v1/performance/benchmark");
    rows("benchmark-runs", (list.runs || []).map((x) => {
      const r = x.result || x;
      return "<tr data-run='" + esc(x.id) + "'><td>" + esc(x.id) + "</td><td>" + esc(x.trigger) + "</td><td>" +
        esc(r.type || x.type) + "</td><td>" + esc(x.state) + "</td><td>" +
        (x.finished_at ? when(x.finished_at) : x.finished_unix_ms ? when(new Date(x.finished_unix_ms).toISOString()) : DASH) +
        "</td><td class='num'>" + fmt(r.ops) + "</td><td class='num'>" + fmt(r.failed) + "</td><td class='num'>" +
        fmt(r.ops_per_second) + "</td><td class='num'>" + fmt(x.p50_ms != null ? x.p50_ms : latencyMs(r, "p50")) +
        "</td><td class='num'>" + fmt(x.p99_ms != null ? x.p99_ms : latencyMs(r, "p99")) + "</td><td class='num'>" +
        fmt(x.max_ms != null ? x.max_ms : latencyMs(r, "max")) + "</td></tr>";
    }), "no run yet", 11);
  }

  // Every finished run leaves its figures in the history at its finish time (periodic runs
  // too); the one-minute roll-up keeps them 14 days, one run per bucket. Asked for only once the
  // history holds the metric (an unknown one is a 404).
  const BENCHMARK_METRICS = ["etcd_benchmark_ops_per_second", "etcd_benchmark_latency_p50_milliseconds",
    "etcd_benchmark_latency_p99_milliseconds", "etcd_benchmark_failed_operations"];
  async function refreshBenchmarkHistory() {
    const known = new Set((await api("api/v1/metrics/history")).metrics.map((m) => m.name));
    if (!known.has(BENCHMARK_METRICS[0])) {
      rows("benchmark-history", [], "no run in the history yet", 5);
      return;
    }
    const series = await Promise.all(BENCHMARK_METRICS.map((m) => (known.has(m)
      ? api("api/v1/metrics/history?" + new URLSearchParams({ metric: m, from: "-168h", step: "1m" }))
      : Promise.resolve({ points: [] }))));
    const byTime = new Map();
    series.forEach((h, i) => h.points.forEach((p) => {
      const row = byTime.get(p.time) || [null, null, null, null];
      row[i] = p.value;
      byTime.set(p.time, row);
    }));
    const newest = Array.from(byTime.entries()).sort((a, b) => (a[0] < b[0] ? 1 : -1)).slice(0, 50);
    rows("benchmark-history", newest.map(([time, v]) => "<tr data-time='" + esc(time) + "'><td>" + when(time) +
      "</td>" + v.map((x) => "<td class='num'>" + fmt(x) + "</td>").join("") + "</tr>"), "no run in the history yet", 5);
  }

  // ---- the consistency check (the gateway runs it at most once a minute) ----
  async function refreshConsistency() {
    const c = await api("api/v1/cluster/consistency");
    const level = c.verdict === "consistent" ? "ok" : c.verdict === "inconsistent" ? "bad" : "warn";
    $("#consistency").innerHTML = marked(level, c.verdict) + (c.revision != null ? " at revision " + fmt(c.revision) : "") +
      (c.reason ? ": " + esc(c.reason) : "") + (c.checked_at ? " <span class='muted'>(checked " + esc(ago(c.checked_at)) + ")</span>" : "");
    $("#consistency").dataset.verdict = c.verdict;
  }

  // ---- charts ----
  // The quickstart's panels. `series`: cluster-wide metrics; `perMember`: one line per member
  // and metric. Bytes charts format their axis in binary units.
  const CHARTS = [
    { id: "read-latency", title: "Read latency (ms)", series: [
      ["etcd_request_read_latency_p50_milliseconds", "p50"], ["etcd_request_read_latency_p95_milliseconds", "p95"],
      ["etcd_request_read_latency_p99_milliseconds", "p99"]] },
    { id: "write-latency", title: "Write latency (ms)", series: [
      ["etcd_request_write_latency_p50_milliseconds", "p50"], ["etcd_request_write_latency_p95_milliseconds", "p95"],
      ["etcd_request_write_latency_p99_milliseconds", "p99"]] },
    { id: "request-rate", title: "Requests per second", perMember: [["etcd_request_rate_per_second", ""]] },
    { id: "db-size", title: "Database size and in use", bytes: true, perMember: [
      ["etcd_mvcc_db_total_size_bytes", "size"], ["etcd_mvcc_db_total_size_in_use_bytes", "in use"]] },
    { id: "db-growth", title: "Database growth (per second)", bytes: true, series: [
      ["etcd_db_growth_bytes_per_second", "cluster"]] },
    { id: "proposals", title: "Proposals (per second; pending: count)", series: [
      ["etcd_proposals_committed_per_second", "committed"], ["etcd_proposals_applied_per_second", "applied"],
      ["etcd_server_proposals_pending", "pending"], ["etcd_proposals_failed_per_second", "failed"]] },
    { id: "wal-fsync", title: "WAL fsync (ms)", perMember: [
      ["etcd_disk_wal_fsync_duration_p95_milliseconds", "p95"], ["etcd_disk_wal_fsync_duration_p99_milliseconds", "p99"]] },
    { id: "backend-commit", title: "Backend commit (ms)", perMember: [
      ["etcd_disk_backend_commit_duration_p95_milliseconds", "p95"],
      ["etcd_disk_backend_commit_duration_p99_milliseconds", "p99"]] },
  ];
  // Each range: the history query (step: the API's roll-up) and how often it is redrawn.
  const RANGES = {
    "15m": { from: "-15m", step: "", every: 5000 },
    "1h": { from: "-1h", step: "15s", every: 15000 },
    "6h": { from: "-6h", step: "1m", every: 60000 },
    "24h": { from: "-24h", step: "5m", every: 300000 },
    "7d": { from: "-168h", step: "1h", every: 900000 },
  };
  const charts = new Map(); // id -> { plot, box, lines }
  let chartTimer = null;
  let chartRound = 0;
  let chartRefreshes = 0;

  function chartLines(def) {
    if (def.series) return def.series.map(([metric, label], i) => ({ metric, member: "", label, colour: PALETTE[i], dash: DASHES[i % DASHES.length] }));
    const lines = [];
    members.forEach((m, mi) => def.perMember.forEach(([metric, label], li) => lines.push({
      metric, member: m.name, label: m.name + (label ? " " + label : ""),
      colour: PALETTE[mi % PALETTE.length], dash: DASHES[li % DASHES.length] })));
    return lines;
  }
  function buildChartBoxes() {
    const grid = $("#chart-grid");
    grid.innerHTML = CHARTS.map((c) => "<figure class='chart' id='chart-" + c.id + "' data-points='0'><h3>" + esc(c.title) +
      "</h3><div class='plot'></div><p class='empty'>loading\u2026</p></figure>").join("");
  }
  function axisValues(def) {
    return def.bytes ? (u, splits) => splits.map((v) => bytes(v)) : undefined;
  }
  function drawChart(def, lines, tables) {
    const box = $("#chart-" + def.id);
    const usable = tables.filter((t) => t[0].length > 0);
    const points = tables.reduce((n, t) => n + t[0].length, 0);
    box.dataset.points = String(points);
    box.dataset.metricCount = String(lines.length);
    $(".empty", box).textContent = points ? "" : "No data in this range yet.";
    $(".empty", box).hidden = points > 0;
    if (!usable.length) {
      const old = charts.get(def.id);
      if (old) { old.plot.destroy(); charts.delete(def.id); }
      $(".plot", box).innerHTML = "";
      return;
    }
    const data = tables.length === 1 ? [tables[0][0], tables[0][1]] : uPlot.join(tables);
    const key = lines.map((l) => l.metric + "/" + l.member).join(",");
    const width = Math.max(260, $(".plot", box).clientWidth || box.clientWidth - 12);
    const old = charts.get(def.id);
    if (old && old.key === key) {
      old.plot.setData(data);
      return;
    }
    if (old) old.plot.destroy();
    const plot = new uPlot({
      width, height: 220,
      cursor: { drag: { x: true, y: false } },
      scales: { x: { time: true } },
      axes: [{}, { values: axisValues(def), size: def.bytes ? 70 : 55 }],
      series: [{}].concat(lines.map((l) => ({
        label: l.label, stroke: l.colour, dash: l.dash, width: 1.5, spanGaps: false,
        value: def.bytes ? (u, v) => bytes(v) : (u, v) => (v == null ? DASH : fmt(v)),
      }))),
    }, data, $(".plot", box));
    charts.set(def.id, { plot, key });
  }
  async function refreshCharts() {
    clearTimeout(chartTimer);
    const round = ++chartRound;
    const rangeName = $("input[name=range]:checked").value;
    const range = RANGES[rangeName];
    const jobs = [];
    const plan = CHARTS.map((def) => {
      const lines = chartLines(def);
      const tables = lines.map(() => [[], []]);
      lines.forEach((l, i) => jobs.push(async () => {
        const q = new URLSearchParams({ metric: l.metric, from: range.from });
        if (l.member) q.set("member", l.member);
        if (range.step) q.set("step", range.step);
        const h = await api("api/v1/metrics/history?" + q.toString());
        const xs = [], ys = [];
        for (const p of h.points) { xs.push(Date.parse(p.time) / 1000); ys.push(p.value); }
        tables[i] = [xs, ys];
      }));
      return { def, lines, tables };
    });
    const results = await pooled(jobs, 4);
    if (round !== chartRound) return; // a newer round (another range) took over
    const failed = results.filter((r) => r instanceof Error);
    for (const { def, lines, tables } of plan) drawChart(def, lines, tables);
    $("#charts-updated").textContent = "updated " + new Date().toLocaleTimeString() +
      (failed.length ? "; " + failed.length + " queries failed: " + failed[0].message : "");
    document.body.dataset.chartRefreshes = String(++chartRefreshes);
    chartTimer = setTimeout(refreshCharts, range.every);
  }
  function resizeCharts() {
    for (const [id, c] of charts) {
      const plotBox = $("#chart-" + id + " .plot");
      if (plotBox && plotBox.clientWidth > 0) c.plot.setSize({ width: Math.max(260, plotBox.clientWidth), height: 220 });
    }
  }

  // ---- the overview loop ----
  let benchmarksAvailable = true;
  let consistencyAvailable = true;
  function unavailable(section, error) {
    $(section + " form").hidden = true;
    $("#benchmark-message").textContent = "Not available on this gateway: " + error.message;
  }
  let refreshes = 0;
  let lastMemberNames = "";
  let tick = 0;
  async function refresh() {
    const errors = [];
    const note = (e) => {
      errors.push(e.status === 401 ? e.message + " (enter the API token at the top)" : e.message);
    };
    await refreshFleet();
    try { renderStatus(await api("api/v1/cluster/status")); } catch (e) { note(e); }
    try {
      members = (await api("api/v1/cluster/members")).members;
      rows("members", members.map(renderMember), "no member known yet", 17);
      rows("endpoints", members.map(renderEndpoint), "no member known yet", 10);
      const names = members.map((m) => m.name).join(",");
      if (names !== lastMemberNames) {
        lastMemberNames = names;
        updateMemberSelects();
        refreshCharts(); // new lines for the per-member charts
      }
    } catch (e) { note(e); }
    try {
      const l = await api("api/v1/metrics/latency");
      const r = (n, p) => "<tr><th scope='row'>" + n + "</th><td class='num'>" + fmt(p && p.p50_ms) + "</td><td class='num'>" +
        fmt(p && p.p95_ms) + "</td><td class='num'>" + fmt(p && p.p99_ms) + "</td></tr>";
      $("#latency tbody").innerHTML = r("read", l.read) + r("write", l.write) + r("wal fsync", l.wal_fsync) +
        r("backend commit", l.backend_commit);
    } catch (e) { note(e); }
    try { alerts = (await api("api/v1/alerts")).alerts; renderAlerts(); } catch (e) { note(e); }
    try { renderSilences((await api("api/v1/alerts/silences")).silences); } catch (e) { note(e); }
    // A gateway without etcd endpoints (a standalone one given none) runs neither benchmarks nor
    // the consistency check: it answers 501 once, and the section says so instead of asking again.
    if (benchmarksAvailable && tick % 5 === 0) {
      try { await refreshBenchmarkRuns(); } catch (e) {
        if (e.status === 501) { benchmarksAvailable = false; unavailable("#benchmarks", e); } else note(e);
      }
    }
    if (tick % 5 === 0) { try { await refreshBenchmarkHistory(); } catch (e) { note(e); } }
    if (consistencyAvailable && tick % 30 === 0) {
      try { await refreshConsistency(); } catch (e) {
        if (e.status === 501) { consistencyAvailable = false; $("#consistency").textContent = e.message; } else note(e);
      }
    }
    if (!historyPaged && tick > 0 && tick % 15 === 0) {
      try { await loadAlertHistory(false); } catch (e) { note(e); }
    }
    tick++;
    $("#err").textContent = errors.join("; ");
    document.body.dataset.refreshes = String(++refreshes);
  }

  // ---- wiring ----
  function wire() {
    renderAuthState();
    $("#auth-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const v = $("#api-token").value.trim();
      if (v) storeToken(TOKEN_KEY, v);
      renderAuthState();
      $("#auth").open = false;
      refresh();
    });
    $("#forget-token").addEventListener("click", () => { storeToken(TOKEN_KEY, ""); renderAuthState(); });
    // Another cluster: the page again for it (every section starts over with its data).
    $("#cluster-picker").addEventListener("change", (ev) => { location.assign(clusterHref(ev.target.value)); });

    for (const radio of $$("input[name=range]")) radio.addEventListener("change", refreshCharts);
    if ("ResizeObserver" in window) new ResizeObserver(resizeCharts).observe($("#chart-grid"));

    $("#history-filter").addEventListener("submit", (ev) => {
      ev.preventDefault();
      loadAlertHistory(false).catch((e) => { $("#err").textContent = e.message; });
    });
    $("#history-more").addEventListener("click", () => loadAlertHistory(true).catch((e) => { $("#err").textContent = e.message; }));

    $("#silence-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const token = needToken("silence-message");
      if (!token) return;
      const f = ev.target.elements;
      const body = { rule: f.rule.value.trim(), member: f.member.value, duration: f.duration.value, comment: f.comment.value.trim() };
      try {
        const s = await api("api/v1/alerts/silences", { method: "POST", body, token });
        $("#silence-message").innerHTML = marked("ok", "Silenced until " + new Date(s.expires_at).toLocaleString() + ".");
        f.comment.value = "";
        renderSilences((await api("api/v1/alerts/silences")).silences);
      } catch (e) {
        $("#silence-message").innerHTML = marked("bad", e.message);
      }
    });
    $("#silences").addEventListener("click", async (ev) => {
      const button = ev.target.closest("button.expire");
      if (!button) return;
      const token = needToken("silence-message");
      if (!token) return;
      button.disabled = true;
      try {
        await api("api/v1/alerts/silences/" + encodeURIComponent(button.dataset.id), { method: "DELETE", token });
        $("#silence-message").innerHTML = marked("ok", "Silence expired.");
        renderSilences((await api("api/v1/alerts/silences")).silences);
      } catch (e) {
        button.disabled = false;
        $("#silence-message").innerHTML = marked("bad", e.message);
      }
    });

    const bform = $("#benchmark-form");
    $("#benchmark-token").value = "";
    $("#benchmark-token").placeholder = storedToken(BENCHMARK_TOKEN_KEY) ? "(kept for this tab)" : "";
    bform.elements.limit.addEventListener("change", () => {
      const byDuration = bform.elements.limit.value === "duration";
      $("label.ops", bform).hidden = byDuration;
      $("label.duration", bform).hidden = !byDuration;
    });
    bform.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const f = bform.elements;
      const typed = $("#benchmark-token").value.trim();
      const token = typed || storedToken(BENCHMARK_TOKEN_KEY);
      if (!token) {
        $("#benchmark-message").innerHTML = marked("warn", "Enter the benchmark token first.");
        $("#benchmark-token").focus();
        return;
      }
      const body = { type: f.type.value, clients: Number(f.clients.value) };
      if (f.limit.value === "duration") body.duration = f.duration.value + "s"; else body.ops = Number(f.ops.value);
      try {
        const started = await api("api/v1/performance/benchmark", { method: "POST", body, token });
        storeToken(BENCHMARK_TOKEN_KEY, token);
        $("#benchmark-token").value = "";
        $("#benchmark-token").placeholder = "(kept for this tab)";
        $("#benchmark-message").textContent = "Started " + started.id + ".";
        benchmarkSeconds = body.duration ? Number(f.duration.value) : 0;
        renderBenchmark({ id: started.id, state: "running", duration_seconds: benchmarkSeconds,
          started_unix_ms: Date.now(), progress: { phase: "starting", ops_done: 0, ops_total: body.ops || 0 } });
        pollBenchmark(started.status_url.replace(/^\//, ""));
      } catch (e) {
        $("#benchmark-message").innerHTML = marked("bad", e.message);
      }
    });
  }

  buildChartBoxes();
  wire();
  // refresh() settles the cluster (refreshFleet) before the first call that needs it.
  refresh().then(() => loadAlertHistory(false)).catch(() => {}).then(() => {
    if (!lastMemberNames) refreshCharts();
  });
  setInterval(refresh, OVERVIEW_PERIOD_MS);
})();
