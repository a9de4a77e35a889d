// The dashboard at "/" in a real browser: the gateway runs in-process on a free loopback port
// over fake backends that serve one crafted snapshot and a firing and a pending alert; headless
// chromium loads the page, lets its script fetch and render, and the tests read the DOM it built.
// Set ETCDMON_DASHBOARD_SCREENSHOT=/tmp/dashboard.png to also get a picture of the page.
// FleetDashboardBrowserTest serves two clusters and drives the page with fleet.test.mjs.

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "etcdmon/gateway/gateway.h"
#include "etcdmon/testing/fake_etcd_client.h"
#include "etcdmon/testing/headless_browser.h"
#include "etcdmon/testing/http_client.h"
#include "etcdmon/testing/process.h"
#include "etcdmon/testing/temp_dir.h"

namespace etcdmon::gateway {
namespace {

namespace v1 = etcdmonitor::v1;
using etcdmon::testing::HeadlessBrowser;
using etcdmon::testing::Http;
using etcdmon::testing::WaitFor;

constexpr int64_t kTick = 1714557600000;          // 2024-05-01T10:00:00Z
constexpr int64_t kLastAnswered = kTick - 45000;  // 2024-05-01T09:59:15Z
constexpr char kLastAnsweredText[] = "2024-05-01T09:59:15.000Z";
constexpr uint64_t kDbBytes = 7581696;        // 7.2 MiB
constexpr uint64_t kBigDbBytes = 1610612736;  // 1.5 GiB
constexpr char kDash[] = "\u2013";

// A three-member cluster with etcd-3 down: quorum holds, so it is degraded. etcd-3 answers
// nothing (term, revision and db size unknown); its latencies are the last it reported, 45 s ago.
v1::ClusterSnapshot DegradedSnapshot() {
  v1::ClusterSnapshot s;
  s.set_cluster("prod");
  s.set_cluster_id(0xabc);
  s.set_tick_unix_ms(kTick);
  s.set_healthy(true);
  s.set_degraded(true);
  s.set_health_reason("etcd-3 unreachable");
  s.set_state(v1::CLUSTER_DEGRADED);
  s.set_has_leader(true);
  s.set_leader_id(1);
  s.set_leader_name("etcd-1");
  s.set_member_count(3);
  s.set_voting_members(3);
  s.set_quorum_size(2);
  s.set_healthy_members(2);
  s.set_unreachable_members(1);
  s.set_quorum_ok(true);
  s.set_raft_term(7);
  v1::LatencyPercentiles read;
  read.set_p50_ms(0.5);
  read.set_p95_ms(1.5);
  read.set_p99_ms(2.5);
  read.set_count(30);
  *s.mutable_read_latency() = read;
  *s.mutable_write_latency() = read;
  for (int i = 1; i <= 3; ++i) {
    v1::MemberState* m = s.add_members();
    m->set_id(static_cast<uint64_t>(i));
    m->set_name("etcd-" + std::to_string(i));
    m->set_endpoint("127.0.0.1:" + std::to_string(i * 10000 + 2379));
    m->set_in_member_list(true);
    m->set_sampled(true);
    *m->mutable_read_latency() = read;
    *m->mutable_write_latency() = read;
    m->set_last_sample_unix_ms(kTick);
    if (i == 3) {
      m->set_health(v1::UNREACHABLE);
      m->set_reason("connection refused");
      m->set_figures_stale(true);
      m->set_last_answered_unix_ms(kLastAnswered);
      continue;  // no raft term, no revision: unknown
    }
    m->set_health(v1::HEALTHY);
    m->set_is_leader(i == 1);
    m->set_reachable(true);
    m->set_last_answered_unix_ms(kTick);
    m->set_raft_term(7);
    m->set_revision(1234);
    m->set_db_size_bytes(i == 2 ? kBigDbBytes : kDbBytes);
    m->set_leader_id(1);
  }
  return s;
}

// The aggregator of these clusters (one snapshot each).
class FakeMonitor final : public MonitorBackend {
 public:
  explicit FakeMonitor(std::vector<v1::ClusterSnapshot> snapshots)
      : snapshots_(std::move(snapshots)) {}
  Result<v1::ClusterSnapshot> GetSnapshot(const std::string& cluster) override {
    for (const v1::ClusterSnapshot& s : snapshots_) {
      if (cluster.empty() || s.cluster() == cluster) {
        return s;
      }
    }
    return Status::NotFound("no cluster " + cluster);
  }
  Result<std::vector<v1::ClusterSnapshot>> ListClusters() override { return snapshots_; }
  Result<v1::HistoryResponse> QueryHistory(const v1::HistoryQuery&) override {
    return v1::HistoryResponse();
  }
  Result<std::vector<std::string>> ListMetrics() override { return std::vector<std::string>{}; }
  Result<v1::ServiceHealth> GetHealth() override {
    v1::ServiceHealth h;
    h.set_ok(true);
    h.set_last_update_unix_ms(kTick);
    return h;
  }

