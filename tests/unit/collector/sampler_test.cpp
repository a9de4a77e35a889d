#include "etcdmon/collector/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <condition_variable>
#include <future>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "allocation_counter.h"
#include "etcdmon/testing/fake_etcd_client.h"
#include "etcdmon/testing/forwarding_etcd_client.h"
#include "etcdmon/testing/http_server.h"
#include "etcdmon/testing/temp_dir.h"
#include "etcdmonitor/v1/samples.pb.h"
#include "fake_proc.h"
#include "fakes.h"

namespace etcdmon::collector {
namespace {

namespace v1 = etcdmonitor::v1;
using collector::testing::FakeCertificateProbe;
using collector::testing::FakeHostProbe;
using collector::testing::FakeMetricsSource;
using etcdmon::testing::FakeEtcdClient;
using etcdmon::testing::ForwardingEtcdClient;

constexpr char kEndpoint[] = "127.0.0.1:2379";
constexpr char kMetricsUrl[] = "http://127.0.0.1:2379/metrics";
constexpr char kHealthUrl[] = "http://127.0.0.1:2379/health";
constexpr uint64_t kClusterId = 0xc1;
constexpr uint64_t kMemberId = 0xa1;
constexpr uint64_t kOtherId = 0xb2;

// A member's page, cut down: every shipped family, zero-valued grpc series, a family that is
// not shipped (go_goroutines), and process_open_fds.
constexpr char kPage[] =
    R"(# HELP etcd_server_has_leader Whether or not a leader exists. 1 is existence, 0 is not.
# TYPE etcd_server_has_leader gauge
etcd_server_has_leader 1
# TYPE etcd_server_is_leader gauge
etcd_server_is_leader 1
# TYPE etcd_server_is_learner gauge
etcd_server_is_learner 0
# TYPE etcd_server_leader_changes_seen_total counter
etcd_server_leader_changes_seen_total 2
# TYPE etcd_server_proposals_committed_total gauge
etcd_server_proposals_committed_total 1234
# TYPE etcd_server_proposals_applied_total gauge
etcd_server_proposals_applied_total 1233
# TYPE etcd_server_proposals_failed_total counter
etcd_server_proposals_failed_total 0
# TYPE etcd_server_proposals_pending gauge
etcd_server_proposals_pending 0
# TYPE etcd_server_quota_backend_bytes gauge
etcd_server_quota_backend_bytes 2.147483648e+09
# TYPE etcd_mvcc_db_total_size_in_bytes gauge
etcd_mvcc_db_total_size_in_bytes 20480
# TYPE etcd_mvcc_db_total_size_in_use_in_bytes gauge
etcd_mvcc_db_total_size_in_use_in_bytes 16384
# TYPE etcd_debugging_mvcc_current_revision gauge
etcd_debugging_mvcc_current_revision 42
# TYPE etcd_server_slow_apply_total counter
etcd_server_slow_apply_total 3
# TYPE etcd_server_heartbeat_send_failures_total counter
etcd_server_heartbeat_send_failures_total 0
# TYPE etcd_network_peer_sent_failures_total counter
etcd_network_peer_sent_failures_total{To="b2"} 1
etcd_network_peer_sent_failures_total{To="c3"} 0
# TYPE etcd_disk_wal_fsync_duration_seconds histogram
etcd_disk_wal_fsync_duration_seconds_bucket{le="0.001"} 5
etcd_disk_wal_fsync_duration_seconds_bucket{le="0.002"} 7
etcd_disk_wal_fsync_duration_seconds_bucket{le="0.004"} 9
etcd_disk_wal_fsync_duration_seconds_bucket{le="+Inf"} 10
etcd_disk_wal_fsync_duration_seconds_sum 0.0125
etcd_disk_wal_fsync_duration_seconds_count 10
# TYPE etcd_disk_backend_commit_duration_seconds histogram
etcd_disk_backend_commit_duration_seconds_bucket{le="0.001"} 1
etcd_disk_backend_commit_duration_seconds_bucket{le="0.002"} 3
etcd_disk_backend_commit_duration_seconds_bucket{le="+Inf"} 4
etcd_disk_backend_commit_duration_seconds_sum 0.005
etcd_disk_backend_commit_duration_seconds_count 4
# TYPE etcd_network_peer_round_trip_time_seconds histogram
etcd_network_peer_round_trip_time_seconds_bucket{To="b2",le="0.0001"} 0
etcd_network_peer_round_trip_time_seconds_bucket{To="b2",le="0.0002"} 4
etcd_network_peer_round_trip_time_seconds_bucket{To="b2",le="+Inf"} 6
etcd_network_peer_round_trip_time_seconds_sum{To="b2"} 0.002
etcd_network_peer_round_trip_time_seconds_count{To="b2"} 6
etcd_network_peer_round_trip_time_seconds_bucket{To="c3",le="0.0001"} 1
etcd_network_peer_round_trip_time_seconds_bucket{To="c3",le="0.0002"} 2
etcd_network_peer_round_trip_time_seconds_bucket{To="c3",le="+Inf"} 2
etcd_network_peer_round_trip_time_seconds_sum{To="c3"} 0.0003
etcd_network_peer_round_trip_time_seconds_count{To="c3"} 2
# TYPE grpc_server_handled_total counter
grpc_server_handled_total{grpc_code="OK",grpc_method="Range",grpc_service="etcdserverpb.KV",grpc_type="unary"} 17
grpc_server_handled_total{grpc_code="Unavailable",grpc_method="Range",grpc_service="etcdserverpb.KV",grpc_type="unary"} 0
grpc_server_handled_total{grpc_code="OK",grpc_method="Put",grpc_service="etcdserverpb.KV",grpc_type="unary"} 5
grpc_server_handled_total{grpc_code="Canceled",grpc_method="Watch",grpc_service="etcdserverpb.Watch",grpc_type="bidi_stream"} 0
# TYPE grpc_server_handling_seconds histogram
grpc_server_handling_seconds_bucket{grpc_method="Range",grpc_service="etcdserverpb.KV",grpc_type="unary",le="0.005"} 16
grpc_server_handling_seconds_bucket{grpc_method="Range",grpc_service="etcdserverpb.KV",grpc_type="unary",le="+Inf"} 17
grpc_server_handling_seconds_sum{grpc_method="Range",grpc_service="etcdserverpb.KV",grpc_type="unary"} 0.01
grpc_server_handling_seconds_count{grpc_method="Range",grpc_service="etcdserverpb.KV",grpc_type="unary"} 17
grpc_server_handling_seconds_bucket{grpc_method="Put",grpc_service="etcdserverpb.KV",grpc_type="unary",le="0.005"} 0
grpc_server_handling_seconds_bucket{grpc_method="Put",grpc_service="etcdserverpb.KV",grpc_type="unary",le="+Inf"} 0
grpc_server_handling_seconds_sum{grpc_method="Put",grpc_service="etcdserverpb.KV",grpc_type="unary"} 0
grpc_server_handling_seconds_count{grpc_method="Put",grpc_service="etcdserverpb.KV",grpc_type="unary"} 0
# TYPE process_open_fds gauge
process_open_fds 27
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 4.5e+07
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 1.25
# TYPE go_goroutines gauge
go_goroutines 88
# TYPE etcd_server_version gauge
etcd_server_version{server_version="3.4.23"} 1
)";

// Scalars and histograms kPage yields: zero grpc series and unshipped families left out.
constexpr int kPageScalars = 20;
constexpr int kPageHistograms = 5;

etcd::EndpointStatus GoodStatus() {
  etcd::EndpointStatus s;
  s.endpoint = kEndpoint;
  s.cluster_id = kClusterId;
  s.member_id = kMemberId;
  s.leader = kMemberId;
  s.raft_term = 3;
  s.raft_index = 120;
  s.raft_applied_index = 119;
  s.revision = 42;
  s.db_size = 20480;
  s.db_size_in_use = 16384;
  s.version = "3.4.23";
  return s;
}

etcd::MemberListResult GoodMembers() {
  etcd::MemberListResult list;
  list.header.cluster_id = kClusterId;
  list.header.member_id = kMemberId;
  etcd::Member a;
  a.id = kMemberId;
  a.name = "etcd-a";
  a.peer_urls = {"http://127.0.0.1:2380"};
  a.client_urls = {"http://127.0.0.1:2379"};
  etcd::Member b;
  b.id = kOtherId;
  b.name = "etcd-b";
  b.peer_urls = {"http://127.0.0.1:22380"};
  b.client_urls = {"http://127.0.0.1:22379"};
  b.is_learner = true;
  list.members = {a, b};
  return list;
}

// The first metric of `metrics` (scalars or histograms) named `name` and, when `label` is given,
// carrying label=value.
template <typename Metric>
const Metric* FindMetric(const google::protobuf::RepeatedPtrField<Metric>& metrics,
                         std::string_view name, std::string_view label, std::string_view value) {
  for (const Metric& m : metrics) {
    if (m.name() != name) {
      continue;
    }
    if (label.empty()) {
      return &m;
    }
    for (const v1::Label& l : m.labels()) {
      if (l.name() == label && l.value() == value) {
        return &m;
      }
    }
  }
  return nullptr;
}

const v1::ScalarMetric* FindScalar(const v1::MemberSample& s, std::string_view name,
                                   std::string_view label = "", std::string_view value = "") {
  return FindMetric(s.scalars(), name, label, value);
}

const v1::HistogramMetric* FindHistogram(const v1::MemberSample& s, std::string_view name,
                                         std::string_view label = "", std::string_view value = "") {
  return FindMetric(s.histograms(), name, label, value);
}

const v1::SampleError* FindError(const v1::MemberSample& s, std::string_view source) {
  for (const v1::SampleError& e : s.errors()) {
    if (e.source() == source) {
      return &e;
    }
  }
  return nullptr;
}

const v1::Probe* FindProbe(const v1::MemberSample& s, v1::Probe::Kind kind) {
  for (const v1::Probe& p : s.probes()) {
    if (p.kind() == kind) {
      return &p;
    }
  }
  return nullptr;
}

std::string ErrorSources(const v1::MemberSample& s) {
  std::string out;
  for (const v1::SampleError& e : s.errors()) {
    out += e.source() + "=" + e.message() + "\n";
  }
  return out;
}

// Every histogram in a sample is usable by the aggregator: ascending bounds ending at +Inf.
void ExpectWellFormedHistograms(const v1::MemberSample& s) {
  for (const v1::HistogramMetric& h : s.histograms()) {
    ASSERT_GT(h.buckets_size(), 0) << h.name();
    EXPECT_TRUE(std::isinf(h.buckets(h.buckets_size() - 1).upper_bound())) << h.name();
    for (int i = 1; i < h.buckets_size(); ++i) {
      EXPECT_LT(h.buckets(i - 1).upper_bound(), h.buckets(i).upper_bound()) << h.name();
    }
  }
}

// Delegates to a FakeEtcdClient, advancing the fake clock inside each probe call, so that the
// probes' measured latencies are known.
class SlowEtcdClient final : public ForwardingEtcdClient {
 public:
  SlowEtcdClient(FakeEtcdClient& inner, FakeClock& clock)
      : ForwardingEtcdClient(inner), clock_(clock) {}

