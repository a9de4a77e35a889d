// ValidateBatch: every reason a batch is refused, each at its boundary (exactly at a limit
// passes, one over fails), and a typical collector batch passing.

#include "etcdmon/transport/batch_validation.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace etcdmon::transport {
namespace {

namespace v1 = etcdmonitor::v1;

constexpr int64_t kNow = 1'800'000'000'000;  // the aggregator's clock, unix ms
constexpr int64_t kSkew = 5 * 60 * 1000;
constexpr int64_t kAge = 24 * 3600 * 1000;

BatchLimits Limits() {
  BatchLimits limits;
  limits.max_clock_skew = std::chrono::milliseconds(kSkew);
  limits.max_sample_age = std::chrono::milliseconds(kAge);
  return limits;
}

// A batch as a collector sends it: one full sample of a reachable member.
v1::SampleBatch GoodBatch() {
  v1::SampleBatch batch;
  batch.set_schema_version(1);
  batch.set_collector_id("collector-etcd1");
  batch.set_sequence(static_cast<uint64_t>(kNow) * 1000 - 5);
  batch.set_sent_at_unix_ms(kNow);
  v1::MemberSample* s = batch.add_samples();
  s->set_endpoint("127.0.0.1:2379");
  s->set_member_name("etcd1");
  s->set_member_id(0x8e9e05c52164694dULL);
  s->set_collected_at_unix_ms(kNow - 100);
  s->set_reachable(true);
  s->set_full(true);
  s->mutable_status()->set_version("3.5.17");
  v1::MemberInfo* m = s->add_members();
  m->set_id(0x8e9e05c52164694dULL);
  m->set_name("etcd1");
  m->add_peer_urls("http://127.0.0.1:2380");
  m->add_client_urls("http://127.0.0.1:2379");
  v1::ScalarMetric* scalar = s->add_scalars();
  scalar->set_name("grpc_server_handled_total");
  v1::Label* label = scalar->add_labels();
  label->set_name("grpc_method");
  label->set_value("Range");
  v1::HistogramMetric* h = s->add_histograms();
  h->set_name("etcd_disk_wal_fsync_duration_seconds");
  h->add_buckets()->set_upper_bound(0.001);
  v1::SampleError* e = s->add_errors();
  e->set_source("probe_write");
  e->set_message("deadline exceeded");
  (*batch.mutable_stats()->mutable_errors_by_kind())["timeout"] = 2;
  return batch;
}

BatchVerdict Check(const v1::SampleBatch& batch, const BatchLimits& limits = Limits()) {
  return ValidateBatch(batch, limits, kNow);
}

// `change` applied to a good batch makes it fail with `problem` (and names the field).
void ExpectRefused(const std::function<void(v1::SampleBatch&)>& change, BatchProblem problem,
                   const std::string& detail_mentions) {
  v1::SampleBatch batch = GoodBatch();
  change(batch);
  const BatchVerdict v = Check(batch);
  EXPECT_EQ(v.problem, problem) << BatchProblemName(v.problem) << ": " << v.detail;
  EXPECT_NE(v.detail.find(detail_mentions), std::string::npos) << v.detail;
}

void ExpectAccepted(const std::function<void(v1::SampleBatch&)>& change) {
  v1::SampleBatch batch = GoodBatch();
  change(batch);
  const BatchVerdict v = Check(batch);
  EXPECT_TRUE(v.ok()) << BatchProblemName(v.problem) << ": " << v.detail;
}

v1::MemberSample& Sample(v1::SampleBatch& b) { return *b.mutable_samples(0); }

TEST(BatchValidationTest, CollectorBatchPasses) {
  const BatchVerdict v = Check(GoodBatch());
  EXPECT_TRUE(v.ok()) << v.detail;
  EXPECT_EQ(v.problem, BatchProblem::kNone);
}

TEST(BatchValidationTest, ProblemNamesAreStableAndDistinct) {
  EXPECT_EQ(BatchProblemName(BatchProblem::kNone), "none");
  EXPECT_EQ(BatchProblemName(BatchProblem::kBadCollectorId), "bad_collector_id");
  EXPECT_EQ(BatchProblemName(BatchProblem::kSequenceRange), "sequence_range");
  EXPECT_EQ(BatchProblemName(BatchProblem::kClockSkew), "clock_skew");
  EXPECT_EQ(BatchProblemName(BatchProblem::kTooOld), "too_old");
  EXPECT_EQ(BatchProblemName(BatchProblem::kTooManySamples), "too_many_samples");
  EXPECT_EQ(BatchProblemName(BatchProblem::kBadName), "bad_name");
  EXPECT_EQ(static_cast<std::size_t>(BatchProblem::kBadName) + 1, kBatchProblemCount);
}

TEST(BatchValidationTest, CollectorIdLengthAndCharacters) {
  ExpectRefused([](v1::SampleBatch& b) { b.set_collector_id(""); }, BatchProblem::kBadCollectorId,
                "0 bytes");
  ExpectAccepted([](v1::SampleBatch& b) { b.set_collector_id(std::string(128, 'c')); });
  ExpectRefused([](v1::SampleBatch& b) { b.set_collector_id(std::string(129, 'c')); },
                BatchProblem::kBadCollectorId, "129 bytes");
  ExpectAccepted(
      [](v1::SampleBatch& b) { b.set_collector_id("Collector_etcd-1.example.com:2379"); });
  for (const std::string& bad :
       std::vector<std::string>{"a b", "a/b", "a\nb", std::string("a\0b", 3), "caf\xc3\xa9"}) {
    ExpectRefused([&](v1::SampleBatch& b) { b.set_collector_id(bad); },
                  BatchProblem::kBadCollectorId, "outside");
  }
}

TEST(BatchValidationTest, SequenceRange) {
  ExpectRefused([](v1::SampleBatch& b) { b.set_sequence(0); }, BatchProblem::kSequenceRange,
                "sequence 0");
  ExpectAccepted([](v1::SampleBatch& b) { b.set_sequence(1); });
  ExpectRefused([](v1::SampleBatch& b) { b.set_sequence(uint64_t{1} << 63); },
                BatchProblem::kSequenceRange, "9223372036854775808");
  ExpectRefused([](v1::SampleBatch& b) { b.set_sequence(std::numeric_limits<uint64_t>::max()); },
                BatchProblem::kSequenceRange, "outside");
}

TEST(BatchValidationTest, SequenceAheadOfTheClockInMicrosecondsIsAForgery) {
  const uint64_t horizon = static_cast<uint64_t>(kNow + kSkew) * 1000;
  ExpectAccepted([&](v1::SampleBatch& b) { b.set_sequence(horizon); });
  ExpectRefused([&](v1::SampleBatch& b) { b.set_sequence(horizon + 1); },
                BatchProblem::kSequenceRange, "ahead");
  // The attack of issue 15: the largest storable sequence for a real collector's id.
  ExpectRefused(
      [](v1::SampleBatch& b) {
        b.set_sequence(static_cast<uint64_t>(std::numeric_limits<int64_t>::max()));
      },
      BatchProblem::kSequenceRange, "ahead");
}

TEST(BatchValidationTest, SampleFromTheFutureBeyondTheSkew) {
  ExpectAccepted([](v1::SampleBatch& b) { Sample(b).set_collected_at_unix_ms(kNow + kSkew); });
  ExpectRefused([](v1::SampleBatch& b) { Sample(b).set_collected_at_unix_ms(kNow + kSkew + 1); },
                BatchProblem::kClockSkew, "collected_at");
  // Year 9999.
  ExpectRefused([](v1::SampleBatch& b) { Sample(b).set_collected_at_unix_ms(253402300799000); },
                BatchProblem::kClockSkew, "ahead");
  ExpectRefused(
      [](v1::SampleBatch& b) {
        Sample(b).set_collected_at_unix_ms(std::numeric_limits<int64_t>::max());
      },
      BatchProblem::kClockSkew, "ahead");
}

TEST(BatchValidationTest, SampleOlderThanTheAgeOrNegative) {
  ExpectAccepted([](v1::SampleBatch& b) { Sample(b).set_collected_at_unix_ms(kNow - kAge); });
  ExpectRefused([](v1::SampleBatch& b) { Sample(b).set_collected_at_unix_ms(kNow - kAge - 1); },
                BatchProblem::kTooOld, "old");
  ExpectRefused([](v1::SampleBatch& b) { Sample(b).set_collected_at_unix_ms(0); },
                BatchProblem::kTooOld, "old");
  ExpectRefused([](v1::SampleBatch& b) { Sample(b).set_collected_at_unix_ms(-1); },
                BatchProblem::kTooOld, "negative");
  ExpectRefused(
      [](v1::SampleBatch& b) {
        Sample(b).set_collected_at_unix_ms(std::numeric_limits<int64_t>::min());
      },
      BatchProblem::kTooOld, "negative");
  // A bad sample after a good one still refuses the batch.
  ExpectRefused(
      [](v1::SampleBatch& b) {
        v1::MemberSample* second = b.add_samples();
        *second = b.samples(0);
        second->set_collected_at_unix_ms(-5);
      },
      BatchProblem::kTooOld, "negative");
}

TEST(BatchValidationTest, SentAtMayBeOldOrUnsetButNotFromTheFuture) {
  ExpectAccepted([](v1::SampleBatch& b) { b.set_sent_at_unix_ms(0); });
  ExpectAccepted([](v1::SampleBatch& b) { b.set_sent_at_unix_ms(kNow - 10 * kAge); });  // resent
  ExpectAccepted([](v1::SampleBatch& b) { b.set_sent_at_unix_ms(kNow + kSkew); });
  ExpectRefused([](v1::SampleBatch& b) { b.set_sent_at_unix_ms(kNow + kSkew + 1); },
                BatchProblem::kClockSkew, "sent_at");
  ExpectRefused([](v1::SampleBatch& b) { b.set_sent_at_unix_ms(-1); }, BatchProblem::kTooOld,
                "sent_at");
}

TEST(BatchValidationTest, SampleCount) {
  BatchLimits limits = Limits();
  limits.max_samples = 3;
  v1::SampleBatch batch = GoodBatch();
  *batch.add_samples() = batch.samples(0);
  *batch.add_samples() = batch.samples(0);
  EXPECT_TRUE(Check(batch, limits).ok());
  *batch.add_samples() = batch.samples(0);
  const BatchVerdict v = Check(batch, limits);
  EXPECT_EQ(v.problem, BatchProblem::kTooManySamples) << v.detail;
  EXPECT_NE(v.detail.find("4 entries"), std::string::npos) << v.detail;
  // The default fits 256.
  v1::SampleBatch big = GoodBatch();
  for (int i = 1; i < 256; ++i) {
    *big.add_samples() = big.samples(0);
  }
  EXPECT_TRUE(Check(big).ok());
  *big.add_samples() = big.samples(0);
  EXPECT_EQ(Check(big).problem, BatchProblem::kTooManySamples);
}

TEST(BatchValidationTest, RepeatedFieldsAreBounded) {
  BatchLimits limits = Limits();
  limits.max_entries_per_sample = 2;
  limits.max_members_per_sample = 2;
  limits.max_errors_per_sample = 2;
  using Change = std::function<void(v1::SampleBatch&)>;
  const std::vector<std::pair<std::string, Change>> grow = {
      {"scalars", [](v1::SampleBatch& b) { *Sample(b).add_scalars() = Sample(b).scalars(0); }},
      {"scalar labels",
       [](v1::SampleBatch& b) {
         *Sample(b).mutable_scalars(0)->add_labels() = Sample(b).scalars(0).labels(0);
       }},
      {"histograms",
       [](v1::SampleBatch& b) { *Sample(b).add_histograms() = Sample(b).histograms(0); }},
      {"histogram buckets",
       [](v1::SampleBatch& b) { Sample(b).mutable_histograms(0)->add_buckets(); }},
      {"probes", [](v1::SampleBatch& b) { Sample(b).add_probes(); }},
      {"alarms", [](v1::SampleBatch& b) { Sample(b).add_alarms()->set_type("NOSPACE"); }},
      {"errors", [](v1::SampleBatch& b) { *Sample(b).add_errors() = Sample(b).errors(0); }},
      {"members", [](v1::SampleBatch& b) { *Sample(b).add_members() = Sample(b).members(0); }},
      {"members.client_urls",
       [](v1::SampleBatch& b) { Sample(b).mutable_members(0)->add_client_urls("http://x:1"); }},
      {"status.errors", [](v1::SampleBatch& b) { Sample(b).mutable_status()->add_errors("e"); }},
      {"stats.errors_by_kind",
       [](v1::SampleBatch& b) {
         auto& kinds = *b.mutable_stats()->mutable_errors_by_kind();
         kinds["k" + std::to_string(kinds.size())] = 1;
       }},
  };
  for (const auto& [field, add] : grow) {
    SCOPED_TRACE(field);
    // Grow one entry at a time: exactly at the limit of 2 passes (the good batch holds one of
    // each, probes and alarms none), the third entry fails.
    v1::SampleBatch batch = GoodBatch();
    bool refused = false;
    for (int i = 0; i < 4 && !refused; ++i) {
      add(batch);
      const BatchVerdict v = Check(batch, limits);
      if (!v.ok()) {
        refused = true;
        EXPECT_EQ(v.problem, BatchProblem::kTooManySamples) << v.detail;
        EXPECT_NE(v.detail.find(field + " has 3 entries"), std::string::npos) << v.detail;
      }
    }
    EXPECT_TRUE(refused);
  }
}

// A sample's error lists have a bound of their own, far below the other repeated fields'.
TEST(BatchValidationTest, ErrorListsHaveTheirOwnBound) {
  ExpectAccepted([](v1::SampleBatch& b) {
    for (int i = 1; i < 64; ++i) {
      *Sample(b).add_errors() = Sample(b).errors(0);
      Sample(b).mutable_status()->add_errors("etcdserver: no leader");
    }
    Sample(b).mutable_status()->add_errors("etcdserver: no leader");
  });
  ExpectRefused(
      [](v1::SampleBatch& b) {
        for (int i = 1; i < 65; ++i) {
          *Sample(b).add_errors() = Sample(b).errors(0);
        }
      },
      BatchProblem::kTooManySamples, "errors has 65 entries");
  ExpectRefused(
      [](v1::SampleBatch& b) {
        for (int i = 0; i < 65; ++i) {
          Sample(b).mutable_status()->add_errors("e");
        }
      },
      BatchProblem::kTooManySamples, "status.errors has 65 entries");
}

TEST(BatchValidationTest, NamesAreBoundedAndPrintable) {
  using Set = std::function<void(v1::SampleBatch&, const std::string&)>;
  const std::vector<std::pair<std::string, Set>> names = {
      {"endpoint", [](v1::SampleBatch& b, const std::string& v) { Sample(b).set_endpoint(v); }},
      {"member_name",
       [](v1::SampleBatch& b, const std::string& v) { Sample(b).set_member_name(v); }},
      {"scalar name",
       [](v1::SampleBatch& b, const std::string& v) { Sample(b).mutable_scalars(0)->set_name(v); }},
      {"label name",
       [](v1::SampleBatch& b, const std::string& v) {
         Sample(b).mutable_scalars(0)->mutable_labels(0)->set_name(v);
       }},
      {"label value",
       [](v1::SampleBatch& b, const std::string& v) {
         Sample(b).mutable_scalars(0)->mutable_labels(0)->set_value(v);
       }},
      {"histogram name",
       [](v1::SampleBatch& b, const std::string& v) {
         Sample(b).mutable_histograms(0)->set_name(v);
       }},
      {"members.name",
       [](v1::SampleBatch& b, const std::string& v) { Sample(b).mutable_members(0)->set_name(v); }},
      {"members.peer_urls",
       [](v1::SampleBatch& b, const std::string& v) {
         Sample(b).mutable_members(0)->set_peer_urls(0, v);
       }},
      {"alarm type",
       [](v1::SampleBatch& b, const std::string& v) { Sample(b).add_alarms()->set_type(v); }},
      {"errors.source", [](v1::SampleBatch& b,
                           const std::string& v) { Sample(b).mutable_errors(0)->set_source(v); }},
      {"stats.errors_by_kind key",
       [](v1::SampleBatch& b, const std::string& v) {
         (*b.mutable_stats()->mutable_errors_by_kind())[v] = 1;
       }},
  };
  for (const auto& [field, setter] : names) {
    SCOPED_TRACE(field);
    const auto& set = setter;  // C++17 lambdas cannot capture a structured binding (clang)
    ExpectAccepted([&](v1::SampleBatch& b) { set(b, std::string(200, 'n')); });
    ExpectRefused([&](v1::SampleBatch& b) { set(b, std::string(201, 'n')); },
                  BatchProblem::kBadName, field + " is 201 bytes");
    ExpectRefused([&](v1::SampleBatch& b) { set(b, "etcd\n1"); }, BatchProblem::kBadName,
                  "control character");
    ExpectRefused([&](v1::SampleBatch& b) { set(b, std::string("etcd\0001", 6)); },
                  BatchProblem::kBadName, "control character");
  }
  // UTF-8 names are fine.
  ExpectAccepted([](v1::SampleBatch& b) { Sample(b).set_member_name("\xc3\xa9tcd-1"); });
}

TEST(BatchValidationTest, RequiredNamesMustNotBeEmpty) {
  // Without an endpoint a sample's points would land on the cluster-wide series ("").
  ExpectRefused([](v1::SampleBatch& b) { Sample(b).clear_endpoint(); }, BatchProblem::kBadName,
                "endpoint is empty");
  ExpectRefused([](v1::SampleBatch& b) { Sample(b).mutable_scalars(0)->clear_name(); },
                BatchProblem::kBadName, "scalar name is empty");
  ExpectRefused([](v1::SampleBatch& b) { Sample(b).mutable_histograms(0)->clear_name(); },
                BatchProblem::kBadName, "histogram name is empty");
  ExpectAccepted([](v1::SampleBatch& b) { Sample(b).clear_member_name(); });  // down since start
}

TEST(BatchValidationTest, FreeTextsAreBounded) {
  using Set = std::function<void(v1::SampleBatch&, const std::string&)>;
  const std::vector<std::pair<std::string, Set>> texts = {
      {"error", [](v1::SampleBatch& b, const std::string& v) { Sample(b).set_error(v); }},
      {"health_reason",
       [](v1::SampleBatch& b, const std::string& v) { Sample(b).set_health_reason(v); }},
      {"errors.message", [](v1::SampleBatch& b,
                            const std::string& v) { Sample(b).mutable_errors(0)->set_message(v); }},
      {"probe error",
       [](v1::SampleBatch& b, const std::string& v) { Sample(b).add_probes()->set_error(v); }},
      {"certificate.subject",
       [](v1::SampleBatch& b, const std::string& v) {
         Sample(b).mutable_certificate()->set_subject(v);
       }},
  };
  for (const auto& [field, setter] : texts) {
    SCOPED_TRACE(field);
    const auto& set = setter;  // C++17 lambdas cannot capture a structured binding (clang)
    ExpectAccepted([&](v1::SampleBatch& b) { set(b, std::string(65536, 't')); });
    ExpectAccepted([&](v1::SampleBatch& b) { set(b, "line one\nline two"); });
    ExpectRefused([&](v1::SampleBatch& b) { set(b, std::string(65537, 't')); },
                  BatchProblem::kBadName, field + " is 65537 bytes");
  }
}

TEST(BatchValidationTest, DetailNeverEchoesAnUnboundedOrRawString) {
  v1::SampleBatch batch = GoodBatch();
  batch.set_collector_id(std::string(100, 'x') + "\n\x1b[31m");
  const BatchVerdict v = Check(batch);
  EXPECT_EQ(v.problem, BatchProblem::kBadCollectorId);
  EXPECT_EQ(v.detail.find('\n'), std::string::npos) << v.detail;
  EXPECT_EQ(v.detail.find('\x1b'), std::string::npos) << v.detail;
  EXPECT_LT(v.detail.size(), 200u) << v.detail;
}

}  // namespace
}  // namespace etcdmon::transport
