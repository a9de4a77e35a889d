// The collector's Sampler against real etcd: a 3-member cluster (the sampled fields equal what
// etcdctl and the member's own /metrics say, probes, alarms, a killed and restarted member) and
// a 1-member TLS cluster (the served certificate). Each cluster is started once per suite.

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "etcdmon/collector/sampler.h"
#include "etcdmon/etcd/client.h"
#include "etcdmon/etcd/gateway_client.h"
#include "etcdmon/http/fetcher.h"
#include "etcdmon/promtext/parser.h"
#include "etcdmon/testing/etcd_cluster.h"
#include "etcdmon/testing/etcd_cluster_suite.h"
#include "etcdmon/testing/temp_dir.h"
#include "etcdmonitor/v1/samples.pb.h"

namespace etcdmon::collector {
namespace {

namespace v1 = etcdmonitor::v1;
using json = nlohmann::json;
using std::chrono::milliseconds;
using testing::EtcdCluster;
using testing::EtcdClusterOptions;

constexpr milliseconds kDialTimeout{1000};

std::string ErrorSources(const v1::MemberSample& s) {
  std::string out;
  for (const v1::SampleError& e : s.errors()) {
    out += e.source() + "=" + e.message() + "\n";
  }
  return out;
}

const v1::ScalarMetric* FindScalar(const v1::MemberSample& s, std::string_view name) {
  for (const v1::ScalarMetric& m : s.scalars()) {
    if (m.name() == name) {
      return &m;
    }
  }
  return nullptr;
}

// The first sample of a family on a directly fetched page, or null.
const promtext::Sample* FirstSample(const promtext::ParseResult& page, std::string_view name) {
  const promtext::MetricFamily* f = page.FindFamily(name);
  return f == nullptr || f->samples.empty() ? nullptr : &f->samples.front();
}

// Histogram series label (other than le) -> upper bounds, from a sample or a direct page.
using Layouts = std::map<std::string, std::vector<double>>;

Layouts SampleLayouts(const v1::MemberSample& s, std::string_view name) {
  Layouts out;
  for (const v1::HistogramMetric& h : s.histograms()) {
    if (h.name() != name) {
      continue;
    }
    std::string key;
    for (const v1::Label& l : h.labels()) {
      key += l.name() + "=" + l.value() + ",";
    }
    for (const v1::HistogramMetric::Bucket& b : h.buckets()) {
      out[key].push_back(b.upper_bound());
    }
  }
  return out;
}

Layouts PageLayouts(const promtext::ParseResult& page, std::string_view name) {
  Layouts out;
  const promtext::MetricFamily* family = page.FindFamily(name);
  if (family == nullptr) {
    return out;
  }
  auto series = promtext::HistogramView(*family);
  EXPECT_TRUE(series.ok()) << series.status().ToString();
  if (!series.ok()) {
    return out;
  }
  for (const promtext::HistogramSeries& h : *series) {
    std::string key;
    for (const auto& [label, value] : h.labels) {
      key += label + "=" + value + ",";
    }
    for (const histogram::Bucket& b : h.buckets) {
      out[key].push_back(b.upper_bound);
    }
  }
  return out;
}

// The real dependencies of one sampler, against one cluster.
class RealSources {
 public:
  explicit RealSources(const config::EtcdConnectionConfig& connection) {
    // The client the collector agent uses (service.cpp).
    auto client = etcd::NewGatewayEtcdClient(connection);
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    if (client.ok()) {
      client_ = std::move(client).value();
    }
    http::FetcherOptions fetch;
    fetch.timeout = milliseconds(2000);
    fetch.connect_timeout = kDialTimeout;
    auto metrics = NewHttpMetricsSource(fetch);
    EXPECT_TRUE(metrics.ok()) << metrics.status().ToString();
    if (metrics.ok()) {
      metrics_ = std::move(metrics).value();
    }
    host_ = NewHostProbe();
    CertificateProbeOptions cert;
    cert.timeout = kDialTimeout;
    cert.tls = connection.tls;
    auto probe = NewCertificateProbe(cert);
    EXPECT_TRUE(probe.ok()) << probe.status().ToString();
    if (probe.ok()) {
      certificate_ = std::move(probe).value();
    }
  }

  bool ok() const { return client_ && metrics_ && certificate_; }
  etcd::EtcdClient& client() { return *client_; }

