// The all-in-one `etcd-monitor` as users start it (the quickstart's command line), on a real
// 3-member cluster: collectors, aggregator, alerter and gateway in one process, reached only
// through its REST API; a benchmark over REST; a clean exit on SIGTERM.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/statvfs.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "etcdmon/http/fetcher.h"
#include "etcdmon/testing/etcd_cluster.h"
#include "etcdmon/testing/etcd_cluster_suite.h"
#include "etcdmon/testing/ports.h"
#include "etcdmon/testing/process.h"
#include "etcdmon/testing/prometheus_receiver.h"
#include "etcdmon/testing/temp_dir.h"

namespace etcdmon {
namespace {

using namespace std::chrono_literals;
using testing::WaitFor;

constexpr char kToken[] = "all-in-one-test-token";
constexpr char kBenchmarkToken[] = "all-in-one-benchmark-token";

// Three members shared by the suite; each case starts its own `etcd-monitor`.
class AllInOneTest : public testing::EtcdClusterSuite<AllInOneTest> {
 protected:
  void SetUp() override {
    EtcdClusterSuite::SetUp();
    if (HasFatalFailure()) {
      return;
    }
    auto fetcher = http::HttpFetcher::Create({});
    ASSERT_TRUE(fetcher.ok());
    http_ = std::move(fetcher).value();
  }

  // Starts `etcd-monitor` on the cluster with the quickstart's kind of command line; with
  // `endpoints` instead of every member's, and `extra_args` appended.
  void StartMonitor(const std::vector<std::string>& extra_env = {}, std::string endpoints = "",
                    const std::vector<std::string>& extra_args = {}) {
    auto ports = testing::PickFreeLoopbackPorts(1);
    ASSERT_TRUE(ports.ok());
    port_ = (*ports)[0];
    if (endpoints.empty()) {
      for (size_t i = 0; i < cluster().size(); ++i) {
        endpoints += (i ? "," : "") + cluster().ClientEndpoint(i);
      }
    }
    const std::string token_file = dir_.File("token");
    std::ofstream(token_file) << kToken << "\n";
    std::filesystem::permissions(
        token_file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    const std::string benchmark_token_file = dir_.File("benchmark-token");
    std::ofstream(benchmark_token_file) << kBenchmarkToken << "\n";
    std::filesystem::permissions(benchmark_token_file, std::filesystem::perms::owner_read |
                                                           std::filesystem::perms::owner_write);
    std::vector<std::string> argv = {ETCDMON_BINARY,
                                     "--endpoints=" + endpoints,
                                     "--api-host=127.0.0.1",
                                     "--api-port=" + std::to_string(port_),
                                     "--data-dir=" + dir_.File("data"),
                                     "--metrics-interval=500ms",
                                     "--health-check-interval=1s",
                                     "--dial-timeout=1s",
                                     "--api-token-file=" + token_file,
                                     "--benchmark-token-file=" + benchmark_token_file,
                                     "--max-leader-changes=3"};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    auto pid = testing::Spawn(argv, dir_.File("etcd-monitor.log"), extra_env);
    ASSERT_TRUE(pid.ok()) << pid.status().message();
    pid_ = *pid;
  }

  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      (void)testing::WaitForExit(pid_, 10s);
    }
  }

  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  // GET `path` as JSON; a null value when it is not a 200 with JSON.
  nlohmann::json GetJson(const std::string& path, long* status = nullptr) {
    Result<http::HttpResponse> r = http_->Get(Url(path));
    if (!r.ok()) return nullptr;
    if (status) *status = r->status_code;
    nlohmann::json j = nlohmann::json::parse(r->body, nullptr, false);
    return j.is_discarded() ? nlohmann::json() : j;
  }

  std::string Log() const { return testing::TailOfFile(dir_.File("etcd-monitor.log"), 30); }