  Result<etcd::RangeResult> Range(const std::string& e, const etcd::RangeRequest& r) override {
    clock_.Advance(r.serializable ? std::chrono::microseconds(300)
                                  : std::chrono::microseconds(700));
    return ForwardingEtcdClient::Range(e, r);
  }
  Result<etcd::PutResult> Put(const std::string& e, const etcd::PutRequest& r) override {
    clock_.Advance(std::chrono::microseconds(2500));
    return ForwardingEtcdClient::Put(e, r);
  }

 private:
  FakeClock& clock_;
};

// Delegates to a FakeEtcdClient, except that the calls the test holds block, on every
// endpoint or on one, until released: a member (or a leader) that stopped answering.
// Released calls answer as the inner fake does.
class GatedEtcdClient final : public ForwardingEtcdClient {
 public:
  enum class Call { kStatus, kLinearizableRange, kPut, kAlarms };

  explicit GatedEtcdClient(FakeEtcdClient& inner) : ForwardingEtcdClient(inner) {}

  void Hold(Call call, std::string endpoint = "") {
    std::lock_guard<std::mutex> lock(mu_);
    held_.push_back({call, std::move(endpoint)});
  }
  void ReleaseAll() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      held_.clear();
    }
    cv_.notify_all();
  }
  /// Calls blocked right now.
  int blocked() const {
    std::lock_guard<std::mutex> lock(mu_);
    return blocked_;
  }
  /// Calls that blocked so far.
  int ever_blocked() const {
    std::lock_guard<std::mutex> lock(mu_);
    return ever_blocked_;
  }

  Result<etcd::EndpointStatus> GetStatus(const std::string& e) override {
    Gate(Call::kStatus, e);
    return ForwardingEtcdClient::GetStatus(e);
  }
  Result<std::vector<etcd::Alarm>> Alarms(const std::string& e, etcd::AlarmAction a,
                                          const etcd::Alarm& alarm) override {
    Gate(Call::kAlarms, e);
    return ForwardingEtcdClient::Alarms(e, a, alarm);
  }
  Result<etcd::RangeResult> Range(const std::string& e, const etcd::RangeRequest& r) override {
    if (!r.serializable) {
      Gate(Call::kLinearizableRange, e);
    }
    return ForwardingEtcdClient::Range(e, r);
  }
  Result<etcd::PutResult> Put(const std::string& e, const etcd::PutRequest& r) override {
    Gate(Call::kPut, e);
    return ForwardingEtcdClient::Put(e, r);
  }

 private:
  bool IsHeld(Call call, const std::string& endpoint) const {
    for (const auto& [c, e] : held_) {
      if (c == call && (e.empty() || e == endpoint)) {
        return true;
      }
    }
    return false;
  }
  void Gate(Call call, const std::string& endpoint) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!IsHeld(call, endpoint)) {
      return;
    }
    ++blocked_;
    ++ever_blocked_;
    cv_.wait(lock, [&] { return !IsHeld(call, endpoint); });
    --blocked_;
  }

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<Call, std::string>> held_;  // guarded by mu_
  int blocked_ = 0;                                 // guarded by mu_
  int ever_blocked_ = 0;                            // guarded by mu_
};

class SamplerTest : public ::testing::Test {
 protected:
  SamplerTest() : etcd_({kEndpoint}) {
    etcd_.SetStatus(kEndpoint, GoodStatus());
    etcd_.SetMemberList(kEndpoint, GoodMembers());
    etcd_.SetAlarms(kEndpoint, std::vector<etcd::Alarm>{});
    etcd_.SetRange(kEndpoint, etcd::RangeResult{});
    etcd_.SetPut(kEndpoint, etcd::PutResult{});
    metrics_.Set(kMetricsUrl, 200, kPage);
    metrics_.Set(kHealthUrl, 200, R"({"health":"true"})");
  }

  static SamplerConfig Config() {
    SamplerConfig config;
    config.endpoint.host = "127.0.0.1";
    config.endpoint.port = 2379;
    config.data_dir = "/var/lib/etcd";
    return config;
  }

  std::unique_ptr<Sampler> Make(SamplerConfig config, etcd::EtcdClient* etcd = nullptr) {
    auto sampler = Sampler::Create(std::move(config), etcd != nullptr ? *etcd : etcd_, metrics_,
                                   host_, cert_, clock_);
    EXPECT_TRUE(sampler.ok()) << sampler.status().ToString();
    return sampler.ok() ? std::move(sampler).value() : nullptr;
  }

  FakeEtcdClient etcd_;
  FakeMetricsSource metrics_;
  FakeHostProbe host_;
  FakeCertificateProbe cert_;
  FakeClock clock_;
};

// A full pass with every source answering fills every part of the sample, with no errors.
TEST_F(SamplerTest, FullPassFillsEverySource) {
  SamplerConfig config = Config();
  config.tls = true;
  config.read_certificate = true;
  config.metrics_url = kMetricsUrl;  // plain metrics listener beside a TLS client port
  etcd_.SetAlarms(kEndpoint, std::vector<etcd::Alarm>{{kOtherId, etcd::AlarmType::kNoSpace}});
  auto sampler = Make(config);
  ASSERT_NE(sampler, nullptr);

  v1::MemberSample s;
  sampler->Collect(/*full=*/true, s);

  EXPECT_EQ(s.errors_size(), 0) << ErrorSources(s);
  EXPECT_EQ(s.endpoint(), kEndpoint);
  EXPECT_EQ(s.collected_at_unix_ms(), 1700000000000);
  EXPECT_TRUE(s.full());
  EXPECT_TRUE(s.reachable());
  EXPECT_EQ(s.error(), "");
  EXPECT_EQ(s.member_id(), kMemberId);
  EXPECT_EQ(s.member_name(), "etcd-a");

  ASSERT_TRUE(s.has_status());
  EXPECT_EQ(s.status().version(), "3.4.23");
  EXPECT_EQ(s.status().cluster_id(), kClusterId);
  EXPECT_EQ(s.status().member_id(), kMemberId);
  EXPECT_EQ(s.status().leader_id(), kMemberId);
  EXPECT_EQ(s.status().raft_term(), 3u);
  EXPECT_EQ(s.status().raft_index(), 120u);
  EXPECT_EQ(s.status().raft_applied_index(), 119u);
  EXPECT_EQ(s.status().revision(), 42);
  EXPECT_EQ(s.status().db_size(), 20480);
  EXPECT_EQ(s.status().db_size_in_use(), 16384);
  EXPECT_FALSE(s.status().is_learner());

  ASSERT_EQ(s.alarms_size(), 1);
  EXPECT_EQ(s.alarms(0).member_id(), kOtherId);
  EXPECT_EQ(s.alarms(0).type(), "NOSPACE");

  ASSERT_EQ(s.members_size(), 2);
  EXPECT_EQ(s.members(1).id(), kOtherId);
  EXPECT_EQ(s.members(1).name(), "etcd-b");
  EXPECT_EQ(s.members(1).peer_urls(0), "http://127.0.0.1:22380");
  EXPECT_EQ(s.members(1).client_urls(0), "http://127.0.0.1:22379");
  EXPECT_TRUE(s.members(1).is_learner());

  ASSERT_EQ(s.probes_size(), 3);
  for (const v1::Probe& p : s.probes()) {
    EXPECT_TRUE(p.ok()) << p.kind() << ": " << p.error();
  }

  EXPECT_EQ(s.scalars_size(), kPageScalars);
  EXPECT_EQ(s.histograms_size(), kPageHistograms);
  ExpectWellFormedHistograms(s);

  EXPECT_TRUE(s.health_ok());
  EXPECT_EQ(s.health_reason(), "");

  ASSERT_TRUE(s.has_host());
  EXPECT_EQ(s.host().disk_total_bytes(), 1000u);
  EXPECT_EQ(s.host().disk_used_bytes(), 400u);
  EXPECT_EQ(s.host().memory_total_bytes(), 8000u);
  EXPECT_EQ(s.host().memory_available_bytes(), 6000u);
  EXPECT_EQ(s.host().open_fds(), 27);
  EXPECT_EQ(host_.last_disk_path, "/var/lib/etcd");

  ASSERT_TRUE(s.has_certificate());
  EXPECT_EQ(s.certificate().subject(), "CN=etcd0");
  EXPECT_EQ(s.certificate().not_after_unix_seconds(), 1800000000);
  EXPECT_EQ(cert_.last_host, "127.0.0.1");
  EXPECT_EQ(cert_.last_port, 2379);

  EXPECT_EQ(sampler->stats().samples_total, 1u);
  EXPECT_EQ(sampler->stats().unreachable_total, 0u);
  EXPECT_EQ(sampler->stats().metrics_line_errors_total, 0u);
}