  std::unique_ptr<Sampler> MakeSampler(SamplerConfig config) {
    auto sampler = Sampler::Create(std::move(config), *client_, *metrics_, *host_, *certificate_,
                                   SystemClock::Instance());
    EXPECT_TRUE(sampler.ok()) << sampler.status().ToString();
    return sampler.ok() ? std::move(sampler).value() : nullptr;
  }

 private:
  std::unique_ptr<etcd::EtcdClient> client_;
  std::unique_ptr<MetricsSource> metrics_;
  std::unique_ptr<HostProbe> host_;
  std::unique_ptr<CertificateProbe> certificate_;
};

config::EtcdConnectionConfig FastConnection(const EtcdCluster& cluster) {
  config::EtcdConnectionConfig c = cluster.ConnectionConfig();
  c.dial_timeout = kDialTimeout;
  c.request_timeout = milliseconds(3000);
  return c;
}

SamplerConfig MemberConfig(const EtcdCluster& cluster, size_t i, bool write_probe) {
  const config::EtcdConnectionConfig connection = cluster.ConnectionConfig();
  SamplerConfig config;
  config.endpoint = connection.endpoints[i];
  config.tls = connection.UsesTls(config.endpoint);
  config.metrics_url = cluster.MetricsUrl(i);  // the plain metrics listener
  config.data_dir = cluster.DataDir(i);
  config.write_probe = write_probe;
  return config;
}

// ---- a 3-member cluster ----

// The fixtures that sample a real cluster: the suite's cluster and the real sources on it.
template <typename Suite>
class SamplerSuite : public testing::EtcdClusterSuite<Suite> {
 protected:
  using ClusterSuite = testing::EtcdClusterSuite<Suite>;

  void SetUp() override {
    ClusterSuite::SetUp();
    if (this->HasFatalFailure()) {
      return;
    }
    sources_ = std::make_unique<RealSources>(FastConnection(ClusterSuite::cluster()));
    ASSERT_TRUE(sources_->ok());
  }

  std::unique_ptr<Sampler> MakeSampler(size_t i, bool write_probe) {
    return sources_->MakeSampler(MemberConfig(ClusterSuite::cluster(), i, write_probe));
  }

  std::unique_ptr<RealSources> sources_;
};

class SamplerClusterTest : public SamplerSuite<SamplerClusterTest> {};

// The Status fields of each member's sample equal `etcdctl endpoint status -w json` for that
// member, read right after; raft index and revision may only have moved forward a little.
// Regular (not full) passes: they must not add raft entries of their own.
TEST_F(SamplerClusterTest, StatusFieldsEqualEtcdctl) {
  // A fresh cluster still commits a few entries of its own (member attributes, cluster
  // version); compare once the raft log has been quiet for a moment.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  uint64_t last_index = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    Result<etcd::EndpointStatus> status = sources_->client().GetStatus(cluster().ClientEndpoint(0));
    ASSERT_TRUE(status.ok()) << status.status().ToString();
    if (status->raft_index == last_index) {
      break;
    }
    last_index = status->raft_index;
    std::this_thread::sleep_for(milliseconds(300));
  }

  std::vector<v1::MemberSample> samples(cluster().size());
  for (size_t i = 0; i < cluster().size(); ++i) {
    auto sampler = MakeSampler(i, /*write_probe=*/false);
    ASSERT_NE(sampler, nullptr);
    sampler->Collect(/*full=*/false, samples[i]);
  }
  Result<std::string> text = cluster().Etcdctl({"endpoint", "status", "-w", "json"});
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  const json theirs = json::parse(*text);
  ASSERT_EQ(theirs.size(), cluster().size());