  testing::TempDir dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
  std::unique_ptr<http::HttpFetcher> http_;
};

// Started with the quickstart's flags, the one process serves the whole API about the cluster
// it monitors, the quickstart's metric names, and answers a benchmark; SIGTERM ends it cleanly.
TEST_F(AllInOneTest, ServesTheClusterThenStopsCleanly) {
  StartMonitor();
  nlohmann::json status;
  ASSERT_TRUE(WaitFor(
      [&] {
        status = GetJson("/api/v1/cluster/status");
        return status.is_object() && status.value("member_count", 0) == 3 &&
               status.value("healthy_members", 0) == 3 && status.value("has_leader", false);
      },
      60s))
      << status.dump() << "\n"
      << Log();
  EXPECT_EQ(status.value("quorum_size", 0), 2);
  EXPECT_TRUE(status.value("healthy", false));

  // The leader it names is the one the members name.
  auto etcdctl = cluster().Etcdctl(
      {"endpoint", "status", "-w", "json", "--endpoints=" + cluster().ClientEndpoint(0)});
  ASSERT_TRUE(etcdctl.ok()) << etcdctl.status().message();
  nlohmann::json members_say = nlohmann::json::parse(*etcdctl, nullptr, false);
  ASSERT_TRUE(members_say.is_array() && !members_say.empty()) << *etcdctl;
  char leader_hex[24];
  std::snprintf(
      leader_hex, sizeof(leader_hex), "%llx",
      static_cast<unsigned long long>(members_say[0]["Status"]["leader"].get<uint64_t>()));
  ASSERT_TRUE(WaitFor([&] {
    nlohmann::json leader = GetJson("/api/v1/cluster/leader");
    return leader.is_object() && leader.dump().find(leader_hex) != std::string::npos;
  })) << GetJson("/api/v1/cluster/leader").dump()
      << " want " << leader_hex;

  long health_status = 0;
  ASSERT_TRUE(WaitFor([&] {
    nlohmann::json health = GetJson("/health", &health_status);
    return health_status == 200;
  })) << GetJson("/health").dump();

  // The quickstart's names on /metrics, with the cluster label (counters and latencies appear
  // once a member's second sample has come in).
  const std::vector<std::string> names = {
      "etcd_cluster_healthy{", "etcd_cluster_has_leader{", "etcd_cluster_member_count{",
      "etcd_cluster_quorum_size{", "etcd_cluster_leader_changes_total{",
      "etcd_request_read_latency_p99_milliseconds{", "etcd_mvcc_db_total_size_bytes{",
      "etcd_server_proposals_committed_total{",
      // The ingest refusals, rendered as by the gateway.
      "etcd_monitor_ingest_rejected_total{"};
  std::string missing;
  ASSERT_TRUE(WaitFor([&] {
    Result<http::HttpResponse> metrics = http_->Get(Url("/metrics"));
    missing.clear();
    for (const std::string& name : names) {
      if (!metrics.ok() || metrics->body.find(name) == std::string::npos) missing += name + " ";
    }
    return missing.empty();
  })) << "missing on /metrics: "
      << missing;

  // Alerts answer (none expected on a healthy cluster), and history has points.
  nlohmann::json alerts = GetJson("/api/v1/alerts");
  ASSERT_TRUE(alerts.is_object()) << alerts.dump();
  EXPECT_TRUE(alerts.contains("alerts"));
  ASSERT_TRUE(WaitFor([&] {
    nlohmann::json h = GetJson("/api/v1/metrics/history?metric=etcd_cluster_member_count&from=-5m");
    return h.is_object() && h.contains("points") && h["points"].size() >= 2;
  }));

  // A benchmark over REST, the quickstart's body verbatim: refused without the token, run with
  // it, its keys cleaned up.
  const std::string body = R"({"type": "write", "ops": 10000})";
  Result<http::HttpResponse> refused = http_->Post(Url("/api/v1/performance/benchmark"), body,
                                                   {{"Content-Type", "application/json"}});
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->status_code, 401) << refused->body;
  // The API (silence) token does not run benchmarks: they have a token of their own.
  Result<http::HttpResponse> api_token = http_->Post(
      Url("/api/v1/performance/benchmark"), body,
      {{"Content-Type", "application/json"}, {"Authorization", std::string("Bearer ") + kToken}});
  ASSERT_TRUE(api_token.ok());
  EXPECT_EQ(api_token->status_code, 403) << api_token->body;
  Result<http::HttpResponse> accepted =
      http_->Post(Url("/api/v1/performance/benchmark"), body,
                  {{"Content-Type", "application/json"},
                   {"Authorization", std::string("Bearer ") + kBenchmarkToken}});
  ASSERT_TRUE(accepted.ok());
  ASSERT_EQ(accepted->status_code, 202) << accepted->body;
  nlohmann::json started = nlohmann::json::parse(accepted->body, nullptr, false);
  const std::string id = started.value("id", "");
  ASSERT_FALSE(id.empty()) << accepted->body;
  // The list of runs shows the one just started, first.
  nlohmann::json listed_runs = GetJson("/api/v1/performance/benchmark");
  ASSERT_TRUE(listed_runs.is_object() && listed_runs["runs"].is_array()) << listed_runs.dump();
  ASSERT_FALSE(listed_runs["runs"].empty()) << listed_runs.dump();
  const nlohmann::json newest = listed_runs["runs"][0];
  EXPECT_EQ(newest.value("id", ""), id) << listed_runs.dump();
  EXPECT_EQ(newest.value("trigger", ""), "api") << listed_runs.dump();
  EXPECT_EQ(newest.value("type", ""), "write") << listed_runs.dump();
  EXPECT_EQ(newest.value("status_url", ""), "/api/v1/performance/benchmark/" + id);
  EXPECT_TRUE(newest["started_at"].is_string()) << listed_runs.dump();
  nlohmann::json run;
  ASSERT_TRUE(WaitFor(
      [&] {
        run = GetJson("/api/v1/performance/benchmark/" + id);
        return run.is_object() && run.value("state", "") != "running";
      },
      120s))
      << run.dump();
  EXPECT_EQ(run.value("state", ""), "done") << run.dump();
  EXPECT_EQ(run["result"].value("ops", 0), 10000) << run.dump();
  EXPECT_EQ(run["result"].value("failed", -1), 0) << run.dump();
  EXPECT_TRUE(run["result"].value("keys_deleted", false)) << run.dump();
  // Finished, the list carries its figures.
  listed_runs = GetJson("/api/v1/performance/benchmark/");
  ASSERT_TRUE(listed_runs.is_object() && !listed_runs["runs"].empty()) << listed_runs.dump();
  EXPECT_EQ(listed_runs["runs"][0].value("id", ""), id) << listed_runs.dump();
  EXPECT_EQ(listed_runs["runs"][0].value("state", ""), "done") << listed_runs.dump();
  EXPECT_EQ(listed_runs["runs"][0].value("ops", 0), 10000) << listed_runs.dump();
  EXPECT_GT(listed_runs["runs"][0].value("p99_ms", 0.0), 0.0) << listed_runs.dump();
  EXPECT_TRUE(listed_runs["runs"][0]["finished_at"].is_string()) << listed_runs.dump();