 private:
  const std::vector<v1::ClusterSnapshot> snapshots_;
};

class FakeAlerts final : public AlertBackend {
 public:
  Result<v1::ListAlertsResponse> ListActiveAlerts(const std::string&) override {
    v1::ListAlertsResponse r;
    v1::AlertRecord* firing = r.add_alerts();
    firing->set_fingerprint("f1");
    firing->set_rule("MemberUnavailable");
    firing->set_severity("critical");
    firing->set_state("firing");
    firing->set_member("etcd-3");
    firing->set_summary("etcd-3 unreachable");
    firing->set_started_unix_ms(kLastAnswered);
    firing->set_firing_since_unix_ms(kTick);
    v1::AlertRecord* pending = r.add_alerts();
    pending->set_fingerprint("f2");
    pending->set_rule("HighFsyncLatency");
    pending->set_severity("warning");
    pending->set_state("pending");
    pending->set_member("etcd-2");
    pending->set_summary("wal fsync p99 above 10 ms");
    pending->set_started_unix_ms(kTick);
    return r;
  }
  Result<v1::AlertHistoryResponse> QueryHistory(const v1::AlertHistoryRequest&) override {
    return v1::AlertHistoryResponse();
  }
  Result<v1::ListSilencesResponse> ListSilences(bool, const std::string&) override {
    return v1::ListSilencesResponse();
  }
  Result<v1::Silence> CreateSilence(const v1::Silence&, const config::Secret&) override {
    return Status::Unimplemented("no silences in this test");
  }
  Result<v1::Silence> ExpireSilence(const std::string&, const config::Secret&) override {
    return Status::Unimplemented("no silences in this test");
  }
};

// --- reading the DOM chromium serialized (attributes in double quotes) ---

// The element that starts with `open` (e.g. `<tr data-member="etcd-3"`) up to the first `close`
// after it; empty when there is none.
std::string Element(const std::string& dom, const std::string& open, const std::string& close) {
  const size_t begin = dom.find(open);
  if (begin == std::string::npos) {
    return "";
  }
  const size_t end = dom.find(close, begin);
  if (end == std::string::npos) {
    return "";
  }
  return dom.substr(begin, end + close.size() - begin);
}

// `html` without its tags.
std::string Text(const std::string& html) {
  std::string text;
  bool in_tag = false;
  for (char c : html) {
    if (c == '<') {
      in_tag = true;
    } else if (c == '>') {
      in_tag = false;
    } else if (!in_tag) {
      text += c;
    }
  }
  return text;
}

// The <td> elements of one table row, in order, each with its tags.
std::vector<std::string> Cells(const std::string& row) {
  std::vector<std::string> cells;
  size_t pos = 0;
  while ((pos = row.find("<td", pos)) != std::string::npos) {
    const size_t end = row.find("</td>", pos);
    if (end == std::string::npos) {
      break;
    }
    cells.push_back(row.substr(pos, end + 5 - pos));
    pos = end + 5;
  }
  return cells;
}

// Columns of the members table.
enum MemberColumn {
  kName,
  kId,
  kEndpoint,
  kHealth,
  kLeader,
  kTerm,
  kRevision,
  kApplyLag,
  kDbSize,
  kDbInUse,
  kQuotaUsed,
  kDiskUsed,
  kMemoryUsed,
  kCertificate,
  kReadP99,
  kWriteP99,
  kLastError
};

class DashboardBrowserTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Result<HeadlessBrowser> browser = HeadlessBrowser::Find();
    ASSERT_TRUE(browser.ok()) << browser.status().ToString();
    monitor_ = std::make_unique<FakeMonitor>(std::vector<v1::ClusterSnapshot>{DegradedSnapshot()});
    alerts_ = std::make_unique<FakeAlerts>();
    GatewayConfig config;
    config.host = "127.0.0.1";
    config.port = 0;
    config.refresh_interval = std::chrono::milliseconds(50);
    // The snapshot is a fixed moment of 2024 (and carries no tick interval): without this the
    // page would show it stale, as it should a real one that old (staleness has tests of its own).
    config.stale_after = std::chrono::hours(24 * 365 * 100);
    GatewayBackends backends;
    backends.monitor = monitor_.get();
    backends.alerts = alerts_.get();
    auto logger = spdlog::default_logger()->clone("dashboard-browser-test");
    logger->set_level(spdlog::level::warn);
    auto service = GatewayService::Create(config, backends, logger);
    ASSERT_TRUE(service.ok()) << service.status().ToString();
    service_ = std::move(service).value();
    ASSERT_TRUE(service_->Start().ok());
    const std::string base = "http://127.0.0.1:" + std::to_string(service_->port());
    // The page must find the snapshot and both alerts on its first fetch.
    ASSERT_TRUE(WaitFor([&] {
      const nlohmann::json alerts = Http("GET", base + "/api/v1/alerts").Json();
      return Http("GET", base + "/api/v1/cluster/status").status == 200 && alerts.is_object() &&
             alerts.contains("alerts") && alerts["alerts"].size() == 2;
    }));