  int leaders = 0;
  for (size_t i = 0; i < cluster().size(); ++i) {
    SCOPED_TRACE(cluster().Name(i));
    const v1::MemberSample& s = samples[i];
    ASSERT_TRUE(s.reachable()) << s.error();
    ASSERT_TRUE(s.has_status()) << ErrorSources(s);
    EXPECT_EQ(s.errors_size(), 0) << ErrorSources(s);
    const json* entry = nullptr;
    for (const json& e : theirs) {
      if (e["Endpoint"] == cluster().ClientUrl(i)) {
        entry = &e;
      }
    }
    ASSERT_NE(entry, nullptr) << *text;
    const json& st = (*entry)["Status"];
    const v1::MemberStatus& ours = s.status();
    EXPECT_EQ(ours.cluster_id(), st["header"]["cluster_id"].get<uint64_t>());
    EXPECT_EQ(ours.member_id(), st["header"]["member_id"].get<uint64_t>());
    EXPECT_EQ(s.member_id(), ours.member_id());
    EXPECT_EQ(ours.leader_id(), st["leader"].get<uint64_t>());
    EXPECT_EQ(ours.raft_term(), st["raftTerm"].get<uint64_t>());
    EXPECT_EQ(ours.version(), st["version"].get<std::string>());
    EXPECT_EQ(ours.db_size(), st["dbSize"].get<int64_t>());
    EXPECT_EQ(ours.db_size_in_use(), st["dbSizeInUse"].get<int64_t>());
    EXPECT_EQ(ours.is_learner(), st.value("isLearner", false));
    EXPECT_EQ(ours.errors_size(), static_cast<int>(st.value("errors", json::array()).size()));
    const uint64_t index = st["raftIndex"].get<uint64_t>();
    const uint64_t applied = st["raftAppliedIndex"].get<uint64_t>();
    const int64_t revision = st["header"]["revision"].get<int64_t>();
    EXPECT_LE(ours.raft_index(), index);
    EXPECT_LE(index - ours.raft_index(), 5u);
    EXPECT_LE(ours.raft_applied_index(), applied);
    EXPECT_LE(applied - ours.raft_applied_index(), 5u);
    EXPECT_LE(ours.revision(), revision);
    EXPECT_LE(revision - ours.revision(), 5);
    leaders += ours.member_id() == ours.leader_id() ? 1 : 0;
  }
  EXPECT_EQ(leaders, 1);
}

// What the sample took from /metrics equals a direct fetch of the member's page: values that
// do not move, histogram bucket layouts, and which shipped families exist at all.
TEST_F(SamplerClusterTest, MetricsEqualTheMembersOwnPage) {
  auto fetcher = http::HttpFetcher::Create(http::FetcherOptions{});
  ASSERT_TRUE(fetcher.ok()) << fetcher.status().ToString();
  for (size_t i = 0; i < cluster().size(); ++i) {
    SCOPED_TRACE(cluster().Name(i));
    auto sampler = MakeSampler(i, /*write_probe=*/false);
    ASSERT_NE(sampler, nullptr);
    v1::MemberSample s;
    sampler->Collect(false, s);
    EXPECT_EQ(s.errors_size(), 0) << ErrorSources(s);

    Result<http::HttpResponse> response = (*fetcher)->Get(cluster().MetricsUrl(i));
    ASSERT_TRUE(response.ok()) << response.status().ToString();
    promtext::ParseResult page;
    ASSERT_TRUE(promtext::Parse(response->body, page).ok());

    for (const char* name : {"etcd_server_has_leader", "etcd_server_is_leader",
                             "etcd_server_is_learner", "etcd_server_quota_backend_bytes"}) {
      const v1::ScalarMetric* ours = FindScalar(s, name);
      const promtext::Sample* theirs = FirstSample(page, name);
      ASSERT_NE(theirs, nullptr) << name;
      ASSERT_NE(ours, nullptr) << name;
      EXPECT_EQ(ours->value(), theirs->value) << name;
    }
    // Counters only grow between our fetch and the direct one.
    for (const char* name :
         {"etcd_server_proposals_committed_total", "etcd_server_leader_changes_seen_total",
          "process_cpu_seconds_total"}) {
      const v1::ScalarMetric* ours = FindScalar(s, name);
      const promtext::Sample* theirs = FirstSample(page, name);
      ASSERT_NE(theirs, nullptr) << name;
      ASSERT_NE(ours, nullptr) << name;
      EXPECT_LE(ours->value(), theirs->value) << name;
    }
    for (const char* name :
         {"etcd_disk_wal_fsync_duration_seconds", "etcd_disk_backend_commit_duration_seconds"}) {
      const Layouts ours = SampleLayouts(s, name);
      EXPECT_FALSE(ours.empty()) << name;
      EXPECT_EQ(ours, PageLayouts(page, name)) << name;
    }
    // Peer round trips are measured every few seconds: the family may not exist yet on a
    // fresh cluster, but when it does, both sides have one series per peer.
    EXPECT_EQ(SampleLayouts(s, "etcd_network_peer_round_trip_time_seconds"),
              PageLayouts(page, "etcd_network_peer_round_trip_time_seconds"));
    // Present on the page <=> present in the sample (this cluster runs without
    // --metrics=extensive, so grpc_server_handling_seconds is absent from both).
    for (std::string_view name : Sampler::FamilyNames()) {
      if (name == "process_open_fds") {
        continue;
      }
      const bool in_sample = FindScalar(s, name) != nullptr || !SampleLayouts(s, name).empty();
      EXPECT_EQ(in_sample, page.FindFamily(name) != nullptr) << name;
    }
    EXPECT_GT(s.host().open_fds(), 0);
  }
}

// The three probes succeed against a healthy member, each with a measured latency; the write
// probe keeps exactly one key per member under the reserved prefix.
TEST_F(SamplerClusterTest, ProbesSucceedAndKeepOneKeyPerMember) {
  std::vector<std::unique_ptr<Sampler>> samplers;
  v1::MemberSample s;
  for (size_t i = 0; i < cluster().size(); ++i) {
    samplers.push_back(MakeSampler(i, /*write_probe=*/true));
    ASSERT_NE(samplers.back(), nullptr);
  }
  for (int round = 0; round < 3; ++round) {
    for (size_t i = 0; i < cluster().size(); ++i) {
      SCOPED_TRACE(cluster().Name(i));
      samplers[i]->Collect(round == 0, s);
      EXPECT_EQ(s.errors_size(), 0) << ErrorSources(s);
      ASSERT_EQ(s.probes_size(), 3);
      for (const v1::Probe& p : s.probes()) {
        EXPECT_TRUE(p.ok()) << p.kind() << ": " << p.error();
        EXPECT_GT(p.latency_us(), 0u) << p.kind();
        EXPECT_LT(p.latency_us(), 3000000u) << p.kind();
      }
      EXPECT_EQ(samplers[i]->probe_key(), "/etcd-monitor/probe/" + cluster().Name(i));
    }
  }

  etcd::RangeRequest all;
  all.key = std::string(kDefaultProbePrefix);
  all.range_end = etcd::PrefixRangeEnd(all.key);
  Result<etcd::RangeResult> keys = sources_->client().Range(cluster().ClientEndpoint(0), all);
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  std::set<std::string> names;
  for (const etcd::KeyValue& kv : keys->kvs) {
    names.insert(kv.key);
    EXPECT_FALSE(kv.value.empty());
  }
  EXPECT_EQ(names, (std::set<std::string>{"/etcd-monitor/probe/etcd0", "/etcd-monitor/probe/etcd1",
                                          "/etcd-monitor/probe/etcd2"}));
}

// A full pass names the member, lists the cluster, reads /health and the host's figures.
TEST_F(SamplerClusterTest, FullPassNamesMemberAndReadsHealthAndHost) {
  auto sampler = MakeSampler(1, /*write_probe=*/true);
  ASSERT_NE(sampler, nullptr);
  v1::MemberSample s;
  sampler->Collect(true, s);
  EXPECT_EQ(s.errors_size(), 0) << ErrorSources(s);
  EXPECT_TRUE(s.full());
  EXPECT_EQ(s.member_name(), "etcd1");
  EXPECT_EQ(s.endpoint(), cluster().ClientEndpoint(1));
  ASSERT_EQ(s.members_size(), 3);
  std::set<std::string> names;
  for (const v1::MemberInfo& m : s.members()) {
    names.insert(m.name());
    EXPECT_EQ(m.client_urls_size(), 1);
    EXPECT_FALSE(m.is_learner());
  }
  EXPECT_EQ(names, (std::set<std::string>{"etcd0", "etcd1", "etcd2"}));
  EXPECT_TRUE(s.health_ok()) << s.health_reason();
  EXPECT_GT(s.host().disk_total_bytes(), 0u);
  EXPECT_GT(s.host().disk_used_bytes(), 0u);
  EXPECT_GT(s.host().memory_total_bytes(), 0u);
  EXPECT_GT(s.host().memory_available_bytes(), 0u);
  const auto now_ms =
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  EXPECT_LE(s.collected_at_unix_ms(), now_ms);
  EXPECT_GT(s.collected_at_unix_ms(), now_ms - 10000);
}

// An active NOSPACE alarm shows in the sample's alarms and status errors, turns /health false
// with a reason, and refuses the write probe; once cleared, all is well again.
TEST_F(SamplerClusterTest, AlarmShowsInSample) {
  auto sampler = MakeSampler(1, /*write_probe=*/true);
  ASSERT_NE(sampler, nullptr);
  v1::MemberSample s;
  sampler->Collect(true, s);
  ASSERT_TRUE(s.has_status());
  Result<etcd::EndpointStatus> status0 = sources_->client().GetStatus(cluster().ClientEndpoint(0));
  ASSERT_TRUE(status0.ok()) << status0.status().ToString();
  const etcd::Alarm alarm{status0->member_id, etcd::AlarmType::kNoSpace};
  auto raised =
      sources_->client().Alarms(cluster().ClientEndpoint(0), etcd::AlarmAction::kActivate, alarm);
  ASSERT_TRUE(raised.ok()) << raised.status().ToString();

  sampler->Collect(true, s);
  // Clear first, so that a failed expectation leaves the cluster usable for the next tests.
  auto cleared =
      sources_->client().Alarms(cluster().ClientEndpoint(0), etcd::AlarmAction::kDeactivate, alarm);
  ASSERT_TRUE(cleared.ok()) << cleared.status().ToString();

  ASSERT_EQ(s.alarms_size(), 1) << ErrorSources(s);
  EXPECT_EQ(s.alarms(0).type(), "NOSPACE");
  EXPECT_EQ(s.alarms(0).member_id(), status0->member_id);
  EXPECT_FALSE(s.health_ok());
  EXPECT_FALSE(s.health_reason().empty());
  ASSERT_NE(s.errors_size(), 0);
  bool write_refused = false;
  for (const v1::SampleError& e : s.errors()) {
    write_refused = write_refused || e.source() == "probe_write";
  }
  EXPECT_TRUE(write_refused) << ErrorSources(s);

  sampler->Collect(true, s);
  EXPECT_EQ(s.alarms_size(), 0);
  EXPECT_TRUE(s.health_ok()) << s.health_reason();
  EXPECT_EQ(s.errors_size(), 0) << ErrorSources(s);
}

// A killed member: the next sample says unreachable within the dial timeout; once restarted,
// samples resume with the member's identity. (Runs last: it takes a member down.)
TEST_F(SamplerClusterTest, KilledMemberIsUnreachableThenResumes) {
  auto sampler = MakeSampler(2, /*write_probe=*/true);
  ASSERT_NE(sampler, nullptr);
  v1::MemberSample s;
  sampler->Collect(true, s);
  ASSERT_TRUE(s.reachable()) << s.error();
  const uint64_t id = s.member_id();

  ASSERT_TRUE(cluster().Kill(2).ok());
  const auto start = std::chrono::steady_clock::now();
  sampler->Collect(false, s);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(s.reachable());
  EXPECT_FALSE(s.error().empty());
  EXPECT_LT(elapsed, kDialTimeout + milliseconds(500));
  EXPECT_EQ(s.member_id(), id);
  EXPECT_EQ(s.member_name(), "etcd2");
  bool metrics_failed = false;
  for (const v1::SampleError& e : s.errors()) {
    metrics_failed = metrics_failed || e.source() == "metrics";
  }
  EXPECT_TRUE(metrics_failed) << ErrorSources(s);  // the whole process is gone
  EXPECT_GT(s.host().memory_total_bytes(), 0u);    // the host is still there

  ASSERT_TRUE(cluster().Restart(2).ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  do {
    sampler->Collect(false, s);
  } while ((!s.reachable() || s.errors_size() > 0) && std::chrono::steady_clock::now() < deadline);
  EXPECT_TRUE(s.reachable()) << s.error();
  EXPECT_EQ(s.errors_size(), 0) << ErrorSources(s);
  EXPECT_EQ(s.member_id(), id);
  EXPECT_EQ(s.probes_size(), 3);
  EXPECT_GE(sampler->stats().unreachable_total, 1u);
}

// ---- a 3-member cluster whose leader is briefly stopped ----

// The write probe and etcd_server_proposals_failed_total: the leader is stopped (SIGSTOP) for
// less than an election timeout, so a follower's Put waits for it and the probe times out; the
// leader then continues and the Put commits. Elections are slow here so that none happens.
class SamplerProposalTest : public SamplerSuite<SamplerProposalTest> {
 public:
  static EtcdClusterOptions ClusterOptions() {
    EtcdClusterOptions options;
    options.heartbeat_interval_ms = 100;
    options.election_timeout_ms = 5000;
    return options;
  }

 protected:
  void SetUp() override {
    SamplerSuite::SetUp();
    if (HasFatalFailure()) {
      return;
    }
    leader_ = cluster().size();
    for (size_t i = 0; i < cluster().size(); ++i) {
      Result<etcd::EndpointStatus> status =
          sources_->client().GetStatus(cluster().ClientEndpoint(i));
      ASSERT_TRUE(status.ok()) << status.status().ToString();
      if (status->IsLeader()) {
        leader_ = i;
      }
    }
    ASSERT_LT(leader_, cluster().size());
    follower_ = (leader_ + 1) % cluster().size();
  }

  void TearDown() override {
    EXPECT_TRUE(cluster().Resume(leader_).ok());  // always: a stopped leader hangs the suite
    sampler_.reset();  // joins its lanes, whose calls the leader's return lets finish
    sources_.reset();
  }

  // A metric of the follower, read from its own page.
  double FollowerMetric(std::string_view metric) {
    auto fetcher = http::HttpFetcher::Create(http::FetcherOptions{});
    EXPECT_TRUE(fetcher.ok());
    Result<http::HttpResponse> response = (*fetcher)->Get(cluster().MetricsUrl(follower_));
    EXPECT_TRUE(response.ok()) << response.status().ToString();
    promtext::ParseResult page;
    EXPECT_TRUE(response.ok() && promtext::Parse(response->body, page).ok());
    const promtext::Sample* sample = FirstSample(page, metric);
    EXPECT_NE(sample, nullptr) << metric;
    return sample == nullptr ? -1 : sample->value;
  }
  double ProposalsFailed() { return FollowerMetric("etcd_server_proposals_failed_total"); }

  // A sampler of the follower whose probes are judged at 100 ms; the first (full) pass learns
  // its name, with the leader still up.
  void StartSampler(milliseconds write_request_timeout) {
    SamplerConfig config = MemberConfig(cluster(), follower_, /*write_probe=*/true);
    config.probe_timeout = milliseconds(100);
    config.round_timeout = milliseconds(1500);
    config.write_request_timeout = write_request_timeout;
    sampler_ = sources_->MakeSampler(config);
    ASSERT_NE(sampler_, nullptr);
    v1::MemberSample s;
    sampler_->Collect(true, s);
    ASSERT_TRUE(s.reachable()) << s.error();
    ASSERT_FALSE(sampler_->probe_key().empty());
  }

  // One round while the leader is stopped: the write probe times out. Then the leader goes on.
  void WriteProbeTimesOutWhileTheLeaderIsStopped() {
    ASSERT_TRUE(cluster().Pause(leader_).ok());
    v1::MemberSample s;
    sampler_->Collect(false, s);
    ASSERT_TRUE(cluster().Resume(leader_).ok());
    EXPECT_TRUE(s.reachable()) << s.error();
    const v1::SampleError* write = nullptr;
    for (const v1::SampleError& e : s.errors()) {
      write = e.source() == "probe_write" ? &e : write;
    }
    ASSERT_NE(write, nullptr) << ErrorSources(s);
    EXPECT_NE(write->message().find("timed out"), std::string::npos) << write->message();
  }

  // Samples until the write probe succeeds again (the stopped one's Put has returned), then
  // until the follower has no proposal pending.
  void WaitUntilSettled() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    v1::MemberSample s;
    bool written = false;
    while (!written && std::chrono::steady_clock::now() < deadline) {
      sampler_->Collect(false, s);
      for (const v1::Probe& p : s.probes()) {
        written = written || (p.kind() == v1::Probe::WRITE && p.ok());
      }
    }
    EXPECT_TRUE(written) << ErrorSources(s);
    EXPECT_TRUE(testing::WaitFor(
        [&] { return FollowerMetric("etcd_server_proposals_pending") == 0; }, milliseconds(10000)));
  }

  std::unique_ptr<Sampler> sampler_;
  size_t leader_ = 0;
  size_t follower_ = 0;
};

// Why the write probe's request outlives its verdict: a Put its client stops waiting for is a
// proposal etcd counts as failed, though etcd itself would have committed it.
TEST_F(SamplerProposalTest, PutCancelledByTheClientCountsAsAFailedProposal) {
  StartSampler(/*write_request_timeout=*/milliseconds(100));  // cancelled when judged
  const double before = ProposalsFailed();
  WriteProbeTimesOutWhileTheLeaderIsStopped();
  WaitUntilSettled();
  EXPECT_GE(ProposalsFailed() - before, 1);
}

// The collector's write probe timing out does not raise the member's failed proposals: its Put
// is left to etcd, which commits it once the leader goes on.
TEST_F(SamplerProposalTest, TimedOutWriteProbeIsNoFailedProposal) {
  StartSampler(SamplerConfig{}.write_request_timeout);
  const double before = ProposalsFailed();
  WriteProbeTimesOutWhileTheLeaderIsStopped();
  WaitUntilSettled();
  EXPECT_EQ(ProposalsFailed() - before, 0);
}

// ---- a 1-member TLS cluster ----

// Runs a command, returns its standard output.
std::string RunCommand(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return out;
  }
  char buffer[512];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) {
    out.append(buffer, n);
  }
  pclose(pipe);
  return out;
}