  // The consistency check: every member hashes the same key space; a second request within
  // the minute gets the same (cached) check.
  long consistency_status = 0;
  nlohmann::json consistency = GetJson("/api/v1/cluster/consistency", &consistency_status);
  ASSERT_EQ(consistency_status, 200) << consistency.dump();
  EXPECT_EQ(consistency.value("verdict", ""), "consistent") << consistency.dump();
  EXPECT_GT(consistency.value("revision", 0), 0) << consistency.dump();
  ASSERT_EQ(consistency["endpoints"].size(), cluster().size()) << consistency.dump();
  for (const nlohmann::json& row : consistency["endpoints"]) {
    EXPECT_TRUE(row.value("ok", false)) << row.dump();
    EXPECT_EQ(row["hash"], consistency["endpoints"][0]["hash"]) << consistency.dump();
  }
  EXPECT_TRUE(consistency["checked_at"].is_string()) << consistency.dump();
  const nlohmann::json again = GetJson("/api/v1/cluster/consistency");
  EXPECT_EQ(again["checked_at"], consistency["checked_at"]) << again.dump();

  // Its figures reach /metrics and the history.
  ASSERT_TRUE(WaitFor([&] {
    Result<http::HttpResponse> m = http_->Get(Url("/metrics"));
    return m.ok() && m->body.find("etcd_benchmark_ops_per_second{") != std::string::npos;
  }));
  ASSERT_TRUE(WaitFor([&] {
    nlohmann::json h =
        GetJson("/api/v1/metrics/history?metric=etcd_benchmark_ops_per_second&from=-5m");
    return h.is_object() && h.contains("points") && h["points"].size() == 1 &&
           h["points"][0].value("value", 0.0) > 0;
  })) << GetJson("/api/v1/metrics/history?metric=etcd_benchmark_ops_per_second&from=-5m").dump();

