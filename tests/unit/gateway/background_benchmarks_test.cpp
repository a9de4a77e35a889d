// BackgroundBenchmarks: what POST /api/v1/performance/benchmark asks for becomes a benchmark run
// the runner accepts, for every body the quickstart and the gateway's defaults allow.

#include "etcdmon/gateway/background_benchmarks.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "etcdmon/clock/clock.h"
#include "etcdmon/gateway/gateway.h"
#include "etcdmon/testing/temp_dir.h"

namespace etcdmon::gateway {
namespace {

// Nothing listens on port 1: a run fails when it connects, after Start() has accepted it.
config::EtcdConnectionConfig Unreachable() {
  config::EtcdConnectionConfig c;
  c.endpoints.push_back(*config::ParseEndpoint("127.0.0.1:1"));
  c.dial_timeout = std::chrono::milliseconds(200);
  c.request_timeout = std::chrono::milliseconds(200);
  return c;
}

std::shared_ptr<spdlog::logger> QuietLogger() {
  return std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
}

// The gateway's own defaults (an empty body `{}`), the quickstart's `{"type": "write", "ops":
// 10000}`, the read and mixed runs, and the largest run the gateway allows: all are accepted.
// (A key size of 32 bytes once left no room for the key index of runs over 1,000 operations.)
TEST(BackgroundBenchmarksTest, AcceptsEveryRunTheGatewayAllowsWithItsDefaults) {
  struct Case {
    const char* name;
    config::BenchmarkType type;
    uint64_t ops;
  };
  const Case cases[] = {
      {"empty body", config::BenchmarkType::kWrite, BenchmarkSpec{}.ops},
      {"quickstart write", config::BenchmarkType::kWrite, 10000},
      {"quickstart read", config::BenchmarkType::kRead, 10000},
      {"quickstart mixed", config::BenchmarkType::kMixed, 10000},
      {"one op", config::BenchmarkType::kWrite, 1},
      {"largest", config::BenchmarkType::kWrite, GatewayConfig{}.max_benchmark_ops},
  };
  for (const Case& c : cases) {
    BackgroundBenchmarks benchmarks(Unreachable(), QuietLogger(), nullptr);
    BenchmarkSpec spec;
    spec.type = c.type;
    spec.ops = c.ops;
    Result<std::string> id = benchmarks.Start(spec);
    EXPECT_TRUE(id.ok()) << c.name << ": " << id.status().ToString();
    benchmarks.Stop();
    if (id.ok()) {
      Result<std::string> run = benchmarks.Get(*id);
      ASSERT_TRUE(run.ok()) << c.name;
      EXPECT_EQ(run->find("\"state\":\"running\""), std::string::npos) << c.name << ": " << *run;
    }
  }
}

// A key size the caller chose too small for the run is refused with the reason.
TEST(BackgroundBenchmarksTest, RefusesAKeyTooSmallForTheRun) {
  BackgroundBenchmarks benchmarks(Unreachable(), QuietLogger(), nullptr);
  BenchmarkSpec spec;
  spec.ops = 10000;
  spec.key_size = 16;
  Result<std::string> id = benchmarks.Start(spec);
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(id.status().message().find("key size"), std::string::npos) << id.status().ToString();
}

// The start line names the workload ("type=mixed"), not its enum value ("type=2"): operators
// read these lines.
TEST(BackgroundBenchmarksTest, LogsTheWorkloadByName) {
  std::ostringstream text;
  auto logger = std::make_shared<spdlog::logger>(
      "test", std::make_shared<spdlog::sinks::ostream_sink_mt>(text));
  {
    BackgroundBenchmarks benchmarks(Unreachable(), logger, nullptr);
    BenchmarkSpec spec;
    spec.type = config::BenchmarkType::kMixed;
    spec.ops = 10;
    ASSERT_TRUE(benchmarks.Start(spec).ok());
    benchmarks.Stop();  // joins the run's thread, which logged the start first
  }
  EXPECT_NE(text.str().find("benchmark_started id=bench-1 trigger=api type=mixed ops=10"),
            std::string::npos)
      << text.str();
}

// Nothing has finished yet: there is no summary for /metrics.
TEST(BackgroundBenchmarksTest, NoSummaryBeforeARunFinishes) {
  BackgroundBenchmarks benchmarks(Unreachable(), QuietLogger(), nullptr);
  EXPECT_FALSE(benchmarks.LastFinished().has_value());
}

// The list of runs (GET /api/v1/performance/benchmark): empty at first, then newest first, each
// with its state, trigger, type and times (the injected clock's), a failed run with its error
// and no figures (it has no report).
TEST(BackgroundBenchmarksTest, ListsRunsNewestFirst) {
  FakeClock clock;  // 2023-11-14T22:13:20Z
  BackgroundBenchmarks benchmarks(Unreachable(), QuietLogger(), nullptr, clock);
  Result<std::string> empty = benchmarks.List();
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(nlohmann::json::parse(*empty), nlohmann::json::parse(R"({"runs": []})"));

  BenchmarkSpec write;
  write.ops = 10;
  Result<std::string> first = benchmarks.Start(write);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  // Nothing listens: the run fails on its own within the dial timeout.
  ASSERT_TRUE(testing::WaitFor([&] {
    Result<std::string> run = benchmarks.Get(*first);
    return run.ok() && run->find("\"state\":\"failed\"") != std::string::npos;
  }));
  clock.Advance(std::chrono::seconds(10));
  BenchmarkSpec mixed;
  mixed.type = config::BenchmarkType::kMixed;
  mixed.ops = 10;
  Result<std::string> second = benchmarks.Start(mixed);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  benchmarks.Stop();

  Result<std::string> listed = benchmarks.List();
  ASSERT_TRUE(listed.ok());
  const nlohmann::json runs = nlohmann::json::parse(*listed)["runs"];
  ASSERT_EQ(runs.size(), 2u) << *listed;
  EXPECT_EQ(runs[0]["id"], *second);
  EXPECT_EQ(runs[0]["type"], "mixed");
  EXPECT_EQ(runs[0]["started_at"], "2023-11-14T22:13:30.000Z");
  EXPECT_EQ(runs[1]["id"], *first);
  EXPECT_EQ(runs[1]["state"], "failed");
  EXPECT_EQ(runs[1]["trigger"], "api");
  EXPECT_EQ(runs[1]["type"], "write");
  EXPECT_EQ(runs[1]["started_at"], "2023-11-14T22:13:20.000Z");
  EXPECT_EQ(runs[1]["finished_at"], "2023-11-14T22:13:20.000Z");
  EXPECT_EQ(runs[1]["started_unix_ms"], 1700000000000);
  EXPECT_EQ(runs[1]["status_url"], "/api/v1/performance/benchmark/" + *first);
  EXPECT_FALSE(runs[1].value("error", "").empty()) << runs[1];
  EXPECT_FALSE(runs[1].contains("ops")) << "a failed run has no report: " << runs[1];
  EXPECT_FALSE(runs[1].contains("p99_ms")) << runs[1];
}

}  // namespace
}  // namespace etcdmon::gateway