// Scalars keep their labels and values exactly as the page has them.
TEST_F(SamplerTest, ScalarsCarryLabelsAndValues) {
  auto sampler = Make(Config());
  ASSERT_NE(sampler, nullptr);
  v1::MemberSample s;
  sampler->Collect(false, s);

  const struct {
    const char* name;
    const char* label;
    const char* value;
    double expected;
  } cases[] = {
      {"etcd_server_has_leader", "", "", 1},
      {"etcd_server_is_leader", "", "", 1},
      {"etcd_server_is_learner", "", "", 0},
      {"etcd_server_leader_changes_seen_total", "", "", 2},
      {"etcd_server_proposals_committed_total", "", "", 1234},
      {"etcd_server_proposals_applied_total", "", "", 1233},
      {"etcd_server_proposals_failed_total", "", "", 0},
      {"etcd_server_proposals_pending", "", "", 0},
      {"etcd_server_quota_backend_bytes", "", "", 2147483648.0},
      {"etcd_mvcc_db_total_size_in_bytes", "", "", 20480},
      {"etcd_mvcc_db_total_size_in_use_in_bytes", "", "", 16384},
      {"etcd_debugging_mvcc_current_revision", "", "", 42},
      {"etcd_server_slow_apply_total", "", "", 3},
      {"etcd_server_heartbeat_send_failures_total", "", "", 0},
      {"etcd_network_peer_sent_failures_total", "To", "b2", 1},
      {"etcd_network_peer_sent_failures_total", "To", "c3", 0},
      {"process_resident_memory_bytes", "", "", 4.5e7},
      {"process_cpu_seconds_total", "", "", 1.25},
      {"grpc_server_handled_total", "grpc_method", "Range", 17},
      {"grpc_server_handled_total", "grpc_method", "Put", 5},
  };
  for (const auto& c : cases) {
    const v1::ScalarMetric* m = FindScalar(s, c.name, c.label, c.value);
    ASSERT_NE(m, nullptr) << c.name << " " << c.value;
    EXPECT_EQ(m->value(), c.expected) << c.name << " " << c.value;
  }
  const v1::ScalarMetric* handled =
      FindScalar(s, "grpc_server_handled_total", "grpc_method", "Range");
  ASSERT_EQ(handled->labels_size(), 4);
  EXPECT_EQ(handled->labels(0).name(), "grpc_code");
  EXPECT_EQ(handled->labels(0).value(), "OK");
  EXPECT_EQ(handled->labels(3).name(), "grpc_type");
  EXPECT_EQ(handled->labels(3).value(), "unary");
}

// Histograms are shipped raw: the page's cumulative buckets, sum and count, per label set.
TEST_F(SamplerTest, HistogramsKeepRawBuckets) {
  auto sampler = Make(Config());
  ASSERT_NE(sampler, nullptr);
  v1::MemberSample s;
  sampler->Collect(false, s);

  const v1::HistogramMetric* fsync = FindHistogram(s, "etcd_disk_wal_fsync_duration_seconds");
  ASSERT_NE(fsync, nullptr);
  EXPECT_EQ(fsync->labels_size(), 0);
  ASSERT_EQ(fsync->buckets_size(), 4);
  const double bounds[] = {0.001, 0.002, 0.004, INFINITY};
  const uint64_t counts[] = {5, 7, 9, 10};
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(fsync->buckets(i).upper_bound(), bounds[i]) << i;
    EXPECT_EQ(fsync->buckets(i).cumulative_count(), counts[i]) << i;
  }
  EXPECT_DOUBLE_EQ(fsync->sum(), 0.0125);
  EXPECT_EQ(fsync->count(), 10u);

  const v1::HistogramMetric* rtt =
      FindHistogram(s, "etcd_network_peer_round_trip_time_seconds", "To", "c3");
  ASSERT_NE(rtt, nullptr);
  ASSERT_EQ(rtt->labels_size(), 1);  // `le` is not a series label
  EXPECT_EQ(rtt->buckets_size(), 3);
  EXPECT_EQ(rtt->count(), 2u);

  ASSERT_NE(FindHistogram(s, "grpc_server_handling_seconds", "grpc_method", "Range"), nullptr);
  EXPECT_NE(FindHistogram(s, "etcd_disk_backend_commit_duration_seconds"), nullptr);
}

// Only the listed families travel; grpc series that never counted anything are left out.
TEST_F(SamplerTest, ShipsOnlyListedFamiliesAndNonZeroGrpcSeries) {
  auto sampler = Make(Config());
  ASSERT_NE(sampler, nullptr);
  v1::MemberSample s;
  sampler->Collect(false, s);

  EXPECT_EQ(FindScalar(s, "go_goroutines"), nullptr);
  EXPECT_EQ(FindScalar(s, "etcd_server_version"), nullptr);
  EXPECT_EQ(FindScalar(s, "process_open_fds"), nullptr);  // it goes to host.open_fds
  EXPECT_EQ(FindScalar(s, "grpc_server_handled_total", "grpc_code", "Unavailable"), nullptr);
  EXPECT_EQ(FindScalar(s, "grpc_server_handled_total", "grpc_method", "Watch"), nullptr);
  EXPECT_EQ(FindHistogram(s, "grpc_server_handling_seconds", "grpc_method", "Put"), nullptr);
  // Non-grpc zeros are values, and stay.
  EXPECT_NE(FindScalar(s, "etcd_server_proposals_failed_total"), nullptr);
  for (const v1::ScalarMetric& m : s.scalars()) {
    bool listed = false;
    for (std::string_view name : Sampler::FamilyNames()) {
      listed = listed || name == m.name();
    }
    EXPECT_TRUE(listed) << m.name();
  }
}

// A family missing from the page is missing from the sample, never a zero.
TEST_F(SamplerTest, AbsentFamilyStaysAbsent) {
  metrics_.Set(kMetricsUrl, 200, "# TYPE etcd_server_has_leader gauge\netcd_server_has_leader 0\n");
  auto sampler = Make(Config());
  ASSERT_NE(sampler, nullptr);
  v1::MemberSample s;
  sampler->Collect(false, s);

  EXPECT_EQ(s.errors_size(), 0) << ErrorSources(s);
  ASSERT_EQ(s.scalars_size(), 1);
  EXPECT_EQ(s.scalars(0).name(), "etcd_server_has_leader");
  EXPECT_EQ(s.scalars(0).value(), 0);
  EXPECT_EQ(s.histograms_size(), 0);
  EXPECT_EQ(FindScalar(s, "etcd_server_quota_backend_bytes"), nullptr);
  EXPECT_EQ(s.host().open_fds(), -1);
}

// A member whose gRPC cannot be reached is a sample saying so, with what HTTP still gave.
TEST_F(SamplerTest, UnreachableMemberIsASampleNotAnError) {
  etcd_.SetStatus(kEndpoint, Status::Unavailable("endpoint 127.0.0.1:2379: connection refused"));
  auto sampler = Make(Config());
  ASSERT_NE(sampler, nullptr);
  v1::MemberSample s;
  sampler->Collect(true, s);

  EXPECT_FALSE(s.reachable());
  EXPECT_EQ(s.error(), "endpoint 127.0.0.1:2379: connection refused");
  EXPECT_EQ(s.endpoint(), kEndpoint);
  EXPECT_EQ(s.collected_at_unix_ms(), 1700000000000);
  EXPECT_FALSE(s.has_status());
  ASSERT_NE(FindError(s, "status"), nullptr);
  // The other gRPC calls would only wait out the same dial: they are skipped.
  const FakeEtcdClient::CallCounts calls = etcd_.calls();
  EXPECT_EQ(calls.alarms, 0);
  EXPECT_EQ(calls.range, 0);
  EXPECT_EQ(calls.put, 0);
  EXPECT_EQ(calls.member_list, 0);
  EXPECT_EQ(s.probes_size(), 0);
  // /metrics and /health come from another listener and still count.
  EXPECT_EQ(s.scalars_size(), kPageScalars);
  EXPECT_TRUE(s.health_ok());
  EXPECT_EQ(sampler->stats().unreachable_total, 1u);
  EXPECT_EQ(sampler->stats().errors(ErrorSource::kStatus), 1u);
}

// A status call that times out (a stopped process) also means unreachable.
TEST_F(SamplerTest, StatusDeadlineMeansUnreachable) {
  etcd_.SetStatus(kEndpoint, Status::DeadlineExceeded("endpoint 127.0.0.1:2379: deadline"));
  metrics_.Set(kMetricsUrl,
               Status::DeadlineExceeded("GET " + std::string(kMetricsUrl) + ": timeout"));
  auto sampler = Make(Config());
  ASSERT_NE(sampler, nullptr);
  v1::MemberSample s;
  sampler->Collect(false, s);
  EXPECT_FALSE(s.reachable());
  EXPECT_NE(FindError(s, "metrics"), nullptr);
  EXPECT_EQ(s.scalars_size(), 0);
}