  // A silence for planned maintenance, set and listed with the CLI through the REST API.
  const std::string api = "--api-url=" + Url("");
  Result<std::string> refused_silence = testing::RunCommand(
      {ETCDMON_BINARY, "silence", "create", api, "--member=" + cluster().Name(1), "--for=30m"},
      dir_.File("silence-refused.log"), 30s);
  EXPECT_FALSE(refused_silence.ok()) << "created without a token";
  Result<std::string> created = testing::RunCommand(
      {ETCDMON_BINARY, "silence", "create", api, "--api-token-file=" + dir_.File("token"),
       "--member=" + cluster().Name(1), "--for=30m", "--comment=rolling restart", "-w", "json"},
      dir_.File("silence-create.log"), 30s);
  ASSERT_TRUE(created.ok()) << created.status().message();
  nlohmann::json silence = nlohmann::json::parse(*created, nullptr, false);
  ASSERT_TRUE(silence.is_object()) << *created;
  EXPECT_EQ(silence.value("member", ""), cluster().Name(1));
  Result<std::string> listed = testing::RunCommand({ETCDMON_BINARY, "silence", "list", api},
                                                   dir_.File("silence-list.log"), 30s);
  ASSERT_TRUE(listed.ok()) << listed.status().message();
  EXPECT_NE(listed->find(silence.value("id", "?")), std::string::npos) << *listed;
  EXPECT_NE(listed->find("rolling restart"), std::string::npos) << *listed;

  // Expired over REST: DELETE needs the token; afterwards the silence is gone from the default
  // listing but kept, as expired, in ?state=all.
  const std::string silence_id = silence.value("id", "?");
  const std::string silence_url = Url("/api/v1/alerts/silences/" + silence_id);
  const http::HttpHeaders bearer = {{"Authorization", std::string("Bearer ") + kToken}};
  Result<http::HttpResponse> no_token = http_->Delete(silence_url, {});
  ASSERT_TRUE(no_token.ok()) << no_token.status().message();
  EXPECT_EQ(no_token->status_code, 401) << no_token->body;
  Result<http::HttpResponse> unknown =
      http_->Delete(Url("/api/v1/alerts/silences/ffffffffffffffff"), bearer);
  ASSERT_TRUE(unknown.ok()) << unknown.status().message();
  EXPECT_EQ(unknown->status_code, 404) << unknown->body;
  Result<std::string> expired =
      testing::RunCommand({ETCDMON_BINARY, "silence", "expire", silence_id, api,
                           "--api-token-file=" + dir_.File("token"), "-w", "json"},
                          dir_.File("silence-expire.log"), 30s);
  ASSERT_TRUE(expired.ok()) << expired.status().message();
  nlohmann::json expired_json = nlohmann::json::parse(*expired, nullptr, false);
  ASSERT_TRUE(expired_json.is_object()) << *expired;
  EXPECT_EQ(expired_json.value("id", ""), silence_id);
  EXPECT_EQ(expired_json.value("state", ""), "expired");
  // Expiring again is fine: the same silence, still expired.
  Result<http::HttpResponse> expired_again = http_->Delete(silence_url, bearer);
  ASSERT_TRUE(expired_again.ok()) << expired_again.status().message();
  EXPECT_EQ(expired_again->status_code, 200) << expired_again->body;
  EXPECT_EQ(nlohmann::json::parse(expired_again->body, nullptr, false).value("expires_at", ""),
            expired_json.value("expires_at", "?"))
      << expired_again->body;
  nlohmann::json active = GetJson("/api/v1/alerts/silences");
  ASSERT_TRUE(active.is_object()) << active.dump();
  EXPECT_TRUE(active["silences"].empty()) << active.dump();
  nlohmann::json all = GetJson("/api/v1/alerts/silences?state=all");
  ASSERT_TRUE(all.is_object()) << all.dump();
  ASSERT_EQ(all["silences"].size(), 1u) << all.dump();
  EXPECT_EQ(all["silences"][0].value("id", ""), silence_id);
  EXPECT_EQ(all["silences"][0].value("state", ""), "expired");
  Result<std::string> listed_all = testing::RunCommand(
      {ETCDMON_BINARY, "silence", "list", "--all", api}, dir_.File("silence-list-all.log"), 30s);
  ASSERT_TRUE(listed_all.ok()) << listed_all.status().message();
  EXPECT_NE(listed_all->find(silence_id), std::string::npos) << *listed_all;
  EXPECT_NE(listed_all->find("expired"), std::string::npos) << *listed_all;