    Result<std::string> dom = browser->DumpDom(base + "/");
    ASSERT_TRUE(dom.ok()) << dom.status().ToString();
    dom_ = std::make_unique<std::string>(std::move(dom).value());
    if (const char* png = std::getenv("ETCDMON_DASHBOARD_SCREENSHOT"); png != nullptr && *png) {
      Status shot = browser->Screenshot(base + "/", png);
      ASSERT_TRUE(shot.ok()) << shot.ToString();
    }
  }

  static void TearDownTestSuite() {
    service_.reset();  // before the backends it reads
    alerts_.reset();
    monitor_.reset();
    dom_.reset();
  }

  void SetUp() override {
    // A failed suite set-up has already said why; the cases have nothing to read.
    ASSERT_NE(dom_, nullptr);
    // The script filled the page without errors.
    ASSERT_NE(Element(*dom_, "<table id=\"members\">", "</table>").find("etcd-3"),
              std::string::npos)
        << *dom_;
    ASSERT_EQ(Text(Element(*dom_, "<div id=\"err\"", "</div>")), "") << *dom_;
  }

  // The members table's row whose first cell is `name`.
  static std::string MemberRow(const std::string& name) {
    const std::string table = Element(*dom_, "<table id=\"members\">", "</table>");
    const size_t cell = table.find("<td>" + name + "</td>");
    const size_t row = cell == std::string::npos ? cell : table.rfind("<tr", cell);
    return row == std::string::npos ? "" : Element(table.substr(row), "<tr", "</tr>");
  }
  static std::vector<std::string> MemberCells(const std::string& name) {
    return Cells(MemberRow(name));
  }

  static inline std::unique_ptr<FakeMonitor> monitor_;
  static inline std::unique_ptr<FakeAlerts> alerts_;
  static inline std::unique_ptr<GatewayService> service_;
  static inline std::unique_ptr<std::string> dom_;  // "/"
};

TEST_F(DashboardBrowserTest, UnknownValuesShowADashNotZero) {
  std::vector<std::string> down = MemberCells("etcd-3");
  ASSERT_EQ(down.size(), 17u) << *dom_;
  EXPECT_EQ(Text(down[kTerm]), kDash) << down[kTerm];
  EXPECT_EQ(Text(down[kRevision]), kDash) << down[kRevision];
  EXPECT_EQ(Text(down[kDbSize]), kDash) << down[kDbSize];
  std::vector<std::string> up = MemberCells("etcd-1");
  ASSERT_EQ(up.size(), 17u) << *dom_;
  EXPECT_EQ(Text(up[kTerm]), "7");
  EXPECT_EQ(Text(up[kRevision]), "1234");
  // wal fsync has no p50 (etcd's histogram buckets do not resolve it): unknown too.
  const std::string wal = Element(*dom_, "<tr><th scope=\"row\">wal fsync</th>", "</tr>");
  ASSERT_FALSE(wal.empty()) << *dom_;
  EXPECT_EQ(Text(Cells(wal)[0]), kDash) << wal;  // p50
}

TEST_F(DashboardBrowserTest, SizesAreInBinaryUnitsWithTheBytesInTheTitle) {
  std::vector<std::string> m1 = MemberCells("etcd-1");
  ASSERT_EQ(m1.size(), 17u) << *dom_;
  EXPECT_EQ(Text(m1[kDbSize]), "7.2 MiB");
  EXPECT_NE(m1[kDbSize].find("title=\"7581696 bytes\""), std::string::npos) << m1[kDbSize];
  std::vector<std::string> m2 = MemberCells("etcd-2");
  ASSERT_EQ(m2.size(), 17u) << *dom_;
  EXPECT_EQ(Text(m2[kDbSize]), "1.5 GiB");
  EXPECT_EQ(Text(*dom_).find("7581696"), std::string::npos) << "a raw byte count is shown";
}