// Other status errors are an answer: the member is reachable, and the rest is collected.
TEST_F(SamplerTest, StatusRefusalKeepsMemberReachable) {
  etcd_.SetStatus(kEndpoint, Status::PermissionDenied("endpoint 127.0.0.1:2379: denied"));
  auto sampler = Make(Config());
  ASSERT_NE(sampler, nullptr);
  v1::MemberSample s;
  sampler->Collect(false, s);
  EXPECT_TRUE(s.reachable());
  EXPECT_EQ(s.error(), "");
  EXPECT_FALSE(s.has_status());
  ASSERT_NE(FindError(s, "status"), nullptr);
  EXPECT_EQ(s.probes_size(), 3);
  EXPECT_EQ(s.member_id(), kMemberId);  // learned from MemberList's header
}

// An unreachable member's samples keep the identity learned while it was up.
TEST_F(SamplerTest, UnreachableSampleKeepsKnownIdentity) {
  auto sampler = Make(Config());
  ASSERT_NE(sampler, nullptr);
  v1::MemberSample s;
  sampler->Collect(true, s);
  etcd_.SetStatus(kEndpoint, Status::Unavailable("endpoint 127.0.0.1:2379: connection refused"));
  sampler->Collect(false, s);
  EXPECT_FALSE(s.reachable());
  EXPECT_EQ(s.member_id(), kMemberId);
  EXPECT_EQ(s.member_name(), "etcd-a");
}

// /metrics refused: the gRPC part is there, and the sample names the metrics error.
TEST_F(SamplerTest, MetricsRefusedKeepsGrpcData) {
  metrics_.Set(kMetricsUrl, Status::Unavailable("GET http://127.0.0.1:2379/metrics: refused"));
  auto sampler = Make(Config());
  ASSERT_NE(sampler, nullptr);
  v1::MemberSample s;
  sampler->Collect(false, s);

  EXPECT_TRUE(s.reachable());
  EXPECT_TRUE(s.has_status());
  EXPECT_EQ(s.probes_size(), 3);
  EXPECT_EQ(s.scalars_size(), 0);
  EXPECT_EQ(s.histograms_size(), 0);
  EXPECT_EQ(s.host().open_fds(), -1);
  ASSERT_EQ(s.errors_size(), 1) << ErrorSources(s);
  EXPECT_EQ(s.errors(0).source(), "metrics");
  EXPECT_EQ(s.errors(0).message(), "GET http://127.0.0.1:2379/metrics: refused");
  EXPECT_EQ(sampler->stats().errors(ErrorSource::kMetrics), 1u);
}

// A page served with an error status is not parsed.
TEST_F(SamplerTest, MetricsHttpErrorStatusIsAnError) {
  metrics_.Set(kMetricsUrl, 500, "etcd_server_has_leader 1\n");
  auto sampler = Make(Config());
  ASSERT_NE(sampler, nullptr);
  v1::MemberSample s;
  sampler->Collect(false, s);
  ASSERT_NE(FindError(s, "metrics"), nullptr);
  EXPECT_NE(FindError(s, "metrics")->message().find("HTTP status 500"), std::string::npos);
  EXPECT_EQ(s.scalars_size(), 0);
}

// Broken pages: the usable rest is kept, the problem is a "metrics" error and counted.
TEST_F(SamplerTest, BrokenPagesGivePartialSamples) {
  const std::string good = "# TYPE etcd_server_has_leader gauge\netcd_server_has_leader 1\n";
  const struct {
    const char* name;
    std::string page;
    uint64_t line_errors;  // malformed lines the parser reports
    bool keeps_has_leader;
  } cases[] = {
      {"garbage lines", good + "this is {not a metric\n\x01\x02\xff\n}}}\n", 3, true},
      {"truncated mid-line", good + "etcd_server_is_leader{a=\"", 1, true},
      {"truncated histogram (no +Inf bucket)",
       good + "# TYPE etcd_disk_wal_fsync_duration_seconds histogram\n"
              "etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.001\"} 5\n"
              "etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.002\"} 7\n",
       0, true},
      {"repeated bucket bound",
       good + "# TYPE etcd_disk_wal_fsync_duration_seconds histogram\n"
              "etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.001\"} 5\n"
              "etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.001\"} 6\n"
              "etcd_disk_wal_fsync_duration_seconds_bucket{le=\"+Inf\"} 7\n",
       0, true},
      {"negative bucket count",
       good + "# TYPE etcd_disk_wal_fsync_duration_seconds histogram\n"
              "etcd_disk_wal_fsync_duration_seconds_bucket{le=\"+Inf\"} -3\n",
       0, true},
      {"shipped family of the wrong type",
       good + "# TYPE etcd_server_quota_backend_bytes summary\n"
              "etcd_server_quota_backend_bytes_sum 1\netcd_server_quota_backend_bytes_count 1\n",
       0, true},
      {"binary junk only", std::string("\x00\x01\x02\n\xfe\xfe{{{\"\n", 11), 2, false},
  };
  for (const auto& c : cases) {
    metrics_.Set(kMetricsUrl, 200, c.page);
    auto sampler = Make(Config());
    ASSERT_NE(sampler, nullptr);
    v1::MemberSample s;
    sampler->Collect(false, s);

    EXPECT_TRUE(s.has_status()) << c.name;
    EXPECT_EQ(s.probes_size(), 3) << c.name;
    ASSERT_NE(FindError(s, "metrics"), nullptr) << c.name;
    EXPECT_EQ(sampler->stats().errors(ErrorSource::kMetrics), 1u) << c.name;
    EXPECT_EQ(sampler->stats().metrics_line_errors_total, c.line_errors) << c.name;
    EXPECT_EQ(FindScalar(s, "etcd_server_has_leader") != nullptr, c.keeps_has_leader) << c.name;
    EXPECT_EQ(FindHistogram(s, "etcd_disk_wal_fsync_duration_seconds"), nullptr) << c.name;
    EXPECT_EQ(FindScalar(s, "etcd_server_quota_backend_bytes"), nullptr) << c.name;
  }
}

// Histogram lines out of order still make one well-formed series.
TEST_F(SamplerTest, UnorderedBucketsAreSorted) {
  metrics_.Set(kMetricsUrl, 200,
               "# TYPE etcd_disk_wal_fsync_duration_seconds histogram\n"
               "etcd_disk_wal_fsync_duration_seconds_bucket{le=\"+Inf\"} 10\n"
               "etcd_disk_wal_fsync_duration_seconds_count 10\n"
               "etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.004\"} 9\n"
               "etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.001\"} 5\n");
  auto sampler = Make(Config());
  ASSERT_NE(sampler, nullptr);
  v1::MemberSample s;
  sampler->Collect(false, s);
  EXPECT_EQ(s.errors_size(), 0) << ErrorSources(s);
  ASSERT_EQ(s.histograms_size(), 1);
  ExpectWellFormedHistograms(s);
  EXPECT_EQ(s.histograms(0).buckets(0).cumulative_count(), 5u);
  EXPECT_TRUE(std::isnan(s.histograms(0).sum()));  // the page had no _sum
  EXPECT_EQ(s.histograms(0).count(), 10u);
}

// A page over the parser's 16 MiB bound: its first part is used, and the rest is an error.
TEST_F(SamplerTest, OversizedPageIsParsedUpToTheBound) {
  std::string page = "# TYPE etcd_server_has_leader gauge\netcd_server_has_leader 1\n";
  const std::string filler = "# padding comment line, ignored by the parser\n";
  while (page.size() < (50u << 20)) {
    page += filler;
  }
  page += "# TYPE etcd_server_is_leader gauge\netcd_server_is_leader 1\n";
  metrics_.Set(kMetricsUrl, 200, std::move(page));
  auto sampler = Make(Config());
  ASSERT_NE(sampler, nullptr);
  v1::MemberSample s;
  sampler->Collect(false, s);

  ASSERT_NE(FindError(s, "metrics"), nullptr);
  EXPECT_NE(FindScalar(s, "etcd_server_has_leader"), nullptr);
  EXPECT_EQ(FindScalar(s, "etcd_server_is_leader"), nullptr);
  EXPECT_TRUE(s.has_status());
}

// The real HTTP source stops a 50 MB body at its size cap: a metrics error, the rest intact.
TEST_F(SamplerTest, HugeBodyOverHttpHitsTheSizeCap) {
  etcdmon::testing::HttpServer server;
  ASSERT_TRUE(server.Start().ok());
  etcdmon::testing::CannedResponse huge;
  huge.generated_body_bytes = 50u << 20;
  huge.send_content_length = false;  // no early refusal: the cap must cut the stream
  server.Set("/metrics", huge);
  http::FetcherOptions options;
  options.max_body_bytes = 16u << 20;
  auto source = NewHttpMetricsSource(options);
  ASSERT_TRUE(source.ok()) << source.status().ToString();

  SamplerConfig config = Config();
  config.metrics_url = server.Url("/metrics");
  auto sampler = Sampler::Create(config, etcd_, **source, host_, cert_, clock_);
  ASSERT_TRUE(sampler.ok()) << sampler.status().ToString();
  v1::MemberSample s;
  (*sampler)->Collect(false, s);

  const v1::SampleError* error = FindError(s, "metrics");
  ASSERT_NE(error, nullptr);
  EXPECT_NE(error->message().find("larger than the limit"), std::string::npos) << error->message();
  EXPECT_TRUE(s.has_status());
  EXPECT_EQ(s.probes_size(), 3);
  EXPECT_EQ(s.scalars_size(), 0);
}