  // SIGTERM: a clean exit (code 0). The time it takes is recorded, not asserted.
  const auto stop_started = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(pid_, SIGTERM), 0);
  Result<int> exited = testing::WaitForExit(pid_, 30s);
  ASSERT_TRUE(exited.ok()) << "still running 30 s after SIGTERM\n" << Log();
  pid_ = -1;
  EXPECT_TRUE(WIFEXITED(*exited) && WEXITSTATUS(*exited) == 0)
      << testing::DescribeWaitStatus(*exited) << "\n"
      << Log();
  RecordProperty("stop_ms", static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                 std::chrono::steady_clock::now() - stop_started)
                                                 .count()));
}

// BENCHMARK_ENABLED=true with BENCHMARK_INTERVAL: a small benchmark runs by itself and its
// figures reach /metrics.
TEST_F(AllInOneTest, PeriodicBenchmarkReachesMetrics) {
  StartMonitor({"BENCHMARK_ENABLED=true", "BENCHMARK_INTERVAL=1s"});
  std::string body;
  ASSERT_TRUE(WaitFor(
      [&] {
        Result<http::HttpResponse> m = http_->Get(Url("/metrics"));
        if (m.ok()) body = m->body;
        return m.ok() && body.find("etcd_benchmark_ops_per_second{") != std::string::npos;
      },
      120s))
      << Log();
  EXPECT_NE(body.find("etcd_benchmark_latency_p99_milliseconds{"), std::string::npos);
}