TEST_F(DashboardBrowserTest, DegradedClusterIsShownDegradedNotGreen) {
  const std::string card = Element(*dom_, "<span class=\"state", "</span>");
  ASSERT_FALSE(card.empty()) << *dom_;
  EXPECT_NE(card.find("data-state=\"degraded\""), std::string::npos) << card;
  EXPECT_NE(card.find("class=\"state warn\""), std::string::npos) << card;
  EXPECT_NE(Text(card).find("degraded"), std::string::npos) << card;
  // Not by colour alone: a symbol goes with the word.
  EXPECT_NE(Text(card).find("\u26a0"), std::string::npos) << card;
  EXPECT_EQ(card.find("\"ok\""), std::string::npos) << card;
  EXPECT_EQ(Text(*dom_).find("healthy: true"), std::string::npos) << "the old green card is shown";
  const std::string status = Element(*dom_, "<div class=\"cards\" id=\"status\"", "</div>");
  EXPECT_NE(Text(status).find("2/3 healthy"), std::string::npos) << status;
}

TEST_F(DashboardBrowserTest, StaleFiguresAreMarkedWithTheirTime) {
  std::vector<std::string> down = MemberCells("etcd-3");
  ASSERT_EQ(down.size(), 17u) << *dom_;
  const std::string as_of = std::string("as of ") + kLastAnsweredText;
  // The marker, where the member's health is.
  EXPECT_NE(down[kHealth].find("class=\"tag stale\""), std::string::npos) << down[kHealth];
  EXPECT_NE(Text(down[kHealth]).find("stale"), std::string::npos) << down[kHealth];
  EXPECT_NE(down[kHealth].find(as_of), std::string::npos) << down[kHealth];
  // The last latency figures it reported, greyed, with their time.
  for (int column : {kReadP99, kWriteP99}) {
    EXPECT_NE(down[column].find("class=\"num stale\""), std::string::npos) << down[column];
    EXPECT_NE(down[column].find(as_of), std::string::npos) << down[column];
    EXPECT_EQ(Text(down[column]), "2.5");
  }
  // Fresh members carry no marker.
  const std::string fresh = MemberRow("etcd-1");
  ASSERT_FALSE(fresh.empty()) << *dom_;
  EXPECT_EQ(fresh.find("stale"), std::string::npos) << fresh;
}

TEST_F(DashboardBrowserTest, FiringAndPendingAlertsAreListedApart) {
  const std::string firing_table = Element(*dom_, "<table id=\"alerts\">", "</table>");
  ASSERT_FALSE(firing_table.empty()) << *dom_;
  EXPECT_NE(firing_table.find("MemberUnavailable"), std::string::npos) << firing_table;
  EXPECT_EQ(firing_table.find("HighFsyncLatency"), std::string::npos) << firing_table;
  const std::string firing = Element(firing_table, "<tr class=\"firing\"", "</tr>");
  ASSERT_FALSE(firing.empty()) << firing_table;
  EXPECT_NE(Text(Cells(firing)[0]).find("firing"), std::string::npos) << firing;

  const std::string pending_table = Element(*dom_, "<table id=\"pending\">", "</table>");
  ASSERT_FALSE(pending_table.empty()) << *dom_;
  EXPECT_EQ(pending_table.find("MemberUnavailable"), std::string::npos) << pending_table;
  const std::string pending = Element(pending_table, "<tr class=\"pending\"", "</tr>");
  ASSERT_FALSE(pending.empty()) << pending_table;
  EXPECT_NE(pending.find("HighFsyncLatency"), std::string::npos) << pending;
  EXPECT_EQ(Text(Cells(pending)[0]).find("firing"), std::string::npos) << pending;
  EXPECT_NE(Text(Cells(pending)[0]).find("pending"), std::string::npos) << pending;
  EXPECT_NE(dom_->find("<span id=\"pending-count\">1</span>"), std::string::npos);
  EXPECT_NE(
      Text(Element(*dom_, "<small id=\"alert-counts\">", "</small>")).find("1 firing, 1 pending"),
      std::string::npos);
}

TEST_F(DashboardBrowserTest, SeverityIsAWordAndASymbolNotOnlyAColour) {
  const std::string firing =
      Element(Element(*dom_, "<table id=\"alerts\">", "</table>"), "<tr class=\"firing\"", "</tr>");
  const std::string cell = Cells(firing)[1];
  EXPECT_NE(Text(cell).find("critical"), std::string::npos) << cell;
  EXPECT_NE(Text(cell).find("\u2716"), std::string::npos) << cell;
}