// Each failed source is one SampleError named after it; what worked is still there.
TEST_F(SamplerTest, PartialFailuresAreNamedPerSource) {
  etcd_.SetAlarms(kEndpoint, Status::Internal("endpoint 127.0.0.1:2379: alarm failed"));
  etcd_.SetRange(kEndpoint, Status::DeadlineExceeded("endpoint 127.0.0.1:2379: slow"));
  etcd_.SetPut(kEndpoint, Status::Unavailable("endpoint 127.0.0.1:2379: no leader"));
  host_.memory = Status::Internal("meminfo unreadable");
  host_.disk = Status::NotFound("statvfs /var/lib/etcd: No such file or directory");
  metrics_.Set(kHealthUrl, Status::Unavailable("GET /health: refused"));
  cert_.answer = Status::Unavailable("certificate: refused");
  SamplerConfig config = Config();
  config.tls = true;
  config.read_certificate = true;
  config.metrics_url = kMetricsUrl;
  auto sampler = Make(config);
  ASSERT_NE(sampler, nullptr);
  v1::MemberSample s;
  sampler->Collect(true, s);

  EXPECT_TRUE(s.reachable());
  EXPECT_TRUE(s.has_status());
  EXPECT_EQ(s.member_name(), "etcd-a");
  const char* failed[] = {
      "alarms", "probe_serializable", "probe_linearizable", "probe_write", "health", "certificate",
      "host"};
  for (const char* source : failed) {
    EXPECT_NE(FindError(s, source), nullptr) << source;
  }
  EXPECT_EQ(s.errors_size(), 7) << ErrorSources(s);
  // Two host problems share one error.
  EXPECT_NE(FindError(s, "host")->message().find("; statvfs"), std::string::npos);
  EXPECT_EQ(sampler->stats().errors(ErrorSource::kHost), 1u);
  ASSERT_EQ(s.probes_size(), 3);
  for (const v1::Probe& p : s.probes()) {
    EXPECT_FALSE(p.ok());
    EXPECT_FALSE(p.error().empty());
  }
  EXPECT_FALSE(s.has_certificate());
  EXPECT_EQ(s.scalars_size(), kPageScalars);
}

// The write probe Puts "<prefix><member name>" with the collection time; reads use that key.
TEST_F(SamplerTest, ProbesUseTheMembersProbeKey) {
  auto sampler = Make(Config());
  ASSERT_NE(sampler, nullptr);
  v1::MemberSample s;
  sampler->Collect(false, s);  // the name is learned on the first pass

  EXPECT_EQ(sampler->probe_key(), "/etcd-monitor/probe/etcd-a");
  EXPECT_EQ(etcd_.last_put().key, "/etcd-monitor/probe/etcd-a");
  EXPECT_EQ(etcd_.last_put().value, "1700000000000");
  EXPECT_EQ(etcd_.last_put().lease, 0);
  EXPECT_EQ(etcd_.last_range().key, "/etcd-monitor/probe/etcd-a");
  EXPECT_EQ(etcd_.last_range().range_end, "");    // one key, never a range
  EXPECT_FALSE(etcd_.last_range().serializable);  // the linearizable read runs last
  EXPECT_EQ(etcd_.calls().range, 2);
  EXPECT_EQ(etcd_.calls().put, 1);
  ASSERT_NE(FindProbe(s, v1::Probe::SERIALIZABLE_READ), nullptr);
  ASSERT_NE(FindProbe(s, v1::Probe::LINEARIZABLE_READ), nullptr);
  ASSERT_NE(FindProbe(s, v1::Probe::WRITE), nullptr);
}

// A configured name wins over the member list; a configured prefix is used as given.
TEST_F(SamplerTest, ConfiguredNameAndPrefixWin) {
  SamplerConfig config = Config();
  config.member_name = "custom";
  config.probe_prefix = "/ops/probe/";
  auto sampler = Make(config);
  ASSERT_NE(sampler, nullptr);
  v1::MemberSample s;
  sampler->Collect(true, s);
  EXPECT_EQ(s.member_name(), "custom");
  EXPECT_EQ(etcd_.last_put().key, "/ops/probe/custom");
}

// --write-probe=false: the two reads run, no Put ever does.
TEST_F(SamplerTest, WriteProbeOffMakesNoPut) {
  SamplerConfig config = Config();
  config.write_probe = false;
  auto sampler = Make(config);
  ASSERT_NE(sampler, nullptr);
  v1::MemberSample s;
  sampler->Collect(true, s);
  sampler->Collect(false, s);
  EXPECT_EQ(etcd_.calls().put, 0);
  EXPECT_EQ(s.probes_size(), 2);
  EXPECT_EQ(FindProbe(s, v1::Probe::WRITE), nullptr);
  EXPECT_EQ(s.errors_size(), 0) << ErrorSources(s);
}

// Until the member's name is known, the Put is skipped (with an error), never sent elsewhere.
TEST_F(SamplerTest, UnknownNameSkipsWriteProbe) {
  etcd_.SetMemberList(kEndpoint, Status::Unavailable("endpoint 127.0.0.1:2379: member list"));
  auto sampler = Make(Config());
  ASSERT_NE(sampler, nullptr);
  v1::MemberSample s;
  sampler->Collect(false, s);
  EXPECT_EQ(etcd_.calls().put, 0);
  EXPECT_NE(FindError(s, "member_list"), nullptr);
  EXPECT_NE(FindError(s, "probe_write"), nullptr);
  EXPECT_EQ(etcd_.last_range().key, "/etcd-monitor/probe/");
  EXPECT_EQ(s.member_name(), "");
  EXPECT_EQ(s.member_id(), kMemberId);

  // Once the list answers, the next pass learns the name and probes its key.
  etcd_.SetMemberList(kEndpoint, GoodMembers());
  sampler->Collect(false, s);
  EXPECT_EQ(etcd_.last_put().key, "/etcd-monitor/probe/etcd-a");
  EXPECT_EQ(s.errors_size(), 0) << ErrorSources(s);
}

// A learner only serves serializable reads: the other probes are skipped without error.
TEST_F(SamplerTest, LearnerGetsOnlyTheSerializableProbe) {
  etcd::EndpointStatus learner = GoodStatus();
  learner.is_learner = true;
  learner.leader = kOtherId;
  etcd_.SetStatus(kEndpoint, learner);
  auto sampler = Make(Config());
  ASSERT_NE(sampler, nullptr);
  v1::MemberSample s;
  sampler->Collect(false, s);
  ASSERT_EQ(s.probes_size(), 1);
  EXPECT_EQ(s.probes(0).kind(), v1::Probe::SERIALIZABLE_READ);
  EXPECT_EQ(etcd_.calls().put, 0);
  EXPECT_EQ(s.errors_size(), 0) << ErrorSources(s);
}

// A member without a leader gets only the serializable probe, and no Alarm call even on a full
// pass: the others would wait for their deadline and fail (an Alarm GET is a raft proposal),
// delaying the sample that says "no leader". The probes are reported as skipped.
TEST_F(SamplerTest, LeaderlessMemberGetsOnlyTheSerializableProbe) {
  etcd::EndpointStatus leaderless = GoodStatus();
  leaderless.leader = 0;
  etcd_.SetStatus(kEndpoint, leaderless);
  auto sampler = Make(Config());
  ASSERT_NE(sampler, nullptr);
  v1::MemberSample s;
  sampler->Collect(/*full=*/true, s);
  EXPECT_EQ(etcd_.calls().alarms, 0);
  ASSERT_EQ(s.probes_size(), 1);
  EXPECT_EQ(s.probes(0).kind(), v1::Probe::SERIALIZABLE_READ);
  EXPECT_EQ(etcd_.calls().put, 0);
  EXPECT_EQ(ErrorSources(s),
            "probe_linearizable=skipped: the member has no leader\n"
            "probe_write=skipped: the member has no leader\n");
}

// Probe latencies are measured on the steady clock around each call.
TEST_F(SamplerTest, ProbeLatenciesAreMeasured) {
  SlowEtcdClient slow(etcd_, clock_);
  auto sampler = Make(Config(), &slow);
  ASSERT_NE(sampler, nullptr);
  v1::MemberSample s;
  sampler->Collect(false, s);
  EXPECT_EQ(FindProbe(s, v1::Probe::SERIALIZABLE_READ)->latency_us(), 300u);
  EXPECT_EQ(FindProbe(s, v1::Probe::LINEARIZABLE_READ)->latency_us(), 700u);
  EXPECT_EQ(FindProbe(s, v1::Probe::WRITE)->latency_us(), 2500u);
}

// Alarms are asked for on full passes, or when Status lists errors (where etcd reports alarms);
// a quiet member is not asked, since each Alarm call is a raft entry.
TEST_F(SamplerTest, AlarmsReadOnlyWhenTheyCanExist) {
  auto sampler = Make(Config());
  ASSERT_NE(sampler, nullptr);
  v1::MemberSample s;
  sampler->Collect(true, s);
  EXPECT_EQ(etcd_.calls().alarms, 1);
  sampler->Collect(false, s);
  EXPECT_EQ(etcd_.calls().alarms, 1);
  EXPECT_EQ(s.alarms_size(), 0);

  etcd::EndpointStatus alarmed = GoodStatus();
  alarmed.errors = {"memberID:161 alarm:NOSPACE "};
  etcd_.SetStatus(kEndpoint, alarmed);
  etcd_.SetAlarms(kEndpoint, std::vector<etcd::Alarm>{{kMemberId, etcd::AlarmType::kNoSpace}});
  sampler->Collect(false, s);
  EXPECT_EQ(etcd_.calls().alarms, 2);
  ASSERT_EQ(s.alarms_size(), 1);
  EXPECT_EQ(s.alarms(0).type(), "NOSPACE");
  ASSERT_EQ(s.status().errors_size(), 1);
  EXPECT_EQ(s.status().errors(0), "memberID:161 alarm:NOSPACE ");
}