int64_t UnixSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// With --remote-write-url the history's points reach a real Prometheus with the cluster label and
// the external label; while the receiver is down the points wait in the history, and once it is
// back on the same data the outage's points arrive.
TEST_F(AllInOneTest, RemoteWritesTheHistoryToPrometheus) {
  testing::PrometheusReceiver prometheus(dir_.path());
  ASSERT_TRUE(prometheus.Start().ok());
  StartMonitor({}, "",
               {"--remote-write-url=" + prometheus.WriteUrl(), "--external-label=region=eu-1",
                "--remote-write-interval=500ms"});
  const std::string has_leader = "etcd_cluster_has_leader{cluster=\"default\",region=\"eu-1\"}";
  ASSERT_TRUE(WaitFor([&] { return prometheus.QueryOne(has_leader) == "1"; }, 120s)) << Log();
  EXPECT_EQ(prometheus.QueryOne("count(etcd_member_up{cluster=\"default\"} == 1)"), "3");

  prometheus.Stop();
  const int64_t down_from = UnixSeconds();
  // An outage the history has to bridge: it lasts until the monitor has stored 3 points of the
  // series since the receiver went away.
  const std::string stored_since = "/api/v1/metrics/history?metric=etcd_cluster_has_leader&from=" +
                                   std::to_string(down_from + 1);
  ASSERT_TRUE(WaitFor(
      [&] {
        const nlohmann::json h = GetJson(stored_since);
        return h.is_object() && h.contains("points") && h["points"].size() >= 3;
      },
      30s))
      << GetJson(stored_since).dump();
  const int64_t down_until = UnixSeconds();
  ASSERT_TRUE(prometheus.Start().ok());
  const std::string during = "count_over_time(etcd_cluster_has_leader{cluster=\"default\"}[" +
                             std::to_string(down_until - down_from) + "s])";
  EXPECT_TRUE(WaitFor(
      [&] {
        const std::string n = prometheus.QueryOne(during, std::to_string(down_until));
        return !n.empty() && std::stoi(n) >= 2;
      },
      60s))
      << prometheus.QueryOne(during, std::to_string(down_until)) << "\n"
      << Log();

  // The sender's own figures on /metrics: what it sent, the requests the outage failed.
  auto metric = [&](const std::string& name) {
    Result<http::HttpResponse> page = http_->Get(Url("/metrics"));
    if (!page.ok()) return -1.0;
    std::istringstream lines(page->body);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
    }
    return -1.0;
  };
  EXPECT_TRUE(WaitFor([&] { return metric("etcd_monitor_remote_write_samples_sent_total") > 0; }))
      << metric("etcd_monitor_remote_write_samples_sent_total");
  EXPECT_GT(metric("etcd_monitor_remote_write_failures_total"), 0);
  EXPECT_EQ(metric("etcd_monitor_remote_write_samples_dropped_total"), 0);
  EXPECT_GT(metric("etcd_monitor_remote_write_last_success_timestamp_seconds"), down_until - 60);
}

// The used share of the file system holding `path`, as df counts it (root's reserve as used).
double DiskUsedPercent(const std::string& path) {
  struct statvfs fs {};
  if (::statvfs(path.c_str(), &fs) != 0 || fs.f_blocks == 0) return -1;
  return static_cast<double>(fs.f_blocks - fs.f_bfree) / static_cast<double>(fs.f_blocks) * 100;
}

// The value of `name{...member="<member>"...}` on a Prometheus page; nullopt when absent.
std::optional<double> SeriesValue(const std::string& page, const std::string& name,
                                  const std::string& member) {
  std::istringstream lines(page);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(name + "{", 0) == 0 &&
        line.find("member=\"" + member + "\"") != std::string::npos) {
      return std::stod(line.substr(line.rfind(' ') + 1));
    }
  }
  return std::nullopt;
}

// The entry of /api/v1/cluster/members with `key` equal to `value`; null when absent.
nlohmann::json MemberWith(const nlohmann::json& members, const std::string& key,
                          const std::string& value) {
  if (!members.is_object() || !members.contains("members")) return nullptr;
  for (const nlohmann::json& m : members["members"]) {
    if (m.value(key, "") == value) return m;
  }
  return nullptr;
}

// Without any flag, the monitor on the members' host finds each member's data dir from /proc
// (the fixture's members run on loopback as this user): every member has its disk usage, that
// of the file system holding its data dir, in the JSON and on /metrics.
TEST_F(AllInOneTest, DiskUsageOfMembersOnThisHostWithoutFlags) {
  StartMonitor();
  nlohmann::json members;
  ASSERT_TRUE(WaitFor(
      [&] {
        members = GetJson("/api/v1/cluster/members");
        for (size_t i = 0; i < cluster().size(); ++i) {
          const nlohmann::json m = MemberWith(members, "name", cluster().Name(i));
          if (!m.is_object() || !m["disk_used_percent"].is_number()) return false;
        }
        return true;
      },
      60s))
      << members.dump(1) << "\n"
      << Log();
  std::string page;
  ASSERT_TRUE(WaitFor([&] {
    Result<http::HttpResponse> metrics = http_->Get(Url("/metrics"));
    page = metrics.ok() ? metrics->body : "";
    for (size_t i = 0; i < cluster().size(); ++i) {
      if (!SeriesValue(page, "etcd_host_disk_usage_percent", cluster().Name(i))) return false;
    }
    return true;
  })) << page;
  for (size_t i = 0; i < cluster().size(); ++i) {
    const nlohmann::json m = MemberWith(members, "name", cluster().Name(i));
    const double expected = DiskUsedPercent(cluster().DataDir(i));
    ASSERT_GT(expected, 0) << cluster().DataDir(i);
    // Other processes write to the same file system meanwhile: near, not equal.
    EXPECT_NEAR(m["disk_used_percent"].get<double>(), expected, 5.0) << m.dump();
    EXPECT_TRUE(m["disk_unknown_reason"].is_null()) << m.dump();
    EXPECT_NEAR(*SeriesValue(page, "etcd_host_disk_usage_percent", cluster().Name(i)), expected,
                5.0);
  }
}