// One cluster: no picker, no fleet table (the page is as it was before clusters had names).
TEST_F(DashboardBrowserTest, OneClusterShowsNoPickerAndNoFleet) {
  const std::string picker = Element(*dom_, "<label id=\"cluster-picker-label\"", ">");
  ASSERT_FALSE(picker.empty()) << *dom_;
  EXPECT_NE(picker.find("hidden"), std::string::npos) << picker;
  const std::string fleet = Element(*dom_, "<section id=\"fleet-section\"", ">");
  ASSERT_FALSE(fleet.empty()) << *dom_;
  EXPECT_NE(fleet.find("hidden"), std::string::npos) << fleet;
}

TEST_F(DashboardBrowserTest, EveryLoadCompletesARefresh) {
  // body[data-refreshes] is how a browser test knows the script finished (issue #18 builds on it).
  EXPECT_NE(dom_->find("<body data-refreshes=\""), std::string::npos) << *dom_;
}

// A second cluster for the fleet: no quorum (worse than prod's degraded), its own members.
v1::ClusterSnapshot StagingSnapshot() {
  v1::ClusterSnapshot s = DegradedSnapshot();
  s.set_cluster("staging");
  s.set_cluster_id(0xdef);
  s.set_state(v1::CLUSTER_NO_QUORUM);
  s.set_degraded(false);
  s.set_healthy(false);
  s.set_quorum_ok(false);
  s.set_healthy_members(1);
  s.set_health_reason("2 of 3 members unreachable");
  for (int i = 0; i < s.members_size(); ++i) {
    s.mutable_members(i)->set_name("stage-" + std::to_string(i + 1));
  }
  return s;
}

// A benchmark runner with no runs, so that the page's benchmark section answers 200.
class IdleRunner final : public BenchmarkBackend {
 public:
  Result<std::string> Start(const BenchmarkSpec&) override {
    return Status::Unavailable("no runs in this test");
  }
  Result<std::string> Get(const std::string& id) override {
    return Status::NotFound("unknown benchmark " + id);
  }
  Result<std::string> List() override { return std::string(R"({"runs":[]})"); }
  std::optional<v1::BenchmarkSummary> LastFinished() override { return std::nullopt; }
};

// Two clusters: fleet.test.mjs drives the page in chromium (puppeteer-core): the worst cluster
// chosen, the fleet table in order, the picker switching the member table, no console error and
// no answer >= 400.
TEST(FleetDashboardBrowserTest, PicksTheWorstClusterListsTheFleetAndSwitches) {
  FakeMonitor monitor({DegradedSnapshot(), StagingSnapshot()});
  FakeAlerts alerts;
  IdleRunner prod_runner;
  IdleRunner staging_runner;
  // The consistency check's etcd clients: no member answers (a verdict of "unknown", 200).
  testing::FakeEtcdClient prod_etcd({"p:1"});
  testing::FakeEtcdClient staging_etcd({"s:1"});
  GatewayConfig config;
  config.host = "127.0.0.1";
  config.port = 0;
  config.refresh_interval = std::chrono::milliseconds(50);
  config.stale_after = std::chrono::hours(24 * 365 * 100);  // the fixed 2024 snapshots are fresh
  GatewayBackends backends;
  backends.monitor = &monitor;
  backends.alerts = &alerts;
  backends.etcd_clusters["prod"] = {&prod_runner, &prod_etcd};
  backends.etcd_clusters["staging"] = {&staging_runner, &staging_etcd};
  auto logger = spdlog::default_logger()->clone("fleet-browser-test");
  logger->set_level(spdlog::level::warn);
  auto service = GatewayService::Create(config, backends, logger);
  ASSERT_TRUE(service.ok()) << service.status().ToString();
  ASSERT_TRUE((*service)->Start().ok());
  const std::string base = "http://127.0.0.1:" + std::to_string((*service)->port());
  ASSERT_TRUE(WaitFor([&] {
    const nlohmann::json list = Http("GET", base + "/api/v1/clusters").Json();
    return list.is_object() && list.value("count", 0) == 2;
  }));
  testing::TempDir dir;
  const std::string driver_log = dir.File("fleet.test.log");
  Result<std::string> run = testing::RunCommand(
      {ETCDMON_NODE, std::string(ETCDMON_SOURCE_DIR) + "/tests/browser/fleet.test.mjs"}, driver_log,
      std::chrono::seconds(120), {"CONSOLE_URL=" + base + "/"});
  EXPECT_TRUE(run.ok()) << run.status().message();
  // The driver's checks, passed or not, in the test's output.
  std::cout << testing::ReadWholeFile(driver_log);
  (*service)->Stop();
}

}  // namespace
}  // namespace etcdmon::gateway