// Only full passes list members, read /health and the certificate.
TEST_F(SamplerTest, ExtraWorkOnlyOnFullPasses) {
  SamplerConfig config = Config();
  config.tls = true;
  config.read_certificate = true;
  config.metrics_url = kMetricsUrl;
  auto sampler = Make(config);
  ASSERT_NE(sampler, nullptr);
  v1::MemberSample s;
  sampler->Collect(true, s);
  EXPECT_EQ(etcd_.calls().member_list, 1);
  EXPECT_EQ(metrics_.fetches(), 2);
  EXPECT_EQ(cert_.calls, 1);

  sampler->Collect(false, s);
  EXPECT_FALSE(s.full());
  EXPECT_EQ(etcd_.calls().member_list, 1);
  EXPECT_EQ(metrics_.fetches(), 3);
  EXPECT_EQ(cert_.calls, 1);
  EXPECT_EQ(s.members_size(), 0);
  EXPECT_FALSE(s.health_ok());
  EXPECT_FALSE(s.has_certificate());
  EXPECT_EQ(s.member_name(), "etcd-a");  // remembered
}

// The /health verdict is etcd's JSON string, with its reason; an unusable page is an error.
TEST_F(SamplerTest, HealthVerdicts) {
  const struct {
    const char* name;
    Result<int> code;
    std::string body;
    bool ok;
    std::string reason;
    bool error;
  } cases[] = {
      {"healthy", 200, R"({"health":"true"})", true, "", false},
      {"healthy, spaced", 200, "{ \"health\" : \"true\", \"reason\": \"\" }\n", true, "", false},
      {"alarm", 503, R"({"health":"false","reason":"ALARM NOSPACE"})", false, "ALARM NOSPACE",
       false},
      {"no reason given", 503, R"({"health":"false"})", false, "HTTP status 503", false},
      {"escaped reason", 503, R"({"health":"false","reason":"a \"b\"\\c"})", false, "a \"b\"\\c",
       false},
      {"boolean verdict", 200, R"({"health":true})", true, "", false},
      {"not JSON", 404, "404 page not found\n", false, "", true},
      {"unterminated", 200, R"({"health":"tr)", false, "", true},
      // Bounded: a page this large is no verdict, and is not parsed.
      {"oversized", 200, R"({"health":"true","reason":")" + std::string(64 << 10, 'x') + "\"}",
       false, "", true},
      {"refused", Status::Unavailable("GET /health: refused"), "", false, "", true},
  };
  for (const auto& c : cases) {
    metrics_.Set(kHealthUrl, c.code, c.body);
    auto sampler = Make(Config());
    ASSERT_NE(sampler, nullptr);
    v1::MemberSample s;
    sampler->Collect(true, s);
    EXPECT_EQ(s.health_ok(), c.ok) << c.name;
    EXPECT_EQ(s.health_reason(), c.reason) << c.name;
    EXPECT_EQ(FindError(s, "health") != nullptr, c.error) << c.name << "\n" << ErrorSources(s);
  }
}

// Without a data dir, and without discovery, there are no disk figures and no statvfs; the
// sample says why.
TEST_F(SamplerTest, NoDataDirNoDiskStats) {
  SamplerConfig config = Config();
  config.data_dir.clear();
  config.discover_data_dir = false;
  auto sampler = Make(config);
  ASSERT_NE(sampler, nullptr);
  v1::MemberSample s;
  sampler->Collect(false, s);
  EXPECT_EQ(host_.disk_calls, 0);
  EXPECT_EQ(s.host().disk_total_bytes(), 0u);
  EXPECT_EQ(s.host().memory_total_bytes(), 8000u);
  EXPECT_EQ(s.host().disk_unknown_reason(), "the member's data dir is not known: give --data-dir");
  EXPECT_EQ(s.errors_size(), 0) << ErrorSources(s);
}

// A given data dir is measured; the reason stays empty.
TEST_F(SamplerTest, GivenDataDirIsMeasured) {
  auto sampler = Make(Config());
  ASSERT_NE(sampler, nullptr);
  v1::MemberSample s;
  sampler->Collect(false, s);
  EXPECT_EQ(host_.last_disk_path, "/var/lib/etcd");
  EXPECT_EQ(s.host().disk_total_bytes(), 1000u);
  EXPECT_EQ(s.host().disk_used_bytes(), 400u);
  EXPECT_EQ(s.host().disk_unknown_reason(), "");
  EXPECT_EQ(sampler->data_dir(), "/var/lib/etcd");
}

// Without a data dir, the member on this host is found from /proc on the first sample; later
// passes use what was found without scanning; a full pass checks the process is still the
// same, and finds the new one after a restart.
TEST_F(SamplerTest, DiscoversTheDataDirOfAMemberOnThisHost) {
  collector::testing::FakeProc proc;
  proc.Listen(false, collector::testing::kProcV4Loopback, 2379, 501);
  proc.AddProcess(70, {{"/usr/bin/etcd", "--name=etcd0", "--data-dir=/srv/etcd0"},
                       {},
                       "/",
                       {501},
                       /*start_time=*/10});
  SamplerConfig config = Config();
  config.data_dir.clear();
  config.proc_root = proc.root();
  auto sampler = Make(config);
  ASSERT_NE(sampler, nullptr);
  v1::MemberSample s;
  sampler->Collect(false, s);
  EXPECT_EQ(host_.last_disk_path, "/srv/etcd0");
  EXPECT_EQ(s.host().disk_total_bytes(), 1000u);
  EXPECT_EQ(s.host().disk_unknown_reason(), "");
  EXPECT_EQ(sampler->data_dir(), "/srv/etcd0");

  // The member restarts with another data dir (same pid, new start time): a plain pass does not
  // look, a full pass does.
  proc.RemoveProcess(70);
  proc.AddProcess(70, {{"/usr/bin/etcd", "--data-dir=/srv/moved"},
                       {},
                       "/",
                       {501},
                       /*start_time=*/20});
  sampler->Collect(false, s);
  EXPECT_EQ(host_.last_disk_path, "/srv/etcd0");
  sampler->Collect(true, s);
  EXPECT_EQ(host_.last_disk_path, "/srv/moved");
  EXPECT_EQ(s.host().disk_total_bytes(), 1000u);

  // The member stops: on the next full pass the disk is unknown, and the sample says why.
  proc.RemoveProcess(70);
  const int calls = host_.disk_calls;
  sampler->Collect(true, s);
  EXPECT_EQ(host_.disk_calls, calls);
  EXPECT_EQ(s.host().disk_total_bytes(), 0u);
  EXPECT_EQ(s.host().disk_unknown_reason(),
            "the member's data dir was not found: the socket listening on port 2379 belongs to "
            "no process visible here (another PID namespace?); give --data-dir");
  EXPECT_EQ(sampler->data_dir(), "");
}

// A member that starts after the collector is found on the first full pass after it started;
// until then each sample says why there is no disk figure.
TEST_F(SamplerTest, DiscoveryRetriesOnFullPassesWhileUnknown) {
  collector::testing::FakeProc proc;
  SamplerConfig config = Config();
  config.data_dir.clear();
  config.proc_root = proc.root();
  config.data_dir_hint = "give --member-data-dir=127.0.0.1:2379=DIR";
  auto sampler = Make(config);
  ASSERT_NE(sampler, nullptr);
  v1::MemberSample s;
  sampler->Collect(true, s);
  const std::string reason =
      "the member's data dir was not found: no process on this host listens on port 2379 (the "
      "member may run in a container or another network namespace); give "
      "--member-data-dir=127.0.0.1:2379=DIR";
  EXPECT_EQ(s.host().disk_unknown_reason(), reason);

  proc.Listen(false, collector::testing::kProcV4Any, 2379, 601);
  proc.AddProcess(80, {{"etcd"}, {"ETCD_DATA_DIR=/var/lib/etcd/default"}, "/", {601}});
  sampler->Collect(false, s);
  EXPECT_EQ(s.host().disk_unknown_reason(), reason);
  EXPECT_EQ(host_.disk_calls, 0);
  sampler->Collect(true, s);
  EXPECT_EQ(host_.last_disk_path, "/var/lib/etcd/default");
  EXPECT_EQ(s.host().disk_total_bytes(), 1000u);
  EXPECT_EQ(s.host().disk_unknown_reason(), "");
}

// A member on another host: no /proc is read, and the sample says what to do.
TEST_F(SamplerTest, RemoteMemberDiskIsUnknownWithReason) {
  collector::testing::FakeProc proc;
  proc.Listen(false, collector::testing::kProcV4Any, 2379, 701);
  proc.AddProcess(90, {{"etcd", "--data-dir=/local/etcd"}, {}, "/", {701}});
  constexpr char kRemote[] = "192.0.2.10:2379";
  FakeEtcdClient remote({kRemote});
  remote.SetStatus(kRemote, GoodStatus());
  remote.SetMemberList(kRemote, GoodMembers());
  remote.SetAlarms(kRemote, std::vector<etcd::Alarm>{});
  remote.SetRange(kRemote, etcd::RangeResult{});
  remote.SetPut(kRemote, etcd::PutResult{});
  SamplerConfig config = Config();
  config.endpoint.host = "192.0.2.10";
  config.data_dir.clear();
  config.proc_root = proc.root();
  config.data_dir_hint = "give --member-data-dir=192.0.2.10:2379=DIR";
  auto sampler = Make(config, &remote);
  ASSERT_NE(sampler, nullptr);
  v1::MemberSample s;
  sampler->Collect(true, s);
  EXPECT_EQ(host_.disk_calls, 0);
  EXPECT_FALSE(s.host().disk_total_bytes() > 0);
  EXPECT_EQ(s.host().disk_unknown_reason(),
            "the member runs on another host (192.0.2.10): run a collector beside it or give "
            "--member-data-dir=192.0.2.10:2379=DIR");
}