// Where the disk usage cannot be known the member says why: an endpoint nothing listens on,
// a member no collector samples, and a --member-data-dir (which beats discovery) whose
// directory is gone.
TEST_F(AllInOneTest, UnknownDiskUsageSaysWhy) {
  auto free_ports = testing::PickFreeLoopbackPorts(1);
  ASSERT_TRUE(free_ports.ok());
  const std::string dead = "127.0.0.1:" + std::to_string((*free_ports)[0]);
  const std::string gone = dir_.File("gone");
  ASSERT_TRUE(std::filesystem::create_directory(gone));
  StartMonitor({}, cluster().ClientEndpoint(0) + "," + cluster().ClientEndpoint(1) + "," + dead,
               {"--member-data-dir=" + cluster().ClientEndpoint(1) + "=" + gone});
  // The flag is checked at start; the directory disappears once the monitor runs.
  ASSERT_TRUE(WaitFor([&] { return GetJson("/api/v1/cluster/members").is_object(); }, 60s))
      << Log();
  ASSERT_TRUE(std::filesystem::remove(gone));

  nlohmann::json members;
  auto reason = [&](const std::string& key, const std::string& value) {
    const nlohmann::json m = MemberWith(members, key, value);
    return m.is_object() && m["disk_used_percent"].is_null() && m["disk_unknown_reason"].is_string()
               ? m["disk_unknown_reason"].get<std::string>()
               : std::string();
  };
  ASSERT_TRUE(WaitFor(
      [&] {
        members = GetJson("/api/v1/cluster/members");
        const nlohmann::json found = MemberWith(members, "name", cluster().Name(0));
        // Until its collector's first sample names it, a member is one "no collector samples".
        return found.is_object() && found["disk_used_percent"].is_number() &&
               !reason("endpoint", dead).empty() &&
               reason("name", cluster().Name(1)).find("statvfs") != std::string::npos &&
               !reason("name", cluster().Name(2)).empty();
      },
      60s))
      << members.dump(1) << "\n"
      << Log();
  EXPECT_EQ(reason("endpoint", dead),
            "the member's data dir was not found: no process on this host listens on port " +
                std::to_string((*free_ports)[0]) +
                " (the member may run in a container or another network namespace); give "
                "--member-data-dir=" +
                dead + "=DIR");
  EXPECT_NE(reason("name", cluster().Name(1)).find("statvfs " + gone), std::string::npos)
      << members.dump(1);
  EXPECT_EQ(reason("name", cluster().Name(2)), "no collector samples this member");
}

// A bad flag is refused before anything starts, with one line naming it and exit code 2.
TEST_F(AllInOneTest, RejectsBadFlagsWithExitCode2) {
  const std::string log = dir_.File("bad-flags.log");
  auto pid = testing::Spawn({ETCDMON_BINARY, "--endpoints=localhost:2379", "--api-port=0",
                             "--metrics-interval=5x", "--rules-file=/nonexistent/rules.yaml"},
                            log);
  ASSERT_TRUE(pid.ok());
  Result<int> exited = testing::WaitForExit(*pid, 30s);
  ASSERT_TRUE(exited.ok());
  EXPECT_TRUE(WIFEXITED(*exited) && WEXITSTATUS(*exited) == 2)
      << testing::DescribeWaitStatus(*exited);
  const std::string out = testing::ReadWholeFile(log);
  EXPECT_NE(out.find("--api-port"), std::string::npos) << out;
  EXPECT_NE(out.find("--metrics-interval"), std::string::npos) << out;
  EXPECT_NE(out.find("--rules-file"), std::string::npos) << out;
}

