#include "etcdmon/benchmark/report.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace etcdmon::benchmark {
namespace {

using std::chrono::milliseconds;

BenchmarkReport SampleReport() {
  BenchmarkReport r;
  r.type = WorkloadType::kMixed;
  r.key_prefix = "/etcd-monitor/bench/0000abcd/";
  r.endpoints = {"127.0.0.1:2379"};
  r.clients = 8;
  r.conns = 2;
  r.consistency = "s";
  r.ops = 1000;
  r.succeeded = 998;
  r.failed = 2;
  r.reads = 698;
  r.writes = 300;
  r.errors = {ErrorCount{"unavailable", 2, "connection refused"}};
  r.duration = milliseconds(2000);
  r.ops_per_second = 499;
  r.mean = milliseconds(3);
  r.stddev = milliseconds(1);
  r.min = milliseconds(1);
  r.max = milliseconds(20);
  for (size_t i = 0; i < kReportedPercentileCount; ++i) {
    r.percentiles[i] = milliseconds(static_cast<int>(i) + 1);
  }
  r.per_second = {500, 498};
  r.keys_deleted = true;
  return r;
}

// The JSON keys are the documented ones, with seconds as numbers.
TEST(ReportTest, JsonHasStableSnakeCaseKeys) {
  const auto j = nlohmann::json::parse(ToJson(SampleReport()));
  EXPECT_EQ(j["type"], "mixed");
  EXPECT_EQ(j["ops"], 1000);
  EXPECT_EQ(j["succeeded"], 998);
  EXPECT_EQ(j["failed"], 2);
  EXPECT_EQ(j["reads"], 698);
  EXPECT_EQ(j["writes"], 300);
  EXPECT_EQ(j["errors"][0]["code"], "unavailable");
  EXPECT_EQ(j["errors"][0]["count"], 2);
  EXPECT_DOUBLE_EQ(j["duration_seconds"].get<double>(), 2.0);
  EXPECT_DOUBLE_EQ(j["latency_seconds"]["p10"].get<double>(), 0.001);
  EXPECT_DOUBLE_EQ(j["latency_seconds"]["p99_9"].get<double>(), 0.008);
  EXPECT_DOUBLE_EQ(j["latency_seconds"]["max"].get<double>(), 0.020);
  EXPECT_EQ(j["per_second"], nlohmann::json::array({500, 498}));
  EXPECT_EQ(j["keys_deleted"], true);
  EXPECT_FALSE(j.contains("cleanup_error"));
  EXPECT_FALSE(j.contains("check_perf"));
}

// Invalid UTF-8 in an error example does not break the JSON.
TEST(ReportTest, JsonSurvivesInvalidUtf8) {
  BenchmarkReport r = SampleReport();
  r.errors[0].example = "bad \xff byte";
  EXPECT_NO_THROW(nlohmann::json::parse(ToJson(r)));
}

// The text report has etcd's summary lines and every percentile.
TEST(ReportTest, TextLooksLikeEtcdBenchmark) {
  const std::string text = ToText(SampleReport());
  for (const char* line : {"Requests/sec:", "Slowest:", "Fastest:", "Stddev:", "10% in",
                           "99.9% in 0.0080 secs.", "error unavailable: 2", "500 498"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
}

// check perf: PASS only when all four of etcdctl's conditions hold.
TEST(ReportTest, JudgePerf) {
  BenchmarkReport r;
  r.ops_per_second = 140;  // > 90% of 150
  r.max = milliseconds(400);
  r.stddev = milliseconds(50);
  EXPECT_TRUE(JudgePerf(PerfProfile::kSmall, r).pass);

  struct Case {
    const char* name;
    void (*mutate)(BenchmarkReport&);
    const char* failure;
  };
  const Case cases[] = {
      {"slow", [](BenchmarkReport& x) { x.ops_per_second = 135; }, "throughput too low"},
      {"slowest", [](BenchmarkReport& x) { x.max = milliseconds(501); }, "slowest request"},
      {"stddev", [](BenchmarkReport& x) { x.stddev = milliseconds(101); }, "stddev too high"},
      {"errors", [](BenchmarkReport& x) { x.failed = 1; }, "1 requests failed"},
  };
  for (const Case& c : cases) {
    BenchmarkReport bad = r;
    c.mutate(bad);
    PerfVerdict v = JudgePerf(PerfProfile::kSmall, bad);
    EXPECT_FALSE(v.pass) << c.name;
    ASSERT_EQ(v.failures.size(), 1u) << c.name;
    EXPECT_NE(v.failures[0].find(c.failure), std::string::npos) << v.failures[0];
  }
}

}  // namespace
}  // namespace etcdmon::benchmark