// statvfs failing: a "host" error, and the same text as the reason.
TEST_F(SamplerTest, DiskErrorIsTheReason) {
  host_.disk = Status::NotFound("statvfs /var/lib/etcd: No such file or directory");
  auto sampler = Make(Config());
  ASSERT_NE(sampler, nullptr);
  v1::MemberSample s;
  sampler->Collect(false, s);
  EXPECT_EQ(s.host().disk_total_bytes(), 0u);
  EXPECT_EQ(s.host().disk_unknown_reason(), "statvfs /var/lib/etcd: No such file or directory");
  ASSERT_NE(FindError(s, "host"), nullptr) << ErrorSources(s);

  host_.disk = DiskUsage{1000, 400};
  sampler->Collect(false, s);
  EXPECT_EQ(s.host().disk_unknown_reason(), "");
  EXPECT_EQ(s.host().disk_total_bytes(), 1000u);
}

// Reusing the message: nothing of the previous sample leaks into the next one.
TEST_F(SamplerTest, ReusedSampleStartsClean) {
  SamplerConfig config = Config();
  config.tls = true;
  config.read_certificate = true;
  config.metrics_url = kMetricsUrl;
  auto sampler = Make(config);
  ASSERT_NE(sampler, nullptr);
  v1::MemberSample s;
  sampler->Collect(true, s);
  ASSERT_TRUE(s.has_certificate());

  etcd_.SetStatus(kEndpoint, Status::Unavailable("endpoint 127.0.0.1:2379: refused"));
  metrics_.Set(kMetricsUrl, 200, "# TYPE etcd_server_has_leader gauge\netcd_server_has_leader 0\n");
  clock_.Advance(std::chrono::seconds(1));
  sampler->Collect(false, s);
  EXPECT_FALSE(s.reachable());
  EXPECT_FALSE(s.has_status());
  EXPECT_FALSE(s.has_certificate());
  EXPECT_EQ(s.members_size(), 0);
  EXPECT_EQ(s.probes_size(), 0);
  EXPECT_EQ(s.alarms_size(), 0);
  EXPECT_EQ(s.scalars_size(), 1);
  EXPECT_EQ(s.histograms_size(), 0);
  EXPECT_EQ(s.errors_size(), 1) << ErrorSources(s);
  EXPECT_EQ(s.collected_at_unix_ms(), 1700000001000);
  EXPECT_EQ(s.host().open_fds(), -1);
}

// In steady state (same page, all sources fine) Collect() makes no heap allocation.
TEST_F(SamplerTest, SteadyStateCollectDoesNotAllocate) {
  auto sampler = Make(Config());
  ASSERT_NE(sampler, nullptr);
  v1::MemberSample s;
  sampler->Collect(true, s);  // learns the name, sizes every buffer
  sampler->Collect(false, s);
  sampler->Collect(false, s);

  collector::testing::StartCountingAllocations();
  int* volatile probe = new int(1);  // the counter itself works
  delete probe;
  ASSERT_EQ(collector::testing::StopCountingAllocations(), 1);

  collector::testing::StartCountingAllocations();
  sampler->Collect(false, s);
  sampler->Collect(false, s);
  EXPECT_EQ(collector::testing::StopCountingAllocations(), 0);
  EXPECT_EQ(s.scalars_size(), kPageScalars);
  EXPECT_EQ(s.errors_size(), 0) << ErrorSources(s);
}

// Random and mangled pages never crash the sampler, and what it ships stays well-formed.
TEST_F(SamplerTest, RandomPagesNeverCrash) {
  auto sampler = Make(Config());
  ASSERT_NE(sampler, nullptr);
  std::mt19937 rng(20261125);
  const std::string base = kPage;
  const char interesting[] = {'{', '}', '"', '\\', '\n', ' ', '#',  '=',   ',',
                              'e', '+', '-', '.',  '0',  '9', '\0', '\xff'};
  v1::MemberSample s;
  constexpr int kIterations = 600;
  int with_metrics = 0;
  for (int i = 0; i < kIterations; ++i) {
    std::string page;
    const int mode = i % 3;
    if (mode == 0) {  // random bytes
      page.resize(rng() % 4096);
      for (char& c : page) {
        c = static_cast<char>(rng());
      }
    } else {  // the real page, mangled in a few places, maybe truncated
      page = base;
      const int edits = 1 + static_cast<int>(rng() % 8);
      for (int e = 0; e < edits; ++e) {
        const std::size_t at = rng() % page.size();
        switch (rng() % 3) {
          case 0:
            page[at] = interesting[rng() % sizeof(interesting)];
            break;
          case 1:
            page.insert(at, 1, interesting[rng() % sizeof(interesting)]);
            break;
          default:
            page.erase(at, 1 + rng() % 16);
        }
      }
      if (mode == 2) {
        page.resize(rng() % page.size());
      }
    }
    metrics_.Set(kMetricsUrl, 200, page);
    sampler->Collect(i % 10 == 0, s);
    ASSERT_EQ(s.endpoint(), kEndpoint) << "iteration " << i;
    ASSERT_TRUE(s.has_status()) << "iteration " << i;
    ExpectWellFormedHistograms(s);
    with_metrics += s.scalars_size() > 0 ? 1 : 0;
    if (::testing::Test::HasFailure()) {
      FAIL() << "iteration " << i << " page:\n" << page;
    }
  }
  EXPECT_EQ(sampler->stats().samples_total, static_cast<uint64_t>(kIterations));
  EXPECT_GT(sampler->stats().metrics_line_errors_total, 0u);
  EXPECT_GT(with_metrics, kIterations / 3);  // mangled pages still yield their intact lines
}

// Configuration errors are caught by Create, and the default URLs follow the endpoint.
TEST_F(SamplerTest, CreateValidatesConfigAndDerivesUrls) {
  struct Case {
    const char* name;
    void (*change)(SamplerConfig&);
    bool ok;
    const char* metrics_url;
    const char* health_url;
  };
  const Case cases[] = {
      {"defaults", [](SamplerConfig&) {}, true, "http://127.0.0.1:2379/metrics",
       "http://127.0.0.1:2379/health"},
      {"tls", [](SamplerConfig& c) { c.tls = true; }, true, "https://127.0.0.1:2379/metrics",
       "https://127.0.0.1:2379/health"},
      {"metrics override",
       [](SamplerConfig& c) { c.metrics_url = "http://127.0.0.1:9100/metrics?x=1"; }, true,
       "http://127.0.0.1:9100/metrics?x=1", "http://127.0.0.1:9100/health"},
      {"health override", [](SamplerConfig& c) { c.health_url = "http://10.0.0.1:8080/healthz"; },
       true, "http://127.0.0.1:2379/metrics", "http://10.0.0.1:8080/healthz"},
      {"unknown endpoint", [](SamplerConfig& c) { c.endpoint.port = 2380; }, false, "", ""},
      {"no host", [](SamplerConfig& c) { c.endpoint.host.clear(); }, false, "", ""},
      {"prefix without slash", [](SamplerConfig& c) { c.probe_prefix = "/probe"; }, false, "", ""},
      {"empty prefix", [](SamplerConfig& c) { c.probe_prefix.clear(); }, false, "", ""},
      {"ftp metrics", [](SamplerConfig& c) { c.metrics_url = "ftp://x/metrics"; }, false, "", ""},
      {"hostless metrics", [](SamplerConfig& c) { c.metrics_url = "http:///metrics"; }, false, "",
       ""},
      {"bad health", [](SamplerConfig& c) { c.health_url = "health"; }, false, "", ""},
      {"certificate without tls", [](SamplerConfig& c) { c.read_certificate = true; }, false, "",
       ""},
  };
  for (const Case& c : cases) {
    SamplerConfig config = Config();
    c.change(config);
    auto sampler = Sampler::Create(config, etcd_, metrics_, host_, cert_, clock_);
    ASSERT_EQ(sampler.ok(), c.ok) << c.name << ": " << sampler.status().ToString();
    if (!c.ok) {
      EXPECT_EQ(sampler.status().code(), StatusCode::kInvalidArgument) << c.name;
      continue;
    }
    EXPECT_EQ((*sampler)->metrics_url(), c.metrics_url) << c.name;
    EXPECT_EQ((*sampler)->health_url(), c.health_url) << c.name;
  }
}

// The sampling-round deadline, with a member (or its leader) that never answers.
class SamplerDeadlineTest : public SamplerTest {
 protected:
  static constexpr auto kInterval = std::chrono::milliseconds(1000);
  static constexpr auto kRound = std::chrono::milliseconds(750);
  static constexpr auto kProbe = std::chrono::milliseconds(250);

  SamplerDeadlineTest() : gated_(etcd_) {}
  ~SamplerDeadlineTest() override {
    // Lets the lanes' calls return, so that the samplers (destroyed next) can join them.
    gated_.ReleaseAll();
    other_gated_.ReleaseAll();
  }

  // A sampler on `client`, owned by the fixture so that it is destroyed after the release.
  Sampler* MakeOwned(SamplerConfig config, etcd::EtcdClient& client) {
    samplers_.push_back(Make(std::move(config), &client));
    return samplers_.back().get();
  }

  static SamplerConfig DeadlineConfig() {
    SamplerConfig config = Config();
    config.round_timeout = kRound;
    config.probe_timeout = kProbe;
    return config;
  }