// --endpoints=localhost:1 (nothing listens there): the monitor reaches no member, so /health is
// 503 with the etcd check saying why, the member is named by its endpoint, and the alerts about
// it say what was observed.
TEST_F(AllInOneTest, ReachingNoMemberIsUnavailable) {
  auto ports = testing::PickFreeLoopbackPorts(1);
  ASSERT_TRUE(ports.ok());
  port_ = (*ports)[0];
  auto pid = testing::Spawn(
      {ETCDMON_BINARY, "--endpoints=localhost:1", "--api-host=127.0.0.1",
       "--api-port=" + std::to_string(port_), "--data-dir=" + dir_.File("data"),
       "--metrics-interval=500ms", "--health-check-interval=1s", "--dial-timeout=1s"},
      dir_.File("etcd-monitor.log"));
  ASSERT_TRUE(pid.ok()) << pid.status().message();
  pid_ = *pid;

  long status = 0;
  nlohmann::json health;
  ASSERT_TRUE(WaitFor(
      [&] {
        health = GetJson("/health", &status);
        // Until the first sample the snapshot knows no member (the check is ok then); the
        // figures below are those after the start-up (at most 3 intervals).
        if (!health.is_object() || !health["checks"].contains("etcd") ||
            health["checks"]["etcd"].value("ok", true)) {
          return false;
        }
        const nlohmann::json cluster = GetJson("/api/v1/cluster/status");
        return cluster.is_object() && !cluster.value("starting_up", true);
      },
      60s))
      << health.dump() << "\n"
      << Log();
  EXPECT_EQ(status, 503) << health.dump();
  EXPECT_EQ(health.value("status", ""), "unavailable") << health.dump();
  const std::string detail = health["checks"]["etcd"].value("detail", "");
  EXPECT_EQ(detail.rfind("no etcd member answers: 0 of 1 reachable (localhost:1: ", 0), 0u)
      << detail;

  nlohmann::json members = GetJson("/api/v1/cluster/members");
  ASSERT_TRUE(members.is_object() && members["members"].size() == 1) << members.dump();
  EXPECT_EQ(members["members"][0].value("label", ""), "localhost:1") << members.dump();
  EXPECT_TRUE(members["members"][0]["raft_term"].is_null()) << members.dump();
  EXPECT_TRUE(members["members"][0]["figures_as_of"].is_null()) << members.dump();
  nlohmann::json cluster = GetJson("/api/v1/cluster/status");
  EXPECT_EQ(cluster.value("state", ""), "no_leader") << cluster.dump();
  EXPECT_EQ(cluster.value("health_reason", "").rfind("no etcd member answers", 0), 0u)
      << cluster.dump();

  // The alerts (pending: their `for` has not passed) name the member by its endpoint.
  nlohmann::json alerts;
  auto find = [&](const std::string& rule, const std::string& member) {
    for (const nlohmann::json& a : alerts["alerts"]) {
      if (a.value("rule", "") == rule && a.value("member", "") == member) return a;
    }
    return nlohmann::json();
  };
  ASSERT_TRUE(WaitFor(
      [&] {
        alerts = GetJson("/api/v1/alerts");
        return alerts.is_object() && !find("MemberUnavailable", "localhost:1").is_null() &&
               !find("NoLeader", "").is_null();
      },
      30s))
      << alerts.dump();
  EXPECT_EQ(find("MemberUnavailable", "localhost:1")
                .value("summary", "")
                .rfind("localhost:1 unreachable: ", 0),
            0u)
      << alerts.dump();
  EXPECT_EQ(find("NoLeader", "").value("summary", ""),
            "no member reports a leader (0 of 1 members answer; 1 unreachable)")
      << alerts.dump();
  for (const nlohmann::json& a : alerts["alerts"]) {
    EXPECT_NE(a.value("member", ""), "0") << a.dump();
  }
}

}  // namespace
}  // namespace etcdmon