// The certificate as `openssl x509` sees it: RFC 2253 subject, notAfter as Unix seconds.
void OpensslView(const std::string& cert, std::string& subject, int64_t& not_after) {
  subject = RunCommand("openssl x509 -noout -subject -nameopt RFC2253 -in " + cert);
  const std::string prefix = "subject=";
  ASSERT_EQ(subject.compare(0, prefix.size(), prefix), 0) << subject;
  subject = subject.substr(prefix.size());
  while (!subject.empty() && (subject.back() == '\n' || subject.back() == ' ')) {
    subject.pop_back();
  }
  const std::string end = RunCommand("openssl x509 -noout -enddate -dateopt iso_8601 -in " + cert);
  std::tm tm{};
  ASSERT_EQ(std::sscanf(end.c_str(), "notAfter=%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon,
                        &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec),
            6)
      << end;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  not_after = static_cast<int64_t>(timegm(&tm));
}

// One member serving clients over TLS, shared by the suite.
class SamplerTlsTest : public testing::EtcdClusterSuite<SamplerTlsTest> {
 public:
  static EtcdClusterOptions ClusterOptions() {
    EtcdClusterOptions options;
    options.members = 1;
    options.tls = true;
    return options;
  }
};

// A full pass over TLS reads the certificate the member serves: the subject and notAfter of
// the generated server certificate, as openssl reports them.
TEST_F(SamplerTlsTest, FullPassReadsServedCertificate) {
  RealSources sources(FastConnection(cluster()));
  ASSERT_TRUE(sources.ok());
  SamplerConfig config = MemberConfig(cluster(), 0, /*write_probe=*/true);
  ASSERT_TRUE(config.tls);
  config.read_certificate = true;
  auto sampler = sources.MakeSampler(config);
  ASSERT_NE(sampler, nullptr);
  v1::MemberSample s;
  sampler->Collect(true, s);

  EXPECT_TRUE(s.reachable()) << s.error();
  EXPECT_EQ(s.errors_size(), 0) << ErrorSources(s);
  EXPECT_EQ(s.probes_size(), 3);
  EXPECT_TRUE(s.health_ok());
  ASSERT_TRUE(s.has_certificate());

  std::string subject;
  int64_t not_after = 0;
  OpensslView(cluster().Certificates().server_cert, subject, not_after);
  EXPECT_EQ(s.certificate().subject(), subject);
  EXPECT_EQ(s.certificate().not_after_unix_seconds(), not_after);
  EXPECT_GT(not_after, std::time(nullptr));
}

// The certificate is readable without a client certificate and without trusting its CA,
// although the member demands client certificates.
TEST_F(SamplerTlsTest, CertificateProbeNeedsNoTrustOrClientCert) {
  CertificateProbeOptions options;
  options.timeout = kDialTimeout;
  auto probe = NewCertificateProbe(options);
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();
  Result<ServedCertificate> cert = (*probe)->Read("127.0.0.1", cluster().ClientPort(0));
  ASSERT_TRUE(cert.ok()) << cert.status().ToString();
  std::string subject;
  int64_t not_after = 0;
  OpensslView(cluster().Certificates().server_cert, subject, not_after);
  EXPECT_EQ(cert->subject, subject);
  EXPECT_EQ(cert->not_after_unix_seconds, not_after);
}

}  // namespace
}  // namespace etcdmon::collector