  // Runs one Collect() on another thread, moving the fake clock by `step` whenever it has not
  // returned for a while (it then waits for a deadline: every call the fake answers returns at
  // once); returns how much fake time the collection took.
  std::chrono::steady_clock::duration CollectAdvancing(Sampler& sampler, bool full,
                                                       v1::MemberSample& out,
                                                       std::chrono::milliseconds step) {
    std::chrono::steady_clock::duration took{};
    auto done = std::async(std::launch::async, [&] {
      const auto start = clock_.SteadyNow();
      sampler.Collect(full, out);
      took = clock_.SteadyNow() - start;
    });
    // Bounded: each step passes a deadline the sampler waits for, and it has at most four.
    for (int i = 0; i < 8; ++i) {
      if (done.wait_for(std::chrono::milliseconds(50)) == std::future_status::ready) {
        break;
      }
      clock_.Advance(step);
    }
    if (done.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
      ADD_FAILURE() << "Collect() did not return at its deadlines";
      gated_.ReleaseAll();
      clock_.Advance(std::chrono::hours(1));
    }
    done.wait();
    return took;
  }

  GatedEtcdClient gated_;
  // Two members on one client, for OtherMembersAreNotDelayed.
  FakeEtcdClient both_{{kEndpoint, "127.0.0.1:22379"}};
  GatedEtcdClient other_gated_{both_};
  std::vector<std::unique_ptr<Sampler>> samplers_;  // after the clients: destroyed first
};

// A member that never answers Status is reported unreachable ("timed out") by the round's
// deadline, within the interval, in every round; the call is not sent again while the first
// one waits, and once the member answers the next sample is reachable again.
TEST_F(SamplerDeadlineTest, HungMemberIsUnreachableWithinEveryInterval) {
  gated_.Hold(GatedEtcdClient::Call::kStatus);
  Sampler* sampler = MakeOwned(DeadlineConfig(), gated_);
  ASSERT_NE(sampler, nullptr);
  v1::MemberSample s;
  for (int round = 0; round < 10; ++round) {
    const int64_t round_start_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(clock_.Now().time_since_epoch())
            .count();
    const auto took = CollectAdvancing(*sampler, round == 0, s, kRound);
    EXPECT_LE(took, kInterval) << "round " << round;
    EXPECT_FALSE(s.reachable()) << "round " << round;
    EXPECT_NE(s.error().find("timed out"), std::string::npos) << s.error();
    EXPECT_LE(s.collected_at_unix_ms(), round_start_ms + kInterval.count());
    clock_.Advance(kInterval - took);
  }
  EXPECT_EQ(gated_.ever_blocked(), 1) << "one Status waits; none piles up behind it";
  EXPECT_EQ(etcd_.calls().status, 0);
  EXPECT_EQ(sampler->stats().unreachable_total, 10u);

  // It answers (10 intervals late): the next round is a normal one.
  gated_.ReleaseAll();
  ASSERT_TRUE(etcdmon::testing::WaitFor([&] { return etcd_.calls().status == 1; }));
  const auto took = CollectAdvancing(*sampler, false, s, kRound);
  EXPECT_TRUE(s.reachable()) << s.error();
  EXPECT_EQ(took, std::chrono::steady_clock::duration::zero());
  EXPECT_EQ(s.errors_size(), 0) << ErrorSources(s);
}

// One member hanging delays no other member's sample: another sampler on the same client
// collects at once, with no fake time passing, while the first one waits.
TEST_F(SamplerDeadlineTest, OtherMembersAreNotDelayed) {
  constexpr char kOther[] = "127.0.0.1:22379";
  for (const char* e : {kEndpoint, kOther}) {
    both_.SetStatus(e, GoodStatus());
    both_.SetMemberList(e, GoodMembers());
    both_.SetAlarms(e, std::vector<etcd::Alarm>{});
    both_.SetRange(e, etcd::RangeResult{});
    both_.SetPut(e, etcd::PutResult{});
  }
  metrics_.Set("http://127.0.0.1:22379/metrics", 200, kPage);
  other_gated_.Hold(GatedEtcdClient::Call::kStatus, kEndpoint);
  Sampler* hung = MakeOwned(DeadlineConfig(), other_gated_);
  SamplerConfig other_config = DeadlineConfig();
  other_config.endpoint.port = 22379;
  Sampler* other = MakeOwned(other_config, other_gated_);
  ASSERT_NE(hung, nullptr);
  ASSERT_NE(other, nullptr);

  v1::MemberSample hung_sample;
  auto hung_done = std::async(std::launch::async, [&] { hung->Collect(false, hung_sample); });
  EXPECT_TRUE(etcdmon::testing::WaitFor([&] { return other_gated_.blocked() == 1; }));
  for (int round = 0; round < 3; ++round) {
    v1::MemberSample s;
    other->Collect(false, s);  // on this thread: it returns without the clock moving
    EXPECT_TRUE(s.reachable()) << s.error();
    EXPECT_EQ(s.errors_size(), 0) << ErrorSources(s);
  }
  clock_.Advance(kRound);
  ASSERT_EQ(hung_done.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_FALSE(hung_sample.reachable());
}

// A hung leader: whatever waits on it (linearizable read, Put, Alarm) times out, but the
// member's own Status, serializable read and /metrics are in the sample, on time, in every
// round, including those whose cluster-side calls still wait on an earlier one.
TEST_F(SamplerDeadlineTest, HungLeaderDoesNotDelayTheMembersOwnSample) {
  gated_.Hold(GatedEtcdClient::Call::kLinearizableRange);
  gated_.Hold(GatedEtcdClient::Call::kPut);
  gated_.Hold(GatedEtcdClient::Call::kAlarms);
  Sampler* sampler = MakeOwned(DeadlineConfig(), gated_);
  ASSERT_NE(sampler, nullptr);
  v1::MemberSample s;
  for (int round = 0; round < 5; ++round) {
    const auto took = CollectAdvancing(*sampler, round == 0, s, kProbe);
    EXPECT_LE(took, kInterval) << "round " << round;
    EXPECT_TRUE(s.reachable()) << s.error();
    EXPECT_TRUE(s.has_status());
    EXPECT_TRUE(FindProbe(s, v1::Probe::SERIALIZABLE_READ)->ok());
    EXPECT_EQ(s.scalars_size(), kPageScalars);
    ASSERT_NE(FindError(s, "probe_linearizable"), nullptr) << "round " << round;
    EXPECT_NE(FindError(s, "probe_linearizable")->message().find("timed out"), std::string::npos);
    EXPECT_FALSE(FindProbe(s, v1::Probe::LINEARIZABLE_READ)->ok());
    clock_.Advance(kInterval - took);
  }
  EXPECT_EQ(gated_.ever_blocked(), 1) << "the cluster lane holds one call, never a pile";
}

// The write probe is judged at its timeout, but its Put is not cancelled then: the request
// keeps the long write_request_timeout and is left to etcd, which counts a proposal failed
// only when it gives up itself (not when a client stops waiting). Until it has answered no
// other Put is sent.
TEST_F(SamplerDeadlineTest, SlowWriteProbeIsJudgedButNotCancelled) {
  gated_.Hold(GatedEtcdClient::Call::kPut);
  Sampler* sampler = MakeOwned(DeadlineConfig(), gated_);
  ASSERT_NE(sampler, nullptr);
  v1::MemberSample s;
  CollectAdvancing(*sampler, true, s, kProbe);
  const v1::Probe* write = FindProbe(s, v1::Probe::WRITE);
  ASSERT_NE(write, nullptr);
  EXPECT_FALSE(write->ok());
  EXPECT_NE(write->error().find("timed out"), std::string::npos) << write->error();
  EXPECT_GE(write->latency_us(), 250000u);
  EXPECT_TRUE(FindProbe(s, v1::Probe::LINEARIZABLE_READ)->ok());

  clock_.Advance(kInterval);
  CollectAdvancing(*sampler, false, s, kProbe);
  EXPECT_NE(FindError(s, "probe_write")->message().find("an earlier Put"), std::string::npos)
      << ErrorSources(s);
  EXPECT_EQ(gated_.ever_blocked(), 1);

  // etcd answers after three probe timeouts: the Put went out with the long deadline.
  gated_.ReleaseAll();
  ASSERT_TRUE(etcdmon::testing::WaitFor([&] { return etcd_.calls().put == 1; }));
  EXPECT_EQ(etcd_.last_put().timeout, std::chrono::seconds(30));
  EXPECT_GT(etcd_.last_range().timeout.count(), 0) << "a read is no proposal: it is bounded";
  EXPECT_LE(etcd_.last_range().timeout, kProbe);
  clock_.Advance(kInterval);
  CollectAdvancing(*sampler, false, s, kProbe);
  EXPECT_TRUE(FindProbe(s, v1::Probe::WRITE)->ok()) << ErrorSources(s);
  EXPECT_EQ(etcd_.calls().put, 2);
}

// Error sources have the stable names the service exports.
TEST(ErrorSourceTest, Names) {
  const std::pair<ErrorSource, const char*> cases[] = {
      {ErrorSource::kStatus, "status"},
      {ErrorSource::kAlarms, "alarms"},
      {ErrorSource::kProbeSerializable, "probe_serializable"},
      {ErrorSource::kProbeLinearizable, "probe_linearizable"},
      {ErrorSource::kProbeWrite, "probe_write"},
      {ErrorSource::kMetrics, "metrics"},
      {ErrorSource::kHealth, "health"},
      {ErrorSource::kMemberList, "member_list"},
      {ErrorSource::kCertificate, "certificate"},
      {ErrorSource::kHost, "host"},
  };
  static_assert(sizeof(cases) / sizeof(cases[0]) == kErrorSourceCount);
  for (const auto& [source, name] : cases) {
    EXPECT_EQ(ErrorSourceName(source), name);
  }
}

}  // namespace
}  // namespace etcdmon::collector
